/*
 * release_seal.c — the seal of a release: walk its tree (fsync every file and
 * directory, count files and bytes, hash the sorted listing), write
 * RELEASE_SEAL last, make the tree read-only; check it cheaply or deeply.
 *
 * The listing digest covers each entry's type, path, size, executable bit
 * and symlink target — not contents (MANIFEST/digest checks did that before
 * install) and not write bits (read-only is applied after sealing).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "digest.h"
#include "fsutil.h"
#include "log.h"
#include "release.h"
#include "release_seal.h"

#define SEAL_FORMAT 1
#define SEAL_MAX (64 * 1024)
#define WALK_MAX_ENTRIES 2000000 /* bounded walk of a release tree */
#define WALK_MAX_DEPTH 64

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
	int synced;	/* ... except those on dev: a syncfs covered them */
	dev_t dev;
	const char *top;
};

/* Must this file or directory be fsync'd on its own? */
static int
walk_needs_fsync(const struct walk *w, dev_t dev)
{
	return w->sync && !(w->synced && dev == w->dev);
}

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
walk_dir(struct walk *w, int dfd, dev_t dev, const char *rel, int depth)
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
			if (walk_needs_fsync(w, st.st_dev)) {
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
			rc = walk_dir(w, sfd, st.st_dev, sub, depth + 1);
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
	if (rc == 0 && walk_needs_fsync(w, dev) && fsync(dirfd(d)) < 0 &&
	    errno != EINVAL) {
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
	struct stat st;
	int fd, rc = -1;

	*files = *bytes = 0;
	fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_error("%s: cannot open: %s", top, strerror(errno));
		return -1;
	}
	/*
	 * One syncfs writes back, and waits for, all dirty data and metadata
	 * of the file system that holds top, and (Linux >= 5.8) reports a
	 * write-back error of any of it: for every file and directory on
	 * that file system it guarantees what an fsync of each would, in one
	 * pass instead of one flush per file (14 000 files: seconds on a
	 * disk). Only entries on another file system, a mount inside the
	 * tree, are fsync'd one by one during the walk; and if syncfs fails,
	 * all of them are.
	 */
	if (fstat(fd, &st) < 0) {
		log_error("%s: cannot stat: %s", top, strerror(errno));
		close(fd);
		return -1;
	}
	w.dev = st.st_dev;
	if (sync) {
		if (syncfs(fd) == 0)
			w.synced = 1;
		else
			log_debug("%s: syncfs: %s; syncing file by file", top,
			    strerror(errno));
	}
	if (walk_dir(&w, fd, st.st_dev, "", 0) < 0)
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

int
release_tree_writable(const char *top)
{
	struct stat st;
	int fd;

	if (lstat(top, &st) < 0 || !S_ISDIR(st.st_mode))
		return -1;
	if (chmod(top, (st.st_mode | S_IRWXU) & 07777) < 0)
		return -1;
	fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return tree_chmod(fd, 1, 0);
}

/* --- the seal ----------------------------------------------------------- */


int
release_seal_read(const char *dir, struct release_seal_info *s, char *why,
    size_t whysz)
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
	struct release_seal_info s;
	struct stat st;
	uint64_t files, bytes;

	if (!release_name_valid(name) ||
	    fs_path_join(dir, sizeof(dir), p->releases, name) < 0)
		return 0;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_debug("release %s: %s is not a directory", name, dir);
		return 0;
	}
	if (release_seal_read(dir, &s, why, sizeof(why)) < 0) {
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
