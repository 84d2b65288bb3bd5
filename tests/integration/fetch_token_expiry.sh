#!/usr/bin/env bash
# fetch_token_expiry: managed-identity tokens live 3 s while the download
# takes longer (every blob request is held 200 ms by the proxy); Azurite
# refuses expired tokens, so the fetch must refresh before expiry or once
# after a rejection — and it completes, having asked IMDS more than once
# (but not for every request). One injected 403 AuthenticationFailed is
# answered with a fresh token and a retry; a token storage keeps refusing
# ends the fetch with the message about the token (exit 4).
# timeout: 180
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_token_expiry
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases
mkdir -p "$T/src"
for i in $(seq 1 60); do
	head -c 20000 /dev/urandom >"$T/src/f$i.bin"
done
lab_upload "$T/src" releases 4.0

lab_imds_ctl POST /_test/token '{"lifetime": 3}' >/dev/null
lab_proxy_ctl POST /rules '[
 {"match": "/releases/4.0/f30.bin", "action": "status", "status": 403,
  "code": "AuthenticationFailed"},
 {"match": "/releases/4.0/", "method": "GET", "action": "delay", "ms": 200,
  "count": -1}]' >/dev/null
lab_config "$T/gl.ini" fetch.connections=2
start=$SECONDS
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 4.0 \
	--dest "$T/dest"
elapsed=$((SECONDS - start))
diff -r "$T/src" "$T/dest" || fail "destination differs from the release"
[ "$elapsed" -ge 5 ] || fail "download took ${elapsed}s, not longer than a token"
tokens=$(lab_imds_ctl GET '/_test/requests?path=token' |
	jq '[.[] | select(.status == 200)] | length')
[ "$tokens" -ge 2 ] || fail "only $tokens token(s) for a ${elapsed}s download"
[ "$tokens" -le 30 ] || fail "$tokens tokens: IMDS asked for every request"
# whatever Azurite refused was retried: every blob arrived once with 200
lab_proxy_ctl GET /log >"$T/log.json"
assert_eq 60 "$(jq '[.[] | select(.method == "GET" and .status == 200
	and (.path | test("comp=list") | not))] |
	map(.path) | unique | length' "$T/log.json")" "blobs served"
assert_eq "403 200" "$(jq -r '[.[] | select(.path | test("f30.bin")) |
	.status | tostring] | join(" ")' "$T/log.json")" "f30.bin: refused, then"

# a token that storage keeps refusing: one refresh, then a clear error
lab_proxy_ctl POST /reset >/dev/null
lab_proxy_ctl POST /rules '[{"match": "/releases/4.0/", "method": "GET",
	"action": "status", "status": 403, "code": "AuthenticationFailed",
	"count": -1}]' >/dev/null
expect_exit 4 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 4.0 \
	--dest "$T/dest2"
assert_contains "$T/err" "was refused even after a refresh"
assert_contains "$T/err" "check its audience"
[ ! -e "$T/dest2" ] || fail "destination made although nothing arrived"
