#!/usr/bin/env bash
# status_output: `greenlight status` tells a person what is deployed and how
# the last deploy went (also while one runs, and without root); --json gives
# the same to machines.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init status_output
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port" --hook "before_install=echo preparing v2; touch $T/hook.started; sleep 3"
hport=$(lab_free_port)
lab_config "$T/gl.ini" health.listen=127.0.0.1:$hport

expect_exit 0 "$GREENLIGHT" status --config "$T/gl.ini"
assert_contains "$T/out" "current:   (none)"
assert_contains "$T/out" "last run:  (none recorded)"

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
"$GREENLIGHT" deploy --config "$T/gl.ini" --release v2 >"$T/out2" 2>&1 &
deploy=$!
lab_track "$deploy"
wait_until 60 test -e "$T/hook.started"
expect_exit 0 "$GREENLIGHT" status --config "$T/gl.ini"
assert_contains "$T/out" "current:   v1"
assert_contains "$T/out" "last run:  deploy v2: running since"
assert_contains "$T/out" "now:       in progress (pid $deploy, started"
assert_contains "$T/out" "phases:    preflight"
assert_contains "$T/out" "fetch"
rc=0
wait "$deploy" || rc=$?
assert_eq 0 "$rc" "the v2 deploy"

expect_exit 0 "$GREENLIGHT" status --config "$T/gl.ini"
cp "$T/out" "$T/status.txt"
assert_contains "$T/status.txt" "current:   v2"
assert_contains "$T/status.txt" "previous:  v1"
assert_contains "$T/status.txt" "last run:  deploy v2: ok (exit 0, ok) at"
for phase in preflight fetch unpack install activate validate commit; do
	grep -q "^phases:.* $phase [0-9]" "$T/status.txt" ||
		fail "phase $phase missing from: $(grep phases "$T/status.txt")"
done
assert_contains "$T/status.txt" "hook before_install: exited with status 0"
assert_contains "$T/status.txt" "  | preparing v2"
assert_contains "$T/status.txt" "installed: v1 (previous), v2 (current)"
assert_contains "$T/status.txt" "health:    no greenlight health answers on http://127.0.0.1:$hport"
grep -q "deploy   v1  *ok" "$T/status.txt" || fail "history lacks v1"

expect_exit 0 "$GREENLIGHT" status --config "$T/gl.ini" --json
jq -e . "$T/out" >/dev/null || fail "status --json is not JSON"
assert_eq v2 "$(jq -r .current "$T/out")"
assert_eq v1 "$(jq -r .previous "$T/out")"
assert_eq ok "$(jq -r .last.result "$T/out")"
assert_eq 0 "$(jq -r .last.exit_code "$T/out")"
for phase in fetch unpack install activate validate commit; do
	jq -e ".last.phases_ms.$phase >= 0" "$T/out" >/dev/null ||
		fail "phases_ms.$phase missing"
done
assert_eq 2 "$(jq '.history | length' "$T/out")"

# no root needed: the state file and the layout are world-readable
chmod 755 "$T"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$GREENLIGHT" status --config "$T/gl.ini" >"$T/nobody.txt" 2>"$T/nobody.err" ||
	{ cat "$T/nobody.err" >&2; fail "status as nobody failed"; }
assert_contains "$T/nobody.txt" "current:   v2"
assert_contains "$T/nobody.txt" "last run:  deploy v2: ok"
echo "status_output: ok"
