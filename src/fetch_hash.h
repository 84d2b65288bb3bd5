/*
 * fetch_hash.h — a blob's digests, computed on the caller's thread or on a
 * helper thread while the engine goes on downloading (fetch internals).
 */
#ifndef GREENLIGHT_FETCH_HASH_H
#define GREENLIGHT_FETCH_HASH_H

#include <stddef.h>
#include <stdint.h>

struct fhash;
struct fetch_hasher;

/*
 * Digests (DIGEST_* algos) of the open staged file fd, from byte 0; fd -1:
 * fed only from memory (fhash_update_mem), fhash_update fails.
 */
struct fhash *fhash_new(int fd, unsigned algos);
/* Free; only when no queued work refers to it. NULL is fine. */
void fhash_free(struct fhash *h);
/* On this thread: read the file up to byte to; 0, or an errno (EIO: short). */
int fhash_update(struct fhash *h, uint64_t to, unsigned char *buf,
    size_t bufsz);
/* On this thread: the next n bytes from memory. */
void fhash_update_mem(struct fhash *h, const void *p, size_t n);
/* Bytes fed so far (this thread's view). */
uint64_t fhash_hashed(const struct fhash *h);
/* On this thread: finish (fhash_done becomes 1). */
void fhash_final(struct fhash *h);
/* 1 once finished (by fhash_final or the helper's FINISH). */
int fhash_done(struct fhash *h);
/* After fhash_done: the digests, or an errno when reading failed. */
int fhash_result(const struct fhash *h, unsigned char *md5,
    unsigned char *sha256);

/* The helper thread; NULL when it cannot start (hash synchronously). */
struct fetch_hasher *hasher_start(void);
/* Queue: hash up to byte to / finish / free h. Jobs of one h run in order. */
void hasher_hash(struct fetch_hasher *hs, struct fhash *h, uint64_t to);
void hasher_finish(struct fetch_hasher *hs, struct fhash *h);
void hasher_drop(struct fetch_hasher *hs, struct fhash *h);
/* Run what is queued, then stop the thread and free it. NULL is fine. */
void hasher_stop(struct fetch_hasher *hs);

#endif
