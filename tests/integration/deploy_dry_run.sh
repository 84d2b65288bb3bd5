#!/usr/bin/env bash
# deploy_dry_run: `deploy --dry-run` prints the plan (what would be
# downloaded, the service, what is unpacked, how it is validated) and
# changes nothing: no layout, no state file, no unit, no lock. A release
# whose release.ini is wrong is reported as FILE:LINE with exit 3. Once the
# release is current, the plan says there is nothing to do.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_dry_run
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
bash "$DEMO_APP/make-release.sh" "$T/src/bad" bad --port "$port"
sed -i 's/^restart = on-failure$/restart = sometimes/' "$T/src/bad/release.ini"
bash "$DEMO_APP/make-release.sh" --manifest "$T/src/bad"
lab_upload "$T/src/bad" releases bad >/dev/null
lab_config "$T/gl.ini"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1 --dry-run
assert_contains "$T/out" "plan for release v1 (dry run: nothing is changed)"
assert_contains "$T/out" "current   (none)"
assert_contains "$T/out" "download  4 files"
assert_contains "$T/out" "service   greenlight-demo.service: bin/server.py"
assert_contains "$T/out" "unpack    app.tar.zst -> ."
assert_contains "$T/out" "validate  GET http://127.0.0.1:$port/health answers 200 within 20s"
assert_contains "$T/out" "failure   stop the workload (no release to go back to)"
[ ! -e "$T/root" ] || fail "the dry run made $T/root"
[ ! -e "$T/state" ] || fail "the dry run wrote a state file"
[ ! -e "$T/run/lock" ] || fail "the dry run took the lock"
[ ! -e "$XDG_RUNTIME_DIR/systemd/user/greenlight-demo.service" ] ||
	fail "the dry run wrote a unit"

expect_exit 3 "$GREENLIGHT" deploy --config "$T/gl.ini" --release bad --dry-run
assert_contains "$T/err" "/bad/release.ini:5:"
assert_contains "$T/err" "sometimes"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1 --dry-run
assert_contains "$T/out" "nothing to do: v1 is current, intact, its units in place and active (exit 0)"
echo "deploy_dry_run: ok"
