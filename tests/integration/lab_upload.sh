#!/usr/bin/env bash
# lab_upload: the lab's storage helpers put exactly what a release folder
# holds into Azurite: names with spaces and non-ASCII characters, Content-MD5
# present after a single-shot upload and absent after --no-md5 / blocks,
# single blobs replaced and deleted, 2000 files in seconds; container SAS
# URLs work for rclone and curl; lab_token's lifetime and audience matter.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
lab_init lab_upload
lab_azurite_start

src=$T/src
mkdir -p "$src/sub dir/deeper" "$src/ünïcödé" "$src/日本"
echo "plain" >"$src/plain.txt"
echo "spaces" >"$src/sub dir/deeper/file with spaces.txt"
echo "umlaut" >"$src/ünïcödé/grüße.txt"
echo "kanji" >"$src/日本/設定.ini"
printf 'odd' >"$src/odd name+&=%#.txt"
: >"$src/empty"
head -c 2500000 /dev/urandom >"$src/blocks.bin"
lab_upload "$src" releases 2.0
lab_upload "$src" releases 2.0-nomd5 --no-md5
lab_upload "$src" releases 2.0-blocks --block-size 1000000
lab_upload "$src" releases 2.0-putmd5 --put-md5 --block-size 1000000

token=$(lab_token)
auth=(-H "Authorization: Bearer $token" -H 'x-ms-version: 2021-12-02')
# props BLOB: "Content-Length Content-MD5" (MD5 "-" when absent).
props() {
	local url
	url=$AZURITE_URL/releases/$(jq -rn --arg n "$1" '$n | @uri' |
		sed 's/%2F/\//g')
	curl -sS -f -I --cacert "$LAB_CA" "${auth[@]}" "$url" | tr -d '\r' |
		awk -F': ' 'tolower($1) == "content-length" { l = $2 }
			tolower($1) == "content-md5" { m = $2 }
			END { print l, (m == "" ? "-" : m) }'
}
md5() { openssl md5 -binary "$1" | base64; }

# Every file arrives under <prefix>/<relpath>, with the right MD5 or none.
(cd "$src" && find . -type f | sed 's|^\./||' | sort) >"$T/files"
assert_eq 7 "$(wc -l <"$T/files")" "files in the source tree"
while IFS= read -r rel; do
	size=$(stat -c %s "$src/$rel")
	assert_eq "$size $(md5 "$src/$rel")" "$(props "2.0/$rel")" "2.0/$rel"
	assert_eq "$size -" "$(props "2.0-nomd5/$rel")" "2.0-nomd5/$rel"
	assert_eq "$size $(md5 "$src/$rel")" "$(props "2.0-putmd5/$rel")" \
		"2.0-putmd5/$rel"
done <"$T/files"
assert_eq "2500000 -" "$(props 2.0-blocks/blocks.bin)" \
	"a file larger than the block size has no MD5"
assert_eq "6 $(md5 "$src/plain.txt")" "$(props 2.0-blocks/plain.txt)"

# The listing holds exactly the uploaded names (XML-escaped).
curl -sS --cacert "$LAB_CA" "${auth[@]}" -o "$T/list.xml" \
	"$AZURITE_URL/releases?restype=container&comp=list&prefix=2.0/"
grep -o '<Name>[^<]*</Name>' "$T/list.xml" | sed 's/<[^>]*>//g;
	s/&amp;/\&/g' | sort >"$T/listed"
sed 's|^|2.0/|' "$T/files" | sort | diff - "$T/listed" ||
	fail "listing under 2.0/ differs from the source tree"

# Content round trip, including the block-uploaded blob.
for b in 2.0/blocks.bin 2.0-blocks/blocks.bin "2.0/ünïcödé/grüße.txt"; do
	curl -sS -f --cacert "$LAB_CA" "${auth[@]}" -o "$T/got" \
		"$AZURITE_URL/releases/$(jq -rn --arg n "$b" '$n | @uri' |
			sed 's/%2F/\//g')"
	cmp -s "$T/got" "$src/${b#*/}" || fail "$b differs from its source"
done

# Replace one blob, delete another.
echo "replaced" >"$T/new.txt"
lab_blob_put releases 2.0/plain.txt "$T/new.txt"
assert_eq "9 $(md5 "$T/new.txt")" "$(props 2.0/plain.txt)" "replaced blob"
lab_blob_put releases 2.0/plain.txt "$T/new.txt" --no-md5
assert_eq "9 -" "$(props 2.0/plain.txt)" "replaced without MD5"
lab_blob_delete releases 2.0/empty
rc=0
props 2.0/empty >/dev/null 2>&1 || rc=$?
assert_eq 22 "$rc" "deleted blob answers 404"

# SAS: rclone copies the release folder back, byte for byte.
sas=$(lab_sas_url releases)
[[ $sas == "$AZURITE_URL/releases?"*"sig="* ]] || fail "SAS URL: $sas"
printf '[lab]\ntype = azureblob\nsas_url = %s\n' "$sas" >"$T/rclone.conf"
rclone --config "$T/rclone.conf" --ca-cert "$LAB_CA" copy lab:releases/2.0-nomd5 \
	"$T/copy" 2>"$T/rclone.log" || { _lab_show "$T/rclone.log"; fail rclone; }
diff -r "$src" "$T/copy" || fail "rclone copy differs from the source"
q=$(lab_sas_token releases)
code=$(curl -sS --cacert "$LAB_CA" -o /dev/null -w '%{http_code}' \
	"$AZURITE_URL/releases?restype=container&comp=list&$q")
assert_eq 200 "$code" "List Blobs with lab_sas_token"
code=$(curl -sS --cacert "$LAB_CA" -o /dev/null -w '%{http_code}' -X DELETE \
	"$AZURITE_URL/releases/2.0/plain.txt?$q")
assert_eq 403 "$code" "a read/list SAS cannot delete"

# Tokens: expired, wrong audience, good.
blob=$AZURITE_URL/releases/2.0/plain.txt
status() {
	curl -sS --cacert "$LAB_CA" -o /dev/null -w '%{http_code}' \
		-H "Authorization: Bearer $1" -H 'x-ms-version: 2021-12-02' "$blob"
}
assert_eq 200 "$(status "$(lab_token --lifetime 60)")"
assert_eq 403 "$(status "$(lab_token --lifetime -10)")" "expired token"
assert_eq 403 "$(status "$(lab_token --aud https://management.azure.com/)")" \
	"token for another audience"
assert_eq 200 "$(status "$(lab_token --aud \
	https://devstoreaccount1.blob.core.windows.net)")" "account audience"

# 2000 small files in seconds, not minutes.
mkdir -p "$T/many"
(cd "$T/many" && for i in $(seq 1 2000); do echo "file $i" >"f$i.txt"; done)
start=$EPOCHREALTIME
lab_upload "$T/many" releases many
secs=$(echo "$EPOCHREALTIME - $start" | bc)
echo "lab_upload: 2000 files in ${secs}s"
[ "$(echo "$secs < 40" | bc)" = 1 ] || fail "2000 files took ${secs}s"
curl -sS --cacert "$LAB_CA" "${auth[@]}" -o "$T/many.xml" \
	"$AZURITE_URL/releases?restype=container&comp=list&prefix=many/&maxresults=5000"
assert_eq 2000 "$(grep -o '<Name>' "$T/many.xml" | wc -l)" "2000 blobs listed"
echo "lab_upload: ok"
