#!/usr/bin/env bash
# installer/install.sh builds and installs the binary and an example config
# into the given prefix, and a rerun keeps an existing configuration.
# timeout: 600
set -euo pipefail
source "$GL_SOURCE_DIR/tests/lab/lib.sh"
lab_init installer

expect_exit 0 bash "$GL_SOURCE_DIR/installer/install.sh" --no-deps \
	--prefix "$T/usr" --sysconfdir "$T/etc"
assert_contains "$T/out" "wrote $T/etc/greenlight/greenlight.ini"
"$T/usr/bin/greenlight" --version >"$T/version"
assert_contains "$T/version" "greenlight "
cmp "$GL_SOURCE_DIR/conf/greenlight.ini" "$T/etc/greenlight/greenlight.ini" ||
	fail "the example configuration was not installed as is"

echo "[storage]" >"$T/etc/greenlight/greenlight.ini"
expect_exit 0 bash "$GL_SOURCE_DIR/installer/install.sh" --no-deps \
	--prefix "$T/usr" --sysconfdir "$T/etc"
assert_contains "$T/out" "kept the existing $T/etc/greenlight/greenlight.ini"
assert_eq "[storage]" "$(cat "$T/etc/greenlight/greenlight.ini")" "config overwritten"

expect_exit 2 bash "$GL_SOURCE_DIR/installer/install.sh" --bogus
assert_contains "$T/err" "unknown option --bogus"
echo "PASS installer"
