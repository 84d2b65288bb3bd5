/*
 * fetch_stage.c — the staging area beside the destination: a lock so one
 * fetch uses it at a time, the journal of completed ranges (appended as
 * ranges complete, compacted at the start of each run), the data files,
 * and publishing by rename once everything is verified.
 *
 * Layout: STAGING/lock, STAGING/journal, STAGING/data/<path in release>.
 * A crash at any instant leaves a journal whose every intact line is true
 * of the page cache; after a power loss the data may be torn, which the
 * per-range checksum catches before anything is reused.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "fetch_int.h"
#include "fsutil.h"
#include "log.h"

int
stage_path(struct fetch *f, const struct fblob *b, char *out, size_t outsz)
{
	return fs_path_join(out, outsz, f->data, b->e->rel);
}

int
stage_mkdirs(const char *root, const char *rel, char *cache, size_t cachesz)
{
	const char *slash = strrchr(rel, '/');
	char path[PATH_MAX];
	size_t rootlen = strlen(root), plen;

	if (slash == NULL)
		return 0;
	plen = (size_t)(slash - rel);
	if (strlen(cache) == plen && strncmp(cache, rel, plen) == 0)
		return 0;
	if (rootlen + 1 + plen >= sizeof(path) || plen >= cachesz)
		return ENAMETOOLONG;
	memcpy(path, root, rootlen);
	path[rootlen] = '/';
	memcpy(path + rootlen + 1, rel, plen);
	path[rootlen + 1 + plen] = '\0';
	for (size_t i = rootlen + 1; i <= rootlen + 1 + plen; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return errno;
		if (i < rootlen + 1 + plen)
			path[i] = '/';
	}
	memcpy(cache, rel, plen);
	cache[plen] = '\0';
	return 0;
}

static int
stage_lock(struct fetch *f)
{
	char path[PATH_MAX];

	if (f->lockfd >= 0)
		return 0;
	if (fs_path_join(path, sizeof(path), f->staging, "lock") < 0)
		return -1;
	f->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f->lockfd < 0) {
		log_error("fetch: cannot open %s: %s", path, strerror(errno));
		f->rc = EXIT_LOCAL;
		return -1;
	}
	if (flock(f->lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_error("fetch: another greenlight fetch is using %s; wait "
		    "for it to finish, then rerun", f->staging);
		f->rc = EXIT_TEMPORARY;
		return -1;
	}
	return 0;
}

/* Does [off, off+len) of fd still hold what the journal recorded? */
static int
range_intact(struct fetch *f, int fd, uint64_t off, uint64_t len,
    uint64_t want)
{
	struct fetch_sum s;

	fetch_sum_init(&s);
	while (len > 0) {
		size_t n = len > FETCH_READ_BUF ? FETCH_READ_BUF : (size_t)len;
		ssize_t r = pread(fd, f->rbuf, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		fetch_sum_update(&s, f->rbuf, (size_t)r);
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return fetch_sum_final(&s) == want;
}

int
stage_prepare(struct fetch *f)
{
	char path[PATH_MAX], sz[32];
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int64_t bytes = 0;
	int files = 0, partly = 0, torn = 0;

	if (lstat(f->staging, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_error("fetch: cannot use %s: %s", f->staging,
		    strerror(errno));
		return f->rc = EXIT_LOCAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("fetch: %s is in the way of the staging area (not a "
		    "directory); remove it or choose another --staging",
		    f->staging);
		return f->rc = EXIT_LOCAL;
	}
	if (stage_lock(f) < 0)
		return f->rc;
	if (fs_path_join(path, sizeof(path), f->staging, "journal") < 0)
		return f->rc = EXIT_LOCAL;
	text = fs_read_file(path, FETCH_JOURNAL_MAX, &len, 1);
	if (fetch_journal_parse(text ? text : "", text ? len : 0, f->key,
	    &f->journal) < 0) {
		free(text);
		log_error("fetch: out of memory");
		return f->rc = EXIT_FAILURE_;
	}
	free(text);
	if (f->journal.key_mismatch) {
		log_info("fetch: %s holds a partial download of another "
		    "release; starting over", f->staging);
		fetch_journal_free(&f->journal);
		fs_rm_rf(f->data);
		return 0;
	}
	for (size_t i = 0; i < f->nb; i++) {
		struct fblob *b = &f->b[i];
		struct fetch_jblob *jb = fetch_journal_find(&f->journal,
		    b->e->name);
		int fd;

		if (jb == NULL || jb->size != b->e->size ||
		    jb->chunk != f->chunk || jb->nranges != b->nranges ||
		    strcmp(jb->etag, b->e->etag) != 0)
			continue;
		if (stage_path(f, b, path, sizeof(path)) < 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		for (uint32_t r = 0; r < b->nranges; r++) {
			uint64_t off, rlen;

			if (!jb->done[r])
				continue;
			fetch_range_get(b->e->size, f->chunk, r, &off, &rlen);
			if (!range_intact(f, fd, off, rlen, jb->sums[r])) {
				torn++;
				continue;
			}
			b->rs[r] = FR_DONE;
			b->ndone++;
			b->counted += (int64_t)rlen;
		}
		close(fd);
		if (b->ndone == 0)
			continue;
		b->jb = jb;
		b->reused = 1;
		bytes += b->counted;
		if (b->ndone == b->nranges)
			files++;
		else
			partly++;
	}
	if (torn > 0)
		log_warn("fetch: %d piece%s in %s did not match the journal "
		    "(a crash can tear writes); downloading %s again", torn,
		    torn == 1 ? "" : "s", f->staging, torn == 1 ? "it" :
		    "them");
	if (files + partly > 0) {
		progress_fmt_bytes(bytes, sz, sizeof(sz));
		log_info("fetch: resuming from %s: %s already downloaded "
		    "(%d file%s complete, %d partly)", f->staging, sz, files,
		    files == 1 ? "" : "s", partly);
	}
	return 0;
}

/* Nearest existing ancestor's device, to keep staging and dest together. */
static int
device_of(const char *path, dev_t *dev)
{
	char buf[PATH_MAX];
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	for (;;) {
		char *slash;

		if (stat(buf, &st) == 0) {
			*dev = st.st_dev;
			return 0;
		}
		slash = strrchr(buf, '/');
		if (strcmp(buf, ".") == 0)
			return -1;
		if (slash == NULL) {
			memcpy(buf, ".", 2);
		} else if (slash == buf) {
			if (buf[1] == '\0')
				return -1;
			buf[1] = '\0';
		} else {
			*slash = '\0';
		}
	}
}

/* Append one formatted line to a growing buffer. */
static int
text_add(char **buf, size_t *len, size_t *cap, const char *line, int n)
{
	if (n < 0)
		return -1;
	if (*len + (size_t)n + 1 > *cap) {
		size_t nc = *cap ? *cap * 2 : 64 * 1024;
		char *nb;

		while (nc < *len + (size_t)n + 1)
			nc *= 2;
		nb = realloc(*buf, nc);
		if (nb == NULL)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, line, (size_t)n);
	*len += (size_t)n;
	return 0;
}

int
stage_create(struct fetch *f)
{
	char path[PATH_MAX], line[FETCH_JOURNAL_LINE_MAX];
	char *text = NULL;
	size_t len = 0, cap = 0;
	dev_t ds, dd;
	int rc = -1;

	if (f->staged)
		return 0;
	if (fs_mkdir_p(f->staging, 0755) < 0) {
		f->rc = EXIT_LOCAL;
		return -1;
	}
	if (mkdir(f->data, 0755) < 0 && errno != EEXIST) {
		log_error("fetch: cannot create the staging area %s: %s",
		    f->data, strerror(errno));
		f->rc = EXIT_LOCAL;
		return -1;
	}
	if (device_of(f->staging, &ds) == 0 && device_of(f->dest, &dd) == 0 &&
	    ds != dd) {
		log_error("fetch: the staging area %s and the destination %s "
		    "are on different filesystems, so files cannot be moved "
		    "into place atomically; choose a --staging beside the "
		    "destination", f->staging, f->dest);
		f->rc = EXIT_CONFIG;
		return -1;
	}
	if (stage_lock(f) < 0)
		return -1;
	/* compaction: only what this run will reuse, under fresh ids */
	if (text_add(&text, &len, &cap, line, fetch_journal_fmt_head(line,
	    sizeof(line), f->key)) < 0)
		goto nomem;
	for (size_t i = 0; i < f->nb; i++) {
		struct fblob *b = &f->b[i];

		if (b->jb == NULL || b->ndone == 0)
			continue;
		b->jid = ++f->next_jid;
		if (text_add(&text, &len, &cap, line, fetch_journal_fmt_blob(
		    line, sizeof(line), b->jid, b->e->size, f->chunk,
		    b->e->etag, b->e->name)) < 0)
			goto nomem;
		for (uint32_t r = 0; r < b->nranges; r++) {
			uint64_t off, rlen;

			if (b->rs[r] != FR_DONE)
				continue;
			fetch_range_get(b->e->size, f->chunk, r, &off, &rlen);
			if (text_add(&text, &len, &cap, line,
			    fetch_journal_fmt_range(line, sizeof(line), b->jid,
			    r, rlen, b->jb->sums[r])) < 0)
				goto nomem;
		}
	}
	for (size_t i = 0; i < f->nb; i++)
		f->b[i].jb = NULL;
	fetch_journal_free(&f->journal);
	if (fs_path_join(path, sizeof(path), f->staging, "journal") < 0 ||
	    fs_write_atomic(path, text, len, 0644) < 0) {
		f->rc = EXIT_LOCAL;
		goto out;
	}
	f->jfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (f->jfd < 0) {
		log_error("fetch: cannot open %s: %s", path, strerror(errno));
		f->rc = EXIT_LOCAL;
		goto out;
	}
	f->staged = 1;
	rc = 0;
	goto out;
nomem:
	log_error("fetch: out of memory");
	f->rc = EXIT_FAILURE_;
out:
	free(text);
	return rc;
}

static int
journal_write(struct fetch *f, const char *line, size_t len)
{
	char path[PATH_MAX];

	while (len > 0) {
		ssize_t w = write(f->jfd, line, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fs_path_join(path, sizeof(path), f->staging,
			    "journal");
			fetch_write_failed(f, path, w < 0 ? errno : ENOSPC);
			return -1;
		}
		line += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Lines are gathered and written once per turn of the engine (stage_flush):
 * one write for many small files. A line only ever follows the data it
 * describes, so a crash loses at most the record of a turn's ranges,
 * which the rerun downloads again.
 */
int
stage_append(struct fetch *f, const char *line, int len)
{
	if (len <= 0)
		return 0;
	if (f->jlen + (size_t)len > sizeof(f->jbuf) && stage_flush(f) < 0)
		return -1;
	if ((size_t)len > sizeof(f->jbuf))
		return journal_write(f, line, (size_t)len);
	memcpy(f->jbuf + f->jlen, line, (size_t)len);
	f->jlen += (size_t)len;
	return 0;
}

int
stage_flush(struct fetch *f)
{
	size_t n = f->jlen;

	if (n == 0 || f->jfd < 0)
		return 0;
	f->jlen = 0;
	return journal_write(f, f->jbuf, n);
}

static void
sync_tree(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || syncfs(fd) < 0)
		log_warn("fetch: cannot sync %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
}

int
stage_publish(struct fetch *f)
{
	char from[PATH_MAX], to[PATH_MAX], cache[PATH_MAX] = "";
	struct stat st;
	size_t n = 0;
	int err;

	for (size_t i = 0; i < f->nb; i++)
		n += f->b[i].state == FB_DONE;
	if (n == 0)
		return 0;
	/* the data first, then the names that point at it */
	sync_tree(f->data);
	if (lstat(f->dest, &st) == 0 && !S_ISDIR(st.st_mode)) {
		log_error("fetch: %s exists and is not a directory; remove it "
		    "and rerun (the download stays in %s)", f->dest,
		    f->staging);
		return f->rc = EXIT_LOCAL;
	}
	if (fs_mkdir_p(f->dest, 0755) < 0)
		return f->rc = EXIT_LOCAL;
	for (size_t i = 0; i < f->nb; i++) {
		struct fblob *b = &f->b[i];

		if (b->state != FB_DONE)
			continue;
		if (stage_path(f, b, from, sizeof(from)) < 0 ||
		    fs_path_join(to, sizeof(to), f->dest, b->e->rel) < 0) {
			log_error("fetch: %s: path too long", b->e->name);
			return f->rc = EXIT_LOCAL;
		}
		err = stage_mkdirs(f->dest, b->e->rel, cache, sizeof(cache));
		if (err == 0 && rename(from, to) < 0)
			err = errno;
		if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
			log_error("fetch: cannot put %s in place: it is a "
			    "directory; remove it and rerun (the download "
			    "stays in %s)", to, f->staging);
			return f->rc = EXIT_LOCAL;
		}
		if (err == ENOTDIR) {
			log_error("fetch: cannot put %s in place: a file in "
			    "%s is in the way of its directory; remove it and "
			    "rerun (the download stays in %s)", to, f->dest,
			    f->staging);
			return f->rc = EXIT_LOCAL;
		}
		if (err != 0) {
			log_error("fetch: cannot move %s to %s: %s (the "
			    "download stays in %s)", from, to, strerror(err),
			    f->staging);
			return f->rc = EXIT_LOCAL;
		}
	}
	sync_tree(f->dest);
	return 0;
}

void
stage_close(struct fetch *f)
{
	stage_flush(f);
	if (f->jfd >= 0)
		close(f->jfd);
	f->jfd = -1;
	if (f->lockfd >= 0)
		close(f->lockfd);
	f->lockfd = -1;
	f->staged = 0;
}

void
stage_remove(struct fetch *f)
{
	struct stat st;

	f->jlen = 0;
	if (f->jfd >= 0)
		close(f->jfd);
	f->jfd = -1;
	if (lstat(f->staging, &st) == 0 && S_ISDIR(st.st_mode))
		fs_rm_rf(f->staging);
	stage_close(f);
}
