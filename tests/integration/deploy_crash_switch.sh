#!/usr/bin/env bash
# deploy_crash_switch: a deploy killed (SIGKILL) in the middle of the switch
# (previous moved, current not yet) and right after it (current moved, the
# unit not yet restarted) leaves the old release serving whole; the rerun
# finishes the job: the new release serves, the state file says ok, and the
# interrupted run is in the history. A poller checks throughout that every
# answer is one release or the other, never a mix.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_crash_switch
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
for v in v1 v2 v3; do demo_publish $v --port "$port"; done
lab_config "$T/gl.ini"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
demo_observe_start "$port"

# between the two renames of release_switch
GREENLIGHT_CRASH_AT=release-switch expect_exit 137 \
	"$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_eq v1 "$(demo_answers "$port" v1 v2)" "after the kill"
assert_eq "releases/v1" "$(readlink "$T/root/current")"
assert_eq running "$(demo_state .last.result)"
expect_exit 0 "$GREENLIGHT" status --config "$T/gl.ini"
assert_contains "$T/out" "not running: that run was interrupted"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_eq v2 "$(demo_answers "$port" v1 v2)" "after the rerun"
assert_eq "releases/v2" "$(readlink "$T/root/current")"
assert_eq "releases/v1" "$(readlink "$T/root/previous")"
assert_eq ok "$(demo_state .last.result)"
assert_eq interrupted "$(demo_state '.history[1].result')"

# current moved, restart not done: v2 keeps serving (its working directory
# is the old release), the rerun restarts into v3 and validates
GREENLIGHT_CRASH_AT=deploy-switch expect_exit 137 \
	"$GREENLIGHT" deploy --config "$T/gl.ini" --release v3
assert_eq "releases/v3" "$(readlink "$T/root/current")"
assert_eq v2 "$(demo_answers "$port" v2 v3)" "after the kill"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v3
assert_contains "$T/err" "the last deploy of v3 did not finish (killed?); finishing it now"
assert_eq v3 "$(demo_answers "$port" v2 v3)" "after the rerun"
assert_eq "releases/v2" "$(readlink "$T/root/previous")"
assert_eq ok "$(demo_state .last.result)"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v3
assert_contains "$T/out" "nothing to do"

kill "$DEMO_OBSERVER"
grep -v -x -e "code=v1 data=v1" -e "code=v2 data=v2" -e "code=v3 data=v3" \
	-e down "$T/observed" && fail "the workload answered with a mix"
echo "observed $(wc -l <"$T/observed") answers: $(sort "$T/observed" | uniq -c | tr '\n' ' ')"
echo "deploy_crash_switch: ok"
