# health_lib.bash — helpers for the greenlight health scenarios; source it
# after tests/lab/lib.sh and lab_init. Named .bash so that the *.sh glob of
# tests/CMakeLists.txt does not register it as a scenario.
#
#   hl_workload_start NAME          workload NAME (blue, green) on loopback
#   hl_imds_start NAME VM           an IMDS emulator for NAME's VM
#   hl_daemon_start NAME [K=V...]   greenlight health for NAME
#   hl_haproxy_start NAME...        HAProxy in front of the workloads
#   hl_srv_status NAME              HAProxy's status of server NAME
#   hl_load_start SECONDS / hl_load_wait   wrk + a slow-request loop
#   hl_imds NAME METHOD PATH [JSON] lab_imds_ctl on NAME's emulator
#   hl_json EXPR                    evaluate EXPR on JSON from stdin (j)

[ -n "${T:-}" ] || { echo "health_lib.bash: source after lab_init" >&2; exit 1; }

HL_PY=${HL_PY:-/usr/bin/python3}
HL_DIR=$GL_SOURCE_DIR/tests/integration
declare -gA WPORT WPID DPORT DPID IMDS_OF

# hl_json EXPR: print the Python expression EXPR over the JSON on stdin
# (bound to j); True/False print as 1/0.
hl_json() {
	"$HL_PY" -c '
import json, sys
j = json.load(sys.stdin)
v = eval(sys.argv[1])
print(int(v) if isinstance(v, bool) else v)' "$1"
}

hl_now() {
	date +%s.%N
}

# hl_ge A B: exit 0 when number A >= number B.
hl_ge() {
	"$HL_PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2"
}

# hl_workload_start NAME [PORT]: PORT to come back where it was.
hl_workload_start() {
	local name=$1 pf="$T/.lab/workload-$1.port" pid
	rm -f "$pf"
	"$HL_PY" "$HL_DIR/health_workload.py" --name "$name" --port-file "$pf" \
		--port "${2:-0}" --log "$T/workload-$name.jsonl" \
		>>"$T/workload-$name.log" 2>&1 &
	pid=$!
	lab_track "$pid"
	_lab_wait_file "$pf" "$pid" 10 "workload-$name"
	WPORT[$name]=$(<"$pf")
	WPID[$name]=$pid
	wait_until 10 curl -sf "http://127.0.0.1:${WPORT[$name]}/healthz"
}

hl_imds_start() {
	lab_imds_start --vm-name "$2"
	IMDS_OF[$1]=$IMDS_URL
}

hl_imds() {
	local name=$1
	shift
	IMDS_URL=${IMDS_OF[$name]} lab_imds_ctl "$@"
}

# hl_daemon_start NAME [SECTION.KEY=VALUE...]: probe interval 1s and
# threshold 2 like the HAProxy below, so drain_min is 1s x 2 + 5s = 7s.
hl_daemon_start() {
	local name=$1 port pid
	shift
	port=${DPORT[$name]:-$(lab_free_port)}
	IMDS_URL=${IMDS_OF[$name]} lab_config "$T/$name.ini" \
		health.listen="127.0.0.1:$port" \
		health.probe_interval=1s health.probe_threshold=2 \
		health.drain_max=60s \
		health.check_url="http://127.0.0.1:${WPORT[$name]}/healthz" \
		health.check_interval=1s health.check_threshold=2 \
		health.workload_ports="${WPORT[$name]}" "$@"
	"$GREENLIGHT" health --config "$T/$name.ini" \
		>>"$T/health-$name.log" 2>&1 &
	pid=$!
	lab_track "$pid"
	lab_on_exit "hl_daemon_kill $pid"
	DPORT[$name]=$port
	DPID[$name]=$pid
	wait_until 10 curl -sf "http://127.0.0.1:$port/health"
}

# hl_daemon_kill PID: stop a daemon at once (the second SIGTERM skips the
# drain the first one starts).
hl_daemon_kill() {
	_lab_alive "$1" || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	sleep 0.4
	kill -TERM "$1" 2>/dev/null || true
}

# hl_haproxy_start NAME...: frontend $FE_PORT, stats $STATS_PORT; health
# checks go to each workload's daemon (check port), like an Azure LB probe.
hl_haproxy_start() {
	local n
	FE_PORT=$(lab_free_port)
	STATS_PORT=$(lab_free_port)
	export FE_PORT STATS_PORT
	{
		cat <<-EOF
			global
			    maxconn 4000
			defaults
			    mode http
			    timeout connect 2s
			    timeout client 30s
			    timeout server 30s
			    option redispatch
			    retries 2
			frontend fe
			    bind 127.0.0.1:$FE_PORT
			    default_backend be
			backend be
			    balance roundrobin
			    option httpchk GET /health
			    http-check expect status 200
			    default-server inter 1s fall 2 rise 2
		EOF
		for n; do
			echo "    server $n 127.0.0.1:${WPORT[$n]} check port ${DPORT[$n]}"
		done
		cat <<-EOF
			listen stats
			    bind 127.0.0.1:$STATS_PORT
			    stats enable
			    stats uri /stats
		EOF
	} >"$T/haproxy.cfg"
	lab_haproxy_start "$T/haproxy.cfg"
	for n; do
		wait_until 10 hl_srv_is "$n" UP
	done
}

# hl_srv_status NAME: "UP", "DOWN", "UP 1/2", ... ("" when unknown).
hl_srv_status() {
	curl -s --max-time 5 "http://127.0.0.1:$STATS_PORT/stats;csv" |
		awk -F, -v s="$1" '
			NR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") c = i; next }
			$1 == "be" && $2 == s { print $c }'
}

hl_srv_is() {
	[ "$(hl_srv_status "$1")" = "$2" ]
}

# hl_load_start SECONDS: wrk on / (8 connections) and 4 threads of /slow.
hl_load_start() {
	local s=$1
	wrk -t 2 -c 8 -d "${s}s" --timeout 10s "http://127.0.0.1:$FE_PORT/" \
		>"$T/wrk.txt" 2>&1 &
	HL_WRK=$!
	lab_track "$HL_WRK"
	"$HL_PY" "$HL_DIR/health_client.py" "http://127.0.0.1:$FE_PORT/slow" \
		4 "$s" 400 >"$T/slow.json" 2>"$T/slow.err" &
	HL_SLOW=$!
	lab_track "$HL_SLOW"
}

# hl_load_wait: wait for the load; sets WRK_REQS, WRK_FAILED (non-2xx +
# socket errors), SLOW_OK, SLOW_FAILED.
hl_load_wait() {
	wait "$HL_WRK" || fail "wrk failed: $(cat "$T/wrk.txt")"
	wait "$HL_SLOW" || fail "slow client failed: $(cat "$T/slow.err")"
	WRK_REQS=$(sed -n 's/^ *\([0-9]\+\) requests in.*/\1/p' "$T/wrk.txt")
	WRK_FAILED=$("$HL_PY" - "$T/wrk.txt" <<-'EOF'
		import re, sys
		t = open(sys.argv[1]).read()
		n = 0
		m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
		n += int(m.group(1)) if m else 0
		m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
		n += sum(int(x) for x in m.groups()) if m else 0
		print(n)
	EOF
	)
	SLOW_OK=$(hl_json 'j["ok"]' <"$T/slow.json")
	SLOW_FAILED=$(hl_json 'j["failed"]' <"$T/slow.json")
	[ -n "$WRK_REQS" ] || fail "no wrk result: $(cat "$T/wrk.txt")"
}

# hl_last_slow_end NAME: when the last /slow reply of NAME was written
# (workload's own log), 0 when none.
hl_last_slow_end() {
	"$HL_PY" - "$T/workload-$1.jsonl" <<-'EOF'
		import json, os, sys
		t = 0
		if os.path.exists(sys.argv[1]):
		    for line in open(sys.argv[1]):
		        r = json.loads(line)
		        if r["path"] == "/slow":
		            t = max(t, r["t1"])
		print(t)
	EOF
}

# hl_sample NAME SECONDS FILE [PATH]: GET NAME's daemon PATH (default
# /health) every 0.1 s for SECONDS; "code seconds" lines into FILE.
hl_sample() {
	local url="http://127.0.0.1:${DPORT[$1]}${4:-/health}" end
	end=$(( ${EPOCHREALTIME/./} + $2 * 1000000 ))
	: >"$3"
	while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
		curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
			--max-time 2 "$url" >>"$3" || echo "000 2" >>"$3"
		sleep 0.1
	done
}

# hl_sample_all FILE CODE: every sample in FILE answered CODE, each in
# under half a second; prints the count.
hl_sample_all() {
	local n bad slow
	n=$(wc -l <"$1")
	bad=$(awk -v c="$2" '$1 != c' "$1" | wc -l)
	slow=$(awk '$2 > 0.5' "$1" | wc -l)
	[ "$n" -gt 5 ] || fail "only $n samples in $1"
	[ "$bad" = 0 ] || { _lab_show "$1"; fail "$bad of $n probes in $1 did not answer $2"; }
	[ "$slow" = 0 ] || { _lab_show "$1"; fail "$slow of $n probes in $1 took over 0.5 s"; }
	echo "$n"
}

# hl_code NAME [PATH]: the HTTP status NAME's daemon answers on PATH.
hl_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		"http://127.0.0.1:${DPORT[$1]}${2:-/health}"
}

hl_code_is() {
	[ "$(hl_code "$1" "${3:-/health}")" = "$2" ]
}

# hl_get NAME PATH: the body NAME's daemon answers on PATH.
hl_get() {
	curl -s --max-time 5 "http://127.0.0.1:${DPORT[$1]}$2"
}
