/* test_fsutil.c — atomic writes, mkdir -p, rm -rf, capped reads, symlinks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "fsutil.h"
#include "log.h"
#include "testutil.h"

static char top[PATH_MAX];

static int
setup(void **state)
{
	tmpdir_make(top, sizeof(top));
	log_set_journal(0);
	log_set_tag(NULL);
	umask(022);
	return 0;
}

static int
teardown(void **state)
{
	struct capture c;

	capture_begin(&c);
	fs_rm_rf(top);
	capture_end(&c);
	return 0;
}

static void
path(char *out, const char *rel)
{
	if (snprintf(out, PATH_MAX, "%s/%s", top, rel) >= PATH_MAX)
		abort();
}

/* Entries of dir whose name contains needle. */
static int
count_entries(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, needle) != NULL)
			n++;
	closedir(d);
	return n;
}

static char *
slurp(const char *p)
{
	size_t len;
	char *s = fs_read_file(p, 1 << 24, &len, 0);

	assert_non_null(s);
	return s;
}

static void
test_write_atomic(void **state)
{
	char d[PATH_MAX], f[PATH_MAX], *s;
	struct stat st;

	path(d, "w");
	assert_int_equal(fs_mkdir_p(d, 0755), 0);
	path(f, "w/state.json");
	assert_int_equal(fs_write_atomic(f, "{\"a\":1}\n", 8, 0640), 0);
	s = slurp(f);
	assert_string_equal(s, "{\"a\":1}\n");
	free(s);
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* replace: new content and mode, same name, nothing else left */
	assert_int_equal(fs_write_atomic(f, "second", 6, 0600), 0);
	s = slurp(f);
	assert_string_equal(s, "second");
	free(s);
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* empty content is a valid file */
	assert_int_equal(fs_write_atomic(f, "", 0, 0644), 0);
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(count_entries(d, ".tmp"), 0);
	assert_int_equal(count_entries(d, "state.json"), 1);
}

/* A write that fails part-way leaves the old file and no temp file. */
static void
test_write_atomic_failure_keeps_old(void **state)
{
	char d[PATH_MAX], f[PATH_MAX], sub[PATH_MAX], *s, *big;
	struct rlimit old, lim;
	struct capture c;
	size_t bigsz = 1 << 20;
	int rc;

	path(d, "fail");
	assert_int_equal(fs_mkdir_p(d, 0755), 0);
	path(f, "fail/current.json");
	assert_int_equal(fs_write_atomic(f, "old", 3, 0644), 0);

	/* the file size limit makes write(2) fail with EFBIG */
	big = malloc(bigsz);
	assert_non_null(big);
	memset(big, 'n', bigsz);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 64 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	capture_begin(&c);
	rc = fs_write_atomic(f, big, bigsz, 0644);
	capture_end(&c);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	free(big);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(c.text, "current.json: write:"));
	s = slurp(f);
	assert_string_equal(s, "old");
	free(s);
	assert_int_equal(count_entries(d, ".tmp"), 0);

	/* rename onto a directory fails: directory kept, temp removed */
	path(sub, "fail/adir");
	assert_int_equal(mkdir(sub, 0755), 0);
	capture_begin(&c);
	rc = fs_write_atomic(sub, "x", 1, 0644);
	capture_end(&c);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(c.text, "adir: rename:"));
	assert_int_equal(count_entries(d, ".tmp"), 0);

	/* missing directory: nothing created, error names the path */
	path(f, "fail/missing/x.json");
	capture_begin(&c);
	rc = fs_write_atomic(f, "x", 1, 0644);
	capture_end(&c);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(c.text, "x.json: cannot create temporary"));
}

static void
test_mkdir_p(void **state)
{
	char p[PATH_MAX], f[PATH_MAX];
	struct stat st;
	struct capture c;
	int rc;

	path(p, "m/a/b/c");
	assert_int_equal(fs_mkdir_p(p, 0750), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0750);
	/* again: nothing to do */
	assert_int_equal(fs_mkdir_p(p, 0750), 0);
	/* trailing and doubled slashes */
	path(p, "m/x//y/");
	assert_int_equal(fs_mkdir_p(p, 0755), 0);
	path(p, "m/x/y");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	/* a file in the way, in the middle or at the end, is an error */
	path(f, "m/file");
	assert_int_equal(fs_write_atomic(f, "x", 1, 0644), 0);
	path(p, "m/file/sub");
	capture_begin(&c);
	rc = fs_mkdir_p(p, 0755);
	capture_end(&c);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(c.text, "cannot create directory"));
	capture_begin(&c);
	rc = fs_mkdir_p(f, 0755);
	capture_end(&c);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(c.text, "m/file:"));
	/* a symlink to a directory is fine as a component */
	path(p, "m/link");
	path(f, "m/a");
	assert_int_equal(symlink(f, p), 0);
	path(p, "m/link/b/new");
	assert_int_equal(fs_mkdir_p(p, 0755), 0);
	path(p, "m/a/b/new");
	assert_int_equal(stat(p, &st), 0);
}

/* rm -rf removes links, never what they point at. */
static void
test_rm_rf_no_follow(void **state)
{
	char victim[PATH_MAX], vfile[PATH_MAX], tree[PATH_MAX], p[PATH_MAX];
	char q[PATH_MAX];
	struct stat st;

	path(victim, "victim");
	assert_int_equal(fs_mkdir_p(victim, 0755), 0);
	path(vfile, "victim/keep.txt");
	assert_int_equal(fs_write_atomic(vfile, "keep", 4, 0644), 0);

	path(tree, "tree");
	path(p, "tree/a/b/c");
	assert_int_equal(fs_mkdir_p(p, 0755), 0);
	path(p, "tree/a/b/c/f1");
	assert_int_equal(fs_write_atomic(p, "1", 1, 0644), 0);
	path(p, "tree/a/f2");
	assert_int_equal(fs_write_atomic(p, "2", 1, 0000), 0);
	path(p, "tree/a/dirlink");
	assert_int_equal(symlink(victim, p), 0);
	path(p, "tree/a/b/filelink");
	assert_int_equal(symlink(vfile, p), 0);
	path(p, "tree/dangling");
	assert_int_equal(symlink("/nonexistent/x", p), 0);
	path(p, "tree/a/b/fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	path(p, "tree/empty");
	assert_int_equal(mkdir(p, 0755), 0);

	assert_int_equal(fs_rm_rf(tree), 0);
	assert_int_equal(lstat(tree, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(vfile, &st), 0);
	assert_int_equal(count_entries(victim, "keep.txt"), 1);

	/* a symlink given as the root: the link goes, the target stays */
	path(p, "rootlink");
	assert_int_equal(symlink(victim, p), 0);
	assert_int_equal(fs_rm_rf(p), 0);
	assert_int_equal(lstat(p, &st), -1);
	assert_int_equal(stat(vfile, &st), 0);
	/* a single file, and something missing */
	path(q, "single");
	assert_int_equal(fs_write_atomic(q, "s", 1, 0644), 0);
	assert_int_equal(fs_rm_rf(q), 0);
	assert_int_equal(lstat(q, &st), -1);
	path(q, "never-was");
	assert_int_equal(fs_rm_rf(q), 0);
}

static void
test_read_file_cap(void **state)
{
	static const struct {
		size_t size, max;
		int ok;
	} t[] = {
		{ 0, 0, 1 },	   { 0, 10, 1 },	 { 10, 10, 1 },
		{ 11, 10, 0 },	   { 9, 10, 1 },	 { 1, 0, 0 },
		{ 4095, 4096, 1 }, { 4096, 4096, 1 },	 { 4097, 4096, 0 },
		{ 8191, 8192, 1 }, { 8192, 8192, 1 },	 { 8193, 8192, 0 },
		{ 100000, 1 << 20, 1 }, { 100000, 99999, 0 },
		{ 100000, 100000, 1 },
	};
	char f[PATH_MAX];
	struct capture c;

	path(f, "readme");
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char *data = malloc(t[i].size + 1), *got;
		size_t len = 12345;

		assert_non_null(data);
		for (size_t k = 0; k < t[i].size; k++)
			data[k] = (char)('a' + k % 26);
		assert_int_equal(fs_write_atomic(f, data, t[i].size, 0644), 0);
		capture_begin(&c);
		got = fs_read_file(f, t[i].max, &len, 0);
		capture_end(&c);
		if (t[i].ok) {
			if (got == NULL)
				fail_msg("size %zu max %zu: refused (%s)",
				    t[i].size, t[i].max, c.text);
			assert_int_equal(len, t[i].size);
			assert_memory_equal(got, data, t[i].size);
			assert_int_equal(got[len], '\0');
		} else {
			if (got != NULL)
				fail_msg("size %zu max %zu: accepted",
				    t[i].size, t[i].max);
			assert_non_null(strstr(c.text, "larger than"));
		}
		free(got);
		free(data);
	}
	/* missing file: quiet when asked */
	path(f, "absent");
	capture_begin(&c);
	assert_null(fs_read_file(f, 10, NULL, 1));
	capture_end(&c);
	assert_string_equal(c.text, "");
	capture_begin(&c);
	assert_null(fs_read_file(f, 10, NULL, 0));
	capture_end(&c);
	assert_non_null(strstr(c.text, "absent: cannot open"));
}

static void
test_symlink_atomic(void **state)
{
	char d[PATH_MAX], link[PATH_MAX], buf[PATH_MAX], p[PATH_MAX];
	struct capture c;
	ssize_t n;
	int rc;

	path(d, "rel");
	assert_int_equal(fs_mkdir_p(d, 0755), 0);
	path(link, "rel/current");
	assert_int_equal(fs_symlink_atomic("releases/v1", link), 0);
	n = readlink(link, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "releases/v1");
	/* switch: the link is replaced in one step */
	assert_int_equal(fs_symlink_atomic("releases/v2", link), 0);
	n = readlink(link, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	assert_string_equal(buf, "releases/v2");
	assert_int_equal(count_entries(d, ".tmp"), 0);
	assert_int_equal(count_entries(d, "current"), 1);
	/* a stale temp link from a crash does not block the switch */
	if (snprintf(p, sizeof(p), "%s.tmp-%ld", link, (long)getpid()) >=
	    (int)sizeof(p))
		fail();
	assert_int_equal(symlink("junk", p), 0);
	assert_int_equal(fs_symlink_atomic("releases/v3", link), 0);
	n = readlink(link, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	assert_string_equal(buf, "releases/v3");
	assert_int_equal(count_entries(d, ".tmp"), 0);
	/* a real directory in the way is not replaced */
	path(p, "rel/dir");
	assert_int_equal(mkdir(p, 0755), 0);
	capture_begin(&c);
	rc = fs_symlink_atomic("releases/v1", p);
	capture_end(&c);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(c.text, "rename"));
	assert_int_equal(count_entries(d, ".tmp"), 0);
}

static void
test_path_join(void **state)
{
	static const struct {
		const char *a, *b, *want;
	} t[] = {
		{ "a", "b", "a/b" },
		{ "a/", "b", "a/b" },
		{ "a", "/b", "a/b" },
		{ "a//", "//b", "a/b" },
		{ "/opt/greenlight", "releases/v1",
		  "/opt/greenlight/releases/v1" },
		{ "/", "b", "/b" },
		{ "/", "/b", "/b" },
		{ "a", "", "a/" },
	};
	char out[64];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		assert_int_equal(fs_path_join(out, sizeof(out), t[i].a, t[i].b),
		    0);
		if (strcmp(out, t[i].want) != 0)
			fail_msg("join(\"%s\", \"%s\") = \"%s\", want \"%s\"",
			    t[i].a, t[i].b, out, t[i].want);
	}
	/* exactly fits, one short */
	assert_int_equal(fs_path_join(out, 4, "a", "bc"), -1);
	assert_int_equal(fs_path_join(out, 5, "a", "bc"), 0);
	assert_string_equal(out, "a/bc");
}

static void
test_misc(void **state)
{
	char f[PATH_MAX];
	struct capture c;

	assert_true(fs_free_bytes(top) > 0);
	path(f, "nope");
	assert_int_equal(fs_free_bytes(f), -1);
	assert_int_equal(fs_fsync_dir(top), 0);
	path(f, "misc-file");
	assert_int_equal(fs_write_atomic(f, "x", 1, 0644), 0);
	assert_int_equal(fs_fsync_dir_of(f), 0);
	capture_begin(&c);
	assert_int_equal(fs_fsync_dir(f), -1);
	capture_end(&c);
	assert_non_null(strstr(c.text, "cannot open directory"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_write_atomic_failure_keeps_old),
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_rm_rf_no_follow),
		cmocka_unit_test(test_read_file_cap),
		cmocka_unit_test(test_symlink_atomic),
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_misc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
