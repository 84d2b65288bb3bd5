/*
 * spec.c — release.ini, the release spec (every key is documented in
 * conf/release.ini). ini.c reads the lines, in the dialect greenlight.ini
 * uses, but without inline comments: a value runs to the end of its line,
 * which a command or an environment value needs. Like config.c, every
 * problem is reported as FILE:LINE and all of them in one run.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "fsutil.h"
#include "inifile.h"
#include "log.h"
#include "parse.h"
#include "spec.h"
#include "spec_syntax.h"

#define SPEC_FILE_MAX (64 * 1024)
#define SPEC_LINE_MAX 4096
#define SPEC_LIST_MAX 256 /* environment, writable_paths, archives */

const char *const spec_restart_names[SPEC_RESTART__MAX] = {
	"no", "on-success", "on-failure", "on-abnormal", "on-watchdog",
	"on-abort", "always"
};
const char *const spec_hook_names[SPEC_HOOK__MAX] = {
	"before_install", "after_install", "before_start", "validate"
};

enum section {
	SEC_SERVICE,
	SEC_ENVIRONMENT,
	SEC_UNPACK,
	SEC_HOOKS,
	SEC_HEALTH,
	SEC__MAX
};
static const char *const section_names[SEC__MAX] = {
	"service", "environment", "unpack", "hooks", "health"
};
#define SEC_NONE (-1)
#define SEC_UNKNOWN (-2)

enum key_type {
	KEY_NAME,	/* unit name stem */
	KEY_COMMAND,	/* split at the end, once shell is known */
	KEY_BOOL,
	KEY_ID,		/* user or group */
	KEY_WORKDIR,	/* absolute, or relative inside the release */
	KEY_RESTART,
	KEY_DURATION,
	KEY_PATHS,	/* absolute paths, repeatable */
	KEY_ARCHIVE,	/* PATH [-> DIR], repeatable */
	KEY_COUNT,	/* uint64_t in [min, max] */
	KEY_SIZE,	/* uint64_t */
	KEY_URL,
	KEY_STATUS,	/* long HTTP status */
	KEY_HOSTPORT,
	KEY__MAX
};

struct spec_key {
	enum section section;
	const char *key;
	enum key_type type;
	size_t offset;
	const char *def; /* NULL: no default */
	long min, max;	 /* KEY_COUNT */
};

#define OFF(f) offsetof(struct spec, f)
#define K(sec, k, t, f, d) { sec, k, t, OFF(f), d, 0, 0 }
#define N(sec, k, f, d, lo, hi) { sec, k, KEY_COUNT, OFF(f), d, lo, hi }
#define HOOK(h, k)                                                             \
	K(SEC_HOOKS, k, KEY_COMMAND, hooks[h], NULL),                          \
	    K(SEC_HOOKS, k "_timeout", KEY_DURATION, hooks[h].timeout_ms, "5m")

static const struct spec_key spec_keys[] = {
	K(SEC_SERVICE, "name", KEY_NAME, name, NULL),
	K(SEC_SERVICE, "exec", KEY_COMMAND, exec, NULL),
	K(SEC_SERVICE, "shell", KEY_BOOL, exec.shell, "false"),
	K(SEC_SERVICE, "user", KEY_ID, user, NULL),
	K(SEC_SERVICE, "group", KEY_ID, group, NULL),
	K(SEC_SERVICE, "allow_root", KEY_BOOL, allow_root, "false"),
	K(SEC_SERVICE, "working_directory", KEY_WORKDIR, working_directory,
	    NULL),
	K(SEC_SERVICE, "restart", KEY_RESTART, restart, "on-failure"),
	K(SEC_SERVICE, "restart_sec", KEY_DURATION, restart_sec_ms, "1s"),
	K(SEC_SERVICE, "stop_timeout", KEY_DURATION, stop_timeout_ms, "30s"),
	K(SEC_SERVICE, "writable_paths", KEY_PATHS, writable_paths, NULL),
	K(SEC_UNPACK, "archive", KEY_ARCHIVE, archives, NULL),
	N(SEC_UNPACK, "max_entries", limits.max_entries, "100000", 1,
	    100000000),
	K(SEC_UNPACK, "max_size", KEY_SIZE, limits.max_size, "16G"),
	N(SEC_UNPACK, "max_ratio", limits.max_ratio, "100", 1, 1000000),
	N(SEC_UNPACK, "max_path", limits.max_path, "1024", 16, 4096),
	HOOK(SPEC_HOOK_BEFORE_INSTALL, "before_install"),
	HOOK(SPEC_HOOK_AFTER_INSTALL, "after_install"),
	HOOK(SPEC_HOOK_BEFORE_START, "before_start"),
	HOOK(SPEC_HOOK_VALIDATE, "validate"),
	/* copied to every hook at the end */
	K(SEC_HOOKS, "shell", KEY_BOOL, hooks[0].shell, "false"),
	K(SEC_HEALTH, "check_url", KEY_URL, check_url, NULL),
	K(SEC_HEALTH, "check_status", KEY_STATUS, check_status, "200"),
	K(SEC_HEALTH, "check_tcp", KEY_HOSTPORT, check_tcp, NULL),
	K(SEC_HEALTH, "check_interval", KEY_DURATION, interval_ms, "1s"),
	K(SEC_HEALTH, "check_timeout", KEY_DURATION, check_timeout_ms, "2s"),
	K(SEC_HEALTH, "deadline", KEY_DURATION, deadline_ms, "60s"),
	K(SEC_HEALTH, "daemon", KEY_BOOL, daemon, "false"),
};
#define NKEYS ((int)ARRAY_SIZE(spec_keys))

struct spec_ctx {
	struct spec *s;
	const char *path;
	int line;
	int problems;
	int section;
	int section_line[SEC__MAX]; /* first header line, 0 = absent */
	int seen[NKEYS];	    /* line a key was set on, 0 = unset */
	size_t nenv, nwritable;
	int *env_lines;		    /* line of each environment entry */
	int too_long;		    /* this line was reported too long */
};

static void problem(struct spec_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct spec_ctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	inifile_verror(c->path, line, fmt, ap);
	va_end(ap);
	c->problems++;
}

static int
set_string(char **field, const char *value)
{
	char *dup = strdup(value);

	if (dup == NULL)
		return -1;
	free(*field);
	*field = dup;
	return 0;
}

/* What a key accepts, for messages. */
static void
key_expect(const struct spec_key *k, char *out, size_t outsz)
{
	size_t o;

	switch (k->type) {
	case KEY_NAME:
		snprintf(out, outsz, "1-64 of A-Z a-z 0-9 _ . - (it names "
		    "the systemd unit), not starting with '.' or '-'");
		return;
	case KEY_BOOL:
		snprintf(out, outsz, "true or false");
		return;
	case KEY_ID:
		snprintf(out, outsz, "a name of 1-32 A-Z a-z 0-9 _ . - or a "
		    "number");
		return;
	case KEY_DURATION:
		snprintf(out, outsz, "a duration such as 500ms, 30s, 5m or 2h");
		return;
	case KEY_RESTART:
		o = (size_t)snprintf(out, outsz, "one of ");
		for (int i = 0; i < SPEC_RESTART__MAX && o < outsz; i++)
			o += (size_t)snprintf(out + o, outsz - o, "%s%s",
			    i ? ", " : "", spec_restart_names[i]);
		return;
	case KEY_COUNT:
		snprintf(out, outsz, "a whole number from %ld to %ld", k->min,
		    k->max);
		return;
	case KEY_SIZE:
		snprintf(out, outsz, "a size such as 512M or 16G");
		return;
	case KEY_URL:
		snprintf(out, outsz, "an http:// or https:// URL with a host");
		return;
	case KEY_STATUS:
		snprintf(out, outsz, "an HTTP status from 100 to 599");
		return;
	case KEY_HOSTPORT:
		snprintf(out, outsz, "HOST:PORT such as 127.0.0.1:8080 or "
		    "[::1]:8080");
		return;
	default:
		snprintf(out, outsz, "text");
	}
}

static int
store_archive(struct spec_ctx *c, const char *value, const char **why)
{
	struct spec *s = c->s;
	struct spec_archive *grown;
	char left[SPEC_PATH_MAX + 1], right[SPEC_PATH_MAX + 1];
	char path[SPEC_PATH_MAX + 1], dest[SPEC_PATH_MAX + 1];
	char **words = NULL;
	const char *arrow;
	size_t llen;
	int n;

	arrow = strstr(value, "->");
	llen = arrow ? (size_t)(arrow - value) : strlen(value);
	if (llen > SPEC_PATH_MAX || snprintf(right, sizeof(right), "%s",
	    arrow ? arrow + 2 : "") >= (int)sizeof(right)) {
		*why = "path too long";
		return -1;
	}
	memcpy(left, value, llen);
	left[llen] = '\0';
	/* each side is one word; quotes allow blanks in a name */
	n = spec_argv_split(left, &words, why);
	if (n >= 0 && n != 1)
		*why = "expected ARCHIVE or ARCHIVE -> DIRECTORY, each one "
		       "path inside the release";
	if (n != 1 ||
	    spec_path_norm(words[0], 0, path, sizeof(path), why) < 0) {
		spec_argv_free(words);
		return -1;
	}
	spec_argv_free(words);
	words = NULL;
	if (path[0] == '\0') {
		*why = "the archive must be a file inside the release";
		return -1;
	}
	dest[0] = '\0';
	if (arrow != NULL) {
		n = spec_argv_split(right, &words, why);
		if (n >= 0 && n != 1)
			*why = "expected ARCHIVE -> DIRECTORY, one directory "
			       "inside the release";
		if (n != 1 ||
		    spec_path_norm(words[0], 0, dest, sizeof(dest), why) < 0) {
			spec_argv_free(words);
			return -1;
		}
		spec_argv_free(words);
	}
	for (int i = 0; i < s->narchives; i++) {
		if (strcmp(s->archives[i].path, path) == 0) {
			*why = "this archive is already listed";
			return -1;
		}
	}
	if (s->narchives >= SPEC_LIST_MAX) {
		*why = "too many archives";
		return -1;
	}
	grown = realloc(s->archives, (size_t)(s->narchives + 1) *
	    sizeof(*grown));
	if (grown == NULL)
		goto oom;
	s->archives = grown;
	grown[s->narchives].path = strdup(path);
	grown[s->narchives].dest = strdup(dest);
	s->narchives++;
	if (grown[s->narchives - 1].path == NULL ||
	    grown[s->narchives - 1].dest == NULL)
		goto oom;
	return 0;
oom:
	*why = "out of memory";
	return -1;
}

static int
store_paths(struct spec_ctx *c, const char *value, const char **why)
{
	char norm[SPEC_PATH_MAX + 1];
	char **words = NULL;
	int n, rc = -1;

	n = spec_argv_split(value, &words, why);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (spec_path_norm(words[i], 1, norm, sizeof(norm), why) < 0)
			goto out;
		if (strcmp(norm, "/") == 0) {
			*why = "\"/\" would make the whole system writable";
			goto out;
		}
		if (c->nwritable >= SPEC_LIST_MAX) {
			*why = "too many paths";
			goto out;
		}
		if (spec_list_push(&c->s->writable_paths, &c->nwritable,
		    norm) < 0) {
			*why = "out of memory";
			goto out;
		}
	}
	rc = 0;
out:
	spec_argv_free(words);
	return rc;
}

/* Parse value into key k; 0, or -1 with *why (NULL: "not valid; expected"). */
static int
key_store(struct spec_ctx *c, const struct spec_key *k, const char *value,
    const char **why)
{
	char *field = (char *)c->s + k->offset;
	char norm[SPEC_PATH_MAX + 1];
	long l;
	int b;

	*why = NULL;
	switch (k->type) {
	case KEY_NAME:
		if (!spec_name_valid(value))
			return -1;
		return set_string((char **)(void *)field, value);
	case KEY_ID:
		if (!spec_id_valid(value))
			return -1;
		return set_string((char **)(void *)field, value);
	case KEY_URL:
		if (!spec_url_valid(value))
			return -1;
		return set_string((char **)(void *)field, value);
	case KEY_HOSTPORT:
		if (!spec_hostport_valid(value))
			return -1;
		return set_string((char **)(void *)field, value);
	case KEY_COMMAND:
		return set_string(&((struct spec_command *)(void *)field)->line,
		    value);
	case KEY_WORKDIR:
		if (spec_path_norm(value, value[0] == '/', norm, sizeof(norm),
		    why) < 0)
			return -1;
		if (norm[0] == '\0') { /* "." is the default */
			free(*(char **)(void *)field);
			*(char **)(void *)field = NULL;
			return 0;
		}
		return set_string((char **)(void *)field, norm);
	case KEY_BOOL:
		if (parse_bool(value, &b) < 0)
			return -1;
		*(int *)(void *)field = b;
		return 0;
	case KEY_DURATION:
		return parse_duration_ms(value, (int64_t *)(void *)field);
	case KEY_SIZE:
		return parse_size(value, (uint64_t *)(void *)field);
	case KEY_COUNT:
		if (parse_long(value, k->min, k->max, &l) < 0)
			return -1;
		*(uint64_t *)(void *)field = (uint64_t)l;
		return 0;
	case KEY_STATUS:
		return parse_long(value, 100, 599, (long *)(void *)field);
	case KEY_RESTART:
		for (int i = 0; i < SPEC_RESTART__MAX; i++) {
			if (strcmp(value, spec_restart_names[i]) == 0) {
				*(enum spec_restart *)(void *)field = i;
				return 0;
			}
		}
		return -1;
	case KEY_PATHS:
		return store_paths(c, value, why);
	case KEY_ARCHIVE:
		return store_archive(c, value, why);
	default:
		return -1;
	}
}

static int
key_find(int section, const char *key)
{
	for (int i = 0; i < NKEYS; i++)
		if ((int)spec_keys[i].section == section &&
		    strcmp(spec_keys[i].key, key) == 0)
			return i;
	return -1;
}

static void
known_keys(int section, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < NKEYS && o < outsz; i++)
		if ((int)spec_keys[i].section == section)
			o += (size_t)snprintf(out + o, outsz - o, "%s%s",
			    o ? ", " : "", spec_keys[i].key);
}

static void
env_set(struct spec_ctx *c, const char *key, const char *value)
{
	char buf[SPEC_LINE_MAX + 2];
	size_t klen = strlen(key);
	int *lines;

	if (!spec_env_name_valid(key)) {
		problem(c, c->line, "[environment] \"%s\" is not a valid "
		    "variable name (letters, digits and _, not starting "
		    "with a digit)", key);
		return;
	}
	if (strncmp(key, "GREENLIGHT_", 11) == 0) {
		problem(c, c->line, "[environment] %s: names starting with "
		    "GREENLIGHT_ are reserved for what deploy sets", key);
		return;
	}
	for (const char *p = value; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p) && *p != '\t') {
			problem(c, c->line, "[environment] %s: control "
			    "character in the value", key);
			return;
		}
	}
	for (size_t i = 0; i < c->nenv; i++) {
		if (strncmp(c->s->environment[i], key, klen) == 0 &&
		    c->s->environment[i][klen] == '=') {
			problem(c, c->line, "[environment] %s set twice "
			    "(first on line %d)", key, c->env_lines[i]);
			return;
		}
	}
	if (c->nenv >= SPEC_LIST_MAX) {
		problem(c, c->line, "[environment] more than %d variables",
		    SPEC_LIST_MAX);
		return;
	}
	snprintf(buf, sizeof(buf), "%s=%s", key, value);
	lines = realloc(c->env_lines, (c->nenv + 1) * sizeof(*lines));
	if (lines == NULL) {
		problem(c, c->line, "out of memory");
		return;
	}
	c->env_lines = lines;
	lines[c->nenv] = c->line;
	if (spec_list_push(&c->s->environment, &c->nenv, buf) < 0)
		problem(c, c->line, "out of memory");
}

static void
handle_pair(struct spec_ctx *c, const char *key, const char *value)
{
	const struct spec_key *k;
	char expect[256];
	const char *why;
	int i, repeatable;

	if (c->section == SEC_UNKNOWN)
		return; /* reported once at the header */
	if (c->section == SEC_NONE) {
		problem(c, c->line, "key \"%s\" outside any section", key);
		return;
	}
	if (c->section == SEC_ENVIRONMENT) {
		if (!c->too_long)
			env_set(c, key, value);
		return;
	}
	i = key_find(c->section, key);
	if (i < 0) {
		known_keys(c->section, expect, sizeof(expect));
		problem(c, c->line, "unknown key \"%s\" in [%s]; known: %s",
		    key, section_names[c->section], expect);
		return;
	}
	k = &spec_keys[i];
	repeatable = k->type == KEY_PATHS || k->type == KEY_ARCHIVE;
	if (c->seen[i] && !repeatable) {
		problem(c, c->line, "%s.%s set twice (first on line %d)",
		    section_names[k->section], k->key, c->seen[i]);
		return;
	}
	if (c->seen[i] == 0)
		c->seen[i] = c->line;
	if (c->too_long)
		return; /* reported; the key counts as set */
	if (*value == '\0') {
		problem(c, c->line, "%s.%s needs a value",
		    section_names[k->section], k->key);
		return;
	}
	if (key_store(c, k, value, &why) == 0)
		return;
	if (why != NULL) {
		problem(c, c->line, "%s.%s: %s", section_names[k->section],
		    k->key, why);
		return;
	}
	key_expect(k, expect, sizeof(expect));
	problem(c, c->line, "%s.%s: \"%s\" is not valid; expected %s",
	    section_names[k->section], k->key, value, expect);
}

static void
on_section(void *arg, const char *name, int line)
{
	struct spec_ctx *c = arg;

	c->line = line;
	c->section = SEC_UNKNOWN;
	if (name == NULL)
		return; /* a broken header, reported */
	for (int i = 0; i < SEC__MAX; i++)
		if (strcmp(name, section_names[i]) == 0)
			c->section = i;
	if (c->section == SEC_UNKNOWN) {
		problem(c, line, "unknown section [%s]; known: service, "
		    "environment, unpack, hooks, health", name);
		return;
	}
	if (c->section_line[c->section] == 0)
		c->section_line[c->section] = line;
}

static void
on_pair(void *arg, const char *key, const char *value, int line,
    int too_long)
{
	struct spec_ctx *c = arg;

	c->line = line;
	c->too_long = too_long;
	handle_pair(c, key, value);
}

/* Line where key (section, name) was set, or of its section, or 1. */
static int
line_of(const struct spec_ctx *c, int section, const char *name)
{
	int i = name ? key_find(section, name) : -1;

	if (i >= 0 && c->seen[i])
		return c->seen[i];
	if (c->section_line[section])
		return c->section_line[section];
	return 1;
}

/* Split a command once shell is known; reports at its line. */
static void
command_finish(struct spec_ctx *c, struct spec_command *cmd, int section,
    const char *key)
{
	const char *why;
	int n;

	if (cmd->line == NULL)
		return;
	if (cmd->shell) {
		cmd->argv = calloc(4, sizeof(*cmd->argv));
		if (cmd->argv == NULL)
			goto oom;
		cmd->argv[0] = strdup("/bin/sh");
		cmd->argv[1] = strdup("-c");
		cmd->argv[2] = strdup(cmd->line);
		if (!cmd->argv[0] || !cmd->argv[1] || !cmd->argv[2])
			goto oom;
		return;
	}
	n = spec_argv_split(cmd->line, &cmd->argv, &why);
	if (n < 0) {
		problem(c, line_of(c, section, key), "%s.%s: %s",
		    section_names[section], key, why);
		return;
	}
	if (n == 0)
		problem(c, line_of(c, section, key), "%s.%s: empty command",
		    section_names[section], key);
	return;
oom:
	problem(c, line_of(c, section, key), "out of memory");
}

/* Checks that need the whole file. */
static void
spec_check(struct spec_ctx *c)
{
	struct spec *s = c->s;
	char key[64];

	if (c->section_line[SEC_SERVICE] == 0) {
		problem(c, 1, "no [service] section; [service] name and exec "
		    "are required");
	} else {
		if (s->name == NULL && !c->seen[key_find(SEC_SERVICE, "name")])
			problem(c, line_of(c, SEC_SERVICE, NULL),
			    "service.name is required (the systemd unit's "
			    "name)");
		if (s->exec.line == NULL &&
		    !c->seen[key_find(SEC_SERVICE, "exec")])
			problem(c, line_of(c, SEC_SERVICE, NULL),
			    "service.exec is required (the workload's "
			    "command)");
	}
	command_finish(c, &s->exec, SEC_SERVICE, "exec");
	for (int h = 0; h < SPEC_HOOK__MAX; h++) {
		s->hooks[h].shell = s->hooks[0].shell;
		command_finish(c, &s->hooks[h], SEC_HOOKS, spec_hook_names[h]);
		snprintf(key, sizeof(key), "%s_timeout", spec_hook_names[h]);
		if (s->hooks[h].line == NULL &&
		    c->seen[key_find(SEC_HOOKS, key)])
			problem(c, line_of(c, SEC_HOOKS, key), "hooks.%s has "
			    "no effect without hooks.%s", key,
			    spec_hook_names[h]);
		if (s->hooks[h].timeout_ms == 0)
			problem(c, line_of(c, SEC_HOOKS, key), "hooks.%s "
			    "must be more than 0", key);
	}
	if (s->user == NULL) {
		s->user_default = 1;
		if (set_string(&s->user, SPEC_DEFAULT_USER) < 0)
			problem(c, 1, "out of memory");
	} else if (spec_id_is_root(s->user) && !s->allow_root) {
		problem(c, line_of(c, SEC_SERVICE, "user"), "service.user = "
		    "%s runs the workload as root; set allow_root = true if "
		    "that is really meant", s->user);
	}
	if (spec_id_is_root(s->group) && !s->allow_root)
		problem(c, line_of(c, SEC_SERVICE, "group"), "service.group "
		    "= %s needs allow_root = true", s->group);
	if (s->check_url != NULL && s->check_tcp != NULL)
		problem(c, line_of(c, SEC_HEALTH, "check_tcp"), "set "
		    "health.check_url or health.check_tcp, not both");
	if (s->check_url == NULL && c->seen[key_find(SEC_HEALTH,
	    "check_status")])
		problem(c, line_of(c, SEC_HEALTH, "check_status"),
		    "health.check_status has no effect without "
		    "health.check_url");
	if (s->deadline_ms == 0 || s->interval_ms == 0 ||
	    s->check_timeout_ms == 0)
		problem(c, line_of(c, SEC_HEALTH, NULL), "health.deadline, "
		    "check_interval and check_timeout must be more than 0");
	if (s->stop_timeout_ms == 0)
		problem(c, line_of(c, SEC_SERVICE, "stop_timeout"),
		    "service.stop_timeout must be more than 0");
}

static int
spec_defaults(struct spec_ctx *c)
{
	const char *why;

	for (int i = 0; i < NKEYS; i++)
		if (spec_keys[i].def != NULL &&
		    key_store(c, &spec_keys[i], spec_keys[i].def, &why) < 0)
			return -1;
	if (c->s->environment == NULL)
		c->s->environment = calloc(1, sizeof(char *));
	if (c->s->writable_paths == NULL)
		c->s->writable_paths = calloc(1, sizeof(char *));
	if (c->s->environment == NULL || c->s->writable_paths == NULL)
		return -1;
	return 0;
}

struct spec *
spec_load(const char *path, int *problems)
{
	static const struct inifile_syntax syntax = { SPEC_LINE_MAX, NULL, 0 };
	struct spec_ctx c;
	const struct inifile_handler handler = { on_section, on_pair, &c };
	struct spec *s;
	char *text = NULL;
	size_t len = 0;
	int n;

	memset(&c, 0, sizeof(c));
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	c.s = s;
	c.path = path;
	c.section = SEC_NONE;
	s->path = strdup(path);
	if (s->path == NULL || spec_defaults(&c) < 0) {
		spec_free(s);
		return NULL;
	}
	errno = 0;
	text = fs_read_file(path, SPEC_FILE_MAX, &len, 1);
	if (text == NULL) {
		/* other errors were logged by fs_read_file */
		if (errno == ENOENT)
			log_error("%s: missing; every release needs a %s at "
			    "its root", path, SPEC_FILE);
		*problems = 1;
		return s;
	}
	n = inifile_parse(path, text, len, &syntax, &handler);
	if (n < 0) {
		*problems = 1;
		free(text);
		return s;
	}
	c.problems += n;
	spec_check(&c);
	free(text);
	free(c.env_lines);
	*problems = c.problems;
	return s;
}

static void
command_free(struct spec_command *cmd)
{
	free(cmd->line);
	spec_argv_free(cmd->argv);
}

void
spec_free(struct spec *s)
{
	if (s == NULL)
		return;
	free(s->path);
	free(s->name);
	command_free(&s->exec);
	free(s->user);
	free(s->group);
	free(s->working_directory);
	spec_argv_free(s->environment);
	spec_argv_free(s->writable_paths);
	for (int i = 0; i < s->narchives; i++) {
		free(s->archives[i].path);
		free(s->archives[i].dest);
	}
	free(s->archives);
	for (int h = 0; h < SPEC_HOOK__MAX; h++)
		command_free(&s->hooks[h]);
	free(s->check_url);
	free(s->check_tcp);
	free(s);
}
