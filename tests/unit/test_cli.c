/*
 * test_cli.c — how a command starts (cli_start): the exit code it hands
 * back in every case, including success, where a command such as status
 * returns it as is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "fsutil.h"
#include "testutil.h"

static char dir[PATH_MAX];

static int
setup(void **state)
{
	(void)state;
	tmpdir_make(dir, sizeof(dir));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fs_rm_rf(dir);
	return 0;
}

/* cli_start on argv (NULL-terminated); stderr into *c. */
static struct config *
start(char **argv, int *rc, struct capture *c)
{
	static const struct cli_opt opts[] = {
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct cli_ctx ctx;
	struct config *cfg;
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	*rc = 77; /* whatever the caller's variable held */
	capture_begin(c);
	cfg = cli_start(&ctx, argc, argv, opts, 0, rc);
	capture_end(c);
	return cfg;
}

static void
test_exit_codes(void **state)
{
	char good[PATH_MAX], bad[PATH_MAX], absent[PATH_MAX];
	struct capture c;
	struct config *cfg;
	int rc;

	(void)state;
	file_put(dir, "good.ini", "[storage]\naccount = acct\n", good,
	    sizeof(good));
	file_put(dir, "bad.ini", "[storage]\naccount = acct\nfoo = 1\n", bad,
	    sizeof(bad));
	if (snprintf(absent, sizeof(absent), "%s/absent.ini", dir) >=
	    (int)sizeof(absent))
		fail_msg("path too long");
	{
		char *argv[] = { "status", "--config", good, NULL };

		cfg = start(argv, &rc, &c);
		assert_non_null(cfg);
		assert_int_equal(rc, EXIT_OK);
		config_free(cfg);
	}
	{
		char *argv[] = { "status", "--no-such-flag", NULL };

		assert_null(start(argv, &rc, &c));
		assert_int_equal(rc, EXIT_USAGE);
		assert_non_null(strstr(c.text, "--no-such-flag"));
	}
	{
		char *argv[] = { "status", "--config", good, "extra", NULL };

		assert_null(start(argv, &rc, &c));
		assert_int_equal(rc, EXIT_USAGE);
		assert_non_null(strstr(c.text, "unexpected argument 'extra'"));
	}
	{
		char *argv[] = { "status", "--config", bad, NULL };

		assert_null(start(argv, &rc, &c));
		assert_int_equal(rc, EXIT_CONFIG);
		assert_non_null(strstr(c.text, "bad.ini:3: unknown key "
		    "\"foo\" in [storage]"));
	}
	{
		char *argv[] = { "status", "--config", absent, NULL };

		assert_null(start(argv, &rc, &c));
		assert_int_equal(rc, EXIT_CONFIG);
		assert_int_equal(count_lines_with(c.text, "error: "), 2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
