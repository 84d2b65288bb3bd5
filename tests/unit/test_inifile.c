/*
 * test_ini.c — the ini dialect both config files use: what each line is
 * handed over as, and what is reported where, with and without inline
 * comments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "inifile.h"
#include "testutil.h"

/* What the handler saw, one "LINE:[name]" or "LINE:key=value" per event. */
struct seen {
	char text[2048];
	size_t len;
};

static void
seen_add(struct seen *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	s->len += (size_t)vsnprintf(s->text + s->len, sizeof(s->text) - s->len,
	    fmt, ap);
	va_end(ap);
}

static void
on_section(void *arg, const char *name, int line)
{
	seen_add(arg, "%d:[%s] ", line, name ? name : "BROKEN");
}

static void
on_pair(void *arg, const char *key, const char *value, int line, int too_long)
{
	seen_add(arg, "%d:%s=%s%s ", line, key, value,
	    too_long ? "(long)" : "");
}

static const struct {
	const char *name;
	int inline_comments;
	size_t line_max; /* 0: 4096 */
	const char *text;
	const char *want; /* the events */
	int problems;
	const char *error; /* one logged line, after "f.ini:" */
} t[] = {
	{ "empty", 0, 0, "", "", 0, NULL },
	{ "comments and blanks", 0, 0, "; a\n# b\n\n \t\n", "", 0, NULL },
	{ "pairs and headers", 0, 0, "[a]\nk = v\n[ b ]\n  x=y  \n",
	    "1:[a] 2:k=v 3:[b] 4:x=y ", 0, NULL },
	{ "first '=' splits", 0, 0, "[a]\nurl = https://h/?a=b\n",
	    "1:[a] 2:url=https://h/?a=b ", 0, NULL },
	{ "empty value", 0, 0, "k =\n", "1:k= ", 0, NULL },
	{ "CRLF", 0, 0, "[a]\r\nk = v\r\n", "1:[a] 2:k=v ", 0, NULL },
	{ "no newline at the end", 0, 0, "[a]\nk = v", "1:[a] 2:k=v ", 0,
	    NULL },
	{ "byte order mark", 0, 0, "\xEF\xBB\xBF[a]\n", "1:[a] ", 0, NULL },
	{ "';' is text without inline comments", 0, 0, "[a] ; x\nk = v ; w\n",
	    "1:[BROKEN] 2:k=v ; w ", 1,
	    "1: section header without a closing ']'" },
	{ "inline comments", 1, 0, "[a] ; x\nk = v ; w\nj = ;v\nm = v;w\n",
	    "1:[a] 2:k=v 3:j=;v 4:m=v;w ", 0, NULL },
	{ "'#' is never an inline comment", 1, 0, "k = v # w\n", "1:k=v # w ",
	    0, NULL },
	{ "broken header", 0, 0, "[a\nk = v\n", "1:[BROKEN] 2:k=v ", 1,
	    "1: section header without a closing ']'" },
	{ "no '='", 0, 0, "[a]\njust words\n", "1:[a] ", 1,
	    "2: expected \"key = value\", got \"just words\"" },
	{ "':' is no delimiter", 0, 0, "k: v\n", "", 1,
	    "1: expected \"key = value\", got \"k: v\"" },
	{ "no key", 0, 0, " = v\n", "", 1, "1: no key before '='" },
	{ "too long", 0, 8, "k = 0123456789\nj = 1\n",
	    "1:k=0123456789(long) 2:j=1 ", 1, "1: line longer than 8 bytes" },
	{ "too long without '='", 0, 8, "0123456789\n", "", 1,
	    "1: line longer than 8 bytes" },
	/* what inih would read as syntax is masked from it */
	{ "':' inside a key", 0, 0, "a:b = c\n", "1:a:b=c ", 0, NULL },
	{ "';' kept without inline comments", 0, 0, "k = a;b ; c\n",
	    "1:k=a;b ; c ", 0, NULL },
	{ "indented line after a key", 0, 0, "k = v\n  w\n", "1:k=v ", 1,
	    "2: expected \"key = value\", got \"w\"" },
};

static void
test_ini_table(void **state)
{
	char text[256], want[256];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct inifile_syntax syn = { 4096, NULL, t[i].inline_comments };
		struct seen seen = { .len = 0 };
		const struct inifile_handler h = { on_section, on_pair, &seen };
		struct capture cap;
		int n;

		if (t[i].line_max > 0)
			syn.line_max = t[i].line_max;
		snprintf(text, sizeof(text), "%s", t[i].text);
		capture_begin(&cap);
		n = inifile_parse("f.ini", text, strlen(text), &syn, &h);
		capture_end(&cap);
		if (n != t[i].problems)
			fail_msg("[%s] %d problems, want %d: %s", t[i].name, n,
			    t[i].problems, cap.text);
		if (strcmp(seen.text, t[i].want) != 0)
			fail_msg("[%s] saw \"%s\", want \"%s\"", t[i].name,
			    seen.text, t[i].want);
		if (t[i].error == NULL) {
			assert_string_equal(cap.text, "");
			continue;
		}
		snprintf(want, sizeof(want), "error: f.ini:%s", t[i].error);
		if (strstr(cap.text, want) == NULL)
			fail_msg("[%s] no \"%s\" in: %s", t[i].name, want,
			    cap.text);
	}
}

/* A line longer than inih's buffer (200 bytes in Debian's build) is handed
 * over whole, with its own line number, and the lines after it too. */
static void
test_ini_long_line(void **state)
{
	static const struct inifile_syntax syn = { 4096, NULL, 1 };
	struct seen seen = { .len = 0 };
	const struct inifile_handler h = { on_section, on_pair, &seen };
	char text[1200], want[1200], value[901];
	struct capture cap;

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	value[100] = ';'; /* no blank before it: not a comment */
	snprintf(text, sizeof(text), "[a]\nlong = %s ; note\nk = 1\n", value);
	snprintf(want, sizeof(want), "1:[a] 2:long=%s 3:k=1 ", value);
	capture_begin(&cap);
	assert_int_equal(inifile_parse("f.ini", text, strlen(text), &syn, &h),
	    0);
	capture_end(&cap);
	assert_string_equal(cap.text, "");
	assert_string_equal(seen.text, want);
}

static void
test_ini_hint_and_nul(void **state)
{
	static const struct inifile_syntax syn = { 4, "; use X", 0 };
	struct seen seen = { .len = 0 };
	const struct inifile_handler h = { on_section, on_pair, &seen };
	char text[] = "k = 12345\n", nul[] = "k = 1\n\0[a]\n";
	struct capture cap;

	capture_begin(&cap);
	assert_int_equal(inifile_parse("f.ini", text, strlen(text), &syn, &h), 1);
	capture_end(&cap);
	assert_non_null(strstr(cap.text,
	    "f.ini:1: line longer than 4 bytes; "
	    "use X"));
	/* a NUL byte inside: no text file, nothing handed over */
	seen.len = 0;
	seen.text[0] = '\0';
	capture_begin(&cap);
	assert_int_equal(inifile_parse("f.ini", nul, sizeof(nul) - 1, &syn, &h),
	    -1);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "f.ini: not a text file (NUL byte)"));
	assert_string_equal(seen.text, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ini_table),
		cmocka_unit_test(test_ini_long_line),
		cmocka_unit_test(test_ini_hint_and_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
