/* health.c — the health daemon's shared state and its drain driver. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "fsutil.h"
#include "health/health.h"
#include "health/poller.h"
#include "health/server.h"
#include "http.h"
#include "log.h"
#include "retry.h"
#include "spec.h"

#define TICK_MS 250		/* driver: connections and approvals */
#define GAUGE_EVERY_MS 1000	/* connection gauge while serving */
#define APPROVE_TIMEOUT_MS (10 * 1000)
#define RELEASE_EVERY_MS 5000	/* look for a new current release */

struct health {
	const struct config *cfg;
	pthread_mutex_t mu;	/* guards everything below but counters */
	struct drain drain;
	enum check_state workload;
	char check_target[256];
	char check_detail[256];
	char vm_name[VM_NAME_MAX];
	int imds_ok;
	int imds_outage;	/* in a run of failures */
	int64_t imds_outage_ms;	/* when it began */
	int64_t imds_polls_ok;
	int64_t imds_last_ok_ms;
	int64_t incarnation;
	int doc_events;
	long conns;
	enum conns_source conns_src;
	struct conns_ports ports;
	int have_ports;
	char ports_text[128];
	int64_t started_ms;
	unsigned check_gen;	/* bumped when the workload state flips */
	unsigned seen_drain_gen, seen_check_gen; /* as last published */
	int seen_name;
	atomic_uint gen;	/* what replies are built from */
	atomic_int stop_approvals; /* cancels an approval at exit */
	struct metrics metrics;
	struct check_spec check;
	int check_from_ini;	/* greenlight.ini sets the check */
	struct spec *spec;	/* else the current release's, or NULL */
	char current[4096];	/* where current pointed when read */
	int ports_from_ini;
	struct checker *checker;
	struct http_client *check_http;
};

/* Call with h->mu held after any change a reply could show. */
static void
publish(struct health *h)
{
	if (h->drain.gen == h->seen_drain_gen &&
	    h->check_gen == h->seen_check_gen &&
	    (h->vm_name[0] != '\0') == h->seen_name)
		return;
	h->seen_drain_gen = h->drain.gen;
	h->seen_check_gen = h->check_gen;
	h->seen_name = h->vm_name[0] != '\0';
	atomic_fetch_add(&h->gen, 1);
}

unsigned
health_generation(struct health *h)
{
	return atomic_load(&h->gen);
}

struct metrics *
health_metrics(struct health *h)
{
	return &h->metrics;
}

enum probe_result
health_probe_result(const struct health_view *v)
{
	if (v->drain.state != DRAIN_SERVING)
		return PROBE_DRAINING;
	if (v->workload == CHECK_DOWN)
		return PROBE_WORKLOAD_DOWN;
	if (v->workload == CHECK_UNKNOWN)
		return PROBE_STARTING;
	return PROBE_OK;
}

void
health_view(struct health *h, struct health_view *v)
{
	pthread_mutex_lock(&h->mu);
	v->drain = h->drain;
	v->workload = h->workload;
	memcpy(v->check_target, h->check_target, sizeof(v->check_target));
	memcpy(v->check_detail, h->check_detail, sizeof(v->check_detail));
	memcpy(v->vm_name, h->vm_name, sizeof(v->vm_name));
	v->imds_ok = h->imds_ok;
	v->imds_polls_ok = h->imds_polls_ok;
	v->imds_last_ok_ms = h->imds_last_ok_ms;
	v->incarnation = h->incarnation;
	v->doc_events = h->doc_events;
	v->conns = h->conns;
	v->conns_src = h->conns_src;
	memcpy(v->ports, h->ports_text, sizeof(v->ports));
	v->started_ms = h->started_ms;
	v->gen = atomic_load(&h->gen);
	pthread_mutex_unlock(&h->mu);
	v->now_ms = clock_mono_ms();
}

/* Count a serving -> draining transition. */
static void
count_drain(struct health *h, enum drain_state before)
{
	if (before == DRAIN_SERVING && h->drain.state != DRAIN_SERVING)
		METRIC_INC(h->metrics.drains);
}

void
health_admin(struct health *h, int drain, char *msg, size_t msgsz)
{
	enum drain_state before;
	int changed;

	pthread_mutex_lock(&h->mu);
	before = h->drain.state;
	changed = drain_set_manual(&h->drain, drain, clock_mono_ms());
	count_drain(h, before);
	publish(h);
	if (drain)
		snprintf(msg, msgsz, "%s; the probe fails and the load "
		    "balancer stops sending new connections",
		    changed ? "draining" : "already draining by hand");
	else if (h->drain.state != DRAIN_SERVING)
		snprintf(msg, msgsz, "manual drain %s; still %s for reason: "
		    "%s", changed ? "lifted" : "was not on",
		    drain_state_names[h->drain.state],
		    drain_reason_names[h->drain.reason]);
	else
		snprintf(msg, msgsz, "%s; serving",
		    changed ? "manual drain lifted" : "was not drained by "
		    "hand");
	pthread_mutex_unlock(&h->mu);
}

void
health_set_vm_name(struct health *h, const char *name)
{
	pthread_mutex_lock(&h->mu);
	snprintf(h->vm_name, sizeof(h->vm_name), "%s", name);
	publish(h);
	pthread_mutex_unlock(&h->mu);
}

void
health_on_events(struct health *h, const struct sched_doc *doc)
{
	enum drain_state before;
	int64_t now = clock_mono_ms();

	METRIC_INC(h->metrics.imds_polls);
	pthread_mutex_lock(&h->mu);
	if (h->imds_outage)
		log_info("health: Scheduled Events answer again after %lld "
		    "ms", (long long)(now - h->imds_outage_ms));
	if (doc->incarnation != h->incarnation)
		log_debug("health: Scheduled Events incarnation %lld: %d "
		    "event%s, %d for this VM", (long long)doc->incarnation,
		    doc->total, doc->total == 1 ? "" : "s", doc->nours);
	h->imds_outage = 0;
	h->imds_ok = 1;
	h->imds_polls_ok++;
	h->imds_last_ok_ms = now;
	h->incarnation = doc->incarnation;
	h->doc_events = doc->total;
	before = h->drain.state;
	drain_on_events(&h->drain, doc, now);
	count_drain(h, before);
	publish(h);
	pthread_mutex_unlock(&h->mu);
}

void
health_on_imds_error(struct health *h, enum events_result r, long status,
    const char *err, int64_t started_ms)
{
	METRIC_INC(h->metrics.imds_polls);
	METRIC_INC(h->metrics.imds_errors);
	pthread_mutex_lock(&h->mu);
	h->imds_ok = 0;
	if (!h->imds_outage) {
		h->imds_outage = 1;
		h->imds_outage_ms = started_ms;
		METRIC_INC(h->metrics.imds_outages);
		log_warn("health: Scheduled Events unavailable (%s%s); keeping "
		    "the last known state (%s) until IMDS answers", err,
		    r == EVENTS_MALFORMED ? ", not the documented document" :
		    "", drain_state_names[h->drain.state]);
	}
	(void)status;
	pthread_mutex_unlock(&h->mu);
}

static void
on_check(void *arg, enum check_state state, int flipped, int ok,
    const char *detail)
{
	struct health *h = arg;

	METRIC_INC(h->metrics.checks[ok ? 1 : 0]);
	pthread_mutex_lock(&h->mu);
	/* while down, /health shows the latest reason */
	if (!flipped && state == CHECK_DOWN &&
	    strncmp(h->check_detail, detail, sizeof(h->check_detail) - 1) != 0)
		h->check_gen++;
	snprintf(h->check_detail, sizeof(h->check_detail), "%s", detail);
	if (flipped) {
		enum check_state old = h->workload;

		h->workload = state;
		h->check_gen++;
		if (state == CHECK_DOWN)
			log_warn("health: workload check failing (%s); /health "
			    "and /live report it", detail);
		else if (old == CHECK_DOWN)
			log_info("health: workload check passes again (%s)",
			    detail);
		else
			log_info("health: workload check passes (%s)", detail);
	}
	publish(h);
	pthread_mutex_unlock(&h->mu);
}

/* The port of an http(s) URL or HOST:PORT, for default workload ports. */
static int
port_of(const char *s, int is_url)
{
	const char *p = s, *end;
	long port;

	if (is_url) {
		p = strstr(s, "://");
		if (p == NULL)
			return -1;
		p += 3;
		end = p + strcspn(p, "/?#");
		if (*p == '[') {
			p = memchr(p, ']', (size_t)(end - p));
			if (p == NULL)
				return -1;
		}
		p = memchr(p, ':', (size_t)(end - p));
		if (p == NULL)
			return strncmp(s, "https", 5) == 0 ? 443 : 80;
		p++;
	} else {
		p = strrchr(s, ':');
		if (p == NULL)
			return -1;
		p++;
		end = p + strlen(p);
	}
	port = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return -1;
		port = port * 10 + (*p - '0');
	}
	return port >= 1 && port <= 65535 ? (int)port : -1;
}

/*
 * Use this workload check from now on (url or tcp, both NULL for none);
 * strings must outlive the checker. Derives the workload ports from the
 * check's port unless greenlight.ini names them. The checker thread must
 * not be running.
 */
static void
check_set(struct health *h, const char *url, long status, const char *tcp,
    int64_t timeout_ms)
{
	int port = -1;

	pthread_mutex_lock(&h->mu);
	h->check.url = url;
	h->check.status = status;
	h->check.tcp = url == NULL ? tcp : NULL;
	h->check.interval_ms = h->cfg->check_interval_ms;
	h->check.timeout_ms = timeout_ms;
	h->check.threshold = h->cfg->check_threshold;
	h->check_target[0] = '\0';
	if (h->check.url != NULL) {
		snprintf(h->check_target, sizeof(h->check_target), "GET %s "
		    "expecting %ld", h->check.url, h->check.status);
		port = port_of(h->check.url, 1);
	} else if (h->check.tcp != NULL) {
		snprintf(h->check_target, sizeof(h->check_target),
		    "connect %s", h->check.tcp);
		port = port_of(h->check.tcp, 0);
	}
	h->workload = h->check_target[0] ? CHECK_UNKNOWN : CHECK_NONE;
	snprintf(h->check_detail, sizeof(h->check_detail), "%s",
	    h->workload == CHECK_NONE ? "no workload check configured" : "");
	h->check_gen++;
	if (!h->ports_from_ini) {
		memset(&h->ports, 0, sizeof(h->ports));
		h->have_ports = port > 0;
		h->ports_text[0] = '\0';
		if (port > 0) {
			conns_ports_add(&h->ports, (uint16_t)port);
			snprintf(h->ports_text, sizeof(h->ports_text), "%d",
			    port);
		}
	}
	publish(h);
	pthread_mutex_unlock(&h->mu);
}

/* Start the checker for the current check, if there is one. 0 or -1. */
static int
checker_run(struct health *h)
{
	if (h->check.url == NULL && h->check.tcp == NULL)
		return 0;
	h->checker = checker_start(&h->check, h->check_http, on_check, h);
	return h->checker != NULL ? 0 : -1;
}

/*
 * Without a check in greenlight.ini, use the current release's
 * release.ini [health] check; look again when current moves.
 */
static void
release_check_follow(struct health *h)
{
	char link[4096], target[4096], path[4096];
	struct spec *sp;
	ssize_t n;
	int problems = 0;

	if (h->check_from_ini || h->cfg->root == NULL ||
	    fs_path_join(link, sizeof(link), h->cfg->root, "current") < 0)
		return;
	n = readlink(link, target, sizeof(target) - 1);
	target[n < 0 ? 0 : n] = '\0';
	if (strcmp(target, h->current) == 0)
		return;
	snprintf(h->current, sizeof(h->current), "%s", target);
	if (n < 0) {
		log_info("health: no current release at %s and no check in "
		    "greenlight.ini: the workload is not checked", link);
		sp = NULL;
	} else {
		if (fs_path_join(path, sizeof(path), link, SPEC_FILE) < 0)
			return;
		sp = spec_load(path, &problems);
		if (sp == NULL || problems > 0) {
			log_warn("health: %s has problems (above); keeping the "
			    "workload check as it was", path);
			spec_free(sp);
			return;
		}
		log_info("health: workload check from %s: %s", path,
		    sp->check_url ? sp->check_url : sp->check_tcp ?
		    sp->check_tcp : "none");
	}
	checker_stop(h->checker);
	h->checker = NULL;
	check_set(h, sp ? sp->check_url : NULL, sp ? sp->check_status : 200,
	    sp ? sp->check_tcp : NULL, sp ? sp->check_timeout_ms :
	    h->cfg->check_timeout_ms);
	spec_free(h->spec);
	h->spec = sp;
	if (checker_run(h) < 0)
		log_error("health: the workload is not checked");
}

struct health *
health_new(const struct config *cfg)
{
	struct health *h;
	struct drain_config dc;
	char err[256];

	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		log_error("health: out of memory");
		return NULL;
	}
	h->cfg = cfg;
	pthread_mutex_init(&h->mu, NULL);
	atomic_init(&h->gen, 0);
	atomic_init(&h->stop_approvals, 0);
	h->imds_last_ok_ms = -1;
	h->incarnation = -1;
	h->conns = -1;
	h->conns_src = CONNS_NONE;
	h->started_ms = clock_mono_ms();

	memset(&dc, 0, sizeof(dc));
	dc.min_ms = config_drain_min_ms(cfg);
	dc.max_ms = cfg->drain_max_ms;
	dc.preempt_max_ms = cfg->preempt_drain_max_ms;
	dc.events = cfg->health_events;
	dc.approve = cfg->approve;
	dc.retry_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 1000;
	drain_init(&h->drain, &dc);

	h->check_from_ini = cfg->check_url != NULL || cfg->check_tcp != NULL;
	if (cfg->workload_ports != NULL) {
		if (conns_ports_parse(cfg->workload_ports, &h->ports, err,
		    sizeof(err)) < 0) {
			log_error("health: [health] workload_ports: %s", err);
			health_free(h);
			return NULL;
		}
		h->have_ports = 1;
		h->ports_from_ini = 1;
		snprintf(h->ports_text, sizeof(h->ports_text), "%s",
		    cfg->workload_ports);
	}
	check_set(h, cfg->check_url, cfg->check_status,
	    cfg->check_url == NULL ? cfg->check_tcp : NULL,
	    cfg->check_timeout_ms);
	publish(h);
	return h;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	spec_free(h->spec);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* Count connections (or -1), remember them for the views. */
static long
count_conns(struct health *h)
{
	enum conns_source src = CONNS_NONE;
	long n;
	static int warned;

	if (!h->have_ports)
		return 0;
	n = conns_count(&h->ports, &src);
	if (n < 0 && !warned) {
		log_warn("health: cannot count connections (neither "
		    "sock_diag netlink nor /proc/net/tcp works); a drain "
		    "waits for drain_max");
		warned = 1;
	}
	pthread_mutex_lock(&h->mu);
	h->conns = n;
	h->conns_src = src;
	pthread_mutex_unlock(&h->mu);
	return n;
}

/* Send the approvals the drain machine wants now. */
static void
approve_due(struct health *h, struct http_client *http)
{
	char ids[EVENTS_OURS_MAX][EVENT_ID_MAX], err[512];
	const char *due[EVENTS_OURS_MAX], *idp[EVENTS_OURS_MAX];
	enum events_result r;
	enum drain_result dr;
	int n;
	long status;

	pthread_mutex_lock(&h->mu);
	n = drain_due(&h->drain, clock_mono_ms(), due, EVENTS_OURS_MAX);
	for (int i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%s", due[i]);
		idp[i] = ids[i];
	}
	pthread_mutex_unlock(&h->mu);
	if (n == 0)
		return;
	r = events_approve(http, h->cfg->imds_endpoint, APPROVE_TIMEOUT_MS,
	    &h->stop_approvals, idp, n, &status, err, sizeof(err));
	if (r == EVENTS_OK) {
		dr = DRAIN_RESULT_OK;
	} else {
		METRIC_INC(h->metrics.approval_errors);
		dr = r == EVENTS_STATUS && retry_classify(RETRY_TARGET_IMDS,
		    status, HTTP_E_NONE, NULL) == RETRY_NO ?
		    DRAIN_RESULT_REFUSED : DRAIN_RESULT_RETRY;
		log_warn("health: approving %d event%s failed (%s); %s", n,
		    n == 1 ? "" : "s", err, dr == DRAIN_RESULT_RETRY ?
		    "retrying" : "giving up on it");
	}
	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < n; i++) {
		if (dr == DRAIN_RESULT_OK)
			METRIC_INC(h->metrics.approvals);
		drain_approval_result(&h->drain, ids[i], dr, clock_mono_ms());
	}
	publish(h);
	pthread_mutex_unlock(&h->mu);
}

/* Wait up to ms for SIGTERM/SIGINT; returns the signal or 0. */
static int
signal_wait(const sigset_t *set, int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	int sig;

	sig = sigtimedwait(set, NULL, &ts);
	return sig > 0 ? sig : 0;
}

/* A stop signal: drain first, or at once on the second. 1 to exit now. */
static int
on_signal(struct health *h, int sig, int64_t now)
{
	enum drain_state before;

	pthread_mutex_lock(&h->mu);
	if (h->drain.stopping) {
		pthread_mutex_unlock(&h->mu);
		log_warn("health: second %s: stopping without waiting for the "
		    "drain", strsignal(sig));
		return 1;
	}
	before = h->drain.state;
	drain_set_stop(&h->drain, now);
	count_drain(h, before);
	publish(h);
	pthread_mutex_unlock(&h->mu);
	log_info("health: %s: stopping after the drain (at least drain_min "
	    "with no connection left, at most drain_max); send it again to "
	    "stop at once", strsignal(sig));
	return 0;
}

/* One driver step: count, tick, approve. Returns 1 when done stopping. */
static int
drive(struct health *h, struct http_client *http, int64_t now,
    int64_t *next_gauge)
{
	unsigned bits;
	long conns = 0;
	int draining;

	pthread_mutex_lock(&h->mu);
	draining = h->drain.state != DRAIN_SERVING;
	pthread_mutex_unlock(&h->mu);
	if (draining || now >= *next_gauge) {
		conns = count_conns(h);
		*next_gauge = now + GAUGE_EVERY_MS;
	}
	if (!draining)
		return 0;
	pthread_mutex_lock(&h->mu);
	bits = drain_tick(&h->drain, now, conns);
	publish(h);
	pthread_mutex_unlock(&h->mu);
	if (bits & DRAIN_TICK_APPROVE)
		approve_due(h, http);
	if (bits & DRAIN_TICK_EXIT) {
		log_info("health: drained; stopping");
		return 1;
	}
	return 0;
}

int
health_run(struct health *h)
{
	const struct config *cfg = h->cfg;
	struct http_client *poll_http = NULL, *approve_http = NULL;
	struct server *srv = NULL;
	struct poller *poller = NULL;
	struct http_opts ho = { 0 };
	sigset_t set;
	int64_t next_gauge = 0, next_release = 0;
	int rc = EXIT_LOCAL;

	/* signals go to this thread only; the others inherit the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	ho.connect_timeout_ms = 5000;
	ho.ca_file = cfg->ca_file;
	/* one client per thread: a client is not shared between threads */
	poll_http = http_client_new(&ho);
	h->check_http = http_client_new(&ho);
	approve_http = http_client_new(&ho);
	if (poll_http == NULL || h->check_http == NULL ||
	    approve_http == NULL) {
		log_error("health: cannot set up HTTP clients");
		goto out;
	}
	release_check_follow(h);
	count_conns(h); /* /status has a count from the first request on */
	next_gauge = clock_mono_ms() + GAUGE_EVERY_MS;
	srv = server_start(h, cfg->health_listen, cfg->health_path);
	if (srv == NULL)
		goto out;
	if (!h->have_ports)
		log_warn("health: no [health] workload_ports and no workload "
		    "check port: connections are not counted, so a drain "
		    "ends after drain_min");
	log_info("health: drain_min %lld ms, drain_max %lld ms (Preempt "
	    "%lld ms), approve %s, workload ports %s, check %s",
	    (long long)h->drain.cfg.min_ms, (long long)h->drain.cfg.max_ms,
	    (long long)h->drain.cfg.preempt_max_ms,
	    h->drain.cfg.approve ? "on" : "off",
	    h->ports_text[0] ? h->ports_text : "none",
	    h->check_target[0] ? h->check_target : "none");
	if (h->drain.cfg.max_ms < h->drain.cfg.min_ms)
		log_warn("health: drain_max is shorter than drain_min: an "
		    "event is approved after drain_max, possibly before the "
		    "load balancer has seen enough failing probes; raise "
		    "[health] drain_max or set probe_interval and "
		    "probe_threshold to the load balancer's");
	if (h->checker == NULL && checker_run(h) < 0)
		goto out;
	poller = poller_start(h, cfg->imds_endpoint, cfg->poll_interval_ms,
	    poll_http);
	if (poller == NULL)
		goto out;

	for (;;) {
		int sig = signal_wait(&set, TICK_MS);
		int64_t now = clock_mono_ms();

		if (sig != 0 && on_signal(h, sig, now))
			break;
		if (now >= next_release) {
			release_check_follow(h);
			next_release = now + RELEASE_EVERY_MS;
		}
		if (drive(h, approve_http, now, &next_gauge))
			break;
	}
	rc = EXIT_OK;
out:
	atomic_store(&h->stop_approvals, 1);
	server_stop(srv);
	poller_stop(poller);
	checker_stop(h->checker);
	h->checker = NULL;
	http_client_free(poll_http);
	http_client_free(h->check_http);
	h->check_http = NULL;
	http_client_free(approve_http);
	return rc;
}
