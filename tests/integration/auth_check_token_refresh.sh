#!/usr/bin/env bash
# auth_check_token_refresh: storage refuses the first token once (403
# AuthenticationFailed, injected by the fault proxy in front of Azurite);
# greenlight drops it, fetches a fresh one from IMDS and succeeds. Then a
# token lifetime of 30 s (under the 5 min refresh margin) still works.
# timeout: 120
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init auth_check_token_refresh
lab_azurite_start
lab_imds_start
lab_proxy_start
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0
lab_config "$T/greenlight.ini" storage.release=1.0

lab_proxy_ctl POST /rules '[{"match": "comp=list", "count": 1,
	"action": "status", "status": 403, "code": "AuthenticationFailed"}]' >/dev/null
expect_exit 0 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "storage: listing release 1.0: credentials refused (HTTP 403); retrying once with a fresh token"
assert_not_contains "$T/err" "error:"
assert_contains "$T/out" "all checks passed"
assert_eq 2 "$(lab_imds_ctl GET "/_test/requests?path=token" | jq length)" "token requests"
lab_proxy_ctl GET "/log?match=comp=list" >"$T/list.json"
assert_eq "403 200" "$(jq -r '[.[].status] | join(" ")' "$T/list.json")"

# a short-lived token is used, not refetched for every request
lab_imds_ctl POST /_test/reset >/dev/null
lab_imds_ctl POST /_test/token '{"lifetime": 30}' >/dev/null
lab_proxy_ctl POST /reset >/dev/null
expect_exit 0 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_eq 1 "$(lab_imds_ctl GET "/_test/requests?path=token" | jq length)" "token requests (30 s token)"
