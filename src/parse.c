/* parse.c — strict parsing of numbers, durations, sizes and booleans. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "parse.h"

int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Leading unsigned decimal of s; *end set after it. -1 when none/overflow. */
static int
parse_leading_u64(const char *s, uint64_t *v, const char **end)
{
	char *e;
	unsigned long long n;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &e, 10);
	if (errno != 0)
		return -1;
	*v = n;
	*end = e;
	return 0;
}

static const struct {
	const char *suffix;
	int64_t ms;
} duration_units[] = {
	{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
	{ "h", 3600000 }, { "d", 86400000 },
};

int
parse_duration_ms(const char *s, int64_t *out)
{
	uint64_t v;
	const char *end;

	if (s == NULL || parse_leading_u64(s, &v, &end) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++) {
		if (strcmp(end, duration_units[i].suffix) != 0)
			continue;
		if (v > (uint64_t)INT64_MAX / (uint64_t)duration_units[i].ms)
			return -1;
		*out = (int64_t)v * duration_units[i].ms;
		return 0;
	}
	return -1;
}

static const struct {
	const char *suffix;
	unsigned shift;
} size_units[] = {
	{ "", 0 }, { "B", 0 }, { "K", 10 }, { "KB", 10 }, { "KiB", 10 },
	{ "M", 20 }, { "MB", 20 }, { "MiB", 20 }, { "G", 30 }, { "GB", 30 },
	{ "GiB", 30 }, { "T", 40 }, { "TB", 40 }, { "TiB", 40 },
};

int
parse_size(const char *s, uint64_t *out)
{
	uint64_t v;
	const char *end;

	if (s == NULL || parse_leading_u64(s, &v, &end) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(size_units); i++) {
		if (strcasecmp(end, size_units[i].suffix) != 0)
			continue;
		if (size_units[i].shift > 0 &&
		    v > (UINT64_MAX >> size_units[i].shift))
			return -1;
		*out = v << size_units[i].shift;
		return 0;
	}
	return -1;
}

int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

void
parse_format_duration(int64_t ms, char *out, size_t outsz)
{
	static const struct {
		const char *suffix;
		int64_t ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 } };

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(out, outsz, "%" PRId64 "%s", ms / units[i].ms,
			    units[i].suffix);
			return;
		}
	}
	snprintf(out, outsz, ms == 0 ? "0s" : "%" PRId64 "ms", ms);
}

void
parse_format_size(uint64_t v, char *out, size_t outsz)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = { { "T", 40 }, { "G", 30 }, { "M", 20 }, { "K", 10 } };

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		uint64_t m = (uint64_t)1 << units[i].shift;

		if (v != 0 && v % m == 0) {
			snprintf(out, outsz, "%" PRIu64 "%s", v / m,
			    units[i].suffix);
			return;
		}
	}
	snprintf(out, outsz, "%" PRIu64, v);
}
