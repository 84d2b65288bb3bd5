#!/usr/bin/env bash
# blob_errors_release_not_found: the container exists but holds nothing
# under <release>/ (a typo, or CI has not uploaded yet; 1.0 must not match
# 1.0.1/ either). An empty listing is an error, never an empty success:
# exit 5, naming release, container and account.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_release_not_found
lab_azurite_start
lab_imds_start
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0.1
lab_config "$T/greenlight.ini" storage.release=1.0

expect_exit 5 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: storage: release folder 1.0 not found in container releases of account devstoreaccount1 (no blobs under \"1.0/\"); check the release name (--release / RELEASE_FOLDER_NAME) and that CI uploaded it"
assert_contains "$T/out" "check: list         FAILED  exit 5 (notfound)"

# the flag wins over the file; the existing one passes
expect_exit 0 "$GREENLIGHT" check --config "$T/greenlight.ini" --release 1.0.1
assert_contains "$T/out" "check: list         ok      1 blob, 3 B under 1.0.1/ in container releases"
