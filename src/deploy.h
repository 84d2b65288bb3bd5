/*
 * deploy.h — the deploy pipeline (DESIGN.md, "Data flow of greenlight
 * deploy"): preflight, plan, fetch with archives unpacked while they
 * download, install, activate, validate, commit — or put the previous
 * release back; and the rollback command's switch to an installed release.
 * Both return an enum exit_code and leave the reason in the log and in the
 * state file.
 */
#ifndef GREENLIGHT_DEPLOY_H
#define GREENLIGHT_DEPLOY_H

#include "config.h"

struct deploy_opts {
	const char *config_path; /* the file the config came from, or NULL */
	int dry_run;		 /* print the plan; change nothing */
	int progress;		 /* fetch progress: -1 auto, 0 lines, 1 bar */
};

/*
 * Deploy cfg->release under cfg->root. Exit 0 also when it is already
 * current, intact and its units in place (no download, no restart).
 */
int deploy_run(const struct config *cfg, const struct deploy_opts *opts);

/*
 * Switch to the installed release to (NULL: the previous one), restart,
 * validate; on failure put the current one back (EXIT_ROLLEDBACK).
 */
int deploy_rollback(const struct config *cfg, const struct deploy_opts *opts,
    const char *to);

#endif
