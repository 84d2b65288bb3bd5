/* cmd_rollback.c — `greenlight rollback`: back to an installed release. */
#include "agent.h"
#include "cli.h"
#include "config.h"
#include "deploy.h"
#include "log.h"

int
cmd_rollback(int argc, char **argv)
{
	static const char *to;
	static const struct cli_opt opts[] = {
		{ "to", 1, NULL, &to, NULL,
		    "installed release to switch to (default: previous)",
		    "R" },
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct deploy_opts o = { NULL, 0, -1 };
	struct cli_ctx ctx;
	struct config *cfg;
	int rc;

	cfg = cli_start(&ctx, argc, argv, opts, 0, &rc);
	if (cfg == NULL)
		return rc;
	o.config_path = ctx.config_path;
	rc = deploy_rollback(cfg, &o, to);
	config_free(cfg);
	return rc;
}
