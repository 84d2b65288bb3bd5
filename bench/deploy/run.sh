#!/usr/bin/env bash
# bench/deploy/run.sh — what streaming buys: the end-to-end `greenlight
# deploy` of a release holding one 256 MiB tar.zst (13 900 files: source
# text and incompressible assets, 412 MiB unpacked) against the sequential
# baseline on the same lab in the same run: download the blob with curl,
# then extract it with bsdtar. Also the cost of a no-op rerun (hyperfine).
#
# The deploy is the whole pipeline: identity, listing, parallel ranged
# download verified against Content-MD5 and the MANIFEST (sha256), archive
# extracted while it downloads, seal (fsync of every file), install, unit
# written, restart, health check. The baseline only downloads and extracts.
# Runs alternate between the two; medians of RUNS runs (default 7). CPU
# seconds (user + system) are greenlight's own, and curl's plus bsdtar's
# (Azurite's are on both sides). The load average is printed with each run:
# on a shared machine, compare only numbers from the same run.
#
#   bash bench/deploy/run.sh        env: RUNS, SIZE_MIB (256), CONNECTIONS, CHUNK,
#                                   TMPFS=1, GL_BENCH_BUILD_DIR (default build/)
# Needs root (the systemd user manager's mount namespace).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNS=${RUNS:-7}
SIZE_MIB=${SIZE_MIB:-256}
build=${GL_BENCH_BUILD_DIR:-$top/build}
export GL_SOURCE_DIR=$top GL_BUILD_DIR=$build GREENLIGHT=$build/greenlight
. "$top/tests/lab/lib.sh"
. "$top/tests/lab/demo-lib.sh"

if [ "${GL_LAB_SYSTEMD:-}" != 1 ]; then
	bash "$top/tests/lab/setup.sh"
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DGREENLIGHT_SANITIZE=OFF >/dev/null
	cmake --build "$build" -j"$(nproc)" --target greenlight >/dev/null
	grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" ||
		{ echo "bench: $build is not a Release build" >&2; exit 1; }
fi
. "$top/bench/lib.sh"
bench_refuse_sanitized "$GREENLIGHT"
lab_systemd_reexec "$@"
lab_init bench_deploy
# TMPFS=1: the release root and the baseline's directory on a tmpfs (only
# inside this private mount namespace), to take the disk out of the
# comparison; greenlight's fsyncs then cost nothing either
root=$T/root base=$T/base
if [ "${TMPFS:-0}" = 1 ]; then
	mkdir -p "$T/fast"
	mount -t tmpfs -o size=12g tmpfs "$T/fast"
	lab_on_exit umount -l "$T/fast"
	root=$T/fast/root base=$T/fast/base
fi
lab_azurite_start --inmem
lab_imds_start
port=$(lab_free_port)

data=$LAB_DIR/bench-deploy-data-$SIZE_MIB
if [ ! -e "$data/.done" ]; then
	rm -rf "$data"
	mkdir -p "$data"
	python3 "$top/bench/deploy/mkdata.py" "$data" "$SIZE_MIB"
	touch "$data/.done"
fi
echo "bench: building the release (app + $(du -sh --exclude=.done "$data" | cut -f1) of content)"
# the app is checked every 50 ms once restarted: the deploy waits for the
# app's start, not for a poll interval
bash "$DEMO_APP/make-release.sh" "$T/src/rel" rel --port "$port" \
	--content "$data" --interval 50ms
archive=$T/src/rel/app.tar.zst
asize=$(stat -c %s "$archive")
lab_container_create releases >/dev/null
# a release name per run, so that every deploy downloads; and keep them
# all, so that no run also prunes an old release (seconds of rm -rf on a
# busy disk that measure the file system, not the deploy; in the blue/green
# flow a VM deploys once and never prunes)
names=()
for ((i = 1; i <= RUNS; i++)); do
	names+=("r$i")
	lab_upload "$T/src/rel" releases "r$i" >/dev/null
done
lab_config "$T/gl.ini" install.keep=100 install.root="$root" \
	${CONNECTIONS:+fetch.connections=$CONNECTIONS} ${CHUNK:+fetch.chunk_size=$CHUNK}
sas=$(lab_sas_token releases)
printf 'bench: archive %s bytes (%s MiB), %s entries, %s CPUs\n' "$asize" \
	$((asize >> 20)) "$(zstd -dc "$archive" | tar -tf - | wc -l)" "$(nproc)"

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2);
	if (NR % 2) print v[m]; else print int((v[m] + v[m + 1]) / 2) }'; }

# one greenlight deploy of release $1
run_greenlight() {
	local t0
	t0=$(now_ms)
	/usr/bin/time -f "%U %S" -o "$T/cpu.gl" \
		"$GREENLIGHT" deploy --config "$T/gl.ini" --release "$1" \
		--no-progress >"$T/deploy.out" 2>"$T/deploy.err" ||
		{ cat "$T/deploy.err" >&2; fail "deploy $1 failed"; }
	gl_ms+=($(($(now_ms) - t0)))
	grep -q "extracted into the release root (while it downloaded)" \
		"$T/deploy.err" || fail "the archive was not streamed"
}

# the baseline for release $1: curl, then bsdtar, into a fresh directory
# like greenlight's (nothing is deleted during the runs: freeing blocks
# costs the next writer on this disk)
run_baseline() {
	local t0
	mkdir -p "$base/$1/x"
	t0=$(now_ms)
	/usr/bin/time -f "%U %S" -o "$T/cpu.curl" \
		curl -sSf --cacert "$LAB_CA" -H "x-ms-version: 2021-12-02" \
		-o "$base/$1/app.tar.zst" \
		"$AZURITE_URL/releases/$1/app.tar.zst?$sas"
	curl_ms=$(($(now_ms) - t0))
	/usr/bin/time -f "%U %S" -o "$T/cpu.tar" \
		bsdtar -xf "$base/$1/app.tar.zst" -C "$base/$1/x"
	base_ms+=($(($(now_ms) - t0)))
}

gl_ms=() base_ms=()
for ((i = 1; i <= RUNS; i++)); do
	name=${names[$((i - 1))]}
	# alternate who goes first: the second one finds the page cache in
	# whatever state the first left it
	if ((i % 2)); then
		run_greenlight "$name"
		run_baseline "$name"
	else
		run_baseline "$name"
		run_greenlight "$name"
	fi
	phases=$(jq -r '.last.phases_ms | to_entries |
		map("\(.key) \(.value)") | join(", ")' "$T/state/state.json")
	cpu_gl=$(awk '{ printf "%.1f", $1 + $2 }' "$T/cpu.gl")
	cpu_base=$(cat "$T/cpu.curl" "$T/cpu.tar" |
		awk '{ s += $1 + $2 } END { printf "%.1f", s }')
	printf 'run %d: greenlight %5d ms, cpu %4s s (%s)\n' "$i" \
		"${gl_ms[-1]}" "$cpu_gl" "$phases"
	printf '       curl + bsdtar %5d ms, cpu %4s s (curl %d ms)   load %s\n' \
		"${base_ms[-1]}" "$cpu_base" "$curl_ms" \
		"$(cut -d' ' -f1 /proc/loadavg)"
done
diff -r "$base/$name/x" "$root/current" -x release.ini -x VERSION -x MANIFEST \
	-x .greenlight-release.json >/dev/null || fail "trees differ"

gl=$(printf '%s\n' "${gl_ms[@]}" | median)
base=$(printf '%s\n' "${base_ms[@]}" | median)
echo
printf 'median of %d: greenlight deploy %d ms, curl + bsdtar %d ms, ratio %s (target <= 0.75)\n' \
	"$RUNS" "$gl" "$base" "$(echo "scale=2; $gl / $base" | bc)"

echo
echo "no-op rerun (release ${name} is current):"
hyperfine -N --warmup 3 --runs 40 --export-json "$T/noop.json" \
	"$GREENLIGHT deploy --config $T/gl.ini --release $name" 2>&1 |
	sed -n '/Time/,/Range/p'
noop=$(jq '.results[0].median * 1000' "$T/noop.json")
printf 'no-op median %.1f ms (target < 50 ms)\n' "$noop"
