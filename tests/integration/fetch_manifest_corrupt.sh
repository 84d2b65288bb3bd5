#!/usr/bin/env bash
# fetch_manifest_corrupt: a release with a MANIFEST ("sha256  size  path").
# One byte corrupted in storage (same size, no MD5 to catch it) fails the
# fetch with exit 6 after one fresh download, naming the file and both
# digests, and nothing is published. A byte corrupted in flight (once) is
# caught the same way and the blob downloaded again: success. A MANIFEST
# that misses a file fails before anything but the MANIFEST is downloaded.
# timeout: 180
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_manifest_corrupt
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases

mkdir -p "$T/src/lib"
head -c 700000 /dev/urandom >"$T/src/lib/core.bin"
head -c 5000 /dev/urandom >"$T/src/config.json"
echo "hello" >"$T/src/README"
(cd "$T/src" && find . -type f ! -name MANIFEST | sed 's|^\./||' | sort |
	while read -r f; do
		printf '%s  %s  %s\n' "$(sha256sum "$f" | cut -c1-64)" \
			"$(stat -c %s "$f")" "$f"
	done) >"$T/MANIFEST"
cp "$T/MANIFEST" "$T/src/MANIFEST"
good=$(sha256sum "$T/src/lib/core.bin" | cut -c1-64)

# 1. in flight: the proxy flips a byte once; the fetch notices and retries
lab_upload "$T/src" releases 5.0 --no-md5
lab_proxy_ctl POST /rules '[{"match": "lib/core.bin", "method": "GET",
	"action": "corrupt", "offset": 12345}]' >/dev/null
lab_config "$T/gl.ini" fetch.chunk_size=256K
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 5.0 \
	--dest "$T/dest"
diff -r "$T/src" "$T/dest" || fail "destination differs from the release"
assert_contains "$T/err" "5.0/lib/core.bin does not match the MANIFEST"
assert_contains "$T/err" "downloading it again from scratch"

# 2. in storage: the same size, one byte different, no Content-MD5
cp "$T/src/lib/core.bin" "$T/bad.bin"
printf '\xff' | dd of="$T/bad.bin" bs=1 seek=4242 conv=notrunc 2>/dev/null
cmp -s "$T/bad.bin" "$T/src/lib/core.bin" && printf '\x00' |
	dd of="$T/bad.bin" bs=1 seek=4242 conv=notrunc 2>/dev/null
bad=$(sha256sum "$T/bad.bin" | cut -c1-64)
lab_blob_put releases 5.0/lib/core.bin "$T/bad.bin" --no-md5 >/dev/null
lab_proxy_ctl POST /reset >/dev/null
expect_exit 6 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 5.0 \
	--dest "$T/dest2"
assert_contains "$T/err" "5.0/lib/core.bin does not match the MANIFEST: MANIFEST says sha256 $good, the downloaded data has sha256 $bad (downloaded twice)"
[ ! -e "$T/dest2" ] || fail "something was published"
assert_eq 2 "$(lab_proxy_ctl GET '/log?match=lib/core.bin' |
	jq '[.[] | select(.method == "GET" and .range == "bytes=0-262143")] |
	length')" "core.bin downloaded twice"

# 3. the MANIFEST misses a file: refused before any other download
lab_blob_put releases 5.0/lib/core.bin "$T/src/lib/core.bin" >/dev/null
grep -v ' README$' "$T/MANIFEST" >"$T/MANIFEST.short"
lab_blob_put releases 5.0/MANIFEST "$T/MANIFEST.short" >/dev/null
lab_proxy_ctl POST /reset >/dev/null
expect_exit 6 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 5.0 \
	--dest "$T/dest3"
assert_contains "$T/err" "blob 5.0/README is not in the MANIFEST of release 5.0"
assert_contains "$T/err" "release 5.0 does not match its MANIFEST"
assert_eq 1 "$(lab_proxy_ctl GET /log | jq '[.[] | select(.method == "GET"
	and (.path | test("comp=list") | not))] | length')" \
	"only the MANIFEST was downloaded"
[ ! -e "$T/dest3" ] || fail "something was published"
