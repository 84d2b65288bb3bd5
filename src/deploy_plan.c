/*
 * deploy_plan.c — deciding what a deploy has to do: the no-op test (no
 * network: links, seal, units, systemctl is-active), and `deploy
 * --dry-run`, which prints the whole plan after reading the listing and
 * release.ini from storage, and changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "agent.h"
#include "auth.h"
#include "blob.h"
#include "deploy_int.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "parse.h"
#include "retry.h"

#define PLAN_SPEC_MAX (64 * 1024)
#define PLAN_GET_TIMEOUT_MS 30000
#define PREFETCH_DEADLINE_MS 20000 /* then the fetch itself tries */

int
deploy_plan_noop(struct deploy *d, const char *cur)
{
	const struct state_run *last = &d->st->last;
	struct deploy_units u = { .n = 0 };
	struct spec *sp = NULL;
	int noop = 0;

	if (strcmp(cur, d->release) != 0)
		return 0;
	if (last->result == RESULT_RUNNING && last->release != NULL &&
	    strcmp(last->release, d->release) == 0)
		return 0;	/* interrupted: finish it (deploy_run says) */
	if (!release_intact(&d->paths, d->release, 0)) {
		log_warn("release %s: current but not intact; installing it "
		    "again", d->release);
		return 0;
	}
	sp = deploy_spec_installed(d, d->release);
	if (sp == NULL)
		return 0;
	if (deploy_units_render(d, d->release, d->reldir, sp, 0, &u) < 0)
		goto out;
	if (!deploy_units_in_place(&u)) {
		log_info("release %s: current, but its units are not in "
		    "place; activating it again", d->release);
		goto out;
	}
	if (!deploy_units_active(d, &u)) {
		log_info("release %s: current, but %s is not active; starting "
		    "it again", d->release, u.v[0].name);
		goto out;
	}
	noop = 1;
out:
	deploy_units_free(&u);
	spec_free(sp);
	return noop;
}

/*
 * GET blob name into resp (body buffered), with the storage retry rules.
 * With quiet_404, a 404 returns EXIT_NOTFOUND without a message.
 */
static int
plan_get_spec(const struct config *cfg, struct blob_service *bs,
    struct http_client *http, const char *name, int quiet_404,
    struct http_response *resp)
{
	struct retry_policy policy = { 500, 10000, cfg->deadline_ms, 0 };
	struct retry_state rs;
	char subject[512];

	snprintf(subject, sizeof(subject), "reading %s", name);
	retry_begin(&rs, &policy, NULL);
	for (;;) {
		struct http_request req;
		const char *const *hdrs;
		char *url;
		int cls, hrc = EXIT_OK;

		http_response_clear(resp);
		hdrs = blob_headers(bs, NULL, &hrc);
		if (hdrs == NULL)
			return hrc;
		url = blob_url(bs, name);
		if (url == NULL) {
			log_error("plan: out of memory");
			return EXIT_FAILURE_;
		}
		memset(&req, 0, sizeof(req));
		req.url = url;
		req.headers = hdrs;
		req.max_body = PLAN_SPEC_MAX;
		req.timeout_ms = PLAN_GET_TIMEOUT_MS;
		http_do(http, &req, resp);
		free(url);
		if (resp->status == 200 && resp->err == HTTP_E_NONE) {
			auth_accepted(blob_auth(bs));
			return EXIT_OK;
		}
		if (quiet_404 && resp->status == 404)
			return EXIT_NOTFOUND;
		cls = blob_classify(resp);
		if (cls == RETRY_AUTH && auth_rejected(blob_auth(bs)) == 0)
			continue;
		if (cls != RETRY_YES || retry_backoff(&rs,
		    http_response_retry_after_ms(resp)) < 0)
			return blob_error_report(bs, resp, subject);
	}
}

static void
plan_spec_print(const struct deploy *d, const struct spec *sp)
{
	const struct config *cfg = d->cfg;
	const char *url = cfg->check_url ? cfg->check_url : sp->check_url;
	const char *tcp = cfg->check_url || cfg->check_tcp ? cfg->check_tcp :
	    sp->check_tcp;
	char dur[32];

	printf("  service   %s.service: %s\n", sp->name,
	    sp->exec.line ? sp->exec.line : "?");
	printf("            runs as %s\n", cfg->scope == SCOPE_USER ?
	    "the invoking user (user scope)" : sp->user);
	if (sp->daemon)
		printf("            and %s.service (greenlight health)\n",
		    DEPLOY_HEALTH_UNIT);
	for (int i = 0; i < sp->narchives; i++)
		printf("  unpack    %s -> %s\n", sp->archives[i].path,
		    sp->archives[i].dest[0] ? sp->archives[i].dest : ".");
	for (int i = 0; i < SPEC_HOOK__MAX; i++)
		if (sp->hooks[i].line != NULL)
			printf("  hook      %s: %s\n", spec_hook_names[i],
			    sp->hooks[i].line);
	parse_format_duration(sp->deadline_ms, dur, sizeof(dur));
	if (url != NULL)
		printf("  validate  GET %s answers %ld within %s\n", url,
		    cfg->check_url ? cfg->check_status : sp->check_status,
		    dur);
	else if (tcp != NULL)
		printf("  validate  %s accepts a connection within %s\n", tcp,
		    dur);
	else
		printf("  validate  the unit stays active\n");
}

/* List the release and read its release.ini: what the download holds. */
static int
plan_remote(struct deploy *d, struct spec **spp)
{
	const struct config *cfg = d->cfg;
	struct http_opts ho;
	struct http_client *http = NULL;
	struct auth *auth = NULL;
	struct blob_service *bs = NULL;
	struct blob_list list = { NULL, 0 };
	struct http_response resp;
	char prefix[RELEASE_NAME_MAX + 2], name[RELEASE_NAME_MAX + 16];
	char dir[] = "/tmp/greenlight-plan-XXXXXX", sub[64 + RELEASE_NAME_MAX];
	char file[128 + RELEASE_NAME_MAX], size[32];
	uint64_t total = 0;
	int rc = EXIT_FAILURE_, problems = 0, have_spec = 0, made = 0;

	*spp = NULL;
	memset(&resp, 0, sizeof(resp));
	memset(&ho, 0, sizeof(ho));
	ho.ca_file = cfg->ca_file;
	http = http_client_new(&ho);
	if (http == NULL)
		goto out;
	auth = auth_new(cfg, http, &rc);
	if (auth == NULL)
		goto out;
	rc = EXIT_FAILURE_;
	bs = blob_service_new(cfg, http, auth);
	if (bs == NULL)
		goto out;
	snprintf(prefix, sizeof(prefix), "%s/", d->release);
	rc = blob_list(bs, prefix, &list);
	if (rc != EXIT_OK)
		goto out;
	for (size_t i = 0; i < list.n; i++) {
		total += list.v[i].size;
		if (strcmp(list.v[i].rel, SPEC_FILE) == 0)
			have_spec = 1;
	}
	parse_format_size(total, size, sizeof(size));
	printf("  download  %zu file%s, %s, from container %s\n", list.n,
	    list.n == 1 ? "" : "s", size, cfg->container);
	if (!have_spec) {
		log_error("release %s has no %s at its root; every release "
		    "needs one (see conf/release.ini)", d->release, SPEC_FILE);
		rc = EXIT_CONFIG;
		goto out;
	}
	snprintf(name, sizeof(name), "%s/%s", d->release, SPEC_FILE);
	rc = plan_get_spec(cfg, bs, http, name, 0, &resp);
	if (rc != EXIT_OK)
		goto out;
	rc = EXIT_LOCAL;
	if (mkdtemp(dir) == NULL) {
		log_error("plan: mkdtemp: %s", strerror(errno));
		goto out;
	}
	made = 1;
	/* messages then read ".../<R>/release.ini:LINE: ..." */
	snprintf(sub, sizeof(sub), "%s/%s", dir, d->release);
	snprintf(file, sizeof(file), "%s/%s", sub, SPEC_FILE);
	if (mkdir(sub, 0700) < 0) {
		log_error("plan: mkdir %s: %s", sub, strerror(errno));
		goto out;
	}
	made = 2;
	if (fs_write_atomic(file, resp.body ? resp.body : "", resp.body_len,
	    0600) < 0)
		goto out;
	rc = EXIT_FAILURE_;
	*spp = spec_load(file, &problems);
	if (*spp == NULL)
		goto out;
	if (problems > 0) {
		log_error("%s of release %s has %d problem%s (above)",
		    SPEC_FILE, d->release, problems, problems == 1 ? "" :
		    "s");
		spec_free(*spp);
		*spp = NULL;
		rc = EXIT_CONFIG;
		goto out;
	}
	rc = EXIT_OK;
out:
	if (made == 2) {
		unlink(file);
		rmdir(sub);
	}
	if (made)
		rmdir(dir);
	http_response_clear(&resp);
	blob_list_free(&list);
	blob_service_free(bs);
	auth_free(auth);
	http_client_free(http);
	return rc;
}

int
deploy_plan_print(struct deploy *d, const char *cur, const char *prev)
{
	const struct config *cfg = d->cfg;
	struct spec *sp = NULL;
	int rc = EXIT_OK, installed;

	printf("plan for release %s (dry run: nothing is changed)\n",
	    d->release);
	printf("  root      %s (%s scope)\n", d->paths.root,
	    config_scope_name(cfg->scope));
	printf("  current   %s\n", cur[0] ? cur : "(none)");
	printf("  previous  %s\n", prev[0] ? prev : "(none)");
	installed = release_intact(&d->paths, d->release, 0);
	if (strcmp(cur, d->release) == 0 && installed) {
		d->st = state_load(cfg->state_file);
		if (d->st != NULL && deploy_plan_noop(d, cur)) {
			printf("  nothing to do: %s is current, intact, its "
			    "units in place and active (exit 0)\n",
			    d->release);
			goto out;
		}
		printf("  %s is current: its units would be written again "
		    "and restarted, then validated\n", d->release);
		goto out;
	}
	if (installed) {
		printf("  %s is installed already: no download\n",
		    d->release);
		sp = deploy_spec_installed(d, d->release);
		if (sp == NULL) {
			rc = EXIT_CONFIG;
			goto out;
		}
	} else {
		rc = plan_remote(d, &sp);
		if (rc != EXIT_OK)
			goto out;
	}
	plan_spec_print(d, sp);
	if (!installed)
		printf("  install   unpack, before_install, then "
		    "releases/%s\n", d->release);
	printf("  activate  after_install, write the units, current -> "
	    "%s%s%s%s, before_start, restart, validate\n", d->release,
	    cur[0] ? " (previous -> " : "", cur, cur[0] ? ")" : "");
	printf("  failure   %s\n", cur[0] ? "put back the current release "
	    "and restart it" : "stop the workload (no release to go back "
	    "to)");
	printf("  keep      %ld old release%s besides current and "
	    "previous\n", cfg->keep, cfg->keep == 1 ? "" : "s");
out:
	spec_free(sp);
	state_free(d->st);
	d->st = NULL;
	return rc;
}

int
deploy_spec_prefetch(struct deploy *d, char **text, size_t *len)
{
	struct config cfg = *d->cfg;	/* shallow: nothing of it is freed */
	struct http_opts ho;
	struct http_client *http = NULL;
	struct auth *auth = NULL;
	struct blob_service *bs = NULL;
	struct http_response resp;
	char name[RELEASE_NAME_MAX + 16];
	int rc = EXIT_FAILURE_, quiet;

	*text = NULL;
	*len = 0;
	memset(&resp, 0, sizeof(resp));
	snprintf(name, sizeof(name), "%s/%s", d->release, SPEC_FILE);
	/* a slow IMDS or storage is the fetch's to wait for and report */
	if (cfg.deadline_ms > PREFETCH_DEADLINE_MS)
		cfg.deadline_ms = PREFETCH_DEADLINE_MS;
	memset(&ho, 0, sizeof(ho));
	ho.ca_file = cfg.ca_file;
	/* best effort: when it fails, the fetch tries again and reports */
	quiet = log_quiet(1);
	http = http_client_new(&ho);
	if (http == NULL)
		goto out;
	auth = auth_new(&cfg, http, &rc);
	if (auth == NULL)
		goto out;
	rc = EXIT_FAILURE_;
	bs = blob_service_new(&cfg, http, auth);
	if (bs == NULL)
		goto out;
	rc = plan_get_spec(&cfg, bs, http, name, 1, &resp);
	if (rc == EXIT_OK) {
		*text = resp.body;
		*len = resp.body_len;
		resp.body = NULL;
		if (*text == NULL && (*text = strdup("")) == NULL)
			rc = EXIT_FAILURE_;
	}
out:
	log_quiet(quiet);
	if (rc != EXIT_OK)
		log_debug("%s: not read ahead (%s); it is read as it downloads",
		    name, exit_code_name(rc));
	http_response_clear(&resp);
	blob_service_free(bs);
	auth_free(auth);
	http_client_free(http);
	return rc;
}
