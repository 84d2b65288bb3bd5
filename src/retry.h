/*
 * retry.h — one retry policy for every caller: exponential backoff with
 * full jitter, an overall deadline, Retry-After honoured, and a table that
 * classifies HTTP statuses and transport errors.
 */
#ifndef GREENLIGHT_RETRY_H
#define GREENLIGHT_RETRY_H

#include <stdint.h>

#include "clock.h"
#include "http.h"

enum retry_class {
	RETRY_NO,	/* final: success or a fatal error */
	RETRY_YES,	/* transient: back off and try again */
	RETRY_AUTH,	/* credentials rejected: refresh once, then final */
	RETRY__MAX
};
extern const char *const retry_class_names[RETRY__MAX];

/* Which endpoint a response came from; IMDS has its own rules. */
enum retry_target {
	RETRY_TARGET_STORAGE,
	RETRY_TARGET_IMDS,
	RETRY__TARGET_MAX
};

/* Classify a finished request: status (0 = none) and transport error. */
enum retry_class retry_classify(enum retry_target target, long status,
    enum http_err err, const char *error_code);

struct retry_policy {
	int64_t base_ms;     /* first backoff ceiling (default 500 ms) */
	int64_t cap_ms;	     /* largest single backoff (default 30 s) */
	int64_t deadline_ms; /* give up when this much time has passed */
	int max_attempts;    /* 0 = only the deadline limits */
};

struct retry_state {
	struct retry_policy policy;
	const struct clock *clock;
	int64_t start_ms;
	int attempts;	/* attempts made so far */
	uint64_t rng;	/* xorshift state for jitter */
	int64_t slept_ms; /* total backoff */
};

/* Start a retry sequence now (clock NULL = the real clock). */
void retry_begin(struct retry_state *rs, const struct retry_policy *p,
    const struct clock *clock);
/*
 * After a failed attempt: the delay before the next one, in ms (at least
 * retry_after_ms when that is >= 0), or -1 when the deadline has passed, a
 * Retry-After reaches past it, or the attempt limit is reached. A backoff
 * that would end past the deadline is cut to end at it, so the last attempt
 * starts at the deadline.
 */
int64_t retry_next_delay(struct retry_state *rs, int64_t retry_after_ms);
/* retry_next_delay, then sleep that long; 0 to go on, -1 to give up. */
int retry_backoff(struct retry_state *rs, int64_t retry_after_ms);
/* Milliseconds since retry_begin. */
int64_t retry_elapsed_ms(const struct retry_state *rs);

#endif
