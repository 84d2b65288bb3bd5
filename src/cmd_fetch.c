/* cmd_fetch.c — `greenlight fetch`: download and verify one release. */
#include <stdio.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "fetch.h"
#include "log.h"

int
cmd_fetch(int argc, char **argv)
{
	const char *dest = NULL, *staging = NULL;
	int bar = 0, lines = 0;
	const struct cli_opt opts[] = {
		{ "release", 1, "storage.release", NULL, NULL,
		    "release folder to download", "R" },
		{ "dest", 1, NULL, &dest, NULL,
		    "directory to put the release in (created)", "DIR" },
		{ "staging", 1, NULL, &staging, NULL,
		    "resumable partial download (default DIR.partial)", "DIR" },
		{ "progress", 0, NULL, NULL, &bar,
		    "always draw a progress bar", NULL },
		{ "no-progress", 0, NULL, NULL, &lines,
		    "log a progress line every few seconds instead", NULL },
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct fetch_opts fo = { 0 };
	struct cli_ctx ctx;
	struct config *cfg;
	int rc;

	rc = cli_parse(&ctx, argc, argv, opts);
	if (rc != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (dest == NULL || *dest == '\0') {
		fprintf(stderr, "greenlight fetch: --dest DIR is required\n"
		    "Try 'greenlight help fetch'.\n");
		return EXIT_USAGE;
	}
	if (cli_no_args(&ctx) < 0)
		return EXIT_USAGE;
	cfg = cli_config(&ctx, CONFIG_NEED_STORAGE | CONFIG_NEED_RELEASE);
	if (cfg == NULL)
		return EXIT_CONFIG;
	fo.dest = dest;
	fo.staging = staging;
	fo.progress = bar ? 1 : lines ? 0 : -1;
	rc = fetch_release(cfg, &fo, NULL);
	config_free(cfg);
	return rc;
}
