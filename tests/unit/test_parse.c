/* test_parse.c — numbers, durations, sizes, booleans and their formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "parse.h"

static void
test_parse_long_table(void **state)
{
	static const struct {
		const char *in;
		long min, max;
		int rc;
		long want;
	} t[] = {
		{ "0", 0, 10, 0, 0 },
		{ "10", 0, 10, 0, 10 },
		{ "11", 0, 10, -1, 0 },
		{ "-1", 0, 10, -1, 0 },
		{ "-5", -10, 10, 0, -5 },
		{ "007", 0, 10, 0, 7 },
		{ "+3", 0, 10, 0, 3 },
		{ "", 0, 10, -1, 0 },
		{ " 1", 0, 10, -1, 0 },
		{ "1 ", 0, 10, -1, 0 },
		{ "\t1", 0, 10, -1, 0 },
		{ "1x", 0, 10, -1, 0 },
		{ "x1", 0, 10, -1, 0 },
		{ "1.0", 0, 10, -1, 0 },
		{ "0x10", 0, 100, -1, 0 },
		{ "1e3", 0, 10000, -1, 0 },
		{ "9223372036854775807", 0, LONG_MAX, 0, LONG_MAX },
		{ "9223372036854775808", 0, LONG_MAX, -1, 0 },
		{ "-9223372036854775809", LONG_MIN, 0, -1, 0 },
		{ "99999999999999999999999", 0, LONG_MAX, -1, 0 },
		{ "16", 1, 64, 0, 16 },
		{ "65", 1, 64, -1, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		long v = 12345;
		int rc = parse_long(t[i].in, t[i].min, t[i].max, &v);

		if (rc != t[i].rc)
			fail_msg("parse_long(\"%s\") = %d, want %d", t[i].in,
			    rc, t[i].rc);
		if (rc == 0 && v != t[i].want)
			fail_msg("parse_long(\"%s\") -> %ld, want %ld",
			    t[i].in, v, t[i].want);
		if (rc < 0 && v != 12345)
			fail_msg("parse_long(\"%s\") touched *out on error",
			    t[i].in);
	}
	assert_int_equal(parse_long(NULL, 0, 1, &(long){ 0 }), -1);
}

static void
test_parse_duration_table(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t ms;
	} t[] = {
		{ "0", 0, 0 },
		{ "30", 0, 30000 },
		{ "500ms", 0, 500 },
		{ "30s", 0, 30000 },
		{ "5m", 0, 300000 },
		{ "2h", 0, 7200000 },
		{ "1d", 0, 86400000 },
		{ "0ms", 0, 0 },
		{ "", -1, 0 },
		{ "s", -1, 0 },
		{ "ms", -1, 0 },
		{ "-1s", -1, 0 },
		{ "+1s", -1, 0 },
		{ " 1s", -1, 0 },
		{ "1s ", -1, 0 },
		{ "1 s", -1, 0 },
		{ "1.5s", -1, 0 },
		{ "1S", -1, 0 },  /* units are lower case */
		{ "5M", -1, 0 },  /* M would read as months */
		{ "1w", -1, 0 },
		{ "1sec", -1, 0 },
		{ "1m30s", -1, 0 }, /* one unit per value */
		{ "1h1", -1, 0 },
		{ "abc", -1, 0 },
		{ "9223372036854775807ms", 0, INT64_MAX },
		{ "9223372036854775808ms", -1, 0 },
		{ "9223372036854775s", 0, 9223372036854775000LL },
		{ "9223372036854776s", -1, 0 },
		{ "106751991167d", 0, 106751991167LL * 86400000 },
		{ "106751991168d", -1, 0 },
		{ "99999999999999999999s", -1, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int64_t v = -7;
		int rc = parse_duration_ms(t[i].in, &v);

		if (rc != t[i].rc)
			fail_msg("parse_duration_ms(\"%s\") = %d, want %d",
			    t[i].in, rc, t[i].rc);
		if (rc == 0 && v != t[i].ms)
			fail_msg("parse_duration_ms(\"%s\") -> %lld, want %lld",
			    t[i].in, (long long)v, (long long)t[i].ms);
		if (rc < 0 && v != -7)
			fail_msg("parse_duration_ms(\"%s\") touched *out",
			    t[i].in);
	}
	assert_int_equal(parse_duration_ms(NULL, &(int64_t){ 0 }), -1);
}

static void
test_parse_size_table(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t v;
	} t[] = {
		{ "0", 0, 0 },
		{ "4096", 0, 4096 },
		{ "100B", 0, 100 },
		{ "512K", 0, 512 * 1024 },
		{ "512k", 0, 512 * 1024 },
		{ "512KB", 0, 512 * 1024 },
		{ "512KiB", 0, 512 * 1024 },
		{ "8M", 0, 8ull << 20 },
		{ "8mib", 0, 8ull << 20 },
		{ "1G", 0, 1ull << 30 },
		{ "16G", 0, 16ull << 30 },
		{ "2T", 0, 2ull << 40 },
		{ "", -1, 0 },
		{ "M", -1, 0 },
		{ "-1", -1, 0 },
		{ "-1M", -1, 0 },
		{ " 8M", -1, 0 },
		{ "8M ", -1, 0 },
		{ "8 M", -1, 0 },
		{ "1.5G", -1, 0 },
		{ "8X", -1, 0 },
		{ "8P", -1, 0 },
		{ "8MM", -1, 0 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 },
		{ "16777215T", 0, 16777215ull << 40 },
		{ "16777216T", -1, 0 },
		{ "17179869184G", -1, 0 },
		{ "17179869183G", 0, 17179869183ull << 30 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		uint64_t v = 77;
		int rc = parse_size(t[i].in, &v);

		if (rc != t[i].rc)
			fail_msg("parse_size(\"%s\") = %d, want %d", t[i].in,
			    rc, t[i].rc);
		if (rc == 0 && v != t[i].v)
			fail_msg("parse_size(\"%s\") -> %llu, want %llu",
			    t[i].in, (unsigned long long)v,
			    (unsigned long long)t[i].v);
		if (rc < 0 && v != 77)
			fail_msg("parse_size(\"%s\") touched *out", t[i].in);
	}
	assert_int_equal(parse_size(NULL, &(uint64_t){ 0 }), -1);
}

static void
test_parse_bool_table(void **state)
{
	static const struct {
		const char *in;
		int rc, v;
	} t[] = {
		{ "true", 0, 1 }, { "TRUE", 0, 1 }, { "yes", 0, 1 },
		{ "on", 0, 1 }, { "1", 0, 1 }, { "false", 0, 0 },
		{ "False", 0, 0 }, { "no", 0, 0 }, { "off", 0, 0 },
		{ "0", 0, 0 }, { "", -1, 0 }, { "2", -1, 0 }, { "y", -1, 0 },
		{ "t", -1, 0 }, { " true", -1, 0 }, { "true ", -1, 0 },
		{ "truex", -1, 0 }, { "enabled", -1, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int v = 9;
		int rc = parse_bool(t[i].in, &v);

		if (rc != t[i].rc)
			fail_msg("parse_bool(\"%s\") = %d, want %d", t[i].in,
			    rc, t[i].rc);
		if (rc == 0 && v != t[i].v)
			fail_msg("parse_bool(\"%s\") -> %d", t[i].in, v);
		if (rc < 0 && v != 9)
			fail_msg("parse_bool(\"%s\") touched *out", t[i].in);
	}
	assert_int_equal(parse_bool(NULL, &(int){ 0 }), -1);
}

static void
test_format_duration_table(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} t[] = {
		{ 0, "0s" }, { 1, "1ms" }, { 250, "250ms" }, { 1000, "1s" },
		{ 1500, "1500ms" }, { 30000, "30s" }, { 90000, "90s" },
		{ 60000, "1m" }, { 300000, "5m" }, { 3600000, "1h" },
		{ 5400000, "90m" }, { 86400000, "1d" }, { 90000000, "25h" },
		{ INT64_MAX, "9223372036854775807ms" },
	};
	char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		parse_format_duration(t[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, t[i].want);
	}
	/* a short buffer truncates but stays terminated */
	parse_format_duration(86400000, buf, 2);
	assert_string_equal(buf, "1");
}

static void
test_format_size_table(void **state)
{
	static const struct {
		uint64_t v;
		const char *want;
	} t[] = {
		{ 0, "0" }, { 100, "100" }, { 1024, "1K" }, { 1536, "1536" },
		{ 1536 * 1024, "1536K" }, { 8ull << 20, "8M" },
		{ 1ull << 30, "1G" }, { 16ull << 30, "16G" },
		{ 3ull << 40, "3T" }, { 1025, "1025" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		parse_format_size(t[i].v, buf, sizeof(buf));
		assert_string_equal(buf, t[i].want);
	}
}

/* Whatever the formatter prints, the parser reads back as the same value. */
static void
test_round_trip(void **state)
{
	static const int64_t ms[] = { 0, 1, 999, 1000, 1001, 59999, 60000,
		61000, 3599999, 3600000, 86399999, 86400000, 172800000,
		INT64_MAX, INT64_MAX - (INT64_MAX % 86400000) };
	static const uint64_t sz[] = { 0, 1, 1023, 1024, 1025, 65536,
		(8ull << 20) + 1, 8ull << 20, 1ull << 30, (1ull << 40) - 1,
		1ull << 40, 1ull << 62, UINT64_MAX, UINT64_MAX - 1023 };
	char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(ms); i++) {
		int64_t back = -1;

		parse_format_duration(ms[i], buf, sizeof(buf));
		if (parse_duration_ms(buf, &back) != 0 || back != ms[i])
			fail_msg("duration %lld -> \"%s\" -> %lld",
			    (long long)ms[i], buf, (long long)back);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sz); i++) {
		uint64_t back = 1;

		parse_format_size(sz[i], buf, sizeof(buf));
		if (parse_size(buf, &back) != 0 || back != sz[i])
			fail_msg("size %llu -> \"%s\" -> %llu",
			    (unsigned long long)sz[i], buf,
			    (unsigned long long)back);
	}
	/* and every unit of the parser comes back in its shortest form */
	for (int64_t v = 1; v <= 100; v++) {
		static const char *const units[] = { "ms", "s", "m", "h",
			"d" };

		for (size_t u = 0; u < ARRAY_SIZE(units); u++) {
			char in[32], out[64];
			int64_t a = 0, b = 0;

			snprintf(in, sizeof(in), "%lld%s", (long long)v,
			    units[u]);
			assert_int_equal(parse_duration_ms(in, &a), 0);
			parse_format_duration(a, out, sizeof(out));
			assert_int_equal(parse_duration_ms(out, &b), 0);
			assert_true(a == b);
			assert_true(strlen(out) <= strlen(in) + 2);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long_table),
		cmocka_unit_test(test_parse_duration_table),
		cmocka_unit_test(test_parse_size_table),
		cmocka_unit_test(test_parse_bool_table),
		cmocka_unit_test(test_format_duration_table),
		cmocka_unit_test(test_format_size_table),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
