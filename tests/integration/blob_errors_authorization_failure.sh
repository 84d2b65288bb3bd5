#!/usr/bin/env bash
# blob_errors_authorization_failure: the storage account's firewall refuses
# this VM — 403 AuthorizationFailure (injected by the fault proxy; Azurite
# has no network rules). Exit 4, no retry, pointing at the account's
# networking settings. With anonymous access Azurite itself answers
# AuthorizationFailure for a private container: the message says so.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_authorization_failure
lab_azurite_start
lab_imds_start
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0

# anonymous access to a private container: Azurite's own answer
lab_config "$T/anon.ini" storage.release=1.0 auth.method=none
expect_exit 4 "$GREENLIGHT" check --config "$T/anon.ini"
assert_contains "$T/err" "error: storage: listing release 1.0: account devstoreaccount1 refused anonymous access (403 AuthorizationFailure: "
assert_contains "$T/err" "container releases is not public — set [auth] method = managed-identity or sas — or the account's network rules or firewall refuse this VM"

# a firewall in front of the account
lab_proxy_start
lab_proxy_ctl POST /rules '[{"match": "", "count": -1, "action": "status",
	"status": 403, "code": "AuthorizationFailure"}]' >/dev/null
lab_config "$T/greenlight.ini" storage.release=1.0
expect_exit 4 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: storage: listing release 1.0: the storage account's network rules or firewall refuse this VM (403 AuthorizationFailure"
assert_contains "$T/err" "check the networking settings of account devstoreaccount1 (allowed networks, IP ranges, private endpoint)"
assert_eq 1 "$(lab_proxy_ctl GET '/log' | jq length)" "requests (no retry)"
