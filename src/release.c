/*
 * release.c — the on-disk layout: install, seal, switch, roll back, prune,
 * and the deploy lock. Every change is one rename(2) followed by an fsync
 * of the directory that holds it.
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

#include <jansson.h>

#include "agent.h"
#include "clock.h"
#include "digest.h"
#include "fsutil.h"
#include "log.h"
#include "parse.h"
#include "release.h"

#define SEAL_FORMAT 1
#define SEAL_MAX (64 * 1024)
#define WALK_MAX_ENTRIES 2000000 /* bounded walk of a release tree */
#define WALK_MAX_DEPTH 64
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

/* --- walking a tree ----------------------------------------------------- */

struct walk_entry {
	char *path;	/* relative to the release */
	char type;	/* 'f', 'd', 'l' */
	int exec;	/* any x bit (files) */
	uint64_t size;	/* files */
	char *target;	/* symlinks */
};

struct walk {
	struct walk_entry *v;
	size_t n, cap;
	int sync;	/* fsync files and directories */
	const char *top;
};

static void
walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i].path);
		free(w->v[i].target);
	}
	free(w->v);
	memset(w, 0, sizeof(*w));
}

static int
walk_push(struct walk *w, const char *rel, char type)
{
	if (w->n == WALK_MAX_ENTRIES) {
		log_error("%s: more than %d entries", w->top,
		    WALK_MAX_ENTRIES);
		return -1;
	}
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 256;
		struct walk_entry *nv = realloc(w->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		w->v = nv;
		w->cap = ncap;
	}
	memset(&w->v[w->n], 0, sizeof(w->v[0]));
	w->v[w->n].type = type;
	w->v[w->n].path = strdup(rel);
	if (w->v[w->n].path == NULL)
		return -1;
	w->n++;
	return 0;
}

static int
walk_dir(struct walk *w, int dfd, const char *rel, int depth)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > WALK_MAX_DEPTH) {
		log_error("%s/%s: nested deeper than %d", w->top, rel,
		    WALK_MAX_DEPTH);
		close(dfd);
		return -1;
	}
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char sub[PATH_MAX];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 ||
		    (depth == 0 && strcmp(e->d_name, RELEASE_SEAL) == 0))
			continue;
		if (snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
		    e->d_name) >= (int)sizeof(sub) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			log_error("%s/%s: cannot stat: %s", w->top, sub,
			    strerror(errno ? errno : ENAMETOOLONG));
			rc = -1;
			break;
		}
		if (S_ISREG(st.st_mode)) {
			if (walk_push(w, sub, 'f') < 0) {
				rc = -1;
				break;
			}
			w->v[w->n - 1].size = (uint64_t)st.st_size;
			w->v[w->n - 1].exec = (st.st_mode & 0111) != 0;
			if (w->sync) {
				int fd = openat(dirfd(d), e->d_name,
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

				if (fd < 0 || fsync(fd) < 0) {
					log_error("%s/%s: fsync: %s", w->top,
					    sub, strerror(errno));
					rc = -1;
				}
				if (fd >= 0)
					close(fd);
			}
		} else if (S_ISDIR(st.st_mode)) {
			int sfd = openat(dirfd(d), e->d_name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sfd < 0 || walk_push(w, sub, 'd') < 0) {
				if (sfd >= 0)
					close(sfd);
				rc = -1;
				break;
			}
			rc = walk_dir(w, sfd, sub, depth + 1);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t n = readlinkat(dirfd(d), e->d_name, t,
			    sizeof(t) - 1);

			if (n < 0 || walk_push(w, sub, 'l') < 0) {
				rc = -1;
				break;
			}
			t[n] = '\0';
			w->v[w->n - 1].target = strdup(t);
			if (w->v[w->n - 1].target == NULL)
				rc = -1;
		} else {
			log_error("%s/%s: not a file, directory or symlink",
			    w->top, sub);
			rc = -1;
		}
	}
	if (rc == 0 && w->sync && fsync(dirfd(d)) < 0 && errno != EINVAL) {
		log_error("%s/%s: fsync: %s", w->top, rel, strerror(errno));
		rc = -1;
	}
	closedir(d);
	return rc;
}

static int
walk_cmp(const void *a, const void *b)
{
	return strcmp(((const struct walk_entry *)a)->path,
	    ((const struct walk_entry *)b)->path);
}

/* Walk top; fill count, size and the listing's SHA-256 (hex). */
static int
walk_tree(const char *top, int sync, uint64_t *files, uint64_t *bytes,
    char *hex)
{
	struct walk w = { .sync = sync, .top = top };
	struct digest *dg = NULL;
	unsigned char sum[32];
	int fd, rc = -1;

	*files = *bytes = 0;
	fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_error("%s: cannot open: %s", top, strerror(errno));
		return -1;
	}
	if (walk_dir(&w, fd, "", 0) < 0)
		goto out;
	qsort(w.v, w.n, sizeof(w.v[0]), walk_cmp);
	dg = digest_new(DIGEST_SHA256);
	if (dg == NULL)
		goto out;
	for (size_t i = 0; i < w.n; i++) {
		const struct walk_entry *e = &w.v[i];
		char line[64];
		int n;

		n = snprintf(line, sizeof(line), "%c %s %llu ", e->type,
		    e->exec ? "x" : "-", (unsigned long long)e->size);
		digest_update(dg, line, (size_t)n);
		digest_update(dg, e->path, strlen(e->path) + 1);
		if (e->target != NULL)
			digest_update(dg, e->target, strlen(e->target) + 1);
		if (e->type == 'f') {
			(*files)++;
			*bytes += e->size;
		}
	}
	digest_final(dg, NULL, sum);
	digest_hex(sum, sizeof(sum), hex);
	rc = 0;
out:
	if (rc < 0)
		log_error("%s: cannot read the release tree", top);
	digest_free(dg);
	walk_free(&w);
	return rc;
}

/* chmod every file and directory under dfd: clear (a-w) or set (u+w). */
static int
tree_chmod(int dfd, int writable, int depth)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > WALK_MAX_DEPTH) {
		close(dfd);
		return -1;
	}
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		mode_t m;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode))
			continue;
		m = writable ? (st.st_mode | S_IWUSR) : (st.st_mode & ~0222);
		if (S_ISDIR(st.st_mode)) {
			int sfd;

			/* open it writable first so we can descend */
			if (writable && fchmodat(dirfd(d), e->d_name,
			    (m | S_IRWXU) & 07777, 0) < 0)
				rc = -1;
			sfd = openat(dirfd(d), e->d_name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd < 0 || tree_chmod(sfd, writable,
			    depth + 1) < 0)
				rc = -1;
		}
		if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
		    !(writable && S_ISDIR(st.st_mode)) &&
		    fchmodat(dirfd(d), e->d_name, m & 07777, 0) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static int
path_chmod_tree(const char *top, int writable)
{
	struct stat st;
	int fd;

	if (lstat(top, &st) < 0 || !S_ISDIR(st.st_mode))
		return -1;
	if (writable && chmod(top, (st.st_mode | S_IRWXU) & 07777) < 0)
		return -1;
	fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return tree_chmod(fd, writable, 0);
}

/* --- the seal ----------------------------------------------------------- */

struct seal {
	char name[RELEASE_NAME_MAX + 1];
	uint64_t files, bytes;
	char listing[65];
	int64_t sealed_ms;
	int readonly;
};

/* Read dir's seal; 0, or -1 when missing or malformed (why in why). */
static int
seal_read(const char *dir, struct seal *s, char *why, size_t whysz)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *j = NULL;
	const char *name = NULL, *listing = NULL;
	json_int_t format = 0, files = -1, bytes = -1, sealed = 0;
	int ro = 0, rc = -1;
	char *text;
	size_t len;

	memset(s, 0, sizeof(*s));
	if (fs_path_join(path, sizeof(path), dir, RELEASE_SEAL) < 0) {
		snprintf(why, whysz, "path too long");
		return -1;
	}
	text = fs_read_file(path, SEAL_MAX, &len, 1);
	if (text == NULL) {
		snprintf(why, whysz, "%s: %s", path, errno == ENOENT ?
		    "missing" : "unreadable");
		return -1;
	}
	j = json_loadb(text, len, 0, &jerr);
	if (j == NULL || json_unpack_ex(j, &jerr, 0,
	    "{s:I, s:s, s:I, s:I, s:s, s?I, s?b}", "format", &format, "name",
	    &name, "files", &files, "bytes", &bytes, "listing_sha256",
	    &listing, "sealed_ms", &sealed, "readonly", &ro) < 0) {
		snprintf(why, whysz, "%s: malformed: %s", path, jerr.text);
		goto out;
	}
	if (format != SEAL_FORMAT || files < 0 || bytes < 0 ||
	    strlen(listing) != 64 ||
	    strlen(name) > RELEASE_NAME_MAX) {
		snprintf(why, whysz, "%s: unexpected contents", path);
		goto out;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	memcpy(s->listing, listing, 65);
	s->files = (uint64_t)files;
	s->bytes = (uint64_t)bytes;
	s->sealed_ms = sealed;
	s->readonly = ro;
	rc = 0;
out:
	json_decref(j);
	free(text);
	return rc;
}

int
release_seal(const char *dir, const char *name, int readonly)
{
	char path[PATH_MAX], hex[65];
	uint64_t files, bytes;
	json_t *j = NULL;
	char *text = NULL;
	int rc = -1;

	if (!release_name_valid(name)) {
		log_error("release \"%s\": not a valid release name", name);
		return -1;
	}
	if (walk_tree(dir, 1, &files, &bytes, hex) < 0)
		return -1;
	j = json_pack("{s:i, s:s, s:I, s:I, s:s, s:I, s:b}", "format",
	    SEAL_FORMAT, "name", name, "files", (json_int_t)files, "bytes",
	    (json_int_t)bytes, "listing_sha256", hex, "sealed_ms",
	    (json_int_t)clock_wall_ms(), "readonly", readonly);
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (text == NULL) {
		log_error("%s: out of memory", dir);
		goto out;
	}
	if (fs_path_join(path, sizeof(path), dir, RELEASE_SEAL) < 0 ||
	    fs_write_atomic(path, text, strlen(text),
	    readonly ? 0444 : 0644) < 0)
		goto out;
	if (readonly) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);

		/* the top directory stays writable until it is renamed */
		if (fd < 0 || tree_chmod(fd, 0, 0) < 0) {
			log_error("%s: cannot make the release read-only: %s",
			    dir, strerror(errno));
			goto out;
		}
	}
	log_debug("release %s: sealed %llu files, %llu bytes", name,
	    (unsigned long long)files, (unsigned long long)bytes);
	rc = 0;
out:
	free(text);
	json_decref(j);
	return rc;
}

int
release_intact(const struct release_paths *p, const char *name, int deep)
{
	char dir[PATH_MAX], why[PATH_MAX + 64], hex[65];
	struct seal s;
	struct stat st;
	uint64_t files, bytes;

	if (!release_name_valid(name) ||
	    fs_path_join(dir, sizeof(dir), p->releases, name) < 0)
		return 0;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_debug("release %s: %s is not a directory", name, dir);
		return 0;
	}
	if (seal_read(dir, &s, why, sizeof(why)) < 0) {
		if (deep)
			log_warn("release %s: not intact: %s", name, why);
		else
			log_debug("release %s: not intact: %s", name, why);
		return 0;
	}
	if (strcmp(s.name, name) != 0) {
		log_warn("release %s: its seal names release %s", name,
		    s.name);
		return 0;
	}
	if (!deep)
		return 1;
	if (walk_tree(dir, 0, &files, &bytes, hex) < 0)
		return 0;
	if (files != s.files || bytes != s.bytes ||
	    strcmp(hex, s.listing) != 0) {
		log_warn("release %s: changed since it was installed (%llu "
		    "files, %llu bytes now; sealed with %llu files, %llu "
		    "bytes)", name, (unsigned long long)files,
		    (unsigned long long)bytes, (unsigned long long)s.files,
		    (unsigned long long)s.bytes);
		return 0;
	}
	return 1;
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
	path_chmod_tree(t, 1);
	return fs_rm_rf(t);
}

int
release_install(const struct release_paths *p, const char *dir,
    const char *name)
{
	char target[PATH_MAX], why[PATH_MAX + 64], cur[RELEASE_NAME_MAX + 1];
	char prev[RELEASE_NAME_MAX + 1];
	struct seal s;
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
	if (seal_read(dir, &s, why, sizeof(why)) < 0 ||
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
	log_info("release %s: now current%s%s", name,
	    cur[0] ? " (previous: " : "", cur[0] ? cur : "");
	if (cur[0])
		log_info("release %s: previous", cur);
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
		struct seal s;
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
		if (seal_read(dir, &s, why, sizeof(why)) == 0 &&
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
				path_chmod_tree(path, 1);
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
		if (fs_path_join(dir, sizeof(dir), p->releases, v[i].name) < 0 ||
		    trash(p, dir, v[i].name) < 0) {
			rc = -1;
			continue;
		}
		log_info("release %s: pruned", v[i].name);
		removed++;
	}
	free(v);
	return rc < 0 ? -1 : removed;
}
