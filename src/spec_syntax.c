/*
 * spec_syntax.c — the syntax of release.ini values: sh-like word splitting
 * (spec_argv_split, exported in spec.h), paths, names, URLs, host:port.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "path.h"
#include "spec.h"
#include "spec_syntax.h"

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

int
spec_list_push(char ***list, size_t *n, const char *s)
{
	char **grown, *dup;

	dup = strdup(s);
	if (dup == NULL)
		return -1;
	grown = realloc(*list, (*n + 2) * sizeof(*grown));
	if (grown == NULL) {
		free(dup);
		return -1;
	}
	grown[(*n)++] = dup;
	grown[*n] = NULL;
	*list = grown;
	return 0;
}

int
spec_argv_split(const char *line, char ***argvp, const char **why)
{
	char **argv = NULL, *buf = NULL;
	const char *p = line;
	size_t argc = 0, w;
	int rc = -1;

	*argvp = NULL;
	*why = "out of memory";
	buf = malloc(strlen(line) + 1);
	argv = calloc(1, sizeof(*argv));
	if (buf == NULL || argv == NULL)
		goto out;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p == '#') {
			*why = "an unquoted '#' starts a comment in sh; quote "
			       "it";
			goto out;
		}
		w = 0;
		while (*p != '\0' && !is_blank(*p)) {
			if (iscntrl((unsigned char)*p)) {
				*why = "control character in the command";
				goto out;
			} else if (*p == '\'') {
				for (p++; *p != '\0' && *p != '\''; p++)
					buf[w++] = *p;
				if (*p == '\0') {
					*why = "unterminated single quote";
					goto out;
				}
				p++;
			} else if (*p == '"') {
				for (p++; *p != '\0' && *p != '"'; p++) {
					if (*p == '\\' && p[1] != '\0' &&
					    strchr("\"\\$`", p[1]) != NULL) {
						buf[w++] = *++p;
						continue;
					}
					if (*p == '$' || *p == '`') {
						*why = "$ or ` inside \"...\" "
						       "would be expanded by "
						       "sh; use '...' or a "
						       "backslash, or set "
						       "shell = true";
						goto out;
					}
					buf[w++] = *p;
				}
				if (*p == '\0') {
					*why = "unterminated double quote";
					goto out;
				}
				p++;
			} else if (*p == '\\') {
				if (p[1] == '\0') {
					*why = "backslash at the end of the "
					       "line";
					goto out;
				}
				buf[w++] = p[1];
				p += 2;
			} else if (strchr("|&;<>()`$", *p) != NULL) {
				*why = "unquoted shell syntax (one of | & ; "
				       "< > ( ) ` $): quote it, or set shell "
				       "= true to run the line through /bin/sh";
				goto out;
			} else {
				buf[w++] = *p++;
			}
		}
		buf[w] = '\0';
		if (spec_list_push(&argv, &argc, buf) < 0) {
			*why = "out of memory";
			goto out;
		}
	}
	*argvp = argv;
	argv = NULL;
	*why = NULL;
	rc = (int)argc;
out:
	spec_argv_free(argv);
	free(buf);
	return rc;
}

void
spec_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **a = argv; *a != NULL; a++)
		free(*a);
	free(argv);
}

/*
 * Normalise path into out: "." and empty segments dropped, a trailing '/'
 * removed. absolute: must start with '/'; else must not, and "" is the
 * root. ".." is refused either way. 0, or -1 with *why.
 */
int
spec_path_norm(const char *in, int absolute, char *out, size_t outsz,
    const char **why)
{
	if (strlen(in) >= SPEC_PATH_MAX || strlen(in) >= outsz) {
		*why = "path too long";
		return -1;
	}
	if ((*in == '/') != absolute) {
		*why = absolute ? "must be an absolute path" :
				  "must be a path inside the release, not an "
				  "absolute one";
		return -1;
	}
	for (const char *p = in; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p)) {
			*why = "control character in the path";
			return -1;
		}
	}
	if (path_norm(in, out, outsz) < 0) {
		*why = "\"..\" is not allowed in the path";
		return -1;
	}
	return 0;
}

/* Unit name stem: 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
int
spec_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return 0;
	return 1;
}

/* User or group: a name of 1-32 [A-Za-z0-9_.-] not starting with '-' or
 * '.', or a number below 2^31 - 1. */
int
spec_id_valid(const char *s)
{
	long l;

	if (isdigit((unsigned char)s[0]))
		return parse_long(s, 0, 2147483646, &l) == 0;
	return strlen(s) <= 32 && spec_name_valid(s);
}

int
spec_id_is_root(const char *s)
{
	long l;

	return s != NULL && (strcmp(s, "root") == 0 ||
	    (parse_long(s, 0, 2147483646, &l) == 0 && l == 0));
}

int
spec_url_valid(const char *s)
{
	const char *host;

	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return 0;
	if (*host == '\0' || *host == '/' || *host == ':')
		return 0;
	for (; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s) || *s == ' ')
			return 0;
	return 1;
}

/* host:port or [v6]:port, port 1-65535. */
int
spec_hostport_valid(const char *s)
{
	const char *colon;
	long port;

	if (*s == '[') {
		colon = strchr(s, ']');
		if (colon == NULL || colon == s + 1 || colon[1] != ':')
			return 0;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s || memchr(s, ':',
		    (size_t)(colon - s)) != NULL)
			return 0;
	}
	for (const char *p = s; p < colon; p++)
		if (iscntrl((unsigned char)*p) || *p == ' ' || *p == '/')
			return 0;
	return parse_long(colon + 1, 1, 65535, &port) == 0;
}

int
spec_env_name_valid(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s != '\0'; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}
