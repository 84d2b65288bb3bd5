/*
 * unpack.c — one extraction of a release archive with libarchive (the only
 * file that sees it), run by the worker thread of unpack_stream.c.
 *
 * The worker has a cwd of its own and changes into a fresh directory
 * root/.unpack-XXXXXX, so libarchive's archive_write_disk sees each entry's
 * own relative path and its SECURE_NOABSOLUTEPATHS, SECURE_NODOTDOT and
 * SECURE_SYMLINKS checks apply exactly as in bsdtar. Our own checks run
 * first on every entry (unpack_tree.c holds those that need no
 * libarchive): libarchive's alone let a symlink point anywhere, and skip a
 * duplicate entry silently.
 *
 * Reading: 1 MiB blocks from the file by pread(2), waiting on a condition
 * variable while the download has not reached them; data is copied with
 * archive_read_data_block/archive_write_data_block, no per-byte work.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "unpack.h"
#include "unpack_int.h"

#define BLOCK (1024 * 1024)
#define ATTEMPT_RESTART UNPACK_ATTEMPT_RESTART

/* What one extraction attempt knows; reset when the download restarts. */
struct attempt {
	struct unpack_stream *s;
	unsigned gen;	   /* s->gen this attempt belongs to */
	int fd;		   /* the archive file */
	uint64_t pos;	   /* next byte to read */
	char *buf;	   /* BLOCK bytes */
	int stop;	   /* read callback: 0, ATTEMPT_RESTART, UNPACK_* */
	uint64_t entries;
	uint64_t bytes;	   /* unpacked, apparent size */
	struct tree_index index;
	char entry[160];   /* current entry, printable, for messages */
};

static void attempt_fail(struct attempt *at, int st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first failure of this attempt: "NAME: what". */
static void
attempt_fail(struct attempt *at, int st, const char *fmt, ...)
{
	struct unpack_stream *s = at->s;
	char what[768];
	va_list ap;

	if (at->stop != 0)
		return;
	at->stop = st;
	if (st == ATTEMPT_RESTART)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(s->msg, sizeof(s->msg), "%s: %s", s->name, what);
}

/* A refusal that names the current entry. */
#define REFUSE(at, fmt, ...)                                                   \
	attempt_fail(at, UNPACK_REFUSED, "entry \"%s\": " fmt " (refused)",   \
	    (at)->entry, __VA_ARGS__)

/*
 * Block until at least want bytes from the start are on disk, or the
 * attempt must stop. 0, or -1 with at->stop set.
 */
static int
wait_avail(struct attempt *at, uint64_t want)
{
	char why[256];
	int r = unpack_stream_wait(at->s, at->gen, want, why, sizeof(why));

	if (r == 0)
		return 0;
	attempt_fail(at, r, "%s", why);
	return -1;
}

static la_ssize_t
source_read(struct archive *a, void *arg, const void **out)
{
	struct attempt *at = arg;
	struct unpack_stream *s = at->s;
	uint64_t n;
	ssize_t r;

	if (at->pos >= s->size)
		return 0;
	if (wait_avail(at, at->pos + 1) < 0) {
		archive_set_error(a, ECANCELED, "extraction stopped");
		return ARCHIVE_FATAL;
	}
	pthread_mutex_lock(&s->mu);
	n = (s->avail < s->size ? s->avail : s->size) - at->pos;
	pthread_mutex_unlock(&s->mu);
	if (n > BLOCK)
		n = BLOCK;
	do
		r = pread(at->fd, at->buf, n, (off_t)at->pos);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		attempt_fail(at, UNPACK_LOCAL, "cannot read %s at byte %llu: "
		    "%s", s->path, (unsigned long long)at->pos,
		    r == 0 ? "the file is shorter than reported" :
			     strerror(errno));
		archive_set_error(a, EIO, "read failed");
		return ARCHIVE_FATAL;
	}
	at->pos += (uint64_t)r;
	*out = at->buf;
	return r;
}

/* Zip only, once the whole file is on disk. */
static la_int64_t
source_seek(struct archive *a, void *arg, la_int64_t off, int whence)
{
	struct attempt *at = arg;
	int64_t base = whence == SEEK_SET ? 0 :
	    whence == SEEK_CUR ? (int64_t)at->pos : (int64_t)at->s->size;

	if (base + off < 0 || base + off > (int64_t)at->s->size)
		return ARCHIVE_FATAL;
	at->pos = (uint64_t)(base + off);
	return (la_int64_t)at->pos;
}

/* Copy name for messages: control characters become '?', cut at 150. */
static void
entry_label(char *out, size_t outsz, const char *name)
{
	size_t o = 0;

	if (name == NULL)
		name = "(no name)";
	for (; *name != '\0' && o + 4 < outsz && o < 150; name++)
		out[o++] = (unsigned char)*name < 0x20 || *name == 0x7f ?
		    '?' : *name;
	if (*name != '\0' && o + 4 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* libarchive's message, never NULL. */
static const char *
la_error(struct archive *a)
{
	const char *why = archive_error_string(a);

	if (why != NULL)
		return why;
	return archive_errno(a) ? strerror(archive_errno(a)) : "unknown error";
}

static int
errno_is_local(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EROFS || e == EIO ||
	    e == EMFILE || e == ENFILE || e == ENOMEM || e == EACCES;
}

/* Failure on the write side: the machine's fault or the entry's. */
static void
write_fail(struct attempt *at, struct archive *ext, const char *doing)
{
	int e = archive_errno(ext);

	if (errno_is_local(e))
		attempt_fail(at, UNPACK_LOCAL, "entry \"%s\": cannot %s: %s",
		    at->entry, doing, la_error(ext));
	else
		REFUSE(at, "cannot %s: %s", doing, la_error(ext));
}

/*
 * Check entry e and make it safe to write: path normalised, type allowed,
 * links inside the release, mode masked, nothing of the archive's
 * ownership kept. 1 write it, 0 skip it, -1 refused (at->stop set).
 */
static int
entry_prepare(struct attempt *at, struct archive_entry *e)
{
	struct unpack_stream *s = at->s;
	char path[4096], target[4096], why[512];
	const char *link;
	mode_t type = archive_entry_filetype(e);
	mode_t perm = archive_entry_perm(e);

	if (tree_path_norm(archive_entry_pathname(e), s->lim.max_path, path,
	    sizeof(path), why, sizeof(why)) < 0) {
		REFUSE(at, "%s", why);
		return -1;
	}
	link = archive_entry_hardlink(e);
	if (link != NULL) {
		if (tree_path_norm(link, s->lim.max_path, target,
		    sizeof(target), why, sizeof(why)) < 0) {
			REFUSE(at, "hardlink target: %s", why);
			return -1;
		}
		if (target[0] == '\0') {
			REFUSE(at, "%s", "hardlink without a target");
			return -1;
		}
		if (!tree_index_is_file(&at->index, target)) {
			REFUSE(at, "hardlink to \"%.150s\", which is not an "
			    "earlier file of this archive", target);
			return -1;
		}
		archive_entry_copy_hardlink(e, target);
	} else if (type == AE_IFDIR) {
		if (path[0] == '\0')
			return 0; /* the archive's own "./" */
		archive_entry_set_perm(e, 0755);
	} else if (type == AE_IFREG) {
		archive_entry_set_perm(e, (perm & 0111) ? 0755 : 0644);
		if (archive_entry_size_is_set(e) &&
		    (uint64_t)archive_entry_size(e) > s->lim.max_size -
		    at->bytes) {
			REFUSE(at, "%lld bytes would pass the %llu-byte cap on "
			    "the unpacked size (max_size)",
			    (long long)archive_entry_size(e),
			    (unsigned long long)s->lim.max_size);
			return -1;
		}
	} else if (type == AE_IFLNK) {
		if (tree_link_check(s->dest, path, archive_entry_symlink(e),
		    s->lim.max_path, why, sizeof(why)) < 0) {
			REFUSE(at, "%s", why);
			return -1;
		}
	} else {
		REFUSE(at, "%s are not allowed in a release",
		    type == AE_IFCHR || type == AE_IFBLK ? "device nodes" :
		    type == AE_IFIFO ? "FIFOs" :
		    type == AE_IFSOCK ? "sockets" : "entries of unknown type");
		return -1;
	}
	if (path[0] == '\0') {
		REFUSE(at, "%s", "empty path");
		return -1;
	}
	/* libarchive would skip a second entry silently (NO_OVERWRITE) */
	switch (tree_index_claim(&at->index, path, type == AE_IFDIR &&
	    link == NULL)) {
	case 0:
		break;
	case 1:
		REFUSE(at, "%s", "clashes with an earlier entry of this "
		    "archive");
		return -1;
	default:
		attempt_fail(at, UNPACK_LOCAL, "out of memory");
		return -1;
	}
	archive_entry_copy_pathname(e, path);
	/* never from the archive (the write flags already say so) */
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_copy_uname(e, NULL);
	archive_entry_copy_gname(e, NULL);
	archive_entry_acl_clear(e);
	archive_entry_xattr_clear(e);
	archive_entry_set_fflags(e, 0, 0);
	return 1;
}

/* Entry e was written: remember what later entries may refer to. */
static int
entry_record(struct attempt *at, struct archive_entry *e)
{
	const char *path = archive_entry_pathname(e);

	/* a hardlink's target is a file, so the link is one too */
	if (archive_entry_hardlink(e) != NULL ||
	    archive_entry_filetype(e) == AE_IFREG)
		return tree_index_add_file(&at->index, path);
	if (archive_entry_hardlink(e) == NULL &&
	    archive_entry_filetype(e) == AE_IFLNK)
		return tree_index_add_link(&at->index, at->s->dest, path,
		    archive_entry_symlink(e));
	return 0;
}

/* Copy e's data. Sizes are apparent: holes of sparse files count. */
static int
entry_copy(struct attempt *at, struct archive *a, struct archive *ext,
    struct archive_entry *e)
{
	struct unpack_stream *s = at->s;
	const void *buf;
	size_t len;
	la_int64_t off;
	uint64_t end, written = 0, packed;
	int r;

	for (;;) {
		r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF) {
			len = 0;
			off = archive_entry_size_is_set(e) ?
			    archive_entry_size(e) : 0;
		} else if (r != ARCHIVE_OK) {
			REFUSE(at, "%s", la_error(a));
			return -1;
		}
		end = (uint64_t)off + len;
		if (end > written) {
			at->bytes += end - written;
			written = end;
		}
		if (at->bytes > s->lim.max_size) {
			REFUSE(at, "the archive unpacks to more than %llu "
			    "bytes (max_size)",
			    (unsigned long long)s->lim.max_size);
			return -1;
		}
		if (r == ARCHIVE_EOF)
			return 0;
		packed = (uint64_t)archive_filter_bytes(a, -1);
		if (at->bytes > UNPACK_RATIO_FLOOR &&
		    at->bytes / s->lim.max_ratio > packed) {
			REFUSE(at, "%llu bytes unpacked from %llu: compression "
			    "ratio over %llu (max_ratio)",
			    (unsigned long long)at->bytes,
			    (unsigned long long)packed,
			    (unsigned long long)s->lim.max_ratio);
			return -1;
		}
		if (archive_write_data_block(ext, buf, len, off) !=
		    ARCHIVE_OK) {
			write_fail(at, ext, "write");
			return -1;
		}
	}
}

static struct archive *
reader_new(struct attempt *at, int zip)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	/* exactly what we document; a filter that would need an external
	 * program answers ARCHIVE_WARN and is not used */
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_zip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK) {
		attempt_fail(at, UNPACK_LOCAL, "this libarchive lacks tar, "
		    "zip, gzip, xz or zstd support: %s",
		    la_error(a));
		archive_read_free(a);
		return NULL;
	}
	archive_read_set_callback_data(a, at);
	archive_read_set_read_callback(a, source_read);
	if (zip)
		archive_read_set_seek_callback(a, source_seek);
	return a;
}

/* Read and write every entry. 0, or -1 with at->stop set. */
static int
extract_all(struct attempt *at, struct archive *a, struct archive *ext)
{
	struct unpack_stream *s = at->s;
	struct archive_entry *e;
	int r, w;

	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			if (at->entries == 0)
				attempt_fail(at, UNPACK_REFUSED, "not a tar, "
				    "tar.gz, tar.xz, tar.zst or zip archive: "
				    "%s (refused)", la_error(a));
			else
				attempt_fail(at, UNPACK_REFUSED, "after entry "
				    "\"%s\": %s (refused)", at->entry,
				    la_error(a));
			return -1;
		}
		entry_label(at->entry, sizeof(at->entry),
		    archive_entry_pathname(e));
		if (r == ARCHIVE_WARN) {
			REFUSE(at, "%s", la_error(a));
			return -1;
		}
		if (++at->entries > s->lim.max_entries) {
			REFUSE(at, "more than %llu entries (max_entries)",
			    (unsigned long long)s->lim.max_entries);
			return -1;
		}
		r = entry_prepare(at, e);
		if (r <= 0) {
			if (r < 0)
				return -1;
			continue;
		}
		w = archive_write_header(ext, e);
		if (w != ARCHIVE_OK) {
			write_fail(at, ext, "create it");
			return -1;
		}
		if ((!archive_entry_size_is_set(e) ||
		    archive_entry_size(e) > 0) && entry_copy(at, a, ext, e) < 0)
			return -1;
		if (archive_write_finish_entry(ext) != ARCHIVE_OK) {
			write_fail(at, ext, "finish it");
			return -1;
		}
		if (entry_record(at, e) < 0) {
			attempt_fail(at, UNPACK_LOCAL, "out of memory");
			return -1;
		}
	}
}

/* Is the file a zip (index at the end)? Reads its first bytes. */
static int
source_is_zip(struct attempt *at)
{
	unsigned char m[4];
	uint64_t want = at->s->size < 4 ? at->s->size : 4;
	ssize_t r;

	if (want < 4)
		return 0;
	if (wait_avail(at, want) < 0)
		return -1;
	r = pread(at->fd, m, 4, 0);
	if (r != 4)
		return 0;
	return m[0] == 'P' && m[1] == 'K' && m[2] < 9 && m[3] < 9;
}

int
unpack_attempt_run(struct unpack_stream *s, unsigned gen)
{
	struct attempt at;
	struct archive *a = NULL, *ext = NULL;
	int zip, tmpfd = -1;

	memset(&at, 0, sizeof(at));
	at.s = s;
	at.gen = gen;
	at.fd = -1;
	snprintf(at.entry, sizeof(at.entry), "(none)");
	if (s->size == 0) {
		attempt_fail(&at, UNPACK_REFUSED, "an empty file is no "
		    "archive (refused)");
		goto out;
	}
	if (wait_avail(&at, 1) < 0)
		goto out;
	if (tree_tmp_make(s->root, s->tmp, sizeof(s->tmp)) < 0) {
		attempt_fail(&at, UNPACK_LOCAL, "cannot create a directory in "
		    "%s: %s", s->root, strerror(errno));
		goto out;
	}
	tmpfd = open(s->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmpfd < 0 || fchdir(tmpfd) < 0) {
		attempt_fail(&at, UNPACK_LOCAL, "cannot enter %s: %s", s->tmp,
		    strerror(errno));
		goto out;
	}
	at.fd = open(s->path, O_RDONLY | O_CLOEXEC);
	at.buf = malloc(BLOCK);
	if (at.fd < 0 || at.buf == NULL) {
		attempt_fail(&at, UNPACK_LOCAL, "cannot open %s: %s", s->path,
		    strerror(at.fd < 0 ? errno : ENOMEM));
		goto out;
	}
	zip = source_is_zip(&at);
	if (zip < 0 || (zip && wait_avail(&at, s->size) < 0))
		goto out;
	a = reader_new(&at, zip);
	ext = archive_write_disk_new();
	if (a == NULL || ext == NULL) {
		attempt_fail(&at, UNPACK_LOCAL, "out of memory");
		goto out;
	}
	/* no _OWNER, _PERM, _ACL, _XATTR, _FFLAGS: nothing of that kind is
	 * taken from the archive */
	archive_write_disk_set_options(ext, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_NO_OVERWRITE | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		attempt_fail(&at, UNPACK_REFUSED, "not a tar, tar.gz, tar.xz, "
		    "tar.zst or zip archive: %s (refused)",
		    la_error(a));
		goto out;
	}
	if (extract_all(&at, a, ext) < 0)
		goto out;
	/* directory times and modes are set here */
	if (archive_write_close(ext) != ARCHIVE_OK) {
		write_fail(&at, ext, "finish the extraction");
		goto out;
	}
out:
	if (a != NULL)
		archive_read_free(a);
	if (ext != NULL)
		archive_write_free(ext);
	if (at.fd >= 0)
		close(at.fd);
	if (tmpfd >= 0)
		close(tmpfd);
	free(at.buf);
	if (at.stop == 0) {
		tree_index_free(&s->index);
		s->index = at.index;
		s->entries = at.entries;
		s->bytes = at.bytes;
		return UNPACK_OK;
	}
	tree_index_free(&at.index);
	return at.stop;
}

