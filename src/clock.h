/* clock.h — time sources, injectable so tests never really sleep. */
#ifndef GREENLIGHT_CLOCK_H
#define GREENLIGHT_CLOCK_H

#include <stdint.h>

struct clock {
	int64_t (*now_ms)(void *arg);	      /* monotonic milliseconds */
	void (*sleep_ms)(void *arg, int64_t ms); /* sleep that long */
	void *arg;
};

/* The real monotonic clock and nanosleep. */
extern const struct clock clock_real;

/* Monotonic milliseconds since an arbitrary point. */
int64_t clock_mono_ms(void);
/* Wall clock, Unix seconds. */
int64_t clock_wall_s(void);
/* Wall clock, Unix milliseconds. */
int64_t clock_wall_ms(void);
/* Sleep ms milliseconds (restarts on EINTR unless *stop becomes non-zero). */
void clock_sleep_ms(int64_t ms, volatile int *stop);

#endif
