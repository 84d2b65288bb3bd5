/* metrics.c — counters and the Prometheus text rendering. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "agent.h"
#include "health/drain.h"
#include "health/metrics.h"

const char *const probe_result_names[PROBE__MAX] = {
	"ok", "draining", "workload_down", "starting"
};

struct out {
	char *buf;
	size_t sz, len;
	int overflow;
};

static void __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->sz - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->sz - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}

static uint64_t
get(const atomic_uint_fast64_t *a)
{
	return (uint64_t)atomic_load_explicit(a, memory_order_relaxed);
}

static void
head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
counter(struct out *o, const char *name, const char *help,
    const atomic_uint_fast64_t *a)
{
	head(o, name, "counter", help);
	put(o, "%s %" PRIu64 "\n", name, get(a));
}

int
metrics_render(const struct metrics *m, const struct metrics_gauges *g,
    char *buf, size_t sz)
{
	struct out o = { buf, sz, 0, 0 };

	if (sz == 0)
		return -1;
	buf[0] = '\0';
	head(&o, "greenlight_health_probes_total", "counter",
	    "Load balancer probes (/health) answered, by result.");
	for (int i = 0; i < PROBE__MAX; i++)
		put(&o, "greenlight_health_probes_total{result=\"%s\"} %"
		    PRIu64 "\n", probe_result_names[i], get(&m->probes[i]));
	head(&o, "greenlight_health_live_total", "counter",
	    "Liveness answers (/live), by state.");
	put(&o, "greenlight_health_live_total{state=\"Healthy\"} %" PRIu64
	    "\n", get(&m->live[1]));
	put(&o, "greenlight_health_live_total{state=\"Unhealthy\"} %" PRIu64
	    "\n", get(&m->live[0]));
	head(&o, "greenlight_health_state", "gauge",
	    "Drain state: 1 for the current one.");
	for (int i = 0; i < DRAIN__MAX; i++)
		put(&o, "greenlight_health_state{state=\"%s\"} %d\n",
		    drain_state_names[i], g->state == i);
	head(&o, "greenlight_health_draining_seconds", "gauge",
	    "Seconds since the probe started failing for a drain; 0 while "
	    "serving.");
	put(&o, "greenlight_health_draining_seconds %.3f\n",
	    g->draining_seconds);
	counter(&o, "greenlight_health_drains_total",
	    "Transitions from serving to draining.", &m->drains);
	head(&o, "greenlight_health_workload_up", "gauge",
	    "1 when the workload check passes (or none is configured).");
	put(&o, "greenlight_health_workload_up %d\n", g->workload_up);
	head(&o, "greenlight_health_workload_checks_total", "counter",
	    "Workload checks run, by result.");
	put(&o, "greenlight_health_workload_checks_total{result=\"pass\"} %"
	    PRIu64 "\n", get(&m->checks[1]));
	put(&o, "greenlight_health_workload_checks_total{result=\"fail\"} %"
	    PRIu64 "\n", get(&m->checks[0]));
	head(&o, "greenlight_health_connections", "gauge",
	    "Established TCP connections to the workload ports; -1 when "
	    "unknown.");
	put(&o, "greenlight_health_connections %ld\n", g->connections);
	counter(&o, "greenlight_imds_polls_total",
	    "Scheduled Events requests sent to IMDS.", &m->imds_polls);
	counter(&o, "greenlight_imds_poll_errors_total",
	    "Scheduled Events requests that failed.", &m->imds_errors);
	counter(&o, "greenlight_imds_outages_total",
	    "Runs of failed Scheduled Events requests.", &m->imds_outages);
	head(&o, "greenlight_imds_reachable", "gauge",
	    "1 when the last Scheduled Events request succeeded.");
	put(&o, "greenlight_imds_reachable %d\n", g->imds_reachable);
	head(&o, "greenlight_imds_document_incarnation", "gauge",
	    "DocumentIncarnation of the last Scheduled Events document.");
	put(&o, "greenlight_imds_document_incarnation %" PRId64 "\n",
	    g->incarnation);
	counter(&o, "greenlight_health_approvals_total",
	    "Scheduled Events approved by this daemon.", &m->approvals);
	counter(&o, "greenlight_health_approval_errors_total",
	    "Approval requests that failed.", &m->approval_errors);
	counter(&o, "greenlight_health_admin_refused_total",
	    "Drain/undrain requests refused (not from this host).",
	    &m->admin_refused);
	return o.overflow ? -1 : (int)o.len;
}
