/*
 * config.c — the key table, and each key's value from greenlight.ini (read
 * by ini.c), the environment and flags; printed with where it came from.
 * The rules across keys are in config_check.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "config.h"
#include "config_int.h"
#include "inifile.h"
#include "log.h"
#include "parse.h"

const char *const event_type_names[EVENT__MAX] = {
	"Terminate", "Preempt", "Reboot", "Redeploy", "Freeze"
};
static const char *const auth_names[AUTH__MAX] = {
	"managed-identity", "sas", "none"
};
static const char *const scope_names[SCOPE__MAX] = { "system", "user" };

enum cfg_type {
	CFG_STRING,
	CFG_URL,
	CFG_LONG,
	CFG_SIZE,
	CFG_DURATION,
	CFG_BOOL,
	CFG_ENUM,
	CFG_FLAGS,
	CFG__MAX
};

#define CFG_SECRET 0x1 /* masked when printed */

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t offset;
	const char *def; /* NULL: no default (optional or required) */
	unsigned flags;
	long min, max;			/* CFG_LONG; CFG_DURATION in ms */
	const char *const *names;	/* CFG_ENUM, CFG_FLAGS */
	int nnames;
};

#define OFF(f) offsetof(struct config, f)
#define STR(s, k, f, d) { s, k, CFG_STRING, OFF(f), d, 0, 0, 0, NULL, 0 }
#define NUM(s, k, f, d, lo, hi) { s, k, CFG_LONG, OFF(f), d, 0, lo, hi, NULL, 0 }
#define TYP(s, k, t, f, d) { s, k, t, OFF(f), d, 0, 0, 0, NULL, 0 }
/* a duration from lo to hi milliseconds */
#define DUR(s, k, f, d, lo, hi) \
	{ s, k, CFG_DURATION, OFF(f), d, 0, lo, hi, NULL, 0 }
#define D_SEC 1000L
#define D_MIN (60 * D_SEC)
#define D_HOUR (60 * D_MIN)
#define ENM(s, k, f, d, n) { s, k, CFG_ENUM, OFF(f), d, 0, 0, 0, n, (int)ARRAY_SIZE(n) }

static const struct cfg_key cfg_keys[] = {
	STR("storage", "account", account, NULL),
	TYP("storage", "endpoint", CFG_URL, endpoint, NULL),
	STR("storage", "container", container, NULL),
	STR("storage", "release", release, NULL),
	STR("storage", "ca_file", ca_file, NULL),
	ENM("auth", "method", auth_method, "managed-identity", auth_names),
	STR("auth", "client_id", client_id, NULL),
	STR("auth", "object_id", object_id, NULL),
	STR("auth", "msi_res_id", msi_res_id, NULL),
	STR("auth", "sas_file", sas_file, NULL),
	{ "auth", "sas_token", CFG_STRING, OFF(sas_token), NULL, CFG_SECRET,
	    0, 0, NULL, 0 },
	TYP("imds", "endpoint", CFG_URL, imds_endpoint,
	    "http://169.254.169.254"),
	NUM("fetch", "connections", connections, "16", 1, 64),
	TYP("fetch", "chunk_size", CFG_SIZE, chunk_size, "8M"),
	DUR("fetch", "deadline", deadline_ms, "30m", D_SEC, 24 * D_HOUR),
	TYP("fetch", "max_release_size", CFG_SIZE, max_release_size, "16G"),
	STR("install", "root", root, "/opt/greenlight"),
	NUM("install", "keep", keep, "2", 0, 100),
	ENM("install", "scope", scope, "system", scope_names),
	STR("install", "unit_dir", unit_dir, NULL),
	STR("install", "state_file", state_file,
	    "/var/lib/greenlight/state.json"),
	STR("install", "lock_file", lock_file, "/run/greenlight/lock"),
	DUR("install", "lock_wait", lock_wait_ms, "2m", 0, 24 * D_HOUR),
	STR("health", "listen", health_listen, "0.0.0.0:8090"),
	STR("health", "path", health_path, "/health"),
	{ "health", "events", CFG_FLAGS, OFF(health_events),
	    "Terminate,Preempt", 0, 0, 0, event_type_names, EVENT__MAX },
	DUR("health", "probe_interval", probe_interval_ms, "5s", 100,
	    5 * D_MIN),
	NUM("health", "probe_threshold", probe_threshold, "5", 1, 100),
	DUR("health", "drain_min", drain_min_ms, NULL, D_SEC, 15 * D_MIN),
	/* at most 15m, checked with the notBeforeTimeout in config_check */
	DUR("health", "drain_max", drain_max_ms, "4m", D_SEC, 24 * D_HOUR),
	/* a Preempt comes 30 s before the VM goes */
	DUR("health", "preempt_drain_max", preempt_drain_max_ms, "20s", D_SEC,
	    30 * D_SEC),
	TYP("health", "approve", CFG_BOOL, approve, "true"),
	DUR("health", "poll_interval", poll_interval_ms, "1s", 100, D_MIN),
	TYP("health", "check_url", CFG_URL, check_url, NULL),
	NUM("health", "check_status", check_status, "200", 100, 599),
	STR("health", "check_tcp", check_tcp, NULL),
	DUR("health", "check_interval", check_interval_ms, "2s", 10, D_HOUR),
	DUR("health", "check_timeout", check_timeout_ms, "1s", 10, 5 * D_MIN),
	NUM("health", "check_threshold", check_threshold, "3", 1, 100),
	STR("health", "workload_ports", workload_ports, NULL),
};
#define NKEYS ((int)ARRAY_SIZE(cfg_keys))
_Static_assert(ARRAY_SIZE(cfg_keys) <= ARRAY_SIZE(((struct config *)0)->origin),
    "struct config: origin[] needs a slot for every key");

/* The margin added to probe_interval * probe_threshold for drain_min. */
#define DRAIN_MARGIN_MS 5000

static const char *const sections[] = {
	"storage", "auth", "imds", "fetch", "install", "health"
};

const char *
config_auth_name(enum auth_method m)
{
	return m < AUTH__MAX ? auth_names[m] : "?";
}

const char *
config_scope_name(enum install_scope s)
{
	return s < SCOPE__MAX ? scope_names[s] : "?";
}

static int
key_find(const char *section, const char *key)
{
	for (int i = 0; i < NKEYS; i++)
		if (strcmp(cfg_keys[i].section, section) == 0 &&
		    strcmp(cfg_keys[i].key, key) == 0)
			return i;
	return -1;
}

static int
section_known(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (strcmp(sections[i], section) == 0)
			return 1;
	return 0;
}

/* Describe what a key accepts, for error messages. */
static void
key_expect(const struct cfg_key *k, char *out, size_t outsz)
{
	size_t o = 0;

	switch (k->type) {
	case CFG_LONG:
		snprintf(out, outsz, "a whole number from %ld to %ld", k->min,
		    k->max);
		return;
	case CFG_SIZE:
		snprintf(out, outsz, "a size such as 4096, 512K, 8M or 1G");
		return;
	case CFG_DURATION: {
		char lo[32], hi[32];

		parse_format_duration(k->min, lo, sizeof(lo));
		parse_format_duration(k->max, hi, sizeof(hi));
		snprintf(out, outsz, "a duration from %s to %s, such as 500ms, "
		    "30s, 5m or 2h", lo, hi);
		return;
	}
	case CFG_BOOL:
		snprintf(out, outsz, "true or false");
		return;
	case CFG_URL:
		snprintf(out, outsz, "an http:// or https:// URL");
		return;
	case CFG_ENUM:
	case CFG_FLAGS:
		o = (size_t)snprintf(out, outsz, "%s",
		    k->type == CFG_ENUM ? "one of " : "a comma list of ");
		for (int i = 0; i < k->nnames && o < outsz; i++)
			o += (size_t)snprintf(out + o, outsz - o, "%s%s",
			    i ? ", " : "", k->names[i]);
		return;
	default:
		if (k->def != NULL)
			snprintf(out, outsz, "a value (default %s)", k->def);
		else
			snprintf(out, outsz, "text");
	}
}

static int
parse_flags(const struct cfg_key *k, const char *value, unsigned *out)
{
	char buf[256], *p, *save = NULL;
	unsigned bits = 0;

	if (snprintf(buf, sizeof(buf), "%s", value) >= (int)sizeof(buf))
		return -1;
	for (p = strtok_r(buf, ", \t", &save); p != NULL;
	    p = strtok_r(NULL, ", \t", &save)) {
		int found = 0;

		for (int i = 0; i < k->nnames; i++) {
			if (strcasecmp(p, k->names[i]) == 0) {
				bits |= 1u << i;
				found = 1;
			}
		}
		if (!found)
			return -1;
	}
	*out = bits;
	return 0;
}

/* Parse value into the field of key i; 0 or -1 (not logged). */
static int
key_store(struct config *cfg, int i, const char *value)
{
	const struct cfg_key *k = &cfg_keys[i];
	char *field = (char *)cfg + k->offset;
	int b, e;
	long l;
	unsigned bits;

	/* a key with a default is never unset: "root =" is a mistake */
	if (*value == '\0' && k->def != NULL)
		return -1;
	switch (k->type) {
	case CFG_URL:
		if (*value != '\0' && strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0)
			return -1;
		/* a host after the scheme */
		if (*value != '\0' && (value[strcspn(value, ":") + 3] == '\0' ||
		    value[strcspn(value, ":") + 3] == '/'))
			return -1;
		/* FALLTHROUGH */
	case CFG_STRING: {
		char **s = (char **)(void *)field;
		char *dup = NULL;
		size_t len;

		if (*value != '\0') {
			dup = strdup(value);
			if (dup == NULL)
				return -1;
			/* URLs are stored without a trailing slash */
			len = strlen(dup);
			while (k->type == CFG_URL && len > 8 &&
			    dup[len - 1] == '/')
				dup[--len] = '\0';
		}
		if (*s != NULL && (k->flags & CFG_SECRET))
			explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = dup;
		return 0;
	}
	case CFG_LONG:
		if (parse_long(value, k->min, k->max, &l) < 0)
			return -1;
		*(long *)(void *)field = l;
		return 0;
	case CFG_SIZE:
		return parse_size(value, (uint64_t *)(void *)field);
	case CFG_DURATION: {
		int64_t ms;

		if (parse_duration_ms(value, &ms) < 0 || ms < k->min ||
		    ms > k->max)
			return -1;
		*(int64_t *)(void *)field = ms;
		return 0;
	}
	case CFG_BOOL:
		if (parse_bool(value, &b) < 0)
			return -1;
		*(int *)(void *)field = b;
		return 0;
	case CFG_ENUM:
		for (e = 0; e < k->nnames; e++) {
			if (strcmp(value, k->names[e]) == 0) {
				*(int *)(void *)field = e;
				return 0;
			}
		}
		return -1;
	case CFG_FLAGS:
		if (parse_flags(k, value, &bits) < 0)
			return -1;
		*(unsigned *)(void *)field = bits;
		return 0;
	default:
		return -1;
	}
}

static int
origin_set(struct config *cfg, int i, const char *origin)
{
	char *dup = strdup(origin);

	if (dup == NULL)
		return -1;
	free(cfg->origin[i]);
	cfg->origin[i] = dup;
	return 0;
}

const char *
config_origin(const struct config *cfg, const char *section, const char *key)
{
	int i = key_find(section, key);

	return i >= 0 && cfg->origin[i] ? cfg->origin[i] : "?";
}

int
config_origin_set(struct config *cfg, const char *section, const char *key,
    const char *origin)
{
	int i = key_find(section, key);

	return i >= 0 ? origin_set(cfg, i, origin) : -1;
}

/* Store value for key i; on a bad value log "where: section.key: ..." */
static int
key_apply(struct config *cfg, int i, const char *value, const char *where,
    const char *origin)
{
	const struct cfg_key *k = &cfg_keys[i];
	char expect[160];

	if (key_store(cfg, i, value) < 0) {
		key_expect(k, expect, sizeof(expect));
		if (k->flags & CFG_SECRET)
			log_error("%s: %s.%s: invalid value; expected %s",
			    where, k->section, k->key, expect);
		else
			log_error("%s: %s.%s: \"%s\" is not valid; expected %s",
			    where, k->section, k->key, value, expect);
		return -1;
	}
	return origin_set(cfg, i, origin);
}

/* Longer lines are refused; a longer value can come from the environment. */
#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)

struct file_ctx {
	struct config *cfg;
	const char *path;
	int problems;
	char section[64];
	unsigned char seen[NKEYS];
};

static void
on_section(void *arg, const char *name, int line)
{
	struct file_ctx *c = arg;

	if (name == NULL)
		return; /* broken (reported): keys stay in the section before */
	snprintf(c->section, sizeof(c->section), "%s", name);
	if (!section_known(c->section)) {
		inifile_error(c->path, line, "unknown section [%s]; known: "
		    "storage, auth, imds, fetch, install, health", c->section);
		c->problems++;
	}
}

static void
on_pair(void *arg, const char *name, const char *value, int line,
    int too_long)
{
	struct file_ctx *c = arg;
	const char *section = c->section;
	char where[512];
	int i;

	if (too_long)
		return; /* reported; the line is left out */
	if (*section == '\0') {
		inifile_error(c->path, line, "key \"%s\" outside any section",
		    name);
		c->problems++;
		return;
	}
	if (!section_known(section))
		return; /* reported once at the header */
	i = key_find(section, name);
	if (i < 0) {
		inifile_error(c->path, line, "unknown key \"%s\" in [%s]", name,
		    section);
		c->problems++;
		return;
	}
	snprintf(where, sizeof(where), "%s:%d", c->path, line);
	if (c->seen[i]) {
		log_error("%s: %s.%s set twice in this file", where, section,
		    name);
		c->problems++;
		return;
	}
	c->seen[i] = 1;
	if (key_apply(c->cfg, i, value, where, where) < 0)
		c->problems++;
}

/* All of fp, NUL-terminated; NULL when it cannot be read (logged). */
static char *
file_slurp(FILE *fp, const char *path, size_t *len)
{
	char *text = NULL, *grown;
	size_t n = 0, cap = 4096;

	for (;;) {
		grown = realloc(text, cap);
		if (grown == NULL) {
			log_error("%s: out of memory", path);
			break;
		}
		text = grown;
		n += fread(text + n, 1, cap - n - 1, fp);
		if (ferror(fp)) {
			log_error("%s: cannot read configuration: %s", path,
			    strerror(errno));
			break;
		}
		if (feof(fp)) {
			text[n] = '\0';
			*len = n;
			return text;
		}
		if (n >= CONFIG_FILE_MAX) {
			log_error("%s: larger than %d bytes; is this the "
			    "configuration file?", path, CONFIG_FILE_MAX);
			break;
		}
		cap *= 2;
	}
	free(text);
	return NULL;
}

static int
config_read_file(struct config *cfg, const char *path, int must_exist)
{
	static const struct inifile_syntax syntax = { CONFIG_LINE_MAX,
		"; set this value with GREENLIGHT_<SECTION>_<KEY> in the "
		"environment instead", 1 };
	struct file_ctx c;
	const struct inifile_handler handler = { on_section, on_pair, &c };
	char *text;
	size_t len;
	FILE *fp;
	int n;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.path = path;
	fp = fopen(path, "re");
	if (fp == NULL) {
		if (!must_exist && errno == ENOENT) {
			log_debug("%s: not present; using defaults and "
			    "environment", path);
			return 0;
		}
		log_error("%s: cannot read configuration: %s", path,
		    strerror(errno));
		return 1;
	}
	cfg->path = strdup(path);
	text = file_slurp(fp, path, &len);
	fclose(fp);
	if (text == NULL)
		return 1;
	n = inifile_parse(path, text, len, &syntax, &handler);
	free(text);
	return n < 0 ? 1 : c.problems + n;
}

/* GREENLIGHT_<SECTION>_<KEY>, upper-cased. */
static void
env_name(const struct cfg_key *k, char *out, size_t outsz)
{
	size_t o;

	snprintf(out, outsz, "GREENLIGHT_%s_%s", k->section, k->key);
	for (o = 0; out[o]; o++)
		out[o] = (char)toupper((unsigned char)out[o]);
}

static int
config_read_env(struct config *cfg)
{
	static const struct {
		const char *env, *section, *key;
	} sample[] = {
		{ "BLOB_CONTAINER_NAME", "storage", "container" },
		{ "RELEASE_FOLDER_NAME", "storage", "release" },
	};
	char name[128], where[160];
	const char *v;
	int problems = 0;

	for (size_t s = 0; s < ARRAY_SIZE(sample); s++) {
		v = getenv(sample[s].env);
		if (v == NULL || *v == '\0')
			continue;
		snprintf(where, sizeof(where), "environment %s",
		    sample[s].env);
		if (key_apply(cfg, key_find(sample[s].section, sample[s].key),
		    v, where, where) < 0)
			problems++;
	}
	for (int i = 0; i < NKEYS; i++) {
		env_name(&cfg_keys[i], name, sizeof(name));
		v = getenv(name);
		if (v == NULL)
			continue;
		snprintf(where, sizeof(where), "environment %s", name);
		if (key_apply(cfg, i, v, where, where) < 0)
			problems++;
	}
	return problems;
}

struct config *
config_load(const char *path, int *problems)
{
	struct config *cfg;
	int n = 0;

	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return NULL;
	for (int i = 0; i < NKEYS; i++) {
		if (cfg_keys[i].def == NULL) {
			if (origin_set(cfg, i, "unset") < 0)
				goto fail;
			continue;
		}
		if (key_apply(cfg, i, cfg_keys[i].def, "default",
		    "default") < 0)
			goto fail;
	}
	n += config_read_file(cfg, path ? path : CONFIG_DEFAULT_PATH,
	    path != NULL);
	n += config_read_env(cfg);
	*problems = n;
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

int
config_set(struct config *cfg, const char *name, const char *value,
    const char *origin)
{
	char section[64], where[160];
	const char *dot, *eq;
	char keybuf[64];
	int i;

	eq = value == NULL ? strchr(name, '=') : NULL;
	if (value == NULL && eq == NULL) {
		log_error("%s: expected SECTION.KEY=VALUE, got \"%s\"", origin,
		    name);
		return -1;
	}
	dot = strchr(name, '.');
	if (dot == NULL || (size_t)(dot - name) >= sizeof(section)) {
		log_error("%s: expected SECTION.KEY, got \"%s\"", origin, name);
		return -1;
	}
	snprintf(section, sizeof(section), "%.*s", (int)(dot - name), name);
	snprintf(keybuf, sizeof(keybuf), "%.*s",
	    (int)(eq ? eq - dot - 1 : (long)strlen(dot + 1)), dot + 1);
	i = key_find(section, keybuf);
	if (i < 0) {
		log_error("%s: unknown key %s.%s", origin, section, keybuf);
		return -1;
	}
	if (cfg_keys[i].flags & CFG_SECRET) {
		/* argv is readable by every user (ps, /proc) */
		env_name(&cfg_keys[i], where, sizeof(where));
		log_error("%s: %s.%s is a secret and cannot be set on the "
		    "command line; use the environment (%s) or the "
		    "configuration file", origin, section, keybuf, where);
		return -1;
	}
	snprintf(where, sizeof(where), "%s", origin);
	return key_apply(cfg, i, eq ? eq + 1 : value, where, origin);
}

int64_t
config_drain_min_ms(const struct config *cfg)
{
	if (cfg->drain_min_ms > 0)
		return cfg->drain_min_ms;
	/* the ranges of both keys keep this far from overflowing; the
	 * guard is for a struct config not made by config_load */
	if (cfg->probe_threshold <= 0 || cfg->probe_interval_ms < 0 ||
	    cfg->probe_interval_ms > (INT64_MAX - DRAIN_MARGIN_MS) /
	    cfg->probe_threshold)
		return INT64_MAX;
	return cfg->probe_interval_ms * cfg->probe_threshold + DRAIN_MARGIN_MS;
}

static void
key_format(const struct config *cfg, int i, char *out, size_t outsz)
{
	const struct cfg_key *k = &cfg_keys[i];
	const char *field = (const char *)cfg + k->offset;
	size_t o = 0;

	switch (k->type) {
	case CFG_STRING:
	case CFG_URL: {
		const char *s = *(char *const *)(const void *)field;

		if (s == NULL)
			snprintf(out, outsz, "%s", "");
		else if (k->flags & CFG_SECRET)
			snprintf(out, outsz, "%s", "********");
		else if (k->type == CFG_URL)
			log_redact(s, out, outsz); /* a query may hold a SAS */
		else
			snprintf(out, outsz, "%s", s);
		return;
	}
	case CFG_LONG:
		snprintf(out, outsz, "%ld", *(const long *)(const void *)field);
		return;
	case CFG_SIZE:
		parse_format_size(*(const uint64_t *)(const void *)field, out,
		    outsz);
		return;
	case CFG_DURATION:
		parse_format_duration(*(const int64_t *)(const void *)field,
		    out, outsz);
		return;
	case CFG_BOOL:
		snprintf(out, outsz, "%s",
		    *(const int *)(const void *)field ? "true" : "false");
		return;
	case CFG_ENUM:
		snprintf(out, outsz, "%s",
		    k->names[*(const int *)(const void *)field]);
		return;
	case CFG_FLAGS:
		out[0] = '\0';
		for (int b = 0; b < k->nnames && o < outsz; b++)
			if (*(const unsigned *)(const void *)field & (1u << b))
				o += (size_t)snprintf(out + o, outsz - o,
				    "%s%s", o ? "," : "", k->names[b]);
		return;
	default:
		out[0] = '\0';
	}
}

void
config_print(const struct config *cfg, FILE *out)
{
	const char *section = "";
	char value[1024], line[1200];

	if (cfg->path != NULL)
		fprintf(out, "# file: %s\n", cfg->path);
	for (int i = 0; i < NKEYS; i++) {
		if (strcmp(section, cfg_keys[i].section) != 0) {
			section = cfg_keys[i].section;
			fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
		}
		key_format(cfg, i, value, sizeof(value));
		if (strcmp(cfg_keys[i].section, "health") == 0 &&
		    strcmp(cfg_keys[i].key, "drain_min") == 0 &&
		    cfg->drain_min_ms == 0) {
			int64_t dm = config_drain_min_ms(cfg);
			char cap[32], note[64] = "";

			parse_format_duration(dm, value, sizeof(value));
			parse_format_duration(cfg->drain_max_ms, cap,
			    sizeof(cap));
			if (dm > cfg->drain_max_ms)
				snprintf(note, sizeof(note), "; drain_max (%s) "
				    "cuts it short", cap);
			snprintf(line, sizeof(line), "%s = %s", cfg_keys[i].key,
			    value);
			fprintf(out, "%-48s # derived: probe_interval x "
			    "probe_threshold + 5s%s\n", line, note);
			continue;
		}
		snprintf(line, sizeof(line), "%s = %s", cfg_keys[i].key, value);
		fprintf(out, "%-48s # %s\n", line, cfg->origin[i]);
	}
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (int i = 0; i < NKEYS; i++) {
		char **s;

		free(cfg->origin[i]);
		if (cfg_keys[i].type != CFG_STRING &&
		    cfg_keys[i].type != CFG_URL)
			continue;
		s = (char **)(void *)((char *)cfg + cfg_keys[i].offset);
		if (*s != NULL && (cfg_keys[i].flags & CFG_SECRET))
			explicit_bzero(*s, strlen(*s));
		free(*s);
	}
	free(cfg->path);
	free(cfg);
}
