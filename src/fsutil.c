/* fsutil.c — atomic, durable file changes and small path helpers. */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

int
fs_path_join(char *out, size_t outsz, const char *a, const char *b)
{
	size_t al = strlen(a);
	int n;

	while (al > 1 && a[al - 1] == '/')
		al--;
	while (*b == '/')
		b++;
	/* a is "/" only when it still ends in '/': no second one */
	n = snprintf(out, outsz, "%.*s%s%s", (int)al, a,
	    al > 0 && a[al - 1] == '/' ? "" : "/", b);
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return 0;
}

int
fs_fsync_dir(const char *dir)
{
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_error("%s: cannot open directory: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (fsync(fd) < 0 && errno != EINVAL) {
		log_error("%s: fsync: %s", dir, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

int
fs_fsync_dir_of(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	return fs_fsync_dir(dirname(buf));
}

int
fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd = -1, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		log_error("%s: path too long", path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		log_error("%s: cannot create temporary file: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0) {
		log_error("%s: chmod: %s", tmp, strerror(errno));
		goto out;
	}
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			log_error("%s: write: %s", path, strerror(errno));
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0) {
		log_error("%s: fsync: %s", path, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		log_error("%s: close: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		log_error("%s: rename: %s", path, strerror(errno));
		goto out;
	}
	rc = fs_fsync_dir_of(path);
	tmp[0] = '\0';
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	return rc;
}

int
fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t len;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		log_error("%s: path too long", path);
		return -1;
	}
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST) {
			log_error("%s: cannot create directory: %s", buf,
			    strerror(errno));
			return -1;
		}
		if (i < len)
			buf[i] = '/';
	}
	/* EEXIST above also means "a file is in the way" */
	if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("%s: exists and is not a directory", buf);
		return -1;
	}
	return 0;
}

static int
rm_rf_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, rc = 0;
	DIR *d;
	struct dirent *e;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (rm_rf_at(fd, e->d_name) < 0)
			rc = -1;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

int
fs_rm_rf(const char *path)
{
	if (rm_rf_at(AT_FDCWD, path) < 0) {
		log_error("%s: cannot remove: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

char *
fs_read_file(const char *path, size_t max, size_t *len, int quiet_enoent)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (!(quiet_enoent && errno == ENOENT))
			log_error("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			/* room for max bytes, one more to see EOF, and NUL */
			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= n + 1) {
				log_error("%s: larger than %zu bytes", path,
				    max);
				goto fail;
			}
			nb = realloc(buf, ncap);
			if (nb == NULL) {
				log_error("%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("%s: read: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

int
fs_symlink_atomic(const char *target, const char *link)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", link, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		log_error("%s: path too long", link);
		return -1;
	}
	unlink(tmp);
	if (symlink(target, tmp) < 0) {
		log_error("%s: symlink: %s", tmp, strerror(errno));
		return -1;
	}
	if (rename(tmp, link) < 0) {
		log_error("%s: rename: %s", link, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return fs_fsync_dir_of(link);
}

long long
fs_free_bytes(const char *path)
{
	struct statvfs sv;

	if (statvfs(path, &sv) < 0)
		return -1;
	return (long long)sv.f_bavail * (long long)sv.f_frsize;
}
