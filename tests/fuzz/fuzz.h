/*
 * fuzz.h — what the libFuzzer targets in tests/fuzz share: a private
 * scratch directory (removed at exit), writing an input to a file there,
 * removing a tree, and a check that stops the run when a parser breaks its
 * own contract. Header-only: each target is one executable.
 */
#ifndef GREENLIGHT_FUZZ_H
#define GREENLIGHT_FUZZ_H

#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional (libFuzzer calls it when a target defines it) */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A parser broke its contract: say which, and crash so libFuzzer saves it. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz: %s:%d: check failed: %s\n",   \
			    __FILE__, __LINE__, #cond);                        \
			abort();                                               \
		}                                                              \
	} while (0)

static char fuzz_dir[4096];

/*
 * Logging formats and redacts every line, which costs more than most
 * parsers: log one input in 8 (the first among them, so a crash in a log
 * call reproduces when its input is run alone), every one with FUZZ_LOG=1
 * in the environment. Call at the start of each input.
 */
static inline void
fuzz_log_sample(void)
{
	static unsigned long n;
	static int all = -1;

	if (all < 0)
		all = getenv("FUZZ_LOG") != NULL;
	log_quiet(!all && n++ % 8 != 0);
}

static inline int
fuzz_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

/* Remove the tree at path (no symlinks followed). 0 or -1. */
static inline int
fuzz_rm_tree(const char *path)
{
	/* the tree may hold directories without write or search bits */
	return nftw(path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void
fuzz_dir_remove(void)
{
	if (fuzz_dir[0] != '\0')
		fuzz_rm_tree(fuzz_dir);
}

/*
 * The scratch directory of this process: $TMPDIR, else /dev/shm (no disk
 * writes per input), else /tmp. Created on first use, removed at exit.
 */
static inline const char *
fuzz_scratch(void)
{
	const char *base = getenv("TMPDIR");
	int n;

	if (fuzz_dir[0] != '\0')
		return fuzz_dir;
	if (base == NULL || *base == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	n = snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/gl-fuzz-XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof(fuzz_dir) || mkdtemp(fuzz_dir) ==
	    NULL) {
		perror("fuzz: scratch directory");
		abort();
	}
	atexit(fuzz_dir_remove);
	return fuzz_dir;
}

/* Replace the file name (in the scratch directory) with data; its path. */
static inline const char *
fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[4200];
	size_t off = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", fuzz_scratch(), name) >=
	    (int)sizeof(path)) {
		fprintf(stderr, "fuzz: %s: name too long\n", name);
		abort();
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);

		if (w <= 0) {
			perror(path);
			abort();
		}
		off += (size_t)w;
	}
	close(fd);
	return path;
}

/*
 * 1 when rel is a path that stays below a directory: not empty, no leading
 * '/', no empty, "." or ".." segment, no control character.
 */
static inline int
fuzz_rel_safe(const char *rel)
{
	const char *seg = rel;

	if (*rel == '\0' || *rel == '/')
		return 0;
	for (const char *c = rel;; c++) {
		if (*c == '/' || *c == '\0') {
			size_t n = (size_t)(c - seg);

			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return 0;
			if (*c == '\0')
				return 1;
			seg = c + 1;
		} else if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			return 0;
		}
	}
}

/* A NUL-terminated copy of data (the parsers' callers always have one). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
