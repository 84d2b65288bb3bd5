#!/usr/bin/env bash
# run.sh — build greenlight's libFuzzer targets with clang into build-fuzz/
# and fuzz each for SECONDS (default 60), one after the other. Prints, per
# target, the executions, the coverage (edges "cov" and libFuzzer's finer
# "features") and the corpus size; a crash, leak, timeout or failed check
# saves its input under build-fuzz/crashes/ and makes the run fail.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     (TARGET: blob_list, unpack, ...)
#
# The corpus each run grows is kept in build-fuzz/corpus/<target>/, so a
# second run starts where the first stopped. Seeds: tests/fuzz/corpus/,
# tests/fuzz/crashes-found/ (reproducers of fixed bugs), and archives that
# make-archive-seeds.sh builds with bsdtar. Installs what it needs (clang,
# libFuzzer's runtime, the build dependencies) when missing.
# Env: GL_FUZZ_BUILD (default <top>/build-fuzz), GL_FUZZ_FLAGS (more
# libFuzzer flags, e.g. "-jobs=2 -workers=2" or "-dict=...").
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/fuzz
build=${GL_FUZZ_BUILD:-$top/build-fuzz}
secs=${1:-60}
[ $# -gt 0 ] && shift
case $secs in ''|*[!0-9]*) echo "usage: run.sh [SECONDS] [TARGET...]" >&2; exit 2;; esac

say() { printf 'fuzz: %s\n' "$*" >&2; }

# --- what the build needs ---------------------------------------------------
pkgs=(clang libclang-rt-14-dev cmake pkg-config make libcurl4-openssl-dev
	libarchive-dev libssl-dev libinih-dev libexpat1-dev libjansson-dev
	libmicrohttpd-dev libarchive-tools zstd xz-utils)
. "$top/tests/lab/apt.sh"
apt_install_missing "${pkgs[@]}"

# --- build ------------------------------------------------------------------
# -O1: fast enough, and stacks still make sense. No -Werror: clang may warn
# where gcc (the project's compiler) does not.
cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER=clang -DGREENLIGHT_FUZZ=ON \
	-DGREENLIGHT_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS_DEBUG="-O1 -g" >/dev/null
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 || {
	tail -40 "$build/build.log" >&2
	say "build failed (whole log: $build/build.log)"
	exit 1
}

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
	for f in "$here"/fuzz_*.c; do
		t=${f##*/fuzz_}
		targets+=("${t%.c}")
	done
fi

mkdir -p "$build/crashes" "$build/logs"
bash "$here/make-archive-seeds.sh" "$build/seeds/unpack"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
printf '%-12s %12s %9s %7s %9s %7s  %s\n' target executions exec/s cov \
	features corpus result
for t in "${targets[@]}"; do
	exe=$build/tests/fuzz/fuzz_$t
	[ -x "$exe" ] || { say "no target $t ($exe)"; failed=1; continue; }
	work=$build/corpus/$t
	mkdir -p "$work"
	dirs=("$work")
	for d in "$here/corpus/$t" "$here/crashes-found/$t" "$build/seeds/$t"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	flags=(-max_total_time="$secs" -timeout=25 -rss_limit_mb=2048
		-max_len=65536 -close_fd_mask=2 -print_final_stats=1
		-artifact_prefix="$build/crashes/$t-")
	[ -f "$here/dict/$t.dict" ] && flags+=(-dict="$here/dict/$t.dict")
	log=$build/logs/$t.log
	touch "$build/logs/.$t.start"
	rc=0
	# shellcheck disable=SC2086 # GL_FUZZ_FLAGS is a list of flags
	"$exe" "${flags[@]}" ${GL_FUZZ_FLAGS:-} "${dirs[@]}" >"$log" 2>&1 || rc=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -nE 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+:?[[:space:]].*cov: ' "$log" | tail -1 || true)
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
	corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
	# -fork=N (with -ignore_crashes=1) prints no stat:: lines
	[ -n "$execs" ] || execs=$(sed -nE 's/^#([0-9]+): .*/\1/p' <<<"$last")
	[ -n "$rate" ] || rate=$(sed -nE 's/.* exec\/s:? ([0-9]+).*/\1/p' <<<"$last")
	found=$(sed -nE 's/.* oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/p' <<<"$last")
	if [ -n "$found" ] && [ "$found" != 0/0/0 ]; then
		say "$t: oom/timeout/crash $found (fork mode)"
		[ "$rc" -ne 0 ] || rc=1
	fi
	# also what fork mode saved without counting it
	art=$(find "$build/crashes" -name "$t-*" -newer "$build/logs/.$t.start" \
		| head -1)
	[ -z "$art" ] || [ "$rc" -ne 0 ] || rc=1
	result=ok
	if [ "$rc" -ne 0 ]; then
		failed=1
		unit=$(sed -nE 's/.*Test unit written to (.*)/\1/p' "$log" | tail -1)
		art=${unit:-$art}
		result="FAILED (exit $rc) ${art:-see $log}"
	fi
	printf '%-12s %12s %9s %7s %9s %7s  %s\n' "$t" "${execs:-?}" \
		"${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
if [ "$failed" -ne 0 ]; then
	say "failures above; logs in $build/logs/, inputs in $build/crashes/"
	say "reproduce: $build/tests/fuzz/fuzz_TARGET CRASH_FILE"
	exit 1
fi
