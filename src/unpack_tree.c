/*
 * unpack_tree.c — entry path and link checks, the index of an extracted
 * archive, and the move of a checked extraction into the release.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "path.h"
#include "unpack_int.h"

#define HOPS_MAX 40 /* symlinks followed in one resolution, as Linux */
#define TREE_PATH_MAX 4096

static int
has_cntrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
tree_path_norm(const char *in, uint64_t max, char *out, size_t outsz,
    char *why, size_t whysz)
{
	if (in == NULL) {
		snprintf(why, whysz, "no usable name");
		return -1;
	}
	if (strlen(in) > max || strlen(in) >= outsz) {
		snprintf(why, whysz, "path longer than %llu bytes (max_path)",
		    (unsigned long long)max);
		return -1;
	}
	if (has_cntrl(in)) {
		snprintf(why, whysz, "control character in the path");
		return -1;
	}
	if (in[0] == '/') {
		snprintf(why, whysz, "absolute path");
		return -1;
	}
	if (path_norm(in, out, outsz) < 0) {
		snprintf(why, whysz, "\"..\" in the path");
		return -1;
	}
	return 0;
}

/* Components in a normalised relative path ("" has none). */
static int
depth_of(const char *p)
{
	int n = *p != '\0';

	for (; *p != '\0'; p++)
		n += *p == '/';
	return n;
}

int
tree_link_check(const char *dest, const char *path, const char *target,
    uint64_t max, char *why, size_t whysz)
{
	const char *p, *seg;
	size_t len;
	int depth;

	if (target == NULL || *target == '\0') {
		snprintf(why, whysz, "symlink without a target");
		return -1;
	}
	if (strlen(target) > max) {
		snprintf(why, whysz, "symlink target longer than %llu bytes "
		    "(max_path)", (unsigned long long)max);
		return -1;
	}
	if (has_cntrl(target)) {
		snprintf(why, whysz, "control character in the symlink "
		    "target");
		return -1;
	}
	if (target[0] == '/') {
		snprintf(why, whysz, "symlink to the absolute path \"%.200s\"",
		    target);
		return -1;
	}
	/* the link's directory, counted from the release root */
	depth = depth_of(dest) + depth_of(path) - 1;
	for (p = target; (seg = path_segment_next(&p, &len)) != NULL;) {
		if (!path_segment_is_dotdot(seg, len)) {
			depth++;
			continue;
		}
		if (--depth < 0) {
			snprintf(why, whysz, "symlink to \"%.200s\" leaves the "
			    "release", target);
			return -1;
		}
	}
	return 0;
}

/* FNV-1a */
static size_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

static size_t
map_slot(const struct tree_map *m, const char *key)
{
	size_t i = hash(key) & (m->cap - 1);

	while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int
map_grow(struct tree_map *m, int with_vals)
{
	struct tree_map n = { NULL, NULL, m->cap ? m->cap * 2 : 256, 0 };
	size_t i, j;

	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = with_vals ? calloc(n.cap, sizeof(*n.vals)) : NULL;
	if (n.keys == NULL || (with_vals && n.vals == NULL)) {
		free(n.keys);
		free(n.vals);
		return -1;
	}
	for (i = 0; i < m->cap; i++) {
		if (m->keys[i] == NULL)
			continue;
		j = map_slot(&n, m->keys[i]);
		n.keys[j] = m->keys[i];
		if (with_vals)
			n.vals[j] = m->vals[i];
	}
	n.n = m->n;
	free(m->keys);
	free(m->vals);
	*m = n;
	return 0;
}

/* Insert or replace key (-> val when the map has values). 0/-1. */
static int
map_put(struct tree_map *m, const char *key, const char *val)
{
	char *k, *v = NULL;
	size_t i;

	if ((m->n + 1) * 2 > m->cap && map_grow(m, val != NULL) < 0)
		return -1;
	i = map_slot(m, key);
	if (val != NULL) {
		v = strdup(val);
		if (v == NULL)
			return -1;
		free(m->vals[i]);
		m->vals[i] = v;
	}
	if (m->keys[i] == NULL) {
		k = strdup(key);
		if (k == NULL)
			return -1;
		m->keys[i] = k;
		m->n++;
	}
	return 0;
}

/* The slot holding key, or -1. */
static long
map_find(const struct tree_map *m, const char *key)
{
	size_t i;

	if (m->cap == 0)
		return -1;
	i = map_slot(m, key);
	return m->keys[i] != NULL ? (long)i : -1;
}

static void
map_free(struct tree_map *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->keys[i]);
		if (m->vals != NULL)
			free(m->vals[i]);
	}
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

int
tree_index_claim(struct tree_index *idx, const char *path, int is_dir)
{
	char buf[TREE_PATH_MAX];
	long i;
	char *slash;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return 1;
	i = map_find(&idx->seen, buf);
	if (i >= 0 && (!is_dir || idx->seen.vals[i][0] != 'd'))
		return 1;
	if (map_put(&idx->seen, buf, is_dir ? "d" : "f") < 0)
		return -1;
	/* parents, up to the first one already known */
	while ((slash = strrchr(buf, '/')) != NULL) {
		*slash = '\0';
		i = map_find(&idx->seen, buf);
		if (i >= 0)
			return idx->seen.vals[i][0] == 'd' ? 0 : 1;
		if (map_put(&idx->seen, buf, "d") < 0)
			return -1;
	}
	return 0;
}

int
tree_index_add_file(struct tree_index *idx, const char *path)
{
	return map_put(&idx->files, path, NULL);
}

int
tree_index_add_link(struct tree_index *idx, const char *dest,
    const char *path, const char *target)
{
	char key[TREE_PATH_MAX * 2];

	snprintf(key, sizeof(key), "%s%s%s", dest, *dest ? "/" : "", path);
	return map_put(&idx->links, key, target);
}

int
tree_index_is_file(const struct tree_index *idx, const char *path)
{
	return map_find(&idx->files, path) >= 0;
}

void
tree_index_free(struct tree_index *idx)
{
	map_free(&idx->files);
	map_free(&idx->links);
	map_free(&idx->seen);
}

int
tree_tmp_make(const char *root, char *out, size_t outsz)
{
	if (snprintf(out, outsz, "%s/.unpack-XXXXXX", root) >= (int)outsz) {
		errno = ENAMETOOLONG;
		out[0] = '\0';
		return -1;
	}
	if (mkdtemp(out) == NULL) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Where the link at root-relative cur points: from the archive's index,
 * else from what is already in the release. NULL when cur is no link.
 */
static const char *
link_of(int rootfd, const struct tree_index *idx, const char *cur,
    char *buf, size_t bufsz)
{
	long i = map_find(&idx->links, cur);
	ssize_t n;

	if (i >= 0)
		return idx->links.vals[i];
	n = readlinkat(rootfd, cur, buf, bufsz);
	if (n < 0)
		return NULL;
	if ((size_t)n >= bufsz)
		return "/"; /* too long to follow: treat as leaving */
	buf[n] = '\0';
	return buf;
}

/*
 * Resolve the symlink at root-relative link to target the way the kernel
 * would, following links the archive or the release holds; a component
 * that does not exist counts as a directory. 0 inside the release, -1
 * outside, -2 too many links.
 */
static int
link_resolve(int rootfd, const struct tree_index *idx, const char *link,
    const char *target)
{
	char cur[TREE_PATH_MAX * 2], rest[TREE_PATH_MAX * 2];
	char next[TREE_PATH_MAX * 2], tbuf[TREE_PATH_MAX];
	const char *t, *seg, *slash, *r;
	size_t len, clen;
	int hops = 0;

	slash = strrchr(link, '/');
	snprintf(cur, sizeof(cur), "%.*s",
	    slash ? (int)(slash - link) : 0, link);
	if (snprintf(rest, sizeof(rest), "%s", target) >= (int)sizeof(rest))
		return -1;
	for (r = rest; (seg = path_segment_next(&r, &len)) != NULL;) {
		if (path_segment_is_dotdot(seg, len)) {
			if (cur[0] == '\0')
				return -1;
			slash = strrchr(cur, '/');
			*(slash ? (char *)slash : cur) = '\0';
			continue;
		}
		clen = strlen(cur);
		if (clen + len + 2 > sizeof(cur))
			return -1;
		if (clen > 0)
			cur[clen++] = '/';
		memcpy(cur + clen, seg, len);
		cur[clen + len] = '\0';
		t = link_of(rootfd, idx, cur, tbuf, sizeof(tbuf));
		if (t == NULL)
			continue;
		if (++hops > HOPS_MAX)
			return -2;
		if (t[0] == '/')
			return -1;
		cur[clen > 0 ? clen - 1 : 0] = '\0'; /* back to its dir */
		if (snprintf(next, sizeof(next), "%s/%s", t, r) >=
		    (int)sizeof(next))
			return -1;
		memcpy(rest, next, strlen(next) + 1);
		r = rest;
	}
	return 0;
}

/* Names in the directory fd (without . and ..); NULL-terminated. */
static char **
dir_names(int fd)
{
	char **names = NULL, **grown;
	size_t n = 0;
	struct dirent *e = NULL; /* read below also when calloc failed */
	DIR *d;
	/* a new open file description: a dup would share (and leave) the
	 * read position of fd */
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return NULL;
	}
	names = calloc(1, sizeof(*names));
	while (names != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		grown = realloc(names, (n + 2) * sizeof(*names));
		if (grown == NULL)
			break;
		names = grown;
		names[n] = strdup(e->d_name);
		if (names[n] == NULL)
			break;
		names[++n] = NULL;
	}
	if (e != NULL || names == NULL) { /* stopped early: out of memory */
		for (size_t i = 0; names != NULL && i < n; i++)
			free(names[i]);
		free(names);
		names = NULL;
	}
	closedir(d);
	return names;
}

static void
names_free(char **names)
{
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

static int
is_real_dir(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

/*
 * Walk src (the extraction) against dst (the release). With move == 0
 * find the first entry that exists in both, unless both are directories
 * (its path into clash); with move == 1 rename what dst lacks into it.
 * 0, 1 clash found, -1 error (errno).
 */
static int
merge(int src, int dst, int move, const char *prefix, char *clash,
    size_t clashsz)
{
	char **names = dir_names(src), sub[TREE_PATH_MAX * 2];
	struct stat st;
	int rc = 0, s2, d2;

	if (names == NULL)
		return -1;
	for (size_t i = 0; rc == 0 && names[i] != NULL; i++) {
		const char *nm = names[i];

		snprintf(sub, sizeof(sub), "%s%s%s", prefix, *prefix ? "/" :
		    "", nm);
		if (fstatat(dst, nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				rc = -1;
			else if (move && renameat2(src, nm, dst, nm,
			    RENAME_NOREPLACE) < 0)
				rc = -1;
			continue;
		}
		if (!S_ISDIR(st.st_mode) || !is_real_dir(src, nm)) {
			snprintf(clash, clashsz, "%s", sub);
			rc = 1;
			break;
		}
		s2 = openat(src, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		d2 = openat(dst, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (s2 < 0 || d2 < 0)
			rc = -1;
		else
			rc = merge(s2, d2, move, sub, clash, clashsz);
		if (s2 >= 0)
			close(s2);
		if (d2 >= 0)
			close(d2);
	}
	names_free(names);
	return rc;
}

/* Open root/dest, with create making missing directories; never through
 * a link. -1 with errno. */
static int
dest_open(int rootfd, const char *dest, int create)
{
	char buf[TREE_PATH_MAX], *seg, *save = NULL;
	int fd = dup(rootfd), next;

	snprintf(buf, sizeof(buf), "%s", dest);
	for (seg = strtok_r(buf, "/", &save); fd >= 0 && seg != NULL;
	    seg = strtok_r(NULL, "/", &save)) {
		if (create && mkdirat(fd, seg, 0755) < 0 && errno != EEXIST) {
			close(fd);
			return -1;
		}
		next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(fd);
		fd = next;
	}
	return fd;
}

enum unpack_status
tree_commit(const char *root, const char *tmp, const char *dest,
    const struct tree_index *idx, char *why, size_t whysz)
{
	const struct tree_map *l = &idx->links;
	size_t skip = *dest ? strlen(dest) + 1 : 0;
	enum unpack_status st = UNPACK_LOCAL;
	char clash[TREE_PATH_MAX * 2];
	int rootfd, destfd = -1, tmpfd = -1, r;

	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		snprintf(why, whysz, "cannot open %s: %s", root,
		    strerror(errno));
		return UNPACK_LOCAL;
	}
	for (size_t i = 0; i < l->cap; i++) {
		if (l->keys[i] == NULL)
			continue;
		r = link_resolve(rootfd, idx, l->keys[i], l->vals[i]);
		if (r < 0) {
			snprintf(why, whysz, "entry \"%.150s\": symlink to "
			    "\"%.150s\" %s (refused)", l->keys[i] + skip,
			    l->vals[i], r == -2 ? "goes through too many "
			    "links" : "resolves outside the release");
			st = UNPACK_REFUSED;
			goto out;
		}
	}
	tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tmpfd < 0) {
		snprintf(why, whysz, "cannot open %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	/* check everything before the first change: a missing destination
	 * has nothing to clash with */
	r = 0;
	for (int create = 0; create < 2 && r == 0; create++) {
		destfd = dest_open(rootfd, dest, create);
		if (destfd < 0 && errno == ENOENT && !create)
			continue;
		if (destfd < 0) {
			snprintf(why, whysz, "destination \"%s\" in %s: %s "
			    "(refused)", dest, root, errno == ELOOP ||
			    errno == ENOTDIR ? "not a directory" :
			    strerror(errno));
			st = errno == ELOOP || errno == ENOTDIR ?
			    UNPACK_REFUSED : UNPACK_LOCAL;
			goto out;
		}
		r = merge(tmpfd, destfd, create, "", clash, sizeof(clash));
		if (!create) {
			close(destfd);
			destfd = -1;
		}
	}
	if (r == 1) {
		snprintf(why, whysz, "entry \"%.150s\": already in the release "
		    "(refused)", clash);
		st = UNPACK_REFUSED;
		goto out;
	}
	if (r != 0) {
		snprintf(why, whysz, "cannot move the extracted files into "
		    "%s: %s", root, strerror(errno));
		goto out;
	}
	st = UNPACK_OK;
out:
	if (tmpfd >= 0)
		close(tmpfd);
	if (destfd >= 0)
		close(destfd);
	close(rootfd);
	if (st == UNPACK_OK && fs_rm_rf(tmp) < 0)
		st = UNPACK_LOCAL;
	return st;
}
