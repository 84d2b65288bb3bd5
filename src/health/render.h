/*
 * render.h — the JSON bodies of /health, /live and /status, from a view of
 * the daemon's state (jansson here).
 */
#ifndef GREENLIGHT_HEALTH_RENDER_H
#define GREENLIGHT_HEALTH_RENDER_H

#include <stddef.h>

#include "health/health.h"
#include "health/metrics.h"

/* Why /health answers what it does, in words ("Terminate event X ..."). */
void render_reason(const struct health_view *v, enum probe_result r,
    char *out, size_t outsz);
/* /health body for result r; caller frees. NULL on allocation failure. */
char *render_probe(const struct health_view *v, enum probe_result r);
/* /live body (Application Health rich state); *healthy gets 1 or 0. */
char *render_live(const struct health_view *v, int *healthy);
/* /status body; caller frees. */
char *render_status(const struct health_view *v, const struct metrics *m);

#endif
