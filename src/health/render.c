/* render.c — JSON replies of the health daemon. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "health/render.h"

static const char *
check_words(const struct health_view *v)
{
	return v->check_detail[0] ? v->check_detail : "no result yet";
}

void
render_reason(const struct health_view *v, enum probe_result r, char *out,
    size_t outsz)
{
	const struct drain *d = &v->drain;

	switch (r) {
	case PROBE_OK:
		snprintf(out, outsz, "serving");
		return;
	case PROBE_WORKLOAD_DOWN:
		snprintf(out, outsz, "workload check failing: %s",
		    check_words(v));
		return;
	case PROBE_STARTING:
		snprintf(out, outsz, "waiting for the first workload check");
		return;
	default:
		break;
	}
	switch (d->reason) {
	case DRAIN_R_EVENT:
		snprintf(out, outsz, "%s event %s for %s%s",
		    d->ev[0].ev.type_name, d->ev[0].ev.id,
		    v->vm_name[0] ? v->vm_name : "this VM",
		    d->state == DRAIN_APPROVED ? " (approved)" : "");
		return;
	case DRAIN_R_STOP:
		snprintf(out, outsz, "service stopping");
		return;
	case DRAIN_R_MANUAL:
		snprintf(out, outsz, "manual drain");
		return;
	default:
		snprintf(out, outsz, "%s", drain_state_names[d->state]);
	}
}

/* Dump root (stolen) to a compact string; NULL on failure. */
static char *
dump(json_t *root)
{
	char *s = NULL;

	if (root != NULL)
		s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}

char *
render_probe(const struct health_view *v, enum probe_result r)
{
	char reason[512];

	render_reason(v, r, reason, sizeof(reason));
	return dump(json_pack("{s:s, s:s, s:s, s:s}",
	    "status", r == PROBE_OK ? "ok" : "unavailable",
	    "state", drain_state_names[v->drain.state],
	    "reason", reason,
	    "workload", check_state_names[v->workload]));
}

char *
render_live(const struct health_view *v, int *healthy)
{
	*healthy = v->workload != CHECK_DOWN;
	return dump(json_pack("{s:s}", "ApplicationHealthState",
	    *healthy ? "Healthy" : "Unhealthy"));
}

/* ms as a JSON integer, or null when negative (not happened). */
static json_t *
ms_or_null(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer((json_int_t)ms);
}

static json_t *
event_json(const struct health_view *v, const struct drain_event *de)
{
	const struct drain *d = &v->drain;

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
	    "id", de->ev.id,
	    "type", de->ev.type_name,
	    "status", de->ev.started ? "Started" : "Scheduled",
	    "not_before", de->ev.not_before,
	    "approval", drain_approval_names[de->approval],
	    "seen_ms_ago", json_integer((json_int_t)(v->now_ms - de->seen_ms)),
	    "approved_after_ms", de->approved_ms < 0 || d->since_ms < 0 ?
	    json_null() : json_integer((json_int_t)(de->approved_ms -
	    d->since_ms)));
}

static json_t *
counters_json(const struct metrics *m)
{
	json_t *probes = json_object();

	for (int i = 0; i < PROBE__MAX; i++)
		json_object_set_new(probes, probe_result_names[i],
		    json_integer((json_int_t)atomic_load(&m->probes[i])));
	return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "probes", probes,
	    "imds_polls", (json_int_t)atomic_load(&m->imds_polls),
	    "imds_errors", (json_int_t)atomic_load(&m->imds_errors),
	    "imds_outages", (json_int_t)atomic_load(&m->imds_outages),
	    "approvals", (json_int_t)atomic_load(&m->approvals),
	    "approval_errors", (json_int_t)atomic_load(&m->approval_errors),
	    "drains", (json_int_t)atomic_load(&m->drains),
	    "admin_refused", (json_int_t)atomic_load(&m->admin_refused));
}

char *
render_status(const struct health_view *v, const struct metrics *m)
{
	const struct drain *d = &v->drain;
	enum probe_result r = health_probe_result(v);
	json_t *events, *drain, *root;
	char reason[512];

	render_reason(v, r, reason, sizeof(reason));
	events = json_array();
	for (int i = 0; i < d->nev; i++)
		json_array_append_new(events, event_json(v, &d->ev[i]));
	drain = json_pack("{s:o, s:I, s:I, s:b, s:o, s:o, s:b, s:b, s:b}",
	    "draining_for_ms", d->since_ms < 0 ? json_null() :
	    json_integer((json_int_t)(v->now_ms - d->since_ms)),
	    "drain_min_ms", (json_int_t)drain_min_now(d),
	    "drain_max_ms", (json_int_t)drain_max_now(d),
	    "done", d->done,
	    "done_after_ms", d->done_ms < 0 || d->since_ms < 0 ? json_null() :
	    json_integer((json_int_t)(d->done_ms - d->since_ms)),
	    "done_by", !d->done ? json_null() :
	    json_string(d->done_by_max ? "drain_max" : "connections"),
	    "manual", d->manual,
	    "stopping", d->stopping,
	    "approve", d->cfg.approve);
	root = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:{s:s, s:s, "
	    "s:s}, s:I, s:s, s:s, s:o, s:o, s:o, s:{s:b, s:I, s:I, s:o}, "
	    "s:o, s:I}",
	    "state", drain_state_names[d->state],
	    "reason", drain_reason_names[d->reason],
	    "detail", reason,
	    "probe", probe_result_names[r],
	    "healthy", r == PROBE_OK,
	    "vm_name", v->vm_name[0] ? json_string(v->vm_name) : json_null(),
	    "workload",
	    "state", check_state_names[v->workload],
	    "check", v->check_target,
	    "detail", v->check_detail,
	    "connections", (json_int_t)v->conns,
	    "connections_source", conns_source_names[v->conns_src],
	    "workload_ports", v->ports,
	    "event", d->nev > 0 ? json_pack("{s:s, s:s}", "id",
	    d->ev[0].ev.id, "type", d->ev[0].ev.type_name) : json_null(),
	    "events", events,
	    "drain", drain,
	    "imds",
	    "reachable", v->imds_ok,
	    "incarnation", (json_int_t)v->incarnation,
	    "events_listed", (json_int_t)v->doc_events,
	    "last_ok_ms_ago", ms_or_null(v->imds_last_ok_ms < 0 ? -1 :
	    v->now_ms - v->imds_last_ok_ms),
	    "counters", counters_json(m),
	    "uptime_ms", (json_int_t)(v->now_ms - v->started_ms));
	return dump(root);
}
