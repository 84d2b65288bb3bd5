#!/usr/bin/env bash
# fetch_disk_full: the destination's filesystem is a tiny tmpfs (a private
# mount namespace; needs root). Too small from the start: refused before a
# byte is downloaded. Filling up during the download: the fetch stops with
# "disk full writing …; DIR untouched; the partial download in STAGING
# resumes when you rerun after freeing space" (exit 9), DIR does not exist,
# and after space is freed a rerun completes without downloading again what
# had arrived.
# timeout: 180
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_disk_full
[ "$(id -u)" = 0 ] || fail "needs root for a tmpfs in a mount namespace"
unshare --mount true 2>/dev/null || fail "unshare --mount is not permitted here"
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases
mkdir -p "$T/src" "$T/disk"
for i in 1 2 3 4 5 6; do
	head -c 500000 /dev/urandom >"$T/src/f$i.bin"
done
lab_upload "$T/src" releases 8.0
lab_config "$T/gl.ini" fetch.connections=1
export GL_INI=$T/gl.ini

# 1. 2 MiB for a 3 MB release: refused up front
unshare --mount bash -c '
	set -e
	mount -t tmpfs -o size=2m tmpfs "$T/disk"
	rc=0
	"$GREENLIGHT" fetch --config "$GL_INI" --release 8.0 \
		--dest "$T/disk/dest" 2>"$T/small.err" || rc=$?
	echo "$rc" >"$T/small.rc"
	[ ! -e "$T/disk/dest" ] || echo "dest exists" >"$T/small.bad"
'
assert_eq 9 "$(cat "$T/small.rc")" "exit code, disk too small"
assert_contains "$T/small.err" "fetch: not enough disk space for release 8.0"
[ ! -e "$T/small.bad" ] || fail "destination made on a full disk"
assert_eq 0 "$(lab_proxy_ctl GET /log | jq '[.[] | select(.path |
	test("comp=list") | not)] | length')" "blobs downloaded"

# 2. 4 MiB, filled up while f3.bin is on its way
lab_proxy_ctl POST /rules '[{"match": "f3.bin", "method": "GET",
	"action": "stall", "after_bytes": 1000, "seconds": 3}]' >/dev/null
unshare --mount bash -c '
	set -e
	mount -t tmpfs -o size=4m tmpfs "$T/disk"
	"$GREENLIGHT" fetch --config "$GL_INI" --release 8.0 \
		--dest "$T/disk/dest" 2>"$T/full.err" &
	pid=$!
	sleep 1.5
	dd if=/dev/zero of="$T/disk/filler" bs=4k 2>/dev/null || true
	rc=0
	wait "$pid" || rc=$?
	echo "$rc" >"$T/full.rc"
	[ ! -e "$T/disk/dest" ] || echo "dest exists" >"$T/full.bad"
	curl -sS -X POST "$PROXY_CTL_URL/reset" >/dev/null
	rm -f "$T/disk/filler"
	rc=0
	"$GREENLIGHT" fetch --config "$GL_INI" --release 8.0 \
		--dest "$T/disk/dest" 2>"$T/again.err" || rc=$?
	echo "$rc" >"$T/again.rc"
	diff -r "$T/src" "$T/disk/dest" >"$T/again.diff" 2>&1 || true
	[ ! -e "$T/disk/dest.partial" ] || echo "staging left" >"$T/again.bad"
'
assert_eq 9 "$(cat "$T/full.rc")" "exit code, disk full"
assert_contains "$T/full.err" "fetch: disk full writing $T/disk/dest.partial/"
assert_contains "$T/full.err" "; $T/disk/dest untouched; the partial download in $T/disk/dest.partial resumes when you rerun after freeing space"
[ ! -e "$T/full.bad" ] || fail "destination made although the disk filled up"
assert_eq 0 "$(cat "$T/again.rc")" "exit code after freeing space"
[ ! -s "$T/again.diff" ] || { cat "$T/again.diff" >&2; fail "result differs"; }
[ ! -e "$T/again.bad" ] || fail "staging area left after success"
assert_contains "$T/again.err" "fetch: resuming from $T/disk/dest.partial"
lab_proxy_ctl GET /log >"$T/log.json"
assert_eq 0 "$(jq '[.[] | select(.path | test("f[12].bin"))] | length' \
	"$T/log.json")" "f1.bin and f2.bin downloaded again"
