#!/usr/bin/env bash
# config_example: conf/greenlight.ini, the annotated example, stays in sync
# with the key table: it is accepted with zero problems, it lists every key
# `greenlight config` knows (each once, in its own section), every default
# it shows is the real default, and it names no key that does not exist.
# timeout: 60
set -euo pipefail
source "$GL_SOURCE_DIR/tests/lab/lib.sh"
mkdir -p "${TMPDIR:-/tmp}/greenlight-tests"
T=$(mktemp -d "${TMPDIR:-/tmp}/greenlight-tests/config_example.XXXXXX")
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT
GREENLIGHT=${GREENLIGHT:-$GL_BUILD_DIR/greenlight}
EXAMPLE=$GL_SOURCE_DIR/conf/greenlight.ini

# nothing from the environment may change what the file says
for v in $(compgen -e | grep '^GREENLIGHT_' || true); do unset "$v"; done
unset RELEASE_FOLDER_NAME BLOB_CONTAINER_NAME

# 1. accepted as it is, nothing reported
expect_exit 0 "$GREENLIGHT" config --config "$EXAMPLE"
[ ! -s "$T/err" ] || { cat "$T/err" >&2; fail "the example logs problems"; }
cp "$T/out" "$T/example.out"

# Fields are separated by US (\x1f): unlike a tab, read(1) never merges two
# of them, so an empty value stays a field.
US=$'\x1f'
# `greenlight config` output -> "section US key US value US origin"
printed() {
	awk '/^\[/ { s = substr($0, 2, length($0) - 2); next }
		/^[a-z_]+ = / {
			k = $1; v = $0; o = ""
			sub(/^[a-z_]+ = /, "", v)
			if (match(v, / +# /)) {
				o = substr(v, RSTART + RLENGTH)
				v = substr(v, 1, RSTART - 1)
			}
			sub(/ +$/, "", v)
			printf "%s\037%s\037%s\037%s\n", s, k, v, o
		}' "$1"
}
# the example -> "section US key US value US commented US line"
example_keys() {
	awk '/^\[/ { s = substr($0, 2, index($0, "]") - 2); next }
		/^;?[a-z_]+ =/ {
			c = substr($0, 1, 1) == ";"
			l = c ? substr($0, 2) : $0
			k = l; sub(/ =.*/, "", k)
			v = l; sub(/^[a-z_]+ =[ ]?/, "", v)
			printf "%s\037%s\037%s\037%d\037%d\n", s, k, v, c, NR
		}' "$1"
}
printed "$T/example.out" >"$T/table"
example_keys "$EXAMPLE" >"$T/example"
[ "$(wc -l <"$T/table")" -ge 40 ] || fail "only $(wc -l <"$T/table") keys printed"

# 2. every key of the table is in the example, once, in its section
while IFS=$US read -r s k v o; do
	n=$(awk -F"$US" -v s="$s" -v k="$k" '$1 == s && $2 == k' "$T/example" |
		wc -l)
	[ "$n" -eq 1 ] ||
		fail "[$s] $k appears $n times in conf/greenlight.ini (want 1)"
done <"$T/table"

# 3. every key line of the example is a real key
while IFS=$US read -r s k v c line; do
	grep -qF "$s$US$k$US" "$T/table" ||
		fail "conf/greenlight.ini:$line: [$s] $k is not a configuration key"
done <"$T/example"

# 4. a commented-out key shows the default: uncommented, nothing changes
sed -E 's/^;([a-z_]+ = .+)$/\1/' "$EXAMPLE" >"$T/uncommented.ini"
expect_exit 0 "$GREENLIGHT" config --config "$T/uncommented.ini"
[ ! -s "$T/err" ] || { cat "$T/err" >&2; fail "uncommented defaults rejected"; }
printed "$T/out" >"$T/table2"
while IFS=$US read -r s k v c line; do
	[ "$c" = 1 ] || continue
	got=$(awk -F"$US" -v s="$s" -v k="$k" '$1 == s && $2 == k { print $3 }' \
		"$T/table")
	origin=$(awk -F"$US" -v s="$s" -v k="$k" \
		'$1 == s && $2 == k { print $4 }' "$T/table")
	if [ -n "$v" ]; then
		[ "$origin" = default ] ||
			fail "conf/greenlight.ini:$line: [$s] $k is commented out but its origin is '$origin'"
		[ "$v" = "$got" ] ||
			fail "conf/greenlight.ini:$line: [$s] $k shows default '$v', the real default is '$got'"
		after=$(awk -F"$US" -v s="$s" -v k="$k" \
			'$1 == s && $2 == k { print $3 "|" $4 }' "$T/table2")
		[ "$after" = "$v|$T/uncommented.ini:$line" ] ||
			fail "conf/greenlight.ini:$line: uncommented [$s] $k gave '$after'"
	else
		# no default: unset, or derived from other keys
		case "$origin" in
		unset | derived* | "default (from "*) ;;
		*) fail "conf/greenlight.ini:$line: [$s] $k is shown without a value but has default '$got' ($origin)" ;;
		esac
	fi
done <"$T/example"

# 5. the keys that are set are the placeholders a user must fill in
awk -F"$US" '$4 == 0 { print $1 "." $2 }' "$T/example" | sort >"$T/set"
printf '%s\n' storage.account storage.container >"$T/set.want"
diff -u "$T/set.want" "$T/set" || fail "the example sets other keys than account and container"

# 6. and both are needed: without them `config` names what is missing
grep -vE '^(account|container) =' "$EXAMPLE" >"$T/bare.ini"
expect_exit 3 "$GREENLIGHT" config --config "$T/bare.ini"
assert_contains "$T/err" "error: storage.account is required"
assert_contains "$T/err" "error: storage.container is required"
echo "ok: $(wc -l <"$T/table") keys in sync"
