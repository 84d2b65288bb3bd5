#!/usr/bin/env bash
# blob_list_pages: a release of 5003 blobs lists in two pages (5000 +
# NextMarker); greenlight sends the marker back URL-encoded and counts
# every blob once. Runs through the fault proxy to see the requests.
# timeout: 300
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_list_pages
lab_azurite_start --inmem
lab_imds_start
lab_proxy_start
python3 - "$T/rel" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(5):
    os.makedirs(f"{root}/d{d} x", exist_ok=True)
for i in range(5003):
    with open(f"{root}/d{i % 5} x/f{i:05d}+é.txt", "w") as f:
        f.write("x" * (i % 7))
PY
lab_container_create releases
lab_upload "$T/rel" releases 2.0
lab_config "$T/greenlight.ini" storage.release=2.0

expect_exit 0 "$GREENLIGHT" check -v --config "$T/greenlight.ini"
assert_contains "$T/out" "check: list         ok      5003 blobs, "
assert_contains "$T/err" "storage: listing release 2.0: page 2, 5003 blobs so far"
lab_proxy_ctl GET "/log?match=comp=list" >"$T/log.json"
assert_eq 2 "$(jq length "$T/log.json")" "list requests"
assert_eq "200 200" "$(jq -r '[.[].status] | join(" ")' "$T/log.json")"
# the second page asks for the continuation, URL-encoded
jq -r '.[1].path' "$T/log.json" >"$T/page2"
assert_contains "$T/page2" "&marker="
assert_contains "$T/page2" "prefix=2.0%2F"
