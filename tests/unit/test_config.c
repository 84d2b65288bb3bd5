/*
 * test_config.c — greenlight.ini parsing (every problem as FILE:LINE),
 * environment and flag overrides with their precedence and origins,
 * defaults, cross-key checks, and printing with secrets masked.
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
#include "config.h"
#include "log.h"
#include "testutil.h"

extern char **environ;

static char dir[PATH_MAX];
static char ini[PATH_MAX]; /* dir/greenlight.ini */

/* Remove every variable config_load reads, so the host cannot leak in. */
static void
env_clean(void)
{
	char names[256][128];
	int n = 0;

	for (char **e = environ; *e != NULL && n < 256; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);

		if (len >= sizeof(names[0]))
			continue;
		if (strncmp(*e, "GREENLIGHT_", 11) == 0 ||
		    strncmp(*e, "RELEASE_FOLDER_NAME=", 20) == 0 ||
		    strncmp(*e, "BLOB_CONTAINER_NAME=", 20) == 0) {
			memcpy(names[n], *e, len);
			names[n++][len] = '\0';
		}
	}
	for (int i = 0; i < n; i++)
		unsetenv(names[i]);
}

static int
setup(void **state)
{
	tmpdir_make(dir, sizeof(dir));
	if (snprintf(ini, sizeof(ini), "%s/greenlight.ini", dir) >=
	    (int)sizeof(ini))
		abort();
	log_set_journal(0);
	log_set_tag(NULL);
	log_set_level(LOG_LEVEL_INFO);
	return 0;
}

static int
teardown(void **state)
{
	unlink(ini);
	rmdir(dir);
	return 0;
}

static int
each(void **state)
{
	env_clean();
	return 0;
}

static void
ini_write(const char *text)
{
	FILE *f = fopen(ini, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Write text as the config file and load it; stderr goes into *c. */
static struct config *
load(const char *text, int *problems, struct capture *c)
{
	struct config *cfg;

	ini_write(text);
	capture_begin(c);
	cfg = config_load(ini, problems);
	capture_end(c);
	assert_non_null(cfg);
	return cfg;
}

/* config_check with stderr captured. */
static int
check(struct config *cfg, unsigned need, struct capture *c)
{
	int n;

	capture_begin(c);
	n = config_check(cfg, need);
	capture_end(c);
	return n;
}

/* config_print into a malloc'ed string. */
static char *
print(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	config_print(cfg, f);
	fclose(f);
	return buf;
}

/* The printed line of key in [section]: "key = value   # origin". */
static void
printed_line(const char *out, const char *section, const char *key,
    char *line, size_t linesz)
{
	char head[80], want[80];
	const char *p;

	snprintf(head, sizeof(head), "[%s]\n", section);
	p = strstr(out, head);
	if (p == NULL)
		fail_msg("no [%s] in config_print output", section);
	snprintf(want, sizeof(want), "\n%s = ", key);
	p = strstr(p, want);
	if (p == NULL)
		fail_msg("no %s.%s in config_print output", section, key);
	p++;
	snprintf(line, linesz, "%.*s", (int)strcspn(p, "\n"), p);
}

/* The printed value of a key (between " = " and the comment). */
static void
printed_value(const char *out, const char *section, const char *key,
    char *val, size_t valsz)
{
	char line[512], *v, *hash;
	size_t n;

	printed_line(out, section, key, line, sizeof(line));
	v = strstr(line, " = ") + 3;
	hash = strstr(v, " #");
	n = hash ? (size_t)(hash - v) : strlen(v);
	while (n > 0 && v[n - 1] == ' ')
		n--;
	snprintf(val, valsz, "%.*s", (int)n, v);
}

/* The origin comment of a key. */
static void
printed_origin(const char *out, const char *section, const char *key,
    char *origin, size_t originsz)
{
	char line[512], *hash;

	printed_line(out, section, key, line, sizeof(line));
	hash = strstr(line, " # ");
	assert_non_null(hash);
	snprintf(origin, originsz, "%s", hash + 3);
}

/* Every error line of a capture starts with "error: " + where. */
static int
error_lines(const char *text)
{
	return count_lines_with(text, "error: ");
}

/* ---------------------------------------------------------------------- */

struct snippet {
	const char *name;
	const char *text;
	int problems;
	/* ":LINE: message" substrings, each expected after the file path */
	const char *msgs[8];
};

static const struct snippet snippets[] = {
	{ "empty file", "", 0, { NULL } },
	{ "comments only", "; a comment\n# another\n\n   \n", 0, { NULL } },
	{ "storage only", "[storage]\naccount = acct\ncontainer = rel\n", 0,
	    { NULL } },
	{ "unknown section", "[storage]\naccount = acct\n[nope]\nx = 1\n"
	  "y = 2\n", 1,
	    { ":3: unknown section [nope]; known: storage, auth, imds, "
	      "fetch, install, health" } },
	{ "unknown key", "[fetch]\nconections = 8\n", 1,
	    { ":2: unknown key \"conections\" in [fetch]" } },
	{ "key from another section", "[fetch]\nroot = /x\n", 1,
	    { ":2: unknown key \"root\" in [fetch]" } },
	{ "key case matters", "[fetch]\nConnections = 8\n", 1,
	    { ":2: unknown key \"Connections\" in [fetch]" } },
	{ "section case matters", "[Fetch]\nconnections = 8\n", 1,
	    { ":1: unknown section [Fetch]" } },
	{ "duplicate key", "[fetch]\nconnections = 8\n\nconnections = 9\n", 1,
	    { ":4: fetch.connections set twice in this file" } },
	{ "duplicate across repeated section",
	  "[fetch]\nconnections = 8\n[install]\nkeep = 1\n[fetch]\n"
	  "connections = 9\n", 1,
	    { ":6: fetch.connections set twice in this file" } },
	{ "number too small", "[fetch]\nconnections = 0\n", 1,
	    { ":2: fetch.connections: \"0\" is not valid; expected a whole "
	      "number from 1 to 64" } },
	{ "number too big", "[fetch]\nconnections = 65\n", 1,
	    { ":2: fetch.connections: \"65\" is not valid" } },
	{ "number negative", "[install]\nkeep = -1\n", 1,
	    { ":2: install.keep: \"-1\" is not valid; expected a whole "
	      "number from 0 to 100" } },
	{ "number garbage", "[fetch]\nconnections = 8x\n", 1,
	    { ":2: fetch.connections: \"8x\" is not valid" } },
	{ "number overflow",
	  "[fetch]\nconnections = 99999999999999999999999\n", 1,
	    { ":2: fetch.connections: \"99999999999999999999999\" is not "
	      "valid" } },
	{ "empty number", "[fetch]\nconnections =\n", 1,
	    { ":2: fetch.connections: \"\" is not valid" } },
	{ "empty value for a key with a default",
	  "[install]\nroot =\nstate_file =\n[imds]\nendpoint =\n", 3,
	    { ":2: install.root: \"\" is not valid; expected a value "
	      "(default /opt/greenlight)",
	      ":3: install.state_file: \"\" is not valid; expected a value "
	      "(default /var/lib/greenlight/state.json)",
	      ":5: imds.endpoint: \"\" is not valid; expected an http:// "
	      "or https:// URL" } },
	{ "hash is no inline comment", "[fetch]\nconnections = 8 # eight\n",
	  1, { ":2: fetch.connections: \"8 # eight\" is not valid" } },
	{ "bad size", "[fetch]\nchunk_size = 8Q\n", 1,
	    { ":2: fetch.chunk_size: \"8Q\" is not valid; expected a size "
	      "such as 4096, 512K, 8M or 1G" } },
	{ "bad duration", "[fetch]\ndeadline = 30 minutes\n", 1,
	    { ":2: fetch.deadline: \"30 minutes\" is not valid; expected a "
	      "duration from 1s to 1d, such as 500ms, 30s, 5m or 2h" } },
	/* zero would spin (polls, checks) or mean "no timeout" to curl */
	{ "durations out of their range",
	  "[fetch]\ndeadline = 0s\n[install]\nlock_wait = 0s\n"
	  "[health]\npoll_interval = 0s\ncheck_interval = 5ms\n"
	  "check_timeout = 0ms\npreempt_drain_max = 45s\n"
	  "drain_min = 16m\nprobe_interval = 4999977777777777\n", 7,
	    { ":2: fetch.deadline: \"0s\" is not valid; expected a duration "
	      "from 1s to 1d",
	      ":6: health.poll_interval: \"0s\" is not valid; expected a "
	      "duration from 100ms to 1m",
	      ":7: health.check_interval: \"5ms\" is not valid; expected a "
	      "duration from 10ms to 1h",
	      ":8: health.check_timeout: \"0ms\" is not valid; expected a "
	      "duration from 10ms to 5m",
	      ":9: health.preempt_drain_max: \"45s\" is not valid; expected "
	      "a duration from 1s to 30s",
	      ":10: health.drain_min: \"16m\" is not valid; expected a "
	      "duration from 1s to 15m",
	      ":11: health.probe_interval: \"4999977777777777\" is not "
	      "valid; expected a duration from 100ms to 5m" } },
	{ "negative duration", "[health]\ndrain_max = -4m\n", 1,
	    { ":2: health.drain_max: \"-4m\" is not valid" } },
	{ "bad bool", "[health]\napprove = maybe\n", 1,
	    { ":2: health.approve: \"maybe\" is not valid; expected true or "
	      "false" } },
	{ "bad enum", "[auth]\nmethod = msi\n", 1,
	    { ":2: auth.method: \"msi\" is not valid; expected one of "
	      "managed-identity, sas, none" } },
	{ "bad scope", "[install]\nscope = global\n", 1,
	    { ":2: install.scope: \"global\" is not valid; expected one of "
	      "system, user" } },
	{ "bad flags", "[health]\nevents = Terminate,Explode\n", 1,
	    { ":2: health.events: \"Terminate,Explode\" is not valid; "
	      "expected a comma list of Terminate, Preempt, Reboot, "
	      "Redeploy, Freeze" } },
	{ "bad url scheme", "[imds]\nendpoint = ftp://169.254.169.254\n", 1,
	    { ":2: imds.endpoint: \"ftp://169.254.169.254\" is not valid; "
	      "expected an http:// or https:// URL" } },
	{ "url without host", "[storage]\nendpoint = https://\n", 1,
	    { ":2: storage.endpoint: \"https://\" is not valid" } },
	{ "url with empty host", "[storage]\nendpoint = https:///x\n", 1,
	    { ":2: storage.endpoint: \"https:///x\" is not valid" } },
	{ "key outside a section", "account = acct\n[storage]\n", 1,
	    { ":1: key \"account\" outside any section" } },
	{ "header without ]", "[storage\naccount = acct\n", 2,
	    { ":1: section header without a closing ']'",
	      ":2: key \"account\" outside any section" } },
	{ "no equals sign", "[storage]\njust some words\n", 1,
	    { ":2: expected \"key = value\", got \"just some words\"" } },
	{ "colon is no delimiter", "[fetch]\nconnections: 8\n", 1,
	    { ":2: expected \"key = value\", got \"connections: 8\"" } },
	/* past inih's 200-byte buffer: still read whole, lines still right */
	{ "line longer than inih's buffer",
	  "[storage]\nca_file = /"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "\nfetch = x\n[fetch]\nconnections = 0\n", 2,
	    { ":3: unknown key \"fetch\" in [storage]",
	      ":5: fetch.connections: \"0\" is not valid" } },
	{ "indented keys are keys, not continuations",
	  "[fetch]\nconnections = 8\n  chunk_size = 1M\n\tdeadline = 5m\n", 0,
	    { NULL } },
	{ "spaces in the section header", "[ fetch ]\nconnections = 8\n", 0,
	    { NULL } },
	{ "inline ; comments and CRLF",
	  "[fetch] ; downloads\r\nconnections = 8 ; eight\r\n", 0, { NULL } },
	{ "UTF-8 byte order mark", "\xEF\xBB\xBF[fetch]\nconnections = 8\n",
	  0, { NULL } },
	{ "several mistakes, all reported",
	  "[storage]\n"			  /* 1 */
	  "acount = acct\n"		  /* 2: unknown key */
	  "container = releases\n"	  /* 3 */
	  "[fetch]\n"			  /* 4 */
	  "connections = lots\n"	  /* 5: bad number */
	  "chunk_size = 8M\n"		  /* 6 */
	  "deadline = 1y\n"		  /* 7: bad duration */
	  "[extra]\n"			  /* 8: unknown section */
	  "[health]\n"			  /* 9 */
	  "approve = sure\n"		  /* 10: bad bool */
	  "approve = true\n",		  /* 11: duplicate */
	  6,
	    { ":2: unknown key \"acount\" in [storage]",
	      ":5: fetch.connections: \"lots\" is not valid",
	      ":7: fetch.deadline: \"1y\" is not valid",
	      ":8: unknown section [extra]",
	      ":10: health.approve: \"sure\" is not valid",
	      ":11: health.approve set twice in this file" } },
};

static void
test_snippet_table(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(snippets); i++) {
		const struct snippet *s = &snippets[i];
		struct capture c;
		struct config *cfg;
		int problems = -1, nmsgs = 0;

		cfg = load(s->text, &problems, &c);
		if (problems != s->problems) {
			print_error("[%s] %d problems, want %d:\n%s\n",
			    s->name, problems, s->problems, c.text);
			bad++;
		}
		/* one error line per problem, each naming FILE:LINE */
		if (error_lines(c.text) != s->problems) {
			print_error("[%s] %d error lines, want %d:\n%s\n",
			    s->name, error_lines(c.text), s->problems,
			    c.text);
			bad++;
		}
		for (int m = 0; m < 6 && s->msgs[m] != NULL; m++) {
			char want[PATH_MAX + 512];

			nmsgs++;
			snprintf(want, sizeof(want), "error: %s%s", ini,
			    s->msgs[m]);
			if (strstr(c.text, want) == NULL) {
				print_error("[%s] missing \"%s\" in:\n%s\n",
				    s->name, want, c.text);
				bad++;
			}
		}
		if (nmsgs < s->problems && s->problems <= 6) {
			print_error("[%s] table lists %d of %d messages\n",
			    s->name, nmsgs, s->problems);
			bad++;
		}
		config_free(cfg);
	}
	assert_int_equal(bad, 0);
}

/* The lenient spellings above still set the values. */
static void
test_snippet_values(void **state)
{
	struct capture c;
	struct config *cfg;
	int problems;

	cfg = load("[fetch]\nconnections = 8\n  chunk_size = 1M\n"
	    "\tdeadline = 5m\n", &problems, &c);
	assert_int_equal(problems, 0);
	assert_int_equal(cfg->connections, 8);
	assert_true(cfg->chunk_size == 1u << 20);
	assert_true(cfg->deadline_ms == 300000);
	config_free(cfg);

	cfg = load("[ fetch ]\r\nconnections = 12 ; twelve\r\n"
	    "[health]\nevents = terminate, REBOOT\tfreeze\n", &problems, &c);
	assert_int_equal(problems, 0);
	assert_int_equal(cfg->connections, 12);
	assert_int_equal(cfg->health_events, (1u << EVENT_TERMINATE) |
	    (1u << EVENT_REBOOT) | (1u << EVENT_FREEZE));
	config_free(cfg);

	cfg = load("\xEF\xBB\xBF[fetch]\nconnections = 3\n", &problems, &c);
	assert_int_equal(cfg->connections, 3);
	config_free(cfg);

	/* an empty string clears an optional string */
	cfg = load("[storage]\naccount = acct\nca_file =\n", &problems, &c);
	assert_int_equal(problems, 0);
	assert_null(cfg->ca_file);
	config_free(cfg);

	/* a bad value keeps the default */
	cfg = load("[fetch]\nconnections = 0\n", &problems, &c);
	assert_int_equal(problems, 1);
	assert_int_equal(cfg->connections, 16);
	config_free(cfg);
}

static void
test_file_missing(void **state)
{
	struct capture c;
	struct config *cfg;
	int problems = -1;
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/absent.ini", dir);
	capture_begin(&c);
	cfg = config_load(path, &problems);
	capture_end(&c);
	assert_non_null(cfg);
	assert_int_equal(problems, 1);
	assert_non_null(strstr(c.text, "absent.ini: cannot read "
	    "configuration: No such file or directory"));
	config_free(cfg);

	/* a directory is no configuration file either */
	capture_begin(&c);
	cfg = config_load(dir, &problems);
	capture_end(&c);
	assert_true(problems >= 1);
	config_free(cfg);
}

/* ---------------------------------------------------------------------- */

static void
test_defaults(void **state)
{
	struct capture c;
	struct config *cfg;
	int problems = -1;
	char *out;
	const char *p;

	cfg = load("", &problems, &c);
	assert_int_equal(problems, 0);
	assert_string_equal(c.text, "");
	/* [storage] */
	assert_null(cfg->account);
	assert_null(cfg->endpoint);
	assert_null(cfg->container);
	assert_null(cfg->release);
	assert_null(cfg->ca_file);
	/* [auth] */
	assert_int_equal(cfg->auth_method, AUTH_MANAGED_IDENTITY);
	assert_null(cfg->client_id);
	assert_null(cfg->object_id);
	assert_null(cfg->msi_res_id);
	assert_null(cfg->sas_file);
	assert_null(cfg->sas_token);
	/* [imds] */
	assert_string_equal(cfg->imds_endpoint, "http://169.254.169.254");
	/* [fetch] */
	assert_int_equal(cfg->connections, 16);
	assert_true(cfg->chunk_size == 8u << 20);
	assert_true(cfg->deadline_ms == 30 * 60 * 1000);
	assert_true(cfg->max_release_size == 16ull << 30);
	/* [install] */
	assert_string_equal(cfg->root, "/opt/greenlight");
	assert_int_equal(cfg->keep, 2);
	assert_int_equal(cfg->scope, SCOPE_SYSTEM);
	assert_string_equal(cfg->state_file, "/var/lib/greenlight/state.json");
	assert_string_equal(cfg->lock_file, "/run/greenlight/lock");
	assert_true(cfg->lock_wait_ms == 120000);
	/* [health] */
	assert_string_equal(cfg->health_listen, "0.0.0.0:8090");
	assert_string_equal(cfg->health_path, "/health");
	assert_int_equal(cfg->health_events,
	    (1u << EVENT_TERMINATE) | (1u << EVENT_PREEMPT));
	assert_true(cfg->probe_interval_ms == 5000);
	assert_int_equal(cfg->probe_threshold, 5);
	assert_true(cfg->drain_min_ms == 0);
	assert_true(config_drain_min_ms(cfg) == 30000);
	assert_true(cfg->drain_max_ms == 240000);
	assert_true(cfg->preempt_drain_max_ms == 20000);
	assert_int_equal(cfg->approve, 1);
	assert_true(cfg->poll_interval_ms == 1000);
	assert_null(cfg->check_url);
	assert_int_equal(cfg->check_status, 200);
	assert_null(cfg->check_tcp);
	assert_true(cfg->check_interval_ms == 2000);
	assert_true(cfg->check_timeout_ms == 1000);
	assert_int_equal(cfg->check_threshold, 3);
	assert_null(cfg->workload_ports);

	/* every printed key says default, unset or derived */
	out = print(cfg);
	for (p = out; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0)) {
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
		if (line[0] == '\0' || line[0] == '[' || line[0] == '#')
			continue;
		if (strstr(line, "# default") == NULL &&
		    strstr(line, "# unset") == NULL &&
		    strstr(line, "# derived") == NULL)
			fail_msg("not a default: %s", line);
	}
	free(out);
	config_free(cfg);
}

/* Every printed value reads back the same through its environment name. */
static void
test_env_every_key(void **state)
{
	struct capture c;
	struct config *cfg, *cfg2;
	int problems, nkeys = 0;
	char *out, *out2, section[64] = "";

	cfg = load("[storage]\naccount = acct\ncontainer = rel\n", &problems,
	    &c);
	out = print(cfg);
	for (const char *p = out; *p;) {
		size_t len = strcspn(p, "\n");
		char line[512], key[64], env[160], val[512], got[512];
		char origin[256], want[256];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (p[len] != '\0');
		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%.*s",
			    (int)strcspn(line + 1, "]"), line + 1);
			continue;
		}
		if (line[0] == '\0' || line[0] == '#')
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(line, " "),
		    line);
		printed_value(out, section, key, val, sizeof(val));
		if (val[0] == '\0')
			snprintf(val, sizeof(val), "https://example.net/x");
		snprintf(env, sizeof(env), "GREENLIGHT_%s_%s", section, key);
		for (char *e = env; *e; e++)
			*e = (char)(*e >= 'a' && *e <= 'z' ? *e - 32 : *e);
		setenv(env, val, 1);
		cfg2 = load("[storage]\naccount = acct\ncontainer = rel\n",
		    &problems, &c);
		unsetenv(env);
		if (problems != 0)
			fail_msg("%s=%s: %s", env, val, c.text);
		out2 = print(cfg2);
		printed_value(out2, section, key, got, sizeof(got));
		printed_origin(out2, section, key, origin, sizeof(origin));
		snprintf(want, sizeof(want), "environment %s", env);
		if (strcmp(origin, want) != 0)
			fail_msg("%s: origin \"%s\"", env, origin);
		if (strcmp(key, "sas_token") == 0)
			assert_string_equal(got, "********");
		else if (strcmp(got, val) != 0)
			fail_msg("%s=%s printed back as %s", env, val, got);
		free(out2);
		config_free(cfg2);
		nkeys++;
	}
	assert_true(nkeys >= 40);
	free(out);
	config_free(cfg);
}

/* file < RELEASE_FOLDER_NAME/BLOB_CONTAINER_NAME < GREENLIGHT_* < flags */
static void
test_precedence(void **state)
{
	static const char *const file =
	    "[storage]\naccount = acct\ncontainer = from-file\n"
	    "release = file-1\n";
	struct capture c;
	struct config *cfg;
	int problems;
	char *out, origin[256];

	/* file only */
	cfg = load(file, &problems, &c);
	assert_string_equal(cfg->release, "file-1");
	assert_string_equal(cfg->container, "from-file");
	out = print(cfg);
	printed_origin(out, "storage", "release", origin, sizeof(origin));
	assert_true(strlen(origin) > 3 &&
	    strcmp(origin + strlen(origin) - 2, ":4") == 0);
	assert_non_null(strstr(origin, ini));
	free(out);
	config_free(cfg);

	/* the sample's names beat the file */
	setenv("RELEASE_FOLDER_NAME", "sample-2", 1);
	setenv("BLOB_CONTAINER_NAME", "sample-container", 1);
	cfg = load(file, &problems, &c);
	assert_int_equal(problems, 0);
	assert_string_equal(cfg->release, "sample-2");
	assert_string_equal(cfg->container, "sample-container");
	out = print(cfg);
	printed_origin(out, "storage", "release", origin, sizeof(origin));
	assert_string_equal(origin, "environment RELEASE_FOLDER_NAME");
	printed_origin(out, "storage", "container", origin, sizeof(origin));
	assert_string_equal(origin, "environment BLOB_CONTAINER_NAME");
	free(out);
	config_free(cfg);

	/* GREENLIGHT_<SECTION>_<KEY> beats the sample's names */
	setenv("GREENLIGHT_STORAGE_RELEASE", "gl-3", 1);
	setenv("GREENLIGHT_STORAGE_CONTAINER", "gl-container", 1);
	cfg = load(file, &problems, &c);
	assert_string_equal(cfg->release, "gl-3");
	assert_string_equal(cfg->container, "gl-container");
	out = print(cfg);
	printed_origin(out, "storage", "release", origin, sizeof(origin));
	assert_string_equal(origin, "environment GREENLIGHT_STORAGE_RELEASE");
	free(out);

	/* flags beat everything */
	capture_begin(&c);
	assert_int_equal(config_set(cfg, "storage.release", "flag-4",
	    "flag --release"), 0);
	assert_int_equal(config_set(cfg, "storage.container=flag-container",
	    NULL, "flag --set"), 0);
	capture_end(&c);
	assert_string_equal(cfg->release, "flag-4");
	assert_string_equal(cfg->container, "flag-container");
	out = print(cfg);
	printed_origin(out, "storage", "release", origin, sizeof(origin));
	assert_string_equal(origin, "flag --release");
	printed_origin(out, "storage", "container", origin, sizeof(origin));
	assert_string_equal(origin, "flag --set");
	free(out);
	config_free(cfg);

	/* an empty sample variable is ignored, not an override to "" */
	env_clean();
	setenv("RELEASE_FOLDER_NAME", "", 1);
	cfg = load(file, &problems, &c);
	assert_string_equal(cfg->release, "file-1");
	config_free(cfg);
}

static void
test_env_errors(void **state)
{
	struct capture c;
	struct config *cfg;
	int problems;

	setenv("GREENLIGHT_FETCH_CONNECTIONS", "abc", 1);
	setenv("GREENLIGHT_HEALTH_DRAIN_MAX", "4 minutes", 1);
	cfg = load("[fetch]\nconnections = 4\n", &problems, &c);
	assert_int_equal(problems, 2);
	assert_non_null(strstr(c.text, "error: environment "
	    "GREENLIGHT_FETCH_CONNECTIONS: fetch.connections: \"abc\" is not "
	    "valid; expected a whole number from 1 to 64"));
	assert_non_null(strstr(c.text, "error: environment "
	    "GREENLIGHT_HEALTH_DRAIN_MAX: health.drain_max: \"4 minutes\""));
	/* the file's value stays */
	assert_int_equal(cfg->connections, 4);
	config_free(cfg);
}

static void
test_config_set(void **state)
{
	static const struct {
		const char *name, *value;
		int rc;
		const char *msg;
	} t[] = {
		{ "fetch.connections=8", NULL, 0, NULL },
		{ "fetch.connections", "9", 0, NULL },
		{ "fetch.chunk_size=1M", NULL, 0, NULL },
		{ "health.events=Terminate", NULL, 0, NULL },
		{ "storage.release=a=b", NULL, 0, NULL },
		{ "fetch.connections", NULL, -1,
		  "flag: expected SECTION.KEY=VALUE, got "
		  "\"fetch.connections\"" },
		{ "connections=8", NULL, -1,
		  "flag: expected SECTION.KEY, got \"connections=8\"" },
		{ "fetch.conections=8", NULL, -1,
		  "flag: unknown key fetch.conections" },
		{ "nope.x", "1", -1, "flag: unknown key nope.x" },
		{ "fetch.connections=100", NULL, -1,
		  "flag: fetch.connections: \"100\" is not valid" },
		{ "auth.sas_token=sv=1&sig=SECRET", NULL, -1,
		  "flag: auth.sas_token is a secret and cannot be set on the "
		  "command line; use the environment "
		  "(GREENLIGHT_AUTH_SAS_TOKEN) or the configuration file" },
		{ "auth.sas_token", "SECRET", -1, "is a secret" },
	};
	struct capture c;
	struct config *cfg;
	int problems;

	cfg = load("", &problems, &c);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int rc;

		capture_begin(&c);
		rc = config_set(cfg, t[i].name, t[i].value, "flag");
		capture_end(&c);
		if (rc != t[i].rc)
			fail_msg("config_set(%s, %s) = %d: %s", t[i].name,
			    t[i].value ? t[i].value : "NULL", rc, c.text);
		if (t[i].msg != NULL && strstr(c.text, t[i].msg) == NULL)
			fail_msg("config_set(%s): \"%s\" not in \"%s\"",
			    t[i].name, t[i].msg, c.text);
		if (t[i].msg == NULL)
			assert_string_equal(c.text, "");
		assert_null(strstr(c.text, "SECRET"));
	}
	assert_int_equal(cfg->connections, 9);
	assert_true(cfg->chunk_size == 1u << 20);
	assert_int_equal(cfg->health_events, 1u << EVENT_TERMINATE);
	assert_string_equal(cfg->release, "a=b");
	assert_null(cfg->sas_token);
	config_free(cfg);
}

/* ---------------------------------------------------------------------- */

struct check_case {
	const char *name;
	const char *text;
	unsigned need;
	int problems;
	const char *msgs[3];
};

#define OK_STORAGE "[storage]\naccount = acct\ncontainer = releases\n"
#define NS CONFIG_NEED_STORAGE
#define NR CONFIG_NEED_RELEASE

static const struct check_case checks[] = {
	{ "nothing needed", "", 0, 0, { NULL } },
	{ "storage needed, none given", "", NS, 2,
	    { "error: storage.account is required (or storage.endpoint): set "
	      "it in the config file or GREENLIGHT_STORAGE_ACCOUNT",
	      "error: storage.container is required: set it in the config "
	      "file, BLOB_CONTAINER_NAME or GREENLIGHT_STORAGE_CONTAINER" } },
	{ "storage given", OK_STORAGE, NS, 0, { NULL } },
	{ "release needed", OK_STORAGE, NS | NR, 1,
	    { "error: storage.release is required: pass --release, set "
	      "RELEASE_FOLDER_NAME, or set it in the config file" } },
	{ "release given", OK_STORAGE "release = v1.2.3+build@x_y\n",
	  NS | NR, 0, { NULL } },
	{ "endpoint instead of account",
	  "[storage]\nendpoint = https://127.0.0.1:10000/devstoreaccount1/\n"
	  "container = releases\n", NS, 0, { NULL } },
	{ "plain http storage endpoint",
	  "[storage]\nendpoint = http://127.0.0.1:10000/devstoreaccount1\n"
	  "container = releases\n", NS, 1,
	    { ":2: storage.endpoint \"http://127.0.0.1:10000/devstoreaccount1\""
	      " must use https:// (tokens are never sent over plain HTTP)" } },
	{ "endpoint with a query",
	  "[storage]\nendpoint = https://a.blob.core.windows.net/?sv=1&sig=S\n"
	  "container = releases\n", NS, 1,
	    { ":2: storage.endpoint must be the blob service URL without a "
	      "query; put a SAS token in auth.sas_file" } },
	{ "account with capitals", "[storage]\naccount = MyAccount\n"
	  "container = releases\n", NS, 1,
	    { ":2: storage.account \"MyAccount\" is not a valid storage "
	      "account name (3-24 lower-case letters and digits)" } },
	{ "account too long", "[storage]\naccount = "
	  "abcdefghijklmnopqrstuvwxy\ncontainer = releases\n", NS, 1,
	    { "is not a valid storage account name" } },
	{ "account too short", "[storage]\naccount = ab\n"
	  "container = releases\n", NS, 1,
	    { "is not a valid storage account name" } },
	{ "container with capitals", "[storage]\naccount = acct\n"
	  "container = Releases\n", 0, 1,
	    { ":3: storage.container \"Releases\" is not a valid container "
	      "name (3-63 lower-case letters, digits and single hyphens)" } },
	{ "container too short", "[storage]\ncontainer = ab\n", 0, 1,
	    { "storage.container \"ab\" is not a valid" } },
	{ "container double hyphen", "[storage]\ncontainer = a--b\n", 0, 1,
	    { "storage.container \"a--b\" is not a valid" } },
	{ "container leading hyphen", "[storage]\ncontainer = -abc\n", 0, 1,
	    { "storage.container \"-abc\" is not a valid" } },
	{ "container trailing hyphen", "[storage]\ncontainer = abc-\n", 0, 1,
	    { "storage.container \"abc-\" is not a valid" } },
	{ "container 63", "[storage]\ncontainer = "
	  "a23456789012345678901234567890123456789012345678901234567890123\n",
	  0, 0, { NULL } },
	{ "container 64", "[storage]\ncontainer = "
	  "a234567890123456789012345678901234567890123456789012345678901234\n",
	  0, 1, { "is not a valid container name" } },
	{ "container with dot", "[storage]\ncontainer = my.releases\n", 0, 1,
	    { "is not a valid container name" } },
	{ "release with ..", "[storage]\nrelease = ..\n", 0, 1,
	    { ":2: storage.release \"..\" is not a valid release name (one "
	      "path segment of letters, digits, '.', '_', '-', '+', '@')" } },
	{ "release with /", "[storage]\nrelease = a/b\n", 0, 1,
	    { "storage.release \"a/b\" is not a valid release name" } },
	{ "release with space", "[storage]\nrelease = a b\n", 0, 1,
	    { "storage.release \"a b\" is not a valid release name" } },
	{ "release .", "[storage]\nrelease = .\n", 0, 1,
	    { "is not a valid release name" } },
	{ "two identities", "[auth]\nclient_id = 1\nobject_id = 2\n", 0, 1,
	    { "error: auth: set at most one of client_id, object_id and "
	      "msi_res_id" } },
	{ "three identities", "[auth]\nclient_id = 1\nobject_id = 2\n"
	  "msi_res_id = /subscriptions/x\n", 0, 1, { "at most one" } },
	{ "one identity", "[auth]\nmsi_res_id = /subscriptions/x\n", 0, 0,
	    { NULL } },
	{ "identities ignored without managed identity",
	  "[auth]\nmethod = none\nclient_id = 1\nobject_id = 2\n", 0, 0,
	    { NULL } },
	{ "sas without a source", "[auth]\nmethod = sas\n", 0, 1,
	    { "error: auth.method = sas needs auth.sas_file or the "
	      "environment variable GREENLIGHT_AUTH_SAS_TOKEN" } },
	{ "sas with a file", "[auth]\nmethod = sas\nsas_file = /etc/x\n", 0,
	  0, { NULL } },
	{ "chunk too small", "[fetch]\nchunk_size = 32K\n", 0, 1,
	    { ":2: fetch.chunk_size must be between 64K and 1G" } },
	{ "chunk smallest", "[fetch]\nchunk_size = 64K\n", 0, 0, { NULL } },
	{ "chunk largest", "[fetch]\nchunk_size = 1G\n", 0, 0, { NULL } },
	{ "chunk too big", "[fetch]\nchunk_size = 1025M\n", 0, 1,
	    { "fetch.chunk_size must be between 64K and 1G" } },
	{ "drain_max at the limit", "[health]\ndrain_max = 15m\n", 0, 0,
	    { NULL } },
	{ "drain_max past notBeforeTimeout", "[health]\ndrain_max = 901s\n",
	  0, 1,
	    { ":2: health.drain_max must stay inside the scale set's "
	      "notBeforeTimeout (at most 15m)" } },
	{ "drain_max below drain_min",
	  "[health]\ndrain_min = 5m\ndrain_max = 4m\n", 0, 1,
	    { ":3: health.drain_max must not be below health.drain_min" } },
	{ "drain_max equal drain_min",
	  "[health]\ndrain_min = 4m\ndrain_max = 4m\n", 0, 0, { NULL } },
	{ "path without slash", "[health]\npath = health\n", 0, 1,
	    { ":2: health.path must start with '/'" } },
	{ "listen without port", "[health]\nlisten = 8090\n", 0, 1,
	    { ":2: health.listen must be HOST:PORT" } },
	{ "several at once",
	  "[storage]\ncontainer = X\nrelease = ../up\n[auth]\nmethod = sas\n"
	  "[fetch]\nchunk_size = 1K\n", NS, 5,
	    { "storage.account is required", "is not a valid container name",
	      "is not a valid release name" } },
};

static void
test_check_table(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		const struct check_case *k = &checks[i];
		struct capture c, cc;
		struct config *cfg;
		int problems, n;

		cfg = load(k->text, &problems, &c);
		if (problems != 0) {
			print_error("[%s] load: %s\n", k->name, c.text);
			bad++;
		}
		n = check(cfg, k->need, &cc);
		if (n != k->problems || error_lines(cc.text) != n) {
			print_error("[%s] %d problems (%d lines), want "
			    "%d:\n%s\n", k->name, n, error_lines(cc.text),
			    k->problems, cc.text);
			bad++;
		}
		for (int m = 0; m < 3 && k->msgs[m] != NULL; m++) {
			char want[PATH_MAX + 512];

			/* ":N: ..." is relative to the file */
			snprintf(want, sizeof(want), "%s%s",
			    k->msgs[m][0] == ':' ? ini : "", k->msgs[m]);
			if (strstr(cc.text, want) == NULL) {
				print_error("[%s] missing \"%s\" in:\n%s\n",
				    k->name, want, cc.text);
				bad++;
			}
		}
		/* the SAS in a bad endpoint is never echoed */
		if (strstr(cc.text, "sig=") != NULL) {
			print_error("[%s] secret in: %s\n", k->name, cc.text);
			bad++;
		}
		config_free(cfg);
	}
	assert_int_equal(bad, 0);
}

static void
test_sas_from_env_satisfies_check(void **state)
{
	struct capture c;
	struct config *cfg;
	int problems;

	setenv("GREENLIGHT_AUTH_SAS_TOKEN", "sv=2021&sig=S3CRET", 1);
	cfg = load("[auth]\nmethod = sas\n", &problems, &c);
	assert_int_equal(problems, 0);
	assert_string_equal(cfg->sas_token, "sv=2021&sig=S3CRET");
	assert_int_equal(check(cfg, 0, &c), 0);
	config_free(cfg);
}

static void
test_endpoint_derived(void **state)
{
	struct capture c;
	struct config *cfg;
	int problems;
	char *out, origin[256], val[256];

	cfg = load(OK_STORAGE, &problems, &c);
	assert_null(cfg->endpoint);
	assert_int_equal(check(cfg, NS, &c), 0);
	assert_string_equal(cfg->endpoint,
	    "https://acct.blob.core.windows.net");
	out = print(cfg);
	printed_origin(out, "storage", "endpoint", origin, sizeof(origin));
	assert_string_equal(origin, "default (from storage.account)");
	free(out);
	/* a second check keeps it (no leak, same origin) */
	assert_int_equal(check(cfg, NS, &c), 0);
	config_free(cfg);

	/* an explicit endpoint wins over the account; its '/' is dropped */
	cfg = load("[storage]\naccount = devstoreaccount1\n"
	    "endpoint = https://127.0.0.1:10000/devstoreaccount1///\n"
	    "container = releases\n", &problems, &c);
	assert_int_equal(check(cfg, NS, &c), 0);
	assert_string_equal(cfg->endpoint,
	    "https://127.0.0.1:10000/devstoreaccount1");
	out = print(cfg);
	printed_value(out, "storage", "endpoint", val, sizeof(val));
	assert_string_equal(val, "https://127.0.0.1:10000/devstoreaccount1");
	free(out);
	config_free(cfg);
}

static void
test_drain_min(void **state)
{
	static const struct {
		const char *text;
		int64_t want;
	} t[] = {
		{ "", 30000 },
		{ "[health]\nprobe_interval = 10s\nprobe_threshold = 2\n",
		  25000 },
		{ "[health]\ndrain_min = 45s\n", 45000 },
		{ "[health]\nprobe_interval = 500ms\nprobe_threshold = 1\n",
		  5500 },
	};
	struct capture c;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int problems;
		struct config *cfg = load(t[i].text, &problems, &c);
		char *out = print(cfg);
		char val[64], want[64];

		assert_int_equal(problems, 0);
		assert_true(config_drain_min_ms(cfg) == t[i].want);
		printed_value(out, "health", "drain_min", val, sizeof(val));
		snprintf(want, sizeof(want), "%llds",
		    (long long)t[i].want / 1000);
		if (t[i].want % 1000 != 0)
			snprintf(want, sizeof(want), "%lldms",
			    (long long)t[i].want);
		assert_string_equal(val, want);
		free(out);
		config_free(cfg);
	}
	/* a derived drain_min above drain_max: config says drain_max wins */
	{
		int problems;
		struct config *cfg = load("[health]\nprobe_interval = 10s\n"
		    "drain_max = 20s\n", &problems, &c);
		char *out = print(cfg);

		assert_int_equal(problems, 0);
		assert_non_null(strstr(out, "# derived: probe_interval x "
		    "probe_threshold + 5s; drain_max (20s) cuts it short\n"));
		free(out);
		config_free(cfg);
		cfg = load("", &problems, &c);
		out = print(cfg);
		assert_null(strstr(out, "cuts it short"));
		free(out);
		config_free(cfg);
	}
	/* a struct filled in by hand: the product saturates, never wraps */
	{
		int problems;
		struct config *cfg = load("", &problems, &c);

		cfg->probe_interval_ms = INT64_MAX / 3;
		assert_true(config_drain_min_ms(cfg) == INT64_MAX);
		config_free(cfg);
	}
}

static void
test_print_masks_secrets(void **state)
{
	struct capture c;
	struct config *cfg;
	int problems;
	char *out, val[256], origin[256];

	setenv("GREENLIGHT_AUTH_SAS_TOKEN", "sv=2021-08-06&sig=T0PS3CRET", 1);
	cfg = load("[storage]\naccount = acct\ncontainer = releases\n"
	    "[auth]\nmethod = sas\n[health]\n"
	    "check_url = http://127.0.0.1:8080/ready?key=T0PS3CRET2\n",
	    &problems, &c);
	assert_int_equal(problems, 0);
	out = print(cfg);
	assert_null(strstr(out, "T0PS3CRET"));
	printed_value(out, "auth", "sas_token", val, sizeof(val));
	assert_string_equal(val, "********");
	printed_origin(out, "auth", "sas_token", origin, sizeof(origin));
	assert_string_equal(origin, "environment GREENLIGHT_AUTH_SAS_TOKEN");
	printed_value(out, "health", "check_url", val, sizeof(val));
	assert_string_equal(val, "http://127.0.0.1:8080/ready?...");
	/* the header names the file; sections in order */
	assert_true(strncmp(out, "# file: ", 8) == 0);
	assert_non_null(strstr(out, ini));
	assert_true(strstr(out, "[storage]") < strstr(out, "[auth]"));
	assert_true(strstr(out, "[auth]") < strstr(out, "[imds]"));
	assert_true(strstr(out, "[imds]") < strstr(out, "[fetch]"));
	assert_true(strstr(out, "[fetch]") < strstr(out, "[install]"));
	assert_true(strstr(out, "[install]") < strstr(out, "[health]"));
	free(out);
	config_free(cfg);

	/* a bad secret from the environment is never echoed */
	config_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_snippet_table, each),
		cmocka_unit_test_setup(test_snippet_values, each),
		cmocka_unit_test_setup(test_file_missing, each),
		cmocka_unit_test_setup(test_defaults, each),
		cmocka_unit_test_setup(test_env_every_key, each),
		cmocka_unit_test_setup(test_precedence, each),
		cmocka_unit_test_setup(test_env_errors, each),
		cmocka_unit_test_setup(test_config_set, each),
		cmocka_unit_test_setup(test_check_table, each),
		cmocka_unit_test_setup(test_sas_from_env_satisfies_check, each),
		cmocka_unit_test_setup(test_endpoint_derived, each),
		cmocka_unit_test_setup(test_drain_min, each),
		cmocka_unit_test_setup(test_print_masks_secrets, each),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
