/* test_progress.c — how sizes, rates, ETAs and status lines read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "progress.h"
#include "testutil.h"

static const struct {
	int64_t n;
	const char *want;
} bytes_table[] = {
	{ 0, "0 B" },
	{ 1023, "1023 B" },
	{ 1024, "1.0 KiB" },
	{ 1536, "1.5 KiB" },
	{ 16384, "16.0 KiB" },
	{ 1048576, "1.0 MiB" },
	{ 268435456, "256.0 MiB" },
	{ 3435973837LL, "3.20 GiB" },
	{ 17179869184LL, "16.0 GiB" },
	{ 1099511627776LL, "1.00 TiB" },
};

static void
test_bytes(void **state)
{
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(bytes_table) / sizeof(bytes_table[0]);
	    i++) {
		progress_fmt_bytes(bytes_table[i].n, out, sizeof(out));
		assert_string_equal(out, bytes_table[i].want);
	}
	progress_fmt_rate(13107200.0, out, sizeof(out));
	assert_string_equal(out, "12.5 MiB/s");
	progress_fmt_rate(-5, out, sizeof(out));
	assert_string_equal(out, "0 B/s");
}

static const struct {
	int64_t secs;
	const char *want;
} eta_table[] = {
	{ -1, "--:--" },
	{ 0, "0:00" },
	{ 42, "0:42" },
	{ 723, "12:03" },
	{ 3723, "1:02:03" },
	{ 99 * 3600 + 1, "--:--" },
};

static void
test_eta(void **state)
{
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(eta_table) / sizeof(eta_table[0]); i++) {
		progress_fmt_eta(eta_table[i].secs, out, sizeof(out));
		assert_string_equal(out, eta_table[i].want);
	}
}

static void
test_status(void **state)
{
	char out[256];

	(void)state;
	progress_fmt_status(121000000, 268435456, 3, 200, 13107200.0, out,
	    sizeof(out));
	assert_string_equal(out, "45% 115.4 MiB of 256.0 MiB, 12.5 MiB/s, "
	    "ETA 0:12, 3 of 200 files");
	/* no rate yet: unknown ETA */
	progress_fmt_status(0, 1000, 0, 1, 0, out, sizeof(out));
	assert_string_equal(out, "0% 0 B of 1000 B, 0 B/s, ETA --:--, 0 of 1 "
	    "files");
	/* an empty release is complete */
	progress_fmt_status(0, 0, 0, 0, 0, out, sizeof(out));
	assert_string_equal(out, "100% 0 B of 0 B, 0 B/s, ETA 0:00, 0 of 0 "
	    "files");
	/* a short buffer is cut, never overrun */
	progress_fmt_status(1, 2, 1, 2, 1, out, 10);
	assert_int_equal(strlen(out), 9);
}

static void
test_lines(void **state)
{
	struct capture c;
	struct progress *p;

	(void)state;
	/* line mode: nothing before PROGRESS_LINE_EVERY_MS has passed */
	capture_begin(&c);
	p = progress_new(0, "fetch", 1000, 2);
	assert_non_null(p);
	progress_base(p, 100, 1);
	progress_update(p, 500, 1);
	progress_clear(p);
	progress_free(p);
	capture_end(&c);
	assert_int_equal(c.len, 0);
	/* bar mode draws on the first update after the first interval, and
	 * clearing erases the line */
	capture_begin(&c);
	p = progress_new(1, "fetch", 1000, 2);
	progress_update(p, 0, 0);
	progress_free(p);
	capture_end(&c);
	assert_null(strstr(c.text, "\n"));
	progress_free(NULL);
	progress_clear(NULL);
	progress_update(NULL, 1, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_eta),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
