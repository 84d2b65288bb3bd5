#!/usr/bin/env bash
# deploy_hook_fail: a before_install hook that fails stops the deploy before
# anything is switched: the running release keeps serving (not restarted),
# the new one is not installed, the exit code is 3 and the message carries
# the hook's own output, which the state file keeps too.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_hook_fail
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port" --hook \
	'before_install=echo checking the configuration; echo "config is broken: DB_URL missing" >&2; exit 3'
lab_config "$T/gl.ini"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
pid=$(systemctl --user show -P MainPID greenlight-demo.service)
expect_exit 3 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/err" "hook before_install: checking the configuration"
assert_contains "$T/err" "hook before_install: exited with status 3; its output ended with: checking the configuration | config is broken: DB_URL missing"
assert_eq "code=v1 data=v1" "$(demo_version "$port")"
assert_eq "$pid" "$(systemctl --user show -P MainPID greenlight-demo.service)"
assert_eq "releases/v1" "$(readlink "$T/root/current")"
[ ! -e "$T/root/releases/v2" ] || fail "v2 was installed"
[ ! -e "$T/root/staging/v2" ] || fail "staging of v2 left behind"
assert_eq failed "$(demo_state .last.result)"
assert_eq config "$(demo_state .last.error.class)"
assert_eq v1 "$(demo_state .current)"
assert_eq before_install "$(demo_state '.last.hooks[0].name')"
assert_eq "exited with status 3" "$(demo_state '.last.hooks[0].outcome')"
demo_state '.last.hooks[0].output_tail' >"$T/tail"
assert_contains "$T/tail" "config is broken: DB_URL missing"
echo "deploy_hook_fail: ok"
