#!/usr/bin/env bash
# bench/health/run.sh — probe throughput of greenlight health against the
# sample's design (a handler that asks IMDS on every probe), same run, same
# machine, same IMDS emulator (tests/lab), same HTTP library and threads:
#   greenlight  `greenlight health` (Release build, no sanitizers): probes
#               read cached state; one poller asks IMDS about once a second
#   naive       bench/health/naive_probe.c: GET Scheduled Events per probe
#   nginx       (when installed) a static reply of the same size: not a
#               peer but the floor of this machine, to read p99 against
# Each round runs wrk against /health for DURATION seconds (--latency) and
# counts the Scheduled Events requests the emulator saw meanwhile: first as
# fast as it goes (saturated: wrk and the server share the 2 cores, so p99
# there is mostly CPU scheduling), then paced (--paced C: C connections,
# each waiting 1 ms between a reply and its next request, about 25 000
# probes/s with the default 48) to read p99 at the target rate. Prints every
# round, then medians of requests/s and p99 and the ratio greenlight /
# naive. Targets for greenlight on 2 cores: >= 20 000 probes/s, p99 < 5 ms
# at that rate, no IMDS request caused by a probe (only the ~1/s poll).
#
# Usage: bench/health/run.sh [--runs N] [--duration S] [--connections C]
#                            [--paced C]
#   GREENLIGHT=path   use this binary (default: Release build in
#                     build-health-rel)
# Not a test: it prints numbers.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
runs=3
duration=10
conns=16
paced=48
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	--paced) paced=$2; shift 2 ;;
	*) echo "usage: $0 [--runs N] [--duration S] [--connections C]" \
		"[--paced C]" >&2
		exit 2 ;;
	esac
done
for tool in wrk curl cc pkg-config; do
	command -v "$tool" >/dev/null ||
		{ echo "bench: $tool is missing" >&2; exit 1; }
done

build=$top/build-health-rel
if [ -z "${GREENLIGHT:-}" ]; then
	echo "bench: building greenlight (Release, no sanitizers)" >&2
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DGREENLIGHT_SANITIZE=OFF -DGREENLIGHT_TESTS=OFF >/dev/null
	cmake --build "$build" -j"$(nproc)" --target greenlight >/dev/null
	GREENLIGHT=$build/greenlight
fi
. "$top/bench/lib.sh"
bench_refuse_sanitized "$GREENLIGHT"
mkdir -p "$build"
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -o "$build/naive_probe" \
	"$top/bench/health/naive_probe.c" \
	$(pkg-config --cflags --libs libmicrohttpd libcurl) -lpthread

# the lab: temp dir $T, processes stopped by PID on exit
source "$top/tests/lab/lib.sh"
lab_init bench_health
PY=/usr/bin/python3

lab_imds_start --vm-name vmss_0
wpf=$T/workload.port
"$PY" "$top/tests/integration/health_workload.py" --name app \
	--port-file "$wpf" --log /dev/null >"$T/workload.log" 2>&1 &
lab_track $!
wait_until 10 test -s "$wpf"
wport=$(<"$wpf")

gport=$(lab_free_port)
lab_config "$T/greenlight.ini" health.listen="127.0.0.1:$gport" \
	health.check_url="http://127.0.0.1:$wport/healthz" \
	health.workload_ports="$wport"
"$GREENLIGHT" health --config "$T/greenlight.ini" >"$T/greenlight.log" 2>&1 &
gpid=$!
lab_track "$gpid"
lab_on_exit "kill -TERM $gpid; sleep 0.4; kill -TERM $gpid"
nport=$(lab_free_port)
"$build/naive_probe" "$nport" "$IMDS_URL" vmss_0 >"$T/naive.log" 2>&1 &
lab_track $!
wait_until 10 curl -sf "http://127.0.0.1:$gport/health"
wait_until 10 curl -sf "http://127.0.0.1:$nport/health"
designs="greenlight naive"
if command -v nginx >/dev/null; then
	xport=$(lab_free_port)
	mkdir -p "$T/nginx"
	body=$(curl -s "http://127.0.0.1:$gport/health")
	cat >"$T/nginx/nginx.conf" <<-EOF2
		worker_processes 2;
		pid $T/nginx/nginx.pid;
		error_log $T/nginx/error.log;
		daemon off;
		events { worker_connections 1024; }
		http {
		    access_log off;
		    server {
		        listen 127.0.0.1:$xport;
		        location /health {
		            default_type application/json;
		            return 200 '$body';
		        }
		    }
		}
	EOF2
	nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" >"$T/nginx.log" 2>&1 &
	lab_track $!
	wait_until 10 curl -sf "http://127.0.0.1:$xport/health"
	designs="$designs nginx"
fi

imds_events() {
	lab_imds_ctl GET "/_test/requests?path=scheduledevents" |
		"$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

cat >"$T/pace.lua" <<'EOF2'
-- each connection waits 1 ms between a reply and its next request
function delay()
	return 1
end
EOF2

# round NAME PORT [paced]: one wrk run; prints "NAME rps p99_ms imds
# non2xx errors"
round() {
	local before after args=(-c "$conns")
	[ "${3:-}" = paced ] && args=(-c "$paced" -s "$T/pace.lua")
	before=$(imds_events)
	wrk -t 2 "${args[@]}" -d "${duration}s" --latency \
		"http://127.0.0.1:$2/health" >"$T/wrk-${1//\//-}.txt" 2>&1
	after=$(imds_events)
	cat "$T/wrk-${1//\//-}.txt" >>"$T/wrk-all.txt"
	"$PY" - "$1" "$((after - before))" "$T/wrk-${1//\//-}.txt" <<-'EOF2'
		import re, sys
		t = open(sys.argv[3]).read()
		def ms(v, u):
		    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
		rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
		m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
		p99 = ms(m.group(1), m.group(2))
		m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
		bad = int(m.group(1)) if m else 0
		m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
		err = sum(map(int, m.groups())) if m else 0
		print(f"{sys.argv[1]} {rps:.0f} {p99:.3f} {sys.argv[2]} {bad} {err}")
	EOF2
}

echo "bench/health: wrk -t 2 -c $conns -d ${duration}s --latency /health," \
	"$runs rounds each, $(nproc) cores; IMDS = tests/lab/imds-emulator.py"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on" \
	"the machine shows up in p99)"
printf '%-16s %10s %10s %14s %8s %8s\n' design req/s p99_ms imds_requests non2xx errors
: >"$T/rounds.txt"
for ((i = 1; i <= runs; i++)); do
	for d in $designs greenlight/paced nginx/paced; do
		case $d in
		greenlight*) port=$gport ;;
		naive) port=$nport ;;
		nginx*) [ -n "${xport:-}" ] || continue; port=$xport ;;
		esac
		round "$d" "$port" "${d#*/}" | tee -a "$T/rounds.txt" |
			awk '{ printf "%-16s %10s %10s %14s %8s %8s\n", $1, $2, $3, $4, $5, $6 }'
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$T/rounds.txt" "$duration" <<-'EOF2'
	import statistics, sys
	rows = [l.split() for l in open(sys.argv[1])]
	dur = float(sys.argv[2])
	med = {}
	for d in ("greenlight", "naive", "nginx", "greenlight/paced",
	          "nginx/paced"):
	    r = [x for x in rows if x[0] == d]
	    if not r:
	        continue
	    med[d] = (statistics.median(float(x[1]) for x in r),
	              statistics.median(float(x[2]) for x in r),
	              statistics.median(float(x[3]) for x in r))
	    print(f"median {d:<16} {med[d][0]:8.0f} req/s  p99 {med[d][1]:7.3f} ms"
	          f"  IMDS requests {med[d][2]:.0f} in {dur:.0f} s"
	          f" ({med[d][2] / dur:.1f}/s)")
	g, n = med["greenlight"], med["naive"]
	print(f"ratio greenlight / naive: {g[0] / n[0]:.1f}x the probes/s, "
	      f"p99 {n[1] / g[1]:.1f}x lower")
	if "nginx" in med:
	    x = med["nginx"]
	    print(f"ratio greenlight / nginx static reply: {g[0] / x[0]:.2f}x "
	          f"the probes/s, p99 {g[1] / x[1]:.2f}x nginx's")
	p = med["greenlight/paced"]
	print(f"targets: >= 20000 probes/s: {'met' if g[0] >= 20000 else 'NOT met'}"
	      f" ({g[0]:.0f}); p99 < 5 ms at >= 20000 probes/s: "
	      f"{'met' if p[0] >= 20000 and p[1] < 5 else 'NOT met'}"
	      f" ({p[1]:.2f} ms at {p[0]:.0f}/s); IMDS only the ~1/s poll: "
	      f"{'met' if g[2] <= dur + 3 and p[2] <= dur + 3 else 'NOT met'}")
EOF2
