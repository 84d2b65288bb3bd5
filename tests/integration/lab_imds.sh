#!/usr/bin/env bash
# lab_imds: the IMDS emulator behaves as documented for real IMDS (Metadata
# header, api-version, X-Forwarded-For, string numbers, identities, instance
# metadata, Scheduled Events with approvals) and its test controls work
# (failures for N requests or S seconds, delays, token lifetime, event
# inject/cancel, request and approval logs).
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init lab_imds
lab_imds_start --vm-name web_3

TOKEN=/metadata/identity/oauth2/token?api-version=2018-02-01
RES=resource=https%3A%2F%2Fstorage.azure.com%2F
EVENTS=/metadata/scheduledevents?api-version=2020-07-01
INSTANCE=/metadata/instance?api-version=2021-02-01

# get PATH [curl args...]: body in $T/body, prints the status.
get() {
	local path=$1
	shift
	curl -sS -o "$T/body" -w '%{http_code}' "$@" "$IMDS_URL$path"
}
md() { get "$@" -H 'Metadata: true'; }
body() { jq -r "$@" "$T/body"; }
events_ok() { [ "$(md "$EVENTS")" = 200 ]; }
events_empty() { events_ok && [ "$(body -c .Events)" = "[]" ]; }

# --- the Metadata header, api-version, X-Forwarded-For ---------------------------
assert_eq 400 "$(get "$TOKEN&$RES")" "token without Metadata header"
assert_eq invalid_request "$(body .error)"
assert_eq "Required metadata header not specified" \
	"$(body .error_description)"
assert_eq 400 "$(get "$TOKEN&$RES" -H 'Metadata: True')" "Metadata: True"
assert_eq 400 "$(get "$INSTANCE")" "instance without Metadata header"
assert_eq 400 "$(get "$EVENTS")" "events without Metadata header"
assert_eq 400 "$(md "$TOKEN&$RES" -H 'X-Forwarded-For: 10.0.0.9')" \
	"token with X-Forwarded-For"
assert_eq 400 "$(md "/metadata/identity/oauth2/token?$RES")" \
	"token without api-version"
assert_eq 400 "$(md "$TOKEN")" "token without resource"
assert_eq 400 "$(md /metadata/instance)" "instance without api-version"
assert_eq 2025-04-07 "$(body '."newest-versions"[0]')"
assert_eq 400 "$(md /metadata/scheduledevents)" "events without api-version"

# --- tokens: string numbers, a JWT for the resource -----------------------------
now=$(date +%s)
assert_eq 200 "$(md "$TOKEN&$RES")" "token request"
assert_eq string "$(body '[.access_token, .client_id, .expires_in,
	.expires_on, .ext_expires_in, .not_before, .resource, .token_type] |
	map(type) | unique | join(",")')" "every token field is a string"
assert_eq Bearer "$(body .token_type)"
assert_eq https://storage.azure.com/ "$(body .resource)"
exp=$(body .expires_on)
[ "$((exp - now))" -ge 86390 ] && [ "$((exp - now))" -le 86410 ] ||
	fail "default lifetime: expires_on - now = $((exp - now))"
body .access_token | cut -d. -f2 | tr '_-' '/+' |
	awk '{ n = length($0) % 4; if (n) $0 = $0 substr("===", n); print }' |
	base64 -d >"$T/claims.json"
assert_eq https://storage.azure.com/ "$(jq -r .aud "$T/claims.json")"
jq -e '(.iss | startswith("https://sts.windows.net/")) and
	.iat == .nbf and .nbf <= now - 290 and .exp > now and
	(.oid | length) == 36' "$T/claims.json" >/dev/null ||
	{ _lab_show "$T/claims.json"; fail "token claims"; }

lab_imds_ctl POST /_test/token '{"lifetime": 120}' >/dev/null
md "$TOKEN&$RES" >/dev/null
assert_eq 120 "$(body .expires_in)" "lifetime set through the control"

# --- identities -----------------------------------------------------------------
system=$(lab_imds_ctl GET /_test/state | jq -r .system_identity.client_id)
lab_imds_ctl POST /_test/identities '{"user": [{"client_id":
	"11111111-2222-3333-4444-555555555555"}]}' >/dev/null
assert_eq 200 "$(md "$TOKEN&$RES&client_id=11111111-2222-3333-4444-555555555555")"
assert_eq 11111111-2222-3333-4444-555555555555 "$(body .client_id)"
assert_eq 200 "$(md "$TOKEN&$RES")" "no identity asked: system-assigned"
assert_eq "$system" "$(body .client_id)"
assert_eq 400 "$(md "$TOKEN&$RES&client_id=99999999-0000-0000-0000-000000000000")"
assert_eq "Identity not found" "$(body .error_description)"
lab_imds_ctl POST /_test/identities '{"system": false, "user": []}' >/dev/null
assert_eq 400 "$(md "$TOKEN&$RES")" "no identity at all"
assert_eq "Identity not found" "$(body .error_description)"

# --- instance metadata ----------------------------------------------------------
assert_eq 200 "$(md "$INSTANCE")"
assert_eq web_3 "$(body .compute.name)"
assert_eq web "$(body .compute.vmScaleSetName)"
[ "$(body .compute.osProfile.computerName)" != web_3 ] ||
	fail "computerName must differ from compute.name"
assert_eq string "$(body '[.. | scalars | type] | unique | join(",")')" \
	"all primitives are strings"
assert_eq 200 "$(md "/metadata/instance/compute/name?api-version=2021-02-01&format=text" \
	-D "$T/hdr")"
assert_eq web_3 "$(cat "$T/body")"
assert_contains "$T/hdr" "Content-Type: text/plain"
assert_eq 400 "$(md "/metadata/instance/compute/name?api-version=2021-02-01")" \
	"a leaf wants format=text"

# --- failure injection ----------------------------------------------------------
lab_imds_ctl POST /_test/fail '{"status": 410, "count": 2, "path": "token"}' \
	>/dev/null
lab_imds_ctl POST /_test/identities '{"system": true}' >/dev/null
assert_eq 410 "$(md "$TOKEN&$RES")" "first injected 410"
assert_eq 200 "$(md "$EVENTS")" "events are not affected by a token rule"
assert_eq 410 "$(md "$TOKEN&$RES")" "second injected 410"
assert_eq 200 "$(md "$TOKEN&$RES")" "after N failures the token comes"

lab_imds_ctl POST /_test/fail '{"status": 429, "seconds": 1.5,
	"retry_after": 2}' >/dev/null
start=$EPOCHREALTIME
assert_eq 429 "$(md "$INSTANCE" -D "$T/hdr")" "429 during the window"
assert_contains "$T/hdr" "Retry-After: 2"
assert_eq 429 "$(md "$TOKEN&$RES")" "429 for every path"
wait_until 5 events_ok
elapsed=$(echo "$EPOCHREALTIME - $start" | bc)
[ "$(echo "$elapsed >= 1.0 && $elapsed < 4.5" | bc)" = 1 ] ||
	fail "the 429 window lasted ${elapsed}s, want 1.5"

lab_imds_ctl POST /_test/fail '{"delay_ms": 400, "path": "events"}' >/dev/null
t=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' -H 'Metadata: true' \
	"$IMDS_URL$EVENTS")
assert_eq 200 "${t% *}" "a delay only delays"
[ "$(echo "${t#* } >= 0.39" | bc)" = 1 ] || fail "delay: took ${t#* }s"

lab_imds_ctl POST /_test/fail '{"status": "timeout", "hold_s": 2}' >/dev/null
rc=0
curl -sS -o /dev/null --max-time 0.5 -H 'Metadata: true' \
	"$IMDS_URL$TOKEN&$RES" 2>/dev/null || rc=$?
assert_eq 28 "$rc" "curl times out on an unanswered request"
lab_imds_ctl POST /_test/fail '{"status": "reset"}' >/dev/null
rc=0
curl -sS -o /dev/null --max-time 5 -H 'Metadata: true' \
	"$IMDS_URL$TOKEN&$RES" 2>/dev/null || rc=$?
[ "$rc" = 56 ] || [ "$rc" = 52 ] || fail "reset: curl exit $rc, want 56/52"

# --- scheduled events -----------------------------------------------------------
lab_imds_ctl POST /_test/settings '{"event_remove_s": 3}' >/dev/null
md "$EVENTS" >/dev/null
inc0=$(body .DocumentIncarnation)
assert_eq "[]" "$(body -c .Events)" "no events at first"
ev=$(lab_imds_ctl POST /_test/events '{"type": "Terminate",
	"not_before_s": 300}')
id=$(jq -r .EventId <<<"$ev")
[[ $id =~ ^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$ ]] ||
	fail "EventId not an upper-case GUID: $id"
md "$EVENTS" >/dev/null
assert_eq $((inc0 + 1)) "$(body .DocumentIncarnation)" "inject bumps"
assert_eq "Scheduled Terminate VirtualMachine web_3 User -1" \
	"$(body '.Events[0] | [.EventStatus, .EventType, .ResourceType,
	.Resources[0], .EventSource, .DurationInSeconds] | join(" ")')"
nb=$(body '.Events[0].NotBefore')
[[ $nb =~ ^[A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ GMT$ ]] ||
	fail "NotBefore not RFC 1123: $nb"
nb_s=$(date -d "$nb" +%s)
[ $((nb_s - $(date +%s))) -ge 295 ] || fail "NotBefore $nb is not ~300 s away"
assert_eq string "$(body '.Events[0].Description | type')"

lab_imds_ctl DELETE "/_test/events/$id" >/dev/null
md "$EVENTS" >/dev/null
assert_eq "[[],$((inc0 + 2))]" "$(body -c '[.Events, .DocumentIncarnation]')" \
	"cancel: the event is gone, the incarnation bumps"

id=$(lab_imds_ctl POST /_test/events '{"type": "Preempt", "not_before_s": 30,
	"resources": ["web_3", "web_4"]}' | jq -r .EventId)
assert_eq 400 "$(md "$EVENTS" -X POST -d '{"StartRequests": "nope"}')" \
	"malformed approval"
assert_eq 400 "$(md "$EVENTS" -X POST -d 'not json')" "approval not JSON"
assert_eq 400 "$(md "$EVENTS" -X POST -d '{"StartRequests": [{"EventId":
	"00000000-0000-0000-0000-000000000000"}]}')" "unknown EventId"
assert_eq "[]" "$(lab_imds_ctl GET /_test/approvals)" "nothing approved yet"
before=$(date +%s.%N)
assert_eq 200 "$(md "$EVENTS" -X POST -H 'Content-Type: application/json' \
	-d "{\"StartRequests\": [{\"EventId\": \"$id\"}]}")" "approval"
assert_eq "{}" "$(cat "$T/body")"
lab_imds_ctl GET /_test/approvals >"$T/approvals.json"
assert_eq "$id" "$(jq -r '.[0].event_id' "$T/approvals.json")"
jq -e --argjson b "$before" '.[0].t >= $b' "$T/approvals.json" >/dev/null ||
	fail "approval time before the request"
md "$EVENTS" >/dev/null
assert_eq "Started " "$(body '.Events[0] | [.EventStatus, .NotBefore] |
	join(" ")')" "an approved event starts"
wait_until 10 events_empty

# --- the first call may be slow --------------------------------------------------
lab_imds_ctl POST /_test/settings '{"events_first_delay_s": 2}' >/dev/null
t=$(curl -sS -o /dev/null -w '%{time_total}' -H 'Metadata: true' \
	"$IMDS_URL$EVENTS")
[ "$(echo "$t >= 1.95" | bc)" = 1 ] || fail "first call took only ${t}s"
t=$(curl -sS -o /dev/null -w '%{time_total}' -H 'Metadata: true' \
	"$IMDS_URL$EVENTS")
[ "$(echo "$t < 1.5" | bc)" = 1 ] || fail "second call took ${t}s"

# --- the request log ------------------------------------------------------------
lab_imds_ctl GET '/_test/requests?path=oauth2' >"$T/requests.json"
jq -e 'all(.[]; .path == "/metadata/identity/oauth2/token")' \
	"$T/requests.json" >/dev/null || fail "requests?path= filter"
jq -e 'any(.[]; .status == 400 and .headers["X-Forwarded-For"] == "10.0.0.9")' \
	"$T/requests.json" >/dev/null || fail "X-Forwarded-For request not logged"
jq -e '[.[] | select(.status == 410)] | length == 2' "$T/requests.json" \
	>/dev/null || fail "the two 410s are not in the log"
jq -e 'all(.[]; (.t | type) == "number" and .method == "GET")' \
	"$T/requests.json" >/dev/null || fail "log entries lack t/method"
lab_imds_ctl GET /_test/requests | jq -e 'all(.[]; .path |
	startswith("/_test") | not)' >/dev/null || fail "controls are logged"

lab_imds_ctl POST /_test/reset >/dev/null
assert_eq 0 "$(lab_imds_ctl GET /_test/requests | jq length)" "reset"
echo "lab_imds: ok"
