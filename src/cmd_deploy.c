/* cmd_deploy.c — `greenlight deploy`: the whole pipeline (deploy.c). */
#include "agent.h"
#include "cli.h"
#include "config.h"
#include "deploy.h"
#include "log.h"

int
cmd_deploy(int argc, char **argv)
{
	static int dry_run, no_progress;
	static const struct cli_opt opts[] = {
		{ "release", 1, "storage.release", NULL, NULL,
		    "release folder to deploy (RELEASE_FOLDER_NAME)", "R" },
		{ "dry-run", 0, NULL, NULL, &dry_run,
		    "print the plan; change nothing", NULL },
		{ "no-progress", 0, NULL, NULL, &no_progress,
		    "log lines instead of a progress bar", NULL },
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct deploy_opts o = { NULL, 0, -1 };
	struct cli_ctx ctx;
	struct config *cfg;
	int rc;

	cfg = cli_start(&ctx, argc, argv, opts,
	    CONFIG_NEED_STORAGE | CONFIG_NEED_RELEASE, &rc);
	if (cfg == NULL)
		return rc;
	o.config_path = ctx.config_path;
	o.dry_run = dry_run;
	o.progress = no_progress ? 0 : -1;
	rc = deploy_run(cfg, &o);
	config_free(cfg);
	return rc;
}
