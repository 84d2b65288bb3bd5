/*
 * config_int.h — what config.c (the key table, reading, printing) lends
 * config_check.c (the rules across keys); not for other modules.
 */
#ifndef GREENLIGHT_CONFIG_INT_H
#define GREENLIGHT_CONFIG_INT_H

#include "config.h"

/* Where section.key's value came from ("FILE:LINE", "default"...), or "?". */
const char *config_origin(const struct config *cfg, const char *section,
    const char *key);
/* Record where section.key's value came from. 0, or -1 out of memory. */
int config_origin_set(struct config *cfg, const char *section, const char *key,
    const char *origin);

#endif
