/* clock.c — monotonic and wall clocks, and the real clock for retries. */
#include <errno.h>
#include <time.h>

#include "clock.h"

int64_t
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_wall_s(void)
{
	return (int64_t)time(NULL);
}

int64_t
clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
clock_sleep_ms(int64_t ms, volatile int *stop)
{
	struct timespec ts, rem;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &rem) < 0 && errno == EINTR) {
		if (stop != NULL && *stop)
			return;
		ts = rem;
	}
}

static int64_t
real_now(void *arg)
{
	(void)arg;
	return clock_mono_ms();
}

static void
real_sleep(void *arg, int64_t ms)
{
	(void)arg;
	clock_sleep_ms(ms, NULL);
}

const struct clock clock_real = { real_now, real_sleep, NULL };
