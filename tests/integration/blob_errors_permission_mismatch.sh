#!/usr/bin/env bash
# blob_errors_permission_mismatch: the identity authenticates but has no
# data role — storage answers 403 AuthorizationPermissionMismatch (injected
# by the fault proxy: Azurite does no RBAC). Exit 4 at once, no retry,
# naming the identity, the role, the account and the container.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_permission_mismatch
lab_azurite_start
lab_imds_start
lab_proxy_start
CID=6f1e2d3c-0000-4000-8000-00000000c003
lab_imds_ctl POST /_test/identities \
	"{\"system\": true, \"user\": [{\"client_id\": \"$CID\"}]}" >/dev/null
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0
lab_config "$T/greenlight.ini" storage.release=1.0 auth.client_id=$CID
lab_proxy_ctl POST /rules '[{"match": "comp=list", "count": -1,
	"action": "status", "status": 403,
	"code": "AuthorizationPermissionMismatch"}]' >/dev/null

expect_exit 4 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: storage: listing release 1.0: the user-assigned managed identity client_id=$CID lacks a Storage Blob Data Reader role on account devstoreaccount1 (or container releases); assign it — role assignments can take several minutes to apply — then rerun"
assert_eq 1 "$(grep -c 'error:' "$T/err")" "one error line"
assert_contains "$T/out" "check: list         FAILED  exit 4 (auth)"
# not retried, no token refresh
assert_eq 1 "$(lab_proxy_ctl GET '/log?match=comp=list' | jq length)" "list requests"
assert_eq 1 "$(lab_imds_ctl GET "/_test/requests?path=token" | jq length)" "token requests"

# the same on the read of a blob (listing allowed, reading not)
lab_proxy_ctl POST /rules '[{"match": "/releases/1.0/app.txt", "count": -1,
	"action": "status", "status": 403,
	"code": "AuthorizationPermissionMismatch"}]' >/dev/null
lab_config "$T/sys.ini" storage.release=1.0
expect_exit 4 "$GREENLIGHT" check --config "$T/sys.ini"
assert_contains "$T/err" "error: storage: reading 1.0/app.txt: the system-assigned managed identity lacks a Storage Blob Data Reader role on account devstoreaccount1 (or container releases)"
assert_contains "$T/out" "check: read         FAILED  exit 4 (auth)"
