#!/usr/bin/env bash
# auth_check_sas: [auth] method = sas with the token in sas_file (a whole
# SAS URL pasted in a file is fine too) or in GREENLIGHT_AUTH_SAS_TOKEN.
# No IMDS needed; the SAS never appears in anything greenlight prints, not
# even at -vv or in `greenlight config`; a world-readable file is warned
# about; a read-only SAS without list permission gets the SAS message.
# timeout: 90
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init auth_check_sas
lab_azurite_start
mkdir -p "$T/rel"
echo v1 >"$T/rel/app.txt"
lab_container_create releases
lab_upload "$T/rel" releases 1.0
sas=$(lab_sas_token releases rl)
sig=$(sed -n 's/.*sig=\([^&]*\).*/\1/p' <<<"$sas")
[ -n "$sig" ] || fail "no sig in the lab SAS: $sas"

printf '%s\n' "$sas" >"$T/sas"
chmod 600 "$T/sas"
# no IMDS at all: a dead endpoint proves it is not asked
lab_config "$T/greenlight.ini" storage.release=1.0 auth.method=sas \
	auth.sas_file="$T/sas" imds.endpoint=http://127.0.0.1:$(lab_free_port)
expect_exit 0 "$GREENLIGHT" check -vv --config "$T/greenlight.ini"
assert_contains "$T/out" "check: credentials  ok      the SAS token"
assert_contains "$T/out" "all checks passed"
assert_not_contains "$T/err" "$sig"
assert_not_contains "$T/out" "$sig"
assert_not_contains "$T/err" "readable by every user"

# a SAS URL in a world-readable file: works, with a warning
lab_sas_url releases rl >"$T/sas"
chmod 644 "$T/sas"
expect_exit 0 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "warning: auth: sas_file $T/sas is readable by every user of this machine; chmod 600 it"
assert_not_contains "$T/err" "$sig"

# from the environment, and never shown by greenlight config
lab_config "$T/env.ini" storage.release=1.0 auth.method=sas
GREENLIGHT_AUTH_SAS_TOKEN="?$sas" expect_exit 0 "$GREENLIGHT" check -vv --config "$T/env.ini"
assert_not_contains "$T/err" "$sig"
assert_not_contains "$T/out" "$sig"
GREENLIGHT_AUTH_SAS_TOKEN="$sas" expect_exit 0 "$GREENLIGHT" config --config "$T/env.ini"
assert_not_contains "$T/out" "$sig"

# read-only SAS: listing is refused and the message is about the SAS
lab_sas_token releases r >"$T/sas"
chmod 600 "$T/sas"
expect_exit 4 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: storage: listing release 1.0: the SAS token lacks read and list permission on container releases of account devstoreaccount1"
assert_not_contains "$T/err" "sig="

# not a SAS token at all
echo "hello" >"$T/sas"
expect_exit 3 "$GREENLIGHT" check --config "$T/greenlight.ini"
assert_contains "$T/err" "error: auth: the SAS token from $T/sas has no signature (sig parameter), so it is not a SAS token; check [auth] sas_file / GREENLIGHT_AUTH_SAS_TOKEN"
