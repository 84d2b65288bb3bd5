#!/usr/bin/env bash
# lab_proxy: the storage fault proxy passes blobs through unchanged (ranges,
# keep-alive, many parallel connections, a 64 MiB blob without buffering it)
# and each rule breaks exactly the request it matches, as many times as asked:
# reset, truncate, status (Azure error XML), stall, corrupt, delay.
# timeout: 120
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init lab_proxy
lab_azurite_start --inmem
lab_proxy_start "127.0.0.1:$AZURITE_PORT"

mkdir -p "$T/rel"
head -c 1048576 /dev/urandom >"$T/rel/one.bin"
head -c 67108864 /dev/urandom >"$T/rel/big.bin"
for i in $(seq 1 40); do echo "small $i" >"$T/rel/s$i.txt"; done
lab_upload "$T/rel" releases r

token=$(lab_token)
auth=(-H "Authorization: Bearer $token" -H 'x-ms-version: 2021-12-02')
# fetch NAME [curl args...]: body in $T/got, prints "status curl_exit".
fetch() {
	local name=$1 rc=0 code
	shift
	code=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" --max-time 20 \
		-o "$T/got" -w '%{http_code}' "$@" \
		"$PROXY_URL/releases/r/$name" 2>>"$T/curl.err") || rc=$?
	echo "$code $rc"
}
rules() { lab_proxy_ctl POST /rules "$1" >/dev/null; }

# --- pass-through ---------------------------------------------------------------
assert_eq "200 0" "$(fetch one.bin)"
cmp -s "$T/got" "$T/rel/one.bin" || fail "one.bin changed in transit"
assert_eq "206 0" "$(fetch one.bin -H 'x-ms-range: bytes=1000-1999')"
cmp -s "$T/got" <(tail -c +1001 "$T/rel/one.bin" | head -c 1000) ||
	fail "range changed in transit"
lab_proxy_ctl GET /log | jq -e 'any(.[]; .range == "bytes=1000-1999" and
	.status == 206 and .bytes == 1000)' >/dev/null || fail "log of the range"
code=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -o "$T/list.xml" \
	-w '%{http_code}' "$PROXY_URL/releases?restype=container&comp=list")
assert_eq 200 "$code" "List Blobs through the proxy"
assert_contains "$T/list.xml" "<Name>r/s40.txt</Name>"

# One curl, many URLs: all on one keep-alive connection.
urls=() args=()
for i in $(seq 1 40); do
	urls+=("$PROXY_URL/releases/r/s$i.txt")
	args+=(-o /dev/null "$PROXY_URL/releases/r/s$i.txt")
done
out=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -w '%{num_connects}\n' \
	"${args[@]}" 2>&1 | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
assert_eq "0:39 1:1 " "$out" "40 requests over one keep-alive connection"

# 40 parallel connections.
printf '%s\n' "${urls[@]}" | xargs -P 40 -n 1 curl -sS --cacert "$LAB_CA" \
	"${auth[@]}" -o /dev/null -w '%{http_code}\n' >"$T/par"
assert_eq "40 200" "$(sort "$T/par" | uniq -c | tr -s ' ' | sed 's/^ //')"

# 64 MiB streams through without the proxy holding it in memory.
rss0=$(awk '/^VmHWM/ { print $2 }' "/proc/$PROXY_PID/status")
assert_eq "200 0" "$(fetch big.bin)"
cmp -s "$T/got" "$T/rel/big.bin" || fail "big.bin changed in transit"
rss1=$(awk '/^VmHWM/ { print $2 }' "/proc/$PROXY_PID/status")
[ $((rss1 - rss0)) -lt 32768 ] ||
	fail "proxy peak RSS grew by $((rss1 - rss0)) KiB for a 64 MiB blob"

# --- rules ----------------------------------------------------------------------
lab_proxy_ctl POST /reset >/dev/null
rules '[{"match": "one.bin", "action": "reset", "after_bytes": 100000}]'
r=$(fetch one.bin)
assert_eq 56 "${r#* }" "reset after 100000 bytes: curl exit"
assert_eq 100000 "$(stat -c %s "$T/got")" "bytes before the reset"
assert_eq "200 0" "$(fetch one.bin)" "count 1: the next request passes"

rules '[{"match": "one.bin", "action": "reset"}]'
r=$(fetch one.bin)
assert_eq "000 56" "$r" "reset before any response"

rules '[{"match": "one.bin", "action": "truncate", "after_bytes": 5000}]'
assert_eq "200 18" "$(fetch one.bin)" "truncate: curl sees a short body"
assert_eq 5000 "$(stat -c %s "$T/got")"

rules '[{"match": "s1.txt", "action": "status", "status": 503,
	"code": "ServerBusy", "retry_after": 3, "count": 2}]'
assert_eq "503 0" "$(fetch s1.txt -D "$T/hdr")"
assert_contains "$T/hdr" "x-ms-error-code: ServerBusy"
assert_contains "$T/hdr" "Retry-After: 3"
assert_contains "$T/got" "<Error><Code>ServerBusy</Code><Message>"
assert_eq "503 0" "$(fetch s1.txt)" "count 2: fires twice"
assert_eq "200 0" "$(fetch s1.txt)" "then passes"

rules '[{"match": "one.bin", "method": "HEAD", "action": "status",
	"status": 500}]'
assert_eq "200 0" "$(fetch one.bin)" "a HEAD rule leaves GET alone"
assert_eq "500 0" "$(fetch one.bin -I)"
assert_contains "$T/got" "x-ms-error-code: InternalError"

rules '[{"match": "one.bin", "action": "corrupt", "offset": 12345}]'
assert_eq "200 0" "$(fetch one.bin)"
assert_eq "1" "$(cmp -l "$T/got" "$T/rel/one.bin" | wc -l)" "one byte flipped"
assert_eq 12346 "$(cmp -l "$T/got" "$T/rel/one.bin" | awk '{ print $1 }')"

rules '[{"match": "one.bin", "action": "stall", "seconds": 3,
	"after_bytes": 1000}]'
rc=0
curl -sS --cacert "$LAB_CA" "${auth[@]}" -o "$T/got" --speed-limit 1000 \
	--speed-time 1 "$PROXY_URL/releases/r/one.bin" 2>/dev/null || rc=$?
assert_eq 28 "$rc" "a stalled body trips a low-speed limit"
rules '[{"match": "one.bin", "action": "stall", "seconds": 1,
	"after_bytes": 1000}]'
t=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -o "$T/got" -w '%{time_total}' \
	"$PROXY_URL/releases/r/one.bin")
cmp -s "$T/got" "$T/rel/one.bin" || fail "a stall must not change the body"
[ "$(echo "$t >= 0.95" | bc)" = 1 ] || fail "stall of 1 s took ${t}s"

rules '[{"match": "s2.txt", "action": "delay", "ms": 500, "count": -1}]'
for _ in 1 2; do
	t=$(curl -sS --cacert "$LAB_CA" "${auth[@]}" -o /dev/null \
		-w '%{time_total}' "$PROXY_URL/releases/r/s2.txt")
	[ "$(echo "$t >= 0.49" | bc)" = 1 ] || fail "delay: took ${t}s"
done
lab_proxy_ctl GET /rules | jq -e '.[0].fired == 2 and .[0].left == -1' \
	>/dev/null || fail "count -1 fires every time"

# --- the log --------------------------------------------------------------------
lab_proxy_ctl GET '/log?match=one.bin' >"$T/log.json"
jq -e '.[0] | .method == "GET" and .status == 200 and .bytes == 100000 and
	.fault == "reset" and .action == "reset"' "$T/log.json" >/dev/null ||
	{ _lab_show "$T/log.json"; fail "log entry of the reset"; }
jq -e 'any(.[]; .action == "truncate" and .fault == "truncated" and
	.bytes == 5000)' "$T/log.json" >/dev/null || fail "log of the truncate"
lab_proxy_ctl POST /reset >/dev/null
assert_eq "[] []" "$(lab_proxy_ctl GET /log | jq -c .) $(lab_proxy_ctl GET /rules |
	jq -c .)" "reset clears log and rules"

assert_eq "400" "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-d '[{"action": "explode"}]' "$PROXY_CTL_URL/rules")" "unknown action"
echo "lab_proxy: ok"
