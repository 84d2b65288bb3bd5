#!/usr/bin/env bash
# deploy_bad_spec: a release whose release.ini has mistakes is refused with
# every problem as FILE:LINE and exit 3, before its archive is downloaded;
# a release without release.ini is refused with exit 3 after its download;
# the running release is untouched either way.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_bad_spec
lab_azurite_start
lab_imds_start
lab_proxy_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
bash "$DEMO_APP/make-release.sh" "$T/src/bad" bad --port "$port" --pad 8M
sed -i -e 's/^restart = on-failure$/restart = sometimes/' \
	-e 's/^stop_timeout = 5s$/stop_timeout = soon/' "$T/src/bad/release.ini"
bash "$DEMO_APP/make-release.sh" --manifest "$T/src/bad"
lab_upload "$T/src/bad" releases bad >/dev/null
bash "$DEMO_APP/make-release.sh" "$T/src/nospec" nospec --port "$port"
rm "$T/src/nospec/release.ini"
bash "$DEMO_APP/make-release.sh" --manifest "$T/src/nospec"
lab_upload "$T/src/nospec" releases nospec >/dev/null
lab_config "$T/gl.ini"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1

lab_proxy_ctl POST /reset >/dev/null
expect_exit 3 "$GREENLIGHT" deploy --config "$T/gl.ini" --release bad
assert_contains "$T/err" "staging/bad/release.ini:5:"
assert_contains "$T/err" "staging/bad/release.ini:7:"
assert_contains "$T/err" "release.ini of release bad has 2 problems (see above); nothing was downloaded or switched"
assert_eq 0 "$(lab_proxy_ctl GET '/log?match=app.tar.zst' | jq length)" \
	"archive requests"
assert_eq "code=v1 data=v1" "$(demo_version "$port")"
assert_eq config "$(demo_state .last.error.class)"
[ ! -e "$T/root/staging/bad" ] || fail "staging left behind"

expect_exit 3 "$GREENLIGHT" deploy --config "$T/gl.ini" --release nospec
assert_contains "$T/err" "release nospec has no readable release.ini at its root; every release needs one"
assert_eq "code=v1 data=v1" "$(demo_version "$port")"
assert_eq "releases/v1" "$(readlink "$T/root/current")"
echo "deploy_bad_spec: ok"
