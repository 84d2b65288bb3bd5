/*
 * stub_server.h — a tiny loopback HTTP/1.1 server thread for unit tests of
 * IMDS clients (IMDS is cloud-only; this is its double). One request per
 * connection; a handler callback decides each answer. Header-only.
 */
#ifndef GREENLIGHT_STUB_SERVER_H
#define GREENLIGHT_STUB_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct stub_reply {
	int status;		/* HTTP status; 0 = close without answering */
	char body[4096];
	char headers[512];	/* extra "Name: value\r\n" lines */
};

/* Called on the server thread for each request (request head as text). */
typedef void (*stub_handler)(void *arg, const char *head,
    struct stub_reply *r);

struct stub_server {
	int fd;
	int port;
	pthread_t thread;
	volatile int stop;
	stub_handler fn;
	void *arg;
	pthread_mutex_t mu;
	int requests;		/* answered so far */
	char last[8192];	/* head of the last request */
};

static inline void
stub_serve_one(struct stub_server *s, int c)
{
	char head[8192], out[8192];
	struct stub_reply r;
	size_t n = 0;
	int len;

	while (n + 1 < sizeof(head)) {
		struct pollfd p = { c, POLLIN, 0 };
		ssize_t k;

		if (poll(&p, 1, 2000) <= 0)
			return;
		k = read(c, head + n, sizeof(head) - 1 - n);
		if (k <= 0)
			return;
		n += (size_t)k;
		head[n] = '\0';
		if (strstr(head, "\r\n\r\n") != NULL)
			break;
	}
	memset(&r, 0, sizeof(r));
	r.status = 200;
	s->fn(s->arg, head, &r);
	pthread_mutex_lock(&s->mu);
	s->requests++;
	snprintf(s->last, sizeof(s->last), "%s", head);
	pthread_mutex_unlock(&s->mu);
	if (r.status == 0)
		return;
	len = snprintf(out, sizeof(out), "HTTP/1.1 %d Stub\r\nContent-Type: "
	    "application/json; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n%s\r\n%s", r.status, strlen(r.body),
	    r.headers, r.body);
	if (len > 0 && write(c, out, (size_t)len) < 0)
		return;
}

static inline void *
stub_main(void *arg)
{
	struct stub_server *s = arg;

	while (!s->stop) {
		struct pollfd p = { s->fd, POLLIN, 0 };
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		stub_serve_one(s, c);
		close(c);
	}
	return NULL;
}

/* Listen on 127.0.0.1 (any port) and serve with fn until stub_stop. */
static inline void
stub_start(struct stub_server *s, stub_handler fn, void *arg)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->fn = fn;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->fd, 16) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &al) < 0) {
		perror("stub_start");
		abort();
	}
	s->port = ntohs(a.sin_port);
	if (pthread_create(&s->thread, NULL, stub_main, s) != 0)
		abort();
}

static inline void
stub_stop(struct stub_server *s)
{
	s->stop = 1;
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
}

static inline int
stub_requests(struct stub_server *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->requests;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static inline int
stub_dead_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		abort();
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

#endif
