#!/usr/bin/env bash
# health_swap.sh — zero-downtime blue/green swap through HAProxy. Load with
# slow (2 s) requests runs while blue gets a Terminate: blue's greenlight
# health fails the probe, HAProxy takes blue out, the slow requests finish,
# and only then (and not before drain_min) is blue's event, and only blue's,
# approved; then blue is killed like a deleted VM. Zero failed requests.
# Then the same the other way round. Negative control: killing a backend
# without the drain loses requests, so this test can fail.
# timeout: 300
# serial
set -euo pipefail
source "$GL_SOURCE_DIR/tests/lab/lib.sh"
lab_init health_swap
source "$GL_SOURCE_DIR/tests/integration/health_lib.bash"

DRAIN_MIN=7 # probe_interval 1s x probe_threshold 2 + 5s margin
LOAD_S=20

approved() {
	[ "$(hl_imds "$1" GET /_test/approvals | hl_json 'len(j)')" -ge 1 ]
}

probe_is() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		"http://127.0.0.1:${DPORT[$1]}/health")" = "$2" ]
}

# swap GONE STAYS: terminate GONE under load; everything goes to STAYS.
swap() {
	local gone=$1 stays=$2 t_inject eid appr t_appr t_slow long
	hl_load_start "$LOAD_S"
	sleep 3
	# and one request that outlasts drain_min (10 s > 7 s), on a
	# connection straight to the VM as an L4 load balancer passes it:
	# the approval has to wait for it
	curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
		"http://127.0.0.1:${WPORT[$gone]}/slow?s=10" >"$T/long-$gone.code" &
	long=$!
	lab_track "$long"
	sleep 0.2
	t_inject=$(hl_now)
	eid=$(hl_imds "$gone" POST /_test/events \
		"{\"type\":\"Terminate\",\"resources\":[\"${gone}_0\"],\"not_before_s\":300}" |
		hl_json 'j["EventId"]')
	wait_until 3 probe_is "$gone" 503
	wait_until 6 hl_srv_is "$gone" DOWN
	echo "$gone: probe 503 and DOWN in HAProxy $(hl_json "round($(hl_now) - $t_inject, 2)" <<<0) s after the event"
	wait_until 40 approved "$gone"
	appr=$(hl_imds "$gone" GET /_test/approvals)
	assert_eq 1 "$(hl_json 'len(j)' <<<"$appr")" "approvals at $gone's IMDS"
	assert_eq "$eid" "$(hl_json 'j[0]["event_id"]' <<<"$appr")" \
		"approved event id"
	assert_eq 0 "$(hl_imds "$stays" GET /_test/approvals | hl_json 'len(j)')" \
		"approvals at $stays's IMDS"
	t_appr=$(hl_json 'j[0]["t"]' <<<"$appr")
	wait "$long" || true
	assert_eq 200 "$(cat "$T/long-$gone.code")" "the 10 s request to $gone"
	t_slow=$(hl_last_slow_end "$gone")
	echo "$gone: approved $(hl_json "round($t_appr - $t_inject, 2)" <<<0) s after the event; last slow reply $(hl_json "round($t_slow - $t_inject, 2)" <<<0) s after it"
	hl_ge "$t_slow" "$(hl_json "$t_inject + 9" <<<0)" ||
		fail "the 10 s request to $gone did not end after drain_min"
	hl_ge "$t_appr" "$(hl_json "$t_inject + $DRAIN_MIN" <<<0)" ||
		fail "$gone approved before drain_min"
	hl_ge "$t_appr" "$t_slow" ||
		fail "$gone approved while a slow request was still running"
	assert_contains "$T/health-$gone.log" "approved Terminate event $eid"
	assert_contains "$T/health-$gone.log" "no connection to the workload is left"
	# the VM is deleted
	kill -KILL "${WPID[$gone]}" "${DPID[$gone]}"
	hl_load_wait
	echo "$gone: wrk $WRK_REQS requests, $WRK_FAILED failed; slow $SLOW_OK ok, $SLOW_FAILED failed"
	assert_eq 0 "$WRK_FAILED" "failed wrk requests during the $gone drain"
	assert_eq 0 "$SLOW_FAILED" "failed slow requests during the $gone drain"
	[ "$SLOW_OK" -gt 0 ] || fail "no slow request succeeded"
}

# back NAME: a fresh VM for NAME on the same ports, serving again.
back() {
	hl_imds "$1" POST /_test/reset >/dev/null
	hl_workload_start "$1" "${WPORT[$1]}"
	hl_daemon_start "$1"
	wait_until 10 hl_srv_is "$1" UP
}

hl_imds_start blue blue_0
hl_imds_start green green_0
hl_workload_start blue
hl_workload_start green
hl_daemon_start blue
hl_daemon_start green
hl_haproxy_start blue green

swap blue green
back blue
swap green blue
back green

# negative control: green vanishes while UP, without a drain
hl_load_start 10
sleep 3
kill -KILL "${WPID[green]}"
hl_load_wait
echo "no drain: wrk $WRK_REQS requests, $WRK_FAILED failed; slow $SLOW_OK ok, $SLOW_FAILED failed"
[ $((WRK_FAILED + SLOW_FAILED)) -gt 0 ] ||
	fail "killing a backend without the drain lost no request: the swap test proves nothing"
echo "health_swap: ok"
