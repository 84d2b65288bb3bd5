#!/usr/bin/env bash
# lab_systemd: lab_systemd_reexec runs a test next to a real systemd user
# manager in a private mount namespace: units start and stop with systemctl
# --user, lab_config points unit_dir at the manager's search path, and when
# the test ends the manager and its units are gone and the host's /run is
# untouched.
# timeout: 60
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"

if [ "${1:-}" = inside ]; then
	lab_systemd_reexec "$@"
	lab_init lab_systemd_inside
	assert_eq 1 "$GL_LAB_SYSTEMD"
	state=$(systemctl --user is-system-running || true)
	[[ $state == running || $state == degraded ]] ||
		fail "user manager state '$state'"
	lab_config "$T/greenlight.ini"
	units=$XDG_RUNTIME_DIR/systemd/user
	assert_contains "$T/greenlight.ini" "unit_dir = $units"
	# "$$$$" is "$$" once systemd has unescaped ExecStart.
	cat >"$units/lab-test.service" <<-EOF
		[Service]
		ExecStart=/bin/sh -c 'echo \$\$\$\$ >"$T/unit.pid"; exec sleep 300'
	EOF
	systemctl --user daemon-reload
	systemctl --user start lab-test.service
	wait_until 10 test -s "$T/unit.pid"
	assert_eq active "$(systemctl --user is-active lab-test.service)"
	pid=$(<"$T/unit.pid")
	assert_eq "$pid" "$(systemctl --user show -P MainPID lab-test.service)"
	systemctl --user stop lab-test.service
	[ ! -e "/proc/$pid" ] || fail "stopped unit's process $pid still runs"
	rm "$T/unit.pid"
	# Started again and left running: the manager's exit must stop it.
	systemctl --user start lab-test.service
	wait_until 10 test -s "$T/unit.pid"
	cp "$T/unit.pid" "$OUTER/unit.pid"
	echo "$XDG_RUNTIME_DIR" >"$OUTER/runtime_dir"
	exit 0
fi

lab_init lab_systemd
OUTER=$T bash "$0" inside || fail "the scenario inside the namespace failed"
pid=$(<"$T/unit.pid")
[ ! -e "/proc/$pid" ] || fail "unit process $pid outlived the user manager"
[ ! -e "$(<"$T/runtime_dir")/systemd/user/lab-test.service" ] ||
	fail "the unit file leaked into the host's /run"
echo "lab_systemd: ok"
