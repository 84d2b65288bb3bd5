/*
 * naive_probe.c — the peer for bench/health: a probe server that asks IMDS
 * for Scheduled Events on every probe, the design of the sample's health
 * endpoint. Same HTTP library and threading as greenlight health (MHD,
 * epoll, a pool of two threads) and a libcurl handle per thread, so the
 * only difference measured is "IMDS per probe" against "cached state".
 * Each IMDS request uses a new connection, like a script's HTTP call: the
 * lab's emulator (Python, no TCP_NODELAY) stalls ~40 ms on every reused
 * keep-alive connection, which would make this peer look even worse.
 * Not part of greenlight.
 *
 * Usage: naive_probe PORT IMDS_BASE_URL VM_NAME
 * GET /health: 503 when the document lists a Terminate for VM_NAME or IMDS
 * fails, else 200.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>

struct buf {
	char data[64 * 1024];
	size_t len;
};

static char url[512];
static const char *vm;
static _Thread_local CURL *easy;
static _Thread_local struct curl_slist *hdrs;

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;

	if (b->len + len >= sizeof(b->data))
		return 0;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* 1 when IMDS lists a Terminate for this VM, -1 when IMDS failed. */
static int
terminate_listed(void)
{
	struct buf *b = calloc(1, sizeof(*b));
	long status = 0;
	int rc;

	if (b == NULL)
		return -1;
	if (easy == NULL) {
		easy = curl_easy_init();
		hdrs = curl_slist_append(NULL, "Metadata: true");
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, b);
	if (curl_easy_perform(easy) != CURLE_OK) {
		free(b);
		return -1;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	rc = status != 200 ? -1 : (strstr(b->data, "\"Terminate\"") != NULL &&
	    strstr(b->data, vm) != NULL);
	free(b);
	return rc;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *u,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	static int seen;
	static char ok[] = "{\"status\":\"ok\"}";
	static char bad[] = "{\"status\":\"unavailable\"}";
	struct MHD_Response *r;
	enum MHD_Result ret;
	int t;

	if (*con_cls == NULL) {
		*con_cls = &seen;
		return MHD_YES;
	}
	t = terminate_listed();
	r = MHD_create_response_from_buffer(t == 0 ? strlen(ok) : strlen(bad),
	    t == 0 ? ok : bad, MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, t == 0 ? 200 : 503, r);
	MHD_destroy_response(r);
	return ret;
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	sigset_t set;
	char *end;
	long port;
	int sig;

	if (argc != 4) {
		fprintf(stderr, "usage: naive_probe PORT IMDS_URL VM_NAME\n");
		return 2;
	}
	port = strtol(argv[1], &end, 10);
	if (*end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "naive_probe: bad port %s\n", argv[1]);
		return 2;
	}
	snprintf(url, sizeof(url), "%s/metadata/scheduledevents"
	    "?api-version=2020-07-01", argv[2]);
	vm = argv[3];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
	    (uint16_t)port, NULL, NULL, on_request, NULL,
	    MHD_OPTION_THREAD_POOL_SIZE, 2u,
	    MHD_OPTION_CONNECTION_LIMIT, 1024u,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "naive_probe: cannot listen on %s\n", argv[1]);
		return 1;
	}
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
