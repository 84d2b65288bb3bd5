#!/usr/bin/env bash
# health_sigterm.sh — a service stop drains like an event: on SIGTERM the
# probe fails at once, /live stays Healthy, and greenlight health exits 0
# only after drain_min and once the last connection to the workload is
# gone (here a 10 s request); with nothing open it exits after drain_min; a
# second SIGTERM stops at once; a drain_max below drain_min is warned about
# and caps the drain.
# timeout: 120
set -euo pipefail
source "$GL_SOURCE_DIR/tests/lab/lib.sh"
lab_init health_sigterm
source "$GL_SOURCE_DIR/tests/integration/health_lib.bash"

hl_imds_start vm vmss_0
hl_workload_start vm
hl_daemon_start vm
wait_until 5 hl_code_is vm 200
LOG=$T/health-vm.log
pid=${DPID[vm]}

# exit_after PID T0: wait for PID; rc gets its exit code, secs the
# seconds since T0
exit_after() {
	rc=0
	wait "$1" || rc=$?
	secs=$(hl_json "round($(hl_now) - $2, 2)" <<<0)
}

# 1. a request of 10 s in flight: the stop waits for it
curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	"http://127.0.0.1:${WPORT[vm]}/slow?s=10" >"$T/long.code" &
long=$!
lab_track "$long"
sleep 0.3
t0=$(hl_now)
kill -TERM "$pid"
wait_until 1 hl_code_is vm 503
hl_get vm /health >"$T/h.json"
assert_eq "service stopping" "$(hl_json 'j["reason"]' <"$T/h.json")"
assert_eq draining "$(hl_json 'j["state"]' <"$T/h.json")"
assert_eq 200 "$(hl_code vm /live)" "/live while stopping"
assert_eq Healthy "$(hl_get vm /live | hl_json 'j["ApplicationHealthState"]')"
sleep 7.5
_lab_alive "$pid" || fail "exited after drain_min with a request still open"
assert_eq 1 "$(hl_get vm /status | hl_json 'j["connections"]')" "open connections"
exit_after "$pid" "$t0"
wait "$long" || true
assert_eq 200 "$(cat "$T/long.code")" "the 10 s request"
echo "SIGTERM with a 10 s request open: exit $rc after $secs s"
assert_eq 0 "$rc" "exit code after the drain"
hl_ge "$secs" 9.5 || fail "exited after $secs s, before the request ended"
hl_ge 14 "$secs" || fail "exited only after $secs s"
assert_contains "$LOG" "Terminated: stopping after the drain"
assert_contains "$LOG" "no connection to the workload is left"
assert_contains "$LOG" "drained; stopping"

# 2. nothing open: exit after drain_min (7 s)
hl_daemon_start vm
pid=${DPID[vm]}
t0=$(hl_now)
kill -TERM "$pid"
exit_after "$pid" "$t0"
echo "SIGTERM, idle: exit $rc after $secs s"
assert_eq 0 "$rc" "exit code after an idle drain"
hl_ge "$secs" 6.9 || fail "exited after $secs s, before drain_min"
hl_ge 9 "$secs" || fail "an idle drain took $secs s"

# 3. a second SIGTERM does not wait
hl_daemon_start vm
pid=${DPID[vm]}
t0=$(hl_now)
kill -TERM "$pid"
sleep 1
kill -TERM "$pid"
exit_after "$pid" "$t0"
echo "second SIGTERM: exit $rc after $secs s"
assert_eq 0 "$rc" "exit code after a second SIGTERM"
hl_ge 2.5 "$secs" || fail "a second SIGTERM still waited: $secs s"
assert_contains "$LOG" "second Terminated: stopping without waiting for the drain"

# 4. drain_max below the derived drain_min (7 s): said at the start, and
# drain_max wins
assert_not_contains "$LOG" "drain_max is shorter than drain_min"
hl_daemon_start vm health.drain_max=3s
pid=${DPID[vm]}
assert_contains "$LOG" "warning: health: drain_max is shorter than drain_min: an event is approved after drain_max"
t0=$(hl_now)
kill -TERM "$pid"
exit_after "$pid" "$t0"
echo "SIGTERM, idle, drain_max 3s: exit $rc after $secs s"
assert_eq 0 "$rc" "exit code after a capped drain"
hl_ge "$secs" 2.9 || fail "exited after $secs s, before drain_max"
hl_ge 5 "$secs" || fail "a drain capped at 3 s took $secs s"
echo "health_sigterm: ok"
