#!/usr/bin/env bash
# lab_haproxy: lab_haproxy_start runs HAProxy with the test's config and
# lab_haproxy_stat reads its stats: two backends come UP through HTTP health
# checks, share the traffic, and one whose /health fails goes DOWN and gets
# no more requests.
# timeout: 60
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init lab_haproxy

for b in a b; do
	mkdir -p "$T/www-$b"
	echo "backend $b" >"$T/www-$b/index.html"
	echo ok >"$T/www-$b/health"
	port=$(lab_free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$T/www-$b" \
		"$port" >>"$T/backend-$b.log" 2>&1 &
	lab_track $!
	declare "PORT_$b=$port"
done
wait_until 10 curl -sf "http://127.0.0.1:$PORT_a/health"
wait_until 10 curl -sf "http://127.0.0.1:$PORT_b/health"

FE_PORT=$(lab_free_port)
STATS_PORT=$(lab_free_port)
cat >"$T/haproxy.cfg" <<EOF
global
	log stderr format short local0 notice
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend fe
	bind 127.0.0.1:$FE_PORT
	default_backend be
backend be
	balance roundrobin
	option httpchk GET /health
	http-check expect status 200
	default-server inter 200ms fall 2 rise 2
	server a 127.0.0.1:$PORT_a check
	server b 127.0.0.1:$PORT_b check
listen stats
	bind 127.0.0.1:$STATS_PORT
	stats enable
	stats uri /stats
EOF
lab_haproxy_start "$T/haproxy.cfg"
up() { [ "$(lab_haproxy_stat be "$1" status)" = UP ]; }
wait_until 10 up a
wait_until 10 up b

for _ in $(seq 1 20); do
	curl -sf "http://127.0.0.1:$FE_PORT/index.html" >>"$T/answers"
done
assert_eq "10 10" "$(grep -c 'backend a' "$T/answers") $(grep -c 'backend b' \
	"$T/answers")" "round robin over both backends"

rm "$T/www-b/health"
down() { [ "$(lab_haproxy_stat be b status)" = DOWN ]; }
wait_until 10 down
before=$(lab_haproxy_stat be b stot)
: >"$T/answers"
for _ in $(seq 1 10); do
	curl -sf "http://127.0.0.1:$FE_PORT/index.html" >>"$T/answers"
done
assert_eq 10 "$(grep -c 'backend a' "$T/answers")" "all traffic to a"
assert_eq "$before" "$(lab_haproxy_stat be b stot)" "no sessions to b"
echo "lab_haproxy: ok"
