#!/usr/bin/env bash
# fetch_range_order: a blob that is hashed while it downloads (it has a
# Content-MD5) is fetched front to back: with 16 connections and 8 ranges
# of 8 MiB, a range starts only once the range 32 MiB before it is complete
# (so the hashed prefix grows steadily instead of waiting for a wave of
# ranges that all finish together). The proxy log gives when each request
# started and ended.
# timeout: 180
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_range_order
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases

mkdir -p "$T/src"
head -c $((64 << 20)) /dev/urandom >"$T/src/a-big.bin"
for i in 1 2 3; do
	head -c $((1000 * i)) /dev/urandom >"$T/src/z-small$i.bin"
done
lab_upload "$T/src" releases 9.0 --put-md5 >/dev/null

# each response dribbles out a little, so that ranges overlap in time
lab_proxy_ctl POST /rules '[{"match": "a-big.bin", "method": "GET",
	"action": "delay", "ms": 150, "count": -1}]' >/dev/null
lab_config "$T/gl.ini" fetch.chunk_size=8M fetch.connections=16
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 9.0 \
	--dest "$T/dest"
diff -r "$T/src" "$T/dest" || fail "destination differs from the release"

lab_proxy_ctl GET /log | jq -c '[.[] | select(.method == "GET" and
	(.path | test("comp=list") | not))]' >"$T/log.json"
python3 - "$T/log.json" <<'EOF' || fail "ranges were not fetched in order"
import json, re, sys
log = json.load(open(sys.argv[1]))
big = {}
small_start = []
for e in log:
    if "a-big.bin" in e["path"]:
        m = re.match(r"bytes=(\d+)-", e["range"])
        assert m, f"a range request without a range: {e}"
        big[int(m.group(1)) >> 23] = (e["t"], e["t"] + e["ms"] / 1000.0)
    else:
        small_start.append(e["t"])
assert sorted(big) == list(range(8)), f"ranges seen: {sorted(big)}"
# a range k starts only after range k - 4 (32 MiB before it) has ended
for k in range(4, 8):
    start, end_before = big[k][0], big[k - 4][1]
    assert start >= end_before - 0.005, \
        f"range {k} started {end_before - start:.3f}s before range {k - 4} ended"
# and at most 4 of them were ever in flight: the window, not the 16 slots
for k in range(8):
    t = big[k][0]
    flying = sum(1 for s, e in big.values() if s <= t < e)
    assert flying <= 4, f"{flying} ranges in flight when range {k} started"
assert len(small_start) == 3, f"small blobs requested: {len(small_start)}"
EOF
