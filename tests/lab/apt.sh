# tests/lab/apt.sh — sourced by the scripts that install what they need
# (lab setup, fuzzing). Needs a say() function from the caller.

# apt_install_missing PKG...: apt-get install those of PKG... that are not
# installed yet (with sudo unless root); nothing when all are there.
apt_install_missing() {
	local installed p sudo=()
	local missing=()

	installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" \
		2>/dev/null | awk '$1 == "ii" { print $2 }') || true
	for p in "$@"; do
		grep -qxF "$p" <<<"$installed" || missing+=("$p")
	done
	[ "${#missing[@]}" -gt 0 ] || return 0
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	say "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# In containers policy-rc.d keeps nginx/haproxy from starting; elsewhere
	# they may start on their default ports: the lab uses its own ports.
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}
