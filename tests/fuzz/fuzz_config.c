/*
 * fuzz_config.c — greenlight.ini through config_load (from a file in a
 * scratch directory; the environment holds no GREENLIGHT_* variables, so
 * only the file speaks), then config_check, config_print and the derived
 * drain time, as `greenlight config` would.
 */
#include <string.h>

#include "config.h"
#include "fuzz.h"

extern char **environ;

static FILE *devnull;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg;
	const char *path;
	int problems = -1;

	fuzz_log_sample();
	if (size > 256 * 1024)
		return 0;
	path = fuzz_write_file("greenlight.ini", data, size);
	cfg = config_load(path, &problems);
	FUZZ_CHECK(cfg != NULL);
	FUZZ_CHECK(problems >= 0);
	(void)config_check(cfg, CONFIG_NEED_STORAGE | CONFIG_NEED_RELEASE);
	config_print(cfg, devnull);
	FUZZ_CHECK(config_drain_min_ms(cfg) >= 0);
	FUZZ_CHECK(cfg->endpoint == NULL || cfg->endpoint[0] == '\0' ||
	    cfg->endpoint[strlen(cfg->endpoint) - 1] != '/');
	config_free(cfg);
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char name[256];

	(void)argc;
	(void)argv;
	/* only the file: drop what the environment would add */
	for (size_t i = 0; environ[i] != NULL;) {
		const char *e = environ[i], *eq = strchr(e, '=');
		size_t n = eq ? (size_t)(eq - e) : strlen(e);

		if (n < sizeof(name) && (strncmp(e, "GREENLIGHT_", 11) == 0 ||
		    strncmp(e, "BLOB_CONTAINER_NAME=", 20) == 0 ||
		    strncmp(e, "RELEASE_FOLDER_NAME=", 20) == 0)) {
			memcpy(name, e, n);
			name[n] = '\0';
			unsetenv(name);
			if (environ[i] != e)
				continue; /* environ[i] is the next one now */
		}
		i++;
	}
	devnull = fopen("/dev/null", "we");
	if (devnull == NULL)
		abort();
	fuzz_scratch();
	return 0;
}
