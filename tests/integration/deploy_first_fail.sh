#!/usr/bin/env bash
# deploy_first_fail: the very first deploy on a machine fails validation:
# there is no previous release to go back to, so the workload is stopped,
# its unit removed, nothing is current, the exit code is 7 and the message
# says so. A later good release deploys normally.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_first_fail
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port" --unhealthy --deadline 2s
demo_publish v2 --port "$port"
lab_config "$T/gl.ini"

expect_exit 7 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
assert_contains "$T/err" "release v1 did not pass its health check within 2s"
assert_contains "$T/err" "there was no previous release to go back to: greenlight-demo.service is stopped and nothing is current"
[ ! -e "$T/root/current" ] || fail "current still points somewhere"
[ ! -e "$XDG_RUNTIME_DIR/systemd/user/greenlight-demo.service" ] ||
	fail "unit file left"
state=$(systemctl --user is-active greenlight-demo.service || true)
[ "$state" != active ] || fail "the failed workload still runs"
assert_eq rolled-back "$(demo_state .last.result)"
assert_eq null "$(demo_state .current)"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_eq "code=v2 data=v2" "$(demo_version "$port")"
echo "deploy_first_fail: ok"
