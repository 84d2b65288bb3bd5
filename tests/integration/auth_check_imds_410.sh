#!/usr/bin/env bash
# auth_check_imds_410: IMDS answers 410 (updating) for 20 s, then issues
# tokens. greenlight keeps asking — past a 5 s [fetch] deadline, since a
# 410 promises recovery within 70 s — backing off, then succeeds; one
# warning when it starts waiting, no error.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init auth_check_imds_410
lab_azurite_start
lab_imds_start
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0
lab_config "$T/greenlight.ini" storage.release=1.0 fetch.deadline=5s

lab_imds_ctl POST /_test/fail '{"status": 410, "seconds": 20, "path": "token"}' >/dev/null
start=$SECONDS
expect_exit 0 "$GREENLIGHT" check --config "$T/greenlight.ini"
took=$((SECONDS - start))
[ "$took" -ge 19 ] && [ "$took" -le 60 ] || fail "took ${took}s, want 20-60"
assert_contains "$T/err" "warning: managed identity: IMDS not ready (HTTP 410); retrying for up to 70s"
assert_not_contains "$T/err" "error:"
assert_contains "$T/out" "all checks passed"

lab_imds_ctl GET "/_test/requests?path=token" >"$T/requests.json"
n410=$(jq '[.[] | select(.status == 410)] | length' "$T/requests.json")
n200=$(jq '[.[] | select(.status == 200)] | length' "$T/requests.json")
assert_eq 1 "$n200" "one successful token request"
[ "$n410" -ge 3 ] || fail "only $n410 attempts during 20 s of 410"
# backoff: no more than one request per 0.25 s on average
[ "$n410" -le 80 ] || fail "$n410 attempts in 20 s: no backoff"
assert_contains "$T/err" "managed identity: IMDS answered after $((n410 + 1)) attempts"
