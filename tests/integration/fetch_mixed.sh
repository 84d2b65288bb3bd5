#!/usr/bin/env bash
# fetch_mixed: a release of hundreds of small files, nested paths, names with
# spaces and non-ASCII characters, an empty file, and blobs spanning several
# ranges (with and without Content-MD5) arrives byte for byte; the summary
# line is printed; a rerun over the complete destination downloads nothing
# (only the listing goes through the proxy) and exits 0.
# timeout: 240
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_mixed
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases

src=$T/src
mkdir -p "$src/small" "$src/a/b/c/d" "$src/with space/and more" \
	"$src/ünïcödé/日本"
for i in $(seq 1 300); do
	head -c $((i * 37 % 9000 + 1)) /dev/urandom >"$src/small/f$i.bin"
done
echo deep >"$src/a/b/c/d/deep.txt"
echo spaced >"$src/with space/and more/file name.txt"
echo unicode >"$src/ünïcödé/日本/ファイル.txt"
: >"$src/empty"
# several ranges at chunk_size 256K: one with an MD5, one without
head -c 1500000 /dev/urandom >"$src/ranged-md5.bin"
head -c 1048576 /dev/urandom >"$src/ranged-nomd5.bin"
lab_upload "$src" releases 7.1
# again as Put Block List without any MD5, like big SDK uploads
lab_blob_put releases 7.1/ranged-nomd5.bin "$src/ranged-nomd5.bin" --no-md5

lab_config "$T/gl.ini" fetch.chunk_size=256K fetch.connections=8
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 7.1 \
	--dest "$T/dest"
diff -r "$src" "$T/dest" || fail "destination differs from the release"
[ ! -e "$T/dest.partial" ] || fail "staging area left behind"
assert_contains "$T/err" "fetch: release 7.1 is complete in $T/dest: 306 files"
assert_contains "$T/err" "retries"

# ranged blobs went as several Range requests, pinned with If-Match
lab_proxy_ctl GET '/log?match=ranged-md5.bin' >"$T/ranged.json"
n=$(jq '[.[] | select(.method == "GET" and .status == 206)] | length' \
	"$T/ranged.json")
assert_eq 6 "$n" "ranged-md5.bin in 256K ranges"
gets=$(lab_proxy_ctl GET /log | jq '[.[] | select(.method == "GET"
	and (.path | test("comp=list") | not))] | length')
assert_eq $((300 + 3 + 6 + 4)) "$gets" "one GET per small blob and per range"

# the second run downloads nothing: only the listing
lab_proxy_ctl POST /reset >/dev/null
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 7.1 \
	--dest "$T/dest"
assert_contains "$T/err" "already holds release 7.1 (306 files, verified)"
lab_proxy_ctl GET /log >"$T/second.json"
assert_eq 0 "$(jq '[.[] | select(.path | test("comp=list") | not)] |
	length' "$T/second.json")" "blob requests on the second run"
assert_eq 1 "$(jq length "$T/second.json")" "one listing request"
diff -r "$src" "$T/dest" || fail "destination changed on the second run"
[ ! -e "$T/dest.partial" ] || fail "staging area made on a no-op run"
