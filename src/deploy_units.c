/*
 * deploy_units.c — the systemd units of a release: the workload as its
 * release.ini [service] describes it, and `greenlight health` when its
 * [health] daemon = true. Rendered and verified before anything changes,
 * written and reloaded only at activation, so the running release never
 * restarts under another release's unit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "deploy_int.h"
#include "fsutil.h"
#include "log.h"
#include "service.h"

#define UNIT_TEXT_MAX (1024 * 1024)
#define CTL_QUICK_MS 15000 /* is-active, enable, daemon-reload */

struct spec *
deploy_spec_installed(struct deploy *d, const char *name)
{
	char dir[PATH_MAX], file[PATH_MAX];
	struct spec *sp;
	int problems = 0;

	if (release_dir(&d->paths, name, dir, sizeof(dir)) < 0 ||
	    fs_path_join(file, sizeof(file), dir, SPEC_FILE) < 0)
		return NULL;
	sp = spec_load(file, &problems);
	if (sp != NULL && problems > 0) {
		spec_free(sp);
		return NULL;
	}
	return sp;
}

static int
unit_name_set(struct deploy *d, struct deploy_unit *du, const char *stem)
{
	if (snprintf(du->stem, sizeof(du->stem), "%s", stem) >=
	    (int)sizeof(du->stem) ||
	    snprintf(du->name, sizeof(du->name), "%s.service", stem) >=
	    (int)sizeof(du->name) ||
	    service_unit_path(d->cfg->scope, d->cfg->unit_dir, stem,
	    du->path, sizeof(du->path)) < 0) {
		deploy_fail(d, "unit %s: name or path too long", stem);
		return -1;
	}
	return 0;
}

static int
unit_render_one(struct deploy *d, struct deploy_units *u,
    const struct service_unit *su, int verify)
{
	struct deploy_unit *du = &u->v[u->n];

	memset(du, 0, sizeof(*du));
	if (unit_name_set(d, du, su->name) < 0)
		return -1;
	if (service_render(su, &du->text) < 0) {
		deploy_fail(d, "unit %s of release %s cannot be rendered "
		    "(see above); fix [service] in %s", du->name, su->release,
		    SPEC_FILE);
		return -1;
	}
	u->n++;
	if (verify && service_verify(su) < 0) {
		deploy_fail(d, "unit %s of release %s does not pass "
		    "systemd-analyze verify (see above); fix [service] in %s",
		    du->name, su->release, SPEC_FILE);
		return -1;
	}
	return 0;
}

int
deploy_units_render(struct deploy *d, const char *release, const char *reldir,
    const struct spec *spec, int verify, struct deploy_units *u)
{
	const struct config *cfg = d->cfg;
	struct service_unit su;
	char workdir[PATH_MAX], exe[PATH_MAX], cfgpath[PATH_MAX];
	char *health_argv[5];
	ssize_t n;

	memset(u, 0, sizeof(*u));
	memset(&su, 0, sizeof(su));
	su.name = spec->name;
	su.argv = spec->exec.argv;
	if (cfg->scope == SCOPE_SYSTEM) {
		su.user = spec->user;
		su.group = spec->group;
	}
	if (spec->working_directory != NULL &&
	    spec->working_directory[0] != '/') {
		if (fs_path_join(workdir, sizeof(workdir), d->paths.current,
		    spec->working_directory) < 0) {
			deploy_fail(d, "working_directory too long");
			return -1;
		}
		su.working_directory = workdir;
	} else {
		su.working_directory = spec->working_directory;
	}
	su.env = spec->environment;
	su.restart = spec_restart_names[spec->restart];
	su.restart_sec_ms = spec->restart_sec_ms;
	su.stop_timeout_ms = spec->stop_timeout_ms;
	su.writable_paths = spec->writable_paths;
	su.release_dir = reldir;
	su.current_dir = d->paths.current;
	su.release = release;
	su.scope = cfg->scope;
	if (unit_render_one(d, u, &su, verify) < 0)
		goto fail;
	if (!spec->daemon)
		return 0;

	/* greenlight health: this very binary, with this configuration */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		deploy_fail(d, "cannot find the greenlight binary for the "
		    "health unit: /proc/self/exe: %s", strerror(errno));
		goto fail;
	}
	exe[n] = '\0';
	health_argv[0] = exe;
	health_argv[1] = (char *)"health";
	health_argv[2] = NULL;
	if (cfg->path != NULL) {
		if (realpath(cfg->path, cfgpath) == NULL) {
			deploy_fail(d, "%s: %s", cfg->path, strerror(errno));
			goto fail;
		}
		health_argv[2] = (char *)"--config";
		health_argv[3] = cfgpath;
		health_argv[4] = NULL;
	}
	memset(&su, 0, sizeof(su));
	su.name = DEPLOY_HEALTH_UNIT;
	su.description = "greenlight health and drain daemon";
	su.argv = health_argv;
	su.working_directory = "/";
	su.restart = "always";
	/* a stop drains first: give it drain_max and a margin before KILL */
	su.stop_timeout_ms = (cfg->drain_max_ms > cfg->preempt_drain_max_ms ?
	    cfg->drain_max_ms : cfg->preempt_drain_max_ms) + 15000;
	su.release_dir = reldir;
	su.current_dir = d->paths.current;
	su.release = release;
	su.scope = cfg->scope;
	if (unit_render_one(d, u, &su, verify) < 0)
		goto fail;
	u->v[u->n - 1].keep_running = 1;
	return 0;
fail:
	deploy_units_free(u);
	return -1;
}

void
deploy_units_free(struct deploy_units *u)
{
	for (int i = 0; i < u->n; i++) {
		free(u->v[i].text);
		u->v[i].text = NULL;
	}
	u->n = 0;
}

int
deploy_units_in_place(const struct deploy_units *u)
{
	for (int i = 0; i < u->n; i++) {
		size_t len = 0;
		char *have = fs_read_file(u->v[i].path, UNIT_TEXT_MAX, &len,
		    1);
		int same = have != NULL && strcmp(have, u->v[i].text) == 0;

		free(have);
		if (!same) {
			log_debug("unit %s: %s differs from what this "
			    "release needs", u->v[i].name, u->v[i].path);
			return 0;
		}
	}
	return 1;
}

int
deploy_units_active(const struct deploy *d, const struct deploy_units *u)
{
	for (int i = 0; i < u->n; i++)
		if (service_ctl(d->cfg->scope, "is-active", u->v[i].name,
		    CTL_QUICK_MS) != 0)
			return 0;
	return 1;
}

int
deploy_units_install(struct deploy *d, struct deploy_units *u)
{
	int changed = 0;

	for (int i = 0; i < u->n; i++) {
		int rc = service_write(u->v[i].path, u->v[i].text);

		if (rc < 0) {
			deploy_fail(d, "cannot write unit %s", u->v[i].path);
			return -1;
		}
		u->v[i].changed = rc > 0;
		if (rc > 0)
			changed = 1;
	}
	if (changed && service_ctl(d->cfg->scope, "daemon-reload", NULL,
	    CTL_QUICK_MS) != 0) {
		deploy_fail(d, "systemctl daemon-reload failed (see above)");
		return -1;
	}
	for (int i = 0; i < u->n; i++) {
		if (service_ctl(d->cfg->scope, "enable", u->v[i].name,
		    CTL_QUICK_MS) != 0) {
			deploy_fail(d, "systemctl enable %s failed (see above)",
			    u->v[i].name);
			return -1;
		}
	}
	return 0;
}

int
deploy_units_restart(struct deploy *d, const struct deploy_units *u)
{
	for (int i = 0; i < u->n; i++) {
		const char *verb = "restart";

		/*
		 * The health daemon follows `current` by itself; restarting it
		 * means SIGTERM, which drains this VM for drain_min. Only a
		 * changed unit (new binary path, new config path) restarts it.
		 */
		if (u->v[i].keep_running && !u->v[i].changed) {
			verb = "start";
			log_debug("unit %s: unchanged; started if not running",
			    u->v[i].name);
		} else {
			log_info("unit %s: restarting", u->v[i].name);
		}
		if (service_ctl(d->cfg->scope, verb, u->v[i].name,
		    SERVICE_CTL_TIMEOUT_MS) != 0) {
			deploy_fail(d, "systemctl restart %s failed (see "
			    "above; journalctl%s -u %s says why)",
			    u->v[i].name, d->cfg->scope == SCOPE_USER ?
			    " --user" : "", u->v[i].name);
			return -1;
		}
	}
	return 0;
}

static int
units_have(const struct deploy_units *u, const char *name)
{
	for (int i = 0; u != NULL && i < u->n; i++)
		if (strcmp(u->v[i].name, name) == 0)
			return 1;
	return 0;
}

void
deploy_units_retire(struct deploy *d, const struct deploy_units *keep,
    const struct deploy_units *old)
{
	int removed = 0;

	for (int i = 0; old != NULL && i < old->n; i++) {
		const struct deploy_unit *du = &old->v[i];

		if (units_have(keep, du->name))
			continue;
		log_info("unit %s: no longer part of the release; stopping "
		    "and removing it", du->name);
		service_ctl(d->cfg->scope, "stop", du->name,
		    SERVICE_CTL_TIMEOUT_MS);
		service_ctl(d->cfg->scope, "disable", du->name, CTL_QUICK_MS);
		if (unlink(du->path) < 0 && errno != ENOENT)
			log_warn("%s: %s", du->path, strerror(errno));
		else
			removed = 1;
	}
	if (removed)
		service_ctl(d->cfg->scope, "daemon-reload", NULL,
		    CTL_QUICK_MS);
}
