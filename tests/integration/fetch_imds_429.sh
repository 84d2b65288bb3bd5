#!/usr/bin/env bash
# fetch_imds_429: IMDS throttles token requests (429) for a while; the fetch
# backs off, gets a token and downloads the release.
# timeout: 180
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_imds_429
lab_azurite_start
lab_imds_start
lab_container_create releases
mkdir -p "$T/src"
head -c 100000 /dev/urandom >"$T/src/app.bin"
lab_upload "$T/src" releases 1.0

lab_imds_ctl POST /_test/fail '{"status": 429, "count": 4,
	"path": "token"}' >/dev/null
lab_config "$T/gl.ini"
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 1.0 \
	--dest "$T/dest"
cmp "$T/src/app.bin" "$T/dest/app.bin" || fail "app.bin differs"
lab_imds_ctl GET '/_test/requests?path=token' >"$T/req.json"
assert_eq "429 429 429 429 200" "$(jq -r '[.[].status | tostring] |
	join(" ")' "$T/req.json")" "token requests"
# backed off: the five requests are spread over some time, not a burst
span=$(jq '(.[-1].t - .[0].t)' "$T/req.json")
awk -v s="$span" 'BEGIN { exit !(s >= 0.5) }' ||
	fail "429s retried without backing off (span ${span}s)"
