/* cmd_health.c — `greenlight health`: the health and drain daemon. */
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

	cfg = cli_start(&ctx, argc, argv, opts, 0, &rc);
	if (cfg == NULL)
		return rc;
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
