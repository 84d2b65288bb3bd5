/* server.c — libmicrohttpd behind the health daemon's endpoints. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "agent.h"
#include "health/render.h"
#include "health/server.h"
#include "log.h"

#define POOL_THREADS 2
#define CONN_LIMIT 1024		/* connections at once, all threads */
#define CONN_TIMEOUT_S 10	/* idle or slow connection */
#define CONN_MEMORY (16 * 1024) /* per connection: caps request headers */
#define BACKLOG 1024
#define METRICS_MAX (32 * 1024)
#define BODY_MAX 4096		/* request bodies are skipped up to this */

struct server {
	struct health *h;
	struct MHD_Daemon *mhd;
	int fd;
	int port;
	char probe_path[256];
	pthread_mutex_t mu;	/* guards the prebuilt replies */
	atomic_uint gen;	/* generation they were built from */
	int built;
	struct MHD_Response *probe;
	unsigned probe_code;
	enum probe_result probe_result;
	struct MHD_Response *live;
	int live_healthy;
};

/* MHD's messages: resets by health checkers are normal, so debug only. */
static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("health: http: %s", msg);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;
	int one = 1;

	if (code != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
}

/* Decimal digits of s as a number (s at most 6 characters); -1 if not. */
static long
atol_cap(const char *s)
{
	long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* A response owning body (malloc'd, freed by MHD) with our headers. */
static struct MHD_Response *
response_new(char *body, const char *type)
{
	struct MHD_Response *r;

	if (body == NULL)
		return NULL;
	r = MHD_create_response_from_buffer(strlen(body), body,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return r;
}

/* Queue a one-off reply (JSON or text) and drop our reference. */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned code, char *body,
    const char *type)
{
	struct MHD_Response *r = response_new(body, type);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_error(struct MHD_Connection *conn, unsigned code, const char *msg)
{
	char buf[512];

	/* msg is one of ours: no characters that need JSON escaping */
	if (snprintf(buf, sizeof(buf), "{\"error\":\"%s\"}\n", msg) >=
	    (int)sizeof(buf))
		return MHD_NO;
	return reply(conn, code, strdup(buf), "application/json");
}

/* Rebuild the probe replies if the state moved on. Called unlocked. */
static void
refresh(struct server *s)
{
	struct health_view *v;
	struct MHD_Response *probe, *live;
	enum probe_result r;
	int healthy;

	if (s->built && atomic_load(&s->gen) == health_generation(s->h))
		return;
	v = malloc(sizeof(*v));
	if (v == NULL)
		return;
	health_view(s->h, v);
	r = health_probe_result(v);
	probe = response_new(render_probe(v, r), "application/json");
	live = response_new(render_live(v, &healthy), "application/json");
	if (probe == NULL || live == NULL) {
		if (probe != NULL)
			MHD_destroy_response(probe);
		if (live != NULL)
			MHD_destroy_response(live);
		free(v);
		return;
	}
	pthread_mutex_lock(&s->mu);
	/* MHD counts references: replies being sent keep the old ones */
	if (s->probe != NULL)
		MHD_destroy_response(s->probe);
	if (s->live != NULL)
		MHD_destroy_response(s->live);
	s->probe = probe;
	s->probe_code = r == PROBE_OK ? MHD_HTTP_OK :
	    MHD_HTTP_SERVICE_UNAVAILABLE;
	s->probe_result = r;
	s->live = live;
	s->live_healthy = healthy;
	s->built = 1;
	atomic_store(&s->gen, v->gen);
	pthread_mutex_unlock(&s->mu);
	free(v);
}

static enum MHD_Result
serve_probe(struct server *s, struct MHD_Connection *conn, int live)
{
	struct metrics *m = health_metrics(s->h);
	enum MHD_Result ret;

	refresh(s);
	pthread_mutex_lock(&s->mu);
	if (!s->built) {
		pthread_mutex_unlock(&s->mu);
		return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "starting");
	}
	if (live) {
		ret = MHD_queue_response(conn, MHD_HTTP_OK, s->live);
		METRIC_INC(m->live[s->live_healthy ? 1 : 0]);
	} else {
		ret = MHD_queue_response(conn, s->probe_code, s->probe);
		METRIC_INC(m->probes[s->probe_result]);
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static enum MHD_Result
serve_status(struct server *s, struct MHD_Connection *conn)
{
	struct health_view *v;
	char *body;

	v = malloc(sizeof(*v));
	if (v == NULL)
		return MHD_NO;
	health_view(s->h, v);
	body = render_status(v, health_metrics(s->h));
	free(v);
	return reply(conn, MHD_HTTP_OK, body, "application/json");
}

static enum MHD_Result
serve_metrics(struct server *s, struct MHD_Connection *conn)
{
	struct health_view *v;
	struct metrics_gauges g;
	char *buf;

	v = malloc(sizeof(*v));
	buf = malloc(METRICS_MAX);
	if (v == NULL || buf == NULL) {
		free(v);
		free(buf);
		return MHD_NO;
	}
	health_view(s->h, v);
	memset(&g, 0, sizeof(g));
	g.state = (int)v->drain.state;
	g.workload_up = v->workload == CHECK_UP || v->workload == CHECK_NONE;
	g.connections = v->conns;
	g.draining_seconds = v->drain.since_ms < 0 ? 0.0 :
	    (double)(v->now_ms - v->drain.since_ms) / 1000.0;
	g.imds_reachable = v->imds_ok;
	g.incarnation = v->incarnation;
	free(v);
	if (metrics_render(health_metrics(s->h), &g, buf, METRICS_MAX) < 0) {
		free(buf);
		return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "metrics too large");
	}
	return reply(conn, MHD_HTTP_OK, buf,
	    "text/plain; version=0.0.4; charset=utf-8");
}

static int
addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return 0;
}

static int
addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->
		    sin_addr.s_addr == ((const struct sockaddr_in *)
		    (const void *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
		    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
		    sin6_addr, sizeof(struct in6_addr)) == 0;
	return 0;
}

/*
 * Admin requests come from this host: a loopback peer, or a peer whose
 * address is the one it connected to (Linux drops packets from outside
 * that claim a local source address).
 */
static int
peer_is_local(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	const struct sockaddr *peer;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return 0;
	peer = ci->client_addr;
	if (addr_is_loopback(peer))
		return 1;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL || getsockname(ci->connect_fd,
	    (struct sockaddr *)&local, &len) < 0)
		return 0;
	return addr_equal(peer, (const struct sockaddr *)&local);
}

static enum MHD_Result
serve_admin(struct server *s, struct MHD_Connection *conn, int drain)
{
	char msg[512], body[1024];
	int n;

	if (!peer_is_local(conn)) {
		METRIC_INC(health_metrics(s->h)->admin_refused);
		log_warn("health: refused %s from a remote address; drain and "
		    "undrain are accepted only from this host",
		    drain ? "/drain" : "/undrain");
		return reply_error(conn, MHD_HTTP_FORBIDDEN,
		    "drain and undrain are accepted only from this host "
		    "(loopback); use greenlight drain on the VM");
	}
	health_admin(s->h, drain, msg, sizeof(msg));
	/* msg comes from health_admin: plain words, no quotes */
	n = snprintf(body, sizeof(body), "{\"ok\":true,\"message\":\"%s\"}\n",
	    msg);
	if (n < 0 || n >= (int)sizeof(body))
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, strdup(body),
	    "application/json");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	int admin = strcmp(url, "/drain") == 0 || strcmp(url, "/undrain") == 0;

	static int seen;
	const char *cl;

	(void)upload_data;
	/* MHD calls twice at least: headers first, then (after any body)
	 * the end; answering at the end keeps the connection reusable */
	if (*con_cls == NULL) {
		*con_cls = &seen;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (strlen(cl) > 6 || atol_cap(cl) > BODY_MAX))
			return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
			    "request body too large");
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* no endpoint uses a body: skip a small one, refuse the rest
		 * (a chunked body has no Content-Length to check first) */
		if (*upload_data_size > BODY_MAX ||
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH) == NULL)
			return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
			    "request body too large");
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (admin) {
		if (!post)
			return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "use POST");
		return serve_admin(s, conn, strcmp(url, "/drain") == 0);
	}
	if (strcmp(url, s->probe_path) != 0 && strcmp(url, "/live") != 0 &&
	    strcmp(url, "/status") != 0 && strcmp(url, "/metrics") != 0)
		return reply_error(conn, MHD_HTTP_NOT_FOUND, "not found");
	if (!get)
		return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "use GET");
	if (strcmp(url, s->probe_path) == 0)
		return serve_probe(s, conn, 0);
	if (strcmp(url, "/live") == 0)
		return serve_probe(s, conn, 1);
	if (strcmp(url, "/status") == 0)
		return serve_status(s, conn);
	return serve_metrics(s, conn);
}

/* Split HOST:PORT / [V6]:PORT into host and port strings. */
static int
listen_split(const char *listen, char *host, size_t hostsz, char *port,
    size_t portsz)
{
	const char *colon;
	size_t hl;

	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - listen - 1);
		if (hl >= hostsz)
			return -1;
		memcpy(host, listen + 1, hl);
		colon = rb + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - listen);
		if (hl >= hostsz)
			return -1;
		memcpy(host, listen, hl);
	}
	host[hl] = '\0';
	if (snprintf(port, portsz, "%s", colon + 1) >= (int)portsz ||
	    port[0] == '\0')
		return -1;
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	return 0;
}

int
server_local_url(const char *listen, char *out, size_t outsz)
{
	char host[256], port[16];
	const char *h;
	int n, v6;

	if (listen_split(listen, host, sizeof(host), port, sizeof(port)) < 0)
		return -1;
	if (host[0] == '\0' || strcmp(host, "*") == 0 ||
	    strcmp(host, "0.0.0.0") == 0)
		h = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		h = "::1";
	else
		h = host;
	v6 = strchr(h, ':') != NULL;
	n = snprintf(out, outsz, v6 ? "http://[%s]:%s" : "http://%s:%s", h,
	    port);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Our own listening socket, so a failure names its reason. -1 (logged). */
static int
listen_open(const char *addr, int *port_out, int *v6_out)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[16];
	int fd = -1, one = 1, rc;

	if (listen_split(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		log_error("health: [health] listen \"%s\" is not HOST:PORT",
		    addr);
		return -1;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host[0] && strcmp(host, "*") != 0 ? host : NULL,
	    port, &hints, &res);
	if (rc != 0 || res == NULL) {
		log_error("health: [health] listen \"%s\": %s; use a numeric "
		    "address such as 0.0.0.0:8090", addr, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("health: socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		log_error("health: cannot listen on %s: %s%s", addr,
		    strerror(errno), errno == EADDRINUSE ? "; something "
		    "else holds the port: stop it or change [health] listen" :
		    "");
		goto fail;
	}
	if (listen(fd, BACKLOG) < 0) {
		log_error("health: listen on %s: %s", addr, strerror(errno));
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*port_out = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)(void *)&ss)->sin6_port :
		    ((struct sockaddr_in *)(void *)&ss)->sin_port);
	*v6_out = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

struct server *
server_start(struct health *h, const char *listen, const char *probe_path)
{
	struct server *s;
	int v6 = 0;
	unsigned flags;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		log_error("health: out of memory");
		return NULL;
	}
	s->h = h;
	s->fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->gen, 0);
	if (snprintf(s->probe_path, sizeof(s->probe_path), "%s",
	    probe_path) >= (int)sizeof(s->probe_path)) {
		log_error("health: [health] path is too long");
		goto fail;
	}
	s->fd = listen_open(listen, &s->port, &v6);
	if (s->fd < 0)
		goto fail;
	refresh(s);
	/*
	 * epoll in a pool of two threads: measured >= 20 000 probes/s with
	 * p99 < 5 ms on 2 cores (bench/health). MHD owns the socket from
	 * here and closes it.
	 */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		log_error("health: cannot start the HTTP server on %s (run "
		    "with -v for libmicrohttpd's reason)", listen);
		goto fail;
	}
	s->fd = -1;
	log_info("health: listening on %s (port %d): %s, /live, /status, "
	    "/metrics; /drain and /undrain from this host only", listen,
	    s->port, s->probe_path);
	return s;
fail:
	server_stop(s);
	return NULL;
}

int
server_port(const struct server *s)
{
	return s->port;
}

void
server_stop(struct server *s)
{
	if (s == NULL)
		return;
	if (s->mhd != NULL)
		MHD_stop_daemon(s->mhd);
	if (s->fd >= 0)
		close(s->fd);
	if (s->probe != NULL)
		MHD_destroy_response(s->probe);
	if (s->live != NULL)
		MHD_destroy_response(s->live);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
