#!/usr/bin/env bash
# rollback_basic: `greenlight rollback` switches back to the previous
# release with no download, restarts and validates it; --to R picks an
# installed release; rolling back to what is current is a no-op; a release
# that is not installed, or no previous at all, is refused with exit 5.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init rollback_basic
lab_azurite_start
lab_imds_start
lab_proxy_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port"
lab_config "$T/gl.ini"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
expect_exit 5 "$GREENLIGHT" rollback --config "$T/gl.ini"
assert_contains "$T/err" "there is no previous release in $T/root to go back to"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_eq "code=v2 data=v2" "$(demo_version "$port")"

lab_proxy_ctl POST /reset >/dev/null
expect_exit 0 "$GREENLIGHT" rollback --config "$T/gl.ini"
assert_contains "$T/out" "release v1 is current and healthy (previous: v2)"
assert_eq "code=v1 data=v1" "$(demo_version "$port")"
assert_eq "releases/v1" "$(readlink "$T/root/current")"
assert_eq "releases/v2" "$(readlink "$T/root/previous")"
assert_eq 0 "$(lab_proxy_ctl GET /log | jq length)" "storage requests"
assert_eq rollback "$(demo_state .last.command)"
assert_eq ok "$(demo_state .last.result)"
assert_eq v1 "$(demo_state .current)"

expect_exit 0 "$GREENLIGHT" rollback --config "$T/gl.ini" --to v1
assert_contains "$T/out" "release v1 is current already; nothing to do"
expect_exit 5 "$GREENLIGHT" rollback --config "$T/gl.ini" --to v9
assert_contains "$T/err" "rollback: release v9 is not installed"
expect_exit 0 "$GREENLIGHT" rollback --config "$T/gl.ini" --to v2
assert_eq "code=v2 data=v2" "$(demo_version "$port")"
assert_eq "releases/v1" "$(readlink "$T/root/previous")"
# back on v2 as deploy left it: deploying v2 is a no-op again
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/out" "nothing to do"
echo "rollback_basic: ok"
