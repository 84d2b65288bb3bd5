#!/usr/bin/env bash
# deploy_v1_v2: the first deploy of a release installs it, starts its unit
# (user scope, a real systemd user manager) and proves it healthy; the next
# release is switched to, v1 becomes previous, the unit now serves v2 whole,
# and the state file and the layout say so.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_v1_v2
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port"
lab_config "$T/gl.ini"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
assert_contains "$T/out" "release v1 is current and healthy"
assert_contains "$T/err" "unpack app.tar.zst: extracted into the release root"
assert_eq "code=v1 data=v1" "$(demo_version "$port")"
assert_eq active "$(systemctl --user is-active greenlight-demo.service)"
assert_eq "releases/v1" "$(readlink "$T/root/current")"
[ ! -e "$T/root/previous" ] || fail "previous exists after the first deploy"
[ -f "$T/root/releases/v1/bin/server.py" ] || fail "archive not unpacked"
[ ! -e "$T/root/releases/v1/app.tar.zst" ] || fail "archive kept in the release"
[ -f "$T/root/releases/v1/VERSION" ] || fail "loose file missing"
[ ! -w "$T/root/releases/v1/VERSION" ] || [ "$(id -u)" = 0 ] ||
	fail "release not read-only"
assert_eq ok "$(demo_state .last.result)"
assert_eq v1 "$(demo_state .current)"
pid1=$(systemctl --user show -P MainPID greenlight-demo.service)

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/out" "release v2 is current and healthy (previous: v1)"
assert_eq "code=v2 data=v2" "$(demo_version "$port")"
assert_eq "releases/v2" "$(readlink "$T/root/current")"
assert_eq "releases/v1" "$(readlink "$T/root/previous")"
pid2=$(systemctl --user show -P MainPID greenlight-demo.service)
[ "$pid1" != "$pid2" ] || fail "the unit was not restarted"
assert_eq v2 "$(demo_state .current)"
assert_eq v1 "$(demo_state .previous)"
assert_eq ok "$(demo_state .last.result)"
[ -z "$(ls -A "$T/root/staging")" ] || fail "staging not cleaned up"
unit=$XDG_RUNTIME_DIR/systemd/user/greenlight-demo.service
assert_contains "$unit" "WorkingDirectory=$T/root/current"
assert_contains "$unit" "ExecStart=$T/root/current/bin/server.py"
echo "deploy_v1_v2: ok"
