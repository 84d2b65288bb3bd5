#!/usr/bin/env bash
# deploy_crash_fetch: a deploy killed (SIGKILL) in the middle of the download
# (a range of the archive stalled by the fault proxy, the archive already
# being extracted into staging) leaves the old release serving untouched;
# the rerun resumes the download (what arrived is not fetched again),
# extracts and deploys. Every answer seen is one release or the other.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_crash_fetch
lab_azurite_start
lab_imds_start
lab_proxy_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port" --pad 40M
lab_config "$T/gl.ini" fetch.chunk_size=4M fetch.connections=4
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
demo_observe_start "$port"

# the first range of the archive stalls after 1 MiB
lab_proxy_ctl POST /reset >/dev/null
lab_proxy_ctl POST /rules '[{"match": "app.tar.zst", "method": "GET",
	"count": 1, "action": "stall", "seconds": 120, "after_bytes": 1048576}]' \
	>/dev/null
"$GREENLIGHT" deploy --config "$T/gl.ini" --release v2 >"$T/out1" 2>&1 &
deploy=$!
lab_track "$deploy"
stalled() {
	[ "$(lab_proxy_ctl GET /rules | jq '.[0].fired')" -ge 1 ] &&
		[ "$(lab_proxy_ctl GET '/log?match=app.tar.zst' | jq length)" -ge 6 ]
}
wait_until 60 stalled
assert_eq running "$(demo_state .last.result)"
demo_kill9 "$deploy"
assert_eq v1 "$(demo_answers "$port" v1 v2)" "after the kill"
assert_eq "releases/v1" "$(readlink "$T/root/current")"
[ ! -e "$T/root/releases/v2" ] || fail "v2 installed by a killed deploy"
first=$(lab_proxy_ctl GET '/log?match=app.tar.zst' | jq '[.[].bytes] | add')

lab_proxy_ctl POST /rules '[]' >/dev/null
lab_proxy_ctl POST /reset >/dev/null
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_contains "$T/err" "the last deploy of v2 did not finish"
size=$(stat -c %s "$T/src/v2/app.tar.zst")
again=$(lab_proxy_ctl GET '/log?match=app.tar.zst' | jq '[.[].bytes] | add')
echo "archive $size bytes: before the kill $first, rerun $again"
[ "$again" -lt "$size" ] || fail "the rerun downloaded the whole archive again"
assert_eq v2 "$(demo_answers "$port" v1 v2)" "after the rerun"
assert_eq ok "$(demo_state .last.result)"
assert_eq interrupted "$(demo_state '.history[1].result')"
cmp "$T/root/releases/v2/lib/pad.bin" <(zstd -dc "$T/src/v2/app.tar.zst" |
	tar -xOf - lib/pad.bin) || fail "unpacked data differs"
kill "$DEMO_OBSERVER"
demo_observe_check v1 v2
echo "deploy_crash_fetch: ok"
