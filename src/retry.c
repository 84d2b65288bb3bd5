/* retry.c — backoff with full jitter, deadlines and status classification. */
#include <string.h>
#include <unistd.h>

#include "retry.h"

const char *const retry_class_names[RETRY__MAX] = { "final", "retry",
	"refresh-credentials" };

enum retry_class
retry_classify(enum retry_target target, long status, enum http_err err,
    const char *error_code)
{
	if (err != HTTP_E_NONE) {
		switch (err) {
		case HTTP_E_DNS:
		case HTTP_E_CONNECT:
		case HTTP_E_TIMEOUT:
		case HTTP_E_RECV:
			return RETRY_YES;
		default:
			/* TLS verification, oversize, protocol: retrying won't help */
			return RETRY_NO;
		}
	}
	if (status >= 200 && status < 400)
		return RETRY_NO;
	switch (status) {
	case 408:
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
		return RETRY_YES;
	case 401:
		return target == RETRY_TARGET_STORAGE ? RETRY_AUTH : RETRY_NO;
	case 403:
		if (target == RETRY_TARGET_STORAGE && error_code != NULL &&
		    strcmp(error_code, "AuthenticationFailed") == 0)
			return RETRY_AUTH;
		return RETRY_NO;
	case 404:
	case 410:
		/* IMDS answers these while it is updating or booting */
		return target == RETRY_TARGET_IMDS ? RETRY_YES : RETRY_NO;
	default:
		if (target == RETRY_TARGET_IMDS && status >= 500)
			return RETRY_YES;
		return RETRY_NO;
	}
}

int64_t
retry_elapsed_ms(const struct retry_state *rs)
{
	return rs->clock->now_ms(rs->clock->arg) - rs->start_ms;
}

void
retry_begin(struct retry_state *rs, const struct retry_policy *p,
    const struct clock *clock)
{
	memset(rs, 0, sizeof(*rs));
	rs->policy = *p;
	if (rs->policy.base_ms <= 0)
		rs->policy.base_ms = 500;
	if (rs->policy.cap_ms <= 0)
		rs->policy.cap_ms = 30000;
	rs->clock = clock != NULL ? clock : &clock_real;
	rs->start_ms = rs->clock->now_ms(rs->clock->arg);
	rs->rng = (uint64_t)rs->start_ms * 0x9E3779B97F4A7C15ull ^
	    ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)rs;
	if (rs->rng == 0)
		rs->rng = 0x2545F4914F6CDD1Dull;
}

static uint64_t
rng_next(struct retry_state *rs)
{
	uint64_t x = rs->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rs->rng = x;
	return x;
}

int64_t
retry_next_delay(struct retry_state *rs, int64_t retry_after_ms)
{
	int64_t ceiling, delay, left;
	int shift;

	rs->attempts++;
	if (rs->policy.max_attempts > 0 &&
	    rs->attempts >= rs->policy.max_attempts)
		return -1;
	shift = rs->attempts - 1 > 20 ? 20 : rs->attempts - 1;
	/* base * 2^shift, capped before it can overflow */
	if (rs->policy.base_ms > rs->policy.cap_ms >> shift)
		ceiling = rs->policy.cap_ms;
	else
		ceiling = rs->policy.base_ms << shift;
	/* full jitter: uniform in [0, ceiling] */
	delay = (int64_t)(rng_next(rs) % ((uint64_t)ceiling + 1));
	if (retry_after_ms >= 0 && delay < retry_after_ms)
		delay = retry_after_ms;
	if (rs->policy.deadline_ms > 0) {
		left = rs->policy.deadline_ms - retry_elapsed_ms(rs);
		if (left <= 0)
			return -1;
		/* the server asks us to come back after the deadline */
		if (retry_after_ms >= left)
			return -1;
		/* a jittered wait that would pass the deadline ends at it
		 * instead: one last attempt, not giving up with time left */
		if (delay > left)
			delay = left;
	}
	return delay;
}

int
retry_backoff(struct retry_state *rs, int64_t retry_after_ms)
{
	int64_t d = retry_next_delay(rs, retry_after_ms);

	if (d < 0)
		return -1;
	rs->clock->sleep_ms(rs->clock->arg, d);
	rs->slept_ms += d;
	return 0;
}
