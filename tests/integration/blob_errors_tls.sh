#!/usr/bin/env bash
# blob_errors_tls: without [storage] ca_file the lab's Azurite certificate
# (own CA) does not verify. greenlight never turns verification off: it
# fails at once (no retries) with exit 8 and says to check ca_file.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_tls
lab_azurite_start
lab_imds_start
lab_container_create releases
lab_config "$T/greenlight.ini" storage.release=1.0 -storage.ca_file

start=$SECONDS
expect_exit 8 "$GREENLIGHT" check --config "$T/greenlight.ini"
[ $((SECONDS - start)) -le 10 ] || fail "TLS failure must not be retried"
assert_contains "$T/err" "error: storage: listing release 1.0: TLS verification of 127.0.0.1 failed ("
assert_contains "$T/err" "); check [storage] ca_file / the endpoint's certificate"
assert_not_contains "$T/err" "retrying"
assert_contains "$T/out" "check: list         FAILED  exit 8 (temporary)"

# a CA file that is not the right one: same message
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" \
	-out "$T/other.pem" -subj /CN=other -days 1 2>/dev/null
lab_config "$T/other.ini" storage.release=1.0 storage.ca_file="$T/other.pem"
expect_exit 8 "$GREENLIGHT" check --config "$T/other.ini"
assert_contains "$T/err" "check [storage] ca_file / the endpoint's certificate"
