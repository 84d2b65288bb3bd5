/*
 * service.c — render systemd units and write them (service_systemd.c runs
 * systemctl and systemd-analyze on them).
 *
 * Hardening written by default, and why some of it is system-only. Measured
 * with systemd 252 (Debian 12): a user manager run by an unprivileged user
 * (with a delegated cgroup) starts units with NoNewPrivileges,
 * RestrictSUIDSGID, RestrictRealtime, LockPersonality,
 * SystemCallArchitectures — plain prctl/seccomp, no privileges needed. The
 * mount-namespace settings (ProtectSystem, ReadWritePaths, PrivateTmp,
 * ProtectHome, ProtectKernelTunables, ProtectControlGroups,
 * ProtectHostname) work there only through an implied user namespace, which
 * many hosts forbid to unprivileged users; PrivateDevices,
 * ProtectKernelModules, ProtectKernelLogs and ProtectClock fail outright
 * (status 218/CAPABILITIES). ProtectHome would also hide a user-scope
 * install root under $HOME. So user scope gets only the first group; system
 * scope gets all of them. MemoryDenyWriteExecute and RestrictNamespaces are
 * left out on purpose: they break JIT runtimes (.NET, node, Java) and
 * sandboxing browsers, the kind of workload this deploys.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <limits.h>
#include <pwd.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"
#include "parse.h"
#include "proc.h"
#include "service.h"
#include "service_int.h"

#define UNIT_TEXT_MAX (256 * 1024)

/* Settings that need nothing but prctl/seccomp: every scope. */
static const char *const harden_all[] = {
	"NoNewPrivileges=yes",
	"RestrictSUIDSGID=yes",
	"RestrictRealtime=yes",
	"LockPersonality=yes",
	"SystemCallArchitectures=native",
};

/* Settings that need a mount namespace or capabilities: system scope. */
static const char *const harden_system[] = {
	"PrivateTmp=yes",
	"PrivateDevices=yes",
	"ProtectKernelTunables=yes",
	"ProtectKernelModules=yes",
	"ProtectKernelLogs=yes",
	"ProtectControlGroups=yes",
	"ProtectClock=yes",
	"ProtectHostname=yes",
};

static const char *const restart_values[] = {
	"no", "always", "on-success", "on-failure", "on-abnormal",
	"on-abort", "on-watchdog",
};

/* --- a growing string --------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
	int oom;
};

static void
sb_add(struct sbuf *b, const char *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 1024;
		char *ns;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		if (ncap > UNIT_TEXT_MAX ||
		    (ns = realloc(b->s, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = ncap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = 1;
		return;
	}
	sb_add(b, tmp, (size_t)n);
}

/* --- quoting (systemd.syntax(7)) ---------------------------------------- */

static int
word_is_plain(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("_./:=,+@-", *s)))
			return 0;
	return 1;
}

/*
 * Append s as one double-quoted word: backslash, quote and control bytes
 * C-escaped; "%" doubled (specifiers); "$" doubled when dollar is set
 * (ExecStart expands $VAR, Environment= does not).
 */
static void
sb_quoted(struct sbuf *b, const char *s, int dollar)
{
	sb_str(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\')
			sb_str(b, "\\\\");
		else if (c == '"')
			sb_str(b, "\\\"");
		else if (c == '%')
			sb_str(b, "%%");
		else if (c == '$' && dollar)
			sb_str(b, "$$");
		else if (c == '\n')
			sb_str(b, "\\n");
		else if (c == '\t')
			sb_str(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\x%02x", c);
		else
			sb_add(b, (const char *)&c, 1);
	}
	sb_str(b, "\"");
}

static void
sb_word(struct sbuf *b, const char *s)
{
	if (word_is_plain(s))
		sb_str(b, s);
	else
		sb_quoted(b, s, 1);
}

/* Append a path value (WorkingDirectory=, ReadWritePaths=): % doubled. */
static void
sb_path(struct sbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '%')
			sb_str(b, "%%");
		else
			sb_add(b, s, 1);
	}
}

/* --- checks ------------------------------------------------------------- */

static int
unit_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > UNIT_NAME_MAX || name[0] == '.' ||
	    name[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("_.:-", name[i])))
			return 0;
	if (len > 8 && strcmp(name + len - 8, ".service") == 0)
		return 0;
	return 1;
}

/* An absolute path without whitespace, quotes, backslashes or "..". */
static int
path_clean(const char *p)
{
	if (p[0] != '/' || strstr(p, "/../") != NULL ||
	    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
		return 0;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"' ||
		    *p == '\'' || *p == '\\')
			return 0;
	return 1;
}

static int
account_name_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > 32 || *s == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("_.-", *s)))
			return 0;
	return 1;
}

static int
env_entry_valid(const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (eq == NULL || eq == kv)
		return 0;
	for (const char *p = kv; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    *p == '_' || (p > kv && *p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

/*
 * The ExecStart path for argv0 (see service.h): absolute as is; with a '/'
 * under dir_written; bare: release_dir then systemd's PATH.
 */
static int
exec_resolve(const struct service_unit *u, const char *argv0, char *out,
    size_t outsz)
{
	char probe[PATH_MAX];
	struct stat st;

	if (argv0[0] == '/')
		return snprintf(out, outsz, "%s", argv0) < (int)outsz ? 0 : -1;
	if (strchr(argv0, '/') != NULL) {
		const char *rel = argv0;

		while (strncmp(rel, "./", 2) == 0)
			rel += 2;
		if (u->current_dir == NULL) {
			log_error("service %s: ExecStart \"%s\" is relative "
			    "but no release directory is known", u->name,
			    argv0);
			return -1;
		}
		return fs_path_join(out, outsz, u->current_dir, rel);
	}
	if (u->release_dir != NULL && u->current_dir != NULL &&
	    fs_path_join(probe, sizeof(probe), u->release_dir, argv0) == 0 &&
	    stat(probe, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0111) != 0) {
		log_info("service %s: ExecStart \"%s\" is the release's own "
		    "%s", u->name, argv0, argv0);
		return fs_path_join(out, outsz, u->current_dir, argv0);
	}
	if (proc_which(argv0, SYSTEMD_PATH, out, outsz) == 0) {
		log_info("service %s: ExecStart \"%s\" resolved to %s", u->name,
		    argv0, out);
		return 0;
	}
	log_error("service %s: command \"%s\" not found in the release nor "
	    "in %s; give an absolute path", u->name, argv0, SYSTEMD_PATH);
	return -1;
}

static int
unit_check(const struct service_unit *u)
{
	const char *wd = u->working_directory;
	int ok = 1;

	if (u->name == NULL || !unit_name_valid(u->name)) {
		log_error("service \"%s\": not a valid unit name (letters, "
		    "digits, _ . : -; without .service)",
		    u->name ? u->name : "");
		return -1;
	}
	if ((u->argv == NULL || u->argv[0] == NULL) == (u->shell == NULL)) {
		log_error("service %s: give exactly one of a command and a "
		    "shell command", u->name);
		ok = 0;
	}
	if (u->restart != NULL) {
		size_t i;

		for (i = 0; i < sizeof(restart_values) /
		    sizeof(restart_values[0]); i++)
			if (strcmp(u->restart, restart_values[i]) == 0)
				break;
		if (i == sizeof(restart_values) / sizeof(restart_values[0])) {
			log_error("service %s: restart \"%s\" is not one of "
			    "no, always, on-success, on-failure, on-abnormal, "
			    "on-abort, on-watchdog", u->name, u->restart);
			ok = 0;
		}
	}
	if (wd == NULL)
		wd = u->current_dir;
	if (wd != NULL && !path_clean(wd)) {
		log_error("service %s: working directory \"%s\" must be an "
		    "absolute path without spaces, quotes or ..", u->name, wd);
		ok = 0;
	}
	if (u->current_dir != NULL && !path_clean(u->current_dir)) {
		log_error("service %s: \"%s\" must be an absolute path without "
		    "spaces, quotes or ..", u->name, u->current_dir);
		ok = 0;
	}
	for (int i = 0; u->writable_paths && u->writable_paths[i]; i++) {
		struct stat st;

		if (!path_clean(u->writable_paths[i])) {
			log_error("service %s: writable path \"%s\" must be an "
			    "absolute path without spaces, quotes or ..",
			    u->name, u->writable_paths[i]);
			ok = 0;
		} else if (u->scope == SCOPE_SYSTEM && !u->no_hardening &&
		    stat(u->writable_paths[i], &st) < 0) {
			log_warn("service %s: writable path %s does not exist; "
			    "the service will fail to start (status "
			    "226/NAMESPACE) until it does: create it in a "
			    "before_start hook", u->name,
			    u->writable_paths[i]);
		}
	}
	for (int i = 0; u->env && u->env[i]; i++) {
		if (!env_entry_valid(u->env[i])) {
			log_error("service %s: environment entry \"%s\" is not "
			    "NAME=value", u->name, u->env[i]);
			ok = 0;
		}
	}
	if (u->scope == SCOPE_SYSTEM && u->user != NULL) {
		if (!account_name_valid(u->user) || getpwnam(u->user) == NULL) {
			log_error("service %s: user \"%s\" does not exist on "
			    "this machine; create it (useradd --system %s) or "
			    "change the release's [service] user", u->name,
			    u->user, u->user);
			ok = 0;
		}
	}
	if (u->scope == SCOPE_SYSTEM && u->group != NULL) {
		if (!account_name_valid(u->group) ||
		    getgrnam(u->group) == NULL) {
			log_error("service %s: group \"%s\" does not exist on "
			    "this machine", u->name, u->group);
			ok = 0;
		}
	}
	return ok ? 0 : -1;
}

/* --- rendering ---------------------------------------------------------- */

static void
dur_line(struct sbuf *b, const char *key, int64_t ms)
{
	char d[32];

	parse_format_duration(ms, d, sizeof(d));
	sb_printf(b, "%s=%s\n", key, d);
}

/* Is path inside a home directory (where ProtectHome=yes would hide it)? */
static int
under_home(const char *path)
{
	return path != NULL && (strncmp(path, "/home/", 6) == 0 ||
	    strcmp(path, "/home") == 0 || strncmp(path, "/root/", 6) == 0 ||
	    strcmp(path, "/root") == 0 || strncmp(path, "/run/user/", 10) == 0);
}

int
service_render_at(const struct service_unit *u, const char *dir_written,
    char **out)
{
	struct service_unit v = *u;
	struct sbuf b = { 0 };
	char exe[PATH_MAX];
	const char *wd;
	int rc = -1;

	*out = NULL;
	v.current_dir = dir_written;
	if (unit_check(&v) < 0)
		return -1;
	wd = v.working_directory ? v.working_directory : dir_written;

	sb_str(&b, "# Written by greenlight; do not edit: every deploy "
	    "rewrites it.\n[Unit]\nDescription=");
	if (v.description != NULL) {
		for (const char *p = v.description; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				sb_str(&b, " ");
			else if (*p == '%')
				sb_str(&b, "%%");
			else
				sb_add(&b, p, 1);
		}
	} else {
		sb_printf(&b, "greenlight workload %s", v.name);
	}
	sb_str(&b, "\n");
	if (v.scope == SCOPE_SYSTEM)
		sb_str(&b, "Wants=network-online.target\n"
		    "After=network-online.target\n");

	sb_str(&b, "\n[Service]\nType=exec\nExecStart=");
	if (v.shell != NULL) {
		sb_str(&b, "/bin/sh -c ");
		sb_quoted(&b, v.shell, 1);
	} else {
		if (exec_resolve(&v, v.argv[0], exe, sizeof(exe)) < 0)
			goto out;
		sb_word(&b, exe);
		for (int i = 1; v.argv[i] != NULL; i++) {
			sb_str(&b, " ");
			sb_word(&b, v.argv[i]);
		}
	}
	sb_str(&b, "\n");
	if (wd != NULL) {
		sb_str(&b, "WorkingDirectory=");
		sb_path(&b, wd);
		sb_str(&b, "\n");
	}
	if (v.scope == SCOPE_SYSTEM && v.user != NULL)
		sb_printf(&b, "User=%s\n", v.user);
	if (v.scope == SCOPE_SYSTEM && v.group != NULL)
		sb_printf(&b, "Group=%s\n", v.group);
	for (int i = 0; v.env != NULL && v.env[i] != NULL; i++) {
		sb_str(&b, "Environment=");
		sb_quoted(&b, v.env[i], 0);
		sb_str(&b, "\n");
	}
	sb_printf(&b, "Restart=%s\n", v.restart ? v.restart : "on-failure");
	dur_line(&b, "RestartSec", v.restart_sec_ms > 0 ? v.restart_sec_ms :
	    1000);
	dur_line(&b, "TimeoutStopSec", v.stop_timeout_ms > 0 ?
	    v.stop_timeout_ms : 30000);

	if (!v.no_hardening) {
		for (size_t i = 0; i < sizeof(harden_all) /
		    sizeof(harden_all[0]); i++)
			sb_printf(&b, "%s\n", harden_all[i]);
	}
	if (!v.no_hardening && v.scope == SCOPE_SYSTEM) {
		sb_str(&b, "ProtectSystem=strict\n");
		for (int i = 0; v.writable_paths && v.writable_paths[i]; i++) {
			sb_str(&b, "ReadWritePaths=");
			sb_path(&b, v.writable_paths[i]);
			sb_str(&b, "\n");
		}
		/* an install root under /home stays visible, read-only */
		sb_printf(&b, "ProtectHome=%s\n", under_home(dir_written) ||
		    under_home(wd) ? "read-only" : "yes");
		for (size_t i = 0; i < sizeof(harden_system) /
		    sizeof(harden_system[0]); i++)
			sb_printf(&b, "%s\n", harden_system[i]);
	}
	sb_printf(&b, "\n[Install]\nWantedBy=%s\n", v.scope == SCOPE_SYSTEM ?
	    "multi-user.target" : "default.target");
	if (b.oom) {
		log_error("service %s: unit text too large or out of memory",
		    v.name);
		goto out;
	}
	*out = b.s;
	b.s = NULL;
	rc = 0;
out:
	free(b.s);
	return rc;
}

int
service_render(const struct service_unit *u, char **out)
{
	return service_render_at(u, u->current_dir, out);
}

/* --- files -------------------------------------------------------------- */

int
service_unit_path(enum install_scope scope, const char *unit_dir,
    const char *name, char *out, size_t outsz)
{
	char dir[PATH_MAX], file[UNIT_NAME_MAX + 16];
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (!unit_name_valid(name)) {
		log_error("service \"%s\": not a valid unit name", name);
		return -1;
	}
	if (unit_dir != NULL) {
		if (snprintf(dir, sizeof(dir), "%s", unit_dir) >=
		    (int)sizeof(dir))
			goto toolong;
	} else if (scope == SCOPE_SYSTEM) {
		snprintf(dir, sizeof(dir), "/etc/systemd/system");
	} else if (xdg != NULL && xdg[0] == '/') {
		if (fs_path_join(dir, sizeof(dir), xdg, "systemd/user") < 0)
			goto toolong;
	} else if (home != NULL && home[0] == '/') {
		if (fs_path_join(dir, sizeof(dir), home,
		    ".config/systemd/user") < 0)
			goto toolong;
	} else {
		log_error("service %s: user scope needs HOME or "
		    "XDG_CONFIG_HOME, or [install] unit_dir", name);
		return -1;
	}
	snprintf(file, sizeof(file), "%s.service", name);
	if (fs_path_join(out, outsz, dir, file) < 0)
		goto toolong;
	return 0;
toolong:
	log_error("service %s: unit path too long", name);
	return -1;
}

int
service_write(const char *path, const char *text)
{
	char dir[PATH_MAX], *old, *slash;
	size_t len;

	old = fs_read_file(path, UNIT_TEXT_MAX, &len, 1);
	if (old != NULL && len == strlen(text) && memcmp(old, text, len) == 0) {
		free(old);
		log_debug("%s: unchanged", path);
		return 0;
	}
	free(old);
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (fs_mkdir_p(dir, 0755) < 0)
			return -1;
	}
	if (fs_write_atomic(path, text, strlen(text), 0644) < 0)
		return -1;
	log_info("%s: written", path);
	return 1;
}
