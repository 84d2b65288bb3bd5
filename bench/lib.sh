# bench/lib.sh — what every benchmark shares (sourced).

# bench_refuse_sanitized BIN...: stop when a binary is built with ASan or
# UBSan; such a build measures the sanitizer, not greenlight.
bench_refuse_sanitized() {
	local bin
	for bin in "$@"; do
		[ -n "$bin" ] || continue
		if ldd "$bin" 2>/dev/null | grep -q 'lib\(a\|ub\)san'; then
			echo "bench: $bin is built with sanitizers; use a" \
				"Release build (-DGREENLIGHT_SANITIZE=OFF)" >&2
			exit 1
		fi
	done
}
