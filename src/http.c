/*
 * http.c — libcurl behind greenlight's conventions (the only curl.h user).
 *
 * Transfers are driven with curl_multi_socket_action over an epoll set of
 * the sockets libcurl asks to watch: libcurl then works only on the
 * connections that are ready, where curl_multi_perform would look at (and
 * poll) every transfer in flight each time any socket wakes up.
 */
#include <sys/epoll.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent.h"
#include "clock.h"
#include "http.h"
#include "log.h"

#define HEADERS_MAX (64 * 1024)
#define BODY_MAX_DEFAULT (1024 * 1024)
/* Error bodies of streamed requests are kept for the message, capped. */
#define ERROR_BODY_MAX (64 * 1024)
#define EVENTS_MAX 64

const char *const http_err_names[HTTP_E__MAX] = {
	"none", "dns", "connect", "tls", "timeout", "recv", "too-big",
	"aborted", "protocol", "other"
};

struct http_xfer {
	struct http_client *client;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	void *body;
	size_t max_body;
	size_t body_cap;
	http_sink_fn sink;
	void *sink_arg;
	void *user;
	int too_big;
	int aborted;
	int done;
	int64_t started_ms;
	struct http_response resp;
	char errbuf[CURL_ERROR_SIZE];
	struct http_xfer *next; /* in client's active or done list */
};

struct http_client {
	CURLM *multi;
	CURLSH *share;
	struct http_opts opts;
	char *ca_file;
	struct http_xfer *active;
	struct http_xfer *done_head, *done_tail;
	int epfd;		/* the sockets libcurl watches */
	int64_t timer_at;	/* when libcurl wants to run, -1: no timer */
	int running;		/* transfers in flight, libcurl's count */
};

static int curl_ready;

/* libcurl: watch socket s for what (or stop watching it). */
static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct epoll_event ev;
	int op = socketp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		/* fails harmlessly when the socket is closed already */
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.fd = s;
	/* libcurl hands back what we assign to a socket it watches: a
	 * socket without it is not in the set yet */
	if (epoll_ctl(c->epfd, op, s, &ev) < 0) {
		op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
		if ((errno != EEXIST && errno != ENOENT) ||
		    epoll_ctl(c->epfd, op, s, &ev) < 0)
			return -1;
	}
	if (socketp == NULL)
		curl_multi_assign(c->multi, s, c);
	return 0;
}

/* libcurl: call back in timeout_ms (-1: no timer). */
static int
on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	c->timer_at = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
	return 0;
}

struct http_client *
http_client_new(const struct http_opts *opts)
{
	struct http_client *c;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_error("http: libcurl initialisation failed");
			return NULL;
		}
		curl_ready = 1;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->timer_at = -1;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0) {
		free(c);
		return NULL;
	}
	if (opts != NULL)
		c->opts = *opts;
	if (c->opts.connect_timeout_ms <= 0)
		c->opts.connect_timeout_ms = 10000;
	if (c->opts.total_timeout_ms <= 0)
		c->opts.total_timeout_ms = 5 * 60 * 1000;
	if (c->opts.low_speed_s <= 0)
		c->opts.low_speed_s = 30;
	if (c->opts.low_speed_bps <= 0)
		c->opts.low_speed_bps = 1;
	if (c->opts.max_conns <= 0)
		c->opts.max_conns = 16;
	if (c->opts.ca_file != NULL) {
		c->ca_file = strdup(c->opts.ca_file);
		if (c->ca_file == NULL)
			goto fail;
	}
	c->opts.ca_file = c->ca_file;
	c->multi = curl_multi_init();
	c->share = curl_share_init();
	if (c->multi == NULL || c->share == NULL)
		goto fail;
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->opts.max_conns);
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket) !=
	    CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer) !=
	    CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK)
		goto fail;
	return c;
fail:
	http_client_free(c);
	return NULL;
}

static void
xfer_unlink(struct http_xfer *x)
{
	struct http_client *c = x->client;
	struct http_xfer **pp;

	for (pp = &c->active; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			x->next = NULL;
			return;
		}
	}
	for (pp = &c->done_head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			if (c->done_tail == x) {
				struct http_xfer *t = c->done_head;

				while (t != NULL && t->next != NULL)
					t = t->next;
				c->done_tail = t;
			}
			x->next = NULL;
			return;
		}
	}
}

void
http_xfer_free(struct http_xfer *x)
{
	if (x == NULL)
		return;
	if (x->client != NULL) {
		xfer_unlink(x);
		if (x->easy != NULL && !x->done)
			curl_multi_remove_handle(x->client->multi, x->easy);
	}
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	/* request headers may carry credentials (Authorization) */
	for (struct curl_slist *h = x->hdrs; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(x->hdrs);
	free(x->url);
	free(x->body);
	http_response_clear(&x->resp);
	free(x);
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	while (c->active != NULL)
		http_xfer_free(c->active);
	while (c->done_head != NULL)
		http_xfer_free(c->done_head);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	if (c->share != NULL)
		curl_share_cleanup(c->share);
	if (c->epfd >= 0)
		close(c->epfd);
	free(c->ca_file);
	free(c);
}

void
http_response_clear(struct http_response *resp)
{
	free(resp->body);
	free(resp->headers);
	memset(resp, 0, sizeof(*resp));
}

/* Append to a growing buffer, keeping it NUL-terminated; -1 past max. */
static int
buf_append(char **buf, size_t *len, size_t *cap, size_t max, const char *p,
    size_t n)
{
	if (*len + n > max)
		return -1;
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap : 1024;
		char *nb;

		while (ncap < *len + n + 1)
			ncap *= 2;
		nb = realloc(*buf, ncap);
		if (nb == NULL)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_xfer *x = arg;
	size_t n = size * nmemb;
	char *nb;

	/* a new status line starts a new header block (100, redirects) */
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		free(x->resp.headers);
		x->resp.headers = NULL;
		x->resp.headers_len = 0;
	}
	if (x->resp.headers_len + n > HEADERS_MAX)
		return 0;
	nb = realloc(x->resp.headers, x->resp.headers_len + n + 1);
	if (nb == NULL)
		return 0;
	x->resp.headers = nb;
	memcpy(nb + x->resp.headers_len, p, n);
	x->resp.headers_len += n;
	nb[x->resp.headers_len] = '\0';
	return n;
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_xfer *x = arg;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	x->resp.bytes += (int64_t)n;
	if (x->sink != NULL && status >= 200 && status < 300) {
		if (x->sink(x->sink_arg, p, n) < 0) {
			x->aborted = 1;
			return 0;
		}
		return n;
	}
	if (buf_append(&x->resp.body, &x->resp.body_len, &x->body_cap,
	    x->sink != NULL ? ERROR_BODY_MAX : x->max_body, p, n) < 0) {
		x->too_big = 1;
		return 0;
	}
	return n;
}

#define SETOPT(h, opt, val)                                                    \
	do {                                                                   \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) {         \
			log_error("http: curl_easy_setopt(%s) failed", #opt);  \
			goto fail;                                             \
		}                                                              \
	} while (0)

struct http_xfer *
http_xfer_start(struct http_client *c, const struct http_request *req,
    void *user)
{
	struct http_xfer *x;
	const char *method = req->method ? req->method : "GET";
	int64_t timeout = req->timeout_ms > 0 ? req->timeout_ms :
	    c->opts.total_timeout_ms;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->client = c;
	x->user = user;
	x->sink = req->sink;
	x->sink_arg = req->sink_arg;
	x->max_body = req->max_body ? req->max_body : BODY_MAX_DEFAULT;
	x->url = strdup(req->url);
	x->easy = curl_easy_init();
	if (x->url == NULL || x->easy == NULL)
		goto fail;
	for (const char *const *h = req->headers; h != NULL && *h != NULL;
	    h++) {
		struct curl_slist *n = curl_slist_append(x->hdrs, *h);

		if (n == NULL)
			goto fail;
		x->hdrs = n;
	}
	/* no "Expect: 100-continue" round trip on uploads */
	{
		struct curl_slist *n = curl_slist_append(x->hdrs, "Expect:");

		if (n == NULL)
			goto fail;
		x->hdrs = n;
	}
	SETOPT(x->easy, CURLOPT_URL, x->url);
	SETOPT(x->easy, CURLOPT_PRIVATE, x);
	SETOPT(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(x->easy, CURLOPT_NOSIGNAL, 1L);
	SETOPT(x->easy, CURLOPT_SHARE, c->share);
	SETOPT(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		SETOPT(x->easy, CURLOPT_CAINFO, c->ca_file);
	SETOPT(x->easy, CURLOPT_PROTOCOLS_STR, req->imds ? "http,https" :
	    "https");
	if (req->imds) {
		/* IMDS refuses proxied requests; ignore *_proxy variables */
		SETOPT(x->easy, CURLOPT_PROXY, "");
		SETOPT(x->easy, CURLOPT_NOPROXY, "*");
	}
	SETOPT(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)c->opts.connect_timeout_ms);
	SETOPT(x->easy, CURLOPT_TIMEOUT_MS, (long)timeout);
	SETOPT(x->easy, CURLOPT_LOW_SPEED_LIMIT, c->opts.low_speed_bps);
	SETOPT(x->easy, CURLOPT_LOW_SPEED_TIME, c->opts.low_speed_s);
	SETOPT(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(x->easy, CURLOPT_TCP_NODELAY, 1L);
	SETOPT(x->easy, CURLOPT_BUFFERSIZE, 256L * 1024);
	SETOPT(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	SETOPT(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(x->easy, CURLOPT_HEADERDATA, x);
	SETOPT(x->easy, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(x->easy, CURLOPT_WRITEDATA, x);
	SETOPT(x->easy, CURLOPT_USERAGENT, "greenlight/" GREENLIGHT_VERSION);
	if (strcmp(method, "HEAD") == 0) {
		SETOPT(x->easy, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		x->body = malloc(req->body_len + 1);
		if (x->body == NULL)
			goto fail;
		if (req->body_len > 0)
			memcpy(x->body, req->body, req->body_len);
		SETOPT(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
		SETOPT(x->easy, CURLOPT_POSTFIELDS, x->body);
		if (strcmp(method, "POST") != 0)
			SETOPT(x->easy, CURLOPT_CUSTOMREQUEST, method);
	}
	if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
		log_error("http: cannot start transfer");
		goto fail;
	}
	x->started_ms = clock_mono_ms();
	x->next = c->active;
	c->active = x;
	return x;
fail:
	x->client = NULL;
	http_xfer_free(x);
	return NULL;
}

static enum http_err
err_class(struct http_xfer *x, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_E_NONE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_E_DNS;
	case CURLE_COULDNT_CONNECT:
		return HTTP_E_CONNECT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return HTTP_E_TLS;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_E_TIMEOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_READ_ERROR:
		return HTTP_E_RECV;
	case CURLE_WRITE_ERROR:
		if (x->too_big)
			return HTTP_E_TOO_BIG;
		if (x->aborted)
			return HTTP_E_ABORTED;
		return HTTP_E_OTHER;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_E_TOO_BIG;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return HTTP_E_PROTOCOL;
	default:
		return HTTP_E_OTHER;
	}
}

static void
xfer_finish(struct http_xfer *x, CURLcode rc)
{
	struct http_client *c = x->client;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->resp.status);
	x->resp.err = err_class(x, rc);
	if (x->resp.err != HTTP_E_NONE)
		snprintf(x->resp.errmsg, sizeof(x->resp.errmsg), "%s",
		    x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
	x->resp.elapsed_ms = clock_mono_ms() - x->started_ms;
	curl_multi_remove_handle(c->multi, x->easy);
	x->done = 1;
	xfer_unlink(x);
	if (c->done_tail != NULL)
		c->done_tail->next = x;
	else
		c->done_head = x;
	c->done_tail = x;
}

static void
collect_done(struct http_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct http_xfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &x);
		if (x != NULL)
			xfer_finish(x, m->data.result);
	}
}

/*
 * Wait at most wait_ms for a socket libcurl watches (less when its timer
 * is due sooner), let libcurl work on the ready ones and on its timer,
 * and collect the transfers that finished.
 */
static void
client_step(struct http_client *c, int64_t wait_ms)
{
	struct epoll_event ev[EVENTS_MAX];
	int64_t now = clock_mono_ms();
	int n;

	if (c->timer_at >= 0 && c->timer_at - now < wait_ms)
		wait_ms = c->timer_at > now ? c->timer_at - now : 0;
	if (wait_ms < 0)
		wait_ms = 0;
	n = epoll_wait(c->epfd, ev, EVENTS_MAX, (int)wait_ms);
	for (int i = 0; i < n; i++) {
		int mask = 0;

		if (ev[i].events & (EPOLLIN | EPOLLHUP))
			mask |= CURL_CSELECT_IN;
		if (ev[i].events & EPOLLOUT)
			mask |= CURL_CSELECT_OUT;
		if (ev[i].events & EPOLLERR)
			mask |= CURL_CSELECT_ERR;
		curl_multi_socket_action(c->multi, ev[i].data.fd, mask,
		    &c->running);
	}
	if (c->timer_at >= 0 && clock_mono_ms() >= c->timer_at) {
		c->timer_at = -1;
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
		    &c->running);
	}
	collect_done(c);
}

int
http_client_run(struct http_client *c, int timeout_ms)
{
	int64_t end = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		int64_t left = end - clock_mono_ms();

		client_step(c, left > 1000 ? 1000 : left);
		if (c->done_head != NULL || c->active == NULL ||
		    end - clock_mono_ms() <= 0)
			break;
	}
	return c->running;
}

struct http_xfer *
http_client_done(struct http_client *c, void **user,
    struct http_response **resp)
{
	struct http_xfer *x = c->done_head;

	if (x == NULL)
		return NULL;
	if (user != NULL)
		*user = x->user;
	if (resp != NULL)
		*resp = &x->resp;
	return x;
}

int
http_do(struct http_client *c, const struct http_request *req,
    struct http_response *resp)
{
	struct http_xfer *x;

	memset(resp, 0, sizeof(*resp));
	x = http_xfer_start(c, req, NULL);
	if (x == NULL) {
		resp->err = HTTP_E_OTHER;
		snprintf(resp->errmsg, sizeof(resp->errmsg),
		    "cannot start request");
		return -1;
	}
	/* other transfers may progress meanwhile; their results stay queued */
	while (!x->done)
		client_step(c, 1000);
	*resp = x->resp;
	memset(&x->resp, 0, sizeof(x->resp));
	http_xfer_free(x);
	return resp->err == HTTP_E_NONE ? 0 : -1;
}

char *
http_response_header(const struct http_response *resp, const char *name,
    char *out, size_t outsz)
{
	const char *p = resp->headers;
	size_t nl = strlen(name);

	if (p == NULL)
		return NULL;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			const char *e = p + len;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' '))
				e--;
			if ((size_t)(e - v) >= outsz)
				return NULL;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return out;
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return NULL;
}

int64_t
http_response_retry_after_ms(const struct http_response *resp)
{
	char v[128];
	char *end;
	long long secs;
	time_t when;

	if (http_response_header(resp, "Retry-After", v, sizeof(v)) == NULL)
		return -1;
	secs = strtoll(v, &end, 10);
	if (end != v && *end == '\0' && secs >= 0)
		return secs > 3600 ? 3600000 : secs * 1000;
	when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	secs = (long long)(when - time(NULL));
	return secs < 0 ? 0 : (secs > 3600 ? 3600000 : secs * 1000);
}

char *
http_escape(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' ||
		    ch == '~' || (keep_slash && ch == '/')) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}
