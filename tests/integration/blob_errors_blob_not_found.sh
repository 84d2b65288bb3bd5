#!/usr/bin/env bash
# blob_errors_blob_not_found: a blob listed a moment ago is gone when read
# (404 BlobNotFound, injected on the blob's GET): exit 5, no retry, naming
# the blob, the container and the account.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_blob_not_found
lab_azurite_start
lab_imds_start
lab_proxy_start
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0
lab_config "$T/greenlight.ini" storage.release=1.0
lab_proxy_ctl POST /rules '[{"match": "/releases/1.0/app.txt", "count": -1,
	"action": "status", "status": 404, "code": "BlobNotFound"}]' >/dev/null

expect_exit 5 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: storage: reading 1.0/app.txt: blob not found in container releases of account devstoreaccount1 (404 BlobNotFound"
assert_contains "$T/err" "it was deleted or renamed meanwhile — check the release folder, then rerun"
assert_contains "$T/out" "check: read         FAILED  exit 5 (notfound)"
assert_eq 1 "$(lab_proxy_ctl GET '/log?match=app.txt' | jq length)" "reads (no retry)"
