/*
 * deploy_fetch.c — download a release into staging and unpack its archives,
 * extracting each large archive while it downloads.
 *
 * The problem: what to unpack, and where, is written in release.ini, a blob
 * of the very release being downloaded, and the engine fetches every blob
 * at once (in name order, so release.ini would come after app.tar.zst's
 * ranges). So release.ini is read first, with one small GET, before the
 * download starts; when that cannot be done yet (IMDS or storage not ready:
 * the engine waits for them, with its own deadline) the engine's copy of
 * release.ini is watched instead and read the moment it is complete. The
 * engine streams to us every blob large enough to be worth streaming
 * (want_watch); we note how far each has come, and once the spec is known
 * each blob it lists under [unpack] gets an extraction thread, which first
 * catches up with what is already on disk. Everything else (small archives,
 * a stream that did not reach the end) is unpacked from the verified file
 * once the download is done.
 *
 * That early release.ini is unverified: the engine checks digests only when
 * a blob is complete, and may restart it. So nothing is trusted before the
 * fetch has verified everything: an extraction is committed only when the
 * verified release.ini is byte for byte the one the streams were started
 * from, and each stream ran to the archive's full, verified size; otherwise
 * the streams are thrown away and the archives unpacked from the files.
 * (A spec that does not even parse stops the deploy before the download.)
 * A stream whose bytes turn out hostile fails but does not stop the
 * download: the engine may still restart that blob after a digest mismatch
 * (a corrupted byte in transit), and the stream then starts over with it.
 *
 * Layout in staging/<R>/: fetch/ is the engine's resumable staging, files/
 * the verified download (the engine's destination), tree/ the release
 * being built: loose files hard-linked from files/, archives extracted.
 * tree/ is made afresh by every run, files/ survives a crash, so a rerun
 * downloads nothing it already has.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "deploy_int.h"
#include "fsutil.h"
#include "log.h"
#include "spec.h"
#include "unpack.h"

/* Archives smaller than this are unpacked after the download. */
#define STREAM_MIN_SIZE (4u << 20)
/* Blobs watched at most (release.ini and the large ones). */
#define STREAM_MAX 64
#define SPEC_TEXT_MAX (64 * 1024)

struct watched {
	char *rel;		/* blob name below the release */
	uint64_t size;
	char path[PATH_MAX];	/* where the engine writes it */
	uint64_t contig;	/* bytes from 0 on disk */
	struct unpack_stream *us;
	char link[PATH_MAX];	/* what the stream reads: a hard link */
	int tried;		/* a stream was started (or could not be) */
	int is_spec;
};

struct streams {
	struct deploy *d;
	struct watched v[STREAM_MAX];
	int n;
	struct watched *last;	/* lookup cache: the same blob comes often */
	char *early;		/* release.ini as first downloaded */
	size_t early_len;
	char early_path[PATH_MAX]; /* a copy of it, for spec_load */
	struct spec *spec;	/* parsed early (problems logged) */
	int spec_problems;
};

static struct watched *
stream_find(struct streams *s, const char *rel)
{
	if (s->last != NULL && strcmp(s->last->rel, rel) == 0)
		return s->last;
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i].rel, rel) == 0)
			return s->last = &s->v[i];
	return NULL;
}

static int
stream_want(void *arg, const char *rel, uint64_t size)
{
	struct streams *s = arg;
	struct watched *w;
	int is_spec = strcmp(rel, SPEC_FILE) == 0;

	if (!is_spec && size < STREAM_MIN_SIZE)
		return 0;
	if (s->n >= STREAM_MAX || stream_find(s, rel) != NULL)
		return 0;
	w = &s->v[s->n];
	memset(w, 0, sizeof(*w));
	if ((w->rel = strdup(rel)) == NULL)
		return 0;
	w->size = size;
	w->is_spec = is_spec;
	s->n++;
	return 1;
}

static const struct spec_archive *
spec_archive_find(const struct spec *sp, const char *rel)
{
	for (int i = 0; i < sp->narchives; i++)
		if (strcmp(sp->archives[i].path, rel) == 0)
			return &sp->archives[i];
	return NULL;
}

/*
 * Start extracting w when the early spec lists it and its data file
 * exists. The stream reads a hard link to the engine's data file: the
 * engine renames that file into the tree when the whole release is
 * verified, possibly before the extraction thread has opened it, and
 * truncates it in place (same inode) when the blob starts over.
 */
static void
stream_maybe_start(struct streams *s, struct watched *w)
{
	struct deploy *d = s->d;
	const struct spec_archive *ar;

	if (w->is_spec || w->tried || w->path[0] == '\0' || s->spec == NULL ||
	    s->spec_problems > 0 ||
	    (ar = spec_archive_find(s->spec, w->rel)) == NULL)
		return;
	w->tried = 1;
	if (snprintf(w->link, sizeof(w->link), "%s/.stream-%d", d->stage,
	    (int)(w - s->v)) >= (int)sizeof(w->link)) {
		w->link[0] = '\0';
		return;
	}
	unlink(w->link);
	if (link(w->path, w->link) < 0) {
		log_debug("unpack %s: no streaming: link %s: %s", w->rel,
		    w->link, strerror(errno));
		w->link[0] = '\0';
		return;
	}
	log_debug("unpack %s: extracting while it downloads", w->rel);
	w->us = unpack_stream_start(w->link, w->size, w->rel, d->tree,
	    ar->dest, &s->spec->limits);
	if (w->us != NULL && w->contig > 0)
		unpack_stream_advance(w->us, w->contig);
}

/*
 * The spec is known (text, malloc'd, now owned by s): parse it and start a
 * stream for every watched blob it lists.
 */
static void
stream_spec_text(struct streams *s, char *text, size_t len)
{
	struct deploy *d = s->d;

	s->early = text;
	s->early_len = len;
	/* a copy under a name a person recognises in FILE:LINE messages */
	if (fs_path_join(s->early_path, sizeof(s->early_path), d->stage,
	    SPEC_FILE) < 0 ||
	    fs_write_atomic(s->early_path, s->early, s->early_len, 0644) < 0)
		goto drop;
	s->spec = spec_load(s->early_path, &s->spec_problems);
	if (s->spec == NULL)
		goto drop;
	if (s->spec_problems > 0)
		return;
	for (int i = 0; i < s->n; i++)
		stream_maybe_start(s, &s->v[i]);
	return;
drop:
	free(s->early);
	s->early = NULL;
	s->early_len = 0;
}

/* release.ini is complete in the engine's staging. */
static void
stream_spec_ready(struct streams *s, const struct watched *w)
{
	size_t len = 0;
	char *text = fs_read_file(w->path, SPEC_TEXT_MAX, &len, 0);

	if (text != NULL)
		stream_spec_text(s, text, len);
}

/* The engine's watch callback (on its thread). */
static int
stream_watch(void *arg, const char *rel, const char *staging_path,
    uint64_t contiguous, uint64_t size, int restarted)
{
	struct streams *s = arg;
	struct watched *w = stream_find(s, rel);

	if (w == NULL)
		return 0;
	if (restarted) {
		w->contig = 0;
		if (w->us != NULL)
			unpack_stream_restart(w->us);
		if (w->is_spec && s->early != NULL) {
			/* read it again when it is complete again; streams
			 * already running are judged at the end */
			free(s->early);
			s->early = NULL;
			s->early_len = 0;
		}
	}
	if (strcmp(w->path, staging_path) != 0 &&
	    snprintf(w->path, sizeof(w->path), "%s", staging_path) >=
	    (int)sizeof(w->path))
		return 0;
	w->contig = contiguous;
	w->size = size;
	if (w->is_spec) {
		if (contiguous == size && s->early == NULL && s->spec == NULL)
			stream_spec_ready(s, w);
		return 0;
	}
	if (w->us != NULL)
		unpack_stream_advance(w->us, contiguous);
	else
		stream_maybe_start(s, w);
	return 0;
}

/* Discard every stream still running (the download failed, or the spec
 * they were started from is not the verified one). */
static void
streams_discard(struct streams *s)
{
	for (int i = 0; i < s->n; i++) {
		if (s->v[i].us == NULL)
			continue;
		unpack_stream_fail(s->v[i].us);
		unpack_stream_finish(s->v[i].us, 0);
		s->v[i].us = NULL;
	}
}

static void
streams_free(struct streams *s)
{
	streams_discard(s);
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].rel);
		if (s->v[i].link[0] != '\0')
			unlink(s->v[i].link);
	}
	free(s->early);
	spec_free(s->spec);
	if (s->early_path[0] != '\0')
		unlink(s->early_path);
	memset(s, 0, sizeof(*s));
}

static int
unpack_code(enum unpack_status st)
{
	switch (st) {
	case UNPACK_OK:
		return EXIT_OK;
	case UNPACK_REFUSED:
		return EXIT_INTEGRITY;
	case UNPACK_LOCAL:
		return EXIT_LOCAL;
	default:
		return EXIT_FAILURE_;
	}
}

/* Unpack every archive the spec lists, from its stream or its file. */
static int
unpack_all(struct deploy *d, struct streams *s, const struct spec *sp)
{
	char file[PATH_MAX];

	for (int i = 0; i < sp->narchives; i++) {
		const struct spec_archive *ar = &sp->archives[i];
		struct watched *w = stream_find(s, ar->path);
		enum unpack_status st;
		const char *how = "after the download";

		if (fs_path_join(file, sizeof(file), d->files, ar->path) < 0) {
			deploy_fail(d, "unpack %s: path too long", ar->path);
			return EXIT_LOCAL;
		}
		if (access(file, F_OK) < 0) {
			deploy_fail(d, "release.ini [unpack] lists %s, but "
			    "the release has no such file; upload it or fix "
			    "the archive line", ar->path);
			return EXIT_CONFIG;
		}
		if (w != NULL && w->us != NULL && w->contig == w->size) {
			st = unpack_stream_finish(w->us, 1);
			w->us = NULL;
			how = "while it downloaded";
		} else {
			if (w != NULL && w->us != NULL) {
				unpack_stream_fail(w->us);
				unpack_stream_finish(w->us, 0);
				w->us = NULL;
			}
			st = unpack_file(file, ar->path, d->tree, ar->dest,
			    &sp->limits);
		}
		if (st != UNPACK_OK) {
			deploy_fail(d, "archive %s: %s (%s); nothing was "
			    "switched", ar->path, st == UNPACK_REFUSED ?
			    "refused, see the entry named above" :
			    "could not be unpacked", unpack_status_name(st));
			return unpack_code(st);
		}
		log_info("unpack %s: extracted into %s%s (%s)", ar->path,
		    ar->dest[0] ? ar->dest : "the release root",
		    ar->dest[0] ? "/" : "", how);
	}
	return EXIT_OK;
}

/*
 * Read release.ini from storage before the download starts (one small
 * GET), so the archives' streams start with their first bytes. When that
 * is not possible now (IMDS or storage not ready), the engine's copy is
 * watched instead. A spec with problems stops the deploy here, before
 * anything large is downloaded.
 */
static int
spec_prefetch(struct deploy *d, struct streams *s)
{
	char *text = NULL;
	size_t len = 0;
	int rc = deploy_spec_prefetch(d, &text, &len);

	if (rc == EXIT_NOTFOUND || rc == EXIT_TEMPORARY)
		return EXIT_OK;	/* the fetch says it better, or waits */
	if (rc != EXIT_OK)
		return rc;
	stream_spec_text(s, text, len);
	if (s->spec_problems > 0) {
		deploy_fail(d, "%s of release %s has %d problem%s (see "
		    "above); nothing was downloaded or switched", SPEC_FILE,
		    d->release, s->spec_problems,
		    s->spec_problems == 1 ? "" : "s");
		return EXIT_CONFIG;
	}
	return EXIT_OK;
}

/* Is rel an archive the spec unpacks (so not a file of the tree)? */
static int
is_archive(const struct spec *sp, const char *rel)
{
	return spec_archive_find(sp, rel) != NULL;
}

/*
 * Hard-link every downloaded file but the archives from d->files into the
 * tree (same file system: both are in staging/<R>). A link, not a copy:
 * cheap, and d->files stays complete for a rerun after a crash (a hook
 * that changes a file in place changes both; the rerun's fetch notices
 * the digest and downloads that file again).
 */
static int
link_tree(struct deploy *d, const struct spec *sp, const char *rel)
{
	char from[PATH_MAX], to[PATH_MAX], sub[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *dir = NULL;
	int rc = -1;

	if (fs_path_join(from, sizeof(from), d->files, rel) < 0 ||
	    (dir = opendir(from)) == NULL) {
		deploy_fail(d, "cannot read %s: %s", from, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((rel[0] != '\0' ? snprintf(sub, sizeof(sub), "%s/%s", rel,
		    de->d_name) : snprintf(sub, sizeof(sub), "%s",
		    de->d_name)) >= (int)sizeof(sub) ||
		    fs_path_join(from, sizeof(from), d->files, sub) < 0 ||
		    fs_path_join(to, sizeof(to), d->tree, sub) < 0) {
			deploy_fail(d, "%s: path too long", sub);
			goto out;
		}
		if (lstat(from, &st) < 0) {
			deploy_fail(d, "%s: %s", from, strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			if ((mkdir(to, 0755) < 0 && errno != EEXIST) ||
			    link_tree(d, sp, sub) < 0) {
				if (d->why[0] == '\0')
					deploy_fail(d, "mkdir %s: %s", to,
					    strerror(errno));
				goto out;
			}
			continue;
		}
		if (!S_ISREG(st.st_mode) || is_archive(sp, sub))
			continue;
		if (link(from, to) < 0) {
			deploy_fail(d, "cannot link %s to %s: %s", from, to,
			    strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	closedir(dir);
	return rc;
}

int
deploy_fetch_tree(struct deploy *d, struct spec **specp)
{
	struct streams s;
	struct fetch_opts fo;
	struct spec *sp = NULL;
	char specfile[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int rc, problems = 0;
	int64_t t0;

	*specp = NULL;
	memset(&s, 0, sizeof(s));
	s.d = d;
	/* the tree is rebuilt on every run (hooks may have changed a tree
	 * left by a crash); the download in files and fstage is reused */
	if (fs_rm_rf(d->tree) < 0 || fs_mkdir_p(d->tree, 0755) < 0) {
		deploy_fail(d, "cannot prepare %s", d->tree);
		return EXIT_LOCAL;
	}
	rc = spec_prefetch(d, &s);
	if (rc != EXIT_OK)
		goto out;
	memset(&fo, 0, sizeof(fo));
	fo.dest = d->files;
	fo.staging = d->fstage;
	fo.progress = d->opts->progress;
	fo.watch = stream_watch;
	fo.watch_arg = &s;
	fo.want_watch = stream_want;

	t0 = clock_mono_ms();
	deploy_crash_point("deploy-fetch");
	rc = fetch_release(d->cfg, &fo, &d->fetch);
	state_phase_add(d->st, PHASE_FETCH, clock_mono_ms() - t0);
	if (rc != EXIT_OK) {
		streams_discard(&s);
		deploy_fail(d, "download of release %s failed (%s, see "
		    "above); nothing was switched", d->release,
		    exit_code_name(rc));
		goto out;
	}

	t0 = clock_mono_ms();
	state_phase_add(d->st, PHASE_UNPACK, 0);
	deploy_state_save(d);
	deploy_crash_point("deploy-unpack");
	rc = EXIT_CONFIG;
	if (fs_path_join(specfile, sizeof(specfile), d->files, SPEC_FILE) < 0)
		goto out;
	text = fs_read_file(specfile, SPEC_TEXT_MAX, &len, 1);
	if (text == NULL) {
		deploy_fail(d, "release %s has no readable %s at its root; "
		    "every release needs one (see conf/release.ini)",
		    d->release, SPEC_FILE);
		goto out;
	}
	if (s.early != NULL && s.spec != NULL && s.early_len == len &&
	    memcmp(s.early, text, len) == 0) {
		/* the streams were started from the verified spec */
		sp = s.spec;
		s.spec = NULL;
		problems = s.spec_problems;
	} else {
		if (s.early != NULL || s.spec != NULL)
			log_info("%s changed during the download; unpacking "
			    "from the verified files", SPEC_FILE);
		streams_discard(&s);
		sp = spec_load(specfile, &problems);
		if (sp == NULL) {
			rc = EXIT_FAILURE_;
			deploy_fail(d, "out of memory");
			goto out;
		}
	}
	if (problems > 0) {
		deploy_fail(d, "%s of release %s has %d problem%s (see "
		    "above); nothing was switched", SPEC_FILE, d->release,
		    problems, problems == 1 ? "" : "s");
		goto out;
	}
	rc = EXIT_LOCAL;
	d->why[0] = '\0';
	if (link_tree(d, sp, "") < 0) {
		streams_discard(&s);
		goto out;
	}
	rc = unpack_all(d, &s, sp);
	state_phase_add(d->st, PHASE_UNPACK, clock_mono_ms() - t0);
	if (rc == EXIT_OK) {
		*specp = sp;
		sp = NULL;
	}
out:
	streams_free(&s);
	spec_free(sp);
	free(text);
	return rc;
}
