/*
 * testutil.h — helpers shared by the unit tests: capture what a module logs
 * to stderr, and make a private temporary directory. Header-only so each
 * test stays one executable built from one .c file.
 */
#ifndef GREENLIGHT_TESTUTIL_H
#define GREENLIGHT_TESTUTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Everything a capture saw; at most this much is kept. */
#define CAPTURE_MAX (64 * 1024)

struct capture {
	int saved_fd; /* the real stderr while capturing */
	FILE *tmp;    /* where fd 2 points meanwhile */
	char text[CAPTURE_MAX];
	size_t len;
};

/* Point fd 2 at a temporary file until capture_end(). */
static inline void
capture_begin(struct capture *c)
{
	fflush(stderr);
	memset(c, 0, sizeof(*c));
	c->tmp = tmpfile();
	if (c->tmp == NULL) {
		perror("tmpfile");
		abort();
	}
	c->saved_fd = dup(STDERR_FILENO);
	if (c->saved_fd < 0 || dup2(fileno(c->tmp), STDERR_FILENO) < 0) {
		perror("dup");
		abort();
	}
}

/* Restore stderr; c->text holds what was written, NUL-terminated. */
static inline const char *
capture_end(struct capture *c)
{
	size_t n;

	fflush(stderr);
	dup2(c->saved_fd, STDERR_FILENO);
	close(c->saved_fd);
	rewind(c->tmp);
	n = fread(c->text, 1, sizeof(c->text) - 1, c->tmp);
	c->text[n] = '\0';
	c->len = n;
	fclose(c->tmp);
	return c->text;
}

/* Number of lines in text that contain needle. */
static inline int
count_lines_with(const char *text, const char *needle)
{
	int n = 0;

	while (*text) {
		const char *eol = strchr(text, '\n');
		size_t len = eol ? (size_t)(eol - text) : strlen(text);
		char line[4096];

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, text, len);
		line[len] = '\0';
		if (strstr(line, needle) != NULL)
			n++;
		if (eol == NULL)
			break;
		text = eol + 1;
	}
	return n;
}

/* A fresh directory under $TMPDIR (or /tmp); path written to out. */
static inline void
tmpdir_make(char *out, size_t outsz)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (snprintf(out, outsz, "%s/gl-unit-XXXXXX", base) >= (int)outsz ||
	    mkdtemp(out) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

/* Write text to dir/name; returns the path in out. */
static inline void
file_put(const char *dir, const char *name, const char *text, char *out,
    size_t outsz)
{
	FILE *f;

	if (snprintf(out, outsz, "%s/%s", dir, name) >= (int)outsz)
		abort();
	f = fopen(out, "w");
	if (f == NULL) {
		perror(out);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

#endif
