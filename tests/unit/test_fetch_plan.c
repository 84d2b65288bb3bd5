/* test_fetch_plan.c — path safety, ranges, checksum and the staging journal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fetch_plan.h"

static const struct {
	const char *rel;
	const char *why; /* NULL: accepted; else a word of the reason */
} path_table[] = {
	{ "app.tar.gz", NULL },
	{ "bin/agent", NULL },
	{ "deep/er/and/deeper/file.txt", NULL },
	{ "with space/and more spaces.txt", NULL },
	{ "ünïcödé/日本語.txt", NULL },
	{ "..hidden", NULL },
	{ "a..b/c", NULL },
	{ ".config/x", NULL },
	{ "...", NULL },
	{ "", "empty" },
	{ "/etc/passwd", "absolute" },
	{ "../escape", "'..'" },
	{ "a/../../b", "'..'" },
	{ "a/..", "'..'" },
	{ "..", "'..'" },
	{ "./a", "'.'" },
	{ "a/./b", "'.'" },
	{ "a//b", "empty path segment" },
	{ "dir/", "empty path segment" },
	{ "tab\there", "control" },
	{ "nl\nhere", "control" },
	{ "del\x7fhere", "control" },
};

static void
test_path_check(void **state)
{
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(path_table) / sizeof(path_table[0]);
	    i++) {
		int rc;

		err[0] = '\0';
		rc = fetch_path_check(path_table[i].rel, err, sizeof(err));
		if (path_table[i].why == NULL) {
			if (rc != 0)
				fail_msg("\"%s\" rejected: %s",
				    path_table[i].rel, err);
		} else {
			if (rc == 0)
				fail_msg("\"%s\" accepted", path_table[i].rel);
			if (strstr(err, path_table[i].why) == NULL)
				fail_msg("\"%s\": \"%s\" lacks \"%s\"",
				    path_table[i].rel, err, path_table[i].why);
		}
	}
}

static void
test_path_limits(void **state)
{
	char name[1100], err[128];

	(void)state;
	memset(name, 'a', 1024);
	name[1024] = '\0';
	for (size_t i = 200; i < 1024; i += 200)
		name[i] = '/';
	assert_int_equal(fetch_path_check(name, err, sizeof(err)), 0);
	name[1024] = 'b';
	name[1025] = '\0';
	assert_int_equal(fetch_path_check(name, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1024"));
	memset(name, 'c', 256);
	name[256] = '\0';
	assert_int_equal(fetch_path_check(name, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "255"));
}

static void
test_paths_conflict(void **state)
{
	const char *ok[] = { "a", "a b", "a.txt", "ab/c", "b/c", "b/d/e" };
	const char *bad[] = { "a", "a b", "a/b", "c" };
	const char *deep[] = { "x/y", "x/y/z/w" };
	size_t f = 99, u = 99;

	(void)state;
	assert_int_equal(fetch_paths_conflict(ok, 6, &f, &u), 0);
	assert_int_equal(fetch_paths_conflict(bad, 4, &f, &u), 1);
	assert_int_equal(f, 0);
	assert_int_equal(u, 2);
	assert_int_equal(fetch_paths_conflict(deep, 2, &f, &u), 1);
	assert_int_equal(f, 0);
	assert_int_equal(u, 1);
}

static const struct {
	uint64_t size, chunk;
	uint32_t count;
	uint32_t i;
	uint64_t off, len;
} range_table[] = {
	{ 0, 8u << 20, 1, 0, 0, 0 },
	{ 1, 8u << 20, 1, 0, 0, 1 },
	{ 8u << 20, 8u << 20, 1, 0, 0, 8u << 20 },
	{ (8u << 20) + 1, 8u << 20, 2, 1, 8u << 20, 1 },
	{ 1000000, 262144, 4, 3, 786432, 213568 },
	{ 1048576, 262144, 4, 3, 786432, 262144 },
	{ 268435456, 8388608, 32, 31, 260046848, 8388608 },
	{ 1ull << 40, 1u << 30, 1024, 1023, 1023ull << 30, 1u << 30 },
};

static void
test_ranges(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(range_table) / sizeof(range_table[0]);
	    i++) {
		uint64_t off, len, sum = 0;
		uint32_t n = fetch_range_count(range_table[i].size,
		    range_table[i].chunk);

		assert_int_equal(n, range_table[i].count);
		fetch_range_get(range_table[i].size, range_table[i].chunk,
		    range_table[i].i, &off, &len);
		assert_int_equal(off, range_table[i].off);
		assert_int_equal(len, range_table[i].len);
		/* ranges tile the blob exactly */
		for (uint32_t r = 0; r < n; r++) {
			fetch_range_get(range_table[i].size,
			    range_table[i].chunk, r, &off, &len);
			assert_int_equal(off, sum);
			sum += len;
		}
		assert_int_equal(sum, range_table[i].size);
	}
}

static const struct {
	const char *in;
	uint64_t want; /* XXH64, seed 0, as printed by xxhsum -H64 */
} sum_table[] = {
	{ "", 0xef46db3751d8e999ull },
	{ "a", 0xd24ec4f1a98c6e5bull },
	{ "abc", 0x44bc2cf5ad770999ull },
	{ "0123456789abcdef0123456789abcdef0123", 0xc4255ba3d1af5461ull },
	{ "The quick brown fox jumps over the lazy dog",
	    0x0b242d361fda71bcull },
};

static void
test_sum(void **state)
{
	unsigned char buf[1000];

	(void)state;
	for (size_t i = 0; i < sizeof(sum_table) / sizeof(sum_table[0]); i++)
		assert_int_equal(fetch_sum_of(sum_table[i].in,
		    strlen(sum_table[i].in)), sum_table[i].want);
	/* streaming in any pieces gives the one-shot value */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (size_t step = 1; step < 70; step += 3) {
		struct fetch_sum s;

		fetch_sum_init(&s);
		for (size_t o = 0; o < sizeof(buf); o += step)
			fetch_sum_update(&s, buf + o, o + step > sizeof(buf) ?
			    sizeof(buf) - o : step);
		assert_int_equal(fetch_sum_final(&s),
		    fetch_sum_of(buf, sizeof(buf)));
	}
}

/* Build journal text from formatted lines. */
struct jtext {
	char buf[1 << 16];
	size_t len;
};

static void
jt_add(struct jtext *t, int n, const char *line)
{
	assert_true(n > 0);
	assert_true(t->len + (size_t)n < sizeof(t->buf));
	memcpy(t->buf + t->len, line, (size_t)n);
	t->len += (size_t)n;
}

#define KEY "https://127.0.0.1:10000/devstoreaccount1 releases 1.2"

static void
test_journal_roundtrip(void **state)
{
	struct jtext t = { .len = 0 };
	struct fetch_journal j;
	struct fetch_jblob *b;
	char l[FETCH_JOURNAL_LINE_MAX];

	(void)state;
	jt_add(&t, fetch_journal_fmt_head(l, sizeof(l), KEY), l);
	jt_add(&t, fetch_journal_fmt_blob(l, sizeof(l), 1, 1000000, 262144,
	    "0x8DC0123456789AB", "1.2/big file ü.bin"), l);
	jt_add(&t, fetch_journal_fmt_range(l, sizeof(l), 1, 0, 262144, 11), l);
	jt_add(&t, fetch_journal_fmt_range(l, sizeof(l), 1, 3, 213568, 33), l);
	/* wrong length for range 2: ignored */
	jt_add(&t, fetch_journal_fmt_range(l, sizeof(l), 1, 2, 5, 22), l);
	jt_add(&t, fetch_journal_fmt_blob(l, sizeof(l), 2, 5, 262144, "e1",
	    "1.2/small"), l);
	jt_add(&t, fetch_journal_fmt_range(l, sizeof(l), 2, 0, 5, 44), l);
	/* a blob restarted: version 3 replaces, then is thrown away */
	jt_add(&t, fetch_journal_fmt_blob(l, sizeof(l), 3, 9, 262144, "e2",
	    "1.2/gone"), l);
	jt_add(&t, fetch_journal_fmt_range(l, sizeof(l), 3, 0, 9, 1), l);
	jt_add(&t, fetch_journal_fmt_reset(l, sizeof(l), 3), l);
	/* replaced: version 5 supersedes 4 */
	jt_add(&t, fetch_journal_fmt_blob(l, sizeof(l), 4, 9, 262144, "old",
	    "1.2/replaced"), l);
	jt_add(&t, fetch_journal_fmt_range(l, sizeof(l), 4, 0, 9, 1), l);
	jt_add(&t, fetch_journal_fmt_blob(l, sizeof(l), 5, 10, 262144, "",
	    "1.2/replaced"), l);
	assert_int_equal(fetch_journal_parse(t.buf, t.len, KEY, &j), 0);
	assert_int_equal(j.key_mismatch, 0);
	assert_int_equal(j.bad_lines, 1);
	assert_int_equal(j.max_id, 5);
	assert_int_equal(j.n, 3);
	b = fetch_journal_find(&j, "1.2/big file ü.bin");
	assert_non_null(b);
	assert_string_equal(b->etag, "0x8DC0123456789AB");
	assert_int_equal(b->size, 1000000);
	assert_int_equal(b->nranges, 4);
	assert_int_equal(b->done[0], 1);
	assert_int_equal(b->done[1], 0);
	assert_int_equal(b->done[2], 0);
	assert_int_equal(b->done[3], 1);
	assert_int_equal(b->sums[3], 33);
	b = fetch_journal_find(&j, "1.2/small");
	assert_non_null(b);
	assert_int_equal(b->done[0], 1);
	assert_null(fetch_journal_find(&j, "1.2/gone"));
	b = fetch_journal_find(&j, "1.2/replaced");
	assert_non_null(b);
	assert_int_equal(b->id, 5);
	assert_string_equal(b->etag, "");
	assert_int_equal(b->done[0], 0);
	fetch_journal_free(&j);
}

static void
test_journal_damage(void **state)
{
	struct jtext t = { .len = 0 };
	struct fetch_journal j;
	char l[FETCH_JOURNAL_LINE_MAX];
	size_t good;
	int n;

	(void)state;
	jt_add(&t, fetch_journal_fmt_head(l, sizeof(l), KEY), l);
	jt_add(&t, fetch_journal_fmt_blob(l, sizeof(l), 1, 10, 262144, "e",
	    "1.2/a"), l);
	good = t.len;
	/* a flipped byte inside a record: the checksum rejects it */
	n = fetch_journal_fmt_range(l, sizeof(l), 1, 0, 10, 7);
	l[2] = '9';
	jt_add(&t, n, l);
	/* a torn last line (no newline) */
	n = fetch_journal_fmt_range(l, sizeof(l), 1, 0, 10, 7);
	jt_add(&t, n - 5, l);
	assert_int_equal(fetch_journal_parse(t.buf, t.len, KEY, &j), 0);
	assert_int_equal(j.bad_lines, 2);
	assert_int_equal(j.n, 1);
	assert_int_equal(j.v[0].done[0], 0);
	fetch_journal_free(&j);

	/* another release's journal is not used at all */
	assert_int_equal(fetch_journal_parse(t.buf, good, KEY "x", &j), 0);
	assert_int_equal(j.key_mismatch, 1);
	assert_int_equal(j.n, 0);
	fetch_journal_free(&j);

	/* garbage */
	assert_int_equal(fetch_journal_parse("hello\nworld\n", 12, KEY, &j),
	    0);
	assert_int_equal(j.key_mismatch, 1);
	fetch_journal_free(&j);
	/* empty */
	assert_int_equal(fetch_journal_parse("", 0, KEY, &j), 0);
	assert_int_equal(j.key_mismatch, 0);
	assert_int_equal(j.n, 0);
	fetch_journal_free(&j);
}

static void
test_journal_escapes(void **state)
{
	char l[FETCH_JOURNAL_LINE_MAX], name[1025];
	struct jtext t = { .len = 0 };
	struct fetch_journal j;

	(void)state;
	/* spaces and '%' escaped; a line carries at most one name */
	jt_add(&t, fetch_journal_fmt_head(l, sizeof(l), KEY), l);
	assert_true(fetch_journal_fmt_blob(l, sizeof(l), 1, 1, 65536, "e",
	    "1.2/100% sure/a b") > 0);
	assert_null(strstr(l, "a b"));
	assert_non_null(strstr(l, "100%25%20sure/a%20b"));
	jt_add(&t, (int)strlen(l), l);
	/* the longest name, all escaped, still fits a line */
	memset(name, ' ', 1024);
	name[1024] = '\0';
	jt_add(&t, fetch_journal_fmt_blob(l, sizeof(l), 2, 1, 65536, "e",
	    name), l);
	assert_int_equal(fetch_journal_parse(t.buf, t.len, KEY, &j), 0);
	assert_int_equal(j.bad_lines, 0);
	assert_int_equal(j.n, 2);
	assert_non_null(fetch_journal_find(&j, "1.2/100% sure/a b"));
	assert_non_null(fetch_journal_find(&j, name));
	fetch_journal_free(&j);
	/* no room: -1, never a truncated line */
	assert_int_equal(fetch_journal_fmt_blob(l, 20, 1, 1, 65536, "e",
	    "1.2/a"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_check),
		cmocka_unit_test(test_path_limits),
		cmocka_unit_test(test_paths_conflict),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_sum),
		cmocka_unit_test(test_journal_roundtrip),
		cmocka_unit_test(test_journal_damage),
		cmocka_unit_test(test_journal_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
