#!/usr/bin/env bash
# deploy_health_unit: a release with [health] daemon = true also gets a
# greenlight-health.service running this binary's `greenlight health` with
# the deploy's configuration, started with the workload, answering the load
# balancer's probe; a next release that keeps it does not restart it (a
# restart would drain the VM); the next release without it stops and
# removes it.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_health_unit
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
hport=$(lab_free_port)
demo_publish v1 --port "$port" --daemon
demo_publish v2 --port "$port"
demo_publish v1b --port "$port" --daemon
# a stopped daemon drains first: keep that short here
lab_config "$T/gl.ini" health.listen=127.0.0.1:$hport health.drain_min=1s \
	health.drain_max=2s health.preempt_drain_max=1s
units=$XDG_RUNTIME_DIR/systemd/user

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
assert_eq active "$(systemctl --user is-active greenlight-health.service)"
assert_contains "$units/greenlight-health.service" \
	"ExecStart=$(readlink -f "$GREENLIGHT") health --config $T/gl.ini"
wait_until 30 curl -sf "http://127.0.0.1:$hport/health"
expect_exit 0 "$GREENLIGHT" status --config "$T/gl.ini"
assert_contains "$T/out" "health:    ok (HTTP 200), serving"
assert_contains "$T/out" "workload up"
assert_eq "code=v1 data=v1" "$(demo_version "$port")"
# a stop drains for up to drain_max (2s): systemd waits that and a margin
assert_contains "$units/greenlight-health.service" "TimeoutStopSec=17s"

# v1b keeps the daemon: same unit, so the daemon keeps running (no drain)
pid=$(systemctl --user show -p MainPID --value greenlight-health.service)
( for _ in $(seq 400); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 1 \
		"http://127.0.0.1:$hport/health" >>"$T/probes" || true
	sleep 0.05
done ) &
prober=$!
lab_track "$prober"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1b
kill "$prober" 2>/dev/null || true
wait "$prober" 2>/dev/null || true
assert_eq "$pid" "$(systemctl --user show -p MainPID --value greenlight-health.service)" \
	"the health daemon was restarted by a deploy that kept it"
assert_not_contains "$T/probes" "503"
assert_eq "code=v1b data=v1b" "$(demo_version "$port")"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/err" "unit greenlight-health.service: no longer part of the release; stopping and removing it"
[ ! -e "$units/greenlight-health.service" ] || fail "health unit file left"
state=$(systemctl --user is-active greenlight-health.service || true)
[ "$state" != active ] || fail "the health daemon still runs"
assert_eq "code=v2 data=v2" "$(demo_version "$port")"
echo "deploy_health_unit: ok"
