#!/usr/bin/env bash
# blob_errors_dns: the storage endpoint's host does not resolve. greenlight
# retries (DNS may come up late at boot) until [fetch] deadline, then exits
# 8 naming the host and what to check. Runs in a private network namespace
# with only loopback, so no DNS query leaves the machine.
# timeout: 60
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_dns
unshare -n true 2>/dev/null || fail "needs unshare -n (root)"
# anonymous access: nothing else (IMDS) is needed inside the namespace
lab_config "$T/greenlight.ini" storage.release=1.0 auth.method=none \
	storage.endpoint=https://nonexistent.invalid fetch.deadline=3s

start=$SECONDS
expect_exit 8 unshare -n sh -c 'ip link set lo up; exec "$0" "$@"' \
	"$GREENLIGHT" check --config "$T/greenlight.ini"
took=$((SECONDS - start))
# the whole deadline is used: the last attempt starts at it, not earlier
[ "$took" -ge 3 ] && [ "$took" -le 20 ] || fail "took ${took}s for a 3 s deadline"
assert_contains "$T/err" "warning: storage: listing release 1.0: "
assert_contains "$T/err" "; retrying for up to 3s"
assert_contains "$T/err" "error: storage: listing release 1.0: cannot resolve host nonexistent.invalid after "
grep -Eq 'after [0-9]+ attempts in 3s ' "$T/err" || fail "gave up before the 3 s deadline"
assert_contains "$T/err" "check [storage] endpoint / account and this VM's DNS"
assert_contains "$T/out" "check: credentials  ok      anonymous access"
assert_contains "$T/out" "check: list         FAILED  exit 8 (temporary)"
