/*
 * cmd_status.c — `greenlight status`: what is deployed and how the last
 * deploy went, from the state file and the layout on disk, and what the
 * health daemon answers the load balancer. Reads only, so it needs no root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "health/server.h"
#include "http.h"
#include "log.h"
#include "release.h"
#include "state.h"

#define HEALTH_ASK_MS 1000 /* the health daemon answers from memory */

/*
 * Is a deploy holding the lock now? 1 yes (who into holder), 0 no, -1
 * unknown (no lock file, or not readable).
 */
static int
lock_held(const char *path, char *holder, size_t holdersz)
{
	int fd, held;
	ssize_t n;

	holder[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		held = 0;
	} else {
		held = errno == EWOULDBLOCK ? 1 : -1;
		n = pread(fd, holder, holdersz - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
	}
	close(fd);
	return held;
}

/* The layout as it is on disk, where it says more than the state file. */
static void
layout_print(const struct config *cfg, const struct state *st, FILE *out)
{
	struct release_paths p;
	struct release_info *v = NULL;
	size_t n = 0;
	char cur[RELEASE_NAME_MAX + 1], prev[RELEASE_NAME_MAX + 1];

	if (release_paths_init(&p, cfg->root) < 0)
		return;
	if (release_link_read(&p, p.current, cur, sizeof(cur)) >= 0 &&
	    strcmp(cur, st->current ? st->current : "") != 0)
		fprintf(out, "on disk:   current -> %s (the state file says "
		    "%s)\n", cur[0] ? cur : "(none)",
		    st->current ? st->current : "(none)");
	if (release_link_read(&p, p.previous, prev, sizeof(prev)) >= 0 &&
	    strcmp(prev, st->previous ? st->previous : "") != 0)
		fprintf(out, "on disk:   previous -> %s (the state file says "
		    "%s)\n", prev[0] ? prev : "(none)",
		    st->previous ? st->previous : "(none)");
	if (release_list(&p, &v, &n) < 0 || n == 0) {
		free(v);
		return;
	}
	fprintf(out, "installed: ");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s%s%s", i ? ", " : "", v[i].name,
		    v[i].is_current ? " (current)" :
		    v[i].is_previous ? " (previous)" : "",
		    v[i].intact ? "" : " (NOT intact)");
	fprintf(out, "   in %s\n", p.releases);
	free(v);
}

/* What the health daemon on this machine answers the load balancer. */
static void
health_print(const struct config *cfg, FILE *out)
{
	struct http_client *http = NULL;
	struct http_request req = { 0 };
	struct http_response resp = { 0 };
	char base[300], url[320];
	json_t *root = NULL;
	const char *st, *state, *reason, *workload;

	if (server_local_url(cfg->health_listen, base, sizeof(base)) < 0 ||
	    snprintf(url, sizeof(url), "%s%s", base, cfg->health_path) >=
	    (int)sizeof(url) || (http = http_client_new(NULL)) == NULL)
		return;
	req.url = url;
	req.timeout_ms = HEALTH_ASK_MS;
	req.max_body = 64 * 1024;
	req.imds = 1; /* plain http on this host, never through a proxy */
	if (http_do(http, &req, &resp) < 0) {
		fprintf(out, "health:    no greenlight health answers on %s\n",
		    base);
		goto out;
	}
	root = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) :
	    NULL;
	st = json_string_value(json_object_get(root, "status"));
	state = json_string_value(json_object_get(root, "state"));
	reason = json_string_value(json_object_get(root, "reason"));
	workload = json_string_value(json_object_get(root, "workload"));
	if (st == NULL || state == NULL) {
		fprintf(out, "health:    %s answers HTTP %ld\n", url,
		    resp.status);
		goto out;
	}
	fprintf(out, "health:    %s (HTTP %ld), %s%s%s, workload %s\n", st,
	    resp.status, state, reason && *reason ? ": " : "",
	    reason ? reason : "", workload ? workload : "?");
out:
	json_decref(root);
	http_response_clear(&resp);
	http_client_free(http);
}

int
cmd_status(int argc, char **argv)
{
	static int json;
	static const struct cli_opt opts[] = {
		{ "json", 0, NULL, NULL, &json,
		    "the state as JSON, for machines", NULL },
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct cli_ctx ctx;
	struct config *cfg;
	struct state *st;
	char holder[128];
	int rc;

	cfg = cli_start(&ctx, argc, argv, opts, 0, &rc);
	if (cfg == NULL)
		return rc;
	st = state_load(cfg->state_file);
	if (st == NULL) {
		log_error("out of memory");
		config_free(cfg);
		return EXIT_FAILURE_;
	}
	if (json) {
		char *s = state_render_json(st);

		if (s == NULL) {
			log_error("out of memory");
			rc = EXIT_FAILURE_;
		} else {
			printf("%s\n", s);
			free(s);
		}
	} else {
		state_render_text(st, stdout);
		if (st->last.result == RESULT_RUNNING) {
			int held = lock_held(cfg->lock_file, holder,
			    sizeof(holder));

			if (held == 1)
				printf("now:       in progress (%s)\n",
				    holder);
			else if (held == 0)
				printf("now:       not running: that run was "
				    "interrupted; the next deploy finishes "
				    "it\n");
		}
		layout_print(cfg, st, stdout);
		health_print(cfg, stdout);
	}
	state_free(st);
	config_free(cfg);
	return rc;
}
