/* check.c — the workload checker thread (HTTP via http.h, or TCP connect). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "agent.h"
#include "clock.h"
#include "health/check.h"
#include "health/worker.h"
#include "log.h"

const char *const check_state_names[CHECK__MAX] = {
	"none", "unknown", "up", "down"
};

void
check_flip_init(struct check_flip *f, long threshold)
{
	f->state = CHECK_UNKNOWN;
	f->threshold = threshold > 0 ? threshold : 1;
	f->streak = 0;
}

int
check_flip_feed(struct check_flip *f, int ok)
{
	enum check_state want = ok ? CHECK_UP : CHECK_DOWN;

	if (f->state == CHECK_UNKNOWN || f->state == CHECK_NONE) {
		f->state = want;
		f->streak = 0;
		return 1;
	}
	if (f->state == want) {
		f->streak = 0;
		return 0;
	}
	if (++f->streak < f->threshold)
		return 0;
	f->state = want;
	f->streak = 0;
	return 1;
}

/* Split "host:port" or "[v6]:port"; -1 when malformed. */
static int
hostport_split(const char *s, char *host, size_t hostsz, char *port,
    size_t portsz)
{
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - s - 1);
		if (hl == 0 || hl >= hostsz)
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - s);
		if (hl == 0 || hl >= hostsz)
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (snprintf(port, portsz, "%s", colon + 1) >= (int)portsz ||
	    port[0] == '\0')
		return -1;
	return 0;
}

static int
check_tcp(const char *target, int64_t timeout_ms, char *detail,
    size_t detailsz)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char host[256], port[16];
	struct pollfd pfd;
	int fd = -1, ok = 0, rc, soerr = 0;
	socklen_t slen = sizeof(soerr);

	if (hostport_split(target, host, sizeof(host), port,
	    sizeof(port)) < 0) {
		snprintf(detail, detailsz, "check_tcp \"%s\" is not "
		    "HOST:PORT", target);
		return 0;
	}
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(detail, detailsz, "%s: %s", target, gai_strerror(rc));
		goto out;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd < 0) {
		snprintf(detail, detailsz, "socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		snprintf(detail, detailsz, "connect %s: %s", target,
		    strerror(errno));
		goto out;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	rc = poll(&pfd, 1, (int)timeout_ms);
	if (rc == 0) {
		snprintf(detail, detailsz, "connect %s: timed out after "
		    "%lld ms", target, (long long)timeout_ms);
		goto out;
	}
	if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
	    &slen) < 0 || soerr != 0) {
		snprintf(detail, detailsz, "connect %s: %s", target,
		    strerror(soerr ? soerr : errno));
		goto out;
	}
	snprintf(detail, detailsz, "connect %s: ok", target);
	ok = 1;
out:
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return ok;
}

static int
check_http(struct http_client *http, const struct check_spec *spec,
    char *detail, size_t detailsz)
{
	/* the connection closes after each check, so it never counts as
	 * an open connection to the workload while draining */
	static const char *const headers[] = { "Connection: close", NULL };
	struct http_request req = { 0 };
	struct http_response resp = { 0 };
	int ok = 0;

	req.url = spec->url;
	req.headers = headers;
	req.max_body = 64 * 1024;
	req.timeout_ms = spec->timeout_ms;
	/* a local check: plain http allowed and never through a proxy */
	req.imds = 1;
	if (http_do(http, &req, &resp) < 0) {
		snprintf(detail, detailsz, "GET %s: %s", spec->url,
		    resp.err == HTTP_E_TOO_BIG ? "reply too large" :
		    resp.errmsg);
	} else if (resp.status != spec->status) {
		snprintf(detail, detailsz, "GET %s: HTTP %ld, want %ld",
		    spec->url, resp.status, spec->status);
	} else {
		snprintf(detail, detailsz, "GET %s: HTTP %ld", spec->url,
		    resp.status);
		ok = 1;
	}
	http_response_clear(&resp);
	return ok;
}

int
check_once(struct http_client *http, const struct check_spec *spec,
    char *detail, size_t detailsz)
{
	if (spec->url != NULL)
		return check_http(http, spec, detail, detailsz);
	if (spec->tcp != NULL)
		return check_tcp(spec->tcp, spec->timeout_ms, detail,
		    detailsz);
	snprintf(detail, detailsz, "no workload check configured");
	return 1;
}

struct checker {
	struct check_spec spec;
	struct http_client *http;
	check_report_fn report;
	void *arg;
	struct worker w;
};

static void *
checker_main(void *arg)
{
	struct checker *c = arg;
	struct check_flip flip;
	char detail[512];

	check_flip_init(&flip, c->spec.threshold);
	for (;;) {
		int ok, flipped;
		int64_t next = clock_mono_ms() + c->spec.interval_ms;

		ok = check_once(c->http, &c->spec, detail, sizeof(detail));
		flipped = check_flip_feed(&flip, ok);
		c->report(c->arg, flip.state, flipped, ok, detail);
		if (worker_sleep_until(&c->w, next))
			break;
	}
	return NULL;
}

struct checker *
checker_start(const struct check_spec *spec, struct http_client *http,
    check_report_fn report, void *arg)
{
	struct checker *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_error("health: out of memory");
		return NULL;
	}
	c->spec = *spec;
	c->http = http;
	c->report = report;
	c->arg = arg;
	if (worker_start(&c->w, checker_main, c) < 0) {
		log_error("health: cannot start the workload checker thread");
		free(c);
		return NULL;
	}
	return c;
}

void
checker_stop(struct checker *c)
{
	if (c == NULL)
		return;
	worker_stop(&c->w);
	free(c);
}
