/*
 * fuzz_events.c — an IMDS Scheduled Events document through events_parse,
 * for a known VM name and for none yet, then the approval body of what it
 * kept. Every event is counted once; kept ids are GUID-like and fit.
 */
#include <string.h>

#include "fuzz.h"
#include "health/events.h"

static void
check_doc(const struct sched_doc *doc)
{
	const char *ids[EVENTS_OURS_MAX];
	char *body;

	FUZZ_CHECK(doc->nours >= 0 && doc->nours <= EVENTS_OURS_MAX);
	FUZZ_CHECK(doc->total == doc->others + doc->invalid + doc->nours);
	for (int i = 0; i < doc->nours; i++) {
		const struct sched_event *e = &doc->ours[i];

		FUZZ_CHECK(memchr(e->id, '\0', sizeof(e->id)) != NULL);
		FUZZ_CHECK(e->id[0] != '\0');
		FUZZ_CHECK(strspn(e->id, "0123456789abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_{}") == strlen(e->id));
		FUZZ_CHECK(memchr(e->type_name, '\0', sizeof(e->type_name)));
		FUZZ_CHECK(memchr(e->not_before, '\0', sizeof(e->not_before)));
		FUZZ_CHECK(memchr(e->source, '\0', sizeof(e->source)));
		FUZZ_CHECK((int)e->type >= 0 && e->type <= EVENT__MAX);
		ids[i] = e->id;
	}
	if (doc->nours == 0)
		return;
	body = events_approval_body(ids, doc->nours);
	FUZZ_CHECK(body != NULL);
	for (int i = 0; i < doc->nours; i++)
		FUZZ_CHECK(strstr(body, ids[i]) != NULL);
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const vms[] = { "myvmss_3", NULL };
	struct sched_doc doc;
	char err[256];

	fuzz_log_sample();
	for (size_t v = 0; v < sizeof(vms) / sizeof(vms[0]); v++) {
		err[0] = '\0';
		if (events_parse((const char *)data, size, vms[v], &doc, err,
		    sizeof(err)) < 0) {
			FUZZ_CHECK(err[0] != '\0');
			continue;
		}
		check_doc(&doc);
		if (vms[v] == NULL)
			FUZZ_CHECK(doc.nours == 0);
	}
	return 0;
}
