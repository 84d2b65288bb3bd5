/*
 * release_seal.h — private to the release module (release.c and
 * release_seal.c): reading a seal, and making a tree deletable again.
 */
#ifndef GREENLIGHT_RELEASE_SEAL_H
#define GREENLIGHT_RELEASE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "release.h"

/* What a seal (RELEASE_SEAL) records. */
struct release_seal_info {
	char name[RELEASE_NAME_MAX + 1];
	uint64_t files, bytes;
	char listing[65];
	int64_t sealed_ms;
	int readonly;
};

/* Read dir's seal into s: 0, or -1 when missing or malformed (why set). */
int release_seal_read(const char *dir, struct release_seal_info *s,
    char *why, size_t whysz);
/* Give every directory under top (and top) u+rwx so it can be removed. */
int release_tree_writable(const char *top);

#endif
