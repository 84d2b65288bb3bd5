#!/usr/bin/env bash
# blob_list_cut: the listing body is cut mid-page once (clean close after
# 300 bytes) and the connection is reset once; both are retried and the
# blobs from the broken attempts are not counted twice.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_list_cut
lab_azurite_start
lab_imds_start
lab_proxy_start
mkdir -p "$T/rel"
for i in 1 2 3 4 5 6; do echo "file $i" >"$T/rel/f$i.txt"; done
lab_container_create releases
lab_upload "$T/rel" releases 1.0
lab_config "$T/greenlight.ini" storage.release=1.0
lab_proxy_ctl POST /rules '[
	{"match": "comp=list", "count": 1, "action": "truncate", "after_bytes": 900},
	{"match": "comp=list", "count": 1, "action": "reset"}]' >/dev/null

expect_exit 0 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/out" "check: list         ok      6 blobs, 42 B under 1.0/"
assert_contains "$T/err" "warning: storage: listing release 1.0: "
lab_proxy_ctl GET "/log?match=comp=list" >"$T/log.json"
assert_eq 3 "$(jq length "$T/log.json")" "list attempts"
assert_eq "truncated" "$(jq -r '.[0].fault' "$T/log.json")"
