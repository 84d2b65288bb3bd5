/*
 * test_health_drain.c — the drain state machine on an injected clock:
 * scenarios are tables of (time, input) -> expected state, tick result and
 * approvals handed out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "health/drain.h"
#include "log.h"

enum op {
	DOC,	/* arg: "ID:Type[:started],..." ("" = no events) */
	TICK,	/* n: connections; checks bits and the ids due */
	MANUAL, /* n: on/off */
	STOP,
	RESULT, /* arg: id, n: enum drain_result */
	END
};

struct step {
	int64_t t;
	enum op op;
	const char *arg;
	long n;
	enum drain_state state;	 /* after the step */
	unsigned bits;		 /* TICK: what drain_tick returns */
	const char *due;	 /* TICK: ids drain_due gives, "A,B" */
};

#define S_ DRAIN_SERVING
#define D_ DRAIN_DRAINING
#define A_ DRAIN_APPROVED
#define AP DRAIN_TICK_APPROVE
#define EX DRAIN_TICK_EXIT

static const struct drain_config cfg_default = {
	.min_ms = 7000, .max_ms = 240000, .preempt_max_ms = 20000,
	.events = (1u << EVENT_TERMINATE) | (1u << EVENT_PREEMPT),
	.approve = 1, .retry_ms = 1000,
};

static void
doc_build(const char *spec, struct sched_doc *doc)
{
	char buf[512], *p, *save = NULL;

	memset(doc, 0, sizeof(*doc));
	doc->incarnation = 1;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (p = strtok_r(buf, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		struct sched_event *se = &doc->ours[doc->nours++];
		char *type = strchr(p, ':'), *st;

		assert_non_null(type);
		*type++ = '\0';
		st = strchr(type, ':');
		if (st != NULL)
			*st++ = '\0';
		snprintf(se->id, sizeof(se->id), "%s", p);
		snprintf(se->type_name, sizeof(se->type_name), "%s", type);
		se->type = events_type_from_name(type);
		se->started = st != NULL && strcmp(st, "started") == 0;
		snprintf(se->not_before, sizeof(se->not_before), "%s",
		    se->started ? "" : "Mon, 11 Apr 2026 22:26:58 GMT");
		doc->total++;
	}
}

static void
run(const char *name, const struct drain_config *cfg, const struct step *s)
{
	struct drain d;

	drain_init(&d, cfg);
	for (int i = 0; s[i].op != END; i++) {
		const struct step *st = &s[i];
		struct sched_doc doc;
		const char *ids[EVENTS_OURS_MAX];
		char got[256] = "";
		unsigned bits = 0;
		int n;

		switch (st->op) {
		case DOC:
			doc_build(st->arg, &doc);
			drain_on_events(&d, &doc, st->t);
			break;
		case TICK:
			bits = drain_tick(&d, st->t, st->n);
			if (bits != st->bits)
				fail_msg("%s step %d (t=%lld): tick bits %u, "
				    "want %u", name, i, (long long)st->t, bits,
				    st->bits);
			n = drain_due(&d, st->t, ids, EVENTS_OURS_MAX);
			for (int k = 0, o = 0; k < n; k++)
				o += snprintf(got + o, sizeof(got) - (size_t)o,
				    "%s%s", k ? "," : "", ids[k]);
			if (strcmp(got, st->due ? st->due : "") != 0)
				fail_msg("%s step %d (t=%lld): due \"%s\", "
				    "want \"%s\"", name, i, (long long)st->t,
				    got, st->due ? st->due : "");
			break;
		case MANUAL:
			drain_set_manual(&d, (int)st->n, st->t);
			break;
		case STOP:
			drain_set_stop(&d, st->t);
			break;
		case RESULT:
			drain_approval_result(&d, st->arg,
			    (enum drain_result)st->n, st->t);
			break;
		default:
			break;
		}
		if (d.state != st->state)
			fail_msg("%s step %d (t=%lld): state %s, want %s", name,
			    i, (long long)st->t, drain_state_names[d.state],
			    drain_state_names[st->state]);
	}
}

#define OK DRAIN_RESULT_OK
#define RETRY DRAIN_RESULT_RETRY
#define REFUSED DRAIN_RESULT_REFUSED

static void
test_drain_scenarios(void **state)
{
	static const struct step terminate[] = {
		{ 0, TICK, NULL, 0, S_, 0, NULL },
		{ 1000, DOC, "A:Terminate", 0, D_, 0, NULL },
		{ 5000, TICK, NULL, 0, D_, 0, NULL },	/* < drain_min */
		{ 8000, TICK, NULL, 3, D_, 0, NULL },	/* conns open */
		{ 8250, TICK, NULL, 0, D_, AP, "A" },	/* both hold */
		{ 8300, TICK, NULL, 0, D_, 0, NULL },	/* once */
		{ 8400, RESULT, "A", OK, A_, 0, NULL },
		{ 9000, TICK, NULL, 0, A_, 0, NULL },
		{ 9000, DOC, "A:Terminate:started", 0, A_, 0, NULL },
		/* started and gone: being deleted, never serve again */
		{ 10000, DOC, "", 0, A_, 0, NULL },
		{ 11000, TICK, NULL, 0, A_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step by_max[] = {
		{ 0, DOC, "A:Terminate", 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 5, D_, 0, NULL },
		{ 239999, TICK, NULL, 5, D_, 0, NULL },
		{ 240000, TICK, NULL, 5, D_, AP, "A" },
		{ 240100, RESULT, "A", OK, A_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step unknown_conns[] = {
		{ 0, DOC, "A:Terminate", 0, D_, 0, NULL },
		{ 8000, TICK, NULL, -1, D_, 0, NULL },
		{ 240000, TICK, NULL, -1, D_, AP, "A" },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step preempt[] = {
		{ 0, DOC, "P:Preempt", 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 2, D_, 0, NULL },
		{ 20000, TICK, NULL, 2, D_, AP, "P" },
		{ 20001, RESULT, "P", OK, A_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step cancelled[] = {
		{ 0, DOC, "A:Terminate", 0, D_, 0, NULL },
		{ 3000, TICK, NULL, 0, D_, 0, NULL },
		{ 4000, DOC, "", 0, S_, 0, NULL },
		{ 9000, TICK, NULL, 0, S_, 0, NULL },
		/* a new event later drains afresh: drain_min counts again */
		{ 20000, DOC, "B:Terminate", 0, D_, 0, NULL },
		{ 26999, TICK, NULL, 0, D_, 0, NULL },
		{ 27000, TICK, NULL, 0, D_, AP, "B" },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step not_ours_types[] = {
		{ 0, DOC, "R:Reboot", 0, S_, 0, NULL },
		{ 1000, DOC, "R:Reboot,F:Freeze,X:Hibernate", 0, S_, 0, NULL },
		{ 9000, TICK, NULL, 0, S_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step case_change[] = {
		{ 0, DOC, "abc-1:Terminate", 0, D_, 0, NULL },
		{ 1000, DOC, "ABC-1:Terminate", 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 0, D_, AP, "abc-1" },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step retry[] = {
		{ 0, DOC, "A:Terminate", 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 0, D_, AP, "A" },
		{ 7100, RESULT, "A", RETRY, D_, 0, NULL },
		{ 7500, TICK, NULL, 0, D_, 0, NULL },
		{ 8000, TICK, NULL, 4, D_, AP, "A" }, /* done is latched */
		{ 8100, RESULT, "A", OK, A_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step refused[] = {
		{ 0, DOC, "A:Terminate", 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 0, D_, AP, "A" },
		{ 7100, RESULT, "A", REFUSED, D_, 0, NULL },
		{ 9000, TICK, NULL, 0, D_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step two_events[] = {
		{ 0, DOC, "A:Terminate,B:Terminate", 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 0, D_, AP, "A,B" },
		{ 7100, RESULT, "A", OK, D_, 0, NULL },
		{ 7100, RESULT, "B", OK, A_, 0, NULL },
		/* a third one after the drain: due at once */
		{ 9000, DOC, "A:Terminate:started,B:Terminate:started,"
		    "C:Terminate", 0, D_, 0, NULL },
		{ 9250, TICK, NULL, 7, D_, AP, "C" },
		{ 9300, RESULT, "C", OK, A_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step manual[] = {
		{ 0, MANUAL, NULL, 1, D_, 0, NULL },
		{ 60000, TICK, NULL, 0, D_, 0, NULL }, /* nothing to approve */
		{ 61000, MANUAL, NULL, 0, S_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step manual_then_event[] = {
		{ 0, MANUAL, NULL, 1, D_, 0, NULL },
		{ 5000, DOC, "A:Terminate", 0, D_, 0, NULL },
		/* the probe fails since t=0: drain_min counts from there */
		{ 7000, TICK, NULL, 0, D_, AP, "A" },
		{ 7100, MANUAL, NULL, 0, D_, 0, NULL }, /* event holds it */
		{ 7200, RESULT, "A", OK, A_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step stop[] = {
		{ 0, STOP, NULL, 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 1, D_, 0, NULL },
		{ 7250, TICK, NULL, 0, D_, EX, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step stop_by_max[] = {
		{ 0, STOP, NULL, 0, D_, 0, NULL },
		{ 239750, TICK, NULL, 9, D_, 0, NULL },
		{ 240000, TICK, NULL, 9, D_, EX, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step stop_with_event[] = {
		{ 0, DOC, "A:Terminate", 0, D_, 0, NULL },
		{ 2000, STOP, NULL, 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 0, D_, AP, "A" },	/* approve first */
		{ 7250, TICK, NULL, 0, D_, EX, NULL },	/* then exit */
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	static const struct step freeze_comes_back[] = {
		{ 0, DOC, "F:Freeze", 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 0, D_, AP, "F" },
		{ 7100, RESULT, "F", OK, A_, 0, NULL },
		{ 8000, DOC, "F:Freeze:started", 0, A_, 0, NULL },
		/* a Freeze is over when it leaves the list: serve again */
		{ 9000, DOC, "", 0, S_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	struct drain_config c;

	run("terminate", &cfg_default, terminate);
	run("drain_max", &cfg_default, by_max);
	run("connections unknown", &cfg_default, unknown_conns);
	run("preempt", &cfg_default, preempt);
	c = cfg_default;
	c.min_ms = 30000; /* above preempt_drain_max: capped to it */
	run("preempt, long drain_min", &c, preempt);
	run("cancelled", &cfg_default, cancelled);
	run("types not in [health] events", &cfg_default, not_ours_types);
	run("EventId case", &cfg_default, case_change);
	run("approval retried", &cfg_default, retry);
	run("approval refused", &cfg_default, refused);
	run("two events", &cfg_default, two_events);
	run("manual", &cfg_default, manual);
	run("manual, then an event", &cfg_default, manual_then_event);
	run("stop", &cfg_default, stop);
	run("stop, drain_max", &cfg_default, stop_by_max);
	run("stop with an event", &cfg_default, stop_with_event);
	c = cfg_default;
	c.events |= 1u << EVENT_FREEZE;
	run("freeze", &c, freeze_comes_back);
}

static void
test_drain_approve_false(void **state)
{
	static const struct step s[] = {
		{ 0, DOC, "A:Terminate", 0, D_, 0, NULL },
		{ 7000, TICK, NULL, 0, D_, 0, NULL },
		{ 300000, TICK, NULL, 0, D_, 0, NULL },
		{ 300000, DOC, "A:Terminate:started", 0, D_, 0, NULL },
		{ 0, END, NULL, 0, S_, 0, NULL },
	};
	struct drain_config c = cfg_default;
	struct drain d;
	struct sched_doc doc;

	c.approve = 0;
	run("approve = false", &c, s);
	/* and the event reports why */
	drain_init(&d, &c);
	doc_build("A:Terminate", &doc);
	drain_on_events(&d, &doc, 0);
	drain_tick(&d, 7000, 0);
	assert_int_equal(d.ev[0].approval, APPROVAL_DISABLED);
}

static void
test_drain_timings(void **state)
{
	struct drain d;
	struct sched_doc doc;
	const char *ids[4];

	drain_init(&d, &cfg_default);
	assert_int_equal(d.since_ms, -1);
	doc_build("A:Terminate", &doc);
	drain_on_events(&d, &doc, 1500);
	assert_int_equal(d.since_ms, 1500);
	assert_int_equal(d.reason, DRAIN_R_EVENT);
	assert_int_equal(drain_min_now(&d), 7000);
	assert_int_equal(drain_max_now(&d), 240000);
	drain_tick(&d, 9000, 0);
	assert_int_equal(d.done, 1);
	assert_int_equal(d.done_ms, 9000);
	assert_int_equal(d.done_by_max, 0);
	assert_int_equal(drain_due(&d, 9000, ids, 4), 1);
	drain_approval_result(&d, "A", DRAIN_RESULT_OK, 9100);
	assert_int_equal(d.ev[0].approved_ms, 9100);
	assert_int_equal(d.ev[0].tries, 1);

	/* a Preempt shortens drain_max and drain_min follows */
	drain_init(&d, &cfg_default);
	doc_build("P:Preempt", &doc);
	drain_on_events(&d, &doc, 0);
	assert_int_equal(drain_max_now(&d), 20000);
	assert_int_equal(drain_min_now(&d), 7000);
}

static void
test_drain_generation(void **state)
{
	struct drain d;
	struct sched_doc doc;
	unsigned g;

	drain_init(&d, &cfg_default);
	g = d.gen;
	doc_build("", &doc);
	drain_on_events(&d, &doc, 0);
	assert_int_equal(d.gen, g); /* nothing visible changed */
	doc_build("A:Terminate", &doc);
	drain_on_events(&d, &doc, 10);
	assert_true(d.gen != g);
	g = d.gen;
	drain_on_events(&d, &doc, 20);
	assert_int_equal(d.gen, g);
	assert_int_equal(drain_set_manual(&d, 0, 30), 0);
	assert_int_equal(d.gen, g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drain_scenarios),
		cmocka_unit_test(test_drain_approve_false),
		cmocka_unit_test(test_drain_timings),
		cmocka_unit_test(test_drain_generation),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
