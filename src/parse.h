/* parse.h — strict parsing of the value types config files use. */
#ifndef GREENLIGHT_PARSE_H
#define GREENLIGHT_PARSE_H

#include <stdint.h>

/*
 * Each returns 0 and stores the value, or -1 and leaves *out alone; the
 * caller reports. No leading/trailing garbage, no overflow, no negatives.
 */
/* Decimal integer in [min, max]. */
int parse_long(const char *s, long min, long max, long *out);
/* Duration: "500ms", "30s", "5m", "2h", "1d"; a bare number is seconds. -> ms */
int parse_duration_ms(const char *s, int64_t *out);
/* Size: "4096", "512K", "8M", "1G" (powers of 1024, optional "B"/"iB"). */
int parse_size(const char *s, uint64_t *out);
/* Boolean: true/false, yes/no, on/off, 1/0. */
int parse_bool(const char *s, int *out);
/* Format ms as the shortest exact duration ("90s", "5m", "250ms"). */
void parse_format_duration(int64_t ms, char *out, size_t outsz);
/* Format a size as the shortest exact unit ("8M", "1536K", "100"). */
void parse_format_size(uint64_t v, char *out, size_t outsz);

#endif
