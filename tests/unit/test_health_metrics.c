/*
 * test_health_metrics.c — the Prometheus text of /metrics and the JSON of
 * /health, /live and /status for given states.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "health/metrics.h"
#include "health/render.h"

static void
metrics_fill(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	atomic_store(&m->probes[PROBE_OK], 12345);
	atomic_store(&m->probes[PROBE_DRAINING], 7);
	atomic_store(&m->live[1], 3);
	atomic_store(&m->checks[1], 40);
	atomic_store(&m->checks[0], 2);
	atomic_store(&m->imds_polls, 600);
	atomic_store(&m->imds_errors, 5);
	atomic_store(&m->imds_outages, 1);
	atomic_store(&m->approvals, 1);
	atomic_store(&m->drains, 1);
}

static void
test_metrics_render_lines(void **state)
{
	static const char *const want[] = {
		"# TYPE greenlight_health_probes_total counter\n",
		"\ngreenlight_health_probes_total{result=\"ok\"} 12345\n",
		"\ngreenlight_health_probes_total{result=\"draining\"} 7\n",
		"\ngreenlight_health_probes_total{result=\"workload_down\"} "
		"0\n",
		"\ngreenlight_health_probes_total{result=\"starting\"} 0\n",
		"\ngreenlight_health_live_total{state=\"Healthy\"} 3\n",
		"\ngreenlight_health_live_total{state=\"Unhealthy\"} 0\n",
		"\ngreenlight_health_state{state=\"serving\"} 0\n",
		"\ngreenlight_health_state{state=\"draining\"} 1\n",
		"\ngreenlight_health_state{state=\"approved\"} 0\n",
		"\ngreenlight_health_draining_seconds 12.500\n",
		"\ngreenlight_health_drains_total 1\n",
		"\ngreenlight_health_workload_up 1\n",
		"\ngreenlight_health_workload_checks_total{result=\"pass\"} "
		"40\n",
		"\ngreenlight_health_workload_checks_total{result=\"fail\"} "
		"2\n",
		"\ngreenlight_health_connections 4\n",
		"\ngreenlight_imds_polls_total 600\n",
		"\ngreenlight_imds_poll_errors_total 5\n",
		"\ngreenlight_imds_outages_total 1\n",
		"\ngreenlight_imds_reachable 1\n",
		"\ngreenlight_imds_document_incarnation 9\n",
		"\ngreenlight_health_approvals_total 1\n",
		"\ngreenlight_health_approval_errors_total 0\n",
		"\ngreenlight_health_admin_refused_total 0\n",
	};
	struct metrics m;
	struct metrics_gauges g = { DRAIN_DRAINING, 1, 4, 12.5, 1, 9 };
	char buf[16384];
	int n, helps = 0, types = 0;

	metrics_fill(&m);
	n = metrics_render(&m, &g, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (strstr(buf, want[i]) == NULL)
			fail_msg("missing: %s\nin:\n%s", want[i], buf);
	/* every metric family has HELP and TYPE; every line ends in \n */
	for (const char *p = buf; (p = strstr(p, "# HELP ")) != NULL; p++)
		helps++;
	for (const char *p = buf; (p = strstr(p, "# TYPE ")) != NULL; p++)
		types++;
	assert_int_equal(helps, types);
	assert_int_equal(helps, 16);
	assert_int_equal(buf[n - 1], '\n');
}

static void
test_metrics_render_overflow(void **state)
{
	struct metrics m;
	struct metrics_gauges g = { 0, 1, -1, 0, 0, -1 };
	char buf[16384];
	int n;

	metrics_fill(&m);
	n = metrics_render(&m, &g, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\ngreenlight_health_connections -1\n"));
	assert_non_null(strstr(buf,
	    "\ngreenlight_imds_document_incarnation -1\n"));
	assert_int_equal(metrics_render(&m, &g, buf, (size_t)n), -1);
	assert_int_equal(metrics_render(&m, &g, buf, (size_t)n + 1), n);
	assert_int_equal(metrics_render(&m, &g, buf, 0), -1);
}

static void
view_init(struct health_view *v)
{
	struct drain_config dc = {
		.min_ms = 7000, .max_ms = 240000, .preempt_max_ms = 20000,
		.events = 3, .approve = 1, .retry_ms = 1000,
	};

	memset(v, 0, sizeof(*v));
	drain_init(&v->drain, &dc);
	v->workload = CHECK_UP;
	snprintf(v->vm_name, sizeof(v->vm_name), "vmss_0");
	snprintf(v->check_target, sizeof(v->check_target),
	    "GET http://127.0.0.1:8080/ expecting 200");
	snprintf(v->check_detail, sizeof(v->check_detail),
	    "GET http://127.0.0.1:8080/: HTTP 200");
	v->imds_last_ok_ms = -1;
	v->incarnation = -1;
	v->conns = 0;
	v->now_ms = 10000;
}

static void
test_render_probe_table(void **state)
{
	struct health_view v;
	struct sched_doc doc;
	char *s;
	int healthy;

	view_init(&v);
	assert_int_equal(health_probe_result(&v), PROBE_OK);
	s = render_probe(&v, PROBE_OK);
	assert_string_equal(s, "{\"status\":\"ok\",\"state\":\"serving\","
	    "\"reason\":\"serving\",\"workload\":\"up\"}");
	free(s);
	s = render_live(&v, &healthy);
	assert_string_equal(s, "{\"ApplicationHealthState\":\"Healthy\"}");
	assert_int_equal(healthy, 1);
	free(s);

	v.workload = CHECK_UNKNOWN;
	assert_int_equal(health_probe_result(&v), PROBE_STARTING);
	s = render_live(&v, &healthy);
	assert_int_equal(healthy, 1);
	free(s);

	v.workload = CHECK_DOWN;
	snprintf(v.check_detail, sizeof(v.check_detail),
	    "GET http://127.0.0.1:8080/: HTTP 500, want 200");
	assert_int_equal(health_probe_result(&v), PROBE_WORKLOAD_DOWN);
	s = render_probe(&v, PROBE_WORKLOAD_DOWN);
	assert_string_equal(s, "{\"status\":\"unavailable\",\"state\":"
	    "\"serving\",\"reason\":\"workload check failing: GET "
	    "http://127.0.0.1:8080/: HTTP 500, want 200\",\"workload\":"
	    "\"down\"}");
	free(s);
	s = render_live(&v, &healthy);
	assert_string_equal(s, "{\"ApplicationHealthState\":\"Unhealthy\"}");
	assert_int_equal(healthy, 0);
	free(s);

	/* draining wins over the workload for /health; /live stays up */
	v.workload = CHECK_UP;
	memset(&doc, 0, sizeof(doc));
	doc.nours = 1;
	snprintf(doc.ours[0].id, sizeof(doc.ours[0].id), "E-1");
	snprintf(doc.ours[0].type_name, sizeof(doc.ours[0].type_name),
	    "Terminate");
	doc.ours[0].type = EVENT_TERMINATE;
	drain_on_events(&v.drain, &doc, 5000);
	assert_int_equal(health_probe_result(&v), PROBE_DRAINING);
	s = render_probe(&v, PROBE_DRAINING);
	assert_string_equal(s, "{\"status\":\"unavailable\",\"state\":"
	    "\"draining\",\"reason\":\"Terminate event E-1 for vmss_0\","
	    "\"workload\":\"up\"}");
	free(s);
	s = render_live(&v, &healthy);
	assert_int_equal(healthy, 1);
	free(s);

	drain_init(&v.drain, &v.drain.cfg);
	drain_set_manual(&v.drain, 1, 0);
	s = render_probe(&v, health_probe_result(&v));
	assert_non_null(strstr(s, "\"reason\":\"manual drain\""));
	free(s);
	drain_set_stop(&v.drain, 0);
	s = render_probe(&v, health_probe_result(&v));
	assert_non_null(strstr(s, "\"reason\":\"service stopping\""));
	free(s);
}

static void
test_render_status(void **state)
{
	struct health_view v;
	struct metrics m;
	struct sched_doc doc;
	char *s;

	view_init(&v);
	metrics_fill(&m);
	memset(&doc, 0, sizeof(doc));
	doc.nours = 1;
	snprintf(doc.ours[0].id, sizeof(doc.ours[0].id), "E-1");
	snprintf(doc.ours[0].type_name, sizeof(doc.ours[0].type_name),
	    "Terminate");
	doc.ours[0].type = EVENT_TERMINATE;
	drain_on_events(&v.drain, &doc, 2000);
	drain_tick(&v.drain, 9000, 0);
	s = render_status(&v, &m);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"state\":\"draining\",\"reason\":"
	    "\"event\",\"detail\":\"Terminate event E-1 for vmss_0\","
	    "\"probe\":\"draining\",\"healthy\":false,\"vm_name\":"
	    "\"vmss_0\""));
	assert_non_null(strstr(s, "\"event\":{\"id\":\"E-1\",\"type\":"
	    "\"Terminate\"}"));
	assert_non_null(strstr(s, "\"draining_for_ms\":8000,"
	    "\"drain_min_ms\":7000,\"drain_max_ms\":240000,\"done\":true,"
	    "\"done_after_ms\":7000,\"done_by\":\"connections\""));
	assert_non_null(strstr(s, "\"approval\":\"due\""));
	assert_non_null(strstr(s, "\"imds_polls\":600"));
	assert_non_null(strstr(s, "\"probes\":{\"ok\":12345,"));
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_render_lines),
		cmocka_unit_test(test_metrics_render_overflow),
		cmocka_unit_test(test_render_probe_table),
		cmocka_unit_test(test_render_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
