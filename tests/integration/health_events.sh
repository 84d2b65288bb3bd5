#!/usr/bin/env bash
# health_events.sh — Scheduled Events that must not drain this VM, and IMDS
# trouble that must not flap the probe: an event for another VM, a Reboot
# (not in [health] events), a cancelled Terminate (serving again, nothing
# approved), IMDS answering 500 and then timing out while serving (the probe
# stays 200, never slow, one log line per outage), and an outage while
# draining (stays 503).
# timeout: 180
set -euo pipefail
source "$GL_SOURCE_DIR/tests/lab/lib.sh"
lab_init health_events
source "$GL_SOURCE_DIR/tests/integration/health_lib.bash"

hl_imds_start vm vmss_0
hl_workload_start vm
hl_daemon_start vm
wait_until 5 hl_code_is vm 200
LOG=$T/health-vm.log
wait_until 5 grep -q 'this VM is "vmss_0"' "$LOG"

# 1. a Terminate for another VM of the scale set: nothing changes
hl_imds vm POST /_test/events \
	'{"type":"Terminate","resources":["vmss_1"],"not_before_s":300}' >/dev/null
hl_sample vm 3 "$T/other.txt"
echo "other VM: $(hl_sample_all "$T/other.txt" 200) probes, all 200"
hl_get vm /status >"$T/status1.json"
assert_eq serving "$(hl_json 'j["state"]' <"$T/status1.json")"
assert_eq 1 "$(hl_json 'j["imds"]["events_listed"]' <"$T/status1.json")" \
	"events listed"
assert_eq 0 "$(hl_json 'len(j["events"])' <"$T/status1.json")" "our events"
hl_imds vm POST /_test/reset >/dev/null

# 2. a Reboot for this VM is not in [health] events (Terminate,Preempt)
rid=$(hl_imds vm POST /_test/events \
	'{"type":"Reboot","resources":["vmss_0"],"not_before_s":300}' |
	hl_json 'j["EventId"]')
hl_sample vm 3 "$T/reboot.txt"
echo "Reboot: $(hl_sample_all "$T/reboot.txt" 200) probes, all 200"
assert_contains "$LOG" "ignoring Reboot event $rid for this VM: Reboot is not in [health] events"
assert_eq 1 "$(grep -c "ignoring Reboot event $rid" "$LOG")" "ignored once"
hl_imds vm POST /_test/reset >/dev/null

# 3. a Terminate for this VM, cancelled before the drain ends
eid=$(hl_imds vm POST /_test/events \
	'{"type":"Terminate","resources":["vmss_0"],"not_before_s":300}' |
	hl_json 'j["EventId"]')
wait_until 3 hl_code_is vm 503
hl_get vm /health >"$T/h503.json"
assert_eq "Terminate event $eid for vmss_0" "$(hl_json 'j["reason"]' <"$T/h503.json")"
sleep 2
hl_imds vm DELETE "/_test/events/$eid" >/dev/null
wait_until 3 hl_code_is vm 200
assert_contains "$LOG" "Terminate event $eid is no longer listed (cancelled or completed) and this VM is still running"
assert_contains "$LOG" "serving again"
sleep 7 # past drain_min: a cancelled event is never approved
assert_eq 0 "$(hl_imds vm GET /_test/approvals | hl_json 'len(j)')" "approvals"
hl_imds vm POST /_test/reset >/dev/null

# 4. IMDS answers 500 for 4 s, then holds requests for 12 s: no flap
outages0=$(grep -c "Scheduled Events unavailable" "$LOG" || true)
hl_imds vm POST /_test/fail '{"status":500,"seconds":4,"path":"events"}' >/dev/null
hl_sample vm 6 "$T/imds500.txt"
echo "IMDS 500: $(hl_sample_all "$T/imds500.txt" 200) probes, all 200"
wait_until 15 grep -q "Scheduled Events answer again" "$LOG"
hl_imds vm POST /_test/fail \
	'{"status":"timeout","seconds":3,"hold_s":12,"path":"events"}' >/dev/null
hl_sample vm 8 "$T/imdstimeout.txt"
echo "IMDS timeouts: $(hl_sample_all "$T/imdstimeout.txt" 200) probes, all 200"
answered_again() {
	[ "$(grep -c "Scheduled Events answer again" "$LOG")" -ge "$1" ]
}
wait_until 20 answered_again 2
outages=$(grep -c "Scheduled Events unavailable" "$LOG")
assert_eq 2 "$((outages - outages0))" "outage warnings (one per outage)"
assert_contains "$LOG" "keeping the last known state (serving)"
hl_get vm /metrics >"$T/metrics.txt"
assert_contains "$T/metrics.txt" "greenlight_imds_outages_total 2"
errors=$(sed -n 's/^greenlight_imds_poll_errors_total //p' "$T/metrics.txt")
[ "$errors" -ge 2 ] || fail "poll errors counted: $errors"
oks=$(sed -n 's/^greenlight_health_probes_total{result="ok"} //p' "$T/metrics.txt")
samples=$(cat "$T/other.txt" "$T/reboot.txt" "$T/imds500.txt" \
	"$T/imdstimeout.txt" | wc -l)
[ "$oks" -ge "$samples" ] || fail "probes counted ok: $oks < $samples"

# 5. an outage while draining keeps the drain: no flap back to 200
eid=$(hl_imds vm POST /_test/events \
	'{"type":"Terminate","resources":["vmss_0"],"not_before_s":300}' |
	hl_json 'j["EventId"]')
wait_until 3 hl_code_is vm 503
hl_imds vm POST /_test/fail '{"status":503,"seconds":4,"path":"all"}' >/dev/null
hl_sample vm 4 "$T/draining.txt"
echo "IMDS 503 while draining: $(hl_sample_all "$T/draining.txt" 503) probes, all 503"
assert_contains "$LOG" "keeping the last known state (draining)"
echo "health_events: ok"
