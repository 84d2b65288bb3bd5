#!/usr/bin/env bash
# deploy_noop: deploying the release that is current, intact, with its units
# in place and active exits 0 at once: no request reaches storage or IMDS,
# the workload is not restarted, the state file is not rewritten, and it
# takes well under a second. A stale unit file, a stopped unit or a damaged
# release are not no-ops: the rerun converges.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_noop
lab_azurite_start
lab_imds_start
lab_proxy_start
port=$(lab_free_port)
demo_publish v2 --port "$port"
lab_config "$T/gl.ini"
unit=greenlight-demo.service

expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
pid=$(systemctl --user show -P MainPID $unit)
state_before=$(stat -c %Y.%s "$T/state/state.json")
sum_before=$(sha256sum <"$T/state/state.json")
lab_proxy_ctl POST /reset >/dev/null
imds_before=$(lab_imds_ctl GET /_test/requests | jq length)

start=${EPOCHREALTIME/./}
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
ms=$(((${EPOCHREALTIME/./} - start) / 1000))
echo "no-op took ${ms} ms"
[ "$ms" -lt 1000 ] || fail "the no-op took ${ms} ms"
assert_contains "$T/out" "release v2 is already current and healthy; nothing to do"
assert_eq 0 "$(lab_proxy_ctl GET /log | jq length)" "storage requests on a no-op"
assert_eq "$imds_before" "$(lab_imds_ctl GET /_test/requests | jq length)" \
	"IMDS requests on a no-op"
assert_eq "$pid" "$(systemctl --user show -P MainPID $unit)" "the workload was restarted"
assert_eq "$sum_before" "$(sha256sum <"$T/state/state.json")" "state file changed"
assert_eq "$state_before" "$(stat -c %Y.%s "$T/state/state.json")"

# A stopped unit: started again, no download.
systemctl --user stop $unit
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/err" "is not active; starting it again"
assert_contains "$T/err" "release v2: installed already; no download"
assert_eq "code=v2 data=v2" "$(demo_version "$port")"

# A unit file changed behind our back: written again, restarted.
ufile=$XDG_RUNTIME_DIR/systemd/user/$unit
sed -i 's/^RestartSec=.*/RestartSec=7s/' "$ufile"
systemctl --user daemon-reload
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/err" "its units are not in place; activating it again"
assert_not_contains "$ufile" "RestartSec=7s"
assert_eq 0 "$(lab_proxy_ctl GET /log | jq length)" "storage requests"

# A damaged current release (seal gone) is not a no-op, and not replaced
# under the running workload: refused before any download.
chmod u+w "$T/root/releases/v2"
mv "$T/root/releases/v2/.greenlight-release.json" "$T/seal"
expect_exit 9 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/err" "current but not intact"
assert_contains "$T/err" "is current but damaged (its seal is missing or wrong)"
assert_eq 0 "$(lab_proxy_ctl GET /log | jq length)" "storage requests"
assert_eq "code=v2 data=v2" "$(demo_version "$port")"
assert_eq failed "$(demo_state .last.result)"
mv "$T/seal" "$T/root/releases/v2/.greenlight-release.json"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/out" "nothing to do"
# after a failure the no-op is recorded, so status tells the truth
assert_eq no-op "$(demo_state .last.result)"
echo "deploy_noop: ok"
