/*
 * ini.c — read greenlight.ini and release.ini line by line (see ini.h).
 *
 * Why not inih: Debian's libinih is built with a 200-byte line limit that
 * cuts longer lines silently, and with continuation lines (an indented line
 * repeats the previous key). A workload's exec line or an environment value
 * easily passes 200 bytes, and a command must never be cut short; each
 * caller sets its own limit and every longer line is reported.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ini.h"
#include "log.h"

void
ini_error(const char *path, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%d: %s", path, line, msg);
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

/* One line (its '\n' gone); returns the problems it logged. */
static int
parse_line(const char *path, char *raw, int line, const struct ini_syntax *syn,
    const struct ini_handler *h)
{
	int too_long = strlen(raw) > syn->line_max, problems = 0;
	char *t, *end, *eq, *value;

	if (too_long) {
		ini_error(path, line, "line longer than %zu bytes%s",
		    syn->line_max, syn->long_hint ? syn->long_hint : "");
		problems++;
	}
	if (line == 1 && strncmp(raw, "\xEF\xBB\xBF", 3) == 0)
		raw += 3; /* UTF-8 byte order mark */
	t = trim(raw);
	if (*t == '\0' || *t == ';' || *t == '#')
		return problems;
	if (*t == '[') {
		if (syn->inline_comments) {
			comment_cut(t);
			t = trim(t);
		}
		end = t + strlen(t) - 1;
		if (*end != ']') {
			ini_error(path, line,
			    "section header without a closing ']'");
			h->section(h->arg, NULL, line);
			return problems + 1;
		}
		*end = '\0';
		h->section(h->arg, trim(t + 1), line);
		return problems;
	}
	eq = strchr(t, '=');
	if (eq == NULL) {
		if (too_long)
			return problems;
		ini_error(path, line, "expected \"key = value\", got \"%.60s\"",
		    t);
		return problems + 1;
	}
	*eq = '\0';
	t = trim(t);
	if (*t == '\0') {
		ini_error(path, line, "no key before '='");
		return problems + 1;
	}
	value = trim(eq + 1);
	if (syn->inline_comments) {
		comment_cut(value);
		value = trim(value);
	}
	h->pair(h->arg, t, value, line, too_long);
	return problems;
}

int
ini_parse(const char *path, char *text, size_t len,
    const struct ini_syntax *syn, const struct ini_handler *h)
{
	char *p, *nl;
	int line = 0, problems = 0;

	if (strlen(text) != len) {
		log_error("%s: not a text file (NUL byte)", path);
		return -1;
	}
	for (p = text; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		problems += parse_line(path, p, ++line, syn, h);
		if (nl == NULL)
			break;
	}
	return problems;
}
