/*
 * state.c — the state file: load (tolerant), save (atomic, 0644), setters
 * for the pipeline, and the two renderings `greenlight status` prints.
 *
 * Every string that goes in is made valid UTF-8 first (hook output and
 * error messages are arbitrary bytes; JSON needs UTF-8).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"
#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "state.h"

#define STATE_FORMAT 1
#define STATE_FILE_MAX (1024 * 1024)
#define STATE_STR_MAX 8192 /* any single string kept */

const char *const state_phase_names[PHASE__MAX] = {
	"preflight", "identity", "list", "fetch", "verify", "unpack",
	"install", "activate", "validate", "commit"
};

const char *const state_result_names[RESULT__MAX] = {
	"none", "running", "ok", "no-op", "rolled-back", "failed",
	"interrupted"
};

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * A copy of the last max bytes of s with invalid UTF-8 and control bytes
 * other than \n and \t replaced by '?'. NULL for NULL or out of memory.
 */
static char *
str_clean(const char *s, size_t max)
{
	const unsigned char *p;
	size_t n, j = 0;
	char *out;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	p = (const unsigned char *)s;
	if (n > max) {
		p += n - max;
		n = max;
		/* do not start in the middle of a character */
		while (n > 0 && (*p & 0xc0) == 0x80) {
			p++;
			n--;
		}
	}
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(p + i, n - i);

		if (len == 0) {
			out[j++] = '?';
			i++;
			continue;
		}
		if (len == 1 && ((p[i] < 0x20 && p[i] != '\n' &&
		    p[i] != '\t') || p[i] == 0x7f)) {
			out[j++] = '?';
			i++;
			continue;
		}
		memcpy(out + j, p + i, len);
		j += len;
		i += len;
	}
	out[j] = '\0';
	return out;
}

/* Replace *dst with a clean copy of src (NULL or "" clears). 0/-1. */
static int
str_set(char **dst, const char *src, size_t max)
{
	char *c = NULL;

	if (src != NULL && src[0] != '\0') {
		c = str_clean(src, max);
		if (c == NULL)
			return -1;
	}
	free(*dst);
	*dst = c;
	return 0;
}

static void
run_clear(struct state_run *r)
{
	free(r->command);
	free(r->release);
	memset(r, 0, sizeof(*r));
}

static void
hooks_clear(struct state *st)
{
	for (int i = 0; i < st->nhooks; i++) {
		free(st->hooks[i].name);
		free(st->hooks[i].outcome);
		free(st->hooks[i].tail);
	}
	memset(st->hooks, 0, sizeof(st->hooks));
	st->nhooks = 0;
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	free(st->current);
	free(st->previous);
	run_clear(&st->last);
	free(st->error_class);
	free(st->error_message);
	hooks_clear(st);
	for (int i = 0; i < st->nhistory; i++)
		run_clear(&st->history[i]);
	free(st);
}

static struct state *
state_new(void)
{
	struct state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	for (int i = 0; i < PHASE__MAX; i++)
		st->phase_ms[i] = -1;
	return st;
}

/* --- time as text ------------------------------------------------------- */

static void
time_format(int64_t ms, char *out, size_t outsz)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, outsz, "?");
		return;
	}
	snprintf(out, outsz, "%s.%03dZ", base, (int)(ms % 1000));
}

/* Parse "YYYY-MM-DDTHH:MM:SS[.mmm]Z"; 0 when unparsable. */
static int64_t
time_parse(const char *s)
{
	struct tm tm;
	const char *p;
	int64_t ms = 0;

	if (s == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return 0;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++)
			if (digits++ < 3)
				ms = ms * 10 + (*p - '0');
		while (digits < 3) {
			ms *= 10;
			digits++;
		}
	}
	if (strcmp(p, "Z") != 0)
		return 0;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* --- JSON --------------------------------------------------------------- */

static json_t *
jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
jtime(int64_t ms)
{
	char buf[40];

	if (ms <= 0)
		return json_null();
	time_format(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
run_json(const struct state_run *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "command", jstr(r->command));
	json_object_set_new(o, "release", jstr(r->release));
	json_object_set_new(o, "result",
	    json_string(state_result_names[r->result]));
	json_object_set_new(o, "exit_code", json_integer(r->exit_code));
	json_object_set_new(o, "exit", json_string(exit_code_name(
	    r->exit_code)));
	json_object_set_new(o, "started", jtime(r->started_ms));
	json_object_set_new(o, "finished", jtime(r->finished_ms));
	if (r->finished_ms > 0 && r->started_ms > 0)
		json_object_set_new(o, "duration_ms",
		    json_integer(r->finished_ms - r->started_ms));
	else
		json_object_set_new(o, "duration_ms", json_null());
	return o;
}

static json_t *
state_json(const struct state *st)
{
	json_t *root = json_object(), *last, *phases, *hooks, *hist;

	json_object_set_new(root, "format", json_integer(STATE_FORMAT));
	json_object_set_new(root, "current", jstr(st->current));
	json_object_set_new(root, "previous", jstr(st->previous));
	if (st->last.result == RESULT_NONE) {
		json_object_set_new(root, "last", json_null());
	} else {
		last = run_json(&st->last);
		phases = json_object();
		for (int i = 0; i < PHASE__MAX; i++)
			if (st->phase_ms[i] >= 0)
				json_object_set_new(phases,
				    state_phase_names[i],
				    json_integer(st->phase_ms[i]));
		json_object_set_new(last, "phases_ms", phases);
		if (st->error_class != NULL || st->error_message != NULL)
			json_object_set_new(last, "error", json_pack(
			    "{s:o, s:o}", "class", jstr(st->error_class),
			    "message", jstr(st->error_message)));
		else
			json_object_set_new(last, "error", json_null());
		hooks = json_array();
		for (int i = 0; i < st->nhooks; i++)
			json_array_append_new(hooks, json_pack(
			    "{s:o, s:o, s:o}", "name",
			    jstr(st->hooks[i].name), "outcome",
			    jstr(st->hooks[i].outcome), "output_tail",
			    jstr(st->hooks[i].tail)));
		json_object_set_new(last, "hooks", hooks);
		json_object_set_new(root, "last", last);
	}
	hist = json_array();
	for (int i = 0; i < st->nhistory; i++)
		json_array_append_new(hist, run_json(&st->history[i]));
	json_object_set_new(root, "history", hist);
	return root;
}

char *
state_render_json(const struct state *st)
{
	json_t *j = state_json(st);
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(j);
	return s;
}

/* Copy a JSON string member (ignored when absent or not a string). */
static int
get_str(json_t *o, const char *key, char **dst, size_t max)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return 0;
	return str_set(dst, json_string_value(v), max);
}

static enum state_result
result_parse(const char *s)
{
	for (int i = 0; s != NULL && i < RESULT__MAX; i++)
		if (strcmp(s, state_result_names[i]) == 0)
			return (enum state_result)i;
	return RESULT_NONE;
}

static int
run_parse(json_t *o, struct state_run *r)
{
	json_t *v;

	if (get_str(o, "command", &r->command, 64) < 0 ||
	    get_str(o, "release", &r->release, 256) < 0)
		return -1;
	r->result = result_parse(json_string_value(json_object_get(o,
	    "result")));
	v = json_object_get(o, "exit_code");
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) < 256)
		r->exit_code = (int)json_integer_value(v);
	r->started_ms = time_parse(json_string_value(json_object_get(o,
	    "started")));
	r->finished_ms = time_parse(json_string_value(json_object_get(o,
	    "finished")));
	return 0;
}

/* Fill st from a parsed document; -1 when it is not a state file. */
static int
state_parse(json_t *root, struct state *st)
{
	json_t *last, *v, *a;
	size_t i;

	v = json_object_get(root, "format");
	if (!json_is_object(root) || !json_is_integer(v) ||
	    json_integer_value(v) != STATE_FORMAT)
		return -1;
	if (get_str(root, "current", &st->current, 256) < 0 ||
	    get_str(root, "previous", &st->previous, 256) < 0)
		return -1;
	last = json_object_get(root, "last");
	if (json_is_object(last)) {
		if (run_parse(last, &st->last) < 0)
			return -1;
		v = json_object_get(last, "phases_ms");
		for (int k = 0; json_is_object(v) && k < PHASE__MAX; k++) {
			json_t *ms = json_object_get(v, state_phase_names[k]);

			if (json_is_integer(ms) && json_integer_value(ms) >= 0)
				st->phase_ms[k] = json_integer_value(ms);
		}
		v = json_object_get(last, "error");
		if (json_is_object(v) &&
		    (get_str(v, "class", &st->error_class, 64) < 0 ||
		    get_str(v, "message", &st->error_message,
		    STATE_STR_MAX) < 0))
			return -1;
		a = json_object_get(last, "hooks");
		json_array_foreach(a, i, v) {
			struct state_hook *h;

			if (st->nhooks == STATE_HOOKS_MAX || !json_is_object(v))
				break;
			h = &st->hooks[st->nhooks++];
			if (get_str(v, "name", &h->name, 64) < 0 ||
			    get_str(v, "outcome", &h->outcome, 256) < 0 ||
			    get_str(v, "output_tail", &h->tail,
			    STATE_TAIL_MAX) < 0)
				return -1;
		}
	}
	a = json_object_get(root, "history");
	json_array_foreach(a, i, v) {
		if (st->nhistory == STATE_HISTORY_MAX)
			break;
		if (json_is_object(v) &&
		    run_parse(v, &st->history[st->nhistory++]) < 0)
			return -1;
	}
	return 0;
}

struct state *
state_load(const char *path)
{
	struct state *st = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	char *text = NULL, corrupt[4096];
	size_t len;

	st = state_new();
	if (st == NULL)
		return NULL;
	errno = 0;
	text = fs_read_file(path, STATE_FILE_MAX, &len, 1);
	if (text == NULL) {
		if (errno != ENOENT)
			log_warn("%s: cannot read the state file; starting "
			    "with an empty one", path);
		goto out;
	}
	root = json_loadb(text, len, 0, &jerr);
	if (root != NULL && state_parse(root, st) == 0)
		goto out;
	if (root == NULL)
		log_warn("%s:%d: state file is corrupt (%s); keeping it as "
		    "%s.corrupt and starting with an empty one", path,
		    jerr.line, jerr.text, path);
	else
		log_warn("%s: not a greenlight state file (format %d); "
		    "keeping it as %s.corrupt and starting with an empty one",
		    path, STATE_FORMAT, path);
	state_free(st);
	st = state_new();
	if (snprintf(corrupt, sizeof(corrupt), "%s.corrupt", path) <
	    (int)sizeof(corrupt) && rename(path, corrupt) < 0)
		log_warn("%s: cannot rename to %s: %s", path, corrupt,
		    strerror(errno));
out:
	json_decref(root);
	free(text);
	return st;
}

int
state_save(const struct state *st, const char *path)
{
	char dir[4096], *slash, *text;
	int rc;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		log_error("%s: path too long", path);
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (fs_mkdir_p(dir, 0755) < 0)
			return -1;
	}
	text = state_render_json(st);
	if (text == NULL) {
		log_error("%s: cannot render the state (out of memory)", path);
		return -1;
	}
	rc = fs_write_atomic(path, text, strlen(text), 0644);
	free(text);
	return rc;
}

/* --- setters ------------------------------------------------------------ */

static void
history_push(struct state *st, const struct state_run *r)
{
	if (st->nhistory == STATE_HISTORY_MAX)
		run_clear(&st->history[--st->nhistory]);
	memmove(&st->history[1], &st->history[0],
	    (size_t)st->nhistory * sizeof(st->history[0]));
	st->history[0] = *r; /* takes the strings */
	st->nhistory++;
}

int
state_begin(struct state *st, const char *command, const char *release)
{
	struct state_run r = { 0 };

	if (str_set(&r.command, command, 64) < 0 ||
	    str_set(&r.release, release, 256) < 0) {
		run_clear(&r);
		return -1;
	}
	if (st->last.result == RESULT_RUNNING) {
		st->last.result = RESULT_INTERRUPTED;
		history_push(st, &st->last);
	} else {
		run_clear(&st->last);
	}
	memset(&st->last, 0, sizeof(st->last));
	st->last = r;
	st->last.result = RESULT_RUNNING;
	st->last.started_ms = clock_wall_ms();
	for (int i = 0; i < PHASE__MAX; i++)
		st->phase_ms[i] = -1;
	free(st->error_class);
	free(st->error_message);
	st->error_class = st->error_message = NULL;
	hooks_clear(st);
	return 0;
}

void
state_phase_add(struct state *st, enum state_phase ph, int64_t ms)
{
	if (ph >= PHASE__MAX || ms < 0)
		return;
	st->phase_ms[ph] = (st->phase_ms[ph] < 0 ? 0 : st->phase_ms[ph]) + ms;
}

int
state_set_links(struct state *st, const char *current, const char *previous)
{
	if (str_set(&st->current, current, 256) < 0 ||
	    str_set(&st->previous, previous, 256) < 0)
		return -1;
	return 0;
}

int
state_set_error(struct state *st, int code, const char *message)
{
	if (str_set(&st->error_class, exit_code_name(code), 64) < 0 ||
	    str_set(&st->error_message, message, STATE_STR_MAX) < 0)
		return -1;
	return 0;
}

int
state_set_hook(struct state *st, const char *name, const char *outcome,
    const char *tail)
{
	struct state_hook *h = NULL;

	for (int i = 0; i < st->nhooks; i++)
		if (strcmp(st->hooks[i].name, name) == 0)
			h = &st->hooks[i];
	if (h == NULL) {
		if (st->nhooks == STATE_HOOKS_MAX)
			return -1;
		h = &st->hooks[st->nhooks];
		if (str_set(&h->name, name, 64) < 0)
			return -1;
		st->nhooks++;
	}
	if (str_set(&h->outcome, outcome, 256) < 0 ||
	    str_set(&h->tail, tail, STATE_TAIL_MAX) < 0)
		return -1;
	return 0;
}

void
state_finish(struct state *st, enum state_result result, int exit_code)
{
	struct state_run r = { 0 };

	st->last.result = result;
	st->last.exit_code = exit_code;
	st->last.finished_ms = clock_wall_ms();
	/* the history keeps its own copy of the run */
	r = st->last;
	r.command = st->last.command ? strdup(st->last.command) : NULL;
	r.release = st->last.release ? strdup(st->last.release) : NULL;
	history_push(st, &r);
}

/* --- for people --------------------------------------------------------- */

static void
dur_format(int64_t ms, char *out, size_t outsz)
{
	if (ms < 1000)
		snprintf(out, outsz, "%lldms", (long long)ms);
	else if (ms < 60000)
		snprintf(out, outsz, "%.1fs", (double)ms / 1000.0);
	else
		snprintf(out, outsz, "%lldm%02llds", (long long)(ms / 60000),
		    (long long)(ms / 1000 % 60));
}

static void
when_format(int64_t ms, char *out, size_t outsz)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outsz, "-");
}

void
state_render_text(const struct state *st, FILE *out)
{
	const struct state_run *r = &st->last;
	char when[40], dur[32];

	fprintf(out, "current:   %s\n", st->current ? st->current : "(none)");
	fprintf(out, "previous:  %s\n", st->previous ? st->previous :
	    "(none)");
	if (r->result == RESULT_NONE) {
		fprintf(out, "last run:  (none recorded)\n");
		return;
	}
	when_format(r->started_ms, when, sizeof(when));
	if (r->result == RESULT_RUNNING) {
		fprintf(out, "last run:  %s %s: running since %s (or was "
		    "interrupted: a rerun will converge)\n",
		    r->command ? r->command : "?",
		    r->release ? r->release : "?", when);
	} else {
		dur_format(r->finished_ms - r->started_ms, dur, sizeof(dur));
		fprintf(out, "last run:  %s %s: %s (exit %d, %s) at %s, took "
		    "%s\n", r->command ? r->command : "?",
		    r->release ? r->release : "?",
		    state_result_names[r->result], r->exit_code,
		    exit_code_name(r->exit_code), when, dur);
	}
	if (st->error_message != NULL)
		fprintf(out, "error:     %s: %s\n",
		    st->error_class ? st->error_class : "?",
		    st->error_message);
	fprintf(out, "phases:   ");
	for (int i = 0, any = 0; i < PHASE__MAX; i++) {
		if (st->phase_ms[i] < 0)
			continue;
		dur_format(st->phase_ms[i], dur, sizeof(dur));
		fprintf(out, "%s %s %s", any ? "," : "", state_phase_names[i],
		    dur);
		any = 1;
	}
	fprintf(out, "\n");
	for (int i = 0; i < st->nhooks; i++) {
		const struct state_hook *h = &st->hooks[i];
		const char *t = h->tail, *p;
		int lines = 0;

		fprintf(out, "hook %s: %s\n", h->name,
		    h->outcome ? h->outcome : "?");
		if (t == NULL)
			continue;
		/* the last 5 lines of its output */
		p = t + strlen(t);
		if (p > t && p[-1] == '\n')
			p--;
		while (p > t && lines < 5)
			if (*--p == '\n')
				lines++;
		if (*p == '\n')
			p++;
		while (*p != '\0') {
			const char *eol = strchr(p, '\n');
			int len = eol ? (int)(eol - p) : (int)strlen(p);

			fprintf(out, "  | %.*s\n", len, p);
			if (eol == NULL)
				break;
			p = eol + 1;
		}
	}
	if (st->nhistory > 0)
		fprintf(out, "history (newest first):\n");
	for (int i = 0; i < st->nhistory; i++) {
		const struct state_run *h = &st->history[i];

		when_format(h->started_ms, when, sizeof(when));
		fprintf(out, "  %s  %-8s %-20s %s\n", when,
		    h->command ? h->command : "?",
		    h->release ? h->release : "?",
		    state_result_names[h->result]);
	}
}
