#!/usr/bin/env bash
# deploy_crash_unpack: a deploy killed (SIGKILL) after the download, while
# its archives are being unpacked into staging, leaves the old release
# serving untouched and a half-built tree in staging; the rerun rebuilds
# the tree from the resumable download (no blob fetched again) and
# deploys. Every answer seen is one release or the other.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_crash_unpack
lab_azurite_start
lab_imds_start
lab_proxy_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
demo_publish v2 --port "$port" --pad 24M
lab_config "$T/gl.ini"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
demo_observe_start "$port"

lab_proxy_ctl POST /reset >/dev/null
GREENLIGHT_CRASH_AT=deploy-unpack expect_exit 137 \
	"$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_eq v1 "$(demo_answers "$port" v1 v2)" "after the kill"
assert_eq "releases/v1" "$(readlink "$T/root/current")"
[ ! -e "$T/root/releases/v2" ] || fail "v2 installed by a killed deploy"
[ -d "$T/root/staging/v2/tree" ] || fail "no tree in staging"
first=$(lab_proxy_ctl GET '/log?match=app.tar.zst' | jq '[.[].bytes] | add')

lab_proxy_ctl POST /reset >/dev/null
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v2
assert_eq v2 "$(demo_answers "$port" v1 v2)" "after the rerun"
assert_eq ok "$(demo_state .last.result)"
assert_eq interrupted "$(demo_state '.history[1].result')"
again=$(lab_proxy_ctl GET '/log?match=app.tar.zst' | jq '[.[].bytes] | add // 0')
echo "archive bytes: first run $first, rerun $again"
[ "$again" -lt "$first" ] || fail "the rerun downloaded the archive again"
cmp "$T/root/releases/v2/lib/pad.bin" <(zstd -dc "$T/src/v2/app.tar.zst" |
	tar -xOf - lib/pad.bin) || fail "unpacked data differs"
kill "$DEMO_OBSERVER"
demo_observe_check v1 v2
echo "deploy_crash_unpack: ok"
