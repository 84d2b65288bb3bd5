/*
 * fetch.h — the release download engine (the azcopy replacement): list
 * <container>/<release>/, download every blob in parallel over reused
 * connections (large blobs as If-Match-pinned ranges), resumable through a
 * staging area, verified (size, Content-MD5, MANIFEST), and published into
 * the destination only complete and verified.
 */
#ifndef GREENLIGHT_FETCH_H
#define GREENLIGHT_FETCH_H

#include <stdint.h>

#include "config.h"

struct fetch_stats {
	int64_t files;		  /* files in the release */
	int64_t bytes;		  /* bytes in the release */
	int64_t files_reused;	  /* complete in staging already (resume) */
	int64_t bytes_downloaded; /* body bytes received this run */
	int64_t requests;	  /* storage requests made */
	int64_t retries;	  /* requests retried */
	int64_t ms;		  /* wall time */
};

/*
 * Streaming consumers (deploy's unpack pipeline) watch a blob while it
 * downloads: called on the engine's thread whenever the contiguous
 * downloaded prefix of blob rel grows (contiguous bytes of size are in
 * staging_path), with restarted = 1 when the blob starts over from byte 0
 * (ETag changed, digest mismatch) and everything read so far is void.
 * Return 0, or -1 to abort the fetch.
 */
typedef int (*fetch_progress_fn)(void *arg, const char *rel,
    const char *staging_path, uint64_t contiguous, uint64_t size,
    int restarted);

struct fetch_opts {
	const char *dest;	/* destination directory */
	const char *staging;	/* resumable staging dir; NULL = <dest>.partial */
	int progress;		/* -1 auto (bar on a TTY), 0 log lines, 1 bar */
	fetch_progress_fn watch; /* optional, see above */
	void *watch_arg;
	/* called for each blob: non-zero to stream it to watch; NULL = none */
	int (*want_watch)(void *arg, const char *rel, uint64_t size);
};

/*
 * Download cfg->release into opts->dest. Returns an enum exit_code
 * (EXIT_OK, or the failure's class; the reason is logged with what to
 * do). stats may be NULL.
 */
int fetch_release(const struct config *cfg, const struct fetch_opts *opts,
    struct fetch_stats *stats);

#endif
