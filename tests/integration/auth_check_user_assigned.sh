#!/usr/bin/env bash
# auth_check_user_assigned: [auth] client_id selects a user-assigned
# identity (sent as client_id=, named in the output); a client_id that is
# not assigned to the VM fails at once — IMDS 400, one request, no retry —
# with a message naming [auth] client_id, exit 4.
# timeout: 120
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init auth_check_user_assigned
lab_azurite_start
lab_imds_start
ASSIGNED=6f1e2d3c-0000-4000-8000-00000000a001
OTHER=6f1e2d3c-0000-4000-8000-00000000b002
lab_imds_ctl POST /_test/identities \
	"{\"system\": false, \"user\": [{\"client_id\": \"$ASSIGNED\"}]}" >/dev/null

mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0

# the assigned identity works and is the one named
lab_config "$T/ok.ini" storage.release=1.0 auth.client_id=$ASSIGNED
expect_exit 0 "$GREENLIGHT" check --config "$T/ok.ini"
assert_contains "$T/out" "check: credentials  ok      the user-assigned managed identity client_id=$ASSIGNED"
assert_contains "$T/out" "all checks passed"
lab_imds_ctl GET "/_test/requests?path=token" >"$T/requests.json"
assert_eq "$ASSIGNED" "$(jq -r '.[-1].query.client_id' "$T/requests.json")"

# one that is not assigned: refused at once, with the setting to check
lab_imds_ctl POST /_test/reset >/dev/null
lab_imds_ctl POST /_test/identities \
	"{\"system\": false, \"user\": [{\"client_id\": \"$ASSIGNED\"}]}" >/dev/null
lab_config "$T/bad.ini" storage.release=1.0 auth.client_id=$OTHER
start=$SECONDS
expect_exit 4 "$GREENLIGHT" check --config "$T/bad.ini"
[ $((SECONDS - start)) -le 5 ] || fail "a 400 from IMDS must fail at once"
assert_contains "$T/err" "error: managed identity: IMDS refused the token request (400 invalid_request: Identity not found): the user-assigned identity client_id=$OTHER is not assigned to this VM; check [auth] client_id / object_id / msi_res_id"
assert_contains "$T/out" "check: credentials  FAILED  exit 4 (auth)"
lab_imds_ctl GET "/_test/requests?path=token" >"$T/requests.json"
assert_eq 1 "$(jq length "$T/requests.json")" "token requests after a 400"
assert_eq 400 "$(jq -r '.[0].status' "$T/requests.json")"

# object_id is sent as object_id=
lab_config "$T/obj.ini" storage.release=1.0 auth.object_id=$OTHER
expect_exit 4 "$GREENLIGHT" check --config "$T/obj.ini"
assert_contains "$T/err" "the user-assigned identity object_id=$OTHER is not assigned to this VM"
lab_imds_ctl GET "/_test/requests?path=token" >"$T/requests.json"
assert_eq "$OTHER" "$(jq -r '.[-1].query.object_id' "$T/requests.json")"
