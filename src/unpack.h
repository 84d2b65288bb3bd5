/*
 * unpack.h — extract a release archive (tar, tar.gz, tar.xz, tar.zst, zip;
 * recognised by content, not by name) into a release tree, refusing hostile
 * archives as a whole. The only module that sees libarchive.
 *
 * Refused, naming the entry: absolute paths, ".." components, symlinks whose
 * target is absolute or resolves (through other links, in the archive or
 * already in the release) outside the release root, hardlinks to anything
 * but an earlier regular file of the same archive, device nodes, FIFOs,
 * sockets, duplicate entries, any libarchive warning; and archives over a
 * cap in unpack_limits. Owners, ACLs, xattrs and file flags are never taken
 * from the archive: files belong to the extracting user; directories become
 * 0755, files 0644, or 0755 when the archive gave them any x bit.
 *
 * Extraction goes into a fresh hidden directory inside root
 * (root/.unpack-XXXXXX); only a complete, checked archive is moved into
 * root/dest, so a refused archive leaves nothing behind. Entries are merged
 * into root/dest: an entry whose path already exists there (other than a
 * directory on both sides) is refused. Messages read
 * "NAME: entry \"ENTRY\": what (refused)".
 */
#ifndef GREENLIGHT_UNPACK_H
#define GREENLIGHT_UNPACK_H

#include <stdint.h>

/* Defaults; a release overrides them in release.ini [unpack]. */
#define UNPACK_MAX_ENTRIES 100000
#define UNPACK_MAX_SIZE (16ull << 30)	/* 16G unpacked, apparent size */
#define UNPACK_MAX_RATIO 100		/* unpacked / packed bytes ... */
#define UNPACK_RATIO_FLOOR (1ull << 20) /* ... checked past 1M unpacked */
#define UNPACK_MAX_PATH 1024		/* bytes in a path or link target */

struct unpack_limits {
	uint64_t max_entries;
	uint64_t max_size;
	uint64_t max_ratio;
	uint64_t max_path;
};

enum unpack_status {
	UNPACK_OK,
	UNPACK_REFUSED, /* hostile, malformed, truncated or over a cap */
	UNPACK_ABORTED, /* the download failed (unpack_stream_fail) */
	UNPACK_LOCAL,	/* this machine: disk full, permissions, I/O */
	UNPACK__MAX
};

/* "ok", "refused", "aborted", "local". */
const char *unpack_status_name(enum unpack_status st);
/* Fill lim with the defaults above. */
void unpack_limits_default(struct unpack_limits *lim);

/*
 * Extract the archive file at path into root/dest (root: an existing
 * directory; dest: a relative directory inside it, "" for root itself,
 * created when missing). name is used in messages (NULL: path). lim NULL =
 * defaults. Logged once on failure.
 */
enum unpack_status unpack_file(const char *path, const char *name,
    const char *root, const char *dest, const struct unpack_limits *lim);

/*
 * Streaming extraction of a file that is still being downloaded: a thread
 * extracts path while unpack_stream_advance() reports how many bytes from
 * its start are on disk, until size. Zip keeps its index at the end, so a
 * zip is extracted once all size bytes are there; tar.* streams. Arguments
 * as for unpack_file. NULL on a setup failure (logged).
 */
struct unpack_stream *unpack_stream_start(const char *path, uint64_t size,
    const char *name, const char *root, const char *dest,
    const struct unpack_limits *lim);
/*
 * The first contiguous bytes of the file are on disk (never decreases
 * without a restart). Thread-safe, never blocks. Returns 0, or -1 when the
 * extraction of the current bytes has failed already (the caller may stop
 * the download; a restart may still recover).
 */
int unpack_stream_advance(struct unpack_stream *s, uint64_t contiguous);
/*
 * The download starts over from byte 0 (possibly into a new file at path):
 * what was extracted is discarded and extraction restarts by itself once
 * bytes arrive again. The size stays the one given at start (a blob whose
 * size changed needs a new stream). Thread-safe; after 16 restarts the
 * stream gives up (UNPACK_ABORTED).
 */
void unpack_stream_restart(struct unpack_stream *s);
/* The download failed: the thread stops soon. Thread-safe. */
void unpack_stream_fail(struct unpack_stream *s);
/*
 * Wait for the thread, then with commit (the download is complete and
 * verified) move the result into root/dest; without commit, or when it
 * failed, discard it. Logs the failure once; frees s. Returns the outcome.
 */
enum unpack_status unpack_stream_finish(struct unpack_stream *s, int commit);

#endif
