#!/usr/bin/env bash
# health_manual.sh — `greenlight drain` and `greenlight drain --undo`; /live
# stays Healthy while drained; /status and /metrics say so; /drain from
# another host (a peer in a network namespace over a veth pair) is refused
# with 403 while its probe still answers; drain without a daemon exits 8.
# timeout: 120
set -euo pipefail
source "$GL_SOURCE_DIR/tests/lab/lib.sh"
lab_init health_manual
source "$GL_SOURCE_DIR/tests/integration/health_lib.bash"

hl_imds_start vm vmss_0
hl_workload_start vm
# listen on every address, so a peer in the namespace reaches the daemon
port=$(lab_free_port)
DPORT[vm]=$port
hl_daemon_start vm health.listen="0.0.0.0:$port"
wait_until 5 hl_code_is vm 200
LOG=$T/health-vm.log
CONF=$T/vm.ini

# drain by hand
expect_exit 0 "$GREENLIGHT" drain --config "$CONF"
assert_contains "$T/out" "draining; the probe fails and the load balancer stops sending new connections"
assert_eq 503 "$(hl_code vm)" "/health while drained"
hl_get vm /health >"$T/h.json"
assert_eq "manual drain" "$(hl_json 'j["reason"]' <"$T/h.json")"
assert_eq 200 "$(hl_code vm /live)" "/live while drained"
assert_eq Healthy "$(hl_get vm /live | hl_json 'j["ApplicationHealthState"]')"
hl_get vm /status >"$T/status.json"
assert_eq draining "$(hl_json 'j["state"]' <"$T/status.json")"
assert_eq manual "$(hl_json 'j["reason"]' <"$T/status.json")"
assert_eq 1 "$(hl_json 'j["drain"]["manual"]' <"$T/status.json")"
assert_eq vmss_0 "$(hl_json 'j["vm_name"]' <"$T/status.json")"
assert_eq up "$(hl_json 'j["workload"]["state"]' <"$T/status.json")"
assert_eq "${WPORT[vm]}" "$(hl_json 'j["workload_ports"]' <"$T/status.json")"
assert_eq 0 "$(hl_json 'j["connections"]' <"$T/status.json")"
assert_eq netlink "$(hl_json 'j["connections_source"]' <"$T/status.json")"
assert_eq 1 "$(hl_json 'j["imds"]["reachable"]' <"$T/status.json")"
hl_get vm /metrics >"$T/metrics.txt"
assert_contains "$T/metrics.txt" 'greenlight_health_state{state="draining"} 1'
assert_contains "$T/metrics.txt" 'greenlight_health_state{state="serving"} 0'
assert_contains "$T/metrics.txt" 'greenlight_health_drains_total 1'
assert_contains "$T/metrics.txt" 'greenlight_health_workload_up 1'
assert_contains "$T/metrics.txt" 'greenlight_imds_reachable 1'
assert_contains "$T/metrics.txt" 'greenlight_health_probes_total{result="draining"} 2'
assert_contains "$T/metrics.txt" 'greenlight_health_connections 0'
assert_contains "$LOG" "manual drain requested"
# a manual drain is never approved and never ends by itself
sleep 8
assert_eq 503 "$(hl_code vm)" "/health after drain_min"
assert_eq 0 "$(hl_imds vm GET /_test/approvals | hl_json 'len(j)')" "approvals"

# again: a no-op that says so
expect_exit 0 "$GREENLIGHT" drain --config "$CONF"
assert_contains "$T/out" "already draining by hand"

# undo
expect_exit 0 "$GREENLIGHT" drain --undo --config "$CONF"
assert_contains "$T/out" "manual drain lifted; serving"
assert_eq 200 "$(hl_code vm)" "/health after undrain"
assert_contains "$LOG" "manual drain lifted"
assert_contains "$LOG" "serving again"

# the admin endpoints want POST
assert_eq 405 "$(curl -s -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$port/drain")" "GET /drain"
assert_eq 404 "$(hl_code vm /nope)" "unknown path"

# abuse: bodies and headers are capped, resets are normal and quiet
head -c 1000000 /dev/zero >"$T/big.bin"
assert_eq 413 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	--data-binary @"$T/big.bin" "http://127.0.0.1:$port/drain")" "1 MB body"
assert_eq 431 "$(curl -s -o /dev/null -w '%{http_code}' \
	-H "X-Big: $(head -c 40000 /dev/zero | tr '\0' b)" \
	"http://127.0.0.1:$port/health")" "40 kB header"
"$HL_PY" - "$port" <<-'EOF2'
	import socket, struct, sys
	for i in range(200):
	    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	    if i % 2:
	        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	        s.recv(4096)
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
	                 struct.pack("ii", 1, 0))
	    s.close()  # RST, like HAProxy's health checks
EOF2
assert_eq 200 "$(hl_code vm)" "/health after the abuse"
assert_not_contains "$LOG" "warning: health: http"
assert_not_contains "$LOG" "error: health: http"

# from another host: a network namespace with a veth pair
ns=glh$$
if ip netns add "$ns" 2>"$T/netns.err"; then
	lab_on_exit "ip netns del $ns 2>/dev/null; ip link del glh-a$$ 2>/dev/null"
	net=10.$((200 + $$ % 50)).$(($$ % 250)).
	ip link add "glh-a$$" type veth peer name "glh-b$$"
	ip link set "glh-b$$" netns "$ns"
	ip addr add "${net}1/24" dev "glh-a$$"
	ip link set "glh-a$$" up
	ip netns exec "$ns" ip addr add "${net}2/24" dev "glh-b$$"
	ip netns exec "$ns" ip link set "glh-b$$" up
	ip netns exec "$ns" ip link set lo up
	remote() {
		ip netns exec "$ns" curl -s --max-time 5 "$@"
	}
	wait_until 5 remote -o /dev/null "http://${net}1:$port/health"
	assert_eq 200 "$(remote -o /dev/null -w '%{http_code}' \
		"http://${net}1:$port/health")" "probe from the other host"
	remote -o "$T/remote.json" -w '%{http_code}' -X POST \
		"http://${net}1:$port/drain" >"$T/remote.code"
	assert_eq 403 "$(cat "$T/remote.code")" "POST /drain from the other host"
	assert_contains "$T/remote.json" "drain and undrain are accepted only from this host"
	assert_eq 200 "$(hl_code vm)" "/health after a refused drain"
	assert_contains "$LOG" "refused /drain from a remote address"
	hl_get vm /metrics >"$T/metrics2.txt"
	assert_contains "$T/metrics2.txt" 'greenlight_health_admin_refused_total 1'
	# this host's own address on the veth is not loopback, but it is us
	curl -s -o /dev/null -w '%{http_code}' -X POST \
		"http://${net}1:$port/drain" >"$T/self.code"
	assert_eq 200 "$(cat "$T/self.code")" "POST /drain to this host's address"
	assert_eq 503 "$(hl_code vm)" "/health after drain from this host"
	expect_exit 0 "$GREENLIGHT" drain --undo --config "$CONF"
else
	echo "SKIP: non-loopback peer: cannot create a network namespace here ($(cat "$T/netns.err"))"
fi

# the workload fails: /health 503 after check_threshold (2) failures,
# /live Unhealthy; back when it passes again
curl -s -X POST "http://127.0.0.1:${WPORT[vm]}/_sick?on=1" >/dev/null
wait_until 5 hl_code_is vm 503
hl_get vm /health >"$T/sick.json"
assert_eq "workload check failing: GET http://127.0.0.1:${WPORT[vm]}/healthz: HTTP 503, want 200" \
	"$(hl_json 'j["reason"]' <"$T/sick.json")"
assert_eq Unhealthy "$(hl_get vm /live | hl_json 'j["ApplicationHealthState"]')"
assert_contains "$LOG" "workload check failing"
curl -s -X POST "http://127.0.0.1:${WPORT[vm]}/_sick?on=0" >/dev/null
wait_until 5 hl_code_is vm 200
assert_eq Healthy "$(hl_get vm /live | hl_json 'j["ApplicationHealthState"]')"
assert_contains "$LOG" "workload check passes again"

# no daemon: drain says so and exits 8 (temporary)
hl_daemon_kill "${DPID[vm]}"
wait "${DPID[vm]}" || true
expect_exit 8 "$GREENLIGHT" drain --config "$CONF"
assert_contains "$T/err" "drain: cannot reach greenlight health at http://127.0.0.1:$port"
assert_contains "$T/err" "is the service running?"
echo "health_manual: ok"
