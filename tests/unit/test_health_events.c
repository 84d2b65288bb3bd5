/* test_health_events.c — Scheduled Events documents -> this VM's events. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "health/events.h"

#define ID1 "C7061BAC-AFDC-4513-B24B-AA5F13A16123"
#define ID2 "f020ba2e-3bc0-4c40-a10b-86575a9eabd5"

/* The documented example, for vmss_3. */
static const char doc_example[] =
    "{ \"DocumentIncarnation\": 2,\n"
    "  \"Events\": [ { \"EventId\": \"" ID1 "\",\n"
    "      \"EventStatus\": \"Scheduled\", \"EventType\": \"Terminate\","
    "      \"ResourceType\": \"VirtualMachine\",\n"
    "      \"Resources\": [\"myvmss_3\"], \"NotBefore\": "
    "\"Mon, 11 Apr 2026 22:26:58 GMT\",\n"
    "      \"Description\": \"...\", \"EventSource\": \"User\", "
    "\"DurationInSeconds\": -1 } ] }";

static void
test_events_parse_table(void **state)
{
	static const struct {
		const char *name;
		const char *json;
		const char *vm;
		int rc;
		int64_t incarnation;
		int total, others, invalid, nours;
		const char *id;	       /* first of ours */
		enum event_type type;  /* first of ours */
		int started;
		const char *err;       /* substring of the error */
	} t[] = {
		{ "documented example", doc_example, "myvmss_3", 0, 2, 1, 0, 0,
		    1, ID1, EVENT_TERMINATE, 0, NULL },
		{ "example, other VM", doc_example, "myvmss_4", 0, 2, 1, 1, 0,
		    0, NULL, 0, 0, NULL },
		{ "VM name unknown yet", doc_example, NULL, 0, 2, 1, 1, 0, 0,
		    NULL, 0, 0, NULL },
		{ "VM name in other case", doc_example, "MyVMSS_3", 0, 2, 1,
		    0, 0, 1, ID1, EVENT_TERMINATE, 0, NULL },
		{ "no events", "{\"DocumentIncarnation\":0,\"Events\":[]}",
		    "vm_1", 0, 0, 0, 0, 0, 0, NULL, 0, 0, NULL },
		{ "incarnation as a string",
		    "{\"DocumentIncarnation\":\"7\",\"Events\":[]}", "vm_1", 0,
		    7, 0, 0, 0, 0, NULL, 0, 0, NULL },
		{ "incarnation missing", "{\"Events\":[]}", "vm_1", 0, -1, 0,
		    0, 0, 0, NULL, 0, 0, NULL },
		{ "lower-case EventId kept as sent",
		    "{\"DocumentIncarnation\":3,\"Events\":[{\"EventId\":\""
		    ID2 "\",\"EventType\":\"Preempt\",\"EventStatus\":"
		    "\"Scheduled\",\"Resources\":[\"vm_1\"]}]}", "vm_1", 0, 3,
		    1, 0, 0, 1, ID2, EVENT_PREEMPT, 0, NULL },
		{ "member names in other case",
		    "{\"documentincarnation\":4,\"events\":[{\"eventid\":\""
		    ID2 "\",\"eventtype\":\"terminate\",\"resources\":"
		    "[\"vm_1\"]}]}", "vm_1", 0, 4, 1, 0, 0, 1, ID2,
		    EVENT_TERMINATE, 0, NULL },
		{ "started event",
		    "{\"DocumentIncarnation\":5,\"Events\":[{"
		    "\"EventId\":\"a-1\","
		    "\"EventType\":\"Reboot\",\"EventStatus\":\"Started\","
		    "\"NotBefore\":\"\",\"Resources\":[\"vm_1\"]}]}", "vm_1", 0,
		    5, 1, 0, 0, 1, "a-1", EVENT_REBOOT, 1, NULL },
		{ "unknown type kept, typed EVENT__MAX",
		    "{\"DocumentIncarnation\":5,\"Events\":[{"
		    "\"EventId\":\"a-2\","
		    "\"EventType\":\"Hibernate\",\"Resources\":[\"vm_1\"]}]}",
		    "vm_1", 0, 5, 1, 0, 0, 1, "a-2", EVENT__MAX, 0, NULL },
		{ "several VMs in Resources",
		    "{\"DocumentIncarnation\":1,\"Events\":[{"
		    "\"EventId\":\"a-3\","
		    "\"EventType\":\"Freeze\",\"Resources\":[\"vm_0\",\"vm_1\","
		    "\"vm_2\"]}]}", "vm_1", 0, 1, 1, 0, 0, 1, "a-3",
		    EVENT_FREEZE, 0, NULL },
		{ "mixed: ours, others, broken",
		    "{\"DocumentIncarnation\":9,\"Events\":["
		    "{\"EventId\":\"x-1\",\"EventType\":\"Terminate\","
		    "\"Resources\":[\"vm_2\"]},"
		    "{\"EventType\":\"Terminate\",\"Resources\":[\"vm_1\"]},"
		    "{\"EventId\":\"\",\"EventType\":\"Terminate\","
		    "\"Resources\":[\"vm_1\"]},"
		    "{\"EventId\":\"bad id\\n\",\"Resources\":[\"vm_1\"]},"
		    "{\"EventId\":7,\"Resources\":[\"vm_1\"]},"
		    "17,"
		    "{\"EventId\":\"y-2\",\"EventType\":\"Redeploy\","
		    "\"Resources\":[\"vm_1\"]}]}", "vm_1", 0, 9, 7, 1, 5, 1,
		    "y-2", EVENT_REDEPLOY, 0, NULL },
		{ "Resources missing: not ours",
		    "{\"DocumentIncarnation\":1,\"Events\":[{"
		    "\"EventId\":\"a-4\","
		    "\"EventType\":\"Terminate\"}]}", "vm_1", 0, 1, 1, 1, 0, 0,
		    NULL, 0, 0, NULL },
		{ "Resources not an array",
		    "{\"DocumentIncarnation\":1,\"Events\":[{"
		    "\"EventId\":\"a-5\","
		    "\"EventType\":\"Terminate\",\"Resources\":\"vm_1\"}]}",
		    "vm_1", 0, 1, 1, 1, 0, 0, NULL, 0, 0, NULL },
		{ "no Events", "{\"DocumentIncarnation\":1}", "vm_1", -1, 1, 0,
		    0, 0, 0, NULL, 0, 0, "no Events array" },
		{ "Events not an array", "{\"Events\":{}}", "vm_1", -1, -1, 0,
		    0, 0, 0, NULL, 0, 0, "no Events array" },
		{ "not an object", "[]", "vm_1", -1, -1, 0, 0, 0, 0, NULL, 0,
		    0, "not a JSON object" },
		{ "not JSON", "<html>busy</html>", "vm_1", -1, -1, 0, 0, 0, 0,
		    NULL, 0, 0, "not JSON" },
		{ "empty", "", "vm_1", -1, -1, 0, 0, 0, 0, NULL, 0, 0,
		    "not JSON" },
		{ "duplicate keys refused",
		    "{\"Events\":[],\"Events\":[]}", "vm_1", -1, -1, 0, 0, 0,
		    0, NULL, 0, 0, "not JSON" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct sched_doc doc;
		char err[256] = "";
		int rc;

		rc = events_parse(t[i].json, strlen(t[i].json), t[i].vm, &doc,
		    err, sizeof(err));
		if (rc != t[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", t[i].name, rc,
			    t[i].rc, err);
		if (rc < 0) {
			if (strstr(err, t[i].err) == NULL)
				fail_msg("%s: error \"%s\", want \"%s\"",
				    t[i].name, err, t[i].err);
			continue;
		}
		if (doc.incarnation != t[i].incarnation ||
		    doc.total != t[i].total || doc.others != t[i].others ||
		    doc.invalid != t[i].invalid || doc.nours != t[i].nours)
			fail_msg("%s: incarnation %lld total %d others %d "
			    "invalid %d ours %d", t[i].name,
			    (long long)doc.incarnation, doc.total, doc.others,
			    doc.invalid, doc.nours);
		if (t[i].nours == 0)
			continue;
		if (strcmp(doc.ours[0].id, t[i].id) != 0 ||
		    doc.ours[0].type != t[i].type ||
		    doc.ours[0].started != t[i].started)
			fail_msg("%s: got %s type %d started %d", t[i].name,
			    doc.ours[0].id, doc.ours[0].type,
			    doc.ours[0].started);
	}
}

static void
test_events_fields(void **state)
{
	struct sched_doc doc;
	char err[256];

	assert_int_equal(events_parse(doc_example, strlen(doc_example),
	    "myvmss_3", &doc, err, sizeof(err)), 0);
	assert_string_equal(doc.ours[0].type_name, "Terminate");
	assert_string_equal(doc.ours[0].not_before,
	    "Mon, 11 Apr 2026 22:26:58 GMT");
	assert_string_equal(doc.ours[0].source, "User");
}

static void
test_events_too_many_ours(void **state)
{
	char json[8192];
	size_t o;
	struct sched_doc doc;
	char err[256];

	o = (size_t)snprintf(json, sizeof(json),
	    "{\"DocumentIncarnation\":1,\"Events\":[");
	for (int i = 0; i < EVENTS_OURS_MAX + 3; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o,
		    "%s{\"EventId\":\"e-%d\",\"EventType\":\"Freeze\","
		    "\"Resources\":[\"vm_1\"]}", i ? "," : "", i);
	snprintf(json + o, sizeof(json) - o, "]}");
	assert_int_equal(events_parse(json, strlen(json), "vm_1", &doc, err,
	    sizeof(err)), 0);
	assert_int_equal(doc.nours, EVENTS_OURS_MAX);
	assert_int_equal(doc.invalid, 3);
	assert_int_equal(doc.total, EVENTS_OURS_MAX + 3);
}

static void
test_events_approval_body(void **state)
{
	const char *one[] = { ID1 };
	const char *two[] = { ID1, ID2 };
	char *b;

	b = events_approval_body(one, 1);
	assert_string_equal(b, "{\"StartRequests\":[{\"EventId\":\"" ID1
	    "\"}]}");
	free(b);
	b = events_approval_body(two, 2);
	assert_string_equal(b, "{\"StartRequests\":[{\"EventId\":\"" ID1
	    "\"},{\"EventId\":\"" ID2 "\"}]}");
	free(b);
}

static void
test_events_type_names(void **state)
{
	assert_int_equal(events_type_from_name("Terminate"), EVENT_TERMINATE);
	assert_int_equal(events_type_from_name("preempt"), EVENT_PREEMPT);
	assert_int_equal(events_type_from_name("REBOOT"), EVENT_REBOOT);
	assert_int_equal(events_type_from_name("Redeploy"), EVENT_REDEPLOY);
	assert_int_equal(events_type_from_name("Freeze"), EVENT_FREEZE);
	assert_int_equal(events_type_from_name(""), EVENT__MAX);
	assert_int_equal(events_type_from_name("Terminated"), EVENT__MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_parse_table),
		cmocka_unit_test(test_events_fields),
		cmocka_unit_test(test_events_too_many_ours),
		cmocka_unit_test(test_events_approval_body),
		cmocka_unit_test(test_events_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
