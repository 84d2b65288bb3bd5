#!/usr/bin/env bash
# deploy_hostile_archive: each kind of hostile archive listed in [unpack]
# (absolute path, "..", a symlink leaving the release, a hardlink out of
# it, a device node, a FIFO) is refused as a whole with the entry named and
# exit 6; nothing outside the release is written, the new release is not
# installed, and the current one keeps serving, untouched.
# timeout: 150
set -euo pipefail
. "${GL_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lab/lib.sh"
. "$GL_LAB/demo-lib.sh"
lab_systemd_reexec "$@"
lab_init deploy_hostile_archive
lab_azurite_start
lab_imds_start
port=$(lab_free_port)
demo_publish v1 --port "$port"
lab_config "$T/gl.ini"
expect_exit 0 "$GREENLIGHT" deploy --config "$T/gl.ini" --release v1
pid=$(systemctl --user show -P MainPID greenlight-demo.service)
seal=$(sha256sum <"$T/root/releases/v1/.greenlight-release.json")

# evil KIND: a tar.zst with one good file, then the hostile entry
evil() {
	python3 - "$T/evil-$1.tar" "$1" "$T" <<-'PY'
		import io, sys, tarfile
		out, kind, t = sys.argv[1:4]
		with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
		    def add(ti, data=b""):
		        ti.size = len(data)
		        tf.addfile(ti, io.BytesIO(data))
		    add(tarfile.TarInfo("ok.txt"), b"fine\n")
		    ti = tarfile.TarInfo()
		    if kind == "absolute":
		        ti.name = t + "/outside-absolute"
		        add(ti, b"pwned\n")
		    elif kind == "dotdot":
		        ti.name = "sub/../../../../outside-dotdot"
		        add(ti, b"pwned\n")
		    elif kind == "symlink":
		        ti.name, ti.type, ti.linkname = "escape", tarfile.SYMTYPE, "../../../../../../.."
		        add(ti)
		        ti = tarfile.TarInfo("escape" + t + "/outside-symlink")
		        add(ti, b"pwned\n")
		    elif kind == "hardlink":
		        ti.name, ti.type, ti.linkname = "passwd", tarfile.LNKTYPE, "/etc/passwd"
		        add(ti)
		    elif kind == "device":
		        ti.name, ti.type, ti.devmajor, ti.devminor = "null", tarfile.CHRTYPE, 1, 3
		        add(ti)
		    elif kind == "fifo":
		        ti.name, ti.type = "pipe", tarfile.FIFOTYPE
		        add(ti)
	PY
	zstd -q -f --rm "$T/evil-$1.tar" -o "$T/evil-$1.tar.zst"
}

declare -A entry=(
	[absolute]="entry \"$T/outside-absolute\""
	[dotdot]='entry "sub/../../../../outside-dotdot"'
	[symlink]='entry "escape"'
	[hardlink]='entry "passwd"'
	[device]='entry "null"'
	[fifo]='entry "pipe"'
)
for kind in absolute dotdot symlink hardlink device fifo; do
	evil "$kind"
	demo_publish "h-$kind" --port "$port" \
		--archive "$T/evil-$kind.tar.zst:extra"
	expect_exit 6 "$GREENLIGHT" deploy --config "$T/gl.ini" --release "h-$kind"
	assert_contains "$T/err" "evil-$kind.tar.zst: ${entry[$kind]}:"
	assert_contains "$T/err" "(refused)"
	assert_contains "$T/err" "archive evil-$kind.tar.zst: refused"
	assert_contains "$T/err" "nothing was switched"
	[ ! -e "$T/root/releases/h-$kind" ] || fail "$kind: release installed"
	[ ! -e "$T/root/staging/h-$kind" ] || fail "$kind: staging left behind"
	assert_eq "releases/v1" "$(readlink "$T/root/current")" "$kind: current"
	assert_eq integrity "$(demo_state .last.error.class)"
	grep -m1 "(refused)" "$T/err" >&2
	echo "$kind: refused"
done
for f in outside-absolute outside-dotdot outside-symlink; do
	[ ! -e "$T/$f" ] && [ ! -e "/$f" ] || fail "$f was written outside the release"
done
systemctl --user status greenlight-demo.service >&2 || true
assert_eq "$pid" "$(systemctl --user show -P MainPID greenlight-demo.service)"
assert_eq "$seal" "$(sha256sum <"$T/root/releases/v1/.greenlight-release.json")"
assert_eq "code=v1 data=v1" "$(demo_version "$port")"
echo "deploy_hostile_archive: ok"
