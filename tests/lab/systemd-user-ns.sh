#!/usr/bin/env bash
# systemd-user-ns.sh — run COMMAND next to a real systemd user manager, on a
# machine whose PID 1 is not systemd (containers, CI), without touching the
# host: the manager lives in a private mount namespace with its own tmpfs on
# /run, and goes away with it.
#
#   usage: systemd-user-ns.sh COMMAND [ARG...]          (needs root: unshare)
#   e.g.   systemd-user-ns.sh bash -c 'systemctl --user start x.service'
#
# Inside, COMMAND sees XDG_RUNTIME_DIR=/run/user/<uid> (systemctl --user talks
# to the manager through it), XDG_CONFIG_HOME=$XDG_RUNTIME_DIR/config and
# GL_LAB_SYSTEMD=1. Units go in $XDG_RUNTIME_DIR/systemd/user/ or
# $XDG_CONFIG_HOME/systemd/user/ (then `systemctl --user daemon-reload`).
# The manager log is $SDNS_LOG (default /dev/null). When COMMAND returns, the
# manager is asked to stop every unit and exit (SIGKILL after 10 s); the exit
# status is COMMAND's.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

if [ "${_GL_SDNS_INNER:-}" != 1 ]; then
	[ "$(id -u)" -eq 0 ] ||
		{ echo "systemd-user-ns.sh: needs root (unshare --mount)" >&2; exit 2; }
	# Every manager started here would put its units in the same cgroup
	# (/app.slice/<unit>.service) and two tests using one unit name would
	# stop each other's processes. A private cgroup subtree per manager
	# (best effort: whichever hierarchies this machine has) keeps them apart.
	cg_id=gl-sdns-$$
	cg_dirs=()
	for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -w "$h/cgroup.procs" ] || continue
		grep -qs " $h cgroup" /proc/mounts || continue
		mkdir -p "$h/$cg_id" 2>/dev/null || continue
		if echo $$ >"$h/$cg_id/cgroup.procs" 2>/dev/null; then
			cg_dirs+=("$h")
		else
			rmdir "$h/$cg_id" 2>/dev/null || true
		fi
	done
	rc=0
	unshare --mount --propagation private \
		env _GL_SDNS_INNER=1 bash "$0" "$@" || rc=$?
	for h in "${cg_dirs[@]}"; do
		echo $$ >"$h/cgroup.procs" 2>/dev/null || true
		find "$h/$cg_id" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	exit "$rc"
fi
unset _GL_SDNS_INNER

uid=$(id -u)
mount -t tmpfs -o mode=755 tmpfs /run
# /run/systemd/system tells systemd (and sd_booted()) that it may run.
mkdir -p /run/systemd/system "/run/user/$uid"
# The nodes systemd mounts over paths it hides (ProtectHome=, InaccessiblePaths=)
mkdir -p /run/systemd/inaccessible/dir
touch /run/systemd/inaccessible/reg
mkfifo /run/systemd/inaccessible/fifo 2>/dev/null || true
mknod -m 0 /run/systemd/inaccessible/chr c 0 0 2>/dev/null || true
mknod -m 0 /run/systemd/inaccessible/blk b 0 0 2>/dev/null || true
chmod 0 /run/systemd/inaccessible/reg /run/systemd/inaccessible/dir
chmod 700 "/run/user/$uid"
export XDG_RUNTIME_DIR=/run/user/$uid
export XDG_CONFIG_HOME=$XDG_RUNTIME_DIR/config
export GL_LAB_SYSTEMD=1
unset DBUS_SESSION_BUS_ADDRESS
mkdir -p "$XDG_RUNTIME_DIR/systemd/user" "$XDG_CONFIG_HOME/systemd/user"

/lib/systemd/systemd --user >"${SDNS_LOG:-/dev/null}" 2>&1 &
manager=$!

alive() { kill -0 "$manager" 2>/dev/null; }
stop_manager() {
	alive || return 0
	systemctl --user exit >/dev/null 2>&1 || kill -TERM "$manager" 2>/dev/null || true
	for _ in $(seq 100); do
		alive || break
		sleep 0.1
	done
	alive && kill -KILL "$manager" 2>/dev/null
	wait "$manager" 2>/dev/null || true
}
trap stop_manager EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

state=
for _ in $(seq 200); do
	alive || { echo "systemd-user-ns.sh: the user manager died" \
		"(SDNS_LOG=FILE to see why)" >&2; exit 1; }
	state=$(systemctl --user is-system-running 2>/dev/null) || true
	case $state in running|degraded) break ;; esac
	sleep 0.05
done
case $state in
running|degraded) ;;
*) echo "systemd-user-ns.sh: user manager not ready after 10 s" \
	"(state '$state')" >&2; exit 1 ;;
esac

rc=0
"$@" || rc=$?
exit "$rc"
