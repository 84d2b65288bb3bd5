#!/usr/bin/env bash
# fetch_resume_kill9: a fetch killed with SIGKILL in the middle (small
# files done, a big blob partly done) and rerun with the same arguments
# downloads only what is missing: no completed file and no completed range
# is served again (the proxy log of the second run says so), and the
# result is complete and byte for byte right; the staging area is gone.
# A staged file damaged meanwhile (a torn write) is noticed and fetched again.
# timeout: 180
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_resume_kill9
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases

mkdir -p "$T/src/small"
for i in $(seq 1 40); do
	head -c $((3000 + i * 500)) /dev/urandom >"$T/src/small/f$i.bin"
done
head -c 4194304 /dev/urandom >"$T/src/zz-big.bin"
lab_upload "$T/src" releases 6.0

# zz-big.bin is 16 ranges of 256K; its first range hangs until the kill
lab_proxy_ctl POST /rules '[{"match": "zz-big.bin",
	"method": "GET", "action": "stall", "after_bytes": 1000,
	"seconds": 60, "count": 1}]' >/dev/null
lab_config "$T/gl.ini" fetch.chunk_size=256K fetch.connections=4
"$GREENLIGHT" fetch --config "$T/gl.ini" --release 6.0 --dest "$T/dest" \
	>"$T/first.out" 2>"$T/first.err" &
pid=$!
lab_track "$pid"
done_count() {
	lab_proxy_ctl GET /log | jq '[.[] | select(.method == "GET" and
		(.status == 200 or .status == 206) and (.fault == null) and
		(.path | test("comp=list") | not))] | length'
}
# everything but the stalled range: 40 files and 15 ranges; then a moment
# for the fetch to take in what the proxy has sent
enough() { [ "$(done_count)" -ge 55 ]; }
wait_until 60 enough
sleep 1
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
[ ! -e "$T/dest" ] || fail "destination appeared before the fetch finished"
[ -d "$T/dest.partial" ] || fail "no staging area after the kill"

# what the first run completed
lab_proxy_ctl GET /log | jq -r '.[] | select(.method == "GET" and
	(.status == 200 or .status == 206) and .fault == null and
	(.path | test("comp=list") | not)) | "\(.path) \(.range)"' |
	sort >"$T/first.txt"

# a torn write (as after a power cut): one staged file no longer matches
# what the journal recorded, so it must not be reused
f5=$T/dest.partial/data/small/f5.bin
[ -f "$f5" ] || fail "no staged small/f5.bin"
# (flip the byte: writing a fixed one leaves random data as it was 1 in 256)
python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 0xFF]))' "$f5"
grep -v 'small/f5.bin' "$T/first.txt" >"$T/first.kept"
mv "$T/first.kept" "$T/first.txt"

lab_proxy_ctl POST /reset >/dev/null
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 6.0 \
	--dest "$T/dest"
diff -r "$T/src" "$T/dest" || fail "destination differs from the release"
[ ! -e "$T/dest.partial" ] || fail "staging area left after success"
assert_contains "$T/err" "fetch: resuming from $T/dest.partial"
lab_proxy_ctl GET /log | jq -r '.[] | select(.method == "GET" and
	(.path | test("comp=list") | not)) | "\(.path) \(.range)"' |
	sort >"$T/second.txt"
[ -s "$T/second.txt" ] || fail "the second run downloaded nothing"
again=$(comm -12 "$T/first.txt" "$T/second.txt")
[ -z "$again" ] || fail "served again after the kill: $again"
assert_contains "$T/err" "1 piece in $T/dest.partial did not match the journal"
assert_eq "small/f5.bin" "$(grep -o 'small/[^ ]*' "$T/second.txt" | paste -sd' ')" \
	"small files downloaded again"
# together the two runs fetched every range of the big blob exactly once
cat "$T/first.txt" "$T/second.txt" | grep -c zz-big.bin >"$T/n"
[ "$(cat "$T/n")" -ge 16 ] || fail "big blob ranges missing"
