/*
 * events.h — IMDS Scheduled Events and this VM's name. Parses the documented
 * document (DocumentIncarnation, Events[] with EventId, EventType,
 * EventStatus, Resources, NotBefore), keeps only this VM's events, and sends
 * approvals ({"StartRequests":[{"EventId": ...}]}). Plain HTTP to IMDS,
 * "Metadata: true", never through a proxy.
 */
#ifndef GREENLIGHT_HEALTH_EVENTS_H
#define GREENLIGHT_HEALTH_EVENTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"

#define EVENT_ID_MAX 65	    /* a GUID is 36; room for variants, + NUL */
#define EVENTS_OURS_MAX 16  /* this VM's events kept from one document */
#define VM_NAME_MAX 129	    /* compute.name is at most 64 in Azure */

/* One event whose Resources include this VM. */
struct sched_event {
	char id[EVENT_ID_MAX];	 /* EventId as IMDS spells it */
	enum event_type type;	 /* EVENT__MAX when not a known type */
	char type_name[24];	 /* EventType text (for unknown types) */
	int started;		 /* EventStatus "Started" (else Scheduled) */
	char not_before[40];	 /* NotBefore text, "" once started */
	char source[16];	 /* EventSource: "Platform" / "User" / "" */
};

/* What one poll returned, reduced to what the drain needs. */
struct sched_doc {
	int64_t incarnation;	 /* DocumentIncarnation, -1 when absent */
	int total;		 /* events in the document */
	int others;		 /* events not for this VM */
	int invalid;		 /* events skipped: no usable EventId */
	int nours;
	struct sched_event ours[EVENTS_OURS_MAX];
};

/* Result of an IMDS call, for the caller to branch on. */
enum events_result {
	EVENTS_OK,
	EVENTS_UNREACHABLE, /* transport failure or timeout */
	EVENTS_STATUS,	    /* an HTTP status other than 200 */
	EVENTS_MALFORMED,   /* 200 but not the documented shape */
	EVENTS__MAX
};
extern const char *const events_result_names[EVENTS__MAX];

/*
 * Parse a Scheduled Events document; vm_name (NULL = unknown) selects which
 * events are ours (Resources, case-insensitive). Returns 0, or -1 with a
 * reason in err when the document is not the documented shape.
 */
int events_parse(const char *json, size_t len, const char *vm_name,
    struct sched_doc *doc, char *err, size_t errsz);
/* The approval body for ids[0..n-1]; caller frees. NULL on failure. */
char *events_approval_body(const char *const *ids, int n);
/* EventType text -> enum event_type, case-insensitive; EVENT__MAX if none. */
enum event_type events_type_from_name(const char *name);

/*
 * GET {endpoint}/metadata/scheduledevents and parse it. The request is
 * abandoned when *cancel (may be NULL) becomes non-zero. status gets the
 * HTTP status (0 without a response), err a short reason for logs.
 */
enum events_result events_fetch(struct http_client *http,
    const char *endpoint, int64_t timeout_ms, const atomic_int *cancel,
    const char *vm_name, struct sched_doc *doc, long *status, char *err,
    size_t errsz);
/* POST the approval of ids[0..n-1]; same conventions. */
enum events_result events_approve(struct http_client *http,
    const char *endpoint, int64_t timeout_ms, const atomic_int *cancel,
    const char *const *ids, int n, long *status, char *err, size_t errsz);
/* GET compute/name (format=text) into out; same conventions. */
enum events_result events_vm_name(struct http_client *http,
    const char *endpoint, int64_t timeout_ms, const atomic_int *cancel,
    char *out, size_t outsz, long *status, char *err, size_t errsz);

#endif
