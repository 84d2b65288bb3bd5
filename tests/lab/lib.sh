# lib.sh — the local lab for integration tests; source it, then lab_init.
# Works under `set -euo pipefail`. Every process started through a lab_*
# helper (or registered with lab_track) is stopped by PID when the script
# exits, pass or fail; the temp dir $T is removed on success, kept on failure.
#
#   source "$GL_SOURCE_DIR/tests/lab/lib.sh"
#   lab_init my_scenario
#   lab_azurite_start; lab_imds_start
#   lab_upload "$GL_SOURCE_DIR/tests/data/app" releases 1.0
#   lab_config "$T/greenlight.ini" storage.release=1.0
#   expect_exit 0 "$GREENLIGHT" deploy --config "$T/greenlight.ini"
#
# Functions (see tests/lab/README.md for details):
#   lab_init NAME, lab_track PID, lab_on_exit CMD, lab_free_port
#   lab_azurite_start [--inmem]
#   lab_imds_start [--vm-name NAME] [emulator options], lab_imds_ctl M P [JSON]
#   lab_container_create NAME
#   lab_upload SRC_DIR CONTAINER PREFIX [--no-md5] [--put-md5] [--block-size N]
#   lab_blob_put CONTAINER NAME FILE [same options], lab_blob_delete C NAME
#   lab_sas_url CONTAINER [PERMS], lab_sas_token CONTAINER [PERMS]
#   lab_token [--lifetime S] [--aud A] [--iss I] [--nbf-offset S] [--no-iat]
#   lab_proxy_start [HOST:PORT], lab_proxy_ctl M P [JSON]
#   lab_config FILE [SECTION.KEY=VALUE | -SECTION.KEY ...]
#   lab_systemd_reexec "$@"
#   lab_haproxy_start CFG, lab_haproxy_stat BACKEND SERVER FIELD
#   fail MSG, assert_eq EXP ACT [MSG], assert_contains FILE NEEDLE [MSG],
#   assert_not_contains FILE NEEDLE [MSG], expect_exit CODE CMD...,
#   wait_until SECONDS CMD..., lab_poll SECONDS CMD...

GL_LAB=${GL_LAB:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
GL_SOURCE_DIR=${GL_SOURCE_DIR:-$(cd "$GL_LAB/../.." && pwd)}
GL_BUILD_DIR=${GL_BUILD_DIR:-$GL_SOURCE_DIR/build}
LAB_DIR=${LAB_DIR:-${TMPDIR:-/tmp}/greenlight-lab}
LAB_CA=$LAB_DIR/certs/ca.pem
export GL_LAB GL_SOURCE_DIR GL_BUILD_DIR LAB_DIR LAB_CA

# --- assertions ---------------------------------------------------------------

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

assert_eq() {
	[ "$1" == "$2" ] ||
		fail "${3:-values differ}: expected '$1', got '$2'"
}

_lab_show() {
	echo "--- $1 ---" >&2
	head -c 20000 "$1" >&2 || true
	echo "--- end of $1 ---" >&2
}

assert_contains() {
	[ -f "$1" ] || fail "${3:-assert_contains}: no file $1"
	grep -qF -- "$2" "$1" ||
		{ _lab_show "$1"; fail "${3:-$1 does not contain '$2'}"; }
}

assert_not_contains() {
	[ -f "$1" ] || fail "${3:-assert_not_contains}: no file $1"
	! grep -qF -- "$2" "$1" ||
		{ _lab_show "$1"; fail "${3:-$1 contains '$2'}"; }
}

# expect_exit CODE CMD...: stdout in $T/out, stderr in $T/err.
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" != "$want" ]; then
		_lab_show "$T/out"
		_lab_show "$T/err"
		fail "expected exit $want, got $rc: $*"
	fi
}

# lab_poll SECONDS CMD...: run CMD every 0.1 s until it succeeds (return 0)
# or SECONDS pass (return 1). CMD's output is discarded.
lab_poll() {
	local secs=$1 int frac=000000 now deadline
	shift
	int=${secs%.*}
	[[ $secs == *.* ]] && frac=${secs#*.}000000
	now=${EPOCHREALTIME/./}
	deadline=$((now + 10#${int:-0} * 1000000 + 10#${frac:0:6}))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		now=${EPOCHREALTIME/./}
		[ "$now" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# wait_until SECONDS CMD...: like lab_poll, but fails the test on timeout.
wait_until() {
	local secs=$1
	shift
	lab_poll "$secs" "$@" ||
		fail "timed out after ${secs}s waiting for: $*"
}

# --- process tracking and teardown ----------------------------------------------

lab_track() {
	local pid
	for pid; do
		printf '%s\n' "$pid" >>"$T/.lab/pids"
	done
}

lab_on_exit() {
	printf '%s\n' "$*" >>"$T/.lab/on_exit"
}

_lab_alive() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

_lab_stop_all() {
	local pids=() pid i now deadline left
	[ -f "$T/.lab/pids" ] || return 0
	mapfile -t pids <"$T/.lab/pids"
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		_lab_alive "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	now=${EPOCHREALTIME/./}
	deadline=$((now + 5000000))
	while :; do
		left=0
		for pid in "${pids[@]}"; do
			_lab_alive "$pid" && left=1 && break
		done
		[ "$left" = 0 ] && break
		now=${EPOCHREALTIME/./}
		[ "$now" -lt "$deadline" ] || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		if _lab_alive "$pid"; then
			echo "lab: PID $pid ignored SIGTERM for 5 s; SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	: >"$T/.lab/pids"
}

_lab_exit() {
	local rc=$? f
	set +e
	trap - EXIT
	if [ -f "$T/.lab/on_exit" ]; then
		while IFS= read -r f; do
			eval "$f"
		done <"$T/.lab/on_exit"
	fi
	_lab_stop_all
	if [ "$rc" -eq 0 ]; then
		rm -rf "$T"
	else
		for f in "$T"/*.log; do
			[ -s "$f" ] || continue
			echo "--- last lines of $f ---" >&2
			tail -n 15 "$f" >&2
		done
		echo "kept $T"
	fi
	exit "$rc"
}

# lab_init NAME: temp dir $T, teardown trap, defaults.
lab_init() {
	local name=${1:-$(basename "$0" .sh)}
	if [ ! -x "$GL_LAB/node_modules/.bin/azurite-blob" ] ||
		[ ! -s "$LAB_CA" ]; then
		bash "$GL_LAB/setup.sh" || fail "tests/lab/setup.sh failed"
	fi
	mkdir -p "${TMPDIR:-/tmp}/greenlight-tests"
	T=$(mktemp -d "${TMPDIR:-/tmp}/greenlight-tests/$name.XXXXXX")
	mkdir -p "$T/.lab"
	_LAB_INIT_PID=$$
	GREENLIGHT=${GREENLIGHT:-$GL_BUILD_DIR/greenlight}
	export T GREENLIGHT
	unset AZURITE_PORT AZURITE_PID AZURITE_URL IMDS_PORT IMDS_PID IMDS_URL \
		PROXY_PORT PROXY_PID PROXY_URL PROXY_CTL_URL HAPROXY_PID
	trap _lab_exit EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
}

# lab_free_port: a free TCP port on 127.0.0.1, never the same twice per test.
lab_free_port() {
	python3 - "$T/.lab/ports" <<-'EOF'
		import os, socket, sys
		path = sys.argv[1]
		used = set(open(path).read().split()) if os.path.exists(path) else set()
		for _ in range(100):
		    s = socket.socket()
		    s.bind(("127.0.0.1", 0))
		    port = s.getsockname()[1]
		    s.close()
		    if str(port) not in used:
		        break
		with open(path, "a") as f:
		    f.write(f"{port}\n")
		print(port)
	EOF
}

# _lab_wait_file FILE PID SECONDS WHAT: wait for FILE while PID lives.
_lab_wait_file() {
	local file=$1 pid=$2 secs=$3 what=$4 i
	for ((i = 0; i < secs * 20; i++)); do
		[ -s "$file" ] && return 0
		_lab_alive "$pid" || fail "$what exited at start; see $T/$what.log"
		sleep 0.05
	done
	fail "$what did not start within ${secs}s; see $T/$what.log"
}

# --- Azurite --------------------------------------------------------------------

lab_azurite_start() {
	local inmem=0 a try port pid i args
	for a; do
		case $a in
		--inmem) inmem=1 ;;
		*) fail "lab_azurite_start: unknown option $a" ;;
		esac
	done
	for try in 1 2 3; do
		port=$(lab_free_port)
		args=(--blobHost 127.0.0.1 --blobPort "$port"
			--cert "$LAB_DIR/certs/server.pem"
			--key "$LAB_DIR/certs/server.key"
			--oauth basic --disableTelemetry --skipApiVersionCheck
			--silent)
		if [ "$inmem" = 1 ]; then
			args+=(--inMemoryPersistence)
		else
			mkdir -p "$T/azurite"
			args+=(--location "$T/azurite")
		fi
		"$GL_LAB/node_modules/.bin/azurite-blob" "${args[@]}" \
			>>"$T/azurite.log" 2>&1 &
		pid=$!
		lab_track "$pid"
		for ((i = 0; i < 300; i++)); do
			if curl -s -o /dev/null --max-time 2 --cacert "$LAB_CA" \
				"https://127.0.0.1:$port/devstoreaccount1?comp=list"; then
				export AZURITE_PORT=$port AZURITE_PID=$pid
				export AZURITE_URL=https://127.0.0.1:$port/devstoreaccount1
				return 0
			fi
			_lab_alive "$pid" || break
			sleep 0.1
		done
		_lab_alive "$pid" &&
			fail "azurite did not answer within 30 s; see $T/azurite.log"
		grep -q EADDRINUSE "$T/azurite.log" ||
			fail "azurite exited at start: $(tail -n 5 "$T/azurite.log")"
	done
	fail "azurite: no free port after 3 tries"
}

# --- IMDS emulator --------------------------------------------------------------

lab_imds_start() {
	local vm=vmss_0 extra=() pf pid
	while [ $# -gt 0 ]; do
		case $1 in
		--vm-name) vm=$2; shift 2 ;;
		*) extra+=("$1"); shift ;;
		esac
	done
	pf=$(mktemp -u "$T/.lab/imds-port.XXXXXX")
	python3 "$GL_LAB/imds-emulator.py" --port-file "$pf" --vm-name "$vm" \
		"${extra[@]}" >>"$T/imds.log" 2>&1 &
	pid=$!
	lab_track "$pid"
	_lab_wait_file "$pf" "$pid" 10 imds
	IMDS_PORT=$(<"$pf")
	export IMDS_PORT IMDS_PID=$pid IMDS_URL=http://127.0.0.1:$IMDS_PORT
}

# _lab_ctl BASE METHOD PATH [JSON]: body on stdout; fails on non-2xx.
_lab_ctl() {
	local base=$1 method=$2 path=$3 out code args
	args=(-sS -X "$method" --max-time 60 -w '\n%{http_code}')
	[ $# -ge 4 ] && args+=(-H 'Content-Type: application/json'
		--data-binary "$4")
	out=$(curl "${args[@]}" "$base$path") ||
		fail "$method $base$path: curl failed"
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	printf '%s\n' "$out"
	[[ $code == 2?? ]] || fail "$method $base$path -> $code: $out"
}

lab_imds_ctl() {
	[ -n "${IMDS_URL:-}" ] || fail "lab_imds_ctl: no emulator (lab_imds_start)"
	_lab_ctl "$IMDS_URL" "$@"
}

# --- storage --------------------------------------------------------------------

_lab_storage() {
	[ -n "${AZURITE_URL:-}" ] || fail "no Azurite (lab_azurite_start)"
	python3 "$GL_LAB/labctl.py" "$@" ||
		fail "labctl.py $1 failed (args: ${*:2})"
}

lab_container_create() {
	_lab_storage container-create "$AZURITE_URL" "$1"
}

lab_upload() {
	_lab_storage upload "$AZURITE_URL" "$@" 2>>"$T/upload.log"
}

lab_blob_put() {
	_lab_storage put "$AZURITE_URL" "$@"
}

lab_blob_delete() {
	_lab_storage delete "$AZURITE_URL" "$@"
}

lab_sas_url() {
	_lab_storage sas "$AZURITE_URL" "$1" "${2:-rl}"
}

lab_sas_token() {
	_lab_storage sas "$AZURITE_URL" "$1" "${2:-rl}" --token-only
}

lab_token() {
	python3 "$GL_LAB/labctl.py" token "$@" || fail "lab_token $* failed"
}

# --- fault proxy ----------------------------------------------------------------

lab_proxy_start() {
	local target=${1:-127.0.0.1:${AZURITE_PORT:-}} pf pid ctl
	[[ $target == *:?* ]] || fail "lab_proxy_start HOST:PORT (no Azurite?)"
	pf=$(mktemp -u "$T/.lab/proxy-port.XXXXXX")
	python3 "$GL_LAB/fault-proxy.py" --upstream "$target" \
		--cert "$LAB_DIR/certs/server.pem" --key "$LAB_DIR/certs/server.key" \
		--ca "$LAB_CA" --port-file "$pf" >>"$T/proxy.log" 2>&1 &
	pid=$!
	lab_track "$pid"
	_lab_wait_file "$pf" "$pid" 10 proxy
	read -r PROXY_PORT ctl <"$pf"
	export PROXY_PORT PROXY_PID=$pid
	export PROXY_URL=https://127.0.0.1:$PROXY_PORT/devstoreaccount1
	export PROXY_CTL_URL=http://127.0.0.1:$ctl
}

lab_proxy_ctl() {
	[ -n "${PROXY_CTL_URL:-}" ] || fail "lab_proxy_ctl: no proxy"
	_lab_ctl "$PROXY_CTL_URL" "$@"
}

# --- greenlight.ini -------------------------------------------------------------

# lab_config FILE [SECTION.KEY=VALUE ...]: a greenlight.ini for the lab;
# SECTION.KEY=VALUE adds or replaces a key, -SECTION.KEY removes one.
lab_config() {
	local file=$1
	shift
	python3 - "$file" "$@" <<-'EOF' || fail "lab_config: bad arguments: $*"
		import os, sys
		E = lambda k: os.environ.get(k, "")
		t = E("T")
		conf = {"storage": {"account": "devstoreaccount1"}}
		endpoint = E("PROXY_URL") or E("AZURITE_URL")
		if endpoint:
		    conf["storage"]["endpoint"] = endpoint
		conf["storage"]["container"] = "releases"
		conf["storage"]["ca_file"] = E("LAB_CA")
		if E("IMDS_URL"):
		    conf["imds"] = {"endpoint": E("IMDS_URL")}
		units = f"{t}/units"
		if E("GL_LAB_SYSTEMD") == "1" and E("XDG_RUNTIME_DIR"):
		    units = E("XDG_RUNTIME_DIR") + "/systemd/user"
		conf["install"] = {"root": f"{t}/root", "scope": "user",
		                   "state_file": f"{t}/state/state.json",
		                   "lock_file": f"{t}/run/lock", "unit_dir": units}
		for arg in sys.argv[2:]:
		    drop = arg.startswith("-")
		    name, eq, value = arg.lstrip("-").partition("=")
		    section, dot, key = name.partition(".")
		    if not dot or not section or not key or (not drop and not eq):
		        sys.exit(f"lab_config: want SECTION.KEY=VALUE or -SECTION.KEY: {arg}")
		    if drop:
		        conf.get(section, {}).pop(key, None)
		    else:
		        conf.setdefault(section, {})[key] = value
		with open(sys.argv[1], "w") as f:
		    f.write("# greenlight.ini written by tests/lab/lib.sh lab_config\n")
		    for section, keys in conf.items():
		        if keys:
		            f.write(f"\n[{section}]\n")
		            f.writelines(f"{k} = {v}\n" for k, v in keys.items())
	EOF
}

# --- systemd --------------------------------------------------------------------

# lab_systemd_reexec "$@": first thing in a test that needs systemd (before
# lab_init): re-runs the script next to a private systemd user manager.
lab_systemd_reexec() {
	[ "${GL_LAB_SYSTEMD:-}" = 1 ] && return 0
	[ "${_LAB_INIT_PID:-}" != "$$" ] ||
		fail "lab_systemd_reexec: call it before lab_init"
	exec "$GL_LAB/systemd-user-ns.sh" bash "$0" "$@"
}

# --- HAProxy --------------------------------------------------------------------

# lab_haproxy_start CFG: haproxy -db in the foreground (tracked), log in
# $T/haproxy.log; returns once every "bind 127.0.0.1:PORT" in CFG listens.
lab_haproxy_start() {
	local cfg=$1 pid ports p i
	haproxy -c -q -f "$cfg" >"$T/haproxy-check.log" 2>&1 ||
		{ _lab_show "$T/haproxy-check.log"; fail "haproxy rejects $cfg"; }
	haproxy -f "$cfg" -db >>"$T/haproxy.log" 2>&1 &
	pid=$!
	lab_track "$pid"
	export HAPROXY_PID=$pid
	ports=$(sed -n 's/.*bind[[:space:]]\+127\.0\.0\.1:\([0-9]\+\).*/\1/p' "$cfg")
	for p in $ports; do
		for ((i = 0; ; i++)); do
			(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
			_lab_alive "$pid" ||
				fail "haproxy exited: $(tail -n 5 "$T/haproxy.log")"
			[ "$i" -lt 100 ] || fail "haproxy: port $p not listening after 10 s"
			sleep 0.1
		done
	done
}

# lab_haproxy_stat BACKEND SERVER FIELD: one field (status, stot, scur, ...)
# of the stats CSV at $HAPROXY_STATS_URL, default
# http://127.0.0.1:$STATS_PORT/stats (the test's "listen stats" section).
lab_haproxy_stat() {
	local url=${HAPROXY_STATS_URL:-http://127.0.0.1:${STATS_PORT:?}/stats} csv
	csv=$(curl -sf --max-time 5 "$url;csv") ||
		fail "lab_haproxy_stat: cannot read $url;csv"
	awk -F, -v b="$1" -v s="$2" -v f="$3" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == b && $2 == s && (f in col) { print $(col[f]); found = 1; exit }
		END { exit !found }' <<<"$csv" ||
		fail "lab_haproxy_stat: no field '$3' for $1/$2"
}
