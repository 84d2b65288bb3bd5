#!/usr/bin/env bash
# deploy_crash_restart: a deploy killed (SIGKILL) right after the restart,
# before validation, leaves the new release serving whole and its run
# RUNNING in the state file; the rerun is not a no-op: it validates again
# and records success. Every answer seen is one release or the other.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_crash_restart
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port"
lab_config "$T/gl.ini"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
demo_observe_start "$port"

GREENLIGHT_CRASH_AT=deploy-restart expect_exit 137 \
	"$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_eq v2 "$(demo_answers "$port" v1 v2)" "after the kill"
assert_eq running "$(demo_state .last.result)"
pid=$(systemctl --user show -P MainPID greenlight-demo.service)
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/err" "the last deploy of v2 did not finish (killed?); finishing it now"
assert_contains "$T/err" "release v2: installed already; no download"
assert_contains "$T/out" "release v2 is current and healthy (previous: v1)"
assert_eq ok "$(demo_state .last.result)"
assert_eq interrupted "$(demo_state '.history[1].result')"
assert_eq v2 "$(demo_answers "$port" v1 v2)" "after the rerun"
assert_eq "releases/v1" "$(readlink "$T/root/previous")"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/out" "nothing to do"
kill "$DEMO_OBSERVER"
demo_observe_check v1 v2
echo "observed: $(sort "$T/observed" | uniq -c | tr '\n' ' ')"
echo "deploy_crash_restart: ok"
