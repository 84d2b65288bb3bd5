#!/usr/bin/env bash
# fetch_imds_410: at first boot IMDS answers 410 ("updating") for 20 s; the
# fetch keeps asking for a token, then downloads the release and succeeds.
# timeout: 180
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init fetch_imds_410
lab_azurite_start
lab_imds_start
lab_container_create releases
mkdir -p "$T/src/bin"
head -c 300000 /dev/urandom >"$T/src/bin/agent"
echo "v1" >"$T/src/VERSION"
lab_upload "$T/src" releases 1.0

lab_imds_ctl POST /_test/fail '{"status": 410, "seconds": 20,
	"path": "token"}' >/dev/null
lab_config "$T/gl.ini"
start=$SECONDS
expect_exit 0 "$GREENLIGHT" fetch --config "$T/gl.ini" --release 1.0 \
	--dest "$T/dest"
elapsed=$((SECONDS - start))
diff -r "$T/src" "$T/dest" || fail "destination differs from the release"
[ "$elapsed" -ge 19 ] || fail "finished in ${elapsed}s: the 410s were not seen"
lab_imds_ctl GET '/_test/requests?path=token' >"$T/req.json"
n410=$(jq '[.[] | select(.status == 410)] | length' "$T/req.json")
n200=$(jq '[.[] | select(.status == 200)] | length' "$T/req.json")
[ "$n410" -ge 3 ] || fail "only $n410 requests got 410"
assert_eq 1 "$n200" "token requests answered 200"
