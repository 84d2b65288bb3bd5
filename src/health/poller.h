/*
 * poller.h — the one thread that talks to IMDS for the health daemon: reads
 * this VM's name once, then Scheduled Events about once per interval (the
 * first call may take up to two minutes while the service switches on),
 * and hands each result to the shared state. Probes never wait on it.
 */
#ifndef GREENLIGHT_HEALTH_POLLER_H
#define GREENLIGHT_HEALTH_POLLER_H

#include <stdint.h>

#include "health/health.h"
#include "http.h"

struct poller;

/*
 * Start polling endpoint (IMDS base URL, kept by reference) every
 * interval_ms; http is used by the poller thread only. NULL on failure
 * (logged).
 */
struct poller *poller_start(struct health *h, const char *endpoint,
    int64_t interval_ms, struct http_client *http);
/* Stop (abandoning a request in flight) and join; NULL is fine. */
void poller_stop(struct poller *p);

#endif
