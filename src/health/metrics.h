/*
 * metrics.h — the health daemon's counters (lock-free, bumped from any
 * thread) and their rendering in the Prometheus text format (0.0.4).
 */
#ifndef GREENLIGHT_HEALTH_METRICS_H
#define GREENLIGHT_HEALTH_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* What one /health answer said. */
enum probe_result {
	PROBE_OK,	     /* 200 */
	PROBE_DRAINING,	     /* 503: draining or approved */
	PROBE_WORKLOAD_DOWN, /* 503: the workload check fails */
	PROBE_STARTING,	     /* 503: no workload check result yet */
	PROBE__MAX
};
extern const char *const probe_result_names[PROBE__MAX];

struct metrics {
	atomic_uint_fast64_t probes[PROBE__MAX]; /* /health answers */
	atomic_uint_fast64_t live[2];		 /* /live: [0] unhealthy */
	atomic_uint_fast64_t checks[2];		 /* workload: [0] failed */
	atomic_uint_fast64_t imds_polls;	 /* Scheduled Events GETs */
	atomic_uint_fast64_t imds_errors;	 /* ... that failed */
	atomic_uint_fast64_t imds_outages;	 /* runs of failures */
	atomic_uint_fast64_t approvals;		 /* event ids approved */
	atomic_uint_fast64_t approval_errors;	 /* failed attempts */
	atomic_uint_fast64_t admin_refused;	 /* /drain from non-loopback */
	atomic_uint_fast64_t drains;		 /* serving -> draining */
};

/* Values read at render time rather than counted. */
struct metrics_gauges {
	int state;		/* enum drain_state */
	int workload_up;	/* 1 up (or no check), 0 down/unknown */
	long connections;	/* -1 unknown */
	double draining_seconds; /* 0 while serving */
	int imds_reachable;	/* last poll succeeded */
	int64_t incarnation;	/* last DocumentIncarnation, -1 none */
};

/* Bump a counter by one. */
#define METRIC_INC(m) atomic_fetch_add_explicit(&(m), 1, memory_order_relaxed)

/*
 * Render every metric into buf (size sz). Returns the length, or -1 when it
 * does not fit.
 */
int metrics_render(const struct metrics *m, const struct metrics_gauges *g,
    char *buf, size_t sz);

#endif
