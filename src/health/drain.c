/* drain.c — serving -> draining -> approved, with reasons and timings. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "health/drain.h"
#include "log.h"

const char *const drain_state_names[DRAIN__MAX] = {
	"serving", "draining", "approved"
};
const char *const drain_reason_names[DRAIN_R__MAX] = {
	"none", "event", "manual", "service stop"
};
const char *const drain_approval_names[APPROVAL__MAX] = {
	"waiting", "due", "sent", "refused", "disabled"
};

void
drain_init(struct drain *d, const struct drain_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->state = DRAIN_SERVING;
	d->reason = DRAIN_R_NONE;
	d->since_ms = -1;
	d->done_ms = -1;
}

int64_t
drain_max_now(const struct drain *d)
{
	int64_t max = d->cfg.max_ms;

	for (int i = 0; i < d->nev; i++)
		if (d->ev[i].ev.type == EVENT_PREEMPT &&
		    d->cfg.preempt_max_ms < max)
			max = d->cfg.preempt_max_ms;
	return max;
}

int64_t
drain_min_now(const struct drain *d)
{
	int64_t max = drain_max_now(d);

	return d->cfg.min_ms < max ? d->cfg.min_ms : max;
}

static int
event_find(const struct drain *d, const char *id)
{
	for (int i = 0; i < d->nev; i++)
		if (strcasecmp(d->ev[i].ev.id, id) == 0)
			return i;
	return -1;
}

static int
doc_has(const struct sched_doc *doc, const char *id)
{
	for (int i = 0; i < doc->nours; i++)
		if (strcasecmp(doc->ours[i].id, id) == 0)
			return 1;
	return 0;
}

/* Log an event type we do not act on, once per id. */
static void
ignore_once(struct drain *d, const struct sched_event *se)
{
	for (int i = 0; i < d->nignored; i++)
		if (strcasecmp(d->ignored[i], se->id) == 0)
			return;
	log_info("health: ignoring %s event %s for this VM: %s is not in "
	    "[health] events", se->type_name[0] ? se->type_name : "untyped",
	    se->id, se->type_name[0] ? se->type_name : "an empty EventType");
	if (d->nignored < EVENTS_OURS_MAX)
		snprintf(d->ignored[d->nignored++], EVENT_ID_MAX, "%s",
		    se->id);
}

/* The approval an event starts with once the drain is complete. */
static enum drain_approval
approval_when_done(const struct drain *d)
{
	return d->cfg.approve ? APPROVAL_DUE : APPROVAL_DISABLED;
}

/* Recompute state and reason from the inputs; log transitions. */
static void
settle(struct drain *d, int64_t now)
{
	enum drain_state old = d->state;
	enum drain_reason old_reason = d->reason;
	int all_sent = d->nev > 0;

	for (int i = 0; i < d->nev; i++)
		if (d->ev[i].approval != APPROVAL_SENT)
			all_sent = 0;
	if (d->nev > 0)
		d->reason = DRAIN_R_EVENT;
	else if (d->stopping)
		d->reason = DRAIN_R_STOP;
	else if (d->manual)
		d->reason = DRAIN_R_MANUAL;
	else
		d->reason = DRAIN_R_NONE;

	if (d->reason == DRAIN_R_NONE) {
		d->state = DRAIN_SERVING;
		d->since_ms = -1;
		d->done = 0;
		d->done_ms = -1;
		d->done_by_max = 0;
	} else {
		if (old == DRAIN_SERVING)
			d->since_ms = now;
		d->state = all_sent ? DRAIN_APPROVED : DRAIN_DRAINING;
	}
	if (d->state == old && d->reason == old_reason)
		return;
	d->gen++;
	if (d->state == DRAIN_SERVING)
		log_info("health: serving again: the probe passes from now on "
		    "(when the workload check does)");
	else if (d->state == DRAIN_APPROVED)
		log_info("health: approved: every Scheduled Event for this VM "
		    "is approved; the platform may go ahead");
	else if (old == DRAIN_SERVING)
		log_info("health: draining (%s): the probe fails from now on",
		    drain_reason_names[d->reason]);
	else if (old == DRAIN_APPROVED)
		log_info("health: draining again (%s): a new event awaits "
		    "approval", drain_reason_names[d->reason]);
	else
		log_info("health: still draining, now for reason: %s",
		    drain_reason_names[d->reason]);
}

void
drain_on_events(struct drain *d, const struct sched_doc *doc, int64_t now)
{
	int changed = 0;

	/* events gone from the document: cancelled, or done without us */
	for (int i = 0; i < d->nev;) {
		struct drain_event *de = &d->ev[i];

		if (de->gone || doc_has(doc, de->ev.id)) {
			i++;
			continue;
		}
		if ((de->ev.type == EVENT_TERMINATE ||
		    de->ev.type == EVENT_PREEMPT) &&
		    (de->ev.started || de->approval == APPROVAL_SENT)) {
			/* the deletion is under way: never serve again */
			de->gone = 1;
			changed = 1;
			log_info("health: %s event %s has started and left the "
			    "list: this VM is being deleted; staying drained",
			    de->ev.type_name, de->ev.id);
			i++;
			continue;
		}
		log_info("health: %s event %s is no longer listed "
		    "(cancelled or completed) and this VM is still running",
		    d->ev[i].ev.type_name, d->ev[i].ev.id);
		memmove(&d->ev[i], &d->ev[i + 1],
		    (size_t)(d->nev - i - 1) * sizeof(d->ev[0]));
		d->nev--;
		changed = 1;
	}
	for (int i = 0; i < doc->nours; i++) {
		const struct sched_event *se = &doc->ours[i];
		struct drain_event *de;
		int k = event_find(d, se->id);

		if (k >= 0) {
			/* status may move Scheduled -> Started */
			if (d->ev[k].ev.started != se->started) {
				d->ev[k].ev = *se;
				changed = 1;
			}
			continue;
		}
		if (se->type == EVENT__MAX ||
		    !(d->cfg.events & (1u << se->type))) {
			ignore_once(d, se);
			continue;
		}
		if (d->nev >= EVENTS_OURS_MAX)
			continue;
		de = &d->ev[d->nev++];
		memset(de, 0, sizeof(*de));
		de->ev = *se;
		de->seen_ms = now;
		de->approved_ms = -1;
		de->tried_ms = -1;
		de->approval = d->done ? approval_when_done(d) :
		    APPROVAL_WAITING;
		log_info("health: %s event %s for this VM (%s%s): drain "
		    "before approving", se->type_name, se->id,
		    se->started ? "Started" : "NotBefore ",
		    se->started ? "" : se->not_before);
		changed = 1;
	}
	if (changed)
		d->gen++;
	settle(d, now);
}

int
drain_set_manual(struct drain *d, int on, int64_t now)
{
	if (d->manual == !!on)
		return 0;
	d->manual = !!on;
	d->gen++;
	log_info("health: manual drain %s", on ? "requested" : "lifted");
	settle(d, now);
	return 1;
}

void
drain_set_stop(struct drain *d, int64_t now)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	d->gen++;
	settle(d, now);
}

unsigned
drain_tick(struct drain *d, int64_t now, long conns)
{
	unsigned out = 0;
	int64_t elapsed, min, max;
	int all_tried = 1;

	if (d->state == DRAIN_SERVING)
		return 0;
	if (!d->done) {
		elapsed = now - d->since_ms;
		min = drain_min_now(d);
		max = drain_max_now(d);
		if (elapsed >= min && conns == 0) {
			d->done = 1;
			log_info("health: drained after %lld ms: the load "
			    "balancer has seen the failing probe for "
			    "drain_min (%lld ms) and no connection to the "
			    "workload is left", (long long)elapsed,
			    (long long)min);
		} else if (elapsed >= max) {
			d->done = 1;
			d->done_by_max = 1;
			if (conns < 0)
				log_warn("health: drain_max (%lld ms) reached; "
				    "connections could not be counted",
				    (long long)max);
			else
				log_warn("health: drain_max (%lld ms) reached "
				    "with %ld connection%s to the workload "
				    "still open; going ahead", (long long)max,
				    conns, conns == 1 ? "" : "s");
		}
		if (d->done) {
			d->done_ms = now;
			d->done_conns = conns;
			d->gen++;
			for (int i = 0; i < d->nev; i++)
				if (d->ev[i].approval == APPROVAL_WAITING)
					d->ev[i].approval =
					    approval_when_done(d);
			if (d->nev > 0 && !d->cfg.approve)
				log_info("health: approve = false: not "
				    "approving; the platform proceeds at "
				    "NotBefore");
		}
	}
	for (int i = 0; i < d->nev; i++) {
		struct drain_event *de = &d->ev[i];

		if (de->approval != APPROVAL_DUE)
			continue;
		if (de->tried_ms < 0 || now - de->tried_ms >= d->cfg.retry_ms)
			out |= DRAIN_TICK_APPROVE;
		if (de->tries == 0)
			all_tried = 0;
	}
	if (d->stopping && d->done && all_tried)
		out |= DRAIN_TICK_EXIT;
	return out;
}

int
drain_due(struct drain *d, int64_t now, const char **ids, int max)
{
	int n = 0;

	for (int i = 0; i < d->nev && n < max; i++) {
		struct drain_event *de = &d->ev[i];

		if (de->approval != APPROVAL_DUE)
			continue;
		if (de->tried_ms >= 0 && now - de->tried_ms < d->cfg.retry_ms)
			continue;
		de->tried_ms = now;
		de->tries++;
		ids[n++] = de->ev.id;
	}
	return n;
}

void
drain_approval_result(struct drain *d, const char *id, enum drain_result r,
    int64_t now)
{
	int k = event_find(d, id);
	struct drain_event *de;

	if (k < 0)
		return; /* gone meanwhile */
	de = &d->ev[k];
	if (de->approval != APPROVAL_DUE)
		return;
	switch (r) {
	case DRAIN_RESULT_OK:
		de->approval = APPROVAL_SENT;
		de->approved_ms = now;
		log_info("health: approved %s event %s after %lld ms of "
		    "draining", de->ev.type_name, de->ev.id,
		    (long long)(now - d->since_ms));
		break;
	case DRAIN_RESULT_REFUSED:
		de->approval = APPROVAL_REFUSED;
		log_error("health: IMDS refused the approval of event %s; "
		    "not retrying (the platform proceeds at NotBefore)",
		    de->ev.id);
		break;
	default:
		return; /* stays due; retried after retry_ms */
	}
	d->gen++;
	settle(d, now);
}
