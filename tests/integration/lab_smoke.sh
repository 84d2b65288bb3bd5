#!/usr/bin/env bash
# lab_smoke: the local lab comes up and goes down cleanly. A token from the
# IMDS emulator lists a container and reads a blob in Azurite over HTTPS; the
# fault proxy serves the same blob and applies a rule; afterwards every lab
# process is gone, also when the scenario fails.
# timeout: 120
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init lab_smoke
outer=$T

# The scenario runs in a subshell with its own lab_init, so that its teardown
# has run when we look for left-over processes.
(
	lab_init lab_smoke_scenario
	echo "$T" >"$outer/inner_t"
	lab_azurite_start
	lab_imds_start
	echo "$AZURITE_PID $IMDS_PID" >"$outer/pids"

	mkdir -p "$T/rel/sub dir"
	head -c 300000 /dev/urandom >"$T/rel/payload.bin"
	echo "hello from the lab" >"$T/rel/sub dir/hello world.txt"
	lab_upload "$T/rel" releases 1.0

	curl -sS -H 'Metadata: true' -o "$T/token.json" \
		"$IMDS_URL/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F"
	token=$(jq -er .access_token "$T/token.json")
	auth=(-H "Authorization: Bearer $token" -H 'x-ms-version: 2021-12-02')

	code=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -o "$T/list.xml" \
		-w '%{http_code}' \
		"$AZURITE_URL/releases?restype=container&comp=list&prefix=1.0/")
	assert_eq 200 "$code" "List Blobs with the emulator's token"
	assert_contains "$T/list.xml" "<Name>1.0/payload.bin</Name>"
	assert_contains "$T/list.xml" "<Name>1.0/sub dir/hello world.txt</Name>"

	code=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -o "$T/got.bin" \
		-w '%{http_code}' "$AZURITE_URL/releases/1.0/payload.bin")
	assert_eq 200 "$code" "Get Blob with the emulator's token"
	cmp "$T/rel/payload.bin" "$T/got.bin" || fail "blob differs from upload"

	# Negative control: without the token Azurite refuses.
	code=$(curl -sS --cacert "$LAB_CA" -o /dev/null -w '%{http_code}' \
		"$AZURITE_URL/releases/1.0/payload.bin")
	assert_eq 403 "$code" "Get Blob without a token"

	lab_proxy_start "127.0.0.1:$AZURITE_PORT"
	echo "$AZURITE_PID $IMDS_PID $PROXY_PID" >"$outer/pids"
	code=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -o "$T/via.bin" \
		-w '%{http_code}' "$PROXY_URL/releases/1.0/payload.bin")
	assert_eq 200 "$code" "Get Blob through the fault proxy"
	cmp "$T/rel/payload.bin" "$T/via.bin" || fail "proxied blob differs"

	lab_proxy_ctl POST /rules '[{"match": "payload.bin", "action": "status",
		"status": 503, "retry_after": 1}]' >/dev/null
	code=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -D "$T/h503" \
		-o "$T/e503" -w '%{http_code}' "$PROXY_URL/releases/1.0/payload.bin")
	assert_eq 503 "$code" "the rule fires once"
	assert_contains "$T/h503" "x-ms-error-code: ServerBusy"
	assert_contains "$T/e503" "<Code>ServerBusy</Code>"
	code=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -o /dev/null \
		-w '%{http_code}' "$PROXY_URL/releases/1.0/payload.bin")
	assert_eq 200 "$code" "the rule fired only once"
	lab_proxy_ctl GET '/log?match=payload.bin' >"$T/proxy-log.json"
	assert_eq "200 503 200" \
		"$(jq -r '[.[].status | tostring] | join(" ")' "$T/proxy-log.json")"
)
read -r -a pids <"$outer/pids"
assert_eq 3 "${#pids[@]}" "Azurite, IMDS emulator and proxy PIDs"
for pid in "${pids[@]}"; do
	[ ! -e "/proc/$pid" ] || fail "PID $pid still there after teardown"
done
[ ! -e "$(<"$outer/inner_t")" ] || fail "temp dir of a passing run kept"

# A failing scenario: its processes go too (one ignores SIGTERM and gets
# SIGKILL after 5 s), and its temp dir is kept for a look.
rc=0
(
	lab_init lab_smoke_failing
	echo "$T" >"$outer/inner_t"
	lab_imds_start
	bash -c 'trap "" TERM; : >"$1"; exec sleep 60' _ "$T/ignoring" &
	lab_track $!
	wait_until 5 test -e "$T/ignoring"
	echo "$IMDS_PID $!" >"$outer/pids"
	fail "deliberate failure"
) >"$outer/failing.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status of the failing scenario"
kept=$(<"$outer/inner_t")
assert_contains "$outer/failing.out" "FAIL: deliberate failure"
assert_contains "$outer/failing.out" "kept $kept"
[ -d "$kept" ] || fail "temp dir of a failing run not kept"
rm -rf "$kept"
read -r -a pids <"$outer/pids"
for pid in "${pids[@]}"; do
	[ ! -e "/proc/$pid" ] || fail "PID $pid still there after teardown"
done
echo "lab_smoke: ok"
