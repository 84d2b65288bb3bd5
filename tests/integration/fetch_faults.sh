#!/usr/bin/env bash
# fetch_faults: connection resets and truncated bodies in the middle of a
# blob and of a range, resets before any answer, and 503 ServerBusy with
# Retry-After: every request is retried and the release still arrives byte
# for byte. A cut range resumes where its bytes stopped (Range from
# there, If-Match kept); Retry-After is honoured; the summary counts the
# retries.
# timeout: 240
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_faults
lab_azurite_start
lab_imds_start
lab_proxy_start
lab_container_create releases

src=$T/src
mkdir -p "$src/small"
for i in $(seq 1 20); do
	head -c $((50000 + i * 1000)) /dev/urandom >"$src/small/f$i.bin"
done
head -c 2000000 /dev/urandom >"$src/big.bin"
lab_upload "$src" releases 2.0

# 256K ranges: big.bin is 8 ranges; the second starts at 262144
lab_proxy_ctl POST /rules '[
 {"match": "big.bin", "method": "GET", "action": "reset",
  "after_bytes": 100000, "count": 2},
 {"match": "small/f3.bin", "action": "truncate", "after_bytes": 5000},
 {"match": "small/f5.bin", "action": "status", "status": 503,
  "code": "ServerBusy", "retry_after": 1, "count": 2},
 {"match": "small/f7.bin", "action": "reset"},
 {"match": "small/f9.bin", "action": "status", "status": 500,
  "code": "InternalError"}
]' >/dev/null
lab_config "$T/gl.ini" fetch.chunk_size=256K fetch.connections=4
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 2.0 \
	--dest "$T/dest"
diff -r "$src" "$T/dest" || fail "destination differs from the release"
assert_contains "$T/err" "fetch: release 2.0 is complete in $T/dest: 21 files"
# a reset before any answer on a reused connection is retried by libcurl
# itself, so f7.bin may not count
retries=$(sed -n 's/.* \([0-9]*\) retries$/\1/p' "$T/err")
[ "${retries:-0}" -ge 6 ] && [ "$retries" -le 7 ] ||
	fail "expected 6 or 7 retries in the summary, got '$retries'"

lab_proxy_ctl GET /log >"$T/log.json"
# every rule fired as often as asked
lab_proxy_ctl GET /rules >"$T/rules.json"
assert_eq "2 1 2 1 1" "$(jq -r '[.[].fired | tostring] | join(" ")' \
	"$T/rules.json")" "rules fired"

# a range cut after 100000 bytes comes back from byte 100000 of that range,
# to its same end (that request may be cut again: the rule fires twice, on
# whichever big.bin request comes next), and every range ends in a 206
jq -r '.[] | select(.path | test("big.bin")) | "\(.fault // .status) \(.range)"' \
	"$T/log.json" >"$T/big.txt"
grep -q '^reset bytes=' "$T/big.txt" || fail "no reset on big.bin"
while read -r what range; do
	[ "$what" = reset ] || continue
	from=${range#bytes=} to=${from#*-} from=${from%-*}
	grep -Eq "^(206|reset) bytes=$((from + 100000))-$to\$" "$T/big.txt" ||
		{ cat "$T/big.txt" >&2; fail "the cut range $range did not resume at +100000"; }
done <"$T/big.txt"
[ "$(grep -c '^206 ' "$T/big.txt")" = 8 ] ||
	{ cat "$T/big.txt" >&2; fail "big.bin: not every one of its 8 ranges ended in a 206"; }

# the truncated small blob is asked again for the rest only
jq -r '.[] | select(.path | test("f3.bin")) | "\(.fault // .status) \(.range)"' \
	"$T/log.json" >"$T/f3.txt"
assert_eq "truncated |206 bytes=5000-52999" "$(paste -sd'|' "$T/f3.txt")" \
	"f3.bin: cut, then the rest"

# Retry-After: 1 s is honoured between the 503s and the next try
jq -r '.[] | select(.path | test("f5.bin")) | "\(.t) \(.status)"' \
	"$T/log.json" >"$T/f5.txt"
assert_eq "503 503 200" "$(awk '{print $2}' "$T/f5.txt" | paste -sd' ')"
awk 'NR > 1 && $1 - prev < 0.95 { bad = 1 } { prev = $1 }
	END { exit bad }' "$T/f5.txt" ||
	{ cat "$T/f5.txt" >&2; fail "retried sooner than Retry-After"; }
