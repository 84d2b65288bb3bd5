#!/usr/bin/env bash
# fetch_blob_replaced: a blob is replaced in storage while its ranges are
# being downloaded. The next range, pinned with If-Match to the old ETag,
# gets 412; the blob starts over (properties read again, new Content-MD5)
# and the destination ends with the new content. A blob that keeps
# changing ends the fetch with a clear error (exit 8) and nothing published.
# timeout: 180
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_blob_replaced
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases

mkdir -p "$T/src" "$T/new"
head -c 2000000 /dev/urandom >"$T/src/payload.bin"
echo "unchanged" >"$T/src/other.txt"
head -c 2100000 /dev/urandom >"$T/new/payload.bin"
lab_upload "$T/src" releases 3.0

# one connection; the first range of payload.bin stalls 3 s half-way, and
# meanwhile the blob is replaced (Put Blob: a new ETag and Content-MD5)
lab_proxy_ctl POST /rules '[{"match": "payload.bin", "method": "GET",
	"action": "stall", "after_bytes": 100000, "seconds": 3}]' >/dev/null
lab_config "$T/gl.ini" fetch.chunk_size=256K fetch.connections=1
"$GREENLIGHT" fetch --config "$T/gl.ini" --release 3.0 --dest "$T/dest" \
	>"$T/fetch.out" 2>"$T/fetch.err" &
pid=$!
lab_track "$pid"
sleep 1
lab_blob_put releases 3.0/payload.bin "$T/new/payload.bin" >/dev/null
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || { cat "$T/fetch.err" >&2; fail "fetch exited $rc"; }
cmp "$T/new/payload.bin" "$T/dest/payload.bin" ||
	fail "payload.bin is not the new content"
cmp "$T/src/other.txt" "$T/dest/other.txt" || fail "other.txt differs"
assert_contains "$T/fetch.err" "3.0/payload.bin changed in storage during the download"
lab_proxy_ctl GET '/log?match=payload.bin' >"$T/log.json"
jq -r '.[] | "\(.method) \(.status)"' "$T/log.json" >"$T/seq.txt"
grep -q "^GET 412$" "$T/seq.txt" || fail "no 412 for the old ETag"
grep -q "^HEAD 200$" "$T/seq.txt" || fail "properties not read again"

# a blob that changes on every request: a few restarts, then an error
lab_proxy_ctl POST /reset >/dev/null
lab_proxy_ctl POST /rules '[{"match": "payload.bin", "method": "GET",
	"action": "status", "status": 412, "code": "ConditionNotMet",
	"count": -1}]' >/dev/null
expect_exit 8 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 3.0 \
	--dest "$T/dest2"
assert_contains "$T/err" "3.0/payload.bin changed 4 times during the download; rerun once the release upload has finished"
[ ! -e "$T/dest2" ] || fail "something was published"
