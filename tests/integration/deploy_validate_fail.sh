#!/usr/bin/env bash
# deploy_validate_fail: a release whose workload fails its health check is
# activated, fails validation within its deadline, and is rolled back: the
# previous release is current again, restarted and healthy, the deploy
# exits 7 with a message naming what failed, and the state file records it.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_validate_fail
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port"
demo_publish v3 --port "$port" --unhealthy --deadline 3s
lab_config "$T/gl.ini"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
expect_exit 7 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v3
msg="release v3 did not pass its health check within 3s"
assert_contains "$T/err" "$msg"
assert_contains "$T/err" "GET http://127.0.0.1:$port/health: HTTP 500, want 200"
assert_contains "$T/err" "rolled back to v2, which is healthy"
assert_eq "code=v2 data=v2" "$(demo_version "$port")"
assert_eq active "$(systemctl --user is-active greenlight-demo.service)"
assert_eq "releases/v2" "$(readlink "$T/root/current")"
assert_eq "releases/v1" "$(readlink "$T/root/previous")"
[ -d "$T/root/releases/v3" ] || fail "v3 should stay installed"
[ ! -e "$T/root/staging/v3" ] || fail "staging of v3 left behind"
assert_eq rolled-back "$(demo_state .last.result)"
assert_eq 7 "$(demo_state .last.exit_code)"
assert_eq v2 "$(demo_state .current)"
assert_eq v1 "$(demo_state .previous)"
demo_state .last.error.message >"$T/state-msg"
assert_contains "$T/state-msg" "$msg"
assert_contains "$T/state-msg" "rolled back to v2, which is healthy"

# status says so to a person
expect_exit 0 "$GREENLIGHT" status --config "$T/gl.ini"
assert_contains "$T/out" "deploy v3: rolled-back (exit 7"
assert_contains "$T/out" "$msg"

# rolling back to the failing release fails clearly and keeps v2
expect_exit 7 "$GREENLIGHT" rollback --config "$T/gl.ini" --to v3
assert_contains "$T/err" "$msg"
assert_contains "$T/err" "rolled back to v2, which is healthy"
assert_eq "code=v2 data=v2" "$(demo_version "$port")"
echo "deploy_validate_fail: ok"
