#!/usr/bin/env bash
# deploy_crash_hooks: a deploy killed (SIGKILL) from outside while its
# before_install hook runs leaves the old release serving untouched; the
# rerun runs the hook again (hooks must be idempotent) and deploys. Every
# answer seen is one release or the other.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_crash_hooks
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
# the first time the hook runs it records its PID and sleeps
demo_publish v2 --port "$port" --hook "before_install=echo hook ran >>$T/hook.runs; if [ ! -e $T/hook.pid ]; then echo \$\$ >$T/hook.pid; exec sleep 60; fi"
lab_config "$T/gl.ini"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
demo_observe_start "$port"

"$GREENLIGHT" deploy --config "$T/gl.ini" --release v2 >"$T/out1" 2>&1 &
deploy=$!
lab_track "$deploy"
wait_until 60 test -s "$T/hook.pid"
lab_track "$(<"$T/hook.pid")"
assert_eq running "$(demo_state .last.result)"
demo_kill9 "$deploy"
kill "$(<"$T/hook.pid")" 2>/dev/null || true
assert_eq v1 "$(demo_answers "$port" v1 v2)" "after the kill"
assert_eq "releases/v1" "$(readlink "$T/root/current")"
[ ! -e "$T/root/releases/v2" ] || fail "v2 installed by a killed deploy"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_eq 2 "$(wc -l <"$T/hook.runs")" "hook runs"
assert_eq v2 "$(demo_answers "$port" v1 v2)" "after the rerun"
assert_eq ok "$(demo_state .last.result)"
assert_eq interrupted "$(demo_state '.history[1].result')"
kill "$DEMO_OBSERVER"
demo_observe_check v1 v2
echo "deploy_crash_hooks: ok"
