/*
 * digest.h — OpenSSL hashes (the only OpenSSL user besides TLS inside
 * libcurl): streaming MD5 + SHA-256, base64/hex, and the release MANIFEST
 * ("sha256  size  path" lines).
 */
#ifndef GREENLIGHT_DIGEST_H
#define GREENLIGHT_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_MD5 0x1
#define DIGEST_SHA256 0x2

struct digest;

struct digest *digest_new(unsigned algos);
void digest_update(struct digest *d, const void *p, size_t n);
/* Finish; md5 (16 bytes) / sha256 (32 bytes) may be NULL when not wanted. */
void digest_final(struct digest *d, unsigned char *md5, unsigned char *sha256);
void digest_free(struct digest *d);
/* Hash a file (or its first len bytes when len >= 0). 0/-1 (logged). */
int digest_file(const char *path, unsigned algos, unsigned char *md5,
    unsigned char *sha256);

/* Lower-case hex of n bytes into out (2n+1). */
void digest_hex(const unsigned char *p, size_t n, char *out);
/* Base64 of n bytes into out (4*ceil(n/3)+1). */
void digest_base64(const unsigned char *p, size_t n, char *out, size_t outsz);
/* Decode base64 into out; returns bytes written or -1. */
int digest_unbase64(const char *s, unsigned char *out, size_t outsz);

struct manifest_entry {
	char *path;
	uint64_t size;
	unsigned char sha256[32];
	int seen; /* for "none missing" checks by the caller */
};

struct manifest {
	struct manifest_entry *v;
	size_t n;
};

/*
 * Parse MANIFEST text: "<64 hex>  <size>  <path>" per line; '#' comments
 * and blank lines allowed; paths relative, no "..", no duplicates. Returns
 * 0, or -1 with "line N: what" in err.
 */
int manifest_parse(const char *text, size_t len, struct manifest *m,
    char *err, size_t errsz);
struct manifest_entry *manifest_find(struct manifest *m, const char *path);
void manifest_free(struct manifest *m);

#endif
