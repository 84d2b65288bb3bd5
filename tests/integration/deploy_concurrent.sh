#!/usr/bin/env bash
# deploy_concurrent: two deploys at once. While one holds the lock (its
# before_install hook sleeps), a second deploy of the same release says who
# holds it, waits, and then finds nothing to do (exit 0). With a short
# [install] lock_wait, a second deploy gives up with exit 8 and says why.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_concurrent
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port" --hook "before_install=touch $T/hook.started; sleep 4"
demo_publish v3 --port "$port" --hook "before_install=touch $T/hook3.started; sleep 6"
lab_config "$T/gl.ini"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1

"$GREENLIGHT" deploy --config "$T/gl.ini" --release v2 >"$T/out1" 2>&1 &
first=$!
lab_track "$first"
wait_until 60 test -e "$T/hook.started"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
rc=0
wait "$first" || rc=$?
assert_eq 0 "$rc" "the first deploy"
assert_contains "$T/err" "another greenlight deploy (pid $first, started"
assert_contains "$T/err" "holds $T/run/lock; waiting up to 2m"
assert_contains "$T/out" "release v2 is already current and healthy; nothing to do"
assert_contains "$T/out1" "release v2 is current and healthy (previous: v1)"
assert_eq "code=v2 data=v2" "$(demo_version "$port")"

# not waiting long enough: a clear refusal, exit 8, nothing changed
"$GREENLIGHT" deploy --config "$T/gl.ini" --release v3 >"$T/out3" 2>&1 &
first=$!
lab_track "$first"
wait_until 60 test -e "$T/hook3.started"
expect_exit 8 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1 \
	--set install.lock_wait=1s
assert_contains "$T/err" "gave up waiting after 1s for another greenlight deploy (pid $first"
assert_contains "$T/err" "rerun when it has finished, or raise [install] lock_wait"
rc=0
wait "$first" || rc=$?
assert_eq 0 "$rc" "the v3 deploy"
assert_eq "code=v3 data=v3" "$(demo_version "$port")"
assert_eq v3 "$(demo_state .last.release)"
echo "deploy_concurrent: ok"
