/*
 * release.c — the on-disk layout: install, switch, roll back, prune, and
 * the deploy lock (the seal is in release_seal.c). Every change is one
 * rename(2) followed by an fsync of the directory that holds it.
 *
 * Crash analysis (kill -9 or power loss at any instant):
 * - install: the tree is fsynced and sealed in staging before it is renamed
 *   to releases/<R>; a crash before the rename leaves releases/<R> absent,
 *   after it leaves it complete. Nothing serves from it until `current`
 *   moves. A rerun finds it installed and intact and reuses it.
 * - switch: `previous` moves first, then `current`. A crash in between
 *   leaves current -> old (intact, still serving) and previous -> old as
 *   well: no release is ever half switched, and the rerun's switch does
 *   both renames again. The other order would leave previous pointing at
 *   the release before the old one, losing the rollback target.
 * - switch back: `current` moves first (off the failed release as soon as
 *   possible), then `previous`; a crash in between leaves current -> the
 *   good release and previous unchanged.
 * - prune: a victim is first renamed to releases/.trash-<R>-<pid> (fsync),
 *   then deleted; a crash mid-delete leaves only a .trash-* directory that
 *   the next prune removes, never a half-deleted releases/<R>.
 *
 * Immutability: release_seal(.., readonly = 1) removes every write bit
 * (files, directories, the seal) — the top directory only after the rename,
 * which needs it writable; prune gives directories u+w back before it
 * deletes. Root ignores the bits, so this guards against accidents by
 * unprivileged users and the workload, not against root.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "parse.h"
#include "release.h"
#include "release_seal.h"

#define LOCK_POLL_MS 100

/*
 * Test hook: GREENLIGHT_CRASH_AT=<point> kills the process with SIGKILL at
 * that point, so tests can prove the crash analysis above. Points:
 * release-install (after the rename, before the fsync), release-switch
 * (between the two renames), release-prune (after the rename to .trash).
 */
static void
crash_point(const char *point)
{
	const char *want = getenv("GREENLIGHT_CRASH_AT");

	if (want != NULL && strcmp(want, point) == 0) {
		log_warn("GREENLIGHT_CRASH_AT=%s: killing this process (test)",
		    point);
		raise(SIGKILL);
	}
}

int
release_paths_init(struct release_paths *p, const char *root)
{
	size_t len = strlen(root);

	memset(p, 0, sizeof(*p));
	while (len > 1 && root[len - 1] == '/')
		len--;
	if (len == 0 || len >= sizeof(p->root)) {
		log_error("[install] root \"%s\": empty or too long", root);
		return -1;
	}
	memcpy(p->root, root, len);
	p->root[len] = '\0';
	if (fs_path_join(p->releases, sizeof(p->releases), p->root,
	    "releases") < 0 ||
	    fs_path_join(p->staging, sizeof(p->staging), p->root,
	    "staging") < 0 ||
	    fs_path_join(p->current, sizeof(p->current), p->root,
	    "current") < 0 ||
	    fs_path_join(p->previous, sizeof(p->previous), p->root,
	    "previous") < 0) {
		log_error("%s: [install] root path too long", root);
		return -1;
	}
	return 0;
}

int
release_layout_make(const struct release_paths *p)
{
	if (fs_mkdir_p(p->releases, 0755) < 0 ||
	    fs_mkdir_p(p->staging, 0755) < 0)
		return -1;
	return 0;
}

int
release_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > RELEASE_NAME_MAX || name[0] == '.' ||
	    name[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-' || c == '+'))
			return 0;
	}
	return 1;
}

int
release_dir(const struct release_paths *p, const char *name, char *out,
    size_t outsz)
{
	if (!release_name_valid(name)) {
		log_error("release \"%s\": not a valid release name (1-%d of "
		    "A-Z a-z 0-9 . _ - +, not starting with . or -)", name,
		    RELEASE_NAME_MAX);
		return -1;
	}
	if (fs_path_join(out, outsz, p->releases, name) < 0) {
		log_error("release %s: path too long", name);
		return -1;
	}
	return 0;
}

/* --- the lock ----------------------------------------------------------- */

/* Who holds the lock, from its file: "pid N, started T" (sanitized). */
static void
lock_holder(int fd, char *out, size_t outsz)
{
	char buf[128];
	ssize_t r;
	size_t j = 0;

	r = pread(fd, buf, sizeof(buf) - 1, 0);
	if (r <= 0) {
		snprintf(out, outsz, "pid unknown");
		return;
	}
	for (ssize_t i = 0; i < r && j + 1 < outsz; i++) {
		if (buf[i] == '\n')
			break;
		out[j++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	}
	out[j] = '\0';
}

static void
format_utc(int64_t wall_ms, char *out, size_t outsz)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outsz, "?");
}

int
release_lock(struct release_lock *lk, const char *path, int64_t wait_ms)
{
	char dir[PATH_MAX], holder[128], waitstr[32], rec[128], when[32];
	char *slash;
	int64_t deadline;
	int fd, n, said = 0;

	lk->fd = -1;
	if (snprintf(lk->path, sizeof(lk->path), "%s", path) >=
	    (int)sizeof(lk->path) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		log_error("%s: lock path too long", path);
		return EXIT_LOCAL;
	}
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (fs_mkdir_p(dir, 0755) < 0)
			return EXIT_LOCAL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		log_error("%s: cannot open the deploy lock: %s%s", path,
		    strerror(errno), errno == EACCES ?
		    " (run as root, or set [install] lock_file to a "
		    "writable path)" : "");
		return EXIT_LOCAL;
	}
	parse_format_duration(wait_ms, waitstr, sizeof(waitstr));
	deadline = clock_mono_ms() + wait_ms;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			log_error("%s: flock: %s", path, strerror(errno));
			close(fd);
			return EXIT_LOCAL;
		}
		lock_holder(fd, holder, sizeof(holder));
		if (wait_ms <= 0) {
			log_error("another greenlight deploy (%s) holds %s; "
			    "not waiting ([install] lock_wait = 0); rerun "
			    "when it has finished", holder, path);
			close(fd);
			return EXIT_TEMPORARY;
		}
		if (!said) {
			log_warn("another greenlight deploy (%s) holds %s; "
			    "waiting up to %s", holder, path, waitstr);
			said = 1;
		}
		if (clock_mono_ms() >= deadline) {
			log_error("%s: gave up waiting after %s for another "
			    "greenlight deploy (%s); rerun when it has "
			    "finished, or raise [install] lock_wait", path,
			    waitstr, holder);
			close(fd);
			return EXIT_TEMPORARY;
		}
		clock_sleep_ms(LOCK_POLL_MS, NULL);
	}
	if (said)
		log_info("%s: the other deploy finished; going on", path);
	format_utc(clock_wall_ms(), when, sizeof(when));
	n = snprintf(rec, sizeof(rec), "pid %ld, started %s\n",
	    (long)getpid(), when);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, rec, (size_t)n, 0) != n)
		log_warn("%s: cannot record the lock holder: %s", path,
		    strerror(errno));
	lk->fd = fd;
	return EXIT_OK;
}

void
release_unlock(struct release_lock *lk)
{
	if (lk->fd < 0)
		return;
	if (ftruncate(lk->fd, 0) < 0)
		log_debug("%s: truncate: %s", lk->path, strerror(errno));
	close(lk->fd); /* drops the flock */
	lk->fd = -1;
}

/* --- links -------------------------------------------------------------- */

int
release_link_read(const struct release_paths *p, const char *link,
    char *out, size_t outsz)
{
	char target[PATH_MAX];
	const char *name;
	ssize_t n;

	out[0] = '\0';
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno == ENOENT)
			return 1;
		if (errno == EINVAL) {
			log_error("%s: exists but is not a symlink; greenlight "
			    "manages it: move it away", link);
			return -1;
		}
		log_error("%s: readlink: %s", link, strerror(errno));
		return -1;
	}
	target[n] = '\0';
	if (strncmp(target, "releases/", 9) == 0)
		name = target + 9;
	else if (strncmp(target, p->releases, strlen(p->releases)) == 0 &&
	    target[strlen(p->releases)] == '/')
		name = target + strlen(p->releases) + 1;
	else
		name = NULL;
	if (name == NULL || !release_name_valid(name)) {
		log_warn("%s -> %s: does not point at a release; ignored",
		    link, target);
		return 1;
	}
	if (snprintf(out, outsz, "%s", name) >= (int)outsz) {
		out[0] = '\0';
		return 1;
	}
	return 0;
}

/* Point link at releases/<name>; fsync its directory. */
static int
link_set(const char *link, const char *name)
{
	char target[RELEASE_NAME_MAX + 16];

	if (snprintf(target, sizeof(target), "releases/%s", name) >=
	    (int)sizeof(target))
		return -1;
	return fs_symlink_atomic(target, link);
}

static int
link_remove(const char *link)
{
	if (unlink(link) < 0 && errno != ENOENT) {
		log_error("%s: cannot remove: %s", link, strerror(errno));
		return -1;
	}
	return fs_fsync_dir_of(link);
}

/* --- install, switch ---------------------------------------------------- */

/* Rename dir to releases/.trash-<name>-<pid>, fsync, then delete it. */
static int
trash(const struct release_paths *p, const char *dir, const char *name)
{
	char t[PATH_MAX];
	int n;

	n = snprintf(t, sizeof(t), "%s/.trash-%s-%ld", p->releases, name,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(t))
		return -1;
	if (rename(dir, t) < 0) {
		log_error("%s: cannot move aside for removal: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (fs_fsync_dir(p->releases) < 0)
		return -1;
	crash_point("release-prune");
	release_tree_writable(t);
	return fs_rm_rf(t);
}

int
release_install(const struct release_paths *p, const char *dir,
    const char *name)
{
	char target[PATH_MAX], why[PATH_MAX + 64], cur[RELEASE_NAME_MAX + 1];
	char prev[RELEASE_NAME_MAX + 1];
	struct release_seal_info s;
	struct stat st;

	if (release_dir(p, name, target, sizeof(target)) < 0)
		return -1;
	if (lstat(target, &st) == 0) {
		if (release_intact(p, name, 0)) {
			log_info("release %s: already installed in %s", name,
			    target);
			return 1;
		}
		if (release_link_read(p, p->current, cur, sizeof(cur)) < 0 ||
		    release_link_read(p, p->previous, prev, sizeof(prev)) < 0)
			return -1;
		if (strcmp(cur, name) == 0 || strcmp(prev, name) == 0) {
			log_error("release %s: %s is in use (%s) but not "
			    "intact; deploy another release first, or "
			    "remove it by hand", name, target,
			    strcmp(cur, name) == 0 ? "current" : "previous");
			return -1;
		}
		log_warn("release %s: %s is incomplete (left by an "
		    "interrupted run?); replacing it", name, target);
		if (trash(p, target, name) < 0)
			return -1;
	} else if (errno != ENOENT) {
		log_error("%s: %s", target, strerror(errno));
		return -1;
	}
	if (release_seal_read(dir, &s, why, sizeof(why)) < 0 ||
	    strcmp(s.name, name) != 0) {
		log_error("release %s: %s is not sealed for this release%s%s",
		    name, dir, s.name[0] ? "" : ": ", s.name[0] ? "" : why);
		return -1;
	}
	if (fs_mkdir_p(p->releases, 0755) < 0)
		return -1;
	if (rename(dir, target) < 0) {
		log_error("release %s: cannot rename %s to %s: %s", name, dir,
		    target, strerror(errno));
		return -1;
	}
	crash_point("release-install");
	if (fs_fsync_dir(p->releases) < 0 || fs_fsync_dir_of(dir) < 0)
		return -1;
	if (s.readonly && (lstat(target, &st) < 0 ||
	    chmod(target, st.st_mode & 07555) < 0))
		log_warn("%s: cannot make read-only: %s", target,
		    strerror(errno));
	log_info("release %s: installed in %s (%llu files, %llu bytes)", name,
	    target, (unsigned long long)s.files, (unsigned long long)s.bytes);
	return 0;
}

int
release_switch(const struct release_paths *p, const char *name,
    char *old_previous)
{
	char cur[RELEASE_NAME_MAX + 1], prev[RELEASE_NAME_MAX + 1];

	if (old_previous != NULL)
		old_previous[0] = '\0';
	if (!release_intact(p, name, 0)) {
		log_error("release %s: not installed or not intact; cannot "
		    "switch to it", name);
		return -1;
	}
	if (release_link_read(p, p->current, cur, sizeof(cur)) < 0 ||
	    release_link_read(p, p->previous, prev, sizeof(prev)) < 0)
		return -1;
	if (old_previous != NULL)
		memcpy(old_previous, prev, sizeof(prev));
	if (strcmp(cur, name) == 0) {
		log_debug("release %s: already current", name);
		return 0;
	}
	/* previous first: see the crash analysis at the top */
	if (cur[0] != '\0' && link_set(p->previous, cur) < 0)
		return -1;
	crash_point("release-switch");
	if (link_set(p->current, name) < 0)
		return -1;
	if (cur[0] != '\0')
		log_info("release %s: now current (previous: %s)", name, cur);
	else
		log_info("release %s: now current", name);
	return 0;
}

int
release_switch_back(const struct release_paths *p, const char *name,
    const char *prev_name)
{
	if (!release_intact(p, name, 0)) {
		log_error("release %s: not installed or not intact; cannot "
		    "switch back to it", name);
		return -1;
	}
	/* current first: get off the failed release at once */
	if (link_set(p->current, name) < 0)
		return -1;
	crash_point("release-switch");
	if (prev_name != NULL && prev_name[0] != '\0') {
		if (!release_name_valid(prev_name) ||
		    link_set(p->previous, prev_name) < 0)
			return -1;
	} else if (link_remove(p->previous) < 0) {
		return -1;
	}
	log_info("release %s: current again", name);
	return 0;
}

/* --- listing and pruning ------------------------------------------------ */

static int
info_cmp(const void *a, const void *b)
{
	const struct release_info *x = a, *y = b;

	if (x->sealed_ms != y->sealed_ms)
		return x->sealed_ms < y->sealed_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

int
release_list(const struct release_paths *p, struct release_info **out,
    size_t *nout)
{
	char cur[RELEASE_NAME_MAX + 1], prev[RELEASE_NAME_MAX + 1];
	struct release_info *v = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *e;

	*out = NULL;
	*nout = 0;
	if (release_link_read(p, p->current, cur, sizeof(cur)) < 0 ||
	    release_link_read(p, p->previous, prev, sizeof(prev)) < 0)
		return -1;
	d = opendir(p->releases);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		log_error("%s: %s", p->releases, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char dir[PATH_MAX], why[PATH_MAX + 64];
		struct release_info *ri;
		struct release_seal_info s;
		struct stat st;

		if (e->d_name[0] == '.' || !release_name_valid(e->d_name))
			continue;
		if (fs_path_join(dir, sizeof(dir), p->releases, e->d_name) <
		    0 || lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct release_info *nv;

			nv = realloc(v, ncap * sizeof(*nv));
			if (nv == NULL) {
				log_error("%s: out of memory", p->releases);
				closedir(d);
				free(v);
				return -1;
			}
			v = nv;
			cap = ncap;
		}
		ri = &v[n++];
		memset(ri, 0, sizeof(*ri));
		if (snprintf(ri->name, sizeof(ri->name), "%s", e->d_name) >=
		    (int)sizeof(ri->name)) {
			n--;
			continue;
		}
		if (release_seal_read(dir, &s, why, sizeof(why)) == 0 &&
		    strcmp(s.name, ri->name) == 0) {
			ri->intact = 1;
			ri->sealed_ms = s.sealed_ms;
		}
		ri->is_current = strcmp(cur, ri->name) == 0;
		ri->is_previous = strcmp(prev, ri->name) == 0;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(v[0]), info_cmp);
	*out = v;
	*nout = n;
	return 0;
}

/* Finish removals a crash interrupted; remove stray link temp files. */
static void
prune_leftovers(const struct release_paths *p)
{
	static const char *const dirs[2] = { "releases", "root" };
	DIR *d;
	struct dirent *e;

	for (int k = 0; k < 2; k++) {
		const char *where = k == 0 ? p->releases : p->root;

		d = opendir(where);
		if (d == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			char path[PATH_MAX];

			if (k == 0 && strncmp(e->d_name, ".trash-", 7) != 0)
				continue;
			if (k == 1 && strncmp(e->d_name, "current.tmp-", 12) &&
			    strncmp(e->d_name, "previous.tmp-", 13))
				continue;
			if (fs_path_join(path, sizeof(path), where,
			    e->d_name) < 0)
				continue;
			log_info("%s: removing leftover %s", dirs[k], path);
			if (k == 0)
				release_tree_writable(path);
			fs_rm_rf(path);
		}
		closedir(d);
	}
}

int
release_prune(const struct release_paths *p, long keep)
{
	struct release_info *v = NULL;
	size_t n = 0, others = 0;
	int removed = 0, rc = 0;

	prune_leftovers(p);
	if (release_list(p, &v, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!v[i].is_current && !v[i].is_previous)
			others++;
	/* oldest first: remove until only keep of the others are left */
	for (size_t i = 0; i < n && others > (size_t)(keep < 0 ? 0 : keep);
	    i++) {
		char dir[PATH_MAX];

		if (v[i].is_current || v[i].is_previous)
			continue;
		others--;
		if (fs_path_join(dir, sizeof(dir), p->releases,
		    v[i].name) < 0 || trash(p, dir, v[i].name) < 0) {
			rc = -1;
			continue;
		}
		log_info("release %s: pruned", v[i].name);
		removed++;
	}
	free(v);
	return rc < 0 ? -1 : removed;
}
