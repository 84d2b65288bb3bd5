#!/usr/bin/env bash
# setup.sh — install what greenlight's local lab needs; idempotent and quick
# when everything is already there (one dpkg query, one hash, one cert check).
#
#   1. Debian packages: build dependencies, test tools, HAProxy, rclone, ...
#      (apt-get update + install only when something is missing).
#   2. Azurite, pinned by package-lock.json, with
#      `npm ci` into tests/lab/node_modules (skipped when the lock is unchanged).
#   3. A throw-away CA and a server certificate for 127.0.0.1 / localhost in
#      $LAB_DIR/certs (made again when missing or expiring within a day).
#
# Env: LAB_DIR (default ${TMPDIR:-/tmp}/greenlight-lab).
set -euo pipefail

lab=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${LAB_DIR:-${TMPDIR:-/tmp}/greenlight-lab}
certs=$LAB_DIR/certs

say() { printf 'lab setup: %s\n' "$*" >&2; }

pkgs=(
	# build
	cmake pkg-config gcc make libcurl4-openssl-dev libarchive-dev
	libssl-dev libinih-dev libexpat1-dev libjansson-dev
	libmicrohttpd-dev libcmocka-dev
	# runtime and test tools
	curl openssl ca-certificates python3 haproxy wrk rclone nginx-light
	hyperfine libarchive-tools zstd xz-utils iproute2 util-linux systemd bc jq
)
# Node: keep whatever node is installed (e.g. from NodeSource, which brings
# npm along); only fall back to Debian's packages when there is none.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

mkdir -p "$LAB_DIR"
# One setup at a time (tests started by hand in parallel may call it).
exec 9>"$LAB_DIR/.setup.lock"
flock -w 600 9 || { say "another setup holds $LAB_DIR/.setup.lock"; exit 1; }

# --- 1. Debian packages -----------------------------------------------------
. "$lab/apt.sh"
apt_install_missing "${pkgs[@]}"

# --- 2. Azurite (npm ci from the committed lock) ---------------------------
want=$(sha256sum "$lab/package-lock.json" | cut -d' ' -f1)
have=$(cat "$lab/node_modules/.lock-hash" 2>/dev/null || true)
if [ "$want" != "$have" ] || [ ! -x "$lab/node_modules/.bin/azurite-blob" ]; then
	say "npm ci in $lab (azurite)"
	(cd "$lab" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	printf '%s\n' "$want" >"$lab/node_modules/.lock-hash"
fi

# --- 3. Throw-away CA and server certificate --------------------------------
if [ ! -s "$certs/ca.pem" ] || [ ! -s "$certs/server.key" ] ||
	! openssl x509 -checkend 86400 -noout -in "$certs/server.pem" \
		>/dev/null 2>&1; then
	say "making a CA and a server certificate in $certs"
	mkdir -p "$certs"
	tmp=$(mktemp -d "$LAB_DIR/.certs.XXXXXX")
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 365 \
		-keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
		-subj "/CN=greenlight lab CA (throw-away)" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$tmp/server.key" \
		-out "$tmp/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
	cat >"$tmp/server.ext" <<-'EOF'
		subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:devstoreaccount1.localhost
		basicConstraints=CA:FALSE
		keyUsage=digitalSignature,keyEncipherment
		extendedKeyUsage=serverAuth
	EOF
	openssl x509 -req -sha256 -days 365 -in "$tmp/server.csr" \
		-CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
		-extfile "$tmp/server.ext" -out "$tmp/server.pem" 2>/dev/null
	chmod 600 "$tmp/ca.key" "$tmp/server.key"
	for f in ca.key server.key server.pem ca.pem; do
		mv -f "$tmp/$f" "$certs/$f"
	done
	rm -rf "$tmp"
fi
