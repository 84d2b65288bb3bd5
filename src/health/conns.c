/* conns.c — count established TCP connections to a set of local ports. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "agent.h"
#include "fsutil.h"
#include "health/conns.h"
#include "log.h"

#define TCP_STATE_ESTABLISHED 1	    /* kernel's TCP_ESTABLISHED */
#define NL_BUF (32 * 1024)
#define NL_MAX_MESSAGES (4 * 1024 * 1024) /* sockets per dump, a cap */
#define PROC_MAX (64 * 1024 * 1024)	    /* /proc/net/tcp6 text, a cap */

const char *const conns_source_names[CONNS__MAX] = {
	"netlink", "proc", "none"
};

void
conns_ports_add(struct conns_ports *ports, uint16_t port)
{
	if (!conns_ports_has(ports, port))
		ports->n++;
	ports->bits[port / 64] |= (uint64_t)1 << (port % 64);
}

int
conns_ports_has(const struct conns_ports *ports, uint16_t port)
{
	return (ports->bits[port / 64] >> (port % 64)) & 1;
}

/* One decimal port 1..65535 from s[0..len). */
static int
port_parse(const char *s, size_t len, long *out)
{
	char buf[8];
	char *end;
	long v;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)buf[i]))
			return -1;
	v = strtol(buf, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

int
conns_ports_parse(const char *spec, struct conns_ports *ports, char *err,
    size_t errsz)
{
	const char *p = spec;

	memset(ports, 0, sizeof(*ports));
	while (*p != '\0') {
		const char *end, *dash;
		long lo, hi;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		end = p + strcspn(p, ", \t");
		len = (size_t)(end - p);
		dash = memchr(p, '-', len);
		if (dash != NULL) {
			if (port_parse(p, (size_t)(dash - p), &lo) < 0 ||
			    port_parse(dash + 1, (size_t)(end - dash - 1),
			    &hi) < 0 || hi < lo) {
				snprintf(err, errsz, "\"%.*s\" is not a port "
				    "range like 8000-8010", (int)len, p);
				return -1;
			}
		} else if (port_parse(p, len, &lo) < 0) {
			snprintf(err, errsz, "\"%.*s\" is not a port "
			    "(1-65535)", (int)len, p);
			return -1;
		} else {
			hi = lo;
		}
		for (long v = lo; v <= hi; v++)
			conns_ports_add(ports, (uint16_t)v);
		p = end;
	}
	if (ports->n == 0) {
		snprintf(err, errsz, "no ports given");
		return -1;
	}
	return 0;
}

/* Count through NETLINK_SOCK_DIAG for one family; -1 on failure. */
static long
count_netlink(int family, const struct conns_ports *ports)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 2 };
	char *buf = NULL;
	long count = 0, seen = 0, rc = -1;
	int fd, done = 0;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	buf = malloc(NL_BUF);
	if (buf == NULL)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = 1;
	msg.req.sdiag_family = (unsigned char)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = 1u << TCP_STATE_ESTABLISHED;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0)
		goto out;
	while (!done) {
		ssize_t n = recv(fd, buf, NL_BUF, 0);
		struct nlmsghdr *h;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		for (h = (struct nlmsghdr *)(void *)buf;
		    NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *m;

			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto out;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			if (++seen > NL_MAX_MESSAGES)
				goto out;
			m = NLMSG_DATA(h);
			if (m->idiag_state == TCP_STATE_ESTABLISHED &&
			    conns_ports_has(ports, ntohs(m->id.idiag_sport)))
				count++;
		}
	}
	rc = count;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Hex number of exactly len digits at s; -1 when not. */
static long
hex_field(const char *s, size_t len)
{
	long v = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Next whitespace-separated field of a line: start and length. */
static const char *
field_next(const char *p, const char *eol, size_t *len)
{
	const char *s;

	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	s = p;
	while (p < eol && *p != ' ' && *p != '\t')
		p++;
	*len = (size_t)(p - s);
	return *len ? s : NULL;
}

long
conns_count_proc_text(const char *text, const struct conns_ports *ports)
{
	const char *p = text;
	long count = 0;
	int first = 1;

	while (*p != '\0') {
		const char *eol = strchr(p, '\n'), *f, *colon;
		size_t len;
		long port, st;

		if (eol == NULL)
			eol = p + strlen(p);
		if (first) {
			first = 0; /* "  sl  local_address rem_address ..." */
			goto next;
		}
		/* sl, local address:port, remote address:port, state */
		f = field_next(p, eol, &len);
		if (f == NULL)
			goto next;
		f = field_next(f + len, eol, &len);
		if (f == NULL || (colon = memchr(f, ':', len)) == NULL ||
		    (size_t)(f + len - colon - 1) != 4)
			goto next;
		port = hex_field(colon + 1, 4);
		f = field_next(f + len, eol, &len);
		if (f == NULL)
			goto next;
		f = field_next(f + len, eol, &len);
		if (f == NULL || len != 2)
			goto next;
		st = hex_field(f, 2);
		if (st == TCP_STATE_ESTABLISHED && port > 0 &&
		    conns_ports_has(ports, (uint16_t)port))
			count++;
next:
		p = *eol ? eol + 1 : eol;
	}
	return count;
}

static long
count_proc(const char *path, const struct conns_ports *ports)
{
	char *text;
	size_t len;
	long n;

	text = fs_read_file(path, PROC_MAX, &len, 1);
	if (text == NULL)
		return errno == ENOENT ? 0 : -1; /* no IPv6: nothing there */
	n = conns_count_proc_text(text, ports);
	free(text);
	return n;
}

long
conns_count(const struct conns_ports *ports, enum conns_source *src)
{
	long v4, v6;

	v4 = count_netlink(AF_INET, ports);
	v6 = v4 < 0 ? -1 : count_netlink(AF_INET6, ports);
	if (v4 >= 0 && v6 >= 0) {
		if (src != NULL)
			*src = CONNS_NETLINK;
		return v4 + v6;
	}
	v4 = count_proc("/proc/net/tcp", ports);
	v6 = v4 < 0 ? -1 : count_proc("/proc/net/tcp6", ports);
	if (v4 >= 0 && v6 >= 0) {
		if (src != NULL)
			*src = CONNS_PROC;
		return v4 + v6;
	}
	if (src != NULL)
		*src = CONNS_NONE;
	return -1;
}
