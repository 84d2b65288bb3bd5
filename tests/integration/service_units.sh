#!/usr/bin/env bash
# service_units: units rendered by service.c run under a real systemd user
# manager. A workload unit (a small HTTP server in a release, reached through
# `current`) and a health unit (`greenlight health` checking the workload)
# pass `systemd-analyze verify` with nothing on stderr, are installed,
# daemon-reloaded, enabled and started, answer, restart with a new PID and
# stop. The workload's argv and environment arrive byte for byte despite %,
# $, quotes, backslashes and a lone ";". Failures read as a user sees them.
# timeout: 120
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_systemd_reexec "$@"
lab_init service_units

SVC=$GL_BUILD_DIR/tests/svc_tool
[ -x "$SVC" ] || fail "no $SVC: build the tests/tools targets"
units=$XDG_RUNTIME_DIR/systemd/user
root=$T/root
rel=$root/releases/v1
mkdir -p "$rel/bin" "$T/data"
ln -s releases/v1 "$root/current"
port=$(lab_free_port)
hport=$(lab_free_port)

cat >"$rel/bin/server" <<'EOF'
#!/usr/bin/python3
# The workload: records how it was started, then answers HTTP.
import http.server, json, os, sys
out = os.environ["OUT"]
with open(out + ".tmp", "w") as f:
    json.dump({"argv": sys.argv[1:], "pid": os.getpid(), "cwd": os.getcwd(),
               "env": {k: os.environ.get(k) for k in "ABCD"}}, f)
os.rename(out + ".tmp", out)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"v1 ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
EOF
chmod 755 "$rel/bin/server"
printf '#!/bin/sh\n' >"$rel/bin/broken" # not executable

# Arguments that each need a different escape in ExecStart=.
args=("a b" "100%" '$HOME' ";" 'q"uote' 'back\slash' "" "it's" '%n')
web=(--scope user --name gl-web --description "greenlight test 100% web"
	--release-dir "$rel" --current-dir "$root/current"
	--env "PORT=$port" --env "OUT=$T/data/args.json" --env "A=x y"
	--env 'B=$HOME' --env "C=100%" --env 'D=q"uote\'
	--unit-dir "$units" -- bin/server "${args[@]}")

# --- verify: status 0 and nothing printed ---------------------------------------
expect_exit 0 "$SVC" verify "${web[@]}"
assert_eq "" "$(cat "$T/out" "$T/err")" "verify printed something"

expect_exit 0 "$SVC" install "${web[@]}"
assert_eq "written $units/gl-web.service" "$(<"$T/out")"
assert_contains "$units/gl-web.service" "ExecStart=$root/current/bin/server"
assert_contains "$units/gl-web.service" "WorkingDirectory=$root/current"
assert_contains "$units/gl-web.service" "NoNewPrivileges=yes"
assert_not_contains "$units/gl-web.service" "User="
assert_not_contains "$units/gl-web.service" "ProtectSystem="
# The file written is the one verified: check it in place, too.
systemd-analyze verify --man=no --user "$units/gl-web.service" \
	>"$T/verify.out" 2>&1 || { _lab_show "$T/verify.out"; fail "verify in place"; }
assert_eq "" "$(<"$T/verify.out")" "verify in place printed something"

expect_exit 0 "$SVC" install "${web[@]}"
assert_eq "unchanged $units/gl-web.service" "$(<"$T/out")"

# --- start, answer, exact argv and environment ----------------------------------
expect_exit 0 "$SVC" ctl daemon-reload
expect_exit 0 "$SVC" ctl enable gl-web
[ -L "$XDG_CONFIG_HOME/systemd/user/default.target.wants/gl-web.service" ] ||
	[ -L "$units/default.target.wants/gl-web.service" ] ||
	fail "enable made no default.target.wants link"
expect_exit 0 "$SVC" ctl start gl-web
expect_exit 0 "$SVC" ctl is-active gl-web
wait_until 20 curl -sf "http://127.0.0.1:$port/"
assert_eq "v1 ok" "$(curl -sf "http://127.0.0.1:$port/")"
wait_until 10 test -s "$T/data/args.json"
python3 - "$T/data/args.json" "$root/current" "${args[@]}" <<'EOF' ||
import json, sys
got = json.load(open(sys.argv[1]))
want_argv = sys.argv[3:]
want_env = {"A": "x y", "B": "$HOME", "C": "100%", "D": 'q"uote\\'}
errors = []
if got["argv"] != want_argv:
    errors.append(f"argv {got['argv']!r} != {want_argv!r}")
if got["env"] != want_env:
    errors.append(f"env {got['env']!r} != {want_env!r}")
if got["cwd"] != sys.argv[2]:
    import os
    if os.path.realpath(got["cwd"]) != os.path.realpath(sys.argv[2]):
        errors.append(f"cwd {got['cwd']!r}")
if errors:
    sys.exit("\n".join(errors))
EOF
	fail "the workload did not get its argv/environment byte for byte"
pid1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
	"$T/data/args.json")
assert_eq "$pid1" "$(systemctl --user show -P MainPID gl-web.service)"

# --- health unit: greenlight health watching the workload -----------------------
lab_imds_start
lab_config "$T/greenlight.ini" "health.check_url=http://127.0.0.1:$port/" \
	health.check_interval=200ms health.check_threshold=1 \
	health.probe_interval=1s health.probe_threshold=1 health.drain_max=1s
health=(--scope user --name gl-health --description "greenlight health"
	--restart always --unit-dir "$units"
	-- "$GREENLIGHT" health --config "$T/greenlight.ini"
	--listen "127.0.0.1:$hport")
expect_exit 0 "$SVC" verify "${health[@]}"
assert_eq "" "$(cat "$T/out" "$T/err")" "verify of the health unit printed something"
expect_exit 0 "$SVC" install "${health[@]}"
expect_exit 0 "$SVC" ctl daemon-reload
expect_exit 0 "$SVC" ctl start gl-health
wait_until 20 curl -sf "http://127.0.0.1:$hport/live"
wait_until 20 curl -sf "http://127.0.0.1:$hport/health"

# --- restart: a new process, still answering ------------------------------------
rm -f "$T/data/args.json"
expect_exit 0 "$SVC" ctl restart gl-web
wait_until 20 test -s "$T/data/args.json"
pid2=$(systemctl --user show -P MainPID gl-web.service)
[ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] || fail "restart kept PID $pid1"
wait_until 20 curl -sf "http://127.0.0.1:$port/"

# --- stop: gone, port closed, the health unit notices ---------------------------
expect_exit 0 "$SVC" ctl stop gl-web
expect_exit 3 "$SVC" ctl is-active gl-web
assert_eq "" "$(cat "$T/err")" "is-active of a stopped unit must not log an error"
! curl -s --max-time 2 "http://127.0.0.1:$port/" >/dev/null ||
	fail "the workload still answers after stop"
[ ! -e "/proc/$pid2" ] || ! grep -q server "/proc/$pid2/cmdline" 2>/dev/null ||
	fail "workload process $pid2 survived stop"
wait_until 20 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' \
	http://127.0.0.1:$hport/health)\" = 503 ]"
expect_exit 0 "$SVC" ctl stop gl-health

# --- what a user reads when things go wrong -------------------------------------
broken=(--scope user --name gl-broken --release-dir "$rel"
	--current-dir "$root/current" --unit-dir "$units" -- bin/broken)
expect_exit 1 "$SVC" verify "${broken[@]}"
assert_contains "$T/err" "service gl-broken: the generated unit fails \`systemd-analyze verify\` (exited with status 1):"
assert_contains "$T/err" "bin/broken"
expect_exit 0 "$SVC" install "${broken[@]}"
expect_exit 0 "$SVC" ctl daemon-reload
expect_exit 1 "$SVC" ctl start gl-broken
assert_contains "$T/err" "systemctl --user start gl-broken.service: failed (status 1):"
assert_contains "$T/err" "Job for gl-broken.service failed"
assert_contains "$T/err" "see: systemctl --user status gl-broken.service; journalctl --user -u gl-broken.service"

# A warning alone (status 0) fails verify too: User=nobody, system scope.
expect_exit 1 "$SVC" verify --scope system --name gl-nobody --user nobody \
	--release-dir "$rel" --current-dir "$root/current" -- bin/server
assert_contains "$T/err" "(exited with status 0, with warnings):"
assert_contains "$T/err" "Special user nobody configured, this is not safe!"

# systemctl says "inactive" (3) for a unit it has never heard of
expect_exit 3 "$SVC" ctl --timeout 20000 is-active gl-no-such-unit
echo "service_units: ok"
