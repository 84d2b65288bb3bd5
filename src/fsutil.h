/* fsutil.h — the one way greenlight changes files: atomic and durable. */
#ifndef GREENLIGHT_FSUTIL_H
#define GREENLIGHT_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replace path with data: temp file in the same directory, write, fsync,
 * rename over path, fsync the directory. On failure path is untouched and
 * the temp file removed. Returns 0 or -1 (logged).
 */
int fs_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode);
/* fsync the directory that contains path (after a rename into it). 0/-1. */
int fs_fsync_dir_of(const char *path);
/* fsync a directory by its path. 0/-1. */
int fs_fsync_dir(const char *dir);
/* mkdir -p with mode for created dirs. 0/-1 (logged). */
int fs_mkdir_p(const char *path, mode_t mode);
/* Remove a tree (no symlink following). 0/-1 (logged); missing is 0. */
int fs_rm_rf(const char *path);
/*
 * Read a whole file of at most max bytes into a NUL-terminated buffer the
 * caller frees; *len gets the size. NULL on error (logged unless ENOENT and
 * quiet_enoent).
 */
char *fs_read_file(const char *path, size_t max, size_t *len,
    int quiet_enoent);
/* Point link at target atomically: symlink link.tmp, rename over link. 0/-1. */
int fs_symlink_atomic(const char *target, const char *link);
/* Free bytes for unprivileged use on the filesystem holding path, or -1. */
long long fs_free_bytes(const char *path);
/* Join a and b with one '/', into out; -1 on truncation. */
int fs_path_join(char *out, size_t outsz, const char *a, const char *b);

#endif
