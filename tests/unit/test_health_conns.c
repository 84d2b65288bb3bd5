/*
 * test_health_conns.c — workload port sets, /proc/net/tcp and tcp6 text,
 * and the kernel count agreeing with connections this test opens.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "agent.h"
#include "health/conns.h"

static void
test_conns_ports_parse(void **state)
{
	static const struct {
		const char *spec;
		int rc;
		int n;
		uint16_t in[3], out[2];
	} t[] = {
		{ "8080", 0, 1, { 8080, 8080, 8080 }, { 8081, 80 } },
		{ "8080,8443", 0, 2, { 8080, 8443, 8080 }, { 443, 8081 } },
		{ " 80 , 443 ", 0, 2, { 80, 443, 80 }, { 8080, 0 } },
		{ "8000-8010", 0, 11, { 8000, 8005, 8010 }, { 7999, 8011 } },
		{ "1-3,65535", 0, 4, { 1, 3, 65535 }, { 4, 65534 } },
		{ "80,80", 0, 1, { 80, 80, 80 }, { 81, 79 } },
		{ "", -1, 0, { 0 }, { 0 } },
		{ ",", -1, 0, { 0 }, { 0 } },
		{ "0", -1, 0, { 0 }, { 0 } },
		{ "65536", -1, 0, { 0 }, { 0 } },
		{ "http", -1, 0, { 0 }, { 0 } },
		{ "80x", -1, 0, { 0 }, { 0 } },
		{ "-80", -1, 0, { 0 }, { 0 } },
		{ "90-80", -1, 0, { 0 }, { 0 } },
		{ "80-", -1, 0, { 0 }, { 0 } },
		{ "+80", -1, 0, { 0 }, { 0 } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct conns_ports p;
		char err[128] = "";
		int rc = conns_ports_parse(t[i].spec, &p, err, sizeof(err));

		if (rc != t[i].rc)
			fail_msg("\"%s\": rc %d, want %d (%s)", t[i].spec, rc,
			    t[i].rc, err);
		if (rc < 0) {
			assert_true(err[0] != '\0');
			continue;
		}
		if (p.n != t[i].n)
			fail_msg("\"%s\": %d ports, want %d", t[i].spec, p.n,
			    t[i].n);
		for (int k = 0; k < 3; k++)
			if (!conns_ports_has(&p, t[i].in[k]))
				fail_msg("\"%s\": %u missing", t[i].spec,
				    t[i].in[k]);
		for (int k = 0; k < 2; k++)
			if (t[i].out[k] && conns_ports_has(&p, t[i].out[k]))
				fail_msg("\"%s\": %u present", t[i].spec,
				    t[i].out[k]);
	}
}

/* Port 8080 = 1F90, 8443 = 20FB; states 01 established, 0A listen,
 * 06 time-wait, 08 close-wait. */
static const char tcp4[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode\n"
    "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 28765 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 "
    "00000000     0        0 28766 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0400000A:1F90 0500000A:C350 01 00000000:00000000 00:00000000 "
    "00000000  1000        0 28767 1 0000000000000000 20 4 30 10 -1\n"
    "   3: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 "
    "00000000     0        0 28768 1 0000000000000000 20 4 30 10 -1\n"
    "   4: 0100007F:1F90 0100007F:D432 06 00000000:00000000 03:00001234 "
    "00000000     0        0 0 3 0000000000000000\n"
    "   5: 0100007F:1F90 0100007F:D433 08 00000000:00000000 00:00000000 "
    "00000000     0        0 28769 1 0000000000000000 20 4 30 10 -1\n"
    "   6: 0100007F:20FB 0100007F:D434 01 00000000:00000000 00:00000000 "
    "00000000     0        0 28770 1 0000000000000000 20 4 30 10 -1\n";

static const char tcp6[] =
    "  sl  local_address                         remote_address        "
    "                st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
    "   0: 00000000000000000000000000000000:1F90 "
    "00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n"
    "   1: 00000000000000000000000001000000:1F90 "
    "00000000000000000000000001000000:E001 01 00000000:00000000 "
    "00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0000000000000000FFFF00000100007F:1F90 "
    "0000000000000000FFFF00000100007F:E002 01 00000000:00000000 "
    "00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1\n";

static void
test_conns_proc_text(void **state)
{
	struct conns_ports p;
	char err[64];

	assert_int_equal(conns_ports_parse("8080", &p, err, sizeof(err)), 0);
	/* rows 1, 2: established to 8080; 3 is the client side; 4 time-wait,
	 * 5 close-wait and 0 listen are not established; 6 other port */
	assert_int_equal(conns_count_proc_text(tcp4, &p), 2);
	assert_int_equal(conns_count_proc_text(tcp6, &p), 2);
	assert_int_equal(conns_ports_parse("8080,8443", &p, err, sizeof(err)),
	    0);
	assert_int_equal(conns_count_proc_text(tcp4, &p), 3);
	assert_int_equal(conns_ports_parse("9", &p, err, sizeof(err)), 0);
	assert_int_equal(conns_count_proc_text(tcp4, &p), 0);
	/* header only, empty, garbage */
	assert_int_equal(conns_ports_parse("8080", &p, err, sizeof(err)), 0);
	assert_int_equal(conns_count_proc_text("  sl  local_address\n", &p),
	    0);
	assert_int_equal(conns_count_proc_text("", &p), 0);
	assert_int_equal(conns_count_proc_text("header\nno fields here\n"
	    "   1: 0100007F:1F9 0100007F:D431 01\n"
	    "   1: 0100007F:1F90 0100007F:D431 1\n"
	    "   1: 0100007F:1F9G 0100007F:D431 01\n"
	    "   1: 0100007F:1F90 0100007F:D431 01", &p), 1);
}

/* A listening socket on loopback; its port in *port. */
static int
listener(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static int
dial(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
test_conns_kernel(void **state)
{
	struct conns_ports p;
	enum conns_source src;
	uint16_t port;
	int lfd, c[3], a[3];
	long n;

	lfd = listener(&port);
	memset(&p, 0, sizeof(p));
	conns_ports_add(&p, port);
	assert_int_equal(conns_count(&p, &src), 0);
	for (int i = 0; i < 3; i++) {
		c[i] = dial(port);
		a[i] = accept(lfd, NULL, NULL);
		assert_true(a[i] >= 0);
	}
	n = conns_count(&p, &src);
	assert_int_equal(n, 3);
	assert_true(src == CONNS_NETLINK || src == CONNS_PROC);
	for (int i = 0; i < 3; i++) {
		close(c[i]);
		close(a[i]);
	}
	assert_int_equal(conns_count(&p, NULL), 0);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conns_ports_parse),
		cmocka_unit_test(test_conns_proc_text),
		cmocka_unit_test(test_conns_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
