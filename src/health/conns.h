/*
 * conns.h — established TCP connections to the workload's ports, read from
 * the kernel: NETLINK_SOCK_DIAG (inet_diag) first, /proc/net/tcp and tcp6
 * when netlink is not available. IPv4, IPv6 and v4-mapped sockets count.
 */
#ifndef GREENLIGHT_HEALTH_CONNS_H
#define GREENLIGHT_HEALTH_CONNS_H

#include <stdint.h>

/* A set of local ports. */
struct conns_ports {
	uint64_t bits[65536 / 64];
	int n; /* ports in the set */
};

/* Where conns_count() found the numbers. */
enum conns_source {
	CONNS_NETLINK,
	CONNS_PROC,
	CONNS_NONE, /* neither worked */
	CONNS__MAX
};
extern const char *const conns_source_names[CONNS__MAX];

/*
 * Parse "8080", "8080,8443" or "8000-8010,9000" into ports. Returns 0, or
 * -1 with a reason in err.
 */
int conns_ports_parse(const char *spec, struct conns_ports *ports,
    char *err, size_t errsz);
/* Add one port to the set. */
void conns_ports_add(struct conns_ports *ports, uint16_t port);
/* Is port in the set? */
int conns_ports_has(const struct conns_ports *ports, uint16_t port);

/*
 * Established connections whose local port is in ports; -1 when the kernel
 * could not be asked (*src = CONNS_NONE). src may be NULL.
 */
long conns_count(const struct conns_ports *ports, enum conns_source *src);
/* The same from the text of /proc/net/tcp or tcp6 (header line first). */
long conns_count_proc_text(const char *text, const struct conns_ports *ports);

#endif
