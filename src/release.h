/*
 * release.h — the on-disk layout under [install] root and the moves that
 * change it, each atomic:
 *
 *   releases/<R>/     complete and immutable once renamed into place; holds
 *                     .greenlight-release.json (the seal, written last)
 *   current  -> releases/<R>    relative symlinks, moved by rename(2) of a
 *   previous -> releases/<P>    freshly made symlink
 *   staging/          downloads and unpacking in progress; never served
 *   releases/.trash-* a release being pruned (renamed first, then removed)
 *
 * plus the deploy lock ([install] lock_file, flock).
 */
#ifndef GREENLIGHT_RELEASE_H
#define GREENLIGHT_RELEASE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define RELEASE_NAME_MAX 128
#define RELEASE_SEAL ".greenlight-release.json"

struct release_paths {
	char root[PATH_MAX];
	char releases[PATH_MAX]; /* root/releases */
	char staging[PATH_MAX];	 /* root/staging */
	char current[PATH_MAX];	 /* root/current */
	char previous[PATH_MAX]; /* root/previous */
};

/* Fill p for root (no I/O). 0, or -1 when a path is too long (logged). */
int release_paths_init(struct release_paths *p, const char *root);
/* Create root, releases/ and staging/ (0755) when missing. 0/-1 (logged). */
int release_layout_make(const struct release_paths *p);
/* 1 if name can be a release directory: 1..128 of [A-Za-z0-9._+-], not
 * starting with '.' or '-'; else 0. */
int release_name_valid(const char *name);
/* releases/<name> into out. 0, or -1 (invalid name or too long; logged). */
int release_dir(const struct release_paths *p, const char *name, char *out,
    size_t outsz);

struct release_lock {
	int fd; /* -1 when not held */
	char path[PATH_MAX];
};

/*
 * Take the one-deploy-at-a-time lock at path (its directory is created).
 * While another process holds it, say who ("another greenlight deploy (pid
 * N, started T) holds PATH; waiting up to 2m") and retry until wait_ms has
 * passed. Returns EXIT_OK (held; our pid and start time recorded in the
 * file), EXIT_TEMPORARY (still busy; logged) or EXIT_LOCAL (cannot open).
 * The descriptor is close-on-exec: hooks and units never inherit it.
 */
int release_lock(struct release_lock *lk, const char *path, int64_t wait_ms);
/* Release the lock (the file stays); fine when not held. */
void release_unlock(struct release_lock *lk);

/*
 * Name of the release a link (p->current or p->previous) points at, into
 * out. Returns 0, 1 when the link is missing or does not point into
 * releases/ (out = ""), -1 on an I/O error (logged).
 */
int release_link_read(const struct release_paths *p, const char *link,
    char *out, size_t outsz);

/*
 * Seal dir (a prepared, not yet installed release tree) as release name:
 * fsync every file and directory in it, write RELEASE_SEAL (name, file
 * count, total size, SHA-256 of the listing), and, when readonly, remove
 * the write bits of everything in it. 0/-1 (logged).
 */
int release_seal(const char *dir, const char *name, int readonly);
/*
 * Install sealed dir as releases/<name>: rename(2) it into place, fsync
 * releases/. Returns 0, 1 when releases/<name> is already installed and
 * intact (dir left alone), -1 (logged; dir left alone). A present but not
 * intact releases/<name> that is neither current nor previous is pruned
 * first; if it is current or previous, -1.
 */
int release_install(const struct release_paths *p, const char *dir,
    const char *name);
/*
 * Cheap check (< 1 ms, no tree walk) that releases/<name> is a complete
 * installed release: a real directory whose seal parses and names it. With
 * deep, also walk the tree and compare count, size and listing digest.
 * Returns 1 intact, 0 not (why logged at debug, or at warn when deep).
 */
int release_intact(const struct release_paths *p, const char *name, int deep);

/*
 * Activate release name (installed and intact): previous := the old
 * current, then current := name, each the rename(2) of a new relative
 * symlink followed by an fsync of root. When name is already current,
 * nothing changes. old_previous (may be NULL, size RELEASE_NAME_MAX + 1)
 * gets what previous pointed at before ("" if nothing), so a failed
 * deploy can put it back with release_switch_back(). 0/-1 (logged).
 */
int release_switch(const struct release_paths *p, const char *name,
    char *old_previous);
/*
 * Roll back: current := name first, then previous := prev_name (NULL or
 * "" removes the previous link). 0/-1 (logged).
 */
int release_switch_back(const struct release_paths *p, const char *name,
    const char *prev_name);

struct release_info {
	char name[RELEASE_NAME_MAX + 1];
	int64_t sealed_ms; /* when sealed (wall clock), 0 if unknown */
	int intact;	   /* release_intact(.., 0) */
	int is_current;
	int is_previous;
};

/*
 * Installed releases (directories under releases/ not starting with '.'),
 * oldest first. *out is malloc'd (caller frees), *n its length. 0/-1.
 */
int release_list(const struct release_paths *p, struct release_info **out,
    size_t *n);
/*
 * Remove old releases, keeping current, previous and the keep newest of the
 * rest; also finishes removals a crash interrupted (releases/.trash-*).
 * Each victim is renamed to releases/.trash-<name>-<pid> (fsync) before it
 * is deleted, so a crash never leaves a half-deleted releases/<R>. Returns
 * the number removed, or -1 (logged; what was removed stays removed).
 */
int release_prune(const struct release_paths *p, long keep);

#endif
