/* hooks.c — run a release hook: clean environment, timeout, output logged. */
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"
#include "log.h"
#include "proc.h"

#define HOOKS_ENV_MAX 256 /* spec variables passed on */

const char *const hook_outcome_names[HOOK__MAX] = {
	"ok", "failed", "killed", "timeout", "error"
};

struct hook_env {
	char *v[16 + HOOKS_ENV_MAX + 1];
	int n;
};

static int
env_add(struct hook_env *e, const char *name, const char *value)
{
	char *s;

	if (e->n >= (int)(sizeof(e->v) / sizeof(e->v[0])) - 1)
		return -1;
	if (asprintf(&s, "%s=%s", name, value ? value : "") < 0)
		return -1;
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	return 0;
}

static void
env_free(struct hook_env *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
}

/* Does the spec's environment set name? */
static int
env_has(char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; env != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return 1;
	return 0;
}

static int
env_build(const struct hook *h, const char *home, struct hook_env *e)
{
	e->n = 0;
	e->v[0] = NULL;
	/* PATH, HOME and LANG are defaults the release may replace. */
	if ((!env_has(h->env, "PATH") && env_add(e, "PATH", HOOKS_PATH) < 0) ||
	    (!env_has(h->env, "HOME") && env_add(e, "HOME", home) < 0) ||
	    (!env_has(h->env, "LANG") && env_add(e, "LANG", "C.UTF-8") < 0) ||
	    env_add(e, "GREENLIGHT_HOOK", h->name) < 0 ||
	    env_add(e, "GREENLIGHT_RELEASE", h->release) < 0 ||
	    env_add(e, "GREENLIGHT_PREVIOUS_RELEASE", h->previous) < 0 ||
	    env_add(e, "GREENLIGHT_RELEASE_DIR", h->release_dir) < 0 ||
	    env_add(e, "GREENLIGHT_ROOT", h->root) < 0)
		goto fail;
	for (int i = 0; h->env != NULL && h->env[i] != NULL; i++) {
		const char *eq = strchr(h->env[i], '=');
		char *s;

		if (eq == NULL || eq == h->env[i]) {
			log_error("hook %s: environment entry \"%s\" is not "
			    "NAME=value", h->name, h->env[i]);
			goto fail;
		}
		if (strncmp(h->env[i], "GREENLIGHT_", 11) == 0) {
			log_warn("hook %s: %.*s is set by greenlight; the "
			    "release's value is ignored", h->name,
			    (int)(eq - h->env[i]), h->env[i]);
			continue;
		}
		if (i >= HOOKS_ENV_MAX || (s = strdup(h->env[i])) == NULL) {
			log_error("hook %s: too many environment entries "
			    "(at most %d)", h->name, HOOKS_ENV_MAX);
			goto fail;
		}
		e->v[e->n++] = s;
		e->v[e->n] = NULL;
	}
	return 0;
fail:
	env_free(e);
	return -1;
}

static void
hook_line(void *arg, const char *line)
{
	const struct hook *h = arg;

	log_info("hook %s: %s", h->name, line);
}

enum hook_outcome
hooks_run(const struct hook *h, struct hook_result *res)
{
	struct hook_env env = { .n = 0 };
	struct proc_opts o;
	struct proc_result pr = { 0 };
	char what[160];
	char *sh_argv[4] = { "/bin/sh", "-c", NULL, NULL };
	const char *home = "/";
	struct passwd *pw;
	int64_t timeout = h->timeout_ms > 0 ? h->timeout_ms : HOOKS_TIMEOUT_MS;

	memset(res, 0, sizeof(*res));
	res->outcome = HOOK_ERROR;
	memset(&o, 0, sizeof(o));
	if (h->user != NULL) {
		errno = 0;
		pw = getpwnam(h->user);
		if (pw == NULL) {
			snprintf(res->message, sizeof(res->message),
			    "hook %s: user %s does not exist", h->name,
			    h->user);
			goto out;
		}
		if (geteuid() != 0 && pw->pw_uid != geteuid()) {
			snprintf(res->message, sizeof(res->message),
			    "hook %s: running as %s needs root", h->name,
			    h->user);
			goto out;
		}
		o.drop = pw->pw_uid != geteuid();
		o.uid = pw->pw_uid;
		o.gid = pw->pw_gid;
		home = pw->pw_dir;
	} else if ((pw = getpwuid(geteuid())) != NULL) {
		home = pw->pw_dir;
	}
	if (env_build(h, home, &env) < 0) {
		snprintf(res->message, sizeof(res->message),
		    "hook %s: cannot build its environment", h->name);
		goto out;
	}
	if (h->shell != NULL) {
		sh_argv[2] = (char *)h->shell;
		o.argv = sh_argv;
	} else {
		o.argv = h->argv;
	}
	if (o.argv == NULL || o.argv[0] == NULL) {
		snprintf(res->message, sizeof(res->message),
		    "hook %s: no command", h->name);
		goto out;
	}
	o.envp = env.v;
	o.cwd = h->cwd ? h->cwd : h->release_dir;
	o.timeout_ms = timeout;
	o.tail_max = HOOKS_TAIL_MAX;
	o.on_line = hook_line;
	o.arg = (void *)h;
	log_info("hook %s: running %s%s (timeout %llds)", h->name,
	    h->shell ? "sh -c " : "", h->shell ? h->shell : o.argv[0],
	    (long long)(timeout / 1000));
	if (proc_run(&o, &pr) < 0) {
		snprintf(res->message, sizeof(res->message),
		    "hook %s: could not be started (see above)", h->name);
		goto out;
	}
	res->ms = pr.ms;
	res->status = pr.status;
	res->signal = pr.signal;
	memcpy(res->tail, pr.tail, pr.tail_len + 1);
	res->tail_len = pr.tail_len;
	proc_describe(&pr, timeout, what, sizeof(what));
	if (pr.timed_out)
		res->outcome = HOOK_TIMEOUT;
	else if (pr.exited && pr.status == 0)
		res->outcome = HOOK_OK;
	else if (pr.exited)
		res->outcome = HOOK_FAILED;
	else
		res->outcome = HOOK_KILLED;
	snprintf(res->message, sizeof(res->message), "hook %s: %s", h->name,
	    what);
	if (pr.leftovers)
		log_warn("hook %s: left processes running in its group; "
		    "they were killed (start long-running programs as "
		    "systemd units, not from hooks)", h->name);
out:
	if (res->outcome == HOOK_OK)
		log_info("%s (%lld ms)", res->message, (long long)res->ms);
	else
		log_error("%s", res->message);
	proc_result_free(&pr);
	env_free(&env);
	return res->outcome;
}
