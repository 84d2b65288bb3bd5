#!/usr/bin/env bash
# auth_check_imds_unreachable: nothing listens at [imds] endpoint; with a
# 3 s deadline greenlight retries with backoff, then exits 8 (temporary)
# saying which endpoint it tried and for how long.
# timeout: 60
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init auth_check_imds_unreachable
dead=$(lab_free_port)
lab_config "$T/greenlight.ini" storage.release=1.0 \
	imds.endpoint=http://127.0.0.1:$dead fetch.deadline=3s

start=$SECONDS
expect_exit 8 "$GREENLIGHT" check --config "$T/greenlight.ini"
took=$((SECONDS - start))
[ "$took" -ge 2 ] && [ "$took" -le 15 ] || fail "took ${took}s for a 3 s deadline"
assert_contains "$T/err" "warning: managed identity: IMDS not ready (connect: "
assert_contains "$T/err" "error: managed identity: IMDS at http://127.0.0.1:$dead gave no token in 3s ("
assert_contains "$T/err" "attempts, last: connect: "
assert_contains "$T/err" "it is unreachable or still starting — check [imds] endpoint and the VM's network, then rerun (or raise [fetch] deadline)"
assert_contains "$T/out" "check: credentials  FAILED  exit 8 (temporary)"
