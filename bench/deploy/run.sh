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
# Runs alternate between the two; medians of RUNS runs (default 5).
#
#   bash bench/deploy/run.sh        env: RUNS, SIZE_MIB (256), CONNECTIONS, CHUNK,
#                                   GL_BENCH_BUILD_DIR (default build/)
# Needs root (the systemd user manager's mount namespace).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNS=${RUNS:-5}
SIZE_MIB=${SIZE_MIB:-256}
build=${GL_BENCH_BUILD_DIR:-$top/build}
export GL_SOURCE_DIR=$top GL_BUILD_DIR=$build GREENLIGHT=$build/greenlight
. "$top/tests/lab/lib.sh"
. "$top/tests/lab/demo-lib.sh"

if [ "${GL_LAB_SYSTEMD:-}" != 1 ]; then
	bash "$top/tests/lab/setup.sh"
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$build" -j"$(nproc)" --target greenlight >/dev/null
	grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" ||
		{ echo "bench: $build is not a Release build" >&2; exit 1; }
fi
lab_systemd_reexec "$@"
lab_init bench_deploy
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
bash "$DEMO_APP/make-release.sh" "$T/src/rel" rel --port "$port" \
	--content "$data"
archive=$T/src/rel/app.tar.zst
asize=$(stat -c %s "$archive")
lab_container_create releases >/dev/null
# three names in rotation: with keep = 0, the one deployed next is never
# installed any more (not current, not previous), so every deploy downloads
names=(ra rb rc)
for n in "${names[@]}"; do
	lab_upload "$T/src/rel" releases "$n" >/dev/null
done
lab_config "$T/gl.ini" install.keep=0 \
	${CONNECTIONS:+fetch.connections=$CONNECTIONS} ${CHUNK:+fetch.chunk_size=$CHUNK}
sas=$(lab_sas_token releases)
printf 'bench: archive %s bytes (%s MiB), %s entries, %s CPUs\n' "$asize" \
	$((asize >> 20)) "$(zstd -dc "$archive" | tar -tf - | wc -l)" "$(nproc)"

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2);
	if (NR % 2) print v[m]; else print int((v[m] + v[m + 1]) / 2) }'; }

gl_ms=() base_ms=() fetch_ms=() unpack_ms=()
for ((i = 1; i <= RUNS; i++)); do
	name=${names[$(((i - 1) % 3))]}
	# greenlight: the whole deploy
	t0=$(now_ms)
	"$GREENLIGHT" deploy --config "$T/gl.ini" --release "$name" \
		--no-progress >"$T/deploy.out" 2>"$T/deploy.err" ||
		{ cat "$T/deploy.err" >&2; fail "deploy $name failed"; }
	t1=$(now_ms)
	gl_ms+=($((t1 - t0)))
	fetch_ms+=("$(jq .last.phases_ms.fetch "$T/state/state.json")")
	unpack_ms+=("$(jq .last.phases_ms.unpack "$T/state/state.json")")
	grep -q "extracted into the release root (while it downloaded)" \
		"$T/deploy.err" || fail "the archive was not streamed"
	# the baseline: curl, then bsdtar
	rm -rf "$T/base" && mkdir -p "$T/base/x"
	t0=$(now_ms)
	curl -sSf --cacert "$LAB_CA" -H "x-ms-version: 2021-12-02" \
		-o "$T/base/app.tar.zst" "$AZURITE_URL/releases/$name/app.tar.zst?$sas"
	curl_ms=$(($(now_ms) - t0))
	bsdtar -xf "$T/base/app.tar.zst" -C "$T/base/x"
	t1=$(now_ms)
	base_ms+=($((t1 - t0)))
	phases=$(jq -r '.last.phases_ms | to_entries | map("\(.key) \(.value)") | join(", ")' "$T/state/state.json")
	printf 'run %d: greenlight deploy %5d ms (%s) | curl + bsdtar %5d ms (curl %d)\n' \
		"$i" "${gl_ms[-1]}" "$phases" "${base_ms[-1]}" "$curl_ms"
done
diff -r "$T/base/x" "$T/root/current" -x release.ini -x VERSION -x MANIFEST \
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
