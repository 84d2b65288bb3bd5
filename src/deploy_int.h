/*
 * deploy_int.h — what the deploy_*.c files share (not for other modules):
 * the run's context, the units of one release, and the steps each file
 * implements. deploy.c drives the pipeline; deploy_fetch.c downloads and
 * unpacks into staging; deploy_units.c renders and installs systemd units;
 * deploy_activate.c runs hooks, validates and puts a release back.
 */
#ifndef GREENLIGHT_DEPLOY_INT_H
#define GREENLIGHT_DEPLOY_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "deploy.h"
#include "fetch.h"
#include "release.h"
#include "spec.h"
#include "state.h"

#define DEPLOY_WHY_MAX 1024
#define DEPLOY_UNITS_MAX 2 /* the workload, and greenlight health */
#define DEPLOY_HEALTH_UNIT "greenlight-health"

/* One run of deploy or rollback. */
struct deploy {
	const struct config *cfg;
	const struct deploy_opts *opts;
	struct release_paths paths;
	struct release_lock lock;
	struct state *st;
	char release[RELEASE_NAME_MAX + 1];	 /* the target */
	char old_current[RELEASE_NAME_MAX + 1];	 /* what to go back to */
	char old_previous[RELEASE_NAME_MAX + 1]; /* and its previous */
	char stage[PATH_MAX];  /* staging/<R> */
	char files[PATH_MAX];  /* staging/<R>/files: the verified download */
	char fstage[PATH_MAX]; /* staging/<R>/fetch: the download's staging */
	char tree[PATH_MAX];   /* staging/<R>/tree: the release being built */
	char reldir[PATH_MAX]; /* releases/<R> */
	struct fetch_stats fetch;
	int activated;		/* current was switched to the target */
	char why[DEPLOY_WHY_MAX]; /* the failure, as the user reads it */
};

/* The systemd units of one release. */
struct deploy_unit {
	char stem[80];	      /* "webapp" */
	char name[96];	      /* "webapp.service" */
	char path[PATH_MAX];  /* where its file goes */
	char *text;	      /* rendered */
	int changed;	      /* its file was (re)written by this run */
	int keep_running;     /* restart only when its file changed */
};

struct deploy_units {
	struct deploy_unit v[DEPLOY_UNITS_MAX];
	int n;
};

/* deploy.c */
/* Record why the run failed (kept for the state file and the last line). */
void deploy_fail(struct deploy *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* GREENLIGHT_CRASH_AT=point: SIGKILL here (tests of crash safety). */
void deploy_crash_point(const char *point);
/* Save the state file; a failure is logged and otherwise ignored. */
void deploy_state_save(struct deploy *d);

/* deploy_plan.c */
/*
 * 1 when there is nothing to do: cur is d->release, intact, its units in
 * place and active, and no deploy of it was interrupted. Needs d->st.
 */
int deploy_plan_noop(struct deploy *d, const char *cur);
/* `deploy --dry-run`: print the plan (may read from storage). */
int deploy_plan_print(struct deploy *d, const char *cur, const char *prev);
/*
 * Read <R>/release.ini from storage into *text (malloc'd, *len bytes).
 * EXIT_OK; EXIT_NOTFOUND without a message when it is not there; another
 * enum exit_code when storage or identity failed (logged).
 */
int deploy_spec_prefetch(struct deploy *d, char **text, size_t *len);

/* deploy_fetch.c */
/*
 * Download the release into d->files (resumable, kept across runs until
 * the release is installed), build d->tree afresh from it: loose files
 * hard-linked, archives unpacked (streamed while they download where
 * possible); load its spec into *spec. Returns an enum exit_code.
 */
int deploy_fetch_tree(struct deploy *d, struct spec **spec);

/* deploy_units.c */
/*
 * Render the units of release (installed in reldir) as spec describes
 * them; with verify, also check each with systemd-analyze. 0, or -1 with
 * d->why set.
 */
int deploy_units_render(struct deploy *d, const char *release,
    const char *reldir, const struct spec *spec, int verify,
    struct deploy_units *u);
/* 1 when every unit file holds exactly the rendered text, else 0. */
int deploy_units_in_place(const struct deploy_units *u);
/* 1 when every unit is active, else 0. */
int deploy_units_active(const struct deploy *d, const struct deploy_units *u);
/*
 * Write the unit files (marking each that changed), daemon-reload when one
 * changed, enable. 0/-1.
 */
int deploy_units_install(struct deploy *d, struct deploy_units *u);
/*
 * Restart every unit; a keep_running unit (the health daemon) is only
 * started when it is not running, or restarted when its file changed.
 * 0/-1 (d->why set).
 */
int deploy_units_restart(struct deploy *d, const struct deploy_units *u);
/* Stop, disable and remove the units of old that keep does not have. */
void deploy_units_retire(struct deploy *d, const struct deploy_units *keep,
    const struct deploy_units *old);
void deploy_units_free(struct deploy_units *u);
/* Load the spec of installed release name (NULL when it does not load). */
struct spec *deploy_spec_installed(struct deploy *d, const char *name);

/* deploy_activate.c */
/*
 * Run hook which of spec (if set) for release in dir. 0 when it passed or
 * is not set; -1 with d->why set (the hook's output tail included).
 */
int deploy_hook(struct deploy *d, enum spec_hook which,
    const struct spec *spec, const char *release, const char *dir);
/*
 * Prove release healthy after its restart: the [health] check within the
 * deadline (or the units staying active when there is none), then the
 * validate hook. 0, or -1 with d->why set.
 */
int deploy_validate(struct deploy *d, const char *release,
    const struct spec *spec, const struct deploy_units *u);
/*
 * Switch to d->release, restart, validate. Returns EXIT_OK, or after a
 * failure puts d->old_current back: EXIT_ROLLEDBACK when it is healthy
 * again, EXIT_FAILURE_ when it is not (or there was none to go back to).
 */
int deploy_activate(struct deploy *d, const struct spec *spec,
    struct deploy_units *u, const char *command);

#endif
