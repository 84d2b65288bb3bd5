/*
 * fetch.c — fetch_release(): list the release, check every name and the
 * MANIFEST before a byte is downloaded, find what is already in the
 * destination or in staging, let the engine fetch the rest, then publish
 * it into the destination by rename, verified.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "auth.h"
#include "clock.h"
#include "fetch_int.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "parse.h"

#define PROBLEMS_SHOWN 10

static int
setup_paths(struct fetch *f)
{
	const char *dest = f->opts->dest;
	struct stat st;
	size_t n;
	int w;

	if (dest == NULL || *dest == '\0') {
		log_error("fetch: no destination directory given");
		return EXIT_USAGE;
	}
	n = strlen(dest);
	while (n > 1 && dest[n - 1] == '/')
		n--;
	if (n == 1 && dest[0] == '/') {
		log_error("fetch: refusing to fetch into /; pass a directory "
		    "of its own as --dest");
		return EXIT_USAGE;
	}
	if (n >= sizeof(f->dest) - 16) {
		log_error("fetch: destination path too long");
		return EXIT_USAGE;
	}
	memcpy(f->dest, dest, n);
	f->dest[n] = '\0';
	if (lstat(f->dest, &st) == 0 && !S_ISDIR(st.st_mode)) {
		log_error("fetch: %s exists and is not a directory; remove it "
		    "or choose another --dest", f->dest);
		return EXIT_USAGE;
	}
	if (f->opts->staging != NULL && *f->opts->staging != '\0')
		w = snprintf(f->staging, sizeof(f->staging), "%s",
		    f->opts->staging);
	else
		w = snprintf(f->staging, sizeof(f->staging), "%s.partial",
		    f->dest);
	if (w < 0 || (size_t)w >= sizeof(f->staging) - 16 ||
	    fs_path_join(f->data, sizeof(f->data), f->staging, "data") < 0) {
		log_error("fetch: staging path too long");
		return EXIT_USAGE;
	}
	n = strlen(f->dest);
	if (strcmp(f->staging, f->dest) == 0 ||
	    (strncmp(f->staging, f->dest, n) == 0 && f->staging[n] == '/')) {
		log_error("fetch: the staging area %s must not be inside the "
		    "destination %s", f->staging, f->dest);
		return EXIT_USAGE;
	}
	w = snprintf(f->key, sizeof(f->key), "%s %s %s", f->cfg->endpoint,
	    f->cfg->container, f->cfg->release);
	if (w < 0 || (size_t)w >= sizeof(f->key))
		return EXIT_CONFIG;
	return EXIT_OK;
}

static int
connect_storage(struct fetch *f)
{
	struct http_opts ho = { 0 };
	int rc = EXIT_FAILURE_;

	ho.ca_file = f->cfg->ca_file;
	ho.max_conns = f->cfg->connections;
	f->http = http_client_new(&ho);
	f->http_id = http_client_new(NULL);
	if (f->http == NULL || f->http_id == NULL)
		return EXIT_FAILURE_;
	f->auth = auth_new(f->cfg, f->http_id, &rc);
	if (f->auth == NULL)
		return rc;
	f->bs = blob_service_new(f->cfg, f->http, f->auth);
	return f->bs != NULL ? EXIT_OK : EXIT_FAILURE_;
}

static int
cmp_rel(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every name must be a safe path, and no file may be another's directory. */
static int
check_names(struct fetch *f)
{
	const char **rels = NULL;
	char why[160];
	size_t file, under;
	int bad = 0;

	for (size_t i = 0; i < f->list.n; i++) {
		if (fetch_path_check(f->list.v[i].rel, why, sizeof(why)) == 0)
			continue;
		if (bad++ < PROBLEMS_SHOWN)
			log_error("fetch: blob %s cannot be written below %s: "
			    "%s; rename it in storage", f->list.v[i].name,
			    f->dest, why);
	}
	if (bad > 0)
		return EXIT_CONFIG;
	rels = malloc(f->list.n * sizeof(*rels));
	if (rels == NULL)
		return EXIT_FAILURE_;
	for (size_t i = 0; i < f->list.n; i++)
		rels[i] = f->list.v[i].rel;
	qsort(rels, f->list.n, sizeof(*rels), cmp_rel);
	if (fetch_paths_conflict(rels, f->list.n, &file, &under)) {
		log_error("fetch: release %s has both a file %s and a file "
		    "%s below it, which cannot both exist on disk; rename one "
		    "in storage", f->cfg->release, rels[file], rels[under]);
		bad = 1;
	}
	free(rels);
	return bad ? EXIT_CONFIG : EXIT_OK;
}

static int
list_release(struct fetch *f)
{
	char prefix[512], a[32], b[32];
	uint64_t total = 0;
	int rc;

	if (snprintf(prefix, sizeof(prefix), "%s/", f->cfg->release) >=
	    (int)sizeof(prefix))
		return EXIT_CONFIG;
	rc = blob_list(f->bs, prefix, &f->list);
	if (rc != EXIT_OK)
		return rc;
	rc = check_names(f);
	if (rc != EXIT_OK)
		return rc;
	for (size_t i = 0; i < f->list.n; i++)
		total += f->list.v[i].size;
	if (total > f->cfg->max_release_size) {
		progress_fmt_bytes((int64_t)total, a, sizeof(a));
		parse_format_size(f->cfg->max_release_size, b, sizeof(b));
		log_error("fetch: release %s is %s, more than "
		    "fetch.max_release_size (%s); nothing was downloaded — "
		    "raise fetch.max_release_size if the release is right",
		    f->cfg->release, a, b);
		return EXIT_CONFIG;
	}
	f->nb = f->list.n;
	f->b = calloc(f->nb, sizeof(*f->b));
	if (f->b == NULL)
		return EXIT_FAILURE_;
	for (size_t i = 0; i < f->nb; i++) {
		struct fblob *fb = &f->b[i];

		fb->e = &f->list.v[i];
		fb->fd = -1;
		fb->nranges = fetch_range_count(fb->e->size, f->chunk);
		fb->rs = calloc(fb->nranges, 1);
		if (fb->rs == NULL)
			return EXIT_FAILURE_;
		if (f->opts->want_watch != NULL)
			fb->watched = f->opts->want_watch(f->opts->watch_arg,
			    fb->e->rel, fb->e->size) != 0;
		if (strcmp(fb->e->rel, "MANIFEST") == 0)
			f->manifest_blob = fb;
	}
	f->st.files = (int64_t)f->nb;
	f->st.bytes = (int64_t)total;
	return EXIT_OK;
}

/* Is b already in the destination, same size, time and digests? */
static int
in_place(struct fetch *f, struct fblob *b)
{
	unsigned char md5[16], sha[32], want[16];
	char path[PATH_MAX];
	struct stat st;

	if (fs_path_join(path, sizeof(path), f->dest, b->e->rel) < 0 ||
	    lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != b->e->size ||
	    (b->e->mtime > 0 && st.st_mtim.tv_sec != b->e->mtime))
		return 0;
	if (b->algos != 0 && digest_file(path, b->algos, md5, sha) < 0)
		return 0;
	if ((b->algos & DIGEST_MD5) && (digest_unbase64(b->e->md5, want,
	    sizeof(want)) != 16 || memcmp(want, md5, 16) != 0))
		return 0;
	if ((b->algos & DIGEST_SHA256) && memcmp(b->m->sha256, sha, 32) != 0)
		return 0;
	if (b->watched && f->opts->watch != NULL &&
	    f->opts->watch(f->opts->watch_arg, b->e->rel, path, b->e->size,
	    b->e->size, 0) < 0) {
		f->rc = EXIT_FAILURE_;
		return 0;
	}
	b->state = FB_INPLACE;
	f->files_done++;
	f->bytes_done += (int64_t)b->e->size;
	f->st.files_reused++;
	return 1;
}

/* Make b's staged data count: hash what is reused, finish what is whole. */
static int
settle_reused(struct fetch *f, struct fblob *b)
{
	if (b->e->size == 0) {
		if (stage_create(f) < 0)
			return -1;
		b->rs[0] = FR_DONE;
		b->ndone = 1;
		b->fresh = 1;
		if (fblob_open(f, b) < 0)
			return -1;
	} else if (b->ndone == 0) {
		return 0;
	}
	if (stage_create(f) < 0 || fblob_open(f, b) < 0)
		return -1;
	f->bytes_done += b->counted;
	if (b->ndone == b->nranges) {
		if (fblob_finish(f, b) < 0)
			return -1;
		if (b->state == FB_DONE && b->reused)
			f->st.files_reused++;
		return 0;
	}
	if (fblob_advance(f, b) < 0)
		return -1;
	fblob_close(b);
	return 0;
}

static int
run_engine(struct fetch *f)
{
	if (stage_create(f) < 0)
		return f->rc;
	if (f->slots == NULL) {
		f->nslots = (int)f->cfg->connections;
		f->slots = calloc((size_t)f->nslots, sizeof(*f->slots));
		f->pend = calloc(f->nb, sizeof(*f->pend));
		f->order = calloc(f->nb, sizeof(*f->order));
		if (f->slots == NULL || f->pend == NULL || f->order == NULL)
			return f->rc = EXIT_FAILURE_;
		for (int i = 0; i < f->nslots; i++) {
			f->slots[i].f = f;
			f->slots[i].buf = malloc(FETCH_SLOT_BUF);
			if (f->slots[i].buf == NULL)
				return f->rc = EXIT_FAILURE_;
		}
	}
	f->cursor = 0;
	/*
	 * Blobs of one range first, then the ranges of the large ones: the
	 * small files are done early (a deploy's release.ini, MANIFEST) and
	 * never wait behind a large blob's ranges.
	 */
	for (int pass = 0, n = 0; pass < 2; pass++)
		for (size_t i = 0; i < f->nb; i++)
			if ((f->b[i].nranges > 1) == pass) {
				f->b[i].pos = (size_t)n;
				f->order[n++] = i;
			}
	/* digests of all but small blobs on a helper thread (small ones
	 * are hashed as they arrive); without it, on this one */
	for (size_t i = 0; i < f->nb && f->hasher == NULL; i++)
		if (f->b[i].algos != 0 &&
		    f->b[i].e->size > FETCH_INLINE_HASH_MAX &&
		    !f->b[i].skip && f->b[i].state != FB_DONE &&
		    f->b[i].state != FB_INPLACE)
			f->hasher = hasher_start();
	fetch_engine_run(f);
	hasher_stop(f->hasher);
	f->hasher = NULL;
	return f->rc;
}

/* A MANIFEST at the release root: fetch it first, check it against the list. */
static int
load_manifest(struct fetch *f)
{
	struct fblob *mb = f->manifest_blob;
	char path[PATH_MAX], err[256];
	char *text = NULL;
	size_t len = 0;
	int problems = 0;

	if (mb == NULL)
		return EXIT_OK;
	if (mb->e->size > FETCH_MANIFEST_MAX) {
		log_error("fetch: %s is larger than %u MiB; that is not a "
		    "MANIFEST greenlight can read", mb->e->name,
		    FETCH_MANIFEST_MAX >> 20);
		return EXIT_INTEGRITY;
	}
	mb->algos = fblob_algos(mb);
	if (in_place(f, mb)) {
		fs_path_join(path, sizeof(path), f->dest, mb->e->rel);
	} else {
		if (settle_reused(f, mb) < 0)
			return f->rc;
		if (mb->state != FB_DONE) {
			for (size_t i = 0; i < f->nb; i++)
				f->b[i].skip = &f->b[i] != mb;
			run_engine(f);
			for (size_t i = 0; i < f->nb; i++)
				f->b[i].skip = 0;
			if (f->rc != EXIT_OK)
				return f->rc;
		}
		stage_path(f, mb, path, sizeof(path));
	}
	text = fs_read_file(path, FETCH_MANIFEST_MAX, &len, 0);
	if (text == NULL)
		return EXIT_LOCAL;
	if (manifest_parse(text, len, &f->man, err, sizeof(err)) < 0) {
		free(text);
		log_error("fetch: %s: %s; fix the MANIFEST and upload it "
		    "again", mb->e->name, err);
		return EXIT_INTEGRITY;
	}
	free(text);
	f->have_man = 1;
	for (size_t i = 0; i < f->nb; i++) {
		struct fblob *b = &f->b[i];
		struct manifest_entry *m;

		if (b == mb)
			continue;
		m = manifest_find(&f->man, b->e->rel);
		if (m == NULL) {
			if (problems++ < PROBLEMS_SHOWN)
				log_error("fetch: blob %s is not in the "
				    "MANIFEST of release %s", b->e->name,
				    f->cfg->release);
			continue;
		}
		m->seen = 1;
		b->m = m;
		if (m->size != b->e->size && problems++ < PROBLEMS_SHOWN)
			log_error("fetch: blob %s is %" PRIu64 " bytes; the "
			    "MANIFEST says %" PRIu64, b->e->name, b->e->size,
			    m->size);
	}
	for (size_t i = 0; i < f->man.n; i++)
		if (!f->man.v[i].seen && problems++ < PROBLEMS_SHOWN)
			log_error("fetch: the MANIFEST lists %s, but release "
			    "%s has no such blob", f->man.v[i].path,
			    f->cfg->release);
	if (problems > 0) {
		if (problems > PROBLEMS_SHOWN)
			log_error("fetch: ... and %d more MANIFEST problems",
			    problems - PROBLEMS_SHOWN);
		log_error("fetch: release %s does not match its MANIFEST; "
		    "nothing was published — upload the release again",
		    f->cfg->release);
		return EXIT_INTEGRITY;
	}
	return EXIT_OK;
}

/* Decide, blob by blob, what is left to download; check the space. */
static int
plan(struct fetch *f)
{
	int64_t need = 0;
	long long avail;
	char a[32], b[32];

	for (size_t i = 0; i < f->nb; i++) {
		struct fblob *fb = &f->b[i];

		if (fb->state != FB_TODO)
			continue;
		fb->algos = fblob_algos(fb);
		if (in_place(f, fb))
			continue;
		if (f->rc != EXIT_OK || settle_reused(f, fb) < 0)
			return f->rc;
		if (fb->state == FB_TODO)
			need += (int64_t)fb->e->size - fb->counted;
	}
	if (need == 0)
		return EXIT_OK;
	avail = fs_free_bytes(f->staged ? f->staging : f->dest);
	if (avail < 0) {
		char parent[PATH_MAX];
		char *slash;

		snprintf(parent, sizeof(parent), "%s", f->dest);
		slash = strrchr(parent, '/');
		if (slash != NULL && slash != parent)
			*slash = '\0';
		else
			snprintf(parent, sizeof(parent), "%s",
			    slash == parent ? "/" : ".");
		avail = fs_free_bytes(parent);
	}
	if (avail >= 0 && need > avail) {
		progress_fmt_bytes(need, a, sizeof(a));
		progress_fmt_bytes(avail, b, sizeof(b));
		log_error("fetch: not enough disk space for release %s: %s "
		    "more are needed, %s are free beside %s; free space and "
		    "rerun (%s untouched)", f->cfg->release, a, b, f->dest,
		    f->dest);
		return EXIT_LOCAL;
	}
	return EXIT_OK;
}

static void
summary(struct fetch *f)
{
	char total[32], got[32], rate[32], extra[96] = "";
	double secs = (double)f->st.ms / 1000.0;

	progress_fmt_bytes(f->st.bytes, total, sizeof(total));
	progress_fmt_bytes(f->st.bytes_downloaded, got, sizeof(got));
	progress_fmt_rate(secs > 0 ? (double)f->st.bytes_downloaded / secs :
	    0, rate, sizeof(rate));
	if (f->st.files_reused > 0)
		snprintf(extra, sizeof(extra), ", %" PRId64 " already there",
		    f->st.files_reused);
	log_info("fetch: release %s is complete in %s: %" PRId64 " files, "
	    "%s%s; downloaded %s in %.1f s (%s), %" PRId64 " requests, %"
	    PRId64 " retries", f->cfg->release, f->dest, f->st.files, total,
	    extra, got, secs, rate, f->st.requests, f->st.retries);
}

static void
fetch_free(struct fetch *f)
{
	progress_free(f->prog);
	hasher_stop(f->hasher);
	for (size_t i = 0; i < f->nb; i++) {
		fblob_close(&f->b[i]);
		fhash_free(f->b[i].h);
		free(f->b[i].rs);
	}
	free(f->b);
	for (int i = 0; f->slots != NULL && i < f->nslots; i++)
		free(f->slots[i].buf);
	free(f->slots);
	free(f->pend);
	free(f->order);
	free(f->rbuf);
	fetch_journal_free(&f->journal);
	if (f->have_man)
		manifest_free(&f->man);
	blob_list_free(&f->list);
	blob_service_free(f->bs);
	auth_free(f->auth);
	http_client_free(f->http);
	http_client_free(f->http_id);
	stage_close(f);
	free(f);
}

int
fetch_release(const struct config *cfg, const struct fetch_opts *opts,
    struct fetch_stats *stats)
{
	struct fetch *f;
	int rc, todo = 0;

	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		log_error("fetch: out of memory");
		return EXIT_FAILURE_;
	}
	f->cfg = cfg;
	f->opts = opts;
	f->jfd = -1;
	f->lockfd = -1;
	f->chunk = cfg->chunk_size;
	f->start_ms = clock_mono_ms();
	f->deadline_at = f->start_ms + cfg->deadline_ms;
	f->rbuf = malloc(FETCH_READ_BUF);
	rc = f->rbuf == NULL ? EXIT_FAILURE_ : setup_paths(f);
	if (rc == EXIT_OK)
		rc = connect_storage(f);
	if (rc == EXIT_OK)
		rc = list_release(f);
	if (rc == EXIT_OK)
		rc = stage_prepare(f);
	if (rc == EXIT_OK)
		rc = load_manifest(f);
	if (rc == EXIT_OK)
		rc = plan(f);
	if (rc != EXIT_OK)
		goto out;
	for (size_t i = 0; i < f->nb; i++)
		todo += f->b[i].state != FB_INPLACE;
	if (todo == 0) {
		stage_remove(f);
		f->st.ms = clock_mono_ms() - f->start_ms;
		log_info("fetch: %s already holds release %s (%" PRId64
		    " files, verified); nothing to download", f->dest,
		    cfg->release, f->st.files);
		goto out;
	}
	f->prog = progress_new(opts->progress, "fetch", f->st.bytes,
	    f->st.files);
	progress_base(f->prog, f->bytes_done, f->files_done);
	rc = run_engine(f);
	progress_clear(f->prog);
	if (rc == EXIT_OK)
		rc = stage_publish(f);
	if (rc != EXIT_OK)
		goto out;
	stage_remove(f);
	f->st.ms = clock_mono_ms() - f->start_ms;
	summary(f);
out:
	if (f->rc != EXIT_OK && rc == EXIT_OK)
		rc = f->rc;
	f->st.ms = clock_mono_ms() - f->start_ms;
	if (stats != NULL)
		*stats = f->st;
	fetch_free(f);
	return rc;
}
