/* log.c — leveled logging to stderr with journald priorities and redaction. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

static enum log_level log_level = LOG_LEVEL_INFO;
static int log_journal = -1;
static const char *log_tag;
static int log_quiet_on;

/* sd-daemon(3) priorities: err, warning, info, debug, debug. */
static const int log_priority[LOG_LEVEL__MAX] = { 3, 4, 6, 7, 7 };
static const char *const log_word[LOG_LEVEL__MAX] = {
	"error", "warning", "info", "debug", "trace"
};

static const char *const exit_names[EXIT__MAX] = {
	"ok", "failure", "usage", "config", "auth", "notfound",
	"integrity", "rolled-back", "temporary", "local"
};

const char *
exit_code_name(int code)
{
	if (code < 0 || code >= EXIT__MAX)
		return "unknown";
	return exit_names[code];
}

void
log_set_level(enum log_level level)
{
	if (level >= LOG_LEVEL__MAX)
		level = LOG_LEVEL_TRACE;
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

void
log_set_journal(int mode)
{
	log_journal = mode;
}

void
log_set_tag(const char *tag)
{
	log_tag = tag;
}

int
log_quiet(int on)
{
	int was = log_quiet_on;

	log_quiet_on = on;
	return was;
}

static int
is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int
is_url_end(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '"' ||
	    c == '\'' || c == '>' || c == ')' || c == ',';
}

/* Length of a JWT-looking token at p ("eyJ" + b64url with 2 dots), or 0. */
static size_t
jwt_len(const char *p)
{
	size_t n = 0;
	int dots = 0;

	if (strncmp(p, "eyJ", 3) != 0)
		return 0;
	while (is_b64url(p[n]) || p[n] == '.') {
		if (p[n] == '.')
			dots++;
		n++;
	}
	return dots >= 1 && n >= 16 ? n : 0;
}

static const char *const secret_keys[] = {
	"Bearer ", "sig=", "\"access_token\":\"", "\"access_token\": \"",
	"SharedKey ", "sas_token=",
};

char *
log_redact(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	const char *p = in;
	const char *mark = "[redacted]";

	if (outsz == 0)
		return out;
#define PUT(c)                                                                 \
	do {                                                                   \
		char c_ = (c); /* always consumed, also when out is full */    \
		if (o + 1 < outsz)                                             \
			out[o++] = c_;                                         \
	} while (0)
#define PUTS(s)                                                                \
	do {                                                                   \
		for (const char *s_ = (s); *s_; s_++)                          \
			PUT(*s_);                                              \
	} while (0)
	while (*p && o + 1 < outsz) {
		size_t n;
		int hit = 0;

		if (strncmp(p, "http://", 7) == 0 ||
		    strncmp(p, "https://", 8) == 0) {
			/* copy up to '?', then drop the query */
			while (!is_url_end(*p) && *p != '?')
				PUT(*p++);
			if (*p == '?') {
				PUTS("?...");
				/* a ':' or '.' ending the URL is the text's */
				while (!is_url_end(*p) && !((*p == ':' ||
				    *p == '.') && is_url_end(p[1])))
					p++;
			}
			continue;
		}
		for (size_t i = 0; i < ARRAY_SIZE(secret_keys); i++) {
			size_t kl = strlen(secret_keys[i]);

			/* "Authorization: bearer x" is as secret */
			if (strncasecmp(p, secret_keys[i], kl) != 0)
				continue;
			while (kl-- > 0)
				PUT(*p++);
			while (*p && !is_url_end(*p) && *p != '&')
				p++;
			PUTS(mark);
			hit = 1;
			break;
		}
		if (hit)
			continue;
		n = jwt_len(p);
		if (n > 0) {
			PUTS(mark);
			p += n;
			continue;
		}
		PUT(*p++);
	}
#undef PUT
#undef PUTS
	out[o] = '\0';
	return out;
}

static void
log_emit(enum log_level level, const char *fmt, va_list ap)
{
	char msg[4096], clean[4096];
	int journal;

	if (log_quiet_on && level < LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_redact(msg, clean, sizeof(clean));
	journal = log_journal;
	if (journal < 0)
		journal = !isatty(STDERR_FILENO);
	if (journal)
		fprintf(stderr, "<%d>", log_priority[level]);
	if (log_tag != NULL)
		fprintf(stderr, "%s: ", log_tag);
	if (level != LOG_LEVEL_INFO)
		fprintf(stderr, "%s: ", log_word[level]);
	fprintf(stderr, "%s\n", clean);
}

#define LOG_FN(fn, level)                                                      \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_emit(level, fmt, ap);                                      \
		va_end(ap);                                                    \
	}

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FN(log_trace, LOG_LEVEL_TRACE)
