/*
 * fetch_int.h — what the fetch engine's files share; not an interface.
 * fetch.c plans and publishes, fetch_engine.c moves bytes, fetch_blob.c
 * keeps one blob's file, prefix and digests, fetch_hash.c hashes on a
 * helper thread, fetch_stage.c owns the staging area (journal, lock).
 */
#ifndef GREENLIGHT_FETCH_INT_H
#define GREENLIGHT_FETCH_INT_H

#include <limits.h>
#include <stdint.h>

#include "blob.h"
#include "digest.h"
#include "fetch.h"
#include "fetch_hash.h"
#include "fetch_plan.h"
#include "progress.h"
#include "retry.h"

#define FETCH_RESTARTS_MAX 3	 /* ETag changes of one blob before giving up */
#define FETCH_ATTEMPTS_MAX 10	 /* tries of one request without progress */
#define FETCH_MANIFEST_MAX (64u << 20)
#define FETCH_READ_BUF (256 * 1024)
#define FETCH_JOURNAL_MAX (256u << 20)
#define FETCH_SLOT_BUF (256 * 1024) /* received bytes gathered per write */
#define FETCH_WRITEBACK_MIN (1u << 20) /* ranges written back early */
#define FETCH_JBUF (16 * 1024)	     /* journal lines gathered per write */
#define FETCH_ORDER_AHEAD (32u << 20) /* ranges in flight of a blob read
				       * in order end at most this far
				       * past its contiguous prefix */
#define FETCH_INLINE_HASH_MAX (256u << 10) /* hashed as it arrives */

enum fb_state {
	FB_TODO,    /* ranges left to fetch */
	FB_PROBE,   /* changed in storage: read its properties first */
	FB_PROBING, /* that request is in flight */
	FB_VERIFY,  /* all here; the helper thread finishes its digests */
	FB_DONE,    /* complete and verified in staging */
	FB_INPLACE, /* already in the destination, verified */
	FB__MAX
};

enum fr_state {
	FR_TODO,
	FR_ACTIVE,
	FR_DONE
};

struct fblob {
	struct blob_entry *e;	     /* listing entry (updated by a probe) */
	struct manifest_entry *m;    /* its MANIFEST line, or NULL */
	struct fetch_jblob *jb;	     /* journal record (until compaction) */
	enum fb_state state;
	int skip;		     /* not part of this engine run */
	uint32_t nranges;
	uint32_t next;		     /* ranges below were handed out */
	uint32_t ndone;
	unsigned char *rs;	     /* per range: enum fr_state */
	unsigned jid;		     /* journal id; 0: not journaled yet */
	int fd;			     /* staging data file, -1 when closed */
	int fresh;		     /* the file must be created empty */
	uint64_t contig;	     /* bytes from 0 known to be written */
	unsigned algos;		     /* DIGEST_* wanted */
	struct fhash *h;	     /* digests of [0, hashq) */
	uint64_t hashq;		     /* bytes handed to h */
	int hash_inline;	     /* h is fed from memory on this thread */
	int64_t counted;	     /* bytes of it in progress totals */
	int restarts;		     /* ETag changes seen */
	int redone;		     /* downloaded again after a mismatch */
	int reused;		     /* had data from an earlier run */
	int watched;
	size_t pos;		     /* its place in fetch.order */
};

struct fetch;

struct fslot {
	struct fetch *f;
	struct fblob *b;	     /* NULL: free */
	struct http_xfer *x;	     /* in flight, or NULL (waiting) */
	uint32_t r;		     /* the range */
	int probe;		     /* a HEAD for the blob's properties */
	int ranged;		     /* this attempt asked for a range */
	int overflow;		     /* more bytes came than asked for */
	uint64_t off, len;	     /* the range */
	uint64_t got;		     /* bytes of it written */
	uint64_t got_start;	     /* ... when this attempt started */
	unsigned char *buf;	     /* FETCH_SLOT_BUF, not yet written ... */
	size_t buffered;	     /* ... this much of it */
	struct fetch_sum sum;	     /* of those bytes */
	struct retry_state rs;
	int64_t due_ms;		     /* (re)start not before */
	unsigned gen;		     /* auth generation it was sent with */
};

struct fetch {
	const struct config *cfg;
	const struct fetch_opts *opts;
	char dest[PATH_MAX];
	char staging[PATH_MAX];
	char data[PATH_MAX];	     /* staging/data */
	char key[1024];		     /* journal key (endpoint, container, …) */
	uint64_t chunk;
	struct http_client *http;    /* storage transfers */
	struct http_client *http_id; /* IMDS */
	struct fetch_hasher *hasher; /* digests, while the engine runs */
	struct auth *auth;
	struct blob_service *bs;
	struct blob_list list;
	struct fblob *b;
	size_t nb;
	struct fblob *manifest_blob;
	struct manifest man;
	int have_man;
	struct fslot *slots;
	int nslots;
	size_t *order;		     /* blob indexes in the order served */
	size_t cursor;		     /* order below has nothing to hand out */
	size_t *pend;		     /* blobs in FB_VERIFY */
	size_t npend;
	struct fetch_journal journal;
	char jbuf[FETCH_JBUF];	     /* journal lines not yet written */
	size_t jlen;
	int staged;		     /* staging created, journal open */
	int jfd, lockfd;
	unsigned next_jid;
	char lastdir[PATH_MAX];	     /* last directory made in staging */
	unsigned char *rbuf;	     /* FETCH_READ_BUF for re-reading */
	int rc;			     /* EXIT_OK until something failed */
	struct progress *prog;
	struct fetch_stats st;
	int64_t bytes_done;	     /* reused + downloaded, for progress */
	int64_t files_done;
	int64_t start_ms, deadline_at;
};

/* fetch_engine.c */
int fetch_engine_run(struct fetch *f);
void fslot_release(struct fslot *s);

/* fetch_blob.c */
unsigned fblob_algos(const struct fblob *b);
int fblob_open(struct fetch *f, struct fblob *b);
void fblob_close(struct fblob *b);
int fblob_advance(struct fetch *f, struct fblob *b);
int fblob_finish(struct fetch *f, struct fblob *b);
int fblob_verified(struct fetch *f, struct fblob *b);
int fblob_hash_feed(struct fetch *f, struct fblob *b);
void fblob_watch(struct fetch *f, struct fblob *b, int restarted);
void fblob_restart(struct fetch *f, struct fblob *b, int probe);
void fetch_write_failed(struct fetch *f, const char *path, int err);

/* fetch_stage.c */
int stage_prepare(struct fetch *f);
int stage_create(struct fetch *f);
int stage_append(struct fetch *f, const char *line, int len);
int stage_flush(struct fetch *f);
int stage_path(struct fetch *f, const struct fblob *b, char *out,
    size_t outsz);
int stage_mkdirs(const char *root, const char *rel, char *cache,
    size_t cachesz);
int stage_publish(struct fetch *f);
void stage_close(struct fetch *f);
void stage_remove(struct fetch *f);

#endif
