#!/usr/bin/env bash
# make-release.sh — build one release folder of the demo app the way CI
# would upload it:
#
#   release.ini    the spec (from release.ini.in)
#   VERSION        a loose file: the release name
#   app.tar.zst    bin/server.py (the release name baked in) and
#                  lib/greeting.txt, extracted by deploy while it downloads
#   MANIFEST       "sha256  size  path" of every other file
#
# usage: make-release.sh OUT_DIR VERSION [options]
#   --port N          the app listens on 127.0.0.1:N (default 18080)
#   --name NAME       systemd unit name (default greenlight-demo)
#   --unhealthy       /health answers 500: validation fails
#   --deadline D      validation deadline (default 20s)
#   --interval D      pause between health checks (default 200ms)
#   --daemon          [health] daemon = true: also run `greenlight health`
#   --hook NAME=CMD   a [hooks] line, run through sh -c (repeatable)
#   --pad SIZE        also pack lib/pad.bin of SIZE random bytes (e.g. 8M)
#   --archive F[:DIR] add archive file F to the release and to [unpack]
#                     (extracted into DIR of the release; repeatable)
#   --file F          add F to the release as a loose file (repeatable)
#   --content DIR     also pack DIR's files under data/ in app.tar.zst
#   --level N         zstd level of app.tar.zst (default 3)
#   --no-manifest     leave out the MANIFEST
# make-release.sh --manifest OUT_DIR: (re)write the MANIFEST of OUT_DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

manifest() {
	local text
	text=$(cd "$1" && find . -type f ! -name MANIFEST -printf '%P\n' |
		LC_ALL=C sort | while IFS= read -r f; do
			printf '%s  %s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" \
				"$(stat -c %s "$f")" "$f"
		done)
	printf '%s\n' "$text" >"$1/MANIFEST"
}

if [ "${1:-}" = --manifest ]; then
	manifest "$2"
	exit 0
fi
[ $# -ge 2 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
out=$1 version=$2
shift 2
port=18080 name=greenlight-demo healthy=yes deadline=20s pad= with_manifest=1
interval=200ms
hooks=() archives=() files=() content= level=3 daemon=
while [ $# -gt 0 ]; do
	case $1 in
	--port) port=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--unhealthy) healthy=no; shift ;;
	--deadline) deadline=$2; shift 2 ;;
	--interval) interval=$2; shift 2 ;;
	--daemon) daemon=1; shift ;;
	--hook) hooks+=("$2"); shift 2 ;;
	--pad) pad=$2; shift 2 ;;
	--archive) archives+=("$2"); shift 2 ;;
	--file) files+=("$2"); shift 2 ;;
	--content) content=$2; shift 2 ;;
	--level) level=$2; shift 2 ;;
	--no-manifest) with_manifest=0; shift ;;
	*) echo "make-release.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

rm -rf "$out"
mkdir -p "$out"
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
mkdir -p "$pkg/bin" "$pkg/lib"
sed -e "s/@VERSION@/$version/" -e "s/@HEALTHY@/$healthy/" \
	"$here/server.py" >"$pkg/bin/server.py"
chmod 755 "$pkg/bin/server.py"
cp "$here/greeting.txt" "$pkg/lib/greeting.txt"
if [ -n "$pad" ]; then
	head -c "$(numfmt --from=iec "$pad")" /dev/urandom >"$pkg/lib/pad.bin"
fi
if [ -n "$content" ]; then
	ln -s "$(cd "$content" && pwd)" "$pkg/data"
fi
tar -C "$pkg" --owner=0 --group=0 --dereference -cf - bin lib \
	${content:+data} | zstd -q -T0 "-$level" -o "$out/app.tar.zst"

printf '%s\n' "$version" >"$out/VERSION"
sed -e "s/@NAME@/$name/" -e "s/@PORT@/$port/g" -e "s/@DEADLINE@/$deadline/" \
	-e "s/@INTERVAL@/$interval/" "$here/release.ini.in" >"$out/release.ini"
[ -z "$daemon" ] || sed -i '/^deadline = /a daemon = true' "$out/release.ini"
for a in ${archives[@]+"${archives[@]}"}; do
	f=${a%%:*} line="archive = $(basename "${a%%:*}")"
	[[ $a == *:* ]] && line+=" -> ${a#*:}"
	cp "$f" "$out/"
	sed -i "/^archive = app.tar.zst\$/a $line" "$out/release.ini"
done
for f in ${files[@]+"${files[@]}"}; do
	cp "$f" "$out/"
done
if [ ${#hooks[@]} -gt 0 ]; then
	{
		printf '\n[hooks]\nshell = true\n'
		for h in "${hooks[@]}"; do
			printf '%s = %s\n' "${h%%=*}" "${h#*=}"
		done
	} >>"$out/release.ini"
fi
[ "$with_manifest" = 1 ] && manifest "$out"
exit 0
