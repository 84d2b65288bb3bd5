/*
 * test_http.c — the libcurl wrapper against a tiny HTTP/1.1 server on
 * 127.0.0.1 run by a thread of this test: scheme rules, caps, timeouts,
 * broken transfers, proxies, connection reuse and the parallel engine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* The server: canned answers chosen by the request path.             */

#define MAX_CONNS 64

struct server {
	int fd;
	int port;
	pthread_t thread;
	atomic_int stop;
	atomic_int accepted;   /* connections accepted */
	atomic_int requests;   /* requests answered */
	atomic_int open_now;   /* connections open right now */
	atomic_int open_max;   /* most connections open at once */
	pthread_t conns[MAX_CONNS];
	atomic_int nconns;
	int count_only;	       /* accept and close: a fake proxy */
};

struct conn {
	struct server *srv;
	int fd;
};

/* Wait for fd to be readable; 0 when the server is stopping. */
static int
wait_readable(struct server *s, int fd, int ms)
{
	int waited = 0;

	while (!atomic_load(&s->stop) && waited < ms) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 50) > 0)
			return 1;
		waited += 50;
	}
	return 0;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int head_request; /* the request being answered is a HEAD */

static int
respond(int fd, int status, const char *extra, const char *body,
    size_t len)
{
	char head[1024];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: "
	    "%zu\r\n%s\r\n", status, len, extra ? extra : "");
	if (send_all(fd, head, (size_t)n) < 0)
		return -1;
	return len > 0 && !head_request ? send_all(fd, body, len) : 0;
}

/* Answer one request; -1 closes the connection. */
static int
answer(struct server *s, int fd, const char *method, const char *path,
    const char *body, size_t bodylen)
{
	char buf[256];

	atomic_fetch_add(&s->requests, 1);
	head_request = strcmp(method, "HEAD") == 0;
	if (strcmp(path, "/ok") == 0)
		return respond(fd, 200, NULL, "hello", 5);
	if (strncmp(path, "/big/", 5) == 0) {
		size_t n = strtoul(path + 5, NULL, 10);
		char *b = malloc(n ? n : 1);
		int rc;

		for (size_t i = 0; i < n; i++)
			b[i] = (char)('a' + i % 26);
		rc = respond(fd, 200, NULL, b, n);
		free(b);
		return rc;
	}
	if (strcmp(path, "/headers") == 0)
		return respond(fd, 503, "X-Test:  some value \r\n"
		    "x-ms-error-code: ServerBusy\r\nRetry-After: 7\r\n",
		    "busy", 4);
	if (strcmp(path, "/notfound") == 0)
		return respond(fd, 404, "x-ms-error-code: BlobNotFound\r\n",
		    "<Error><Code>BlobNotFound</Code></Error>", 40);
	if (strcmp(path, "/date") == 0) {
		char extra[128];
		time_t t = time(NULL) + 30;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(extra, sizeof(extra),
		    "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		return respond(fd, 429, extra, "", 0);
	}
	if (strcmp(path, "/stall") == 0) {
		/* never answer; hold the connection until told to stop */
		while (!atomic_load(&s->stop))
			usleep(20000);
		return -1;
	}
	if (strcmp(path, "/truncated") == 0) {
		static const char r[] = "HTTP/1.1 200 X\r\nContent-Length: "
		    "100\r\n\r\n0123456789";

		send_all(fd, r, sizeof(r) - 1);
		return -1;
	}
	if (strcmp(path, "/reset") == 0)
		return -1;
	if (strcmp(path, "/echo") == 0) {
		int n = snprintf(buf, sizeof(buf), "%s %zu:", method, bodylen);
		char *out = malloc((size_t)n + bodylen + 1);
		int rc;

		memcpy(out, buf, (size_t)n);
		memcpy(out + n, body, bodylen);
		rc = respond(fd, 200, NULL, out, (size_t)n + bodylen);
		free(out);
		return rc;
	}
	if (strncmp(path, "/slow/", 6) == 0) {
		/* a parallel transfer: answer after 300 ms with the path */
		usleep(300000);
		return respond(fd, 200, NULL, path, strlen(path));
	}
	return respond(fd, 404, NULL, "", 0);
}

/* "METHOD PATH HTTP/1.1" -> method, path; -1 when malformed. */
static int
request_line(const char *req, char *method, size_t msz, char *path,
    size_t psz)
{
	size_t m = strcspn(req, " \r\n"), p;

	if (req[m] != ' ' || m == 0 || m >= msz)
		return -1;
	p = strcspn(req + m + 1, " \r\n");
	if (p == 0 || p >= psz)
		return -1;
	memcpy(method, req, m);
	method[m] = '\0';
	memcpy(path, req + m + 1, p);
	path[p] = '\0';
	return 0;
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;
	char req[16384];
	size_t have = 0;
	int now = atomic_fetch_add(&s->open_now, 1) + 1;
	int max = atomic_load(&s->open_max);

	while (now > max && !atomic_compare_exchange_weak(&s->open_max, &max,
	    now))
		;
	for (;;) {
		char method[16], path[256], *end, *cl;
		size_t hlen, blen = 0;
		ssize_t r;

		req[have] = '\0';
		if (have > 0 && req[0] == 0x16) {
			/* a TLS ClientHello: answer like a plain server */
			send_all(c->fd, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
			break;
		}
		end = strstr(req, "\r\n\r\n");
		if (end == NULL) {
			if (have >= sizeof(req) - 1 ||
			    !wait_readable(s, c->fd, 10000))
				break;
			r = recv(c->fd, req + have, sizeof(req) - 1 - have, 0);
			if (r <= 0)
				break;
			have += (size_t)r;
			continue;
		}
		hlen = (size_t)(end - req) + 4;
		cl = strcasestr(req, "\r\nContent-Length:");
		if (cl != NULL && cl < end)
			blen = strtoul(cl + 17, NULL, 10);
		if (hlen + blen > sizeof(req) - 1)
			break;
		while (have < hlen + blen) {
			if (!wait_readable(s, c->fd, 10000))
				goto out;
			r = recv(c->fd, req + have, hlen + blen - have, 0);
			if (r <= 0)
				goto out;
			have += (size_t)r;
		}
		if (request_line(req, method, sizeof(method), path,
		    sizeof(path)) < 0)
			break;
		if (answer(s, c->fd, method, path, req + hlen, blen) < 0)
			break;
		memmove(req, req + hlen + blen, have - hlen - blen);
		have -= hlen + blen;
	}
out:
	close(c->fd);
	atomic_fetch_sub(&s->open_now, 1);
	free(c);
	return NULL;
}

static void *
server_main(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { s->fd, POLLIN, 0 };
		struct conn *c;
		int fd, i;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(s->fd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepted, 1);
		if (s->count_only || atomic_load(&s->nconns) >= MAX_CONNS) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		c->srv = s;
		c->fd = fd;
		i = atomic_fetch_add(&s->nconns, 1);
		pthread_create(&s->conns[i], NULL, conn_main, c);
	}
	return NULL;
}

static void
server_start(struct server *s, int count_only)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->count_only = count_only;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0;
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 64), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void
server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	for (int i = 0; i < atomic_load(&s->nconns); i++)
		pthread_join(s->conns[i], NULL);
	close(s->fd);
}

/* A port nothing listens on (bound, then closed). */
static int
dead_port(void)
{
	struct server s;
	int port;

	server_start(&s, 1);
	port = s.port;
	server_stop(&s);
	return port;
}

/* ------------------------------------------------------------------ */

static struct server srv;
static struct http_client *client;

static int
setup(void **state)
{
	/* the host's proxy settings must not decide these tests */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	log_set_journal(0);
	server_start(&srv, 0);
	client = http_client_new(NULL);
	assert_non_null(client);
	return 0;
}

static int
teardown(void **state)
{
	http_client_free(client);
	server_stop(&srv);
	return 0;
}

static void
url(char *out, size_t outsz, const char *scheme, int port, const char *path)
{
	snprintf(out, outsz, "%s://127.0.0.1:%d%s", scheme, port, path);
}

/* One blocking request to our server; imds decides plain http. */
static int
get(const char *path, int imds, size_t max_body, int64_t timeout_ms,
    struct http_response *resp)
{
	char u[256];
	struct http_request req;

	url(u, sizeof(u), "http", srv.port, path);
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.imds = imds;
	req.max_body = max_body;
	req.timeout_ms = timeout_ms;
	return http_do(client, &req, resp);
}

static void
test_plain_http_only_for_imds(void **state)
{
	struct http_response r;
	int before = atomic_load(&srv.accepted);

	/* storage (imds = 0): refused before any connection */
	assert_int_equal(get("/ok", 0, 0, 0, &r), -1);
	assert_int_equal(r.err, HTTP_E_PROTOCOL);
	assert_int_equal(r.status, 0);
	assert_true(r.errmsg[0] != '\0');
	http_response_clear(&r);
	assert_int_equal(atomic_load(&srv.accepted), before);

	/* IMDS: plain http allowed */
	assert_int_equal(get("/ok", 1, 0, 0, &r), 0);
	assert_int_equal(r.err, HTTP_E_NONE);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 5);
	assert_string_equal(r.body, "hello");
	assert_int_equal(r.bytes, 5);
	assert_non_null(r.headers);
	assert_true(strncmp(r.headers, "HTTP/1.1 200", 12) == 0);
	http_response_clear(&r);
	assert_null(r.body);

	/* other schemes never */
	{
		struct http_request req;

		memset(&req, 0, sizeof(req));
		req.url = "file:///etc/passwd";
		req.imds = 1;
		assert_int_equal(http_do(client, &req, &r), -1);
		assert_int_equal(r.err, HTTP_E_PROTOCOL);
		assert_null(r.body);
		http_response_clear(&r);
	}
}

static void
test_status_and_methods(void **state)
{
	struct http_response r;
	struct http_request req;
	char u[256];
	static const char *const hdrs[] = { "Metadata: true",
		"x-ms-version: 2021-08-06", NULL };

	/* a 404 is a response, not a transport failure */
	assert_int_equal(get("/notfound", 1, 0, 0, &r), 0);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "BlobNotFound"));
	http_response_clear(&r);

	url(u, sizeof(u), "http", srv.port, "/echo");
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.imds = 1;
	req.headers = hdrs;
	req.method = "POST";
	req.body = "{\"StartRequests\":[]}";
	req.body_len = strlen(req.body);
	assert_int_equal(http_do(client, &req, &r), 0);
	assert_string_equal(r.body, "POST 20:{\"StartRequests\":[]}");
	http_response_clear(&r);

	req.method = "PUT";
	req.body = NULL;
	req.body_len = 0;
	assert_int_equal(http_do(client, &req, &r), 0);
	assert_string_equal(r.body, "PUT 0:");
	http_response_clear(&r);

	req.method = "HEAD";
	assert_int_equal(http_do(client, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	http_response_clear(&r);
}

static void
test_max_body(void **state)
{
	struct http_response r;

	/* exactly the cap is fine */
	assert_int_equal(get("/big/1000", 1, 1000, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 1000);
	assert_int_equal(r.body[999], 'a' + 999 % 26);
	assert_int_equal(r.body[1000], '\0');
	http_response_clear(&r);
	/* one byte more is not */
	assert_int_equal(get("/big/1001", 1, 1000, 0, &r), -1);
	assert_int_equal(r.err, HTTP_E_TOO_BIG);
	http_response_clear(&r);
	/* the default cap is 1 MiB */
	assert_int_equal(get("/big/1048576", 1, 0, 0, &r), 0);
	assert_int_equal(r.body_len, 1048576);
	http_response_clear(&r);
	assert_int_equal(get("/big/1048577", 1, 0, 0, &r), -1);
	assert_int_equal(r.err, HTTP_E_TOO_BIG);
	http_response_clear(&r);
}

static void
test_headers(void **state)
{
	struct http_response r;
	char v[64];

	assert_int_equal(get("/headers", 1, 0, 0, &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(http_response_header(&r, "X-Test", v, sizeof(v)),
	    "some value");
	assert_string_equal(http_response_header(&r, "x-test", v, sizeof(v)),
	    "some value");
	assert_string_equal(http_response_header(&r, "X-MS-ERROR-CODE", v,
	    sizeof(v)), "ServerBusy");
	assert_null(http_response_header(&r, "X-Absent", v, sizeof(v)));
	assert_null(http_response_header(&r, "X-Tes", v, sizeof(v)));
	/* too long for out: NULL, not a cut value */
	assert_null(http_response_header(&r, "X-Test", v, 10));
	assert_non_null(http_response_header(&r, "X-Test", v, 11));
	assert_int_equal(http_response_retry_after_ms(&r), 7000);
	http_response_clear(&r);

	assert_int_equal(get("/date", 1, 0, 0, &r), 0);
	assert_int_equal(r.status, 429);
	assert_in_range(http_response_retry_after_ms(&r), 28000, 31000);
	http_response_clear(&r);

	assert_int_equal(get("/ok", 1, 0, 0, &r), 0);
	assert_int_equal(http_response_retry_after_ms(&r), -1);
	http_response_clear(&r);
}

/* Retry-After forms, on hand-made header blocks. */
static void
test_retry_after_table(void **state)
{
	static const struct {
		const char *value;
		int64_t min, max;
	} t[] = {
		{ "0", 0, 0 },
		{ "1", 1000, 1000 },
		{ "120", 120000, 120000 },
		{ "3600", 3600000, 3600000 },
		{ "86400", 3600000, 3600000 }, /* capped at an hour */
		{ "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0 }, /* past: now */
		{ "soon", -1, -1 },
		{ "", -1, -1 },
		{ "12abc", -1, -1 },
		{ "-5", -1, -1 },
	};
	char block[256];
	struct http_response r;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int64_t got;

		memset(&r, 0, sizeof(r));
		snprintf(block, sizeof(block), "HTTP/1.1 503 Busy\r\n"
		    "Retry-After: %s\r\nContent-Length: 0\r\n\r\n", t[i].value);
		r.headers = block;
		r.headers_len = strlen(block);
		got = http_response_retry_after_ms(&r);
		if (got < t[i].min || got > t[i].max)
			fail_msg("Retry-After: %s -> %lld", t[i].value,
			    (long long)got);
	}
	/* an HTTP-date a minute ahead */
	{
		time_t when = time(NULL) + 60;
		struct tm tm;
		char date[64];

		gmtime_r(&when, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		snprintf(block, sizeof(block), "HTTP/1.1 503 Busy\r\n"
		    "retry-after: %s\r\n\r\n", date);
		memset(&r, 0, sizeof(r));
		r.headers = block;
		assert_in_range(http_response_retry_after_ms(&r), 58000, 61000);
	}
	/* no header block at all */
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_response_retry_after_ms(&r), -1);
	assert_null(http_response_header(&r, "Retry-After", block,
	    sizeof(block)));
}

struct sink_state {
	size_t got;
	int calls;
	int bad;	  /* a byte out of pattern */
	size_t abort_at;  /* return -1 once got passes this (0: never) */
};

static int
sink(void *arg, const void *buf, size_t len)
{
	struct sink_state *s = arg;
	const char *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != (char)('a' + (s->got + i) % 26))
			s->bad++;
	s->got += len;
	s->calls++;
	if (s->abort_at > 0 && s->got > s->abort_at)
		return -1;
	return 0;
}

static void
test_sink(void **state)
{
	struct http_response r;
	struct http_request req;
	struct sink_state ss;
	char u[256];

	/* 3 MiB streams past the 1 MiB buffer cap */
	memset(&ss, 0, sizeof(ss));
	url(u, sizeof(u), "http", srv.port, "/big/3145728");
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.imds = 1;
	req.sink = sink;
	req.sink_arg = &ss;
	assert_int_equal(http_do(client, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_null(r.body);
	assert_int_equal(r.bytes, 3145728);
	assert_int_equal(ss.got, 3145728);
	assert_int_equal(ss.bad, 0);
	assert_true(ss.calls > 1);
	http_response_clear(&r);

	/* the sink says stop */
	memset(&ss, 0, sizeof(ss));
	ss.abort_at = 100000;
	assert_int_equal(http_do(client, &req, &r), -1);
	assert_int_equal(r.err, HTTP_E_ABORTED);
	assert_true(ss.got < 3145728);
	http_response_clear(&r);

	/* error bodies are buffered for the message, never sunk */
	memset(&ss, 0, sizeof(ss));
	url(u, sizeof(u), "http", srv.port, "/notfound");
	assert_int_equal(http_do(client, &req, &r), 0);
	assert_int_equal(r.status, 404);
	assert_int_equal(ss.calls, 0);
	assert_non_null(strstr(r.body, "BlobNotFound"));
	http_response_clear(&r);
}

/* IMDS never goes through a proxy; everything else does. */
static void
test_proxy_ignored_for_imds(void **state)
{
	struct server proxy;
	struct http_client *c;
	struct http_response r;
	struct http_request req;
	char p[128], u[256];

	server_start(&proxy, 1); /* accepts and hangs up */
	snprintf(p, sizeof(p), "http://127.0.0.1:%d", proxy.port);
	setenv("http_proxy", p, 1);
	setenv("https_proxy", p, 1);
	setenv("HTTPS_PROXY", p, 1);
	setenv("all_proxy", p, 1);
	setenv("ALL_PROXY", p, 1);

	/* a new client: no connection to reuse */
	c = http_client_new(NULL);
	url(u, sizeof(u), "http", srv.port, "/ok");
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.imds = 1;
	assert_int_equal(http_do(c, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
	http_response_clear(&r);
	assert_int_equal(atomic_load(&proxy.accepted), 0);

	/* the same environment does route a storage request via the proxy */
	url(u, sizeof(u), "https", srv.port, "/ok");
	req.imds = 0;
	req.timeout_ms = 5000;
	assert_int_equal(http_do(c, &req, &r), -1);
	http_response_clear(&r);
	assert_true(atomic_load(&proxy.accepted) >= 1);
	http_client_free(c);

	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	server_stop(&proxy);
}

static void
test_connection_reuse(void **state)
{
	struct http_client *c = http_client_new(NULL);
	struct server s;
	struct http_request req;
	struct http_response r;
	char u[256];

	server_start(&s, 0);
	url(u, sizeof(u), "http", s.port, "/ok");
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.imds = 1;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(http_do(c, &req, &r), 0);
		assert_string_equal(r.body, "hello");
		http_response_clear(&r);
	}
	assert_int_equal(atomic_load(&s.requests), 5);
	assert_int_equal(atomic_load(&s.accepted), 1);
	http_client_free(c);
	server_stop(&s);
}

static void
test_timeout(void **state)
{
	struct http_response r;
	int64_t t0 = clock_mono_ms(), took;

	assert_int_equal(get("/stall", 1, 0, 500, &r), -1);
	took = clock_mono_ms() - t0;
	assert_int_equal(r.err, HTTP_E_TIMEOUT);
	assert_int_equal(r.status, 0);
	assert_in_range(took, 400, 3000);
	assert_in_range(r.elapsed_ms, 400, 3000);
	http_response_clear(&r);

	/* the client-wide total timeout applies when the request has none */
	{
		struct http_opts o = { NULL, 0, 400, 0, 0, 0 };
		struct http_client *c = http_client_new(&o);
		struct http_request req;
		char u[256];

		url(u, sizeof(u), "http", srv.port, "/stall");
		memset(&req, 0, sizeof(req));
		req.url = u;
		req.imds = 1;
		t0 = clock_mono_ms();
		assert_int_equal(http_do(c, &req, &r), -1);
		assert_int_equal(r.err, HTTP_E_TIMEOUT);
		assert_in_range(clock_mono_ms() - t0, 300, 3000);
		http_response_clear(&r);
		http_client_free(c);
	}
}

static void
test_broken_transfers(void **state)
{
	struct http_response r;
	struct http_request req;
	char u[256];

	/* Content-Length 100, 10 bytes, then the connection closes */
	assert_int_equal(get("/truncated", 1, 0, 0, &r), -1);
	assert_int_equal(r.err, HTTP_E_RECV);
	http_response_clear(&r);
	/* closed without a word */
	assert_int_equal(get("/reset", 1, 0, 0, &r), -1);
	assert_int_equal(r.err, HTTP_E_RECV);
	http_response_clear(&r);
	/* nobody listening */
	url(u, sizeof(u), "http", dead_port(), "/ok");
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.imds = 1;
	assert_int_equal(http_do(client, &req, &r), -1);
	assert_int_equal(r.err, HTTP_E_CONNECT);
	http_response_clear(&r);
	/* TLS to a server that does not speak it */
	url(u, sizeof(u), "https", srv.port, "/ok");
	req.imds = 0;
	req.timeout_ms = 5000;
	assert_int_equal(http_do(client, &req, &r), -1);
	if (r.err != HTTP_E_TLS)
		fail_msg("TLS to plain HTTP: %s (%s)", http_err_names[r.err],
		    r.errmsg);
	http_response_clear(&r);
	/* the client still works afterwards */
	assert_int_equal(get("/ok", 1, 0, 0, &r), 0);
	http_response_clear(&r);
}

static void
test_parallel(void **state)
{
	enum { N = 8 };
	struct http_xfer *x[N];
	char urls[N][128];
	int seen[N] = { 0 }, done = 0, loops = 0;
	int64_t t0 = clock_mono_ms();
	struct server s;
	struct http_opts o = { NULL, 0, 0, 0, 0, N };
	struct http_client *c = http_client_new(&o);

	server_start(&s, 0);
	for (int i = 0; i < N; i++) {
		struct http_request req;
		char path[32];

		snprintf(path, sizeof(path), "/slow/%d", i);
		url(urls[i], sizeof(urls[i]), "http", s.port, path);
		memset(&req, 0, sizeof(req));
		req.url = urls[i];
		req.imds = 1;
		x[i] = http_xfer_start(c, &req, (void *)(intptr_t)(i + 1));
		assert_non_null(x[i]);
	}
	/* the request was copied: the caller's buffer may change */
	memset(urls, 0, sizeof(urls));
	while (done < N && loops++ < 200) {
		struct http_xfer *d;
		struct http_response *r;
		void *user;

		http_client_run(c, 100);
		while ((d = http_client_done(c, &user, &r)) != NULL) {
			int i = (int)(intptr_t)user - 1;
			char want[32];

			assert_in_range(i, 0, N - 1);
			assert_ptr_equal(d, x[i]);
			snprintf(want, sizeof(want), "/slow/%d", i);
			assert_int_equal(r->err, HTTP_E_NONE);
			assert_int_equal(r->status, 200);
			assert_string_equal(r->body, want);
			seen[i]++;
			done++;
			http_xfer_free(d);
		}
	}
	assert_int_equal(done, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	/* they ran at once: the server held several connections open */
	assert_true(atomic_load(&s.open_max) >= 4);
	assert_true(clock_mono_ms() - t0 < 30000);
	assert_null(http_client_done(c, NULL, NULL));
	http_client_free(c);
	server_stop(&s);
}

/* Freeing a client with transfers still running aborts them cleanly. */
static void
test_free_running(void **state)
{
	struct http_opts o = { NULL, 0, 0, 0, 0, 0 };
	struct http_client *c = http_client_new(&o);
	struct http_request req;
	char u[128];

	url(u, sizeof(u), "http", srv.port, "/stall");
	memset(&req, 0, sizeof(req));
	req.url = u;
	req.imds = 1;
	assert_non_null(http_xfer_start(c, &req, NULL));
	assert_non_null(http_xfer_start(c, &req, NULL));
	assert_int_equal(http_client_run(c, 200), 2);
	http_client_free(c);
	http_client_free(NULL);
}

static void
test_escape(void **state)
{
	static const struct {
		const char *in;
		int keep_slash;
		const char *want;
	} t[] = {
		{ "", 0, "" },
		{ "abcXYZ019-._~", 0, "abcXYZ019-._~" },
		{ "a b", 0, "a%20b" },
		{ "v1/app.tar.gz", 1, "v1/app.tar.gz" },
		{ "v1/app.tar.gz", 0, "v1%2Fapp.tar.gz" },
		{ "a+b&c=d?e#f%", 1, "a%2Bb%26c%3Dd%3Fe%23f%25" },
		{ "caf\xC3\xA9", 0, "caf%C3%A9" },
		{ "\x01\x7F\xFF", 0, "%01%7F%FF" },
		{ "//", 1, "//" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char *got = http_escape(t[i].in, t[i].keep_slash);

		assert_non_null(got);
		assert_string_equal(got, t[i].want);
		free(got);
	}
}

static void
test_err_names(void **state)
{
	for (int i = 0; i < HTTP_E__MAX; i++)
		assert_non_null(http_err_names[i]);
	assert_string_equal(http_err_names[HTTP_E_TOO_BIG], "too-big");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_http_only_for_imds),
		cmocka_unit_test(test_status_and_methods),
		cmocka_unit_test(test_max_body),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_retry_after_table),
		cmocka_unit_test(test_sink),
		cmocka_unit_test(test_proxy_ignored_for_imds),
		cmocka_unit_test(test_connection_reuse),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_broken_transfers),
		cmocka_unit_test(test_parallel),
		cmocka_unit_test(test_free_running),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_err_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
