/*
 * test_hooks.c — hooks (and proc.c under them): outcomes, timeouts that kill
 * the whole process group, leftovers, output lines and tail, the exact
 * environment a hook sees, and its working directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "clock.h"
#include "fsutil.h"
#include "hooks.h"
#include "proc.h"
#include "testutil.h"

static char tmp[256];

static int
setup(void **state)
{
	tmpdir_make(tmp, sizeof(tmp));
	return 0;
}

static int
teardown(void **state)
{
	fs_rm_rf(tmp);
	return 0;
}

static struct hook
hook_sh(const char *name, const char *cmd, int64_t timeout_ms)
{
	struct hook h = {
		.name = name,
		.shell = cmd,
		.timeout_ms = timeout_ms,
		.release = "v2",
		.previous = "v1",
		.release_dir = tmp,
		.root = "/opt/greenlight",
	};

	return h;
}

/* 1 when pid is gone or a zombie (nobody may reap it: PID 1 is no init). */
static int
pid_dead(long pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

static long
read_pid(const char *file)
{
	char *text = fs_read_file(file, 64, NULL, 1);
	long pid = text ? strtol(text, NULL, 10) : 0;

	free(text);
	return pid;
}

/*
 * The process whose pid a hook wrote to pidfile is gone within 2 s; else
 * kill it and fail, naming it as what.
 */
static void
assert_gone(const char *pidfile, const char *what)
{
	long pid = read_pid(pidfile);

	assert_true(pid > 1);
	for (int i = 0; i < 100 && !pid_dead(pid); i++)
		clock_sleep_ms(20, NULL);
	if (!pid_dead(pid)) {
		kill((pid_t)pid, SIGKILL);
		fail_msg("%s %ld (%s) survived", what, pid, pidfile);
	}
}

static void
test_outcomes(void **state)
{
	static const struct {
		const char *cmd;
		enum hook_outcome want;
		int status, sig;
		const char *msg;
	} t[] = {
		{ "exit 0", HOOK_OK, 0, 0, "hook t: exited with status 0" },
		{ "echo hi; exit 3", HOOK_FAILED, 3, 0,
		    "hook t: exited with status 3" },
		{ "exit 255", HOOK_FAILED, 255, 0,
		    "hook t: exited with status 255" },
		{ "kill -KILL $$", HOOK_KILLED, 0, 9,
		    "hook t: killed by signal 9 (KILL)" },
		{ "kill -SEGV $$", HOOK_KILLED, 0, 11,
		    "hook t: killed by signal 11 (SEGV)" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct hook h = hook_sh("t", t[i].cmd, 10000);
		struct hook_result r;
		struct capture c;
		enum hook_outcome o;

		capture_begin(&c);
		o = hooks_run(&h, &r);
		capture_end(&c);
		if (o != t[i].want || r.outcome != o)
			fail_msg("%s: outcome %s, want %s", t[i].cmd,
			    hook_outcome_names[o],
			    hook_outcome_names[t[i].want]);
		assert_int_equal(r.status, t[i].status);
		assert_int_equal(r.signal, t[i].sig);
		assert_string_equal(r.message, t[i].msg);
		if (o != HOOK_OK)
			assert_int_equal(count_lines_with(c.text, t[i].msg), 1);
	}
}

static void
test_argv_and_errors(void **state)
{
	char *ok_argv[] = { "true", NULL };
	char *missing[] = { "no-such-command-greenlight", NULL };
	char *abs_missing[] = { "/nonexistent/bin/x", NULL };
	struct hook h = hook_sh("before_install", NULL, 5000);
	struct hook_result r;
	struct capture c;

	h.argv = ok_argv;
	assert_int_equal(hooks_run(&h, &r), HOOK_OK);

	h.argv = missing;
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_ERROR);
	capture_end(&c);
	assert_non_null(strstr(c.text, "no-such-command-greenlight: command "
	    "not found in PATH"));
	assert_string_equal(r.message,
	    "hook before_install: could not be started (see above)");

	h.argv = abs_missing;
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_ERROR);
	capture_end(&c);
	assert_non_null(strstr(c.text, "/nonexistent/bin/x: cannot execute: "
	    "No such file or directory"));

	h.argv = ok_argv;
	h.cwd = "/nonexistent-dir";
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_ERROR);
	capture_end(&c);
	assert_non_null(strstr(c.text, "cannot change to directory "
	    "/nonexistent-dir"));

	h.cwd = NULL;
	h.argv = NULL;
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_ERROR);
	capture_end(&c);
	assert_string_equal(r.message, "hook before_install: no command");
}

/* The timeout kills the hook and what it started in the background. */
static void
test_timeout_kills_group(void **state)
{
	char cmd[512], pidfile[300];
	struct hook h;
	struct hook_result r;
	struct capture c;
	int64_t t0, ms;

	snprintf(pidfile, sizeof(pidfile), "%s/sleeper.pid", tmp);
	snprintf(cmd, sizeof(cmd), "sleep 300 & echo $! > %s; echo started; "
	    "sleep 300", pidfile);
	h = hook_sh("validate", cmd, 400);
	t0 = clock_mono_ms();
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_TIMEOUT);
	capture_end(&c);
	ms = clock_mono_ms() - t0;
	assert_true(ms >= 400 && ms < 3000);
	assert_string_equal(r.message, "hook validate: timed out after 400ms; "
	    "its process group was killed");
	assert_int_equal(count_lines_with(c.text, "hook validate: started"),
	    1);
	assert_gone(pidfile, "after the timeout, the background sleeper");
}

/* A hook that ignores TERM gets KILL after the grace period. */
static void
test_timeout_ignoring_term(void **state)
{
	char cmd[512], pidfile[300];
	struct hook h;
	struct hook_result r;
	struct capture c;
	int64_t t0, ms;

	snprintf(pidfile, sizeof(pidfile), "%s/stubborn.pid", tmp);
	snprintf(cmd, sizeof(cmd), "trap '' TERM; sleep 300 & echo $! > %s; "
	    "while :; do sleep 0.05; done", pidfile);
	h = hook_sh("before_start", cmd, 300);
	t0 = clock_mono_ms();
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_TIMEOUT);
	capture_end(&c);
	ms = clock_mono_ms() - t0;
	/* 300 ms + PROC_GRACE_MS, then KILL */
	assert_true(ms >= 300 + PROC_GRACE_MS - 100);
	assert_true(ms < 300 + PROC_GRACE_MS + 3000);
	assert_gone(pidfile, "the TERM-ignoring sleeper");
}

/* A hook that exits but leaves processes behind: they are killed. */
static void
test_leftovers_killed(void **state)
{
	static const char *const redirect[] = {
		"",			/* keeps the output pipe open */
		" >/dev/null 2>&1",	/* found through its process group */
	};

	for (size_t i = 0; i < ARRAY_SIZE(redirect); i++) {
		char cmd[512], pidfile[300];
		struct hook h;
		struct hook_result r;
		struct capture c;

		snprintf(pidfile, sizeof(pidfile), "%s/left%zu.pid", tmp, i);
		snprintf(cmd, sizeof(cmd), "sleep 300%s & echo $! > %s; exit 0",
		    redirect[i], pidfile);
		h = hook_sh("after_install", cmd, 10000);
		capture_begin(&c);
		assert_int_equal(hooks_run(&h, &r), HOOK_OK);
		capture_end(&c);
		assert_true(r.ms < 3000);
		assert_int_equal(count_lines_with(c.text, "hook after_install: "
		    "left processes running in its group; they were killed"),
		    1);
		assert_gone(pidfile, "a leftover");
	}
}

static void
test_output_lines_and_tail(void **state)
{
	struct hook h;
	struct hook_result r;
	struct capture c;

	/* 10000 'a's on one line, then lines, with a CR and an ESC */
	h = hook_sh("validate", "head -c 10000 /dev/zero | tr '\\0' a; echo; "
	    "printf 'one\\r\\ntwo\\033[31m\\n'; echo END >&2", 5000);
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_OK);
	capture_end(&c);
	assert_int_equal(r.tail_len, HOOKS_TAIL_MAX);
	assert_int_equal(strlen(r.tail), HOOKS_TAIL_MAX);
	{
		static const char end[] = "aaaa\none\r\ntwo\033[31m\nEND\n";

		assert_string_equal(r.tail + HOOKS_TAIL_MAX - strlen(end),
		    end);
	}
	/* the long line is logged in pieces of at most PROC_LINE_MAX - 1 */
	assert_int_equal(count_lines_with(c.text, "hook validate: aaaa"),
	    (10000 + PROC_LINE_MAX - 2) / (PROC_LINE_MAX - 1));
	assert_int_equal(count_lines_with(c.text, "hook validate: one\n"),
	    0);
	assert_int_equal(count_lines_with(c.text, "hook validate: one"), 1);
	assert_int_equal(count_lines_with(c.text, "hook validate: two?[31m"),
	    1);
	assert_int_equal(count_lines_with(c.text, "hook validate: END"), 1);
}

struct counted {
	size_t bytes;
	int notices;
};

static void
count_line(void *arg, const char *line)
{
	struct counted *k = arg;

	k->bytes += strlen(line) + 1;
	if (strcmp(line, "(output past 1 MiB is not logged; its tail is "
	    "kept)") == 0)
		k->notices++;
}

static void
test_output_log_cap(void **state)
{
	char *argv[] = { "sh", "-c", "yes 0123456789012345678901234567890 | "
	    "head -c 3145728; echo LAST", NULL };
	struct counted k = { 0 };
	struct proc_opts o = {
		.argv = argv, .timeout_ms = 20000, .on_line = count_line,
		.arg = &k, .tail_max = 100,
	};
	struct proc_result r;

	/* 3 MiB of output: lines stop after 1 MiB, the tail is the end */
	assert_int_equal(proc_run(&o, &r), 0);
	assert_int_equal(r.exited, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(k.notices, 1);
	assert_true(k.bytes >= PROC_LOG_MAX && k.bytes < PROC_LOG_MAX + 200);
	assert_int_equal(r.tail_len, 100);
	assert_string_equal(r.tail + 95, "LAST\n");
	proc_result_free(&r);
}

static void
test_environment_exact(void **state)
{
	char *argv[] = { "env", NULL };
	char *spec_env[] = { "APP_MODE=blue", "GREENLIGHT_RELEASE=evil",
		"EMPTY=", NULL };
	static const char *const want[] = {
		"PATH=" HOOKS_PATH,
		"LANG=C.UTF-8",
		"GREENLIGHT_HOOK=before_install",
		"GREENLIGHT_RELEASE=v2",
		"GREENLIGHT_PREVIOUS_RELEASE=v1",
		"GREENLIGHT_ROOT=/opt/greenlight",
		"APP_MODE=blue",
		"EMPTY=",
	};
	struct hook h = hook_sh("before_install", NULL, 5000);
	struct hook_result r;
	struct capture c;
	char line[600];
	int lines = 0;

	setenv("GREENLIGHT_AUTH_SAS_TOKEN", "sv=2020&sig=SECRET", 1);
	setenv("AZURE_CLIENT_SECRET", "SECRET", 1);
	h.argv = argv;
	h.env = spec_env;
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_OK);
	capture_end(&c);
	unsetenv("GREENLIGHT_AUTH_SAS_TOKEN");
	unsetenv("AZURE_CLIENT_SECRET");
	assert_null(strstr(r.tail, "SECRET"));
	assert_null(strstr(r.tail, "evil"));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		snprintf(line, sizeof(line), "%s\n", want[i]);
		if (strncmp(r.tail, line, strlen(line)) != 0 &&
		    strstr(r.tail, line) == NULL)
			fail_msg("missing %s in:\n%s", want[i], r.tail);
	}
	snprintf(line, sizeof(line), "GREENLIGHT_RELEASE_DIR=%s\n", tmp);
	assert_non_null(strstr(r.tail, line));
	assert_non_null(strstr(r.tail, "\nHOME=/"));
	assert_int_equal(count_lines_with(c.text, "GREENLIGHT_RELEASE is set "
	    "by greenlight; the release's value is ignored"), 1);
	for (const char *p = r.tail; *p; p++)
		if (*p == '\n')
			lines++;
	/* 8 of greenlight's, 2 of the spec's */
	assert_int_equal(lines, 10);
}

static void
test_environment_overrides_and_cwd(void **state)
{
	char *argv[] = { "sh", "-c", "echo \"$PATH|$LANG|$(pwd)\"", NULL };
	char *spec_env[] = { "PATH=/usr/bin:/bin:/opt/tools",
		"LANG=de_DE.UTF-8", NULL };
	char *bad_env[] = { "NOEQUALS", NULL };
	struct hook h = hook_sh("before_start", NULL, 5000);
	struct hook_result r;
	struct capture c;
	char want[400];

	h.argv = argv;
	h.env = spec_env;
	h.previous = NULL;
	assert_int_equal(hooks_run(&h, &r), HOOK_OK);
	snprintf(want, sizeof(want), "/usr/bin:/bin:/opt/tools|de_DE.UTF-8|"
	    "%s\n", tmp);
	assert_string_equal(r.tail, want);

	h.cwd = "/";
	h.env = NULL;
	assert_int_equal(hooks_run(&h, &r), HOOK_OK);
	assert_string_equal(r.tail, HOOKS_PATH "|C.UTF-8|/\n");

	h.env = bad_env;
	capture_begin(&c);
	assert_int_equal(hooks_run(&h, &r), HOOK_ERROR);
	capture_end(&c);
	assert_int_equal(count_lines_with(c.text, "environment entry "
	    "\"NOEQUALS\" is not NAME=value"), 1);
}

/*
 * A hook with a user runs as that user, with only its group and its home;
 * an unknown user is an error that names it. Dropping needs root: as
 * another user only the unknown-user half runs.
 */
static void
test_user(void **state)
{
	char *argv[] = { "sh", "-c", "echo \"$(id -u) $(id -g) $(id -G) "
	    "$HOME\"", NULL };
	struct hook h = hook_sh("before_start", NULL, 5000);
	struct hook_result r;
	struct passwd *pw;
	char want[400];

	h.argv = argv;
	h.user = "no-such-user-greenlight";
	assert_int_equal(hooks_run(&h, &r), HOOK_ERROR);
	assert_string_equal(r.message, "hook before_start: user "
	    "no-such-user-greenlight does not exist");
	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL)
		skip();
	h.user = "nobody";
	h.cwd = "/"; /* the test's directory is not nobody's to enter */
	assert_int_equal(hooks_run(&h, &r), HOOK_OK);
	snprintf(want, sizeof(want), "%u %u %u %s\n", (unsigned)pw->pw_uid,
	    (unsigned)pw->pw_gid, (unsigned)pw->pw_gid, pw->pw_dir);
	assert_string_equal(r.tail, want);
}

/* The lock descriptor and any other fd never reach a hook. */
static void
test_no_inherited_fds(void **state)
{
	char *argv[] = { "sh", "-c",
		"ls /proc/self/fd | sort -n | tr '\\n' ' '", NULL };
	struct hook h = hook_sh("t", NULL, 5000);
	struct hook_result r;
	int fd = open("/dev/null", O_RDONLY); /* not close-on-exec */

	h.argv = argv;
	assert_int_equal(hooks_run(&h, &r), HOOK_OK);
	close(fd);
	/* 0, 1, 2 and the fd ls itself opens for /proc/self/fd */
	assert_string_equal(r.tail, "0 1 2 3 ");
}

static void
test_proc_describe_which(void **state)
{
	struct proc_result r = { 0 };
	char out[128];

	r.exited = 1;
	r.status = 7;
	proc_describe(&r, 1000, out, sizeof(out));
	assert_string_equal(out, "exited with status 7");
	r.exited = 0;
	r.signal = 15;
	proc_describe(&r, 1000, out, sizeof(out));
	assert_string_equal(out, "killed by signal 15 (TERM)");
	r.timed_out = 1;
	proc_describe(&r, 90000, out, sizeof(out));
	assert_string_equal(out,
	    "timed out after 90s; its process group was killed");

	assert_int_equal(proc_which("sh", "/nonexistent:/bin", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/bin/sh");
	assert_int_equal(proc_which("sh", "relative:/nonexistent", out,
	    sizeof(out)), -1);
	assert_int_equal(proc_which("a/b", "/bin", out, sizeof(out)), -1);
	assert_int_equal(proc_which("", "/bin", out, sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_argv_and_errors),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_timeout_ignoring_term),
		cmocka_unit_test(test_leftovers_killed),
		cmocka_unit_test(test_output_lines_and_tail),
		cmocka_unit_test(test_output_log_cap),
		cmocka_unit_test(test_environment_exact),
		cmocka_unit_test(test_environment_overrides_and_cwd),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_no_inherited_fds),
		cmocka_unit_test(test_proc_describe_which),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
