#!/usr/bin/env bash
# auth_check_system_assigned: `greenlight check` as the VM's system-assigned
# managed identity — one token request to IMDS (Metadata: true, storage
# audience, no identity parameter), then list, a one-byte read and the disk
# check against Azurite over HTTPS; the token never appears in the output.
# timeout: 120
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init auth_check_system_assigned
lab_azurite_start
lab_imds_start

mkdir -p "$T/rel/app" "$T/rel/dir with space"
echo hello >"$T/rel/app/a.txt"
head -c 100000 /dev/urandom >"$T/rel/dir with space/"$'caf\xc3\xa9.bin'
lab_container_create releases
lab_upload "$T/rel" releases 1.0
lab_config "$T/greenlight.ini" storage.release=1.0

expect_exit 0 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/out" "check: config       ok      $T/greenlight.ini; release 1.0, container releases at $AZURITE_URL"
assert_contains "$T/out" "check: credentials  ok      the system-assigned managed identity"
assert_contains "$T/out" "check: list         ok      2 blobs, 97.7 KiB under 1.0/ in container releases"
assert_contains "$T/out" "check: read         ok      first byte of "
assert_contains "$T/out" "check: disk         ok      "
assert_contains "$T/out" "greenlight check: all checks passed"

# exactly one token request, shaped like the real thing
lab_imds_ctl GET "/_test/requests?path=token" >"$T/requests.json"
assert_eq 1 "$(jq length "$T/requests.json")" "token requests"
assert_eq "true" "$(jq -r '.[0].headers.Metadata' "$T/requests.json")"
assert_eq "https://storage.azure.com/" "$(jq -r '.[0].query.resource' "$T/requests.json")"
assert_eq "2018-02-01" "$(jq -r '.[0].query["api-version"]' "$T/requests.json")"
assert_eq "null null null" "$(jq -r '.[0].query | "\(.client_id) \(.object_id) \(.msi_res_id)"' "$T/requests.json")"
assert_eq 200 "$(jq -r '.[0].status' "$T/requests.json")"

# no secret in anything greenlight printed, even at -vv
expect_exit 0 "$GREENLIGHT" check -vv --config "$T/greenlight.ini"
assert_not_contains "$T/err" "eyJ"
assert_not_contains "$T/out" "eyJ"
