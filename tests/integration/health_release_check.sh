#!/usr/bin/env bash
# health_release_check.sh — without a check in greenlight.ini, greenlight
# health checks the workload the way the current release's release.ini
# [health] says, counts connections on that check's port, and follows
# `current` when a deploy moves it to a release with another check.
# timeout: 90
set -euo pipefail
source "$GL_SOURCE_DIR/tests/lab/lib.sh"
lab_init health_release_check
source "$GL_SOURCE_DIR/tests/integration/health_lib.bash"

hl_imds_start vm vmss_0
hl_workload_start vm
w=${WPORT[vm]}
root=$T/root
mkdir -p "$root/releases/r1" "$root/releases/r2"
cat >"$root/releases/r1/release.ini" <<EOF2
[service]
name = app
exec = /bin/sleep 1000
[health]
check_url = http://127.0.0.1:$w/healthz
check_timeout = 1s
EOF2
cat >"$root/releases/r2/release.ini" <<EOF2
[service]
name = app
exec = /bin/sleep 1000
[health]
check_tcp = 127.0.0.1:$w
EOF2
ln -s releases/r1 "$root/current"

hl_daemon_start vm -health.check_url -health.workload_ports
LOG=$T/health-vm.log
wait_until 5 hl_code_is vm 200
hl_get vm /status >"$T/s1.json"
assert_eq "GET http://127.0.0.1:$w/healthz expecting 200" \
	"$(hl_json 'j["workload"]["check"]' <"$T/s1.json")" "check from r1"
assert_eq "$w" "$(hl_json 'j["workload_ports"]' <"$T/s1.json")" \
	"workload ports from the check"
assert_contains "$LOG" "workload check from $root/current/release.ini: http://127.0.0.1:$w/healthz"

# the release's check is live: a sick workload fails the probe
curl -s -X POST "http://127.0.0.1:$w/_sick?on=1" >/dev/null
wait_until 6 hl_code_is vm 503
assert_eq workload_down "$(hl_get vm /status | hl_json 'j["probe"]')"

# deploy moves current to r2 (a TCP check, which the sick workload passes)
ln -s releases/r2 "$root/current.new"
mv -T "$root/current.new" "$root/current"
wait_until 10 hl_code_is vm 200
hl_get vm /status >"$T/s2.json"
assert_eq "connect 127.0.0.1:$w" "$(hl_json 'j["workload"]["check"]' <"$T/s2.json")" \
	"check from r2"
assert_contains "$LOG" "workload check from $root/current/release.ini: 127.0.0.1:$w"

# a broken release.ini keeps the check that works
mkdir -p "$root/releases/r3"
printf '[service]\nname = app\n[health]\ncheck_url = nope\n' \
	>"$root/releases/r3/release.ini"
ln -s releases/r3 "$root/current.new"
mv -T "$root/current.new" "$root/current"
wait_until 10 grep -q "has problems (above); keeping the workload check as it was" "$LOG"
assert_eq "connect 127.0.0.1:$w" "$(hl_get vm /status | hl_json 'j["workload"]["check"]')" \
	"check kept"
assert_eq 200 "$(hl_code vm)" "/health with a broken release.ini"
echo "health_release_check: ok"
