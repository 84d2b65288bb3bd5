#!/usr/bin/env bash
# demo.sh — greenlight end to end on this machine, in about a minute:
# installs what is missing, builds, starts a local lab (Azurite for Blob
# Storage, an IMDS emulator for the managed identity, a real systemd user
# manager), publishes two releases of a small web app, deploys v1 then v2,
# shows `greenlight status`, asks the app which release it serves, and tears
# everything down.
#
#   bash tests/lab/demo.sh          the demo
#   bash tests/lab/demo.sh --keep   leave it running; prints how to stop it
#   bash tests/lab/demo.sh --stop   stop what --keep left running
#
# Needs root (apt-get, and a private mount namespace for systemd). Env:
# GL_DEMO_BUILD_DIR (default build/), LAB_DIR (default /tmp/greenlight-lab).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_DIR=${LAB_DIR:-${TMPDIR:-/tmp}/greenlight-lab}
keepfile=$LAB_DIR/demo.keep

if [ -t 1 ]; then
	step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
	step() { printf '\n==> %s\n' "$*"; }
fi
say() { printf '    %s\n' "$*"; }
# show and run a greenlight command (next to the systemd user manager); its
# log goes to the screen without the journald priority prefixes
gl() {
	printf '    $ greenlight %s\n' "$*"
	local rc=0
	demo_ns "$GL" "$@" --config "$T/greenlight.ini" 2> >(sed -u -E \
		-e 's/^<[0-9]>greenlight: /      /' >&2) | sed -u 's/^/      /' ||
		rc=$?
	sleep 0.1 # let the log pipe drain before the next line
	return "$rc"
}
ask() {
	printf '    $ curl http://127.0.0.1:%s%s\n' "$port" "$1"
	curl -sS --max-time 5 "http://127.0.0.1:$port$1" | sed 's/^/      /'
}

case ${1:-} in
--stop)
	[ -f "$keepfile" ] || { echo "demo.sh: nothing kept running" >&2; exit 0; }
	# shellcheck disable=SC1090
	. "$keepfile"
	echo "stopping the demo: PIDs $DEMO_PIDS"
	kill -TERM $DEMO_PIDS 2>/dev/null || true
	for _ in $(seq 150); do
		alive=0
		for p in $DEMO_PIDS $DEMO_WAIT; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	rm -rf "$DEMO_T" "$keepfile"
	echo "stopped; removed $DEMO_T"
	exit 0
	;;
--keep) keep=1 ;;
"") keep=0 ;;
*) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run it as root (sudo)" >&2; exit 2; }
[ ! -f "$keepfile" ] ||
	{ echo "demo.sh: a kept demo is running; stop it first: bash $0 --stop" >&2; exit 2; }

step "1/7 Installing what is missing (tests/lab/setup.sh)"
bash "$top/tests/lab/setup.sh"
say "Debian packages, Azurite (pinned by tests/lab/package-lock.json), a throw-away CA: ready"

step "2/7 Building greenlight (Release) into ${GL_DEMO_BUILD_DIR:-build/}"
build=${GL_DEMO_BUILD_DIR:-$top/build}
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target greenlight >/dev/null
GL=$build/greenlight
say "$GL ($("$GL" --version))"

step "3/7 Starting the lab: Azurite, the IMDS emulator, a systemd user manager"
export GL_SOURCE_DIR=$top GL_BUILD_DIR=$build GREENLIGHT=$GL
. "$top/tests/lab/lib.sh"
. "$top/tests/lab/demo-lib.sh"
lab_init demo
lab_azurite_start
say "Azurite (Blob Storage, HTTPS, OAuth)  $AZURITE_URL  (PID $AZURITE_PID)"
lab_imds_start --vm-name demo_vm_0
say "IMDS emulator (managed identity)     $IMDS_URL  (PID $IMDS_PID)"
demo_systemd_start
say "systemd user manager in a private mount namespace (held by PID $DEMO_NS_PID)"
port=$(lab_free_port)
lab_config "$T/greenlight.ini"
say "configuration: $T/greenlight.ini"
sed -e '/^#/d' -e '/^$/d' -e 's/^/      /' "$T/greenlight.ini"

step "4/7 Publishing releases v1 and v2 of the demo app (tests/lab/demo-app)"
# 8 MiB of padding in the archive: big enough to be unpacked while it
# downloads, as a real release's would be
demo_publish v1 --port "$port" --pad 8M
demo_publish v2 --port "$port" --pad 8M
say "container \"releases\" now holds, for each release:"
say "  release.ini   the service, what to unpack, the health check"
say "  app.tar.zst   bin/server.py and lib/, unpacked while it downloads"
say "  VERSION       a loose file"
say "  MANIFEST      sha256 and size of every file"
say "v2/release.ini:"
grep -v -e '^;' -e '^$' "$T/src/v2/release.ini" | sed 's/^/      /'

step "5/7 Deploying v1"
gl deploy --release v1
ask /
ask /version

step "6/7 Deploying v2: installed beside v1, switched, restarted, validated"
gl deploy --release v2
ask /
ask /version
say "and once more: v2 is current, so nothing is downloaded or restarted:"
gl deploy --release v2

step "7/7 greenlight status"
gl status
say "on disk:"
(cd "$T/root" && ls -l current previous | awk '{print "      " $9, $10, $11}')

if [ "$keep" = 1 ]; then
	pids="$DEMO_NS_PID $IMDS_PID $AZURITE_PID"
	cat >"$keepfile" <<-KEEP
		DEMO_PIDS="$pids"
		DEMO_WAIT="$DEMO_NS_JOB"
		DEMO_T="$T"
	KEEP
	# hand everything over: nothing is stopped when this script exits
	: >"$T/.lab/pids"
	: >"$T/.lab/on_exit"
	trap - EXIT
	step "Kept running (--keep)"
	say "the app:        http://127.0.0.1:$port/  (greenlight-demo.service)"
	say "files:          $T (root/, state/, greenlight.ini)"
	say "status:         $GL status --config $T/greenlight.ini"
	say "the unit:       nsenter --mount=/proc/$DEMO_NS_PID/ns/mnt env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR \\"
	say "                  systemctl --user status greenlight-demo"
	say "stop it:        bash $0 --stop   (kills PIDs $pids)"
	exit 0
fi
step "Done: tearing the lab down"
