/*
 * health.h — the health daemon's shared state and its driver. One mutex
 * guards the drain machine and what the poller and the checker learned;
 * probe handlers only copy a view of it (and most of the time not even
 * that: the server rebuilds its replies when the generation changes).
 */
#ifndef GREENLIGHT_HEALTH_HEALTH_H
#define GREENLIGHT_HEALTH_HEALTH_H

#include <stdint.h>

#include "config.h"
#include "health/check.h"
#include "health/conns.h"
#include "health/drain.h"
#include "health/events.h"
#include "health/metrics.h"

/* A consistent copy of the state, for replies. */
struct health_view {
	struct drain drain;
	enum check_state workload;
	char check_target[256]; /* what the check probes, "" if none */
	char check_detail[256]; /* last result in words */
	char vm_name[VM_NAME_MAX]; /* "" until read from IMDS */
	int imds_ok;		/* last poll succeeded */
	int64_t imds_polls_ok;	/* polls that succeeded */
	int64_t imds_last_ok_ms; /* monotonic, -1 never */
	int64_t incarnation;	/* last DocumentIncarnation, -1 none */
	int doc_events;		/* events in the last document */
	long conns;		/* last count, -1 unknown */
	enum conns_source conns_src;
	char ports[128];	/* workload ports as configured/derived */
	int64_t started_ms;	/* when the daemon started */
	int64_t now_ms;		/* when the view was taken */
	unsigned gen;
};

struct health;

/* Build the daemon's state from the configuration; NULL (logged) if bad. */
struct health *health_new(const struct config *cfg);
/* Free it (after health_run returned); NULL is fine. */
void health_free(struct health *h);
/*
 * Run the daemon: server, poller and checker threads, and the drain driver
 * on this thread until SIGTERM/SIGINT and the drain that follows. Returns
 * an enum exit_code.
 */
int health_run(struct health *h);

/* For the server: a number that changes whenever a reply would. */
unsigned health_generation(struct health *h);
/* For the server: a consistent copy of the state. */
void health_view(struct health *h, struct health_view *v);
/* For the server: the counters. */
struct metrics *health_metrics(struct health *h);
/* Manual drain (1) or undrain (0); msg gets what happened in words. */
void health_admin(struct health *h, int drain, char *msg, size_t msgsz);

/* For the poller: this VM's name arrived. */
void health_set_vm_name(struct health *h, const char *name);
/* For the poller: a document was read and parsed. */
void health_on_events(struct health *h, const struct sched_doc *doc);
/* For the poller: a poll begun at started_ms (monotonic) failed. */
void health_on_imds_error(struct health *h, enum events_result r,
    long status, const char *err, int64_t started_ms);

/* What /health answers for a view. */
enum probe_result health_probe_result(const struct health_view *v);

#endif
