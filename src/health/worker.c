/* worker.c — a thread with a sleep that a stop request cuts short. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "clock.h"
#include "health/worker.h"

/* The CLOCK_MONOTONIC timespec of monotonic millisecond at_ms. */
static void
timespec_at(struct timespec *ts, int64_t at_ms)
{
	int64_t left = at_ms - clock_mono_ms();

	clock_gettime(CLOCK_MONOTONIC, ts);
	if (left < 0)
		left = 0;
	ts->tv_sec += left / 1000;
	ts->tv_nsec += (left % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int
worker_start(struct worker *w, void *(*fn)(void *), void *arg)
{
	pthread_condattr_t ca;

	atomic_init(&w->stop, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, fn, arg) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		return -1;
	}
	return 0;
}

int
worker_sleep_until(struct worker *w, int64_t at_ms)
{
	struct timespec ts;

	pthread_mutex_lock(&w->mu);
	while (!atomic_load(&w->stop) && clock_mono_ms() < at_ms) {
		timespec_at(&ts, at_ms);
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return atomic_load(&w->stop);
}

void
worker_stop(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, 1);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}
