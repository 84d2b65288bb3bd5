/* poller.c — the Scheduled Events poller thread. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "clock.h"
#include "health/poller.h"
#include "health/worker.h"
#include "log.h"

/* "expect a delayed response in your first call of up to two minutes" */
#define FIRST_TIMEOUT_MS (120 * 1000)
#define POLL_TIMEOUT_MS (10 * 1000)
#define NAME_TIMEOUT_MS (10 * 1000)
#define NAME_RETRY_MS (10 * 1000)
/* after failures, polls back off up to this */
#define BACKOFF_CAP_MS (10 * 1000)

struct poller {
	struct health *h;
	const char *endpoint;
	int64_t interval_ms;
	struct http_client *http;
	struct worker w;
};

/* Read compute.name; 0 when known (out filled). Logs the first failure. */
static int
read_vm_name(struct poller *p, char *out, size_t outsz, int *warned)
{
	enum events_result r;
	char err[512];
	long status;

	r = events_vm_name(p->http, p->endpoint, NAME_TIMEOUT_MS, &p->w.stop,
	    out, outsz, &status, err, sizeof(err));
	if (r == EVENTS_OK) {
		log_info("health: this VM is \"%s\" (IMDS compute.name); "
		    "acting on Scheduled Events that list it", out);
		health_set_vm_name(p->h, out);
		return 0;
	}
	if (!*warned && !atomic_load(&p->w.stop)) {
		log_warn("health: cannot read this VM's name from IMDS "
		    "(%s/metadata/instance/compute/name: %s); Scheduled Events "
		    "cannot be matched to this VM until it can; retrying",
		    p->endpoint, err);
		*warned = 1;
	}
	return -1;
}

static void *
poller_main(void *arg)
{
	struct poller *p = arg;
	char name[VM_NAME_MAX] = "", err[512];
	int have_name = 0, name_warned = 0, answered = 0, failures = 0;
	int64_t name_at = 0, next;
	struct sched_doc *doc;

	doc = malloc(sizeof(*doc));
	if (doc == NULL) {
		log_error("health: out of memory in the poller");
		return NULL;
	}
	while (!atomic_load(&p->w.stop)) {
		enum events_result r;
		int64_t start = clock_mono_ms(), delay;
		long status;

		if (!have_name && start >= name_at) {
			have_name = read_vm_name(p, name, sizeof(name),
			    &name_warned) == 0;
			name_at = clock_mono_ms() + NAME_RETRY_MS;
			if (atomic_load(&p->w.stop))
				break;
		}
		/* until IMDS has answered once, allow the slow first call */
		r = events_fetch(p->http, p->endpoint, answered ?
		    POLL_TIMEOUT_MS : FIRST_TIMEOUT_MS, &p->w.stop,
		    have_name ? name : NULL, doc, &status, err, sizeof(err));
		if (atomic_load(&p->w.stop))
			break;
		if (r == EVENTS_OK) {
			answered = 1;
			failures = 0;
			health_on_events(p->h, doc);
		} else {
			if (r != EVENTS_UNREACHABLE)
				answered = 1;
			failures++;
			health_on_imds_error(p->h, r, status, err, start);
		}
		delay = p->interval_ms;
		for (int i = 1; i < failures && delay < BACKOFF_CAP_MS; i++)
			delay *= 2;
		if (delay > BACKOFF_CAP_MS && p->interval_ms < BACKOFF_CAP_MS)
			delay = BACKOFF_CAP_MS;
		next = start + delay;
		if (worker_sleep_until(&p->w, next))
			break;
	}
	free(doc);
	return NULL;
}

struct poller *
poller_start(struct health *h, const char *endpoint, int64_t interval_ms,
    struct http_client *http)
{
	struct poller *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		log_error("health: out of memory");
		return NULL;
	}
	p->h = h;
	p->endpoint = endpoint;
	p->interval_ms = interval_ms > 0 ? interval_ms : 1000;
	p->http = http;
	if (worker_start(&p->w, poller_main, p) < 0) {
		log_error("health: cannot start the Scheduled Events poller");
		free(p);
		return NULL;
	}
	return p;
}

void
poller_stop(struct poller *p)
{
	if (p == NULL)
		return;
	worker_stop(&p->w);
	free(p);
}
