/*
 * service_systemd.c — run systemd's tools on units: systemctl [--user] with
 * a timeout and a minimal environment, and systemd-analyze verify on a
 * rendered unit. Never through a shell.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"
#include "proc.h"
#include "service.h"
#include "service_int.h"

#define VERIFY_TIMEOUT_MS 30000

/* A unit name for systemctl's argv: never an option, no odd bytes. */
static int
unit_arg_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > UNIT_NAME_MAX || name[0] == '-' ||
	    name[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("_.:@-", name[i])))
			return 0;
	return 1;
}

static int
unit_has_suffix(const char *name)
{
	static const char *const sfx[] = {
		".service", ".target", ".socket", ".timer", ".path", ".slice",
	};
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t sl = strlen(sfx[i]);

		if (len > sl && strcmp(name + len - sl, sfx[i]) == 0)
			return 1;
	}
	return 0;
}

struct ctl_env {
	char *v[8];
	int n;
};

/* A minimal environment for systemctl: nothing secret gets through. */
static int
ctl_env_make(struct ctl_env *e, const char *runtime_dir)
{
	static const char *const pass[] = {
		"HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
		"DBUS_SESSION_BUS_ADDRESS",
	};

	e->n = 0;
	if (asprintf(&e->v[e->n], "PATH=%s", SYSTEMD_PATH) < 0)
		return -1;
	e->n++;
	if (asprintf(&e->v[e->n], "LANG=C.UTF-8") < 0)
		goto fail;
	e->n++;
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		const char *val = getenv(pass[i]);

		if (strcmp(pass[i], "XDG_RUNTIME_DIR") == 0 &&
		    runtime_dir != NULL && (val == NULL || *val == '\0'))
			val = runtime_dir;
		if (val == NULL || *val == '\0')
			continue;
		if (asprintf(&e->v[e->n], "%s=%s", pass[i], val) < 0)
			goto fail;
		e->n++;
	}
	e->v[e->n] = NULL;
	return 0;
fail:
	for (int i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
	return -1;
}

static void
ctl_env_free(struct ctl_env *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
}

struct lines {
	char text[2048];
	size_t len;
	int n;
};

static void
collect_line(void *arg, const char *line)
{
	struct lines *l = arg;
	int w;

	l->n++;
	if (l->len >= sizeof(l->text) - 1)
		return;
	w = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s%s",
	    l->len ? "\n  " : "", line);
	if (w > 0)
		l->len += (size_t)w < sizeof(l->text) - l->len ? (size_t)w :
		    sizeof(l->text) - l->len - 1;
}

int
service_ctl(enum install_scope scope, const char *verb, const char *unit,
    int64_t timeout_ms)
{
	struct ctl_env env;
	struct proc_opts o = { 0 };
	struct proc_result r = { 0 };
	struct lines out = { .len = 0 };
	char unitfile[UNIT_NAME_MAX + 16], what[128];
	const char *user = scope == SCOPE_USER ? " --user" : "";
	char *argv[8];
	int n = 0, rc = -1, quiet;

	if (unit != NULL) {
		if (!unit_arg_valid(unit)) {
			log_error("systemctl %s: bad unit name \"%s\"", verb,
			    unit);
			return -1;
		}
		snprintf(unitfile, sizeof(unitfile), "%s%s", unit,
		    unit_has_suffix(unit) ? "" : ".service");
	}
	argv[n++] = "systemctl";
	if (scope == SCOPE_USER)
		argv[n++] = "--user";
	argv[n++] = "--no-ask-password";
	argv[n++] = (char *)verb;
	if (unit != NULL)
		argv[n++] = unitfile;
	argv[n] = NULL;
	if (ctl_env_make(&env, NULL) < 0) {
		log_error("systemctl: out of memory");
		return -1;
	}
	o.argv = argv;
	o.envp = env.v;
	o.timeout_ms = timeout_ms > 0 ? timeout_ms : SERVICE_CTL_TIMEOUT_MS;
	o.grace_ms = 2000;
	o.on_line = collect_line;
	o.arg = &out;
	log_debug("running systemctl%s %s%s%s", scope == SCOPE_USER ?
	    " --user" : "", verb, unit ? " " : "", unit ? unitfile : "");
	if (proc_run(&o, &r) < 0)
		goto out;
	quiet = strcmp(verb, "is-active") == 0 ||
	    strcmp(verb, "is-enabled") == 0 || strcmp(verb, "is-failed") == 0;
	if (r.timed_out || !r.exited) {
		proc_describe(&r, o.timeout_ms, what, sizeof(what));
		log_error("systemctl %s %s: %s%s%s", verb, unit ? unitfile : "",
		    what, out.len ? "\n  " : "", out.text);
		goto out;
	}
	rc = r.status;
	if (rc != 0 && !quiet && unit != NULL)
		log_error("systemctl%s %s %s: failed (status %d)%s%s\n  "
		    "see: systemctl%s status %s; journalctl%s -u %s",
		    user, verb, unitfile, rc, out.len ? ":\n  " : "",
		    out.text, user, unitfile, user, unitfile);
	else if (rc != 0 && !quiet)
		log_error("systemctl%s %s: failed (status %d)%s%s", user,
		    verb, rc, out.len ? ":\n  " : "", out.text);
	else if (out.len)
		log_debug("systemctl %s: %s", verb, out.text);
out:
	proc_result_free(&r);
	ctl_env_free(&env);
	return rc;
}

int
service_verify(const struct service_unit *u)
{
	char dir[PATH_MAX], path[PATH_MAX], file[UNIT_NAME_MAX + 16];
	const char *base = getenv("TMPDIR");
	struct ctl_env env = { .n = 0 };
	struct proc_opts o = { 0 };
	struct proc_result r = { 0 };
	struct lines out = { .len = 0 };
	char *text = NULL;
	char *argv[6];
	int n = 0, rc = -1;

	dir[0] = '\0';
	if (service_render_at(u, u->release_dir ? u->release_dir :
	    u->current_dir, &text) < 0)
		return -1;
	if (base == NULL || base[0] != '/')
		base = "/tmp";
	if (snprintf(dir, sizeof(dir), "%s/greenlight-verify-XXXXXX", base) >=
	    (int)sizeof(dir) || mkdtemp(dir) == NULL) {
		log_error("service %s: cannot make a directory to verify the "
		    "unit in: %s", u->name, strerror(errno));
		dir[0] = '\0';
		goto out;
	}
	snprintf(file, sizeof(file), "%s.service", u->name);
	if (fs_path_join(path, sizeof(path), dir, file) < 0 ||
	    fs_write_atomic(path, text, strlen(text), 0644) < 0)
		goto out;
	argv[n++] = "systemd-analyze";
	argv[n++] = "verify";
	argv[n++] = "--man=no";
	if (u->scope == SCOPE_USER)
		argv[n++] = "--user";
	argv[n++] = path;
	argv[n] = NULL;
	/* --user needs some XDG_RUNTIME_DIR; our private dir does (0700) */
	if (ctl_env_make(&env, dir) < 0)
		goto out;
	o.argv = argv;
	o.envp = env.v;
	o.timeout_ms = VERIFY_TIMEOUT_MS;
	o.on_line = collect_line;
	o.arg = &out;
	if (proc_run(&o, &r) < 0)
		goto out;
	if (!r.exited || r.status != 0 || out.n > 0) {
		char what[128];

		proc_describe(&r, o.timeout_ms, what, sizeof(what));
		log_error("service %s: the generated unit fails `systemd-"
		    "analyze verify` (%s%s):\n  %s", u->name, what,
		    out.n > 0 && r.exited && r.status == 0 ?
		    ", with warnings" : "", out.len ? out.text : "(no output)");
		goto out;
	}
	log_debug("service %s: systemd-analyze verify passed", u->name);
	rc = 0;
out:
	if (dir[0] != '\0')
		fs_rm_rf(dir);
	proc_result_free(&r);
	ctl_env_free(&env);
	free(text);
	return rc;
}
