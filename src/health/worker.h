/*
 * worker.h — a background thread that sleeps between rounds and stops
 * promptly when asked: the workload checker and the Scheduled Events poller
 * each run on one.
 */
#ifndef GREENLIGHT_HEALTH_WORKER_H
#define GREENLIGHT_HEALTH_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* waits on CLOCK_MONOTONIC */
	atomic_int stop;   /* set by worker_stop; usable as a cancel flag */
};

/* Start fn(arg) on a new thread. 0, or -1 with nothing left to undo. */
int worker_start(struct worker *w, void *(*fn)(void *), void *arg);
/* On the thread: sleep until monotonic at_ms; 1 when asked to stop. */
int worker_sleep_until(struct worker *w, int64_t at_ms);
/* Ask the thread to stop, wake it and join it. */
void worker_stop(struct worker *w);

#endif
