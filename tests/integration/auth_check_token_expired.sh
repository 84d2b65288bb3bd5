#!/usr/bin/env bash
# auth_check_token_expired: IMDS hands out tokens that are already expired
# (a VM clock gone wrong). Azurite refuses them (403 AuthenticationFailed,
# "Lifetime validation failed"); greenlight fetches a fresh token once,
# is refused again, and exits 4 saying the token is not valid for storage,
# with Azurite's AuthenticationErrorDetail.
# timeout: 120
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init auth_check_token_expired
lab_azurite_start
lab_imds_start
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0
lab_config "$T/greenlight.ini" storage.release=1.0
lab_imds_ctl POST /_test/token '{"lifetime": -120}' >/dev/null

expect_exit 4 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "warning: managed identity: IMDS issued a token that has already expired by this VM's clock"
assert_contains "$T/err" "storage: listing release 1.0: credentials refused (HTTP 403); retrying once with a fresh token"
assert_contains "$T/err" "error: storage: listing release 1.0: the token of the system-assigned managed identity was refused even after a refresh (403 AuthenticationFailed: Lifetime validation failed. The token is expired.): the token is not valid for storage — check its audience (resource https://storage.azure.com/), issuer (tenant) and this VM's clock"
assert_contains "$T/out" "check: list         FAILED  exit 4 (auth)"
# exactly one refresh: two token requests in all
assert_eq 2 "$(lab_imds_ctl GET "/_test/requests?path=token" | jq length)"
