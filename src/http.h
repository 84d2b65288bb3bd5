/*
 * http.h — the only interface to libcurl. Blocking requests and a parallel
 * transfer engine over one connection cache; every request has caps on
 * size and time, TLS verification is always on, plain HTTP only for IMDS,
 * and IMDS never goes through a proxy.
 */
#ifndef GREENLIGHT_HTTP_H
#define GREENLIGHT_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* How a request failed below HTTP (status 0). */
enum http_err {
	HTTP_E_NONE,	  /* a response arrived (any status) */
	HTTP_E_DNS,	  /* host name did not resolve */
	HTTP_E_CONNECT,	  /* connection refused / unreachable */
	HTTP_E_TLS,	  /* TLS handshake or certificate verification */
	HTTP_E_TIMEOUT,	  /* connect, total or low-speed timeout */
	HTTP_E_RECV,	  /* reset, short body, broken transfer */
	HTTP_E_TOO_BIG,	  /* response larger than max_body */
	HTTP_E_ABORTED,	  /* the sink refused the data */
	HTTP_E_PROTOCOL,  /* scheme not allowed, bad URL */
	HTTP_E_OTHER,
	HTTP_E__MAX
};
extern const char *const http_err_names[HTTP_E__MAX];

/* Client-wide settings. */
struct http_opts {
	const char *ca_file;	    /* extra CA bundle, or NULL for system */
	int64_t connect_timeout_ms; /* default 10 s */
	int64_t total_timeout_ms;   /* default per request 5 min */
	long low_speed_bps;	    /* abort below this rate ... */
	long low_speed_s;	    /* ... for this long (default 1 B/s, 30 s) */
	long max_conns;		    /* connection cache size (default 16) */
};

/* Receives body bytes as they arrive; return 0, or -1 to abort. */
typedef int (*http_sink_fn)(void *arg, const void *buf, size_t len);

struct http_request {
	const char *method;	     /* "GET" (default), "POST", "PUT", "HEAD" */
	const char *url;
	const char *const *headers;  /* NULL-terminated "Name: value" lines */
	const void *body;	     /* request body, or NULL */
	size_t body_len;
	size_t max_body;	     /* cap on a buffered body (default 1 MiB) */
	int64_t timeout_ms;	     /* overall; 0 = client default */
	int imds;		     /* plain http allowed, never a proxy */
	http_sink_fn sink;	     /* stream the body here (2xx only) ... */
	void *sink_arg;		     /* ... instead of buffering it */
};

struct http_response {
	long status;		 /* HTTP status, 0 when no response */
	enum http_err err;	 /* transport failure class */
	char errmsg[256];	 /* libcurl's words for err */
	char *body;		 /* NUL-terminated buffered body (or NULL) */
	size_t body_len;
	char *headers;		 /* raw header block of the final response */
	size_t headers_len;
	int64_t bytes;		 /* body bytes received (buffered or sunk) */
	int64_t elapsed_ms;
};

struct http_client;
struct http_xfer;

/* New client (connection cache, parallel engine); NULL on failure. */
struct http_client *http_client_new(const struct http_opts *opts);
/* Free a client and abort its transfers; NULL is fine. */
void http_client_free(struct http_client *c);

/*
 * Perform one request, blocking. Fills resp (caller frees with
 * http_response_clear). Returns 0 when a response arrived (any status),
 * -1 on transport failure (resp->err, resp->errmsg say which; not logged).
 */
int http_do(struct http_client *c, const struct http_request *req,
    struct http_response *resp);

/* Free what a response holds and zero it. */
void http_response_clear(struct http_response *resp);
/*
 * Value of response header name (case-insensitive), copied to out; returns
 * out, or NULL when absent or too long.
 */
char *http_response_header(const struct http_response *resp,
    const char *name, char *out, size_t outsz);
/* Retry-After in milliseconds (seconds or HTTP-date), or -1 when absent. */
int64_t http_response_retry_after_ms(const struct http_response *resp);

/*
 * Parallel engine. http_xfer_start() queues a request (copying what it
 * needs) tagged with user; http_client_run() drives all transfers for at
 * most timeout_ms and returns the number in flight. A finished transfer
 * comes back from http_client_done() with its response; the caller then
 * frees it with http_xfer_free(). The request's sink may be called from
 * inside http_client_run().
 */
struct http_xfer *http_xfer_start(struct http_client *c,
    const struct http_request *req, void *user);
int http_client_run(struct http_client *c, int timeout_ms);
struct http_xfer *http_client_done(struct http_client *c, void **user,
    struct http_response **resp);
/* Abort (if running) and free a transfer. */
void http_xfer_free(struct http_xfer *x);
/* URL-encode s (RFC 3986 unreserved kept; '/' kept when keep_slash). */
char *http_escape(const char *s, int keep_slash);

#endif
