/* test_path.c — path segments and the normal form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "path.h"

static void
test_path_norm_table(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *want;
	} t[] = {
		{ "", 0, "" },
		{ ".", 0, "" },
		{ "./", 0, "" },
		{ "a", 0, "a" },
		{ "a/b", 0, "a/b" },
		{ "./a//b/./c/", 0, "a/b/c" },
		{ "a/.b/..c", 0, "a/.b/..c" },
		{ "/", 0, "/" },
		{ "//", 0, "/" },
		{ "/./", 0, "/" },
		{ "/var//lib/", 0, "/var/lib" },
		{ "..", -1, NULL },
		{ "a/../b", -1, NULL },
		{ "a/..", -1, NULL },
		{ "/..", -1, NULL },
	};
	char out[64];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int rc = path_norm(t[i].in, out, sizeof(out));

		if (rc != t[i].rc)
			fail_msg("path_norm(\"%s\") = %d, want %d", t[i].in, rc,
			    t[i].rc);
		if (rc == 0 && strcmp(out, t[i].want) != 0)
			fail_msg("path_norm(\"%s\") -> \"%s\", want \"%s\"",
			    t[i].in, out, t[i].want);
	}
	/* out must hold the input */
	assert_int_equal(path_norm("abcd", out, 4), -1);
	assert_int_equal(path_norm("abcd", out, 5), 0);
}

static void
test_path_segments(void **state)
{
	static const struct {
		const char *in;
		const char *want; /* segments joined by '|' */
	} t[] = {
		{ "", "" },
		{ "///", "" },
		{ "a", "a" },
		{ "/a/./b//..", "a|b|.." },
		{ "./x/", "x" },
	};
	char got[64];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		const char *p = t[i].in, *seg;
		size_t len, o = 0;

		got[0] = '\0';
		while ((seg = path_segment_next(&p, &len)) != NULL)
			o += (size_t)snprintf(got + o, sizeof(got) - o,
			    "%s%.*s", o ? "|" : "", (int)len, seg);
		if (strcmp(got, t[i].want) != 0)
			fail_msg("segments of \"%s\": \"%s\", want \"%s\"",
			    t[i].in, got, t[i].want);
		assert_true(*p == '\0');
	}
	assert_true(path_segment_is_dotdot("..", 2));
	assert_false(path_segment_is_dotdot("..a", 3));
	assert_false(path_segment_is_dotdot(".", 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_norm_table),
		cmocka_unit_test(test_path_segments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
