# demo-lib.sh — helpers shared by the demo (tests/lab/demo.sh) and the
# deploy, rollback and status integration tests; source after lib.sh.
#
#   demo_publish VERSION [make-release.sh options]   build the demo app's
#       release VERSION in $T/src/VERSION and upload it to container
#       "releases" (created on first use)
#   demo_version PORT       what the app on PORT serves at /version
#                           ("code=v2 data=v2"), or "down"
#   demo_state KEY          one field of the state file (jq path, e.g.
#                           .current or .last.result)

DEMO_APP=${DEMO_APP:-$GL_LAB/demo-app}

demo_publish() {
	local version=$1
	shift
	bash "$DEMO_APP/make-release.sh" "$T/src/$version" "$version" "$@" ||
		fail "make-release.sh $version failed"
	if [ ! -e "$T/.lab/demo-container" ]; then
		lab_container_create releases >/dev/null
		: >"$T/.lab/demo-container"
	fi
	lab_upload "$T/src/$version" releases "$version" >/dev/null
}

demo_version() {
	curl -sf --max-time 2 "http://127.0.0.1:$1/version" 2>/dev/null ||
		echo down
}

demo_state() {
	jq -r "$1" "$T/state/state.json"
}

# demo_observe_start PORT: poll /version every 50 ms in the background (at
# most 10 minutes) into $T/observed, one answer per line.
demo_observe_start() {
	local port=$1
	(
		for ((i = 0; i < 12000; i++)); do
			demo_version "$port" >>"$T/observed"
			sleep 0.05
		done
	) &
	lab_track $!
	DEMO_OBSERVER=$!
}

# demo_observe_check OLD NEW: every answer seen was release OLD or NEW
# whole (or nothing answering during a restart); never a mix.
demo_observe_check() {
	local bad
	bad=$(grep -v -x -e "code=$1 data=$1" -e "code=$2 data=$2" -e down \
		"$T/observed" | sort | uniq -c) || true
	[ -z "$bad" ] || fail "the workload answered with a mix: $bad"
	grep -q -x -e "code=$1 data=$1" -e "code=$2 data=$2" "$T/observed" ||
		fail "the workload never answered"
}

# demo_answers PORT OLD NEW: within 10 s the workload answers, with release
# OLD or NEW whole; prints which.
demo_answers() {
	local v i
	for ((i = 0; i < 100; i++)); do
		v=$(demo_version "$1")
		case $v in
		"code=$2 data=$2") echo "$2"; return 0 ;;
		"code=$3 data=$3") echo "$3"; return 0 ;;
		down) sleep 0.1 ;;
		*) fail "the workload answered with a mix: $v" ;;
		esac
	done
	fail "the workload does not answer"
}

# demo_kill9 PID: SIGKILL a deploy we started, and reap it.
demo_kill9() {
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# demo_systemd_start: a systemd user manager in a private mount namespace
# (tests/lab/systemd-user-ns.sh) that outlives this script when asked: it
# runs until the holder process $DEMO_NS_PID is killed, then stops its units
# and exits. demo_ns CMD... runs CMD inside, next to the manager.
demo_systemd_start() {
	"$GL_LAB/systemd-user-ns.sh" bash -c \
		'echo "$XDG_RUNTIME_DIR" >"$2"; echo $$ >"$1.tmp"; mv "$1.tmp" "$1"; exec sleep infinity' \
		_ "$T/.lab/ns.pid" "$T/.lab/ns.xdg" >>"$T/systemd.log" 2>&1 &
	DEMO_NS_JOB=$!
	_lab_wait_file "$T/.lab/ns.pid" "$DEMO_NS_JOB" 20 systemd
	DEMO_NS_PID=$(<"$T/.lab/ns.pid")
	export XDG_RUNTIME_DIR=$(<"$T/.lab/ns.xdg")
	export XDG_CONFIG_HOME=$XDG_RUNTIME_DIR/config GL_LAB_SYSTEMD=1
	lab_on_exit demo_systemd_stop "$DEMO_NS_PID" "$DEMO_NS_JOB"
}

# demo_systemd_stop HOLDER JOB: end the namespace (its manager stops every
# unit first), wait for it (at most 15 s).
demo_systemd_stop() {
	local i
	kill -TERM "$1" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	wait "$2" 2>/dev/null || true
}

demo_ns() {
	nsenter --mount="/proc/$DEMO_NS_PID/ns/mnt" -- env \
		XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" \
		"$@"
}
