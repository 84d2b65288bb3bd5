/*
 * drain.h — the drain state machine: serving -> draining -> approved.
 * Pure logic: no threads, no I/O, time passed in (monotonic ms), so tests
 * drive it with an injected clock. The caller feeds Scheduled Events
 * documents, manual drain/undrain, service stop and the connection count,
 * and performs the approvals drain_due() hands out.
 */
#ifndef GREENLIGHT_HEALTH_DRAIN_H
#define GREENLIGHT_HEALTH_DRAIN_H

#include <stdint.h>

#include "health/events.h"

enum drain_state {
	DRAIN_SERVING,	/* probe passes (if the workload does) */
	DRAIN_DRAINING, /* probe fails; waiting for drain_min + 0 conns */
	DRAIN_APPROVED, /* all of this VM's events approved */
	DRAIN__MAX
};
extern const char *const drain_state_names[DRAIN__MAX];

enum drain_reason {
	DRAIN_R_NONE,
	DRAIN_R_EVENT,	/* a Scheduled Event for this VM */
	DRAIN_R_MANUAL, /* greenlight drain / POST /drain */
	DRAIN_R_STOP,	/* SIGTERM: the service is stopping */
	DRAIN_R__MAX
};
extern const char *const drain_reason_names[DRAIN_R__MAX];

/* Where one of this VM's events stands. */
enum drain_approval {
	APPROVAL_WAITING,  /* drain not done yet */
	APPROVAL_DUE,	   /* to be sent (again) */
	APPROVAL_SENT,	   /* IMDS answered 200 */
	APPROVAL_REFUSED,  /* IMDS answered 4xx: not retried */
	APPROVAL_DISABLED, /* approve = false */
	APPROVAL__MAX
};
extern const char *const drain_approval_names[APPROVAL__MAX];

/* Result of one approval attempt, for drain_approval_result(). */
enum drain_result {
	DRAIN_RESULT_OK,
	DRAIN_RESULT_RETRY,   /* transport failure, 5xx, 429: try again */
	DRAIN_RESULT_REFUSED, /* other 4xx: give up on this id */
	DRAIN_RESULT__MAX
};

struct drain_config {
	int64_t min_ms;		/* effective drain_min */
	int64_t max_ms;		/* drain_max */
	int64_t preempt_max_ms; /* cap while a Preempt event is ours */
	unsigned events;	/* bitmask of 1 << enum event_type */
	int approve;		/* 0: never approve */
	int64_t retry_ms;	/* between approval attempts of one id */
};

struct drain_event {
	struct sched_event ev;
	enum drain_approval approval;
	int64_t seen_ms;
	int64_t approved_ms; /* when IMDS accepted, -1 before */
	int64_t tried_ms;    /* last attempt, -1 before */
	int tries;
	int gone;	     /* a started Terminate/Preempt left the list */
};

struct drain {
	struct drain_config cfg;
	enum drain_state state;
	enum drain_reason reason;
	int manual;		/* drained by hand */
	int stopping;		/* SIGTERM received */
	int64_t since_ms;	/* probe failing since; -1 while serving */
	int done;		/* drain conditions met (latched) */
	int64_t done_ms;	/* when they were met, -1 before */
	int done_by_max;	/* ... by drain_max rather than 0 conns */
	long done_conns;	/* connections open when done */
	int nev;
	struct drain_event ev[EVENTS_OURS_MAX];
	int nignored;		/* this VM's events of types not acted on */
	char ignored[EVENTS_OURS_MAX][EVENT_ID_MAX];
	unsigned gen;		/* bumped on every visible change */
};

/* drain_tick() results, as bits. */
#define DRAIN_TICK_APPROVE 0x1 /* drain_due() has ids to send now */
#define DRAIN_TICK_EXIT 0x2    /* stopping and the drain is complete */

/* Start serving with this configuration. */
void drain_init(struct drain *d, const struct drain_config *cfg);
/* A fresh Scheduled Events document (only this VM's events in doc). */
void drain_on_events(struct drain *d, const struct sched_doc *doc,
    int64_t now);
/* Manual drain on (1) or off (0). Returns 1 if that changed anything. */
int drain_set_manual(struct drain *d, int on, int64_t now);
/* The service is stopping: drain, then drain_tick() says EXIT. */
void drain_set_stop(struct drain *d, int64_t now);
/*
 * Advance time with the current count of established connections to the
 * workload ports (-1 = unknown: only drain_max ends the drain). Returns
 * DRAIN_TICK_* bits.
 */
unsigned drain_tick(struct drain *d, int64_t now, long conns);
/*
 * Ids to approve now (at most max, into ids); marks them tried. The
 * pointers stay valid until the next call that changes d.
 */
int drain_due(struct drain *d, int64_t now, const char **ids, int max);
/* Record the outcome of approving id. */
void drain_approval_result(struct drain *d, const char *id,
    enum drain_result r, int64_t now);
/* The drain_max that applies now (shorter while a Preempt is ours). */
int64_t drain_max_now(const struct drain *d);
/* drain_min that applies now (never above drain_max_now). */
int64_t drain_min_now(const struct drain *d);

#endif
