/*
 * service.h — systemd units for the workload and the health daemon: render
 * the text from a small description (independent of the release spec),
 * check it with systemd-analyze verify, write it atomically, and drive
 * systemctl ([--user]) with a timeout. Never through a shell.
 *
 * Rendering rules:
 * - ExecStart is an absolute path. A command with a '/' but not absolute is
 *   taken relative to the release (written as current_dir/cmd); a bare name
 *   is looked up in release_dir, then in systemd's fixed PATH
 *   (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) at render
 *   time and logged. An argument with anything but [A-Za-z0-9_./:=,+@-]
 *   is double-quoted per systemd.syntax(7): % and $ doubled, backslash,
 *   quote and control bytes C-escaped (so a lone ";" is ";", a literal).
 * - The unit refers to the release through current_dir (root/current), so
 *   switching `current` and restarting is the whole activation.
 * - The text names no release, so it stays byte-identical across releases
 *   with the same service settings (service_write() then reports no change
 *   and no daemon-reload is needed).
 * - Hardening unless the unit opts out (see service.c for the list and the
 *   reasons): user scope gets only what works without user namespaces.
 * - User=/Group= only in system scope (the user must exist); user scope runs
 *   as the invoking user. No User= in system scope means root.
 */
#ifndef GREENLIGHT_SERVICE_H
#define GREENLIGHT_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SERVICE_CTL_TIMEOUT_MS 90000 /* systemctl start/restart/stop */

struct service_unit {
	const char *name;	 /* unit name without ".service" */
	const char *description; /* NULL: "greenlight workload <name>" */
	char *const *argv;	 /* ExecStart argv (NULL-terminated) ... */
	const char *shell;	 /* ... or a command for /bin/sh -c */
	const char *user;	 /* system scope: User= (NULL: root) */
	const char *group;	 /* system scope: Group= (NULL: user's) */
	const char *working_directory; /* NULL: current_dir */
	char *const *env;	 /* "NAME=value" strings, NULL-terminated */
	const char *restart;	 /* Restart= value; NULL: "on-failure" */
	int64_t restart_sec_ms;	 /* 0: 1 s */
	int64_t stop_timeout_ms; /* 0: 30 s */
	char *const *writable_paths; /* ReadWritePaths=, NULL-terminated */
	const char *release_dir; /* the release on disk now (lookup, verify) */
	const char *current_dir; /* how the unit names it (root/current) */
	const char *release;	 /* for messages; the text names none */
	enum install_scope scope;
	int no_hardening;	 /* 1: leave out the sandboxing settings */
};

/* The unit text; *out malloc'd. 0, or -1 with what is wrong logged. */
int service_render(const struct service_unit *u, char **out);
/*
 * Check the unit with `systemd-analyze verify --man=no [--user]`, rendered
 * with release_dir standing in for current_dir (so ExecStart exists before
 * the switch). Fails on a non-zero status or any output on stderr (systemd
 * only warns about unknown keys). 0/-1 (logged with systemd's words).
 */
int service_verify(const struct service_unit *u);
/* Path of name.service in unit_dir (NULL: the scope's default). 0/-1. */
int service_unit_path(enum install_scope scope, const char *unit_dir,
    const char *name, char *out, size_t outsz);
/* Write text to path atomically (0644; directory created). 1 written,
 * 0 already identical, -1 (logged). */
int service_write(const char *path, const char *text);
/*
 * Run `systemctl [--user] VERB [UNIT]` ("daemon-reload", "enable",
 * "restart", "stop", "is-active", ...) with a minimal environment and a
 * timeout. Returns systemctl's exit status (is-active: 0 active, else not),
 * or -1 when it could not run or timed out. A non-zero status from any verb
 * but is-active/is-enabled is logged with systemctl's output.
 */
int service_ctl(enum install_scope scope, const char *verb, const char *unit,
    int64_t timeout_ms);

#endif
