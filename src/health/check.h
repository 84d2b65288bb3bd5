/*
 * check.h — the workload check: an HTTP GET expecting a status, or a TCP
 * connect, on its own thread every interval with a timeout; the state flips
 * only after threshold consecutive results the other way.
 */
#ifndef GREENLIGHT_HEALTH_CHECK_H
#define GREENLIGHT_HEALTH_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

enum check_state {
	CHECK_NONE,    /* no check configured: the workload counts as up */
	CHECK_UNKNOWN, /* no result yet */
	CHECK_UP,
	CHECK_DOWN,
	CHECK__MAX
};
extern const char *const check_state_names[CHECK__MAX];

struct check_spec {
	const char *url;	/* http(s) URL, or NULL */
	long status;		/* expected status of url */
	const char *tcp;	/* or HOST:PORT to connect to, or NULL */
	int64_t interval_ms;
	int64_t timeout_ms;
	long threshold;		/* consecutive results before a flip */
};

/* The flip logic, separate so tests can drive it. */
struct check_flip {
	enum check_state state; /* CHECK_UNKNOWN at first */
	long threshold;
	long streak;		/* results against the state in a row */
};

/* Start unknown; the first result sets the state directly. */
void check_flip_init(struct check_flip *f, long threshold);
/* Feed one result (1 passed, 0 failed); returns 1 when the state flips. */
int check_flip_feed(struct check_flip *f, int ok);

/* Run one check; 1 passed, 0 failed with the reason in detail. */
int check_once(struct http_client *http, const struct check_spec *spec,
    char *detail, size_t detailsz);

/* Called from the checker thread after every check. */
typedef void (*check_report_fn)(void *arg, enum check_state state,
    int flipped, int ok, const char *detail);

struct checker;
/*
 * Start the checker thread (spec strings must outlive it; http is used by
 * that thread only). NULL on failure (logged).
 */
struct checker *checker_start(const struct check_spec *spec,
    struct http_client *http, check_report_fn report, void *arg);
/* Stop and join the thread; NULL is fine. */
void checker_stop(struct checker *c);

#endif
