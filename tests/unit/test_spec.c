/* test_spec.c — release.ini: a good file, every kind of mistake as
 * FILE:LINE, all problems in one run, and the sh-like argv splitter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "log.h"
#include "spec.h"
#include "testutil.h"

static char dir[256];

/* Write text as dir/release.ini, load it, capture the log. */
static struct spec *
load_text(const char *text, int *problems, struct capture *cap)
{
	char path[512];
	struct spec *s;

	file_put(dir, "release.ini", text, path, sizeof(path));
	capture_begin(cap);
	s = spec_load(path, problems);
	capture_end(cap);
	assert_non_null(s);
	return s;
}

static void
test_good(void **state)
{
	static const char text[] =
	    "; a comment\n"
	    "# another\n"
	    "[service]\n"
	    "name = web.app-1\n"
	    "exec = bin/server --port 8080 --msg \"a b\" 'c\\d' \"\"\n"
	    "user = www-data\n"
	    "group = www-data\n"
	    "working_directory = srv/./www/\n"
	    "restart = always\n"
	    "restart_sec = 250ms\n"
	    "stop_timeout = 2m\n"
	    "writable_paths = /var/lib/web \"/srv/with space\"\n"
	    "writable_paths = /tmp/x//y/\n"
	    "\n"
	    "[environment]\n"
	    "PORT = 8080\n"
	    "EMPTY =\n"
	    "LONG = x ; not a comment = still the value\n"
	    "[unpack]\n"
	    "archive = app.tar.zst\n"
	    "archive = ./web/site.zip -> public/\n"
	    "archive = \"with space.tgz\" -> a/b\n"
	    "max_entries = 50\n"
	    "max_size = 1G\n"
	    "max_ratio = 7\n"
	    "max_path = 300\n"
	    "[hooks]\n"
	    "before_install = /bin/true\n"
	    "validate = curl -fsS http://127.0.0.1:8080/ | grep ok\n"
	    "validate_timeout = 45s\n"
	    "shell = yes\n"
	    "[health]\n"
	    "check_url = http://127.0.0.1:8080/healthz\n"
	    "check_status = 204\n"
	    "deadline = 90s\n"
	    "check_interval = 500ms\n"
	    "check_timeout = 3s\n"
	    "daemon = true\n";
	struct capture cap;
	struct spec *s;
	int problems = -1;

	s = load_text(text, &problems, &cap);
	assert_string_equal(cap.text, "");
	assert_int_equal(problems, 0);
	assert_string_equal(s->name, "web.app-1");
	assert_string_equal(s->exec.argv[0], "bin/server");
	assert_string_equal(s->exec.argv[3], "--msg");
	assert_string_equal(s->exec.argv[4], "a b");
	assert_string_equal(s->exec.argv[5], "c\\d");
	assert_string_equal(s->exec.argv[6], "");
	assert_null(s->exec.argv[7]);
	assert_int_equal(s->exec.shell, 0);
	assert_string_equal(s->user, "www-data");
	assert_int_equal(s->user_default, 0);
	assert_string_equal(s->group, "www-data");
	assert_string_equal(s->working_directory, "srv/www");
	assert_int_equal(s->restart, SPEC_RESTART_ALWAYS);
	assert_int_equal(s->restart_sec_ms, 250);
	assert_int_equal(s->stop_timeout_ms, 120000);
	assert_string_equal(s->writable_paths[0], "/var/lib/web");
	assert_string_equal(s->writable_paths[1], "/srv/with space");
	assert_string_equal(s->writable_paths[2], "/tmp/x/y");
	assert_null(s->writable_paths[3]);
	assert_string_equal(s->environment[0], "PORT=8080");
	assert_string_equal(s->environment[1], "EMPTY=");
	assert_string_equal(s->environment[2],
	    "LONG=x ; not a comment = still the value");
	assert_null(s->environment[3]);
	assert_int_equal(s->narchives, 3);
	assert_string_equal(s->archives[0].path, "app.tar.zst");
	assert_string_equal(s->archives[0].dest, "");
	assert_string_equal(s->archives[1].path, "web/site.zip");
	assert_string_equal(s->archives[1].dest, "public");
	assert_string_equal(s->archives[2].path, "with space.tgz");
	assert_string_equal(s->archives[2].dest, "a/b");
	assert_int_equal(s->limits.max_entries, 50);
	assert_int_equal(s->limits.max_size, 1ull << 30);
	assert_int_equal(s->limits.max_ratio, 7);
	assert_int_equal(s->limits.max_path, 300);
	/* hooks: shell applies to all of them */
	assert_string_equal(s->hooks[SPEC_HOOK_BEFORE_INSTALL].argv[0],
	    "/bin/sh");
	assert_string_equal(s->hooks[SPEC_HOOK_VALIDATE].argv[1], "-c");
	assert_string_equal(s->hooks[SPEC_HOOK_VALIDATE].argv[2],
	    "curl -fsS http://127.0.0.1:8080/ | grep ok");
	assert_null(s->hooks[SPEC_HOOK_VALIDATE].argv[3]);
	assert_int_equal(s->hooks[SPEC_HOOK_VALIDATE].timeout_ms, 45000);
	assert_int_equal(s->hooks[SPEC_HOOK_BEFORE_INSTALL].timeout_ms,
	    300000);
	assert_null(s->hooks[SPEC_HOOK_AFTER_INSTALL].argv);
	assert_null(s->hooks[SPEC_HOOK_AFTER_INSTALL].line);
	assert_string_equal(s->check_url, "http://127.0.0.1:8080/healthz");
	assert_int_equal(s->check_status, 204);
	assert_null(s->check_tcp);
	assert_int_equal(s->deadline_ms, 90000);
	assert_int_equal(s->interval_ms, 500);
	assert_int_equal(s->check_timeout_ms, 3000);
	assert_int_equal(s->daemon, 1);
	spec_free(s);
}

static void
test_defaults(void **state)
{
	struct capture cap;
	struct spec *s;
	int problems = -1;

	s = load_text("[service]\nname = a\nexec = /bin/sleep 1000\n",
	    &problems, &cap);
	assert_int_equal(problems, 0);
	assert_string_equal(s->user, SPEC_DEFAULT_USER);
	assert_int_equal(s->user_default, 1);
	assert_null(s->group);
	assert_int_equal(s->allow_root, 0);
	assert_null(s->working_directory);
	assert_non_null(s->environment);
	assert_null(s->environment[0]);
	assert_non_null(s->writable_paths);
	assert_null(s->writable_paths[0]);
	assert_int_equal(s->restart, SPEC_RESTART_ON_FAILURE);
	assert_int_equal(s->restart_sec_ms, 1000);
	assert_int_equal(s->stop_timeout_ms, 30000);
	assert_int_equal(s->narchives, 0);
	assert_int_equal(s->limits.max_entries, UNPACK_MAX_ENTRIES);
	assert_int_equal(s->limits.max_size, UNPACK_MAX_SIZE);
	assert_int_equal(s->limits.max_ratio, UNPACK_MAX_RATIO);
	assert_int_equal(s->limits.max_path, UNPACK_MAX_PATH);
	for (int h = 0; h < SPEC_HOOK__MAX; h++) {
		assert_null(s->hooks[h].argv);
		assert_int_equal(s->hooks[h].timeout_ms, 300000);
	}
	assert_null(s->check_url);
	assert_int_equal(s->check_status, 200);
	assert_int_equal(s->deadline_ms, 60000);
	assert_int_equal(s->interval_ms, 1000);
	assert_int_equal(s->check_timeout_ms, 2000);
	assert_int_equal(s->daemon, 0);
	assert_string_equal(s->exec.argv[0], "/bin/sleep");
	assert_string_equal(s->exec.argv[1], "1000");
	spec_free(s);
}

/* The annotated example documents every key; it must load cleanly. */
static void
test_example(void **state)
{
	char path[512];
	const char *data = getenv("GL_TEST_DATA");
	struct capture cap;
	struct spec *s;
	int problems = -1;

	/* GL_TEST_DATA is <source>/tests/data, which may not exist */
	assert_non_null(data);
	assert_non_null(strrchr(data, '/'));
	snprintf(path, sizeof(path), "%.*s/../conf/release.ini",
	    (int)(strrchr(data, '/') - data), data);
	capture_begin(&cap);
	s = spec_load(path, &problems);
	capture_end(&cap);
	assert_string_equal(cap.text, "");
	assert_int_equal(problems, 0);
	assert_string_equal(s->name, "webapp");
	assert_int_equal(s->narchives, 2);
	assert_int_equal(s->daemon, 1);
	spec_free(s);
}

#define SVC "[service]\nname = a\nexec = /bin/true\n"

/* One mistake each; the message must name the file and line. */
static const struct {
	const char *text;
	const char *want; /* after "release.ini:" */
} bad_table[] = {
	{ "[service]\nexec = /bin/true\n",
	    "1: service.name is required" },
	{ "\n[service]\nname = a\n", "2: service.exec is required" },
	{ "[health]\ndeadline = 5s\n", "1: no [service] section" },
	{ SVC "[servce]\n", "4: unknown section [servce]; known: service, "
	    "environment, unpack, hooks, health" },
	{ SVC "[service\n", "4: section header without a closing ']'" },
	{ SVC "colour = blue\n", "4: unknown key \"colour\" in [service]; "
	    "known: name, exec, shell, user" },
	{ SVC "just words\n", "4: expected \"key = value\", got \"just "
	    "words\"" },
	{ "name = a\n" SVC, "1: key \"name\" outside any section" },
	{ SVC "name = b\n", "4: service.name set twice (first on line 2)" },
	{ "[service]\nname = a b\nexec = x\n", "2: service.name: \"a b\" is "
	    "not valid; expected 1-64 of" },
	{ "[service]\nname = .hidden\nexec = x\n", "2: service.name: " },
	{ "[service]\nname = a\nexec = /bin/echo \"unterminated\n",
	    "3: service.exec: unterminated double quote" },
	{ "[service]\nname = a\nexec = /bin/echo 'x\n",
	    "3: service.exec: unterminated single quote" },
	{ "[service]\nname = a\nexec = /app > /tmp/log\n",
	    "3: service.exec: unquoted shell syntax" },
	{ "[service]\nname = a\nexec =\n", "3: service.exec needs a value" },
	{ "[service]\nname = a\nexec = \"\"\n", NULL }, /* one empty word */
	{ "[service]\nname = a\nexec = ''  \n", NULL },
	{ SVC "user = root\n", "4: service.user = root runs the workload as "
	    "root; set allow_root = true" },
	{ SVC "user = 0\n", "4: service.user = 0 runs the workload as root" },
	{ SVC "group = root\n", "4: service.group = root needs allow_root" },
	{ SVC "user = bad:user\n", "4: service.user: \"bad:user\" is not "
	    "valid" },
	{ SVC "working_directory = ../up\n", "4: service.working_directory: "
	    "\"..\" is not allowed in the path" },
	{ SVC "restart = sometimes\n", "4: service.restart: \"sometimes\" is "
	    "not valid; expected one of no, on-success, on-failure, "
	    "on-abnormal, on-watchdog, on-abort, always" },
	{ SVC "restart_sec = soon\n", "4: service.restart_sec: \"soon\" is "
	    "not valid; expected a duration" },
	{ SVC "stop_timeout = 0\n", "4: service.stop_timeout must be more "
	    "than 0" },
	{ SVC "allow_root = maybe\n", "4: service.allow_root: \"maybe\" is "
	    "not valid; expected true or false" },
	{ SVC "writable_paths = var/lib\n", "4: service.writable_paths: must "
	    "be an absolute path" },
	{ SVC "writable_paths = /\n", "4: service.writable_paths: \"/\" "
	    "would make the whole system writable" },
	{ SVC "writable_paths = /a/../etc\n", "4: service.writable_paths: "
	    "\"..\" is not allowed" },
	{ SVC "[environment]\n1X = y\n", "5: [environment] \"1X\" is not a "
	    "valid variable name" },
	{ SVC "[environment]\nA-B = y\n", "5: [environment] \"A-B\" is not" },
	{ SVC "[environment]\nA = 1\nA = 2\n", "6: [environment] A set twice "
	    "(first on line 5)" },
	{ SVC "[environment]\nGREENLIGHT_X = 1\n", "5: [environment] "
	    "GREENLIGHT_X: names starting with GREENLIGHT_ are reserved" },
	{ SVC "[unpack]\narchive = /abs.tar\n", "5: unpack.archive: must be a "
	    "path inside the release" },
	{ SVC "[unpack]\narchive = ../x.tar\n", "5: unpack.archive: \"..\" "
	    "is not allowed in the path" },
	{ SVC "[unpack]\narchive = a.tar -> ../out\n", "5: unpack.archive: "
	    "\"..\" is not allowed" },
	{ SVC "[unpack]\narchive = a.tar -> /srv\n", "5: unpack.archive: must "
	    "be a path inside the release" },
	{ SVC "[unpack]\narchive = a.tar b.tar\n", "5: unpack.archive: "
	    "expected ARCHIVE or ARCHIVE -> DIRECTORY" },
	{ SVC "[unpack]\narchive = a.tar -> x y\n", "5: unpack.archive: "
	    "expected ARCHIVE -> DIRECTORY" },
	{ SVC "[unpack]\narchive = .\n", "5: unpack.archive: the archive "
	    "must be a file inside the release" },
	{ SVC "[unpack]\narchive = a.tar\narchive = ./a.tar -> d\n",
	    "6: unpack.archive: this archive is already listed" },
	{ SVC "[unpack]\nmax_entries = 0\n", "5: unpack.max_entries: \"0\" is "
	    "not valid; expected a whole number from 1 to 100000000" },
	{ SVC "[unpack]\nmax_size = lots\n", "5: unpack.max_size: \"lots\" is "
	    "not valid; expected a size" },
	{ SVC "[hooks]\nvalidate = x | y\n", "5: hooks.validate: unquoted "
	    "shell syntax" },
	{ SVC "[hooks]\nafter_install_timeout = 1m\n", "5: "
	    "hooks.after_install_timeout has no effect without "
	    "hooks.after_install" },
	{ SVC "[hooks]\nbefore_start = x\nbefore_start_timeout = 0\n",
	    "6: hooks.before_start_timeout must be more than 0" },
	{ SVC "[health]\ncheck_url = ftp://x/\n", "5: health.check_url: "
	    "\"ftp://x/\" is not valid; expected an http:// or https:// URL" },
	{ SVC "[health]\ncheck_url = http://\n", "5: health.check_url: " },
	{ SVC "[health]\ncheck_url = http://a/\ncheck_tcp = a:1\n",
	    "6: set health.check_url or health.check_tcp, not both" },
	{ SVC "[health]\ncheck_tcp = localhost\n", "5: health.check_tcp: "
	    "\"localhost\" is not valid; expected HOST:PORT" },
	{ SVC "[health]\ncheck_tcp = a:70000\n", "5: health.check_tcp: " },
	{ SVC "[health]\ncheck_tcp = ::1:80\n", "5: health.check_tcp: " },
	{ SVC "[health]\ncheck_tcp = [::1]:80\n", NULL },
	{ SVC "[health]\ncheck_status = 600\ncheck_url = http://a/\n",
	    "5: health.check_status: \"600\" is not valid; expected an HTTP "
	    "status" },
	{ SVC "[health]\ncheck_status = 204\n", "5: health.check_status has "
	    "no effect without health.check_url" },
	{ SVC "[health]\ndeadline = 0\n", "4: health.deadline, "
	    "check_interval and check_timeout must be more than 0" },
	{ SVC "[health]\ndaemon = 2\n", "5: health.daemon: \"2\" is not "
	    "valid" },
	{ SVC "[hooks]\n = x\n", "5: no key before '='" },
};

static void
test_bad(void **state)
{
	char want[512];
	struct capture cap;
	struct spec *s;
	int problems;

	for (size_t i = 0; i < ARRAY_SIZE(bad_table); i++) {
		problems = -1;
		s = load_text(bad_table[i].text, &problems, &cap);
		if (bad_table[i].want == NULL) {
			if (problems != 0)
				fail_msg("case %zu: unexpected: %s", i,
				    cap.text);
			spec_free(s);
			continue;
		}
		snprintf(want, sizeof(want), "%s/release.ini:%s", dir,
		    bad_table[i].want);
		if (problems != 1 || strstr(cap.text, want) == NULL)
			fail_msg("case %zu: %d problems, want \"%s\", got:\n%s",
			    i, problems, want, cap.text);
		spec_free(s);
	}
}

/* Every problem in one run, each on its own line. */
static void
test_all_problems(void **state)
{
	static const char text[] =
	    "[service]\n"
	    "name = a b\n"
	    "exec = /bin/x 'open\n"
	    "bogus = 1\n"
	    "[unpack]\n"
	    "archive = ../x.tar\n"
	    "[nope]\n"
	    "ignored = inside an unknown section\n"
	    "[health]\n"
	    "deadline = never\n";
	struct capture cap;
	struct spec *s;
	int problems = -1;

	s = load_text(text, &problems, &cap);
	assert_int_equal(problems, 6);
	assert_int_equal(count_lines_with(cap.text, "release.ini:2: "), 1);
	assert_int_equal(count_lines_with(cap.text, "release.ini:3: "), 1);
	assert_int_equal(count_lines_with(cap.text, "release.ini:4: "), 1);
	assert_int_equal(count_lines_with(cap.text, "release.ini:6: "), 1);
	assert_int_equal(count_lines_with(cap.text, "release.ini:7: "), 1);
	assert_int_equal(count_lines_with(cap.text, "release.ini:8: "), 0);
	assert_int_equal(count_lines_with(cap.text, "release.ini:10: "), 1);
	spec_free(s);
}

static void
test_missing_and_long(void **state)
{
	char path[512], *text;
	struct capture cap;
	struct spec *s;
	int problems = -1;

	snprintf(path, sizeof(path), "%s/nothing.ini", dir);
	capture_begin(&cap);
	s = spec_load(path, &problems);
	capture_end(&cap);
	assert_int_equal(problems, 1);
	assert_non_null(strstr(cap.text, "nothing.ini: missing; every "
	    "release needs a release.ini at its root"));
	spec_free(s);

	/* a long exec line is kept whole (inih would cut it at 200) */
	text = malloc(8192);
	assert_non_null(text);
	snprintf(text, 8192, "[service]\nname = a\nexec = /bin/echo %03000d "
	    "end\n", 7);
	s = load_text(text, &problems, &cap);
	assert_int_equal(problems, 0);
	assert_int_equal(strlen(s->exec.argv[1]), 3000);
	assert_string_equal(s->exec.argv[2], "end");
	spec_free(s);
	snprintf(text, 8192, "[service]\nname = a\nexec = /bin/echo %05000d "
	    "end\n", 7);
	s = load_text(text, &problems, &cap);
	assert_int_equal(problems, 1);
	assert_non_null(strstr(cap.text, "release.ini:3: line longer than "
	    "4096 bytes"));
	spec_free(s);
	free(text);
}

static const struct {
	const char *in;
	int argc; /* -1: error */
	const char *out[6];
	const char *why;
} argv_table[] = {
	{ "", 0, { NULL }, NULL },
	{ "   \t ", 0, { NULL }, NULL },
	{ "a", 1, { "a" }, NULL },
	{ "  a   b\tc  ", 3, { "a", "b", "c" }, NULL },
	{ "/bin/app --x=1 -y", 3, { "/bin/app", "--x=1", "-y" }, NULL },
	{ "'a b' \"c d\"", 2, { "a b", "c d" }, NULL },
	{ "a'b'c\"d\"e", 1, { "abcde" }, NULL },
	{ "'' \"\" x", 3, { "", "", "x" }, NULL },
	{ "'$HOME|;&<>()`'", 1, { "$HOME|;&<>()`" }, NULL },
	{ "'a\\b'", 1, { "a\\b" }, NULL },
	{ "\"a\\\"b\\\\c\\$d\\`e\"", 1, { "a\"b\\c$d`e" }, NULL },
	{ "\"a\\nb\"", 1, { "a\\nb" }, NULL },
	{ "a\\ b c\\'d \\$e \\|", 4, { "a b", "c'd", "$e", "|" }, NULL },
	{ "\"it's\" 'say \"hi\"'", 2, { "it's", "say \"hi\"" }, NULL },
	{ "x*.js ~/y a#b", 3, { "x*.js", "~/y", "a#b" }, NULL },
	{ "'#x'", 1, { "#x" }, NULL },
	{ "'unterminated", -1, { NULL }, "unterminated single quote" },
	{ "a \"unterminated", -1, { NULL }, "unterminated double quote" },
	{ "a\\", -1, { NULL }, "backslash at the end of the line" },
	{ "a | b", -1, { NULL }, "unquoted shell syntax" },
	{ "a;b", -1, { NULL }, "unquoted shell syntax" },
	{ "a && b", -1, { NULL }, "unquoted shell syntax" },
	{ "a >out", -1, { NULL }, "unquoted shell syntax" },
	{ "echo $HOME", -1, { NULL }, "unquoted shell syntax" },
	{ "echo `id`", -1, { NULL }, "unquoted shell syntax" },
	{ "echo (x)", -1, { NULL }, "unquoted shell syntax" },
	{ "echo \"$HOME\"", -1, { NULL }, "$ or ` inside \"...\"" },
	{ "echo \"`id`\"", -1, { NULL }, "$ or ` inside \"...\"" },
	{ "a #comment", -1, { NULL }, "an unquoted '#' starts a comment" },
	{ "a\x01", -1, { NULL }, "control character" },
};

static void
test_argv(void **state)
{
	const char *why;
	char **argv;
	int n;

	for (size_t i = 0; i < ARRAY_SIZE(argv_table); i++) {
		why = "unset";
		n = spec_argv_split(argv_table[i].in, &argv, &why);
		if (n != argv_table[i].argc)
			fail_msg("case %zu \"%s\": %d words, want %d (%s)", i,
			    argv_table[i].in, n, argv_table[i].argc,
			    why ? why : "");
		if (n < 0) {
			assert_null(argv);
			if (strstr(why, argv_table[i].why) == NULL)
				fail_msg("case %zu: why \"%s\"", i, why);
			continue;
		}
		assert_null(why);
		for (int w = 0; w < n; w++)
			if (strcmp(argv[w], argv_table[i].out[w]) != 0)
				fail_msg("case %zu word %d: \"%s\" want "
				    "\"%s\"", i, w, argv[w],
				    argv_table[i].out[w]);
		assert_null(argv[n]);
		spec_argv_free(argv);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_all_problems),
		cmocka_unit_test(test_missing_and_long),
		cmocka_unit_test(test_argv),
	};
	int rc;

	log_set_journal(0);
	tmpdir_make(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "%s/release.ini", dir);
		unlink(cmd);
		rmdir(dir);
	}
	return rc;
}
