/* events.c — Scheduled Events and compute.name from IMDS (jansson here). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "agent.h"
#include "health/events.h"
#include "log.h"

#define SE_API "api-version=2020-07-01"
#define NAME_API "api-version=2021-02-01&format=text"
#define DOC_MAX (256 * 1024) /* a document far larger is not IMDS */

const char *const events_result_names[EVENTS__MAX] = {
	"ok", "unreachable", "status", "malformed"
};

static const char *const imds_headers[] = { "Metadata: true", NULL };
static const char *const imds_post_headers[] = {
	"Metadata: true", "Content-Type: application/json", NULL
};

enum event_type
events_type_from_name(const char *name)
{
	for (int i = 0; i < EVENT__MAX; i++)
		if (strcasecmp(name, event_type_names[i]) == 0)
			return (enum event_type)i;
	return EVENT__MAX;
}

/* Member key of obj: exact spelling first, then any letter case. */
static json_t *
obj_get(json_t *obj, const char *key)
{
	const char *k;
	json_t *v;

	v = json_object_get(obj, key);
	if (v != NULL)
		return v;
	json_object_foreach(obj, k, v) {
		if (strcasecmp(k, key) == 0)
			return v;
	}
	return NULL;
}

/* String member copied into out ("" when absent, not a string or too long). */
static void
obj_str(json_t *obj, const char *key, char *out, size_t outsz)
{
	json_t *v = obj_get(obj, key);
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	if (snprintf(out, outsz, "%s", s) >= (int)outsz)
		out[0] = '\0';
}

/* An EventId we are willing to echo back and log: GUID-like characters. */
static int
event_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= EVENT_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '{' && s[i] != '}')
			return 0;
	return 1;
}

static int
resources_include(json_t *res, const char *vm_name)
{
	size_t i;
	json_t *r;

	if (vm_name == NULL || !json_is_array(res))
		return 0;
	json_array_foreach(res, i, r) {
		if (json_is_string(r) &&
		    strcasecmp(json_string_value(r), vm_name) == 0)
			return 1;
	}
	return 0;
}

static int64_t
incarnation_of(json_t *v)
{
	char *end;
	long long n;

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v)) {
		n = strtoll(json_string_value(v), &end, 10);
		if (end != json_string_value(v) && *end == '\0' && n >= 0)
			return (int64_t)n;
	}
	return -1;
}

int
events_parse(const char *json, size_t len, const char *vm_name,
    struct sched_doc *doc, char *err, size_t errsz)
{
	json_t *root = NULL, *events, *e;
	json_error_t jerr;
	size_t i;
	int rc = -1;

	memset(doc, 0, sizeof(*doc));
	doc->incarnation = -1;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errsz, "not JSON: %s (line %d)", jerr.text,
		    jerr.line);
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, errsz, "not a JSON object");
		goto out;
	}
	doc->incarnation = incarnation_of(obj_get(root, "DocumentIncarnation"));
	events = obj_get(root, "Events");
	if (!json_is_array(events)) {
		snprintf(err, errsz, "no Events array");
		goto out;
	}
	json_array_foreach(events, i, e) {
		struct sched_event *se;
		char id[EVENT_ID_MAX + 64], status[24];

		doc->total++;
		if (!json_is_object(e)) {
			doc->invalid++;
			continue;
		}
		obj_str(e, "EventId", id, sizeof(id));
		if (!event_id_valid(id)) {
			doc->invalid++;
			continue;
		}
		if (!resources_include(obj_get(e, "Resources"), vm_name)) {
			doc->others++;
			continue;
		}
		if (doc->nours >= EVENTS_OURS_MAX) {
			doc->invalid++;
			continue;
		}
		se = &doc->ours[doc->nours++];
		memcpy(se->id, id, strlen(id) + 1); /* valid: fits */
		obj_str(e, "EventType", se->type_name, sizeof(se->type_name));
		se->type = events_type_from_name(se->type_name);
		obj_str(e, "EventStatus", status, sizeof(status));
		se->started = strcasecmp(status, "Started") == 0;
		obj_str(e, "NotBefore", se->not_before, sizeof(se->not_before));
		obj_str(e, "EventSource", se->source, sizeof(se->source));
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

char *
events_approval_body(const char *const *ids, int n)
{
	json_t *root = NULL, *arr = NULL, *item;
	char *body = NULL;

	root = json_object();
	arr = json_array();
	if (root == NULL || arr == NULL)
		goto out;
	for (int i = 0; i < n; i++) {
		item = json_pack("{s:s}", "EventId", ids[i]);
		if (item == NULL || json_array_append_new(arr, item) < 0)
			goto out;
	}
	if (json_object_set_new(root, "StartRequests", arr) < 0) {
		arr = NULL;
		goto out;
	}
	arr = NULL;
	body = json_dumps(root, JSON_COMPACT);
out:
	json_decref(arr);
	json_decref(root);
	return body;
}

/* Build {endpoint}{path}?{query}; -1 when it does not fit. */
static int
imds_url(char *out, size_t outsz, const char *endpoint, const char *path,
    const char *query)
{
	int n = snprintf(out, outsz, "%s%s?%s", endpoint, path, query);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/*
 * One IMDS request through the parallel engine, so a stop request can
 * abandon it (the first Scheduled Events call may take two minutes).
 * Fills resp, status and err; returns the result class.
 */
static enum events_result
imds_call(struct http_client *http, const struct http_request *req,
    const atomic_int *cancel, struct http_response *resp, long *status,
    char *err, size_t errsz)
{
	struct http_xfer *x, *done;
	struct http_response *r = NULL;

	*status = 0;
	memset(resp, 0, sizeof(*resp));
	x = http_xfer_start(http, req, NULL);
	if (x == NULL) {
		snprintf(err, errsz, "cannot start a request");
		return EVENTS_UNREACHABLE;
	}
	for (;;) {
		http_client_run(http, 200);
		done = http_client_done(http, NULL, &r);
		if (done == x)
			break;
		if (cancel != NULL && atomic_load(cancel)) {
			http_xfer_free(x);
			snprintf(err, errsz, "cancelled");
			return EVENTS_UNREACHABLE;
		}
	}
	*resp = *r;
	memset(r, 0, sizeof(*r));
	http_xfer_free(x);
	if (resp->err != HTTP_E_NONE) {
		snprintf(err, errsz, "%s (%s)", http_err_names[resp->err],
		    resp->errmsg);
		return EVENTS_UNREACHABLE;
	}
	*status = resp->status;
	if (resp->status != 200) {
		snprintf(err, errsz, "HTTP %ld", resp->status);
		return EVENTS_STATUS;
	}
	return EVENTS_OK;
}

enum events_result
events_fetch(struct http_client *http, const char *endpoint,
    int64_t timeout_ms, const atomic_int *cancel, const char *vm_name,
    struct sched_doc *doc, long *status, char *err, size_t errsz)
{
	struct http_request req = { 0 };
	struct http_response resp = { 0 };
	enum events_result r;
	char url[1024];

	if (imds_url(url, sizeof(url), endpoint, "/metadata/scheduledevents",
	    SE_API) < 0) {
		snprintf(err, errsz, "IMDS endpoint too long");
		*status = 0;
		return EVENTS_UNREACHABLE;
	}
	req.url = url;
	req.headers = imds_headers;
	req.max_body = DOC_MAX;
	req.timeout_ms = timeout_ms;
	req.imds = 1;
	r = imds_call(http, &req, cancel, &resp, status, err, errsz);
	if (r == EVENTS_OK && events_parse(resp.body ? resp.body : "",
	    resp.body_len, vm_name, doc, err, errsz) < 0)
		r = EVENTS_MALFORMED;
	http_response_clear(&resp);
	return r;
}

enum events_result
events_approve(struct http_client *http, const char *endpoint,
    int64_t timeout_ms, const atomic_int *cancel, const char *const *ids,
    int n, long *status, char *err, size_t errsz)
{
	struct http_request req = { 0 };
	struct http_response resp = { 0 };
	enum events_result r;
	char url[1024], *body = NULL;

	*status = 0;
	if (imds_url(url, sizeof(url), endpoint, "/metadata/scheduledevents",
	    SE_API) < 0) {
		snprintf(err, errsz, "IMDS endpoint too long");
		return EVENTS_UNREACHABLE;
	}
	body = events_approval_body(ids, n);
	if (body == NULL) {
		snprintf(err, errsz, "out of memory");
		return EVENTS_UNREACHABLE;
	}
	req.method = "POST";
	req.url = url;
	req.headers = imds_post_headers;
	req.body = body;
	req.body_len = strlen(body);
	req.max_body = 64 * 1024;
	req.timeout_ms = timeout_ms;
	req.imds = 1;
	r = imds_call(http, &req, cancel, &resp, status, err, errsz);
	http_response_clear(&resp);
	free(body);
	return r;
}

enum events_result
events_vm_name(struct http_client *http, const char *endpoint,
    int64_t timeout_ms, const atomic_int *cancel, char *out, size_t outsz,
    long *status, char *err, size_t errsz)
{
	struct http_request req = { 0 };
	struct http_response resp = { 0 };
	enum events_result r;
	char url[1024];
	size_t n;

	if (imds_url(url, sizeof(url), endpoint,
	    "/metadata/instance/compute/name", NAME_API) < 0) {
		snprintf(err, errsz, "IMDS endpoint too long");
		*status = 0;
		return EVENTS_UNREACHABLE;
	}
	req.url = url;
	req.headers = imds_headers;
	req.max_body = 4096;
	req.timeout_ms = timeout_ms;
	req.imds = 1;
	r = imds_call(http, &req, cancel, &resp, status, err, errsz);
	if (r == EVENTS_OK) {
		const char *b = resp.body ? resp.body : "";

		n = resp.body_len;
		while (n > 0 && isspace((unsigned char)b[n - 1]))
			n--;
		if (n == 0 || n >= outsz || n >= VM_NAME_MAX ||
		    memchr(b, '\0', n) != NULL) {
			snprintf(err, errsz, "compute/name: %s",
			    n == 0 ? "empty" : "not a VM name");
			r = EVENTS_MALFORMED;
		} else {
			memcpy(out, b, n);
			out[n] = '\0';
			for (size_t i = 0; i < n; i++) {
				if (!isgraph((unsigned char)out[i])) {
					snprintf(err, errsz,
					    "compute/name: not a VM name");
					r = EVENTS_MALFORMED;
					break;
				}
			}
		}
	}
	http_response_clear(&resp);
	return r;
}
