/*
 * deploy.c — the deploy pipeline and the rollback command.
 *
 *   preflight  configuration, clock, the lock, the layout, free space
 *   plan       already current, intact, units in place and active? exit 0
 *              without contacting anything (a deploy interrupted by a
 *              crash is never a no-op: its rerun converges)
 *   fetch      into staging/<R>/tree, archives unpacked while they
 *              download (deploy_fetch.c); skipped when releases/<R> is
 *              installed and intact already
 *   install    before_install, seal, rename into releases/<R>,
 *              after_install, units rendered and verified
 *   activate   units written, current switched, before_start, restart,
 *              validate (deploy_activate.c); on failure the previous
 *              release is put back
 *   commit     units the release no longer has removed, old releases
 *              pruned, staging removed, state written
 *
 * The state file is written at every phase, so `greenlight status` shows
 * a deploy in progress, and a deploy killed at any point is recognised by
 * the next one (its last run is still RUNNING).
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "deploy_int.h"
#include "fsutil.h"
#include "hooks.h"
#include "log.h"
#include "parse.h"
#include "proc.h"

#define DEPLOY_MIN_FREE (64ll << 20) /* below this, do not even start */
#define CLOCK_SANE_S 1704067200	     /* 2024-01-01: earlier is wrong */
#define USERADD_TIMEOUT_MS 30000

void
deploy_fail(struct deploy *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
}

void
deploy_crash_point(const char *point)
{
	const char *want = getenv("GREENLIGHT_CRASH_AT");

	if (want != NULL && strcmp(want, point) == 0) {
		log_warn("GREENLIGHT_CRASH_AT=%s: killing this process (test)",
		    point);
		raise(SIGKILL);
	}
}

void
deploy_state_save(struct deploy *d)
{
	if (d->st != NULL && state_save(d->st, d->cfg->state_file) < 0)
		log_warn("state: %s not updated (see above); the deploy "
		    "goes on", d->cfg->state_file);
}

/* A run for cfg, or NULL with *rc set (logged). Free with deploy_free. */
static struct deploy *
deploy_new(const struct config *cfg, const struct deploy_opts *opts, int *rc)
{
	struct deploy *d;

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		log_error("out of memory");
		*rc = EXIT_FAILURE_;
		return NULL;
	}
	d->cfg = cfg;
	d->opts = opts;
	d->lock.fd = -1;
	if (release_paths_init(&d->paths, cfg->root) < 0) {
		free(d);
		*rc = EXIT_CONFIG;
		return NULL;
	}
	return d;
}

/* The release this run is about, and its paths. */
static int
deploy_target(struct deploy *d, const char *release)
{
	if (release == NULL || !release_name_valid(release)) {
		log_error("release \"%s\" is not a valid release name: 1 to "
		    "%d of A-Z a-z 0-9 . _ + -, not starting with . or -",
		    release ? release : "", RELEASE_NAME_MAX);
		return EXIT_CONFIG;
	}
	snprintf(d->release, sizeof(d->release), "%s", release);
	if (release_dir(&d->paths, release, d->reldir, sizeof(d->reldir)) < 0 ||
	    fs_path_join(d->stage, sizeof(d->stage), d->paths.staging,
	    release) < 0 ||
	    fs_path_join(d->tree, sizeof(d->tree), d->stage, "tree") < 0 ||
	    fs_path_join(d->files, sizeof(d->files), d->stage, "files") < 0 ||
	    fs_path_join(d->fstage, sizeof(d->fstage), d->stage, "fetch") < 0)
		return EXIT_CONFIG;
	return EXIT_OK;
}

static void
deploy_free(struct deploy *d)
{
	release_unlock(&d->lock);
	state_free(d->st);
	free(d);
}

/* What current and previous point at now ("" for none). 0, or -1. */
static int
links_read(struct deploy *d, char cur[RELEASE_NAME_MAX + 1],
    char prev[RELEASE_NAME_MAX + 1])
{
	if (release_link_read(&d->paths, d->paths.current, cur,
		RELEASE_NAME_MAX + 1) < 0 ||
	    release_link_read(&d->paths, d->paths.previous, prev,
		RELEASE_NAME_MAX + 1) < 0)
		return -1;
	return 0;
}

/* Remove staging/<X> for every X but the release being deployed. */
static void
staging_sweep(struct deploy *d)
{
	DIR *dir = opendir(d->paths.staging);
	struct dirent *de;
	char path[PATH_MAX];

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, d->release) == 0)
			continue;
		if (fs_path_join(path, sizeof(path), d->paths.staging,
		    de->d_name) < 0)
			continue;
		log_info("staging: removing %s, left by an earlier deploy",
		    path);
		fs_rm_rf(path);
	}
	closedir(dir);
}

/* Configuration is checked by the caller; here the machine. */
static int
preflight(struct deploy *d)
{
	const struct config *cfg = d->cfg;
	long long avail;
	int rc;

	if (clock_wall_s() < CLOCK_SANE_S) {
		log_error("the system clock says %lld (Unix seconds), which is "
		    "before 2024: tokens and TLS certificates will be "
		    "refused; fix the time (timedatectl, chrony) and rerun",
		    (long long)clock_wall_s());
		return EXIT_LOCAL;
	}
	rc = release_lock(&d->lock, cfg->lock_file, cfg->lock_wait_ms);
	if (rc != EXIT_OK)
		return rc;
	if (release_layout_make(&d->paths) < 0)
		return EXIT_LOCAL;
	avail = fs_free_bytes(d->paths.root);
	if (avail >= 0 && avail < DEPLOY_MIN_FREE) {
		char have[32];

		parse_format_size((uint64_t)avail, have, sizeof(have));
		log_error("%s: only %s free; free some space and rerun",
		    d->paths.root, have);
		return EXIT_LOCAL;
	}
	d->st = state_load(cfg->state_file);
	if (d->st == NULL) {
		log_error("out of memory");
		return EXIT_FAILURE_;
	}
	return EXIT_OK;
}

/*
 * The workload's user exists (the default one is made when missing; system
 * scope only). Returns EXIT_OK, EXIT_CONFIG (a named user is missing) or
 * EXIT_LOCAL (useradd failed), with d->why set.
 */
static int
user_ensure(struct deploy *d, const struct spec *sp)
{
	static char *const env[] = { "PATH=" HOOKS_PATH, NULL };
	char *argv[] = { "useradd", "--system", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		(char *)SPEC_DEFAULT_USER, NULL };
	struct proc_opts po;
	struct proc_result pr = { 0 };
	int ok;

	if (d->cfg->scope != SCOPE_SYSTEM || getpwnam(sp->user) != NULL)
		return EXIT_OK;
	if (!sp->user_default) {
		deploy_fail(d, "%s [service] user %s does not exist on this "
		    "machine; create it, or leave user unset to run as %s",
		    SPEC_FILE, sp->user, SPEC_DEFAULT_USER);
		return EXIT_CONFIG;
	}
	log_info("creating system user %s for the workload",
	    SPEC_DEFAULT_USER);
	memset(&po, 0, sizeof(po));
	po.argv = argv;
	po.envp = env;
	po.timeout_ms = USERADD_TIMEOUT_MS;
	if (proc_run(&po, &pr) < 0) {
		deploy_fail(d, "cannot run useradd to create %s",
		    SPEC_DEFAULT_USER);
		return EXIT_LOCAL;
	}
	ok = pr.exited && pr.status == 0;
	if (!ok)
		deploy_fail(d, "useradd %s failed: %s", SPEC_DEFAULT_USER,
		    pr.tail ? pr.tail : "");
	proc_result_free(&pr);
	return ok ? EXIT_OK : EXIT_LOCAL;
}

/*
 * A no-op touches nothing, not even the state file, unless the state file
 * says something else than "R deployed fine" (a failed run, a lost file):
 * then it records the no-op, so that status tells the truth.
 */
static void
noop_record(struct deploy *d, const char *cur, const char *prev)
{
	const struct state_run *last = &d->st->last;

	if ((last->result == RESULT_OK || last->result == RESULT_NOOP) &&
	    last->release != NULL && strcmp(last->release, d->release) == 0 &&
	    d->st->current != NULL && strcmp(d->st->current, d->release) == 0)
		return;
	if (state_begin(d->st, "deploy", d->release) == 0 &&
	    state_set_links(d->st, cur, prev) == 0) {
		state_finish(d->st, RESULT_NOOP, EXIT_OK);
		deploy_state_save(d);
	}
}

/* Build releases/<R>: fetch, unpack, before_install, seal, rename. */
static int
install_new(struct deploy *d)
{
	struct spec *sp = NULL;
	int64_t t0, t1;
	int rc;

	state_phase_add(d->st, PHASE_FETCH, 0);
	deploy_state_save(d);
	rc = deploy_fetch_tree(d, &sp);
	if (rc != EXIT_OK)
		goto out;
	t0 = clock_mono_ms();
	state_phase_add(d->st, PHASE_INSTALL, 0);
	deploy_state_save(d);
	rc = user_ensure(d, sp);
	if (rc != EXIT_OK)
		goto out;
	rc = EXIT_CONFIG;
	deploy_crash_point("deploy-hooks");
	if (deploy_hook(d, SPEC_HOOK_BEFORE_INSTALL, sp, d->release,
	    d->tree) < 0)
		goto out;
	rc = EXIT_LOCAL;
	t1 = clock_mono_ms();
	if (release_seal(d->tree, d->release, 1) < 0) {
		deploy_fail(d, "cannot seal %s (see above)", d->tree);
		goto out;
	}
	log_debug("release %s: sealed in %lld ms", d->release,
	    (long long)(clock_mono_ms() - t1));
	if (release_install(&d->paths, d->tree, d->release) < 0) {
		deploy_fail(d, "cannot install release %s into %s (see "
		    "above)", d->release, d->reldir);
		goto out;
	}
	state_phase_add(d->st, PHASE_INSTALL, clock_mono_ms() - t0);
	rc = EXIT_OK;
out:
	spec_free(sp);
	return rc;
}

/* After success: drop the units the old release had and this one has not. */
static void
commit_units(struct deploy *d, const struct deploy_units *u)
{
	struct deploy_units u_old = { .n = 0 };
	struct spec *sp;
	char dir[PATH_MAX];

	if (d->old_current[0] != '\0' &&
	    strcmp(d->old_current, d->release) != 0 &&
	    (sp = deploy_spec_installed(d, d->old_current)) != NULL) {
		if (release_dir(&d->paths, d->old_current, dir,
		    sizeof(dir)) == 0 && deploy_units_render(d,
		    d->old_current, dir, sp, 0, &u_old) == 0)
			deploy_units_retire(d, u, &u_old);
		deploy_units_free(&u_old);
		spec_free(sp);
	}
}

/* After success: old units, old releases and staging go. */
static void
commit(struct deploy *d, const struct deploy_units *u)
{
	int64_t t0 = clock_mono_ms();
	int n;

	commit_units(d, u);
	n = release_prune(&d->paths, d->cfg->keep);
	if (n > 0)
		log_info("pruned %d old release%s (keeping %ld besides current "
		    "and previous)", n, n == 1 ? "" : "s", d->cfg->keep);
	fs_rm_rf(d->stage);
	state_phase_add(d->st, PHASE_COMMIT, clock_mono_ms() - t0);
}

/* Record the end of the run and say it once, last. */
static void
finish(struct deploy *d, int rc, int activated, int64_t started)
{
	enum state_result res;
	char took[32];

	parse_format_duration(clock_mono_ms() - started, took, sizeof(took));
	if (rc == EXIT_OK) {
		res = RESULT_OK;
	} else {
		res = activated ? RESULT_ROLLEDBACK : RESULT_FAILED;
		if (d->why[0] == '\0')
			snprintf(d->why, sizeof(d->why), "%s of %s failed "
			    "(%s, see above)", d->st->last.command,
			    d->release, exit_code_name(rc));
		if (state_set_error(d->st, rc, d->why) < 0)
			log_warn("state: out of memory");
	}
	state_finish(d->st, res, rc);
	deploy_state_save(d);
	if (rc == EXIT_OK)
		printf("release %s is current and healthy%s%s%s (took %s)\n",
		    d->release, d->old_current[0] ? " (previous: " : "",
		    d->old_current, d->old_current[0] ? ")" : "", took);
	else
		log_error("%s", d->why);
}

/* Start the state file's record of this run; -1 out of memory. */
static int
run_begin(struct deploy *d, const char *command, const char *cur,
    const char *prev, int64_t preflight_start)
{
	if (state_begin(d->st, command, d->release) < 0)
		return -1;
	state_phase_add(d->st, PHASE_PREFLIGHT,
	    clock_mono_ms() - preflight_start);
	state_set_links(d->st, cur, prev);
	deploy_state_save(d);
	return 0;
}

/*
 * Ready the installed d->release for activation: its spec loaded into *spp,
 * its user made, after_install run when asked (a deploy, not a rollback),
 * its units rendered and verified into u. EXIT_OK, or the failure with
 * d->why set.
 */
static int
units_prepare(struct deploy *d, int after_install, struct spec **spp,
    struct deploy_units *u)
{
	int rc;

	*spp = deploy_spec_installed(d, d->release);
	if (*spp == NULL) {
		deploy_fail(d, "%s of release %s does not load (see above)",
		    SPEC_FILE, d->release);
		return EXIT_CONFIG;
	}
	rc = user_ensure(d, *spp);
	if (rc != EXIT_OK)
		return rc;
	if (after_install && deploy_hook(d, SPEC_HOOK_AFTER_INSTALL, *spp,
	    d->release, d->reldir) < 0)
		return EXIT_CONFIG;
	if (deploy_units_render(d, d->release, d->reldir, *spp, 1, u) < 0)
		return EXIT_CONFIG;
	return EXIT_OK;
}

int
deploy_run(const struct config *cfg, const struct deploy_opts *opts)
{
	struct deploy *d;
	struct deploy_units u = { .n = 0 };
	struct spec *sp = NULL;
	char cur[RELEASE_NAME_MAX + 1], prev[RELEASE_NAME_MAX + 1];
	int64_t started = clock_mono_ms(), t0;
	int rc, activated = 0;

	d = deploy_new(cfg, opts, &rc);
	if (d == NULL)
		return rc;
	rc = deploy_target(d, cfg->release);
	if (rc != EXIT_OK)
		goto out;
	if (links_read(d, cur, prev) < 0) {
		rc = EXIT_LOCAL;
		goto out;
	}
	if (opts->dry_run) {
		rc = deploy_plan_print(d, cur, prev);
		goto out;
	}
	t0 = clock_mono_ms();
	rc = preflight(d);
	if (rc != EXIT_OK)
		goto out;
	/* read again: a deploy we waited for may have moved them */
	if (links_read(d, cur, prev) < 0) {
		rc = EXIT_LOCAL;
		goto out;
	}
	if (d->st->last.result == RESULT_RUNNING) {
		const struct state_run *last = &d->st->last;
		int same = last->release != NULL &&
		    strcmp(last->release, d->release) == 0;

		log_warn("the last %s of %s did not finish (killed?); %s",
		    last->command ? last->command : "run",
		    last->release ? last->release : "?",
		    same ? "finishing it now" : "deploying this release "
		    "instead");
	}
	if (deploy_plan_noop(d, cur)) {
		noop_record(d, cur, prev);
		printf("release %s is already current and healthy; nothing to "
		    "do\n", d->release);
		rc = EXIT_OK;
		goto out;
	}
	if (run_begin(d, "deploy", cur, prev, t0) < 0) {
		rc = EXIT_FAILURE_;
		goto out;
	}
	if (strcmp(cur, d->release) == 0) {
		/* converging: the release to fall back to is previous */
		snprintf(d->old_current, sizeof(d->old_current), "%s", prev);
	} else {
		snprintf(d->old_current, sizeof(d->old_current), "%s", cur);
		snprintf(d->old_previous, sizeof(d->old_previous), "%s", prev);
	}
	log_info("deploy %s: current %s, previous %s", d->release,
	    cur[0] ? cur : "(none)", prev[0] ? prev : "(none)");

	if (release_intact(&d->paths, d->release, 0)) {
		log_info("release %s: installed already; no download",
		    d->release);
	} else if (strcmp(cur, d->release) == 0 ||
	    strcmp(prev, d->release) == 0) {
		/* release_install would refuse to replace it after the
		 * download: say so before downloading */
		rc = EXIT_LOCAL;
		deploy_fail(d, "release %s: %s is %s but damaged (its seal "
		    "is missing or wrong); deploy another release first, or "
		    "move it away by hand, then rerun", d->release,
		    d->reldir, strcmp(cur, d->release) == 0 ? "current" :
		    "previous");
		goto fail;
	} else {
		staging_sweep(d);
		rc = install_new(d);
		if (rc != EXIT_OK)
			goto fail;
	}
	t0 = clock_mono_ms();
	rc = units_prepare(d, 1, &sp, &u);
	if (rc != EXIT_OK)
		goto fail;
	log_debug("release %s: units rendered and verified in %lld ms",
	    d->release, (long long)(clock_mono_ms() - t0));
	state_phase_add(d->st, PHASE_INSTALL, clock_mono_ms() - t0);

	rc = deploy_activate(d, sp, &u, "deploy");
	activated = d->activated;
	if (rc != EXIT_OK)
		goto fail;
	commit(d, &u);
	finish(d, rc, activated, started);
	goto out;
fail:
	/* keep a download worth resuming: one cut short by the network or
	 * a full disk, of a release not installed yet */
	if ((rc != EXIT_TEMPORARY && rc != EXIT_LOCAL) ||
	    release_intact(&d->paths, d->release, 0))
		fs_rm_rf(d->stage);
	finish(d, rc, activated, started);
out:
	deploy_units_free(&u);
	spec_free(sp);
	deploy_free(d);
	return rc;
}

int
deploy_rollback(const struct config *cfg, const struct deploy_opts *opts,
    const char *to)
{
	struct deploy *d;
	struct deploy_units u = { .n = 0 };
	struct spec *sp = NULL;
	char cur[RELEASE_NAME_MAX + 1], prev[RELEASE_NAME_MAX + 1];
	int64_t started = clock_mono_ms(), t0;
	int rc, activated = 0;

	d = deploy_new(cfg, opts, &rc);
	if (d == NULL)
		return rc;
	t0 = clock_mono_ms();
	rc = preflight(d);
	if (rc != EXIT_OK)
		goto out;
	rc = EXIT_LOCAL;
	if (links_read(d, cur, prev) < 0)
		goto out;
	if (to == NULL && prev[0] == '\0') {
		log_error("rollback: there is no previous release in %s to go "
		    "back to; name an installed one with --to R",
		    d->paths.root);
		rc = EXIT_NOTFOUND;
		goto out;
	}
	rc = deploy_target(d, to != NULL ? to : prev);
	if (rc != EXIT_OK)
		goto out;
	if (strcmp(cur, d->release) == 0) {
		printf("release %s is current already; nothing to do\n",
		    d->release);
		rc = EXIT_OK;
		goto out;
	}
	if (!release_intact(&d->paths, d->release, 1)) {
		log_error("rollback: release %s is not installed (or not "
		    "intact) in %s; deploy it instead (greenlight deploy "
		    "--release %s)", d->release, d->paths.releases,
		    d->release);
		rc = EXIT_NOTFOUND;
		goto out;
	}
	rc = EXIT_FAILURE_;
	if (run_begin(d, "rollback", cur, prev, t0) < 0)
		goto out;
	snprintf(d->old_current, sizeof(d->old_current), "%s", cur);
	snprintf(d->old_previous, sizeof(d->old_previous), "%s", prev);
	log_info("rollback to %s: current %s, previous %s", d->release,
	    cur[0] ? cur : "(none)", prev[0] ? prev : "(none)");
	t0 = clock_mono_ms();
	rc = units_prepare(d, 0, &sp, &u);
	if (rc != EXIT_OK)
		goto fail;
	state_phase_add(d->st, PHASE_INSTALL, clock_mono_ms() - t0);
	rc = deploy_activate(d, sp, &u, "rollback");
	activated = d->activated;
	if (rc != EXIT_OK)
		goto fail;
	t0 = clock_mono_ms();
	commit_units(d, &u);
	state_phase_add(d->st, PHASE_COMMIT, clock_mono_ms() - t0);
fail:
	finish(d, rc, activated, started);
out:
	deploy_units_free(&u);
	spec_free(sp);
	deploy_free(d);
	return rc;
}
