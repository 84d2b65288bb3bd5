/*
 * inifile.h — the ini dialect of greenlight.ini and release.ini, read with
 * inih (the only file that includes <ini.h>): [section]
 * headers, key = value split at the first '=', whole-line ';' and '#'
 * comments; blanks around everything and a UTF-8 byte order mark are
 * ignored, and a value runs to the end of its line. Syntax errors are
 * reported as FILE:LINE, all of them; what sections and keys mean is the
 * caller's, handed over one line at a time.
 */
#ifndef GREENLIGHT_INIFILE_H
#define GREENLIGHT_INIFILE_H

#include <stdarg.h>
#include <stddef.h>

struct inifile_syntax {
	size_t line_max;       /* a longer line is reported */
	const char *long_hint; /* appended to that report, or NULL */
	int inline_comments;   /* " ;" ends a header or a value (as inih) */
};

struct inifile_handler {
	/* A section header; name NULL when it is broken (reported). */
	void (*section)(void *arg, const char *name, int line);
	/* A pair; too_long: the line was reported as too long. */
	void (*pair)(void *arg, const char *key, const char *value, int line,
	    int too_long);
	void *arg;
};

/*
 * Parse text (len bytes and a NUL; changed in place) as read from path.
 * Returns the count of syntax problems, each logged, or -1 (logged) when
 * text holds a NUL byte and so is no text file.
 */
int inifile_parse(const char *path, char *text, size_t len,
    const struct inifile_syntax *syn, const struct inifile_handler *h);
/* Log "path:line: message" as an error. */
void inifile_error(const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a va_list, for callers with their own printf wrapper. */
void inifile_verror(const char *path, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
