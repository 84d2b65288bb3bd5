/*
 * unpack_tree.h — the parts of unpack that need no libarchive: entry path
 * and link checks, the index of what an archive holds, and the move of a
 * checked extraction into the release. Used by unpack.c only.
 */
#ifndef GREENLIGHT_UNPACK_TREE_H
#define GREENLIGHT_UNPACK_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "unpack.h"

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

#endif
