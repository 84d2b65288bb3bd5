#!/usr/bin/env bash
# Seeds for fuzz_unpack, made with bsdtar at run time so no binary archive is
# committed: a small release tree in every format unpack reads (tar in
# ustar/pax/gnu, .gz, .xz, .zst, zip stored and deflated), and hostile
# archives unpack must refuse ("..", absolute and escaping symlinks, a
# FIFO, a device node, a duplicate entry) or defuse (a setuid file).
# Usage: make-archive-seeds.sh OUTDIR
set -euo pipefail
out=${1:?usage: make-archive-seeds.sh OUTDIR}
command -v bsdtar >/dev/null || {
	echo "make-archive-seeds: bsdtar missing (apt-get install libarchive-tools)" >&2
	exit 1
}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

mkdir -p tree/bin tree/etc tree/lib/empty
printf '#!/bin/sh\necho hello\n' >tree/bin/server
chmod 755 tree/bin/server
printf 'port = 8080\n' >tree/etc/app.conf
printf '[service]\nname = app\nexec = bin/server\n' >tree/release.ini
ln -s ../etc/app.conf tree/bin/config
ln tree/etc/app.conf tree/etc/hardlink.conf

t() { bsdtar -b 1 "$@"; }
t -cf "$out/tree.tar" --format ustar -C tree .
t -cf "$out/tree-pax.tar" --format pax -C tree .
t -cf "$out/tree-gnu.tar" --format gnutar -C tree .
t -czf "$out/tree.tar.gz" -C tree .
t -cJf "$out/tree.tar.xz" -C tree .
t -c --zstd -f "$out/tree.tar.zst" -C tree .
bsdtar -cf "$out/tree-stored.zip" --format zip --options zip:compression=store \
	-C tree .
bsdtar -cf "$out/tree.zip" --format zip -C tree .

# hostile: refused as a whole, or (suid) extracted without the bit
printf 'x\n' >a
t -cf "$out/dotdot.tar" -s ',^a$,../a,' a
ln -s /etc/passwd abs
t -cf "$out/abs-symlink.tar" abs
ln -s ../../outside up
t -cf "$out/up-symlink.tar" up
t -cf "$out/dup.tar" a a
cp a suid && chmod 4755 suid
t -cf "$out/suid.tar" suid
mkfifo fifo
t -cf "$out/fifo.tar" fifo
printf '#mtree\n./null type=char mode=0666 device=native,1,3\n' >dev.mtree
t -cf "$out/device.tar" @dev.mtree
echo "make-archive-seeds: $(ls "$out" | wc -l) seeds in $out" >&2
