/* cmd_config.c — `greenlight config`: validate and show the configuration. */
#include <stdio.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "log.h"

int
cmd_config(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "release", 1, "storage.release", NULL, NULL,
		    "release folder name to check", "R" },
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct cli_ctx ctx;
	struct config *cfg;
	int problems = 0, rc;

	rc = cli_parse(&ctx, argc, argv, opts);
	if (rc != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	cfg = cli_config_load(&ctx, CONFIG_NEED_STORAGE, &problems);
	if (cfg == NULL)
		return EXIT_FAILURE_;
	config_print(cfg, stdout);
	config_free(cfg);
	if (problems > 0) {
		log_error("configuration has %d problem%s", problems,
		    problems == 1 ? "" : "s");
		return EXIT_CONFIG;
	}
	return EXIT_OK;
}
