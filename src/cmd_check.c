/*
 * cmd_check.c — `greenlight check`: preflight only. Configuration, a
 * credential, permission to list and read the release, and free space,
 * each reported as it passes; the first failure says why and what to do.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "auth.h"
#include "blob.h"
#include "cli.h"
#include "config.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "parse.h"
#include "retry.h"

/* check answers in seconds: waits are capped (IMDS 410 keeps its 70 s). */
#define CHECK_DEADLINE_MS 60000

static void
human_size(uint64_t v, char *out, size_t outsz)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	size_t u = 0;

	while (d >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outsz, "%" PRIu64 " B", v);
	else
		snprintf(out, outsz, "%.1f %s", d, units[u]);
}

static void
step_ok(const char *name, const char *detail)
{
	printf("check: %-12s ok      %s\n", name, detail);
	fflush(stdout);
}

static int
step_failed(const char *name, int rc)
{
	printf("check: %-12s FAILED  exit %d (%s); the reason is logged "
	    "above\n", name, rc, exit_code_name(rc));
	fflush(stdout);
	return rc;
}

/* Discard the body of the one-byte read; refuse more than a few bytes. */
static int
read_sink(void *arg, const void *buf, size_t len)
{
	size_t *got = arg;

	(void)buf;
	*got += len;
	return *got > 16 ? -1 : 0;
}

/* Read the first byte of blob e, with the storage retry rules. */
static int
check_read(struct blob_service *bs, struct http_client *http,
    const struct config *cfg, const struct blob_entry *e)
{
	static const char *const extra[] = { "Range: bytes=0-0", NULL };
	struct retry_policy policy = { 500, 10000, cfg->deadline_ms, 0 };
	struct retry_state rs;
	struct http_response resp;
	char subject[1200];
	int rc;

	snprintf(subject, sizeof(subject), "reading %s", e->name);
	memset(&resp, 0, sizeof(resp));
	retry_begin(&rs, &policy, NULL);
	for (;;) {
		struct http_request req;
		const char *const *hdrs;
		size_t got = 0;
		char *url;
		int cls, hrc = EXIT_OK;

		http_response_clear(&resp);
		hdrs = blob_headers(bs, extra, &hrc);
		if (hdrs == NULL) {
			rc = hrc;
			break;
		}
		url = blob_url(bs, e->name);
		if (url == NULL) {
			log_error("check: out of memory");
			rc = EXIT_FAILURE_;
			break;
		}
		memset(&req, 0, sizeof(req));
		req.url = url;
		req.headers = hdrs;
		req.timeout_ms = 30000;
		req.sink = read_sink;
		req.sink_arg = &got;
		http_do(http, &req, &resp);
		free(url);
		/* 206, or 200 from a server that ignored Range (we hung up) */
		if ((resp.status == 206 || resp.status == 200) &&
		    (resp.err == HTTP_E_NONE || resp.err == HTTP_E_ABORTED)) {
			auth_accepted(blob_auth(bs));
			rc = EXIT_OK;
			break;
		}
		cls = blob_classify(&resp);
		if (cls == RETRY_AUTH && auth_rejected(blob_auth(bs)) == 0)
			continue;
		if (cls != RETRY_YES ||
		    retry_backoff(&rs, http_response_retry_after_ms(&resp)) <
		    0) {
			rc = blob_error_report(bs, &resp, subject);
			break;
		}
	}
	http_response_clear(&resp);
	return rc;
}

/* Free space at path or its nearest existing parent; -1 if unknown. */
static long long
free_at(const char *path, char *where, size_t wheresz)
{
	struct stat st;
	char *slash;

	if (snprintf(where, wheresz, "%s", path) >= (int)wheresz)
		return -1;
	while (stat(where, &st) < 0 && errno == ENOENT) {
		slash = strrchr(where, '/');
		if (slash == NULL)
			return -1;
		if (slash == where) {
			where[1] = '\0';
			break;
		}
		*slash = '\0';
	}
	return fs_free_bytes(where);
}

static int
check_disk(const struct config *cfg, uint64_t total)
{
	char where[4096], need[32], have[32], max[32], line[4200];
	long long avail;

	human_size(total, need, sizeof(need));
	if (total > cfg->max_release_size) {
		human_size(cfg->max_release_size, max, sizeof(max));
		log_error("check: the release holds %s, more than [fetch] "
		    "max_release_size (%s); raise the limit or make the "
		    "release smaller", need, max);
		return EXIT_CONFIG;
	}
	avail = free_at(cfg->root, where, sizeof(where));
	if (avail < 0) {
		log_error("check: cannot tell the free space at %s ([install] "
		    "root): %s", cfg->root, strerror(errno));
		return EXIT_LOCAL;
	}
	human_size((uint64_t)avail, have, sizeof(have));
	if ((uint64_t)avail < total) {
		log_error("check: not enough free space at %s for [install] "
		    "root %s: %s free, the release needs %s; free some space "
		    "or move [install] root", where, cfg->root, have, need);
		return EXIT_LOCAL;
	}
	snprintf(line, sizeof(line), "%s free at %s, the release needs %s",
	    have, where, need);
	step_ok("disk", line);
	return EXIT_OK;
}

static int
check_run(struct config *cfg, struct http_client *http)
{
	struct auth *auth = NULL;
	struct blob_service *bs = NULL;
	struct blob_list list = { NULL, 0 };
	const struct blob_entry *first = NULL;
	const char *h, *q;
	char prefix[512], line[1400], size[32];
	uint64_t total = 0;
	int rc;

	auth = auth_new(cfg, http, &rc);
	if (auth == NULL) {
		rc = step_failed("credentials", rc);
		goto out;
	}
	rc = auth_prepare(auth, &h, &q);
	if (rc != EXIT_OK) {
		rc = step_failed("credentials", rc);
		goto out;
	}
	step_ok("credentials", auth_describe(auth));
	bs = blob_service_new(cfg, http, auth);
	if (bs == NULL) {
		rc = step_failed("list", EXIT_FAILURE_);
		goto out;
	}
	snprintf(prefix, sizeof(prefix), "%s/", cfg->release);
	rc = blob_list(bs, prefix, &list);
	if (rc != EXIT_OK) {
		rc = step_failed("list", rc);
		goto out;
	}
	for (size_t i = 0; i < list.n; i++) {
		total += list.v[i].size;
		if (first == NULL && list.v[i].size > 0)
			first = &list.v[i];
	}
	human_size(total, size, sizeof(size));
	snprintf(line, sizeof(line), "%zu blob%s, %s under %s in container %s",
	    list.n, list.n == 1 ? "" : "s", size, prefix, cfg->container);
	step_ok("list", line);
	if (first != NULL) {
		rc = check_read(bs, http, cfg, first);
		if (rc != EXIT_OK) {
			rc = step_failed("read", rc);
			goto out;
		}
		snprintf(line, sizeof(line), "first byte of %s", first->rel);
		step_ok("read", line);
	} else {
		step_ok("read", "skipped: every blob is empty");
	}
	rc = check_disk(cfg, total);
	if (rc != EXIT_OK)
		rc = step_failed("disk", rc);
out:
	blob_list_free(&list);
	blob_service_free(bs);
	auth_free(auth);
	return rc;
}

int
cmd_check(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "release", 1, "storage.release", NULL, NULL,
		    "release folder to check", "R" },
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct http_opts hopts;
	struct http_client *http = NULL;
	struct cli_ctx ctx;
	struct config *cfg = NULL;
	char line[1200];
	int rc;

	rc = cli_parse(&ctx, argc, argv, opts);
	if (rc != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	cfg = cli_config(&ctx, CONFIG_NEED_STORAGE | CONFIG_NEED_RELEASE);
	if (cfg == NULL)
		return step_failed("config", EXIT_CONFIG);
	if (cfg->deadline_ms <= 0 || cfg->deadline_ms > CHECK_DEADLINE_MS)
		cfg->deadline_ms = CHECK_DEADLINE_MS;
	snprintf(line, sizeof(line), "%s; release %s, container %s at %s",
	    cfg->path ? cfg->path : "no file, defaults and environment",
	    cfg->release, cfg->container, cfg->endpoint);
	step_ok("config", line);
	memset(&hopts, 0, sizeof(hopts));
	hopts.ca_file = cfg->ca_file;
	hopts.connect_timeout_ms = 10000;
	hopts.max_conns = 4;
	http = http_client_new(&hopts);
	if (http == NULL) {
		log_error("check: cannot set up HTTP");
		rc = EXIT_FAILURE_;
		goto out;
	}
	rc = check_run(cfg, http);
	if (rc == EXIT_OK)
		printf("greenlight check: all checks passed\n");
out:
	http_client_free(http);
	config_free(cfg);
	return rc;
}
