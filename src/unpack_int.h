/*
 * unpack_int.h — unpack's insides, shared by its three files and nobody
 * else: unpack.c (one extraction with libarchive), unpack_stream.c (the
 * worker thread and the growing file), unpack_tree.c (path and link checks,
 * the index of an archive, the move into the release; no libarchive).
 */
#ifndef GREENLIGHT_UNPACK_INT_H
#define GREENLIGHT_UNPACK_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "unpack.h"

#define UNPACK_ATTEMPT_RESTART (-1) /* the download started over */

struct tree_map {
	char **keys;
	char **vals; /* NULL for a set */
	size_t cap, n;
};

/* What the extracted archive holds, for links to refer to. */
struct tree_index {
	struct tree_map files; /* regular files, archive-relative */
	struct tree_map links; /* symlinks: root-relative path -> target */
	struct tree_map seen;  /* every path and parent -> "d" or "f" */
};

/*
 * Normalise an entry path into out: "./" and "//" dropped, no trailing '/',
 * "" for the archive's root. Refused (-1, reason in why): no name, control
 * characters, absolute, "..", longer than max bytes.
 */
int tree_path_norm(const char *in, uint64_t max, char *out, size_t outsz,
    char *why, size_t whysz);
/*
 * Symlink at path (normalised, archive-relative; the archive goes to dest
 * in the release) pointing at target: refused (-1, why) when the target is
 * empty, too long, absolute, or leaves the release by its own ".."s.
 * Chains through other links are checked by tree_commit.
 */
int tree_link_check(const char *dest, const char *path, const char *target,
    uint64_t max, char *why, size_t whysz);

/*
 * Claim path (archive-relative) for an entry, directory or not, with its
 * parents as directories. 0, 1 when it clashes with an earlier entry (the
 * same path, unless both are directories, or a parent that is no
 * directory), -1 out of memory.
 */
int tree_index_claim(struct tree_index *idx, const char *path, int is_dir);
/* Remember a regular file / a symlink. 0, -1 out of memory. */
int tree_index_add_file(struct tree_index *idx, const char *path);
int tree_index_add_link(struct tree_index *idx, const char *dest,
    const char *path, const char *target);
/* 1 when path is a regular file recorded earlier. */
int tree_index_is_file(const struct tree_index *idx, const char *path);
void tree_index_free(struct tree_index *idx);

/* Create root/.unpack-XXXXXX, path into out. 0/-1 (errno). */
int tree_tmp_make(const char *root, char *out, size_t outsz);
/*
 * Move the extraction in tmp into root/dest: first every symlink is
 * resolved through the others (in the archive, and already in the
 * release) and must stay inside root; then no entry may exist in
 * root/dest already (directories on both sides merge); then everything is
 * renamed into place and tmp removed. UNPACK_OK, or the failure with why
 * ("entry \"E\": ... (refused)"); nothing is moved unless all checks pass.
 */
enum unpack_status tree_commit(const char *root, const char *tmp,
    const char *dest, const struct tree_index *idx, char *why,
    size_t whysz);

struct unpack_stream {
	char *path, *name, *root, *dest; /* path and root absolute */
	struct unpack_limits lim;
	uint64_t size;
	pthread_t thread;

	pthread_mutex_t mu; /* guards the fields up to 'worker-owned' */
	pthread_cond_t cv;
	uint64_t avail;	    /* contiguous bytes on disk */
	unsigned gen;	    /* bumped by restart */
	int failed;	    /* the download failed or was given up */
	int finishing;	    /* finish() waits: stop waiting for bytes */
	int attempt_failed; /* the current bytes failed to extract */

	/* worker-owned; finish() reads them after the join */
	enum unpack_status status;
	char msg[1024];		 /* the failure, logged once by finish */
	char tmp[4096];		 /* root/.unpack-XXXXXX, "" when none */
	struct tree_index index; /* of the attempt that succeeded */
	uint64_t entries, bytes;
	int restarts;
	int64_t ms;
};

/*
 * (unpack_stream.c) Block until want bytes from the start of s's file are
 * on disk. 0, UNPACK_ATTEMPT_RESTART when the download restarted since
 * generation gen, or UNPACK_ABORTED (why written).
 */
int unpack_stream_wait(struct unpack_stream *s, unsigned gen, uint64_t want,
    char *why, size_t whysz);
/*
 * (unpack.c) Extract s's file from byte 0 into a fresh s->tmp, with the
 * calling thread's cwd changed into it. UNPACK_OK (s->index, entries and
 * bytes filled), UNPACK_ATTEMPT_RESTART, or a failure (s->msg written).
 */
int unpack_attempt_run(struct unpack_stream *s, unsigned gen);

#endif
