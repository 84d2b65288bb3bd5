/* cmd_health.c — `greenlight health`: the health and drain daemon. */
#include <stdio.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "health/health.h"
#include "log.h"

int
cmd_health(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "listen", 1, "health.listen", NULL, NULL,
		    "address to serve probes on", "HOST:PORT" },
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct cli_ctx ctx;
	struct config *cfg = NULL;
	struct health *h = NULL;
	int rc;

	rc = cli_parse(&ctx, argc, argv, opts);
	if (rc != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (ctx.nrest > 0) {
		fprintf(stderr, "greenlight health: unexpected argument '%s'\n"
		    "Try 'greenlight help health'.\n", ctx.rest[0]);
		return EXIT_USAGE;
	}
	cfg = cli_config(&ctx, 0);
	if (cfg == NULL)
		return EXIT_CONFIG;
	h = health_new(cfg);
	if (h == NULL) {
		rc = EXIT_CONFIG;
		goto out;
	}
	rc = health_run(h);
out:
	health_free(h);
	config_free(cfg);
	return rc;
}
