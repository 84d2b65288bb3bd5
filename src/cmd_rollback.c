/* cmd_rollback.c — `greenlight rollback`: back to an installed release. */
#include <stdio.h>

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

	rc = cli_parse(&ctx, argc, argv, opts);
	if (rc != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (ctx.nrest > 0) {
		fprintf(stderr, "greenlight rollback: unexpected argument "
		    "'%s'\nTry 'greenlight help rollback'.\n", ctx.rest[0]);
		return EXIT_USAGE;
	}
	cfg = cli_config(&ctx, 0);
	if (cfg == NULL)
		return EXIT_CONFIG;
	o.config_path = ctx.config_path;
	rc = deploy_rollback(cfg, &o, to);
	config_free(cfg);
	return rc;
}
