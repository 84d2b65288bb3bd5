/*
 * fuzz_unpack.c — a release archive (tar, tar.gz/xz/zst, zip: recognised by
 * content) through unpack_file into a fresh directory per input, with small
 * caps. A refused archive leaves nothing behind; an extracted one holds
 * only directories, files and links that stay inside, with no owner or
 * mode bits taken from the archive. Slower than the others: a thread and a
 * directory tree per input.
 */
#include <sys/stat.h>

#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "unpack.h"

#define INPUT_MAX (1024 * 1024)

static char root[PATH_MAX];
static size_t root_len;
static int entries;

static int
is_empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	FUZZ_CHECK(d != NULL);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n == 0;
}

static int
check_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char real[PATH_MAX];

	(void)ftw;
	entries++;
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz: %s mode %o\n", path,
		    (unsigned)st->st_mode);
	FUZZ_CHECK(flag != FTW_DNR && flag != FTW_NS);
	FUZZ_CHECK(st->st_uid == geteuid());
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);

		FUZZ_CHECK(n > 0);
		target[n] = '\0';
		FUZZ_CHECK(target[0] != '/');
		/* where it leads, when it leads anywhere, is inside */
		if (realpath(path, real) != NULL)
			FUZZ_CHECK(strncmp(real, root, root_len) == 0 &&
			    (real[root_len] == '\0' || real[root_len] == '/'));
		return 0;
	}
	FUZZ_CHECK(S_ISDIR(st->st_mode) || S_ISREG(st->st_mode));
	/* no setuid/setgid/sticky bit, nothing writable by others */
	FUZZ_CHECK((st->st_mode & 07022) == 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unpack_limits lim;
	enum unpack_status st;
	const char *path, *dest;
	char scratch[PATH_MAX];

	fuzz_log_sample();
	if (size > INPUT_MAX)
		return 0;
	unpack_limits_default(&lim);
	lim.max_entries = 256;
	lim.max_size = 8u << 20;
	/* into the release root or a directory of it, as [unpack] allows */
	dest = size & 1 ? "srv/app" : "";
	path = fuzz_write_file("archive", data, size);
	FUZZ_CHECK(snprintf(scratch, sizeof(scratch), "%s/root-XXXXXX",
	    fuzz_scratch()) < (int)sizeof(scratch));
	FUZZ_CHECK(mkdtemp(scratch) != NULL);
	FUZZ_CHECK(realpath(scratch, root) != NULL);
	root_len = strlen(root);
	st = unpack_file(path, "fuzz.tar", root, dest, &lim);
	FUZZ_CHECK(st == UNPACK_OK || st == UNPACK_REFUSED);
	if (st == UNPACK_OK) {
		entries = 0;
		FUZZ_CHECK(nftw(root, check_one, 16, FTW_PHYS) == 0);
		FUZZ_CHECK((uint64_t)entries <= lim.max_entries + 3);
	} else {
		/* a refused archive leaves nothing behind */
		FUZZ_CHECK(is_empty_dir(root));
	}
	FUZZ_CHECK(fuzz_rm_tree(root) == 0);
	return 0;
}
