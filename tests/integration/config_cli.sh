#!/usr/bin/env bash
# config_cli: what a user sees from `greenlight config` and the CLI itself.
# A file with several mistakes: each reported as FILE:LINE at its exact line,
# all in one run, exit 3. A good file: every value with where it came from
# (file line, environment, flag), the SAS token masked and never printed.
# --help lists the commands, help CMD / CMD --help explain them, --version,
# and an unknown command or option gets a short usage on stderr and exit 2.
# timeout: 60
set -euo pipefail
source "$GL_SOURCE_DIR/tests/lab/lib.sh"
mkdir -p "${TMPDIR:-/tmp}/greenlight-tests"
T=$(mktemp -d "${TMPDIR:-/tmp}/greenlight-tests/config_cli.XXXXXX")
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT
GREENLIGHT=${GREENLIGHT:-$GL_BUILD_DIR/greenlight}
for v in $(compgen -e | grep '^GREENLIGHT_' || true); do unset "$v"; done
unset RELEASE_FOLDER_NAME BLOB_CONTAINER_NAME

# --- a file with several mistakes -------------------------------------------
cat >"$T/bad.ini" <<'EOF'
[storage]
account = acct
containr = releases
container = Releases_2
[fetch]
connections = 100
chunk_size = 8 MB
deadline = soon
[healthz]
listen = 1
[health]
approve = perhaps
drain_max = 1h
approve = true
EOF
expect_exit 3 "$GREENLIGHT" config --config "$T/bad.ini"
F=$T/bad.ini
for want in \
	"error: $F:3: unknown key \"containr\" in [storage]" \
	"error: $F:6: fetch.connections: \"100\" is not valid; expected a whole number from 1 to 64" \
	"error: $F:7: fetch.chunk_size: \"8 MB\" is not valid; expected a size such as 4096, 512K, 8M or 1G" \
	"error: $F:8: fetch.deadline: \"soon\" is not valid; expected a duration from 1s to 1d, such as 500ms, 30s, 5m or 2h" \
	"error: $F:9: unknown section [healthz]; known: storage, auth, imds, fetch, install, health" \
	"error: $F:12: health.approve: \"perhaps\" is not valid; expected true or false" \
	"error: $F:14: health.approve set twice in this file" \
	"error: $F:4: storage.container \"Releases_2\" is not a valid container name (3-63 lower-case letters, digits and single hyphens)" \
	"error: $F:13: health.drain_max must stay inside the scale set's notBeforeTimeout (at most 15m)" \
	"error: configuration has 9 problems"; do
	assert_contains "$T/err" "$want"
done
# exactly those: one error line per problem plus the summary
assert_eq 10 "$(grep -c 'error: ' "$T/err")" "error lines"
# in file order (the cross-key checks come after the file is read)
grep -o "$F:[0-9]*:" "$T/err" | cut -d: -f2 | head -7 >"$T/lines"
assert_eq "3 6 7 8 9 12 14" "$(tr '\n' ' ' <"$T/lines" | sed 's/ $//')" \
	"line order"
# journald priority prefix when stderr is not a TTY
assert_contains "$T/err" "<3>greenlight: error: $F:3:"

# a missing file and a directory are problems too
expect_exit 3 "$GREENLIGHT" config --config "$T/absent.ini"
assert_contains "$T/err" "$T/absent.ini: cannot read configuration: No such file or directory"
# that is the one error: not also the required keys the file would have set
expect_exit 3 "$GREENLIGHT" deploy --config "$T/absent.ini"
assert_eq 2 "$(grep -c 'error: ' "$T/err")" "error lines for an absent file"
assert_contains "$T/err" "configuration has 1 problem; fix it and rerun"
expect_exit 3 "$GREENLIGHT" config --config "$T"
assert_contains "$T/err" "$T: cannot read configuration: Is a directory"

# --- a good file: values, origins, secrets masked ---------------------------
cat >"$T/good.ini" <<'EOF'
; the lab's account
[storage]
account = devstoreaccount1
endpoint = https://127.0.0.1:10000/devstoreaccount1
container = releases

[auth]
method = sas

[fetch]
  connections = 4
EOF
secret='sv=2022-11-02&ss=b&srt=co&sp=rl&se=2031-01-01T00%3A00%3A00Z&sig=Zm9vYmFyU2VjcmV0U2lnbmF0dXJl'
GREENLIGHT_AUTH_SAS_TOKEN=$secret RELEASE_FOLDER_NAME=2.0.1 \
	GREENLIGHT_FETCH_DEADLINE=5m \
	expect_exit 0 "$GREENLIGHT" config -vv --config "$T/good.ini" \
	--set fetch.chunk_size=4M
line() { # KEY VALUE ORIGIN: the printed line, padded like config_print
	printf '%-48s # %s' "$1 = $2" "$3"
}
assert_contains "$T/out" "# file: $T/good.ini"
assert_contains "$T/out" "$(line account devstoreaccount1 "$T/good.ini:3")"
assert_contains "$T/out" "$(line endpoint https://127.0.0.1:10000/devstoreaccount1 "$T/good.ini:4")"
assert_contains "$T/out" "$(line container releases "$T/good.ini:5")"
assert_contains "$T/out" "$(line release 2.0.1 "environment RELEASE_FOLDER_NAME")"
assert_contains "$T/out" "$(line method sas "$T/good.ini:8")"
assert_contains "$T/out" "$(line sas_token '********' "environment GREENLIGHT_AUTH_SAS_TOKEN")"
assert_contains "$T/out" "$(line connections 4 "$T/good.ini:11")"
assert_contains "$T/out" "$(line chunk_size 4M "flag --set")"
assert_contains "$T/out" "$(line deadline 5m "environment GREENLIGHT_FETCH_DEADLINE")"
assert_contains "$T/out" "$(line keep 2 default)"
assert_contains "$T/out" "$(line ca_file '' unset)"
assert_contains "$T/out" "drain_min = 30s"
assert_contains "$T/out" "# derived: probe_interval x probe_threshold + 5s"
# the secret, and its signature alone, appear nowhere
for f in "$T/out" "$T/err"; do
	assert_not_contains "$f" "$secret"
	assert_not_contains "$f" "Zm9vYmFyU2VjcmV0U2lnbmF0dXJl"
done

# flags beat the environment; --release is a flag of `config`
RELEASE_FOLDER_NAME=2.0.1 GREENLIGHT_STORAGE_RELEASE=2.0.2 \
	expect_exit 0 "$GREENLIGHT" config --config "$T/good.ini" \
	--set auth.method=none
assert_contains "$T/out" "$(line release 2.0.2 "environment GREENLIGHT_STORAGE_RELEASE")"
RELEASE_FOLDER_NAME=2.0.1 GREENLIGHT_STORAGE_RELEASE=2.0.2 \
	expect_exit 0 "$GREENLIGHT" config --config "$T/good.ini" \
	--set auth.method=none --release=2.0.3
assert_contains "$T/out" "$(line release 2.0.3 "flag --release")"

# a secret on the command line is refused, and not echoed
GREENLIGHT_AUTH_SAS_TOKEN=$secret \
	expect_exit 3 "$GREENLIGHT" config --config "$T/good.ini" \
	--set "auth.sas_token=$secret"
assert_contains "$T/err" "error: flag --set: auth.sas_token is a secret and cannot be set on the command line; use the environment (GREENLIGHT_AUTH_SAS_TOKEN) or the configuration file"
assert_not_contains "$T/err" "Zm9vYmFyU2VjcmV0U2lnbmF0dXJl"
assert_not_contains "$T/out" "Zm9vYmFyU2VjcmV0U2lnbmF0dXJl"

# a bad value from the environment names the variable
GREENLIGHT_FETCH_CONNECTIONS=many \
	expect_exit 3 "$GREENLIGHT" config --config "$T/good.ini" \
	--set auth.method=none
assert_contains "$T/err" "error: environment GREENLIGHT_FETCH_CONNECTIONS: fetch.connections: \"many\" is not valid"

# --- help, version, usage ---------------------------------------------------
expect_exit 0 "$GREENLIGHT" --help
assert_contains "$T/out" "usage: greenlight [--version] [--help] COMMAND [options]"
assert_contains "$T/out" "  config     validate the configuration and print the effective values"
assert_contains "$T/out" "  help       explain a command: help COMMAND"
[ ! -s "$T/err" ] || fail "--help wrote to stderr"
# every command listed is explained by `help CMD` and `CMD --help`, alike
cmds=$(awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' \
	"$T/out" | grep -vx help)
[ "$(wc -w <<<"$cmds")" -ge 1 ] || fail "no commands listed"
for c in $cmds; do
	expect_exit 0 "$GREENLIGHT" help "$c"
	assert_contains "$T/out" "usage: greenlight $c"
	assert_contains "$T/out" "--config FILE"
	cp "$T/out" "$T/help.$c"
	expect_exit 0 "$GREENLIGHT" "$c" --help
	cmp -s "$T/out" "$T/help.$c" ||
		fail "'greenlight help $c' and '$c --help' differ"
done
expect_exit 0 "$GREENLIGHT" help config
assert_contains "$T/out" "usage: greenlight config [options]"
assert_contains "$T/out" "FILE:LINE: what is wrong"
assert_contains "$T/out" "GREENLIGHT_<SECTION>_<KEY>"
assert_contains "$T/out" "Exit 0 when valid, 3 when not."
assert_contains "$T/out" "--set SECTION.KEY=VALUE"
assert_contains "$T/out" "--release R"
expect_exit 0 "$GREENLIGHT" help
assert_contains "$T/out" "commands:"

expect_exit 0 "$GREENLIGHT" --version
grep -qxE 'greenlight [0-9]+\.[0-9]+\.[0-9]+' "$T/out" ||
	fail "--version printed '$(cat "$T/out")'"

expect_exit 2 "$GREENLIGHT" frobnicate
assert_contains "$T/err" "greenlight: unknown command 'frobnicate'"
assert_contains "$T/err" "usage: greenlight [--version] [--help] COMMAND [options]"
[ ! -s "$T/out" ] || fail "usage went to stdout"
expect_exit 2 "$GREENLIGHT" help frobnicate
assert_contains "$T/err" "greenlight: unknown command 'frobnicate'"
expect_exit 2 "$GREENLIGHT"
assert_contains "$T/err" "usage: greenlight"

expect_exit 2 "$GREENLIGHT" config --frobnicate
assert_eq "greenlight config: unknown option --frobnicate
usage: greenlight config [options]
Try 'greenlight help config'." "$(cat "$T/err")"
[ ! -s "$T/out" ] || fail "usage went to stdout"
expect_exit 2 "$GREENLIGHT" config --config
assert_contains "$T/err" "greenlight config: --config needs a FILE"
expect_exit 2 "$GREENLIGHT" config --set
assert_contains "$T/err" "greenlight config: --set needs SECTION.KEY=VALUE"
expect_exit 2 "$GREENLIGHT" config --release
assert_contains "$T/err" "greenlight config: --release needs a value"
echo ok
