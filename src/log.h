/* log.h — leveled logging to stderr, journald priorities, secret redaction. */
#ifndef GREENLIGHT_LOG_H
#define GREENLIGHT_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG, /* -v */
	LOG_LEVEL_TRACE, /* -vv */
	LOG_LEVEL__MAX
};

/* Set the most verbose level printed (default INFO). */
void log_set_level(enum log_level level);
/* The current level. */
enum log_level log_get_level(void);
/* Prefix lines with <N> journald priorities: 1 yes, 0 no, -1 when stderr is no TTY. */
void log_set_journal(int mode);
/* Prefix every message with this program tag ("greenlight"), NULL for none. */
void log_set_tag(const char *tag);
/*
 * While on, errors, warnings and info are logged as debug: for a
 * best-effort attempt whose failure the next step reports properly.
 * Returns the previous setting (to restore it).
 */
int log_quiet(int on);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copy text into out (size outsz) with secrets removed: the query string of
 * every URL becomes "?…", and values of Authorization headers, sig= and
 * access_token fields, and anything that looks like a JWT become "[redacted]".
 * Always NUL-terminates; returns out.
 */
char *log_redact(const char *text, char *out, size_t outsz);

#endif
