#!/usr/bin/env bash
# auth_check_no_identity: the default (system-assigned) identity on a VM
# that has none — IMDS answers 400 and greenlight says to enable it or set
# [auth] client_id, at once, exit 4; nothing is asked of storage.
# timeout: 60
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init auth_check_no_identity
lab_imds_start
lab_imds_ctl POST /_test/identities '{"system": false, "user": []}' >/dev/null
# storage is never reached: point it at a port where nothing listens
lab_config "$T/greenlight.ini" storage.release=1.0 \
	storage.endpoint=https://127.0.0.1:$(lab_free_port)/devstoreaccount1

expect_exit 4 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: managed identity: IMDS refused the token request (400 invalid_request: Identity not found): no system-assigned identity is enabled on this VM; enable it or set [auth] client_id"
assert_eq 1 "$(grep -c 'error:' "$T/err")" "one error line"
assert_not_contains "$T/out" "check: list"
assert_eq 1 "$(lab_imds_ctl GET "/_test/requests?path=token" | jq length)"
