#!/usr/bin/env bash
# blob_errors_container_not_found: [storage] container names a container
# the account does not have — List Blobs answers 404 ContainerNotFound and
# greenlight exits 5 naming the container, the account and the settings.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_container_not_found
lab_azurite_start
lab_imds_start
lab_container_create releases
lab_config "$T/greenlight.ini" storage.release=1.0 storage.container=relaeses

expect_exit 5 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: storage: container relaeses does not exist in account devstoreaccount1 (check [storage] container / BLOB_CONTAINER_NAME)"
assert_eq 1 "$(grep -c 'error:' "$T/err")" "one error line"
assert_contains "$T/out" "check: list         FAILED  exit 5 (notfound)"

# the same through the environment the sample's scripts use
lab_config "$T/env.ini" storage.release=1.0 -storage.container
BLOB_CONTAINER_NAME=nosuch expect_exit 5 "$GREENLIGHT" check --config "$T/env.ini"
assert_contains "$T/err" "error: storage: container nosuch does not exist in account devstoreaccount1"
