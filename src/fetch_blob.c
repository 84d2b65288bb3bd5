/*
 * fetch_blob.c — one blob's life in staging: its file, the contiguous
 * prefix written so far (what a streaming consumer may read, and what is
 * hashed), the verdict on its digests, and starting it over.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "fetch_hash.h"
#include "fetch_int.h"
#include "log.h"

void
fetch_write_failed(struct fetch *f, const char *path, int err)
{
	if (f->rc != EXIT_OK)
		return;
	progress_clear(f->prog);
	if (err == ENOSPC || err == EDQUOT)
		log_error("fetch: disk full writing %s; %s untouched; the "
		    "partial download in %s resumes when you rerun after "
		    "freeing space", path, f->dest, f->staging);
	else
		log_error("fetch: cannot write %s: %s; %s untouched; the "
		    "partial download in %s resumes when you rerun",
		    path, strerror(err), f->dest, f->staging);
	f->rc = EXIT_LOCAL;
}

void
fblob_watch(struct fetch *f, struct fblob *b, int restarted)
{
	char path[PATH_MAX];

	if (!b->watched || f->opts->watch == NULL || f->rc != EXIT_OK)
		return;
	if (stage_path(f, b, path, sizeof(path)) < 0)
		return;
	if (f->opts->watch(f->opts->watch_arg, b->e->rel, path, b->contig,
	    b->e->size, restarted) < 0) {
		progress_clear(f->prog);
		log_error("fetch: %s: the streaming consumer stopped the "
		    "download", b->e->name);
		f->rc = EXIT_FAILURE_;
	}
}

unsigned
fblob_algos(const struct fblob *b)
{
	/* the MANIFEST's SHA-256 says all Content-MD5 would, and more */
	if (b->m != NULL)
		return DIGEST_SHA256;
	return b->e->md5[0] != '\0' ? DIGEST_MD5 : 0;
}

int
fblob_open(struct fetch *f, struct fblob *b)
{
	char path[PATH_MAX];
	int flags = O_RDWR | O_CREAT | O_CLOEXEC, err;

	if (b->fd >= 0)
		return 0;
	if (stage_path(f, b, path, sizeof(path)) < 0) {
		log_error("fetch: %s: path too long", b->e->name);
		f->rc = EXIT_LOCAL;
		return -1;
	}
	if (b->ndone == 0)
		b->fresh = 1;
	if (b->fresh)
		flags |= O_TRUNC;
	err = stage_mkdirs(f->data, b->e->rel, f->lastdir,
	    sizeof(f->lastdir));
	if (err == 0) {
		b->fd = open(path, flags, 0644);
		err = b->fd < 0 ? errno : 0;
	}
	if (err != 0) {
		fetch_write_failed(f, path, err);
		return -1;
	}
	/* ranges land out of order: reserve the blocks in one piece (a blob
	 * of one range is written front to back anyway) */
	if (b->fresh && b->nranges > 1 &&
	    fallocate(b->fd, 0, 0, (off_t)b->e->size) < 0 &&
	    errno != EOPNOTSUPP && errno != ENOSYS) {
		fetch_write_failed(f, path, errno);
		return -1;
	}
	if (b->algos != 0 && b->h == NULL && b->contig == 0) {
		/*
		 * A small fresh blob arrives in order through one slot:
		 * hash it from memory as it is written, here, rather than
		 * hand it to the helper thread to read back (no second
		 * descriptor, no queue, no copy, no wait for the verdict).
		 * Larger ones are hashed by the helper from the file, on the
		 * other core, while this thread keeps serving sockets.
		 */
		b->hash_inline = b->fresh && b->nranges == 1 &&
		    b->e->size <= FETCH_INLINE_HASH_MAX;
		b->h = fhash_new(b->hash_inline ? -1 : b->fd, b->algos);
		b->hashq = 0;
		if (b->h == NULL) {
			log_error("fetch: out of memory");
			f->rc = EXIT_FAILURE_;
			return -1;
		}
	}
	b->fresh = 0;
	return 0;
}

void
fblob_close(struct fblob *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

static struct fslot *
slot_of(struct fetch *f, struct fblob *b, uint32_t r)
{
	for (int i = 0; i < f->nslots; i++)
		if (f->slots[i].b == b && !f->slots[i].probe &&
		    f->slots[i].r == r)
			return &f->slots[i];
	return NULL;
}

/*
 * Hash what became contiguous since last time: queued for the helper
 * thread while the engine runs, read back right here otherwise.
 */
int
fblob_hash_feed(struct fetch *f, struct fblob *b)
{
	char path[PATH_MAX];
	int err;

	if (b->h == NULL || b->contig <= b->hashq)
		return 0;
	if (f->hasher != NULL) {
		hasher_hash(f->hasher, b->h, b->contig);
	} else if ((err = fhash_update(b->h, b->contig, f->rbuf,
	    FETCH_READ_BUF)) != 0) {
		stage_path(f, b, path, sizeof(path));
		progress_clear(f->prog);
		log_error("fetch: cannot read back %s: %s", path,
		    strerror(err));
		f->rc = EXIT_LOCAL;
		return -1;
	}
	b->hashq = b->contig;
	return 0;
}

int
fblob_advance(struct fetch *f, struct fblob *b)
{
	uint64_t size = b->e->size, before = b->contig;

	while (b->contig < size) {
		uint32_t r = (uint32_t)(b->contig / f->chunk);
		uint64_t off, len, end;
		struct fslot *s;

		fetch_range_get(size, f->chunk, r, &off, &len);
		if (b->rs[r] == FR_DONE)
			end = off + len;
		else if (b->rs[r] == FR_ACTIVE &&
		    (s = slot_of(f, b, r)) != NULL)
			end = s->off + s->got;
		else
			break;
		if (end <= b->contig)
			break;
		b->contig = end;
	}
	if (b->contig == before)
		return 0;
	fblob_watch(f, b, 0);
	return fblob_hash_feed(f, b);
}

/* Compare what was computed with what storage / the MANIFEST says. */
static int
verify(struct fetch *f, struct fblob *b, char *why, size_t whysz)
{
	unsigned char md5[16], sha[32], want[16];
	char got_s[72], want_s[72];
	char path[PATH_MAX];
	int err = 0;

	if (b->algos == 0)
		return 0;
	stage_path(f, b, path, sizeof(path));
	if (b->h != NULL)
		err = fhash_result(b->h, md5, sha);
	else if (digest_file(path, b->algos, md5, sha) < 0)
		err = EIO;
	fhash_free(b->h);
	b->h = NULL;
	if (err != 0) {
		progress_clear(f->prog);
		log_error("fetch: cannot read back %s: %s", path,
		    strerror(err));
		f->rc = EXIT_LOCAL;
		return -1;
	}
	if ((b->algos & DIGEST_MD5) && (digest_unbase64(b->e->md5, want,
	    sizeof(want)) != 16 || memcmp(want, md5, 16) != 0)) {
		digest_base64(md5, 16, got_s, sizeof(got_s));
		snprintf(why, whysz, "its Content-MD5: storage says %s, the "
		    "downloaded data has %s", b->e->md5, got_s);
		return 1;
	}
	if ((b->algos & DIGEST_SHA256) && b->m != NULL &&
	    memcmp(b->m->sha256, sha, 32) != 0) {
		digest_hex(b->m->sha256, 32, want_s);
		digest_hex(sha, 32, got_s);
		snprintf(why, whysz, "the MANIFEST: MANIFEST says sha256 %s, "
		    "the downloaded data has sha256 %s", want_s, got_s);
		return 1;
	}
	return 0;
}

/* The digests of b are final: judge it. */
int
fblob_verified(struct fetch *f, struct fblob *b)
{
	struct timespec ts[2];
	char why[512];
	int bad;

	bad = verify(f, b, why, sizeof(why));
	if (bad < 0)
		return -1;
	if (bad) {
		progress_clear(f->prog);
		if (!b->redone) {
			log_warn("fetch: %s does not match %s; downloading it "
			    "again from scratch", b->e->name, why);
			b->redone = 1;
			fblob_restart(f, b, 0);
			return 0;
		}
		log_error("fetch: %s does not match %s (downloaded twice); "
		    "the blob in storage is damaged or does not belong to "
		    "this release — upload the release again", b->e->name,
		    why);
		fblob_restart(f, b, 0);
		f->rc = EXIT_INTEGRITY;
		return -1;
	}
	/* Last-Modified becomes the file's time: a rerun sees it in place */
	if (b->e->mtime > 0 && fblob_open(f, b) == 0) {
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1].tv_sec = (time_t)b->e->mtime;
		ts[1].tv_nsec = 0;
		futimens(b->fd, ts);
	}
	fblob_close(b);
	b->state = FB_DONE;
	f->files_done++;
	return 0;
}

int
fblob_finish(struct fetch *f, struct fblob *b)
{
	if (fblob_advance(f, b) < 0)
		return -1;
	if (b->contig != b->e->size) {
		log_error("fetch: internal error: %s is complete but only %"
		    PRIu64 " bytes are contiguous", b->e->name, b->contig);
		f->rc = EXIT_FAILURE_;
		return -1;
	}
	if (b->h != NULL && f->hasher != NULL && !b->hash_inline) {
		hasher_finish(f->hasher, b->h);
		b->state = FB_VERIFY;
		f->pend[f->npend++] = (size_t)(b - f->b);
		return 0;
	}
	if (b->h != NULL)
		fhash_final(b->h);
	return fblob_verified(f, b);
}

void
fblob_restart(struct fetch *f, struct fblob *b, int probe)
{
	char line[128];
	int n;

	for (int i = 0; i < f->nslots; i++)
		if (f->slots[i].b == b)
			fslot_release(&f->slots[i]);
	if (b->jid != 0 && f->staged) {
		n = fetch_journal_fmt_reset(line, sizeof(line), b->jid);
		if (n > 0)
			stage_append(f, line, n);
	}
	b->jid = 0;
	memset(b->rs, FR_TODO, b->nranges);
	b->next = 0;
	b->ndone = 0;
	b->contig = 0;
	if (b->h != NULL) {
		if (f->hasher != NULL && !b->hash_inline &&
		    !fhash_done(b->h))
			hasher_drop(f->hasher, b->h);
		else
			fhash_free(b->h);
		b->h = NULL;
	}
	b->hashq = 0;
	fblob_close(b);
	b->fresh = 1;
	f->bytes_done -= b->counted;
	b->counted = 0;
	b->state = probe ? FB_PROBE : FB_TODO;
	if (b->pos < f->cursor)
		f->cursor = b->pos;
	fblob_watch(f, b, 1);
}
