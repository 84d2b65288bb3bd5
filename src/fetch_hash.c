/*
 * fetch_hash.c — blob digests (MD5, SHA-256) on a helper thread, so the
 * engine thread keeps serving sockets while a 256 MiB blob is hashed. The
 * engine queues "hash up to byte N of this staged file" in order per blob;
 * the helper reads those bytes back (from the page cache) into the blob's
 * digest. Without the thread (planning, reused data) the same object
 * hashes synchronously on the caller's thread.
 *
 * Ownership: an fhash with queued work belongs to the helper until its
 * "finished" flag is set (after FINISH) or it is dropped (DROP frees it);
 * the engine touches it only through the queue meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "fetch_hash.h"

#define QUEUE_CAP 1024
#define READ_BUF (256 * 1024)

struct fhash {
	unsigned algos;
	struct digest *dg;
	int fd;
	uint64_t hashed;	  /* bytes fed to dg */
	int err;		  /* errno of a failed read, or -1 if short */
	atomic_int finished;	  /* md5/sha256/err below are final */
	unsigned char md5[16];
	unsigned char sha256[32];
};

enum hjob_kind {
	HJ_HASH,
	HJ_FINISH,
	HJ_DROP,
	HJ_STOP
};

struct hjob {
	enum hjob_kind kind;
	struct fhash *h;
	uint64_t to;
};

struct fetch_hasher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work, space;
	struct hjob q[QUEUE_CAP];
	size_t head, n;
	int stopping;
	unsigned char *buf;
};

struct fhash *
fhash_new(int fd, unsigned algos)
{
	struct fhash *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->algos = algos;
	/* its own descriptor: the engine may close the file meanwhile */
	h->fd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
	h->dg = digest_new(algos);
	if ((fd >= 0 && h->fd < 0) || h->dg == NULL)
		goto fail;
	atomic_init(&h->finished, 0);
	return h;
fail:
	if (h->fd >= 0)
		close(h->fd);
	digest_free(h->dg);
	free(h);
	return NULL;
}

void
fhash_free(struct fhash *h)
{
	if (h == NULL)
		return;
	if (h->fd >= 0)
		close(h->fd);
	digest_free(h->dg);
	free(h);
}

/* Feed [hashed, to) of the file into the digest. */
static void
feed(struct fhash *h, uint64_t to, unsigned char *buf, size_t bufsz)
{
	if (h->err != 0)
		return;
	if (h->fd < 0 && h->hashed < to) {
		h->err = EBADF;
		return;
	}
	while (h->hashed < to) {
		size_t want = to - h->hashed > bufsz ? bufsz :
		    (size_t)(to - h->hashed);
		ssize_t n = pread(h->fd, buf, want, (off_t)h->hashed);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			h->err = n < 0 ? errno : -1;
			return;
		}
		digest_update(h->dg, buf, (size_t)n);
		h->hashed += (uint64_t)n;
	}
}

static void
finish(struct fhash *h)
{
	digest_final(h->dg, h->md5, h->sha256);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	atomic_store_explicit(&h->finished, 1, memory_order_release);
}

int
fhash_update(struct fhash *h, uint64_t to, unsigned char *buf, size_t bufsz)
{
	feed(h, to, buf, bufsz);
	return h->err == 0 ? 0 : h->err > 0 ? h->err : EIO;
}

void
fhash_update_mem(struct fhash *h, const void *p, size_t n)
{
	digest_update(h->dg, p, n);
	h->hashed += n;
}

uint64_t
fhash_hashed(const struct fhash *h)
{
	return h->hashed;
}

void
fhash_final(struct fhash *h)
{
	finish(h);
}

int
fhash_done(struct fhash *h)
{
	return atomic_load_explicit(&h->finished, memory_order_acquire);
}

int
fhash_result(const struct fhash *h, unsigned char *md5, unsigned char *sha256)
{
	if (h->err != 0)
		return h->err > 0 ? h->err : EIO;
	memcpy(md5, h->md5, sizeof(h->md5));
	memcpy(sha256, h->sha256, sizeof(h->sha256));
	return 0;
}

/* ---- the helper thread ---- */

static void *
hasher_main(void *arg)
{
	struct fetch_hasher *hs = arg;

	for (;;) {
		struct hjob j;

		pthread_mutex_lock(&hs->mu);
		while (hs->n == 0)
			pthread_cond_wait(&hs->work, &hs->mu);
		j = hs->q[hs->head];
		hs->head = (hs->head + 1) % QUEUE_CAP;
		hs->n--;
		pthread_cond_signal(&hs->space);
		pthread_mutex_unlock(&hs->mu);
		switch (j.kind) {
		case HJ_HASH:
			feed(j.h, j.to, hs->buf, READ_BUF);
			break;
		case HJ_FINISH:
			finish(j.h);
			break;
		case HJ_DROP:
			fhash_free(j.h);
			break;
		case HJ_STOP:
			return NULL;
		}
	}
}

struct fetch_hasher *
hasher_start(void)
{
	struct fetch_hasher *hs = calloc(1, sizeof(*hs));

	if (hs == NULL)
		return NULL;
	hs->buf = malloc(READ_BUF);
	if (hs->buf == NULL)
		goto fail;
	if (pthread_mutex_init(&hs->mu, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&hs->work, NULL) != 0 ||
	    pthread_cond_init(&hs->space, NULL) != 0 ||
	    pthread_create(&hs->thread, NULL, hasher_main, hs) != 0) {
		pthread_mutex_destroy(&hs->mu);
		goto fail;
	}
	return hs;
fail:
	free(hs->buf);
	free(hs);
	return NULL;
}

static void
push(struct fetch_hasher *hs, enum hjob_kind kind, struct fhash *h,
    uint64_t to)
{
	pthread_mutex_lock(&hs->mu);
	/* a hash job right behind one for the same blob: extend that one */
	if (kind == HJ_HASH && hs->n > 0) {
		struct hjob *last = &hs->q[(hs->head + hs->n - 1) % QUEUE_CAP];

		if (last->kind == HJ_HASH && last->h == h && last->to < to) {
			last->to = to;
			pthread_mutex_unlock(&hs->mu);
			return;
		}
	}
	while (hs->n == QUEUE_CAP)
		pthread_cond_wait(&hs->space, &hs->mu);
	hs->q[(hs->head + hs->n) % QUEUE_CAP] = (struct hjob){ kind, h, to };
	hs->n++;
	pthread_cond_signal(&hs->work);
	pthread_mutex_unlock(&hs->mu);
}

void
hasher_hash(struct fetch_hasher *hs, struct fhash *h, uint64_t to)
{
	push(hs, HJ_HASH, h, to);
}

void
hasher_finish(struct fetch_hasher *hs, struct fhash *h)
{
	push(hs, HJ_FINISH, h, 0);
}

void
hasher_drop(struct fetch_hasher *hs, struct fhash *h)
{
	push(hs, HJ_DROP, h, 0);
}

void
hasher_stop(struct fetch_hasher *hs)
{
	if (hs == NULL)
		return;
	/* what is queued still runs: drops free, finishes complete */
	push(hs, HJ_STOP, NULL, 0);
	pthread_join(hs->thread, NULL);
	pthread_cond_destroy(&hs->work);
	pthread_cond_destroy(&hs->space);
	pthread_mutex_destroy(&hs->mu);
	free(hs->buf);
	free(hs);
}
