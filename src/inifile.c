/*
 * inifile.c — greenlight.ini and release.ini through inih (see inifile.h).
 *
 * inih parses; a reader of ours feeds it one line at a time, which gives
 * every pair its line number and lets us report all syntax errors (inih
 * only returns the first). The reader also shields inih's build-time
 * choices that do not fit these files (Debian builds it with a 200-byte
 * line buffer, ':' as a second delimiter, continuation lines and " ;"
 * inline comments always on): leading blanks are dropped (no continuation
 * lines), ':' in a key and ';' in a value are masked and restored in the
 * handler, inline comments are cut here when the caller wants them, and a
 * line too long for inih's buffer is handed over as a placeholder whose
 * key and value the handler takes from the reader. So a value is never cut
 * short silently, whatever inih's buffer size.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "inifile.h"
#include "log.h"

/* Masks for what inih would otherwise read as syntax. */
#define MASK_COLON '\x1d'    /* ':' in a key */
#define MASK_SEMICOLON '\x1e' /* ';' in a value */
#define LONG_KEY "\x1c"	     /* the key is in the reader's context */
#define LONG_VALUE "\x1f"    /* the value is in the reader's context */

struct ini_ctx {
	const char *path;
	const struct inifile_syntax *syn;
	const struct inifile_handler *h;
	char *next;	  /* the rest of the text */
	int line;	  /* the line last handed to inih */
	int problems;
	int too_long;	  /* the current line is over syn->line_max */
	char *key;	  /* the current pair, unmasked ... */
	char *value;	  /* ... for the handler */
	char *buf;	  /* unmasking buffer for the handler */
	size_t bufsz;
};

void
inifile_verror(const char *path, int line, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_error("%s:%d: %s", path, line, msg);
}

void
inifile_error(const char *path, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	inifile_verror(path, line, fmt, ap);
	va_end(ap);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* End s at a ';' that follows a blank, as inih's inline comments. */
static void
comment_cut(char *s)
{
	int was_space = 0;

	for (; *s != '\0'; s++) {
		if (was_space && *s == ';') {
			*s = '\0';
			return;
		}
		was_space = isspace((unsigned char)*s);
	}
}

/* Copy s into out (size outsz) with every from replaced by to; -1 if long. */
static int
copy_masked(char *out, size_t outsz, const char *s, char from, char to)
{
	size_t n = strlen(s);

	if (n + 1 > outsz)
		return -1;
	for (size_t i = 0; i <= n; i++)
		out[i] = s[i] == from ? to : s[i];
	return 0;
}

/*
 * Turn one line of the file into what inih gets in out (size outsz):
 * "" for blanks, comments and lines with errors (reported here), a clean
 * "[name]", or "key=value" masked — or the placeholders when that does not
 * fit. Sets c->key and c->value for the handler.
 */
static void
line_prepare(struct ini_ctx *c, char *raw, char *out, size_t outsz)
{
	const struct inifile_syntax *syn = c->syn;
	char *t, *end, *eq, *key, *value;
	size_t klen;

	out[0] = '\0';
	c->too_long = strlen(raw) > syn->line_max;
	if (c->too_long) {
		inifile_error(c->path, c->line, "line longer than %zu bytes%s",
		    syn->line_max, syn->long_hint ? syn->long_hint : "");
		c->problems++;
	}
	if (c->line == 1 && strncmp(raw, "\xEF\xBB\xBF", 3) == 0)
		raw += 3; /* UTF-8 byte order mark */
	t = trim(raw);
	if (*t == '\0' || *t == ';' || *t == '#')
		return;
	if (*t == '[') {
		if (syn->inline_comments) {
			comment_cut(t);
			t = trim(t);
		}
		end = t + strlen(t) - 1;
		if (*end != ']') {
			inifile_error(c->path, c->line,
			    "section header without a closing ']'");
			c->problems++;
			c->h->section(c->h->arg, NULL, c->line);
			return;
		}
		*end = '\0';
		t = trim(t + 1);
		c->h->section(c->h->arg, t, c->line);
		if (strlen(t) + 3 <= outsz)
			snprintf(out, outsz, "[%s]", t);
		return;
	}
	eq = strchr(t, '=');
	if (eq == NULL) {
		if (c->too_long)
			return;
		inifile_error(c->path, c->line,
		    "expected \"key = value\", got \"%.60s\"", t);
		c->problems++;
		return;
	}
	*eq = '\0';
	key = trim(t);
	if (*key == '\0') {
		inifile_error(c->path, c->line, "no key before '='");
		c->problems++;
		return;
	}
	value = trim(eq + 1);
	if (syn->inline_comments) {
		comment_cut(value);
		value = trim(value);
	}
	c->key = key;
	c->value = value;
	klen = strlen(key);
	if (klen + strlen(value) + 2 > outsz) {
		snprintf(out, outsz, "%s=%s", LONG_KEY, LONG_VALUE);
		return;
	}
	copy_masked(out, outsz, key, ':', MASK_COLON);
	out[klen] = '=';
	copy_masked(out + klen + 1, outsz - klen - 1, value, ';',
	    MASK_SEMICOLON);
}

/* inih's reader: the next line of the text, prepared. */
static char *
ctx_reader(char *out, int size, void *arg)
{
	struct ini_ctx *c = arg;
	char *raw, *nl;
	size_t n;

	if (c->next == NULL)
		return NULL;
	raw = c->next;
	nl = strchr(raw, '\n');
	if (nl != NULL) {
		*nl = '\0';
		c->next = nl + 1;
		if (*c->next == '\0')
			c->next = NULL;
	} else {
		c->next = NULL;
	}
	n = strlen(raw);
	if (n > 0 && raw[n - 1] == '\r')
		raw[n - 1] = '\0';
	c->line++;
	c->key = c->value = NULL;
	line_prepare(c, raw, out, (size_t)size);
	return out;
}

/* Undo the masks of s into c->buf (grown as needed); NULL if out of memory. */
static const char *
unmask(struct ini_ctx *c, const char *s, char from, char to)
{
	size_t n = strlen(s) + 1;

	if (n > c->bufsz) {
		char *nb = realloc(c->buf, n);

		if (nb == NULL)
			return NULL;
		c->buf = nb;
		c->bufsz = n;
	}
	copy_masked(c->buf, c->bufsz, s, from, to);
	return c->buf;
}

static int
ctx_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct ini_ctx *c = arg;
	char key[256];
	const char *v;

	(void)section; /* the caller follows sections through h->section */
	if (c->key == NULL)
		return 1;
	if (strcmp(name, LONG_KEY) == 0 && strcmp(value, LONG_VALUE) == 0) {
		c->h->pair(c->h->arg, c->key, c->value, c->line, c->too_long);
		return 1;
	}
	if (copy_masked(key, sizeof(key), name, MASK_COLON, ':') < 0) {
		c->h->pair(c->h->arg, c->key, c->value, c->line, c->too_long);
		return 1;
	}
	v = unmask(c, value, MASK_SEMICOLON, ';');
	if (v == NULL) {
		inifile_error(c->path, c->line, "out of memory");
		c->problems++;
		return 1;
	}
	c->h->pair(c->h->arg, key, v, c->line, c->too_long);
	return 1;
}

int
inifile_parse(const char *path, char *text, size_t len,
    const struct inifile_syntax *syn, const struct inifile_handler *h)
{
	struct ini_ctx c;

	if (strlen(text) != len) {
		log_error("%s: not a text file (NUL byte)", path);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.path = path;
	c.syn = syn;
	c.h = h;
	c.next = *text != '\0' ? text : NULL;
	/* every error is reported by the reader; inih's count is ignored */
	ini_parse_stream(ctx_reader, &c, ctx_handler, &c);
	free(c.buf);
	return c.problems;
}
