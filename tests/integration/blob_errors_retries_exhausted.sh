#!/usr/bin/env bash
# blob_errors_retries_exhausted: storage answers 503 ServerBusy (through the
# fault proxy). Two of them are retried with backoff and the check passes;
# when it never stops, greenlight gives up at [fetch] deadline with exit 8
# and the last status.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init blob_errors_retries_exhausted
lab_azurite_start
lab_imds_start
lab_proxy_start
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0
lab_config "$T/greenlight.ini" storage.release=1.0 fetch.deadline=4s

# two 503s with Retry-After: 1, then Azurite answers
lab_proxy_ctl POST /rules '[{"match": "comp=list", "count": 2,
	"action": "status", "status": 503, "code": "ServerBusy",
	"retry_after": 1}]' >/dev/null
start=$SECONDS
expect_exit 0 "$GREENLIGHT" check --config "$T/greenlight.ini"
[ $((SECONDS - start)) -ge 2 ] || fail "Retry-After: 1 not honoured"
assert_contains "$T/err" "warning: storage: listing release 1.0: HTTP 503; retrying for up to 4s"
lab_proxy_ctl GET "/log?match=comp=list" >"$T/log.json"
assert_eq "503 503 200" "$(jq -r '[.[].status] | join(" ")' "$T/log.json")"

# it never ends: give up at the deadline
lab_proxy_ctl POST /reset >/dev/null
lab_proxy_ctl POST /rules '[{"match": "comp=list", "count": -1,
	"action": "status", "status": 503, "code": "ServerBusy"}]' >/dev/null
expect_exit 8 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: storage: listing release 1.0: the storage service kept failing after "
assert_contains "$T/err" " (last: 503 ServerBusy"
assert_contains "$T/err" "); rerun later"
n=$(lab_proxy_ctl GET "/log?match=comp=list" | jq length)
[ "$n" -ge 3 ] || fail "only $n attempts"
