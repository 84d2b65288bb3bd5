#!/usr/bin/env bash
# Install greenlight on a VM (Debian/Ubuntu): build dependencies, build from
# this source tree, install the binary and an example configuration.
# Idempotent: rerunning upgrades the binary and never overwrites an existing
# configuration.
#
#   usage: installer/install.sh [--prefix DIR] [--sysconfdir DIR] [--no-deps]
#                               [--config-from FILE]
#
#   --prefix DIR        binary goes to DIR/bin (default /usr/local)
#   --sysconfdir DIR    configuration goes to DIR/greenlight (default /etc)
#   --no-deps           do not apt-get install the build dependencies
#   --config-from FILE  install FILE as greenlight.ini when none exists yet
#                       (default: the annotated conf/greenlight.ini)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
sysconfdir=/etc
deps=1
config_from=$top/conf/greenlight.ini

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=$2; shift 2 ;;
	--sysconfdir) sysconfdir=$2; shift 2 ;;
	--no-deps) deps=0; shift ;;
	--config-from) config_from=$2; shift 2 ;;
	-h|--help) sed -n 2,16p "$0"; exit 0 ;;
	*) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done

if [ "$deps" = 1 ]; then
	pkgs=(cmake pkg-config gcc make libcurl4-openssl-dev libarchive-dev
		libssl-dev libinih-dev libexpat1-dev libjansson-dev
		libmicrohttpd-dev)
	missing=()
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
		echo "install.sh: apt-get install ${missing[*]}"
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			"${missing[@]}" >/dev/null
	fi
fi

build=$(mktemp -d "${TMPDIR:-/tmp}/greenlight-build.XXXXXX")
trap 'rm -rf "$build"' EXIT
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DGREENLIGHT_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
install -d -m 0755 "$prefix/bin"
# install(1) writes a new file and renames it: a running greenlight health
# keeps its old binary until it restarts.
install -m 0755 "$build/greenlight" "$prefix/bin/greenlight"

confdir=$sysconfdir/greenlight
install -d -m 0755 "$confdir"
if [ ! -e "$confdir/greenlight.ini" ]; then
	install -m 0644 "$config_from" "$confdir/greenlight.ini"
	echo "install.sh: wrote $confdir/greenlight.ini: set [storage] account and container"
else
	echo "install.sh: kept the existing $confdir/greenlight.ini"
fi
echo "install.sh: installed $("$prefix/bin/greenlight" --version) as $prefix/bin/greenlight"
