/*
 * deploy_activate.c — hooks, the switch, the restart, validation, and
 * putting the previous release back when any of them fails.
 *
 * Order at activation: write the new units and reload systemd, move
 * `current` (release_switch), run before_start, restart, validate. The
 * running workload keeps its working directory (the old release, resolved
 * when it started) until the restart, so until then it serves the old
 * release whole; after the restart it serves the new one whole. A failure
 * anywhere from the unit write on puts back what was there: the old units,
 * the old `current` and `previous`, and a restart of the old release only
 * when the new one was started, followed by its own health check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "deploy_int.h"
#include "fsutil.h"
#include "health/check.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "parse.h"
#include "service.h"

#define TAIL_IN_MESSAGE 400	 /* bytes of hook output in the message */
#define SETTLE_MS 3000		 /* no check: the units stay active this long */
#define WAIT_LOG_EVERY_MS 5000

/* The last lines of a hook's output, at most TAIL_IN_MESSAGE bytes, on one
 * line ("a | b | c"). */
static void
tail_oneline(const char *tail, size_t len, char *out, size_t outsz)
{
	const char *p = tail;
	size_t o = 0;

	while (len > 0 && (tail[len - 1] == '\n' || tail[len - 1] == ' '))
		len--;
	if (len > TAIL_IN_MESSAGE) {
		p = tail + len - TAIL_IN_MESSAGE;
		len = TAIL_IN_MESSAGE;
		/* start at a line boundary when there is one */
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '\n') {
				p += i + 1;
				len -= i + 1;
				break;
			}
		}
	}
	for (size_t i = 0; i < len && o + 4 < outsz; i++) {
		if (p[i] == '\n') {
			memcpy(out + o, " | ", 3);
			o += 3;
		} else if ((unsigned char)p[i] >= 0x20 && p[i] != 0x7f) {
			out[o++] = p[i];
		}
	}
	out[o] = '\0';
}

int
deploy_hook(struct deploy *d, enum spec_hook which, const struct spec *spec,
    const char *release, const char *dir)
{
	const struct spec_command *cmd = &spec->hooks[which];
	struct hook h;
	struct hook_result *res = NULL;
	char **argv = NULL, *argv0 = NULL, tail[TAIL_IN_MESSAGE * 2];
	const char *outcome;
	int n = 0, rc = -1;

	if (cmd->argv == NULL || cmd->argv[0] == NULL)
		return 0;
	while (cmd->argv[n] != NULL)
		n++;
	argv = calloc((size_t)n + 1, sizeof(*argv));
	res = calloc(1, sizeof(*res));
	if (argv == NULL || res == NULL) {
		deploy_fail(d, "out of memory");
		goto out;
	}
	memcpy(argv, cmd->argv, (size_t)n * sizeof(*argv));
	/* bin/x is the release's own bin/x, not a PATH lookup */
	if (strchr(argv[0], '/') != NULL && argv[0][0] != '/') {
		if (asprintf(&argv0, "%s/%s", dir, argv[0]) < 0) {
			argv0 = NULL;
			deploy_fail(d, "out of memory");
			goto out;
		}
		argv[0] = argv0;
	}
	memset(&h, 0, sizeof(h));
	h.name = spec_hook_names[which];
	h.argv = argv;
	h.timeout_ms = cmd->timeout_ms;
	h.cwd = dir;
	h.user = d->cfg->scope == SCOPE_SYSTEM ? spec->user : NULL;
	h.env = spec->environment;
	h.release = release;
	h.previous = d->old_current;
	h.release_dir = dir;
	h.root = d->paths.root;
	hooks_run(&h, res);
	/* "hook NAME: exited with status 1" -> "exited with status 1" */
	outcome = strchr(res->message, ':');
	outcome = outcome != NULL ? outcome + 2 : res->message;
	if (state_set_hook(d->st, h.name, outcome, res->tail) < 0)
		log_warn("state: out of memory recording hook %s", h.name);
	deploy_state_save(d);
	if (res->outcome != HOOK_OK) {
		tail_oneline(res->tail, res->tail_len, tail, sizeof(tail));
		deploy_fail(d, "%s%s%s", res->message,
		    tail[0] ? "; its output ended with: " : " (no output)",
		    tail);
		goto out;
	}
	rc = 0;
out:
	free(argv0);
	free(argv);
	free(res);
	return rc;
}

/* Sleep ms, but not past the monotonic deadline. */
static void
sleep_until(int64_t ms, int64_t deadline)
{
	int64_t left = deadline - clock_mono_ms();

	if (ms > left)
		ms = left;
	if (ms > 0)
		clock_sleep_ms(ms, NULL);
}

/* No check configured: the units have to stay active for a while. */
static int
validate_settle(struct deploy *d, const char *release,
    const struct spec *spec, const struct deploy_units *u)
{
	int64_t span = spec->deadline_ms < SETTLE_MS ? spec->deadline_ms :
	    SETTLE_MS;
	int64_t end = clock_mono_ms() + span;
	int64_t step = spec->interval_ms < 500 ? spec->interval_ms : 500;
	char dur[32];

	parse_format_duration(span, dur, sizeof(dur));
	log_info("validate %s: no [health] check configured; the units must "
	    "stay active for %s", release, dur);
	for (;;) {
		if (!deploy_units_active(d, u)) {
			deploy_fail(d, "release %s: its unit did not stay "
			    "active after the restart (journalctl%s -u %s "
			    "says why)", release, d->cfg->scope == SCOPE_USER ?
			    " --user" : "", u->v[0].name);
			return -1;
		}
		if (clock_mono_ms() >= end)
			return 0;
		sleep_until(step, end);
	}
}

static int
validate_check(struct deploy *d, const char *release,
    const struct spec *spec, const struct check_spec *cs)
{
	struct http_opts ho;
	struct http_client *http;
	char detail[512] = "", dur[32];
	int64_t start = clock_mono_ms(), end = start + spec->deadline_ms;
	int64_t next_log = start + WAIT_LOG_EVERY_MS;
	int ok = 0, tries = 0;

	memset(&ho, 0, sizeof(ho));
	ho.ca_file = d->cfg->ca_file;
	ho.connect_timeout_ms = cs->timeout_ms;
	ho.total_timeout_ms = cs->timeout_ms;
	ho.max_conns = 1;
	http = http_client_new(&ho);
	if (http == NULL) {
		deploy_fail(d, "validate: cannot create an HTTP client");
		return -1;
	}
	parse_format_duration(spec->deadline_ms, dur, sizeof(dur));
	log_info("validate %s: waiting up to %s for %s%s", release, dur,
	    cs->url ? "GET " : "TCP ", cs->url ? cs->url : cs->tcp);
	for (;;) {
		int64_t t;

		tries++;
		ok = check_once(http, cs, detail, sizeof(detail));
		if (ok)
			break;
		t = clock_mono_ms();
		if (t >= end)
			break;
		if (t >= next_log) {
			log_info("validate %s: still waiting: %s", release,
			    detail);
			next_log = t + WAIT_LOG_EVERY_MS;
		}
		sleep_until(cs->interval_ms, end);
	}
	http_client_free(http);
	if (!ok) {
		deploy_fail(d, "release %s did not pass its health check "
		    "within %s (%d attempts); last: %s", release, dur, tries,
		    detail);
		return -1;
	}
	log_info("validate %s: %s (after %lld ms)", release, detail,
	    (long long)(clock_mono_ms() - start));
	return 0;
}

int
deploy_validate(struct deploy *d, const char *release,
    const struct spec *spec, const struct deploy_units *u)
{
	const struct config *cfg = d->cfg;
	struct check_spec cs;
	char dir[PATH_MAX];

	memset(&cs, 0, sizeof(cs));
	/* greenlight.ini [health] overrides the release's check */
	if (cfg->check_url != NULL || cfg->check_tcp != NULL) {
		cs.url = cfg->check_url;
		cs.status = cfg->check_status;
		cs.tcp = cfg->check_url ? NULL : cfg->check_tcp;
	} else {
		cs.url = spec->check_url;
		cs.status = spec->check_status;
		cs.tcp = spec->check_url ? NULL : spec->check_tcp;
	}
	cs.interval_ms = spec->interval_ms;
	cs.timeout_ms = spec->check_timeout_ms;
	cs.threshold = 1;
	if (cs.url == NULL && cs.tcp == NULL) {
		if (validate_settle(d, release, spec, u) < 0)
			return -1;
	} else {
		if (validate_check(d, release, spec, &cs) < 0)
			return -1;
		if (!deploy_units_active(d, u)) {
			deploy_fail(d, "release %s: the check passed but its "
			    "unit %s is not active (is something else "
			    "answering on that address?)", release,
			    u->v[0].name);
			return -1;
		}
	}
	if (release_dir(&d->paths, release, dir, sizeof(dir)) < 0)
		return -1;
	return deploy_hook(d, SPEC_HOOK_VALIDATE, spec, release, dir);
}

/* No release to go back to: stop what failed and clear `current`. */
static int
restore_nothing(struct deploy *d, const struct deploy_units *u, int switched)
{
	char failed[DEPLOY_WHY_MAX];

	memcpy(failed, d->why, sizeof(failed));
	deploy_units_retire(d, NULL, u);
	if (switched) {
		if (unlink(d->paths.current) < 0 && errno != ENOENT)
			log_warn("%s: %s", d->paths.current, strerror(errno));
		fs_fsync_dir(d->paths.root);
	}
	state_set_links(d->st, NULL, NULL);
	deploy_fail(d, "%s; there was no previous release to go back to: %s "
	    "is stopped and nothing is current", failed,
	    u->n > 0 ? u->v[0].name : "the workload");
	return EXIT_ROLLEDBACK;
}

/*
 * Put d->old_current back after a failure in activation: its units, the
 * links, and (when the new release was started) a restart and a check.
 */
static int
restore(struct deploy *d, const struct deploy_units *u_new, int switched,
    int started)
{
	struct deploy_units u_old = { .n = 0 };
	struct spec *sp = NULL;
	char failed[DEPLOY_WHY_MAX], dir[PATH_MAX];
	const char *old = d->old_current;
	int rc = EXIT_FAILURE_;

	memcpy(failed, d->why, sizeof(failed));
	if (old[0] == '\0')
		return restore_nothing(d, u_new, switched);
	log_warn("putting release %s back: %s", old, failed);
	sp = deploy_spec_installed(d, old);
	if (sp == NULL || release_dir(&d->paths, old, dir, sizeof(dir)) < 0 ||
	    deploy_units_render(d, old, dir, sp, 0, &u_old) < 0 ||
	    deploy_units_install(d, &u_old) < 0) {
		log_error("release %s: cannot restore its units; they are "
		    "left as release %s wrote them", old, d->release);
		deploy_units_free(&u_old);
	}
	if (switched && release_switch_back(&d->paths, old,
	    d->old_previous) < 0) {
		deploy_fail(d, "%s; putting %s back failed too (see above): "
		    "repair by hand, then rerun", failed, old);
		goto out;
	}
	state_set_links(d->st, old, d->old_previous);
	deploy_state_save(d);
	if (u_old.n > 0)
		deploy_units_retire(d, &u_old, u_new);
	if (!started) {
		/* the old process never stopped */
		deploy_fail(d, "%s; %s kept running and is current again",
		    failed, old);
		rc = EXIT_ROLLEDBACK;
		goto out;
	}
	if (u_old.n == 0 || deploy_units_restart(d, &u_old) < 0 ||
	    deploy_validate(d, old, sp, &u_old) < 0) {
		char again[DEPLOY_WHY_MAX];

		memcpy(again, d->why, sizeof(again));
		deploy_fail(d, "%s; rolled back to %s, but it is not healthy "
		    "either: %s", failed, old, again);
		goto out;
	}
	deploy_fail(d, "%s; rolled back to %s, which is healthy", failed, old);
	rc = EXIT_ROLLEDBACK;
out:
	deploy_units_free(&u_old);
	spec_free(sp);
	return rc;
}

int
deploy_activate(struct deploy *d, const struct spec *spec,
    struct deploy_units *u, const char *command)
{
	int64_t t0 = clock_mono_ms();
	int switched = 0, started = 0;

	state_phase_add(d->st, PHASE_ACTIVATE, 0);
	deploy_state_save(d);
	if (deploy_units_install(d, u) < 0)
		goto fail;
	if (release_switch(&d->paths, d->release, NULL) < 0) {
		deploy_fail(d, "cannot switch %s to release %s (see above)",
		    d->paths.current, d->release);
		goto fail;
	}
	switched = 1;
	d->activated = 1;
	if (state_set_links(d->st, d->release, d->old_current) < 0)
		log_warn("state: out of memory");
	deploy_state_save(d);
	deploy_crash_point("deploy-switch");
	if (deploy_hook(d, SPEC_HOOK_BEFORE_START, spec, d->release,
	    d->reldir) < 0)
		goto fail;
	started = 1;
	if (deploy_units_restart(d, u) < 0)
		goto fail;
	deploy_crash_point("deploy-restart");
	state_phase_add(d->st, PHASE_ACTIVATE, clock_mono_ms() - t0);
	t0 = clock_mono_ms();
	state_phase_add(d->st, PHASE_VALIDATE, 0);
	deploy_state_save(d);
	if (deploy_validate(d, d->release, spec, u) < 0) {
		state_phase_add(d->st, PHASE_VALIDATE, clock_mono_ms() - t0);
		goto fail;
	}
	state_phase_add(d->st, PHASE_VALIDATE, clock_mono_ms() - t0);
	log_info("%s %s: active and healthy", command, d->release);
	return EXIT_OK;
fail:
	if (!switched && !started) {
		/* only the unit files changed: put them back, no restart */
		int rc = restore(d, u, 0, 0);

		return rc == EXIT_ROLLEDBACK ? EXIT_LOCAL : rc;
	}
	return restore(d, u, switched, started);
}
