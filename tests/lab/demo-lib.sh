# demo-lib.sh — helpers shared by the demo (tests/lab/demo.sh) and the
# deploy, rollback and status integration tests; source after lib.sh.
#
#   demo_publish VERSION [make-release.sh options]   build the demo app's
#       release VERSION in $T/src/VERSION and upload it to container
#       "releases" (created on first use)
#   demo_version PORT       what the app on PORT serves at /version
#                           ("code=v2 data=v2"), or "down"
#   demo_state KEY          one field of the state file (jq path, e.g.
#                           .current or .last.result)

DEMO_APP=${DEMO_APP:-$GL_LAB/demo-app}

demo_publish() {
	local version=$1
	shift
	bash "$DEMO_APP/make-release.sh" "$T/src/$version" "$version" "$@" ||
		fail "make-release.sh $version failed"
	if [ ! -e "$T/.lab/demo-container" ]; then
		lab_container_create releases >/dev/null
		: >"$T/.lab/demo-container"
	fi
	lab_upload "$T/src/$version" releases "$version" >/dev/null
}

demo_version() {
	curl -sf --max-time 2 "http://127.0.0.1:$1/version" 2>/dev/null ||
		echo down
}

demo_state() {
	jq -r "$1" "$T/state/state.json"
}
