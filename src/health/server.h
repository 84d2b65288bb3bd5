/*
 * server.h — the health daemon's HTTP server (libmicrohttpd here only).
 * GET /health (LB readiness, path configurable), /live (Application
 * Health rich state), /status (JSON), /metrics (Prometheus text); POST
 * /drain and /undrain only from this host. Replies to probes are prebuilt
 * and swapped when the state changes; probes never wait on IMDS or on the
 * workload.
 */
#ifndef GREENLIGHT_HEALTH_SERVER_H
#define GREENLIGHT_HEALTH_SERVER_H

#include <stddef.h>

#include "health/health.h"

struct server;

/*
 * Listen on listen ("HOST:PORT", "[V6]:PORT"; port 0 picks one) and serve
 * probe_path plus the fixed paths. NULL on failure (logged with the
 * reason).
 */
struct server *server_start(struct health *h, const char *listen,
    const char *probe_path);
/* The port actually listened on. */
int server_port(const struct server *s);
/* Stop serving and free; NULL is fine. */
void server_stop(struct server *s);
/*
 * The base URL a local client uses to reach a daemon listening on listen
 * ("0.0.0.0:8090" -> "http://127.0.0.1:8090"). Returns 0 or -1 when listen
 * is not HOST:PORT.
 */
int server_local_url(const char *listen, char *out, size_t outsz);

#endif
