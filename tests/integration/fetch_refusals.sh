#!/usr/bin/env bash
# fetch_refusals: what greenlight fetch refuses, and says so before (or
# instead of) downloading: a release larger than fetch.max_release_size
# (exit 3), a blob name that would leave the destination (exit 3), a
# release folder that does not exist (exit 5), and a download that cannot
# finish within fetch.deadline (exit 8, staging kept for a rerun).
# timeout: 120
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_refusals
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases
mkdir -p "$T/src"
head -c 2000000 /dev/urandom >"$T/src/a.bin"
head -c 1000 /dev/urandom >"$T/src/b.bin"
lab_upload "$T/src" releases 1.0
lab_config "$T/gl.ini"

blob_gets() {
	lab_proxy_ctl GET /log | jq '[.[] | select(.path |
		test("comp=list") | not)] | length'
}

# 1. too large: refused after the listing, nothing downloaded
expect_exit 3 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 1.0 \
	--dest "$T/dest" --set fetch.max_release_size=1M
assert_contains "$T/err" "fetch: release 1.0 is 1.9 MiB, more than fetch.max_release_size (1M); nothing was downloaded"
assert_eq 0 "$(blob_gets)" "blob requests"
[ ! -e "$T/dest" ] && [ ! -e "$T/dest.partial" ] || fail "something written"

# 2. a name with an empty path segment cannot be a file below DIR
lab_blob_put releases "2.0/ok.txt" "$T/src/b.bin" >/dev/null
lab_blob_put releases "2.0/sub//evil.txt" "$T/src/b.bin" >/dev/null
expect_exit 3 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 2.0 \
	--dest "$T/dest"
assert_contains "$T/err" "2.0/sub//evil.txt"
assert_contains "$T/err" "empty path segment"
assert_eq 0 "$(blob_gets)" "blob requests"
[ ! -e "$T/dest" ] || fail "destination made for an unsafe release"

# 3. no such release folder
expect_exit 5 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 9.9 \
	--dest "$T/dest"
assert_contains "$T/err" "release folder 9.9 not found in container releases"

# 4. the deadline passes while a transfer hangs: exit 8, staging kept
lab_proxy_ctl POST /reset >/dev/null
lab_proxy_ctl POST /rules '[{"match": "a.bin", "method": "GET",
	"action": "stall", "after_bytes": 1000, "seconds": 30}]' >/dev/null
start=$SECONDS
expect_exit 8 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 1.0 \
	--dest "$T/dest" --set fetch.deadline=3s
[ $((SECONDS - start)) -le 10 ] || fail "the deadline was not kept"
assert_contains "$T/err" "fetch: release 1.0 did not arrive within fetch.deadline (3s)"
assert_contains "$T/err" "rerun to resume, or raise fetch.deadline"
[ -d "$T/dest.partial" ] || fail "staging area not kept"
[ ! -e "$T/dest" ] || fail "destination made"
