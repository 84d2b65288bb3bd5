#!/usr/bin/env bash
# bench/fetch/run.sh — greenlight fetch against its peers, same run, same
# in-memory Azurite on loopback (HTTPS), same data:
#   greenlight fetch            (managed identity from the lab's IMDS emulator)
#   rclone copy                 (Debian rclone, azureblob remote, container SAS)
#   curl -K                     (one process, keep-alive, sequential, SAS URLs)
# Data sets: a = 1 x 256 MiB, b = 200 x 1 MiB, c = 2000 x 16 KiB, and the
# doubled a2/b2/c2 (to see whether memory grows with the data). Every blob
# has a Content-MD5 (greenlight and rclone check it; curl checks nothing),
# except in set an: set a's file uploaded as blocks without one (what a real
# Put Block List upload usually leaves), which shows what hashing costs:
# rclone never checks MD5 on a multi-part download, greenlight checks
# Content-MD5 whenever the blob has one.
# Prints, per set and tool, the median MB/s (10^6 B/s) over the runs, the
# peak RSS (largest of the runs), and the ratio greenlight / rclone.
# Then the same files from nginx (TLS, loopback) with a pre-generated List
# Blobs document, to show the engine's own ceiling when Azurite is the
# bottleneck: greenlight, rclone (its azureblob backend with a SAS URL on
# nginx: nginx answers the listing and plain and ranged GETs, and 404 with
# x-ms-error-code for anything else; rclone's x-ms-range requests, only
# its multi-part downloads of set a, take an extra hop through nginx, which
# costs nginx some CPU) and curl.
# Each run writes into a fresh directory; they are removed after each set
# (an ext4 without a journal skips the inodes freed in the last seconds
# when it allocates new ones, so deleting 2000 files right before a run
# charges the next tool for the previous one's files).
#
# Usage: bench/fetch/run.sh [--runs N] [--sets a,an,b,c,a2,b2,c2] [--no-nginx]
#   GREENLIGHT=path   use this binary (default: Release build in build-bench)
#   GL_BASELINE=path  also run this greenlight binary ("gl-base"), e.g. the
#                     previous commit's, for a before/after in one run
#   BENCH_DIR=path    work directory (default: a temp dir under $TMPDIR)
#   BENCH_OUT=path    where the tools write (default BENCH_DIR; /dev/shm/x
#                     takes the disk out of the comparison)
#   GL_SET=S.K=V      one extra setting for greenlight (fetch.connections=4)
# Not a test: it prints numbers. Needs ~2.5 GiB RAM for Azurite and ~1.5 GiB
# of disk for data and destinations.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
runs=3
sets=a,an,b,c,a2,b2,c2
nginx=1
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--sets) sets=$2; shift 2 ;;
	--no-nginx) nginx=0; shift ;;
	*) echo "usage: $0 [--runs N] [--sets LIST] [--no-nginx]" >&2; exit 2 ;;
	esac
done
IFS=, read -r -a setlist <<<"$sets"

if [ -z "${GREENLIGHT:-}" ]; then
	echo "bench: building greenlight (Release, no sanitizers)" >&2
	cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release \
		-DGREENLIGHT_SANITIZE=OFF -DGREENLIGHT_TESTS=OFF >/dev/null
	cmake --build "$top/build-bench" -j"$(nproc)" --target greenlight \
		>/dev/null
	GREENLIGHT=$top/build-bench/greenlight
fi
. "$top/bench/lib.sh"
bench_refuse_sanitized "$GREENLIGHT" "${GL_BASELINE:-}"
for tool in rclone curl /usr/bin/time jq; do
	command -v "$tool" >/dev/null ||
		{ echo "bench: $tool is missing (apt-get install rclone curl time jq)" >&2; exit 1; }
done
[ "$nginx" = 0 ] || command -v nginx >/dev/null ||
	{ echo "bench: nginx missing (apt-get install nginx) or pass --no-nginx" >&2; exit 1; }

export GL_SOURCE_DIR=$top GREENLIGHT
. "$top/tests/lab/lib.sh"
lab_init bench_fetch
W=${BENCH_DIR:-$T}
O=${BENCH_OUT:-$W}
mkdir -p "$W" "$O"

# --- data -----------------------------------------------------------------------
echo "bench: generating data in $W/data" >&2
python3 - "$W/data" "${setlist[@]}" <<'EOF'
import os, sys
root, sets = sys.argv[1], sys.argv[2:]
shape = {"a": (1, 256 << 20), "b": (200, 1 << 20), "c": (2000, 16 << 10)}
os.makedirs(root, exist_ok=True)
for s in sets:
    if s == "an":
        # set a without Content-MD5: the same file
        if not os.path.islink(os.path.join(root, s)):
            os.symlink("a", os.path.join(root, s))
        s = "a"
    n, size = shape[s[0]]
    if s.endswith("2"):
        if n == 1:
            size *= 2
        else:
            n *= 2
    d = os.path.join(root, s)
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        p = os.path.join(d, "f%05d.bin" % i)
        if os.path.exists(p) and os.path.getsize(p) == size:
            continue
        with open(p, "wb") as f:
            left = size
            while left:
                k = min(left, 8 << 20)
                f.write(os.urandom(k))
                left -= k
EOF
lab_azurite_start --inmem
lab_imds_start
lab_container_create bench >/dev/null
for s in "${setlist[@]}"; do
	echo "bench: uploading set $s" >&2
	if [ "$s" = an ]; then
		lab_upload "$W/data/$s/" bench "$s" --no-md5 >/dev/null
	else
		lab_upload "$W/data/$s" bench "$s" --put-md5 --jobs 8 >/dev/null
	fi
done
sas=$(lab_sas_token bench rl)
lab_config "$W/gl.ini" storage.container=bench

cat >"$W/rclone.conf" <<EOF
[azb]
type = azureblob
sas_url = $AZURITE_URL/bench?$sas
EOF

# --- one measured run: prints "seconds maxrss_kib" ------------------------------
measure() {
	local out=$1
	shift
	sync
	/usr/bin/time -f '%e %M %U %S' -o "$W/time.txt" "$@" >"$W/run.log" 2>&1 || {
		echo "bench: failed: $*" >&2
		tail -n 20 "$W/run.log" >&2
		return 1
	}
	read -r secs rss usr sys <"$W/time.txt"
	diff -rq "$W/data/$set/" "$out" >/dev/null ||
		{ echo "bench: $* produced different files" >&2; return 1; }
	echo "$secs $rss $(awk -v u="$usr" -v s="$sys" 'BEGIN { print u + s }')"
}

curl_config() { # BASE URL_QUERY OUT
	local base=$1 q=$2 out=$3 f
	{
		echo "silent"
		echo "fail"
		echo "create-dirs"
		echo "cacert = \"$LAB_CA\""
		for f in "$W/data/$set/"*; do
			f=${f##*/}
			echo "url = \"$base/bench/$set/$f$q\""
			echo "output = \"$out/$f\""
		done
	} >"$W/curl.cfg"
}

run_tool() { # TOOL RUN -> "secs rss cpu"
	local out=$O/out/$1.$2
	mkdir -p "$O/out"
	case $1 in
	greenlight | gl-base)
		measure "$out" "$(gl_bin "$1")" fetch --config "$W/gl.ini" \
			--release "$set" --dest "$out" ${GL_SET:+--set "$GL_SET"} ;;
	rclone)
		measure "$out" rclone copy --config "$W/rclone.conf" \
			--ca-cert "$LAB_CA" "azb:bench/$set" "$out" ;;
	curl)
		curl_config "$AZURITE_URL" "?$sas" "$out"
		measure "$out" curl -K "$W/curl.cfg" ;;
	greenlight-nginx | gl-base-nginx)
		measure "$out" "$(gl_bin "$1")" fetch --config "$W/gl-nginx.ini" \
			--release "$set" --dest "$out" ${GL_SET:+--set "$GL_SET"} ;;
	rclone-nginx)
		measure "$out" rclone copy --config "$W/rclone.conf" \
			--ca-cert "$LAB_CA" "ngx:bench/$set" "$out" ;;
	curl-nginx)
		curl_config "$NGINX_URL" "" "$out"
		measure "$out" curl -K "$W/curl.cfg" ;;
	esac
}

gl_bin() { case $1 in gl-base*) echo "$GL_BASELINE" ;; *) echo "$GREENLIGHT" ;; esac; }

bytes_of() { du -sbL --apparent-size "$W/data/$1/" | cut -f1; }

# the destinations of a set's runs go after the set, then a pause: see above
clean_out() {
	rm -rf "$O/out"
	sync
	sleep 6
}

results=$W/results.txt
: >"$results"
bench_sets() { # TOOLS...
	local tools=("$@") r t k line secs rss cpu bytes
	for set in "${setlist[@]}"; do
		bytes=$(bytes_of "$set")
		clean_out
		for ((r = 1; r <= runs; r++)); do
			# interleave the tools so machine noise hits them alike,
			# and rotate who goes first (the first run of a round
			# is measurably slower: 15% in one run of set an)
			for ((k = 0; k < ${#tools[@]}; k++)); do
				t=${tools[$(((k + r - 1) % ${#tools[@]}))]}
				line=$(run_tool "$t" "$r") || exit 1
				read -r secs rss cpu <<<"$line"
				awk -v b="$bytes" -v s="$secs" -v set="$set" \
					-v t="$t" -v rss="$rss" -v r="$r" \
					-v cpu="$cpu" 'BEGIN {
					printf "%s %s %d %.1f %d %.2f\n", set, t, r,
					    (s > 0 ? b / s / 1e6 : 0), rss, cpu }' \
					| tee -a "$results" >&2
			done
		done
	done
	clean_out
}

base_tools=()
[ -z "${GL_BASELINE:-}" ] || base_tools=(gl-base)
echo "bench: set tool run MB/s maxrss_KiB cpu_s" >&2
bench_sets greenlight "${base_tools[@]}" rclone curl

# --- nginx: the same files and a generated listing -------------------------------
if [ "$nginx" = 1 ]; then
	port=$(lab_free_port)
	rm -f "$W/nginx/plain.sock"
	mkdir -p "$W/nginx/root/devstoreaccount1/bench" "$W/nginx/lists" \
		"$W/nginx/tmp"
	for s in "${setlist[@]}"; do
		ln -sfn "$W/data/$s" "$W/nginx/root/devstoreaccount1/bench/$s"
	done
	python3 - "$W/data" "$W/nginx/lists" "${setlist[@]}" <<'EOF'
import base64, email.utils, hashlib, os, sys
data, lists, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
for s in sets:
    d = os.path.join(data, s)
    out = ['<?xml version="1.0" encoding="utf-8"?><EnumerationResults '
           'ServiceEndpoint="https://127.0.0.1/devstoreaccount1/" '
           'ContainerName="bench"><Prefix>%s/</Prefix><Blobs>' % s]
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        st = os.stat(p)
        md5 = ""
        if s != "an":
            h = hashlib.md5()
            with open(p, "rb") as f:
                for piece in iter(lambda: f.read(1 << 20), b""):
                    h.update(piece)
            md5 = "<Content-MD5>%s</Content-MD5>" % (
                base64.b64encode(h.digest()).decode())
        # nginx's ETag: "<mtime hex>-<size hex>"; the properties
        # Azurite lists too (rclone's backend reads them all)
        etag = '"%x-%x"' % (int(st.st_mtime), st.st_size)
        out.append(
            "<Blob><Name>%s/%s</Name><Properties><Last-Modified>%s"
            "</Last-Modified><Etag>%s</Etag><Content-Length>%d"
            "</Content-Length><Content-Type>application/octet-stream"
            "</Content-Type>%s<BlobType>BlockBlob</BlobType>"
            "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available"
            "</LeaseState><AccessTier>Hot</AccessTier>"
            "<AccessTierInferred>true</AccessTierInferred></Properties>"
            "<Metadata/></Blob>" % (
                s, name, email.utils.formatdate(st.st_mtime, usegmt=True),
                etag, st.st_size, md5))
    out.append("</Blobs><NextMarker/></EnumerationResults>")
    with open(os.path.join(lists, s + ".xml"), "w") as f:
        f.write("".join(out))
EOF
	cat >"$W/nginx/nginx.conf" <<EOF
user $(id -un);
worker_processes 2;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $W/nginx/tmp;
	proxy_temp_path $W/nginx/tmp;
	fastcgi_temp_path $W/nginx/tmp;
	uwsgi_temp_path $W/nginx/tmp;
	scgi_temp_path $W/nginx/tmp;
	keepalive_requests 100000;
	map \$arg_prefix \$listing { ~^(?<rel>[a-z0-9]+) /\$rel.xml; }
	map \$status \$ms_error { 404 BlobNotFound; default ""; }
	server {
		listen 127.0.0.1:$port ssl;
		ssl_certificate $LAB_DIR/certs/server.pem;
		ssl_certificate_key $LAB_DIR/certs/server.key;
		location = /devstoreaccount1/bench {
			root $W/nginx/lists;
			default_type application/xml;
			try_files \$listing =404;
		}
		# blobs: files only (rclone asks whether the source is a
		# file first: a directory must be BlobNotFound)
		location /devstoreaccount1/ {
			if (\$http_x_ms_range) {
				rewrite ^ /_xmsrange\$uri last;
			}
			root $W/nginx/root;
			disable_symlinks off;
			try_files \$uri =404;
			add_header x-ms-error-code \$ms_error always;
		}
		# rclone asks for ranges with x-ms-range, which nginx does not
		# know: such requests go once more through nginx with Range set
		location /_xmsrange/ {
			internal;
			rewrite ^/_xmsrange(/.*)\$ \$1 break;
			proxy_pass http://unix:$W/nginx/plain.sock;
			proxy_set_header Range \$http_x_ms_range;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
	server {
		listen unix:$W/nginx/plain.sock;
		location /devstoreaccount1/ {
			root $W/nginx/root;
			disable_symlinks off;
			try_files \$uri =404;
		}
	}
}
EOF
	nginx -c "$W/nginx/nginx.conf" -p "$W/nginx" >"$W/nginx/out.log" 2>&1 &
	lab_track $!
	wait_until 10 curl -sf --cacert "$LAB_CA" -o /dev/null \
		"https://127.0.0.1:$port/devstoreaccount1/bench?restype=container&comp=list&prefix=${setlist[0]}/"
	export NGINX_URL=https://127.0.0.1:$port/devstoreaccount1
	lab_config "$W/gl-nginx.ini" storage.container=bench \
		storage.endpoint="$NGINX_URL" auth.method=none -imds.endpoint
	# nginx ignores the query; the backend wants a SAS URL's shape
	cat >>"$W/rclone.conf" <<EOF
[ngx]
type = azureblob
sas_url = $NGINX_URL/bench?sv=2021-12-02&sig=none
EOF
	base_tools=()
	[ -z "${GL_BASELINE:-}" ] || base_tools=(gl-base-nginx)
	bench_sets greenlight-nginx "${base_tools[@]}" rclone-nginx curl-nginx
fi

# --- summary ---------------------------------------------------------------------
# per set and tool: median MB/s, largest RSS, median CPU; ratios of the
# medians: greenlight / rclone and greenlight / curl (Azurite), and
# greenlight-nginx / curl-nginx
echo
awk -v order="${setlist[*]}" '
function median(list,    n, v, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
	k = $1 SUBSEP $2
	mbs[k] = mbs[k] " " $4
	cpu[k] = cpu[k] " " $6
	if ($5 > rss[k])
		rss[k] = $5
}
END {
	printf "%-4s %-17s %9s %12s %7s %16s\n", "set", "tool", "MB/s",
	    "peak RSS", "CPU s", "greenlight/peer"
	nt = split("greenlight gl-base rclone curl greenlight-nginx " \
	    "gl-base-nginx rclone-nginx curl-nginx", tools, " ")
	ns = split(order, sets, " ")
	for (i = 1; i <= ns; i++) {
		s = sets[i]
		for (j = 1; j <= nt; j++) {
			t = tools[j]
			k = s SUBSEP t
			if (!(k in mbs))
				continue
			m[t] = median(mbs[k])
			ratio = ""
			ref = ""
			if (t ~ /-nginx$/ && t != "greenlight-nginx")
				ref = "greenlight-nginx"
			if (t == "rclone" || t == "curl" || t == "gl-base")
				ref = "greenlight"
			if (ref != "" && (ref in m) && m[t] > 0)
				ratio = sprintf("%.2fx", m[ref] / m[t])
			printf "%-4s %-17s %9.1f %8.1f MiB %7.2f %16s\n", s, t,
			    m[t], rss[k] / 1024, median(cpu[k]), ratio
		}
		delete m
	}
}' "$results"
echo "(median of $runs runs; peak RSS is the largest of the runs; CPU = user +"
echo " system seconds, median; destinations in $O; raw numbers in $results)"
