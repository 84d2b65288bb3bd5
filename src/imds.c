/* imds.c — managed-identity tokens from IMDS (the jansson user for tokens). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "imds.h"
#include "log.h"
#include "parse.h"
#include "retry.h"

#define IMDS_API_VERSION "2018-02-01"
#define IMDS_TOKEN_PATH "/metadata/identity/oauth2/token"
/* One request: IMDS answers in milliseconds or is not there. */
#define IMDS_REQUEST_TIMEOUT_MS 5000
/* A token response is a few KiB; anything bigger is not IMDS. */
#define IMDS_BODY_MAX (64 * 1024)
/* "410 Gone: available within 70 seconds" — keep trying at least this long. */
#define IMDS_410_MIN_MS 70000
/* Backoff: full jitter from 1 s doubling to at most 10 s. */
#define IMDS_BACKOFF_BASE_MS 1000
#define IMDS_BACKOFF_CAP_MS 10000
/* A 200 whose body is not a token is retried a few times, then final. */
#define IMDS_BAD_BODY_TRIES 3

/* JSON number, or string holding a decimal integer, into *out. */
static int
json_int64(json_t *v, int64_t *out)
{
	const char *s, *p;
	int64_t n = 0;

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		if (d < 0 || d > 9.2e18)
			return -1;
		*out = (int64_t)d;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (n > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	/* tolerate a fraction ("3599.0") and trailing blanks, nothing else */
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return -1;
	*out = n;
	return 0;
}

/*
 * A token time (Unix seconds, or seconds from now): json_int64 within
 * [0, year 9999], so that later arithmetic (ms, now + expires_in) cannot
 * overflow on what the service sent.
 */
static int
json_time(json_t *v, int64_t *out)
{
	int64_t n;

	if (json_int64(v, &n) < 0 || n < 0 || n > 253402300799LL)
		return -1;
	*out = n;
	return 0;
}

int
imds_token_parse(const char *json, size_t len, struct imds_token *tok,
    char *err, size_t errsz)
{
	json_t *root = NULL, *v, *e;
	json_error_t jerr;
	const char *s;
	int64_t n;
	int rc = -1;

	memset(tok, 0, sizeof(*tok));
	err[0] = '\0';
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errsz, "not JSON (%s at offset %d)", jerr.text,
		    jerr.position);
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, errsz, "not a JSON object");
		goto out;
	}
	v = json_object_get(root, "access_token");
	s = json_is_string(v) ? json_string_value(v) : NULL;
	if (s == NULL || *s == '\0') {
		snprintf(err, errsz, "missing access_token");
		goto out;
	}
	for (const char *c = s; *c; c++) {
		if (!isgraph((unsigned char)*c)) {
			snprintf(err, errsz, "access_token has characters "
			    "a token cannot have");
			goto out;
		}
	}
	if (strlen(s) > 16 * 1024) {
		snprintf(err, errsz, "access_token too long");
		goto out;
	}
	v = json_object_get(root, "token_type");
	if (v != NULL && (!json_is_string(v) ||
	    strcasecmp(json_string_value(v), "Bearer") != 0)) {
		snprintf(err, errsz, "token_type is not Bearer");
		goto out;
	}
	/*
	 * expires_on is absolute (preferred); expires_in counts from issue.
	 * An unreadable expires_on falls back to expires_in.
	 */
	v = json_object_get(root, "expires_on");
	e = json_object_get(root, "expires_in");
	if (v != NULL && json_time(v, &n) == 0) {
		tok->expires_on = n;
	} else if (e != NULL && json_time(e, &n) == 0) {
		tok->expires_on = clock_wall_s() + n;
	} else {
		snprintf(err, errsz, "%s", v != NULL ?
		    "expires_on is not a number" : e != NULL ?
		    "expires_in is not a number" :
		    "missing expires_on and expires_in");
		goto out;
	}
	v = json_object_get(root, "not_before");
	if (v != NULL && json_time(v, &n) == 0)
		tok->not_before = n;
	v = json_object_get(root, "resource");
	if (json_is_string(v)) {
		tok->resource = strdup(json_string_value(v));
		if (tok->resource == NULL) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
	}
	tok->access_token = strdup(s);
	if (tok->access_token == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		imds_token_clear(tok);
	/* jansson's copy of the token: wipe before it goes back to malloc */
	if (root != NULL) {
		v = json_object_get(root, "access_token");
		if (json_is_string(v)) {
			size_t l = json_string_length(v);

			explicit_bzero((char *)json_string_value(v), l);
		}
		json_decref(root);
	}
	return rc;
}

void
imds_token_clear(struct imds_token *tok)
{
	if (tok == NULL)
		return;
	if (tok->access_token != NULL) {
		explicit_bzero(tok->access_token, strlen(tok->access_token));
		free(tok->access_token);
	}
	free(tok->resource);
	memset(tok, 0, sizeof(*tok));
}

/* Printable, bounded copy of server text for a message. */
static void
clean_copy(char *out, size_t outsz, const char *in)
{
	size_t o = 0;

	if (outsz == 0)
		return;
	for (; in != NULL && *in && o + 1 < outsz; in++)
		out[o++] = isprint((unsigned char)*in) ? *in : ' ';
	out[o] = '\0';
}

/* error and error_description of an IMDS error body, if it has them. */
static void
error_json(const struct http_response *resp, char *error, size_t errorsz,
    char *desc, size_t descsz)
{
	json_t *root;
	json_error_t jerr;

	error[0] = desc[0] = '\0';
	if (resp->body == NULL || resp->body_len == 0)
		return;
	root = json_loadb(resp->body, resp->body_len, 0, &jerr);
	if (root == NULL)
		return;
	if (json_is_object(root)) {
		json_t *e = json_object_get(root, "error");
		json_t *d = json_object_get(root, "error_description");

		if (json_is_string(e))
			clean_copy(error, errorsz, json_string_value(e));
		if (json_is_string(d))
			clean_copy(desc, descsz, json_string_value(d));
	}
	json_decref(root);
}

/* Which identity the request names, for URLs and messages. */
static void
identity_param(const struct config *cfg, const char **name,
    const char **value)
{
	*name = *value = NULL;
	if (cfg->client_id != NULL) {
		*name = "client_id";
		*value = cfg->client_id;
	} else if (cfg->object_id != NULL) {
		*name = "object_id";
		*value = cfg->object_id;
	} else if (cfg->msi_res_id != NULL) {
		*name = "msi_res_id";
		*value = cfg->msi_res_id;
	}
}

static char *
token_url(const struct config *cfg, const char *resource)
{
	const char *idname, *idvalue;
	char *res = NULL, *id = NULL, *url = NULL;
	size_t n;
	int w;

	identity_param(cfg, &idname, &idvalue);
	res = http_escape(resource, 0);
	if (idvalue != NULL)
		id = http_escape(idvalue, 0);
	if (res == NULL || (idvalue != NULL && id == NULL))
		goto out;
	n = strlen(cfg->imds_endpoint) + strlen(res) + (id ? strlen(id) : 0) +
	    128;
	url = malloc(n);
	if (url == NULL)
		goto out;
	w = snprintf(url, n, "%s" IMDS_TOKEN_PATH "?api-version="
	    IMDS_API_VERSION "&resource=%s%s%s%s%s", cfg->imds_endpoint, res,
	    id ? "&" : "", id ? idname : "", id ? "=" : "", id ? id : "");
	if (w < 0 || (size_t)w >= n) {
		free(url);
		url = NULL;
	}
out:
	free(res);
	free(id);
	return url;
}

/* Errors at error level, or at debug level for an optional refresh. */
#define FAIL(...)                                                              \
	do {                                                                   \
		if (quiet)                                                     \
			log_debug(__VA_ARGS__);                                \
		else                                                           \
			log_error(__VA_ARGS__);                                \
	} while (0)

/* Log why IMDS refused for good (400 and other final 4xx). */
static void
report_refused(const struct config *cfg, const struct http_response *resp,
    const char *resource, int quiet)
{
	char error[128], desc[256], what[448];
	const char *idname, *idvalue;

	error_json(resp, error, sizeof(error), desc, sizeof(desc));
	snprintf(what, sizeof(what), "%ld%s%s%s%s", resp->status,
	    error[0] ? " " : "", error, desc[0] ? ": " : "", desc);
	identity_param(cfg, &idname, &idvalue);
	if (resp->status == 400 && strcmp(error, "invalid_resource") == 0) {
		FAIL("managed identity: IMDS refused the token request "
		    "(%s): the resource %s is not valid for a token", what,
		    resource);
	} else if (resp->status == 400 && idvalue != NULL) {
		FAIL("managed identity: IMDS refused the token request "
		    "(%s): the user-assigned identity %s=%s is not assigned "
		    "to this VM; check [auth] client_id / object_id / "
		    "msi_res_id", what, idname, idvalue);
	} else if (resp->status == 400) {
		FAIL("managed identity: IMDS refused the token request "
		    "(%s): no system-assigned identity is enabled on this VM; "
		    "enable it or set [auth] client_id", what);
	} else {
		FAIL("managed identity: IMDS at %s refused the token "
		    "request (%s); check [imds] endpoint and that no proxy "
		    "or firewall sits between this VM and IMDS",
		    cfg->imds_endpoint, what);
	}
}

/* Short description of a failed attempt: "HTTP 410", "connection refused". */
static void
attempt_describe(const struct http_response *resp, const char *bad_body,
    char *out, size_t outsz)
{
	if (bad_body != NULL)
		snprintf(out, outsz, "HTTP %ld with an unusable body: %s",
		    resp->status, bad_body);
	else if (resp->err != HTTP_E_NONE)
		snprintf(out, outsz, "%s: %s", http_err_names[resp->err],
		    resp->errmsg);
	else
		snprintf(out, outsz, "HTTP %ld", resp->status);
}

static int
token_fetch(const struct config *cfg, struct http_client *http,
    const char *resource, int64_t deadline_ms, const struct clock *clock,
    int quiet, struct imds_token *tok)
{
	static const char *const headers[] = { "Metadata: true", NULL };
	struct retry_policy policy = { IMDS_BACKOFF_BASE_MS,
		IMDS_BACKOFF_CAP_MS, 0, 0 };
	struct retry_state rs;
	struct http_response resp;
	struct http_request req;
	char last[320] = "", tried[32];
	char *url = NULL;
	int rc = EXIT_TEMPORARY, bad_bodies = 0, warned = 0, seen_410 = 0;
	int64_t limit;

	memset(tok, 0, sizeof(*tok));
	memset(&resp, 0, sizeof(resp));
	if (deadline_ms <= 0)
		deadline_ms = cfg->deadline_ms;
	url = token_url(cfg, resource);
	if (url == NULL) {
		log_error("managed identity: out of memory");
		rc = EXIT_FAILURE_;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.headers = headers;
	req.imds = 1;
	req.max_body = IMDS_BODY_MAX;
	retry_begin(&rs, &policy, clock);
	for (;;) {
		char why[256];
		const char *bad_body = NULL;
		enum retry_class cls;
		int64_t left, delay, elapsed;

		http_response_clear(&resp);
		req.timeout_ms = IMDS_REQUEST_TIMEOUT_MS;
		log_trace("managed identity: GET %s", url);
		http_do(http, &req, &resp);
		if (resp.err == HTTP_E_NONE && resp.status == 200) {
			if (imds_token_parse(resp.body ? resp.body : "",
			    resp.body_len, tok, why, sizeof(why)) == 0) {
				rc = EXIT_OK;
				break;
			}
			bad_body = why;
			cls = ++bad_bodies < IMDS_BAD_BODY_TRIES ? RETRY_YES :
			    RETRY_NO;
		} else {
			cls = retry_classify(RETRY_TARGET_IMDS, resp.status,
			    resp.err, NULL);
		}
		attempt_describe(&resp, bad_body, last, sizeof(last));
		if (cls != RETRY_YES) {
			if (bad_body != NULL) {
				FAIL("managed identity: IMDS at %s "
				    "answered %s; check [imds] endpoint",
				    cfg->imds_endpoint, last);
				rc = EXIT_TEMPORARY;
			} else if (resp.err != HTTP_E_NONE) {
				FAIL("managed identity: cannot use IMDS "
				    "at %s (%s); check [imds] endpoint",
				    cfg->imds_endpoint, last);
				rc = resp.err == HTTP_E_PROTOCOL ? EXIT_CONFIG :
				    EXIT_TEMPORARY;
			} else {
				report_refused(cfg, &resp, resource, quiet);
				rc = EXIT_AUTH;
			}
			break;
		}
		/* 410: IMDS is updating and promises to be back in 70 s */
		if (resp.status == 410)
			seen_410 = 1;
		limit = deadline_ms;
		if (seen_410 && limit < IMDS_410_MIN_MS)
			limit = IMDS_410_MIN_MS;
		delay = retry_next_delay(&rs, http_response_retry_after_ms(
		    &resp));
		elapsed = retry_elapsed_ms(&rs);
		left = limit - elapsed;
		if (left <= 0 || delay < 0) {
			parse_format_duration(elapsed - elapsed % 1000, tried,
			    sizeof(tried));
			FAIL("managed identity: IMDS at %s gave no token "
			    "in %s (%d attempt%s, last: %s); it is unreachable "
			    "or still starting — check [imds] endpoint and the "
			    "VM's network, then rerun (or raise [fetch] "
			    "deadline)", cfg->imds_endpoint, tried,
			    rs.attempts, rs.attempts == 1 ? "" : "s", last);
			rc = EXIT_TEMPORARY;
			break;
		}
		if (delay > left)
			delay = left;
		if (!warned && !quiet) {
			char lim[32];

			parse_format_duration(limit, lim, sizeof(lim));
			log_warn("managed identity: IMDS not ready (%s); "
			    "retrying for up to %s", last, lim);
			warned = 1;
		} else {
			log_debug("managed identity: IMDS attempt %d: %s; "
			    "next in %" PRId64 " ms", rs.attempts, last, delay);
		}
		rs.clock->sleep_ms(rs.clock->arg, delay);
		rs.slept_ms += delay;
	}
	if (rc == EXIT_OK) {
		if (tok->resource == NULL)
			tok->resource = strdup(resource);
		if (tok->resource == NULL) {
			imds_token_clear(tok);
			log_error("managed identity: out of memory");
			rc = EXIT_FAILURE_;
		} else if (warned) {
			log_info("managed identity: IMDS answered after %d "
			    "attempts", rs.attempts + 1);
		}
	}
out:
	/* the buffered body holds the token: wipe it */
	if (resp.body != NULL)
		explicit_bzero(resp.body, resp.body_len);
	http_response_clear(&resp);
	free(url);
	return rc;
}

int
imds_token_fetch(const struct config *cfg, struct http_client *http,
    const char *resource, int64_t deadline_ms, const struct clock *clock,
    struct imds_token *tok)
{
	return token_fetch(cfg, http, resource, deadline_ms, clock, 0, tok);
}

int
imds_token_try(const struct config *cfg, struct http_client *http,
    const char *resource, int64_t deadline_ms, struct imds_token *tok)
{
	return token_fetch(cfg, http, resource, deadline_ms, NULL, 1, tok);
}
