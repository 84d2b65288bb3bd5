/*
 * test_release.c — the on-disk layout: names, seal and install, the intact
 * check, switch and switch back (with a process killed between the two
 * renames), pruning (killed mid-delete), and the deploy lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/file.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "clock.h"
#include "fsutil.h"
#include "release.h"
#include "testutil.h"

struct fx {
	char root[256];
	struct release_paths p;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	tmpdir_make(f->root, sizeof(f->root));
	assert_int_equal(release_paths_init(&f->p, f->root), 0);
	assert_int_equal(release_layout_make(&f->p), 0);
	*state = f;
	return 0;
}

static int
make_writable(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	if (type == FTW_D || type == FTW_DNR)
		chmod(path, (st->st_mode | S_IRWXU) & 07777);
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	/* read-only trees: give the bits back before removing */
	chmod(f->root, 0700);
	nftw(f->root, make_writable, 32, FTW_PHYS);
	fs_rm_rf(f->root);
	free(f);
	return 0;
}

/* Prepare staging/<name> with n files (one in a subdirectory, a symlink). */
static void
stage(struct fx *f, const char *name, int n, char *dir, size_t dirsz)
{
	char sub[2 * PATH_MAX], path[2 * PATH_MAX];

	snprintf(dir, dirsz, "%s/%s", f->p.staging, name);
	assert_int_equal(fs_path_join(sub, sizeof(sub), dir, "bin"), 0);
	assert_int_equal(fs_mkdir_p(sub, 0755), 0);
	for (int i = 0; i < n; i++) {
		char fname[32], text[64];

		snprintf(fname, sizeof(fname), "file%d.txt", i);
		snprintf(text, sizeof(text), "release %s file %d\n", name, i);
		file_put(dir, fname, text, path, sizeof(path));
	}
	file_put(sub, "run", "#!/bin/sh\necho hi\n", path, sizeof(path));
	chmod(path, 0755);
	assert_int_equal(fs_path_join(path, sizeof(path), dir, "link"), 0);
	assert_int_equal(symlink("bin/run", path), 0);
}

static void
install(struct fx *f, const char *name, int readonly)
{
	char dir[2 * PATH_MAX];

	stage(f, name, 3, dir, sizeof(dir));
	assert_int_equal(release_seal(dir, name, readonly), 0);
	assert_int_equal(release_install(&f->p, dir, name), 0);
}

static void
links(struct fx *f, const char *cur, const char *prev)
{
	char got[RELEASE_NAME_MAX + 1], target[2 * PATH_MAX];
	ssize_t n;

	assert_int_equal(release_link_read(&f->p, f->p.current, got,
	    sizeof(got)), cur[0] ? 0 : 1);
	assert_string_equal(got, cur);
	assert_int_equal(release_link_read(&f->p, f->p.previous, got,
	    sizeof(got)), prev[0] ? 0 : 1);
	assert_string_equal(got, prev);
	if (cur[0]) {
		/* relative targets, so the root can move */
		n = readlink(f->p.current, target, sizeof(target) - 1);
		assert_true(n > 0);
		target[n] = '\0';
		assert_int_equal(strncmp(target, "releases/", 9), 0);
	}
}

static void
test_names(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} t[] = {
		{ "1.234", 1 }, { "v2", 1 }, { "2026-11-26_build+7", 1 },
		{ "A", 1 }, { "", 0 }, { ".", 0 }, { "..", 0 },
		{ ".hidden", 0 },
		{ "-x", 0 }, { "a/b", 0 }, { "a b", 0 }, { "a\nb", 0 },
		{ "ä", 0 }, { "x:y", 0 },
	};
	char longname[RELEASE_NAME_MAX + 2];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (release_name_valid(t[i].name) != t[i].ok)
			fail_msg("release_name_valid(\"%s\") != %d",
			    t[i].name, t[i].ok);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[RELEASE_NAME_MAX] = '\0';
	assert_int_equal(release_name_valid(longname), 1);
	longname[RELEASE_NAME_MAX] = 'a';
	longname[RELEASE_NAME_MAX + 1] = '\0';
	assert_int_equal(release_name_valid(longname), 0);
}

static void
test_paths(void **state)
{
	struct release_paths p;
	char out[2 * PATH_MAX];
	struct capture c;

	assert_int_equal(release_paths_init(&p, "/opt/greenlight//"), 0);
	assert_string_equal(p.root, "/opt/greenlight");
	assert_string_equal(p.releases, "/opt/greenlight/releases");
	assert_string_equal(p.staging, "/opt/greenlight/staging");
	assert_string_equal(p.current, "/opt/greenlight/current");
	assert_string_equal(p.previous, "/opt/greenlight/previous");
	assert_int_equal(release_dir(&p, "v1", out, sizeof(out)), 0);
	assert_string_equal(out, "/opt/greenlight/releases/v1");
	capture_begin(&c);
	assert_int_equal(release_dir(&p, "../etc", out, sizeof(out)), -1);
	capture_end(&c);
	assert_non_null(strstr(c.text, "release \"../etc\": not a valid "
	    "release name"));
}

static void
test_seal_install_intact(void **state)
{
	struct fx *f = *state;
	char dir[2 * PATH_MAX], path[2 * PATH_MAX], *seal;
	struct capture c;
	struct stat st;

	stage(f, "v1", 5, dir, sizeof(dir));
	/* an unsealed tree is refused */
	capture_begin(&c);
	assert_int_equal(release_install(&f->p, dir, "v1"), -1);
	capture_end(&c);
	assert_non_null(strstr(c.text, "is not sealed for this release"));
	assert_int_equal(release_intact(&f->p, "v1", 0), 0);

	assert_int_equal(release_seal(dir, "v1", 1), 0);
	/* sealed for v1, not for v9 */
	capture_begin(&c);
	assert_int_equal(release_install(&f->p, dir, "v9"), -1);
	capture_end(&c);
	assert_int_equal(release_install(&f->p, dir, "v1"), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(release_intact(&f->p, "v1", 0), 1);
	assert_int_equal(release_intact(&f->p, "v1", 1), 1);

	snprintf(path, sizeof(path), "%s/v1/%s", f->p.releases, RELEASE_SEAL);
	seal = fs_read_file(path, 65536, NULL, 0);
	assert_non_null(seal);
	assert_non_null(strstr(seal, "\"name\": \"v1\""));
	assert_non_null(strstr(seal, "\"files\": 6"));
	assert_non_null(strstr(seal, "\"format\": 1"));
	assert_non_null(strstr(seal, "\"listing_sha256\": \""));
	free(seal);

	/* read-only: files, directories and the top directory */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0222, 0);
	snprintf(path, sizeof(path), "%s/v1/bin/run", f->p.releases);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0555);
	snprintf(path, sizeof(path), "%s/v1/bin", f->p.releases);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0222, 0);
	snprintf(path, sizeof(path), "%s/v1", f->p.releases);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0222, 0);

	/* the same release again: already installed, staging left alone */
	stage(f, "v1", 5, dir, sizeof(dir));
	assert_int_equal(release_seal(dir, "v1", 0), 0);
	assert_int_equal(release_install(&f->p, dir, "v1"), 1);
	assert_int_equal(access(dir, F_OK), 0);

	/* a change after install: the cheap check misses it, deep finds it */
	snprintf(path, sizeof(path), "%s/v1", f->p.releases);
	chmod(path, 0755);
	file_put(path, "extra", "x", dir, sizeof(dir));
	assert_int_equal(release_intact(&f->p, "v1", 0), 1);
	capture_begin(&c);
	assert_int_equal(release_intact(&f->p, "v1", 1), 0);
	capture_end(&c);
	assert_non_null(strstr(c.text, "release v1: changed since it was "
	    "installed (7 files"));

	/* a seal naming another release is not intact */
	assert_int_equal(release_intact(&f->p, "nope", 0), 0);
}

static void
test_install_replaces_incomplete(void **state)
{
	struct fx *f = *state;
	char dir[2 * PATH_MAX], junk[2 * PATH_MAX], path[2 * PATH_MAX];
	struct capture c;

	/* releases/v3 without a seal (not made by us): replaced */
	snprintf(junk, sizeof(junk), "%s/v3", f->p.releases);
	assert_int_equal(fs_mkdir_p(junk, 0755), 0);
	file_put(junk, "half", "x", path, sizeof(path));
	stage(f, "v3", 2, dir, sizeof(dir));
	assert_int_equal(release_seal(dir, "v3", 0), 0);
	capture_begin(&c);
	assert_int_equal(release_install(&f->p, dir, "v3"), 0);
	capture_end(&c);
	assert_non_null(strstr(c.text, "is incomplete (left by an interrupted "
	    "run?); replacing it"));
	assert_int_equal(release_intact(&f->p, "v3", 1), 1);
	snprintf(path, sizeof(path), "%s/v3/half", f->p.releases);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_switch_sequence(void **state)
{
	struct fx *f = *state;
	char oldprev[RELEASE_NAME_MAX + 1];
	struct capture c;

	install(f, "v1", 1);
	install(f, "v2", 1);
	install(f, "v3", 0);
	links(f, "", "");

	assert_int_equal(release_switch(&f->p, "v1", oldprev), 0);
	assert_string_equal(oldprev, "");
	links(f, "v1", "");
	assert_int_equal(release_switch(&f->p, "v2", oldprev), 0);
	links(f, "v2", "v1");
	/* again: nothing moves */
	assert_int_equal(release_switch(&f->p, "v2", oldprev), 0);
	assert_string_equal(oldprev, "v1");
	links(f, "v2", "v1");
	assert_int_equal(release_switch(&f->p, "v3", oldprev), 0);
	assert_string_equal(oldprev, "v1");
	links(f, "v3", "v2");

	/* v3 failed validation: back to v2, previous back to v1 */
	assert_int_equal(release_switch_back(&f->p, "v2", oldprev), 0);
	links(f, "v2", "v1");
	assert_int_equal(release_switch_back(&f->p, "v1", NULL), 0);
	links(f, "v1", "");

	/* not installed: refused, nothing moves */
	capture_begin(&c);
	assert_int_equal(release_switch(&f->p, "v9", NULL), -1);
	assert_int_equal(release_switch_back(&f->p, "v9", "v1"), -1);
	capture_end(&c);
	assert_int_equal(count_lines_with(c.text, "release v9: not installed "
	    "or not intact"), 2);
	links(f, "v1", "");
}

/* Run fn in a child with GREENLIGHT_CRASH_AT=point; it must die of KILL. */
static void
crash_in_child(const char *point, void (*fn)(struct fx *), struct fx *f)
{
	int status;
	pid_t pid;

	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("GREENLIGHT_CRASH_AT", point, 1);
		fn(f);
		_exit(0); /* not reached when the crash point fires */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("crash point %s did not fire", point);
}

static void
do_switch_v3(struct fx *f)
{
	release_switch(&f->p, "v3", NULL);
}

static void
do_back_v1(struct fx *f)
{
	release_switch_back(&f->p, "v1", "v0");
}

static void
do_prune(struct fx *f)
{
	release_prune(&f->p, 0);
}

static void
do_install_v4(struct fx *f)
{
	char dir[2 * PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/v4", f->p.staging);
	release_install(&f->p, dir, "v4");
}

static void
test_crash_between_renames(void **state)
{
	struct fx *f = *state;
	char oldprev[RELEASE_NAME_MAX + 1];
	struct capture c;

	install(f, "v1", 1);
	install(f, "v2", 1);
	install(f, "v3", 1);
	assert_int_equal(release_switch(&f->p, "v1", NULL), 0);
	assert_int_equal(release_switch(&f->p, "v2", NULL), 0);
	links(f, "v2", "v1");

	/* killed between previous := v2 and current := v3 */
	capture_begin(&c);
	crash_in_child("release-switch", do_switch_v3, f);
	capture_end(&c);
	/* the old release still serves, intact; previous already moved */
	links(f, "v2", "v2");
	assert_int_equal(release_intact(&f->p, "v2", 1), 1);
	/* the rerun converges */
	assert_int_equal(release_switch(&f->p, "v3", oldprev), 0);
	links(f, "v3", "v2");

	/* roll back killed between current := v1 and previous := v0 */
	capture_begin(&c);
	crash_in_child("release-switch", do_back_v1, f);
	capture_end(&c);
	/* current is already off the failed release */
	links(f, "v1", "v2");
}

static void
test_crash_install_and_prune(void **state)
{
	struct fx *f = *state;
	char dir[2 * PATH_MAX];
	struct capture c;
	int n;

	/* killed right after the rename into releases/: complete, reusable */
	stage(f, "v4", 2, dir, sizeof(dir));
	assert_int_equal(release_seal(dir, "v4", 1), 0);
	capture_begin(&c);
	crash_in_child("release-install", do_install_v4, f);
	capture_end(&c);
	assert_int_equal(release_intact(&f->p, "v4", 1), 1);
	stage(f, "v4", 2, dir, sizeof(dir));
	assert_int_equal(release_seal(dir, "v4", 1), 0);
	assert_int_equal(release_install(&f->p, dir, "v4"), 1);

	install(f, "v5", 1);
	assert_int_equal(release_switch(&f->p, "v5", NULL), 0);
	/* killed after v4 became .trash-v4-PID: v4 is gone, not half there */
	capture_begin(&c);
	crash_in_child("release-prune", do_prune, f);
	capture_end(&c);
	snprintf(dir, sizeof(dir), "%s/v4", f->p.releases);
	assert_int_equal(access(dir, F_OK), -1);
	n = 0;
	{
		DIR *d = opendir(f->p.releases);
		struct dirent *e;

		assert_non_null(d);
		while ((e = readdir(d)) != NULL)
			if (strncmp(e->d_name, ".trash-v4-", 10) == 0)
				n++;
		closedir(d);
	}
	assert_int_equal(n, 1);
	/* the next prune finishes the job */
	capture_begin(&c);
	assert_int_equal(release_prune(&f->p, 0), 0);
	capture_end(&c);
	assert_int_equal(count_lines_with(c.text, "removing leftover"), 1);
	assert_int_equal(release_intact(&f->p, "v5", 1), 1);
}

static void
test_prune_keeps(void **state)
{
	struct fx *f = *state;
	struct release_info *v = NULL;
	size_t n = 0;
	struct capture c;
	char name[8];

	for (int i = 1; i <= 6; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		install(f, name, 1);
		clock_sleep_ms(2, NULL); /* distinct seal times */
	}
	assert_int_equal(release_switch(&f->p, "r1", NULL), 0);
	assert_int_equal(release_switch_back(&f->p, "r6", "r1"), 0);
	links(f, "r6", "r1");

	assert_int_equal(release_list(&f->p, &v, &n), 0);
	assert_int_equal(n, 6);
	assert_string_equal(v[0].name, "r1");
	assert_true(v[0].is_previous && !v[0].is_current && v[0].intact);
	assert_string_equal(v[5].name, "r6");
	assert_true(v[5].is_current && v[5].sealed_ms >= v[0].sealed_ms);
	free(v);

	/* keep 2 besides current and previous: the oldest two others go */
	capture_begin(&c);
	assert_int_equal(release_prune(&f->p, 2), 2);
	capture_end(&c);
	assert_int_equal(count_lines_with(c.text, "release r2: pruned"), 1);
	assert_int_equal(count_lines_with(c.text, "release r3: pruned"), 1);
	assert_int_equal(release_list(&f->p, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].name, "r1");
	assert_string_equal(v[1].name, "r4");
	assert_string_equal(v[2].name, "r5");
	assert_string_equal(v[3].name, "r6");
	free(v);
	/* nothing more to do */
	assert_int_equal(release_prune(&f->p, 2), 0);
	/* keep 0: only current and previous stay, never them */
	capture_begin(&c);
	assert_int_equal(release_prune(&f->p, 0), 2);
	capture_end(&c);
	assert_int_equal(release_list(&f->p, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_true(v[0].is_previous && v[1].is_current);
	free(v);
	links(f, "r6", "r1");
}

static void
test_links_odd(void **state)
{
	struct fx *f = *state;
	char got[RELEASE_NAME_MAX + 1];
	struct capture c;

	/* a link pointing outside releases/ is not a release */
	assert_int_equal(symlink("/etc", f->p.previous), 0);
	capture_begin(&c);
	assert_int_equal(release_link_read(&f->p, f->p.previous, got,
	    sizeof(got)), 1);
	capture_end(&c);
	assert_non_null(strstr(c.text, "does not point at a release"));
	/* a real directory named current: an error that says what to do */
	assert_int_equal(mkdir(f->p.current, 0755), 0);
	capture_begin(&c);
	assert_int_equal(release_link_read(&f->p, f->p.current, got,
	    sizeof(got)), -1);
	capture_end(&c);
	assert_non_null(strstr(c.text, "exists but is not a symlink; "
	    "greenlight manages it: move it away"));
}

static void
test_lock(void **state)
{
	struct fx *f = *state;
	struct release_lock a, b;
	char path[2 * PATH_MAX], want[128], *rec;
	struct capture c;
	int64_t t0, ms;
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "%s/run/greenlight/lock", f->root);
	assert_int_equal(release_lock(&a, path, 1000), EXIT_OK);
	assert_true(fcntl(a.fd, F_GETFD) & FD_CLOEXEC);
	rec = fs_read_file(path, 256, NULL, 0);
	snprintf(want, sizeof(want), "pid %ld, started ", (long)getpid());
	assert_int_equal(strncmp(rec, want, strlen(want)), 0);
	free(rec);

	/* busy, no waiting */
	capture_begin(&c);
	assert_int_equal(release_lock(&b, path, 0), EXIT_TEMPORARY);
	capture_end(&c);
	assert_non_null(strstr(c.text, "another greenlight deploy (pid "));
	assert_non_null(strstr(c.text, "not waiting ([install] lock_wait = "
	    "0); rerun when it has finished"));
	assert_int_equal(b.fd, -1);

	/* busy: waits, then gives up with the reason */
	t0 = clock_mono_ms();
	capture_begin(&c);
	assert_int_equal(release_lock(&b, path, 300), EXIT_TEMPORARY);
	capture_end(&c);
	ms = clock_mono_ms() - t0;
	assert_true(ms >= 300 && ms < 2000);
	snprintf(want, sizeof(want), "another greenlight deploy (pid %ld, "
	    "started ", (long)getpid());
	assert_non_null(strstr(c.text, want));
	assert_int_equal(count_lines_with(c.text, "waiting up to 300ms"), 1);
	assert_int_equal(count_lines_with(c.text, "gave up waiting after "
	    "300ms for another greenlight deploy"), 1);
	release_unlock(&a);
	release_unlock(&a); /* twice is fine */

	/* a holder that finishes while we wait: we get it */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct release_lock h;

		if (release_lock(&h, path, 0) != EXIT_OK)
			_exit(1);
		clock_sleep_ms(400, NULL);
		_exit(0); /* the lock goes with the process */
	}
	clock_sleep_ms(100, NULL);
	t0 = clock_mono_ms();
	capture_begin(&c);
	assert_int_equal(release_lock(&b, path, 5000), EXIT_OK);
	capture_end(&c);
	ms = clock_mono_ms() - t0;
	assert_true(ms >= 150 && ms < 3000);
	assert_int_equal(count_lines_with(c.text, "waiting up to 5s"), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	release_unlock(&b);

	/* a lock path that cannot be opened */
	capture_begin(&c);
	assert_int_equal(release_lock(&b, "/proc/greenlight-lock", 0),
	    EXIT_LOCAL);
	capture_end(&c);
}

/* "current intact" must be cheap enough for the no-op path (< 1 ms). */
static void
test_intact_is_cheap(void **state)
{
	struct fx *f = *state;
	char dir[2 * PATH_MAX];
	int64_t t0, us;
	struct timespec a, b;

	stage(f, "big", 3000, dir, sizeof(dir));
	assert_int_equal(release_seal(dir, "big", 1), 0);
	assert_int_equal(release_install(&f->p, dir, "big"), 0);
	t0 = clock_mono_ms();
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 200; i++)
		assert_int_equal(release_intact(&f->p, "big", 0), 1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = ((int64_t)(b.tv_sec - a.tv_sec) * 1000000000 +
	    (b.tv_nsec - a.tv_nsec)) / 1000 / 200;
	(void)t0;
	fprintf(stderr, "release_intact (3000 files, cheap): %lld us per "
	    "call\n", (long long)us);
	assert_true(us < 1000);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(release_intact(&f->p, "big", 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "release_intact (3000 files, deep): %lld us\n",
	    (long long)(((int64_t)(b.tv_sec - a.tv_sec) * 1000000000 +
	    (b.tv_nsec - a.tv_nsec)) / 1000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_paths),
		cmocka_unit_test_setup_teardown(test_seal_install_intact,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_install_replaces_incomplete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_switch_sequence, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_between_renames,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_install_and_prune,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_keeps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_links_odd, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intact_is_cheap, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
