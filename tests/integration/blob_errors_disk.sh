#!/usr/bin/env bash
# blob_errors_disk: the listed release is larger than [fetch]
# max_release_size (exit 3), or than the free space at [install] root — a
# 256 KiB tmpfs in a private mount namespace — (exit 9), each said with
# both numbers; a root that does not exist yet is measured at its parent.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_disk
unshare -m true 2>/dev/null || fail "needs unshare -m (root)"
lab_azurite_start
lab_imds_start
mkdir -p "$T/rel"
head -c 1048576 /dev/urandom >"$T/rel/payload.bin"
lab_container_create releases
lab_upload "$T/rel" releases 1.0

lab_config "$T/limit.ini" storage.release=1.0 fetch.max_release_size=512K
expect_exit 3 "$GREENLIGHT" check --config "$T/limit.ini"
assert_contains "$T/err" "error: check: the release holds 1.0 MiB, more than [fetch] max_release_size (512.0 KiB); raise the limit or make the release smaller"
assert_contains "$T/out" "check: disk         FAILED  exit 3 (config)"

mkdir -p "$T/small"
lab_config "$T/small.ini" storage.release=1.0 install.root="$T/small/opt/greenlight"
expect_exit 9 unshare -m sh -c 'mount -t tmpfs -o size=256k tmpfs "$1" &&
	shift && exec "$@"' sh "$T/small" "$GREENLIGHT" check --config "$T/small.ini"
assert_contains "$T/err" "error: check: not enough free space at $T/small for [install] root $T/small/opt/greenlight: 256.0 KiB free, the release needs 1.0 MiB; free some space or move [install] root"
assert_contains "$T/out" "check: disk         FAILED  exit 9 (local)"
