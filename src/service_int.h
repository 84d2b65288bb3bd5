/*
 * service_int.h — what service.c (rendering, files) and service_systemd.c
 * (systemctl, systemd-analyze) share; not for other modules.
 */
#ifndef GREENLIGHT_SERVICE_INT_H
#define GREENLIGHT_SERVICE_INT_H

#include "service.h"

/* systemd's fixed PATH for ExecStart lookups, and for its tools we run. */
#define SYSTEMD_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define UNIT_NAME_MAX 200

/* service_render with current_dir written as dir_written (verify uses the
 * release's own directory, which exists before the switch). */
int service_render_at(const struct service_unit *u, const char *dir_written,
    char **out);

#endif
