/* digest.c — OpenSSL EVP hashes, hex/base64, and the release MANIFEST. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent.h"
#include "digest.h"
#include "log.h"

#define FILE_BUF (256 * 1024)
/* A MANIFEST has one line per file; cap lines and entries. */
#define MANIFEST_LINE_MAX 8192
#define MANIFEST_ENTRIES_MAX 1000000

struct digest {
	EVP_MD_CTX *md5;
	EVP_MD_CTX *sha256;
};

struct digest *
digest_new(unsigned algos)
{
	struct digest *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	if (algos & DIGEST_MD5) {
		d->md5 = EVP_MD_CTX_new();
		if (d->md5 == NULL ||
		    EVP_DigestInit_ex(d->md5, EVP_md5(), NULL) != 1)
			goto fail;
	}
	if (algos & DIGEST_SHA256) {
		d->sha256 = EVP_MD_CTX_new();
		if (d->sha256 == NULL ||
		    EVP_DigestInit_ex(d->sha256, EVP_sha256(), NULL) != 1)
			goto fail;
	}
	return d;
fail:
	digest_free(d);
	return NULL;
}

void
digest_update(struct digest *d, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (d->md5 != NULL)
		EVP_DigestUpdate(d->md5, p, n);
	if (d->sha256 != NULL)
		EVP_DigestUpdate(d->sha256, p, n);
}

void
digest_final(struct digest *d, unsigned char *md5, unsigned char *sha256)
{
	unsigned char scratch[EVP_MAX_MD_SIZE];
	unsigned int len;

	if (d->md5 != NULL)
		EVP_DigestFinal_ex(d->md5, md5 != NULL ? md5 : scratch, &len);
	if (d->sha256 != NULL)
		EVP_DigestFinal_ex(d->sha256, sha256 != NULL ? sha256 : scratch,
		    &len);
}

void
digest_free(struct digest *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->md5);
	EVP_MD_CTX_free(d->sha256);
	free(d);
}

int
digest_file(const char *path, unsigned algos, unsigned char *md5,
    unsigned char *sha256)
{
	struct digest *d = NULL;
	unsigned char *buf = NULL;
	int fd = -1, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	buf = malloc(FILE_BUF);
	d = digest_new(algos);
	if (buf == NULL || d == NULL) {
		log_error("%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, FILE_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("%s: read failed: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		digest_update(d, buf, (size_t)n);
	}
	digest_final(d, md5, sha256);
	rc = 0;
out:
	digest_free(d);
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

void
digest_hex(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
digest_base64(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	size_t need = 4 * ((n + 2) / 3) + 1;

	if (outsz == 0)
		return;
	if (outsz < need || n > 0x3fffffff) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
digest_unbase64(const char *s, unsigned char *out, size_t outsz)
{
	size_t len = strlen(s), o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v;

		if (s[i] == '=') {
			/* padding only at the end, at most two */
			if (i < len - 2)
				return -1;
			pad++;
			continue;
		}
		if (pad > 0)
			return -1;
		v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outsz)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* leftover bits must be zero (canonical encoding) */
	if (acc != 0)
		return -1;
	return (int)o;
}

/* --- MANIFEST --- */

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A release-relative path: not empty, not absolute, no "." / ".." parts. */
static const char *
path_problem(const char *p)
{
	const char *seg = p;

	if (*p == '\0')
		return "empty path";
	if (*p == '/')
		return "absolute path";
	for (const char *c = p;; c++) {
		if (*c == '/' || *c == '\0') {
			size_t n = (size_t)(c - seg);

			if (n == 0)
				return "empty path segment (\"//\" or "
				    "trailing '/')";
			if (n == 2 && seg[0] == '.' && seg[1] == '.')
				return "path contains \"..\"";
			if (n == 1 && seg[0] == '.')
				return "path contains \".\"";
			if (*c == '\0')
				break;
			seg = c + 1;
		}
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "control character in path";
	}
	return NULL;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct manifest_entry *x = a, *y = b;

	return strcmp(x->path, y->path);
}

/* Parse one non-comment line into e; NULL or what is wrong. */
static const char *
line_parse(const char *s, size_t n, struct manifest_entry *e)
{
	const char *p = s, *end = s + n, *num, *path;
	uint64_t size = 0;
	const char *why;
	char *copy;

	for (int i = 0; i < 32; i++) {
		int hi, lo;

		if (end - p < 2)
			return "expected 64 hex digits of SHA-256";
		hi = hex_value(p[0]);
		lo = hex_value(p[1]);
		if (hi < 0 || lo < 0)
			return "expected 64 hex digits of SHA-256";
		e->sha256[i] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	if (end - p < 2 || p[0] != ' ' || p[1] != ' ')
		return "expected two spaces after the SHA-256";
	p += 2;
	num = p;
	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (size > (UINT64_MAX - d) / 10)
			return "size too large";
		size = size * 10 + d;
		p++;
	}
	if (p == num)
		return "expected a decimal size";
	if (end - p < 2 || p[0] != ' ' || p[1] != ' ')
		return "expected two spaces after the size";
	p += 2;
	path = p;
	copy = strndup(path, (size_t)(end - path));
	if (copy == NULL)
		return "out of memory";
	if (strlen(copy) != (size_t)(end - path)) {
		free(copy);
		return "NUL byte in path";
	}
	why = path_problem(copy);
	if (why != NULL) {
		free(copy);
		return why;
	}
	e->path = copy;
	e->size = size;
	e->seen = 0;
	return NULL;
}

int
manifest_parse(const char *text, size_t len, struct manifest *m,
    char *err, size_t errsz)
{
	const char *p = text, *end = text + len;
	size_t cap = 0, lineno = 0;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	err[0] = '\0';
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		struct manifest_entry e;
		const char *why;

		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > MANIFEST_LINE_MAX) {
			snprintf(err, errsz, "line %zu: line too long", lineno);
			goto out;
		}
		if (n == 0 || p[0] == '#') {
			p = eol ? eol + 1 : end;
			continue;
		}
		memset(&e, 0, sizeof(e));
		why = line_parse(p, n, &e);
		if (why != NULL) {
			snprintf(err, errsz, "line %zu: %s", lineno, why);
			goto out;
		}
		if (m->n >= MANIFEST_ENTRIES_MAX) {
			free(e.path);
			snprintf(err, errsz, "line %zu: too many entries",
			    lineno);
			goto out;
		}
		if (m->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct manifest_entry *nv;

			nv = realloc(m->v, ncap * sizeof(*nv));
			if (nv == NULL) {
				free(e.path);
				snprintf(err, errsz, "line %zu: out of memory",
				    lineno);
				goto out;
			}
			m->v = nv;
			cap = ncap;
		}
		/* seen holds the line number until parsing is done */
		e.seen = (int)lineno;
		m->v[m->n++] = e;
		p = eol ? eol + 1 : end;
	}
	if (m->n > 1) {
		qsort(m->v, m->n, sizeof(*m->v), entry_cmp);
		for (size_t i = 1; i < m->n; i++) {
			const struct manifest_entry *a = &m->v[i - 1];
			const struct manifest_entry *b = &m->v[i];

			if (strcmp(a->path, b->path) == 0) {
				/* report the later of the two lines */
				snprintf(err, errsz, "line %d: duplicate path "
				    "\"%s\" (first on line %d)",
				    a->seen > b->seen ? a->seen : b->seen,
				    a->path,
				    a->seen < b->seen ? a->seen : b->seen);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < m->n; i++)
		m->v[i].seen = 0;
	rc = 0;
out:
	if (rc < 0)
		manifest_free(m);
	return rc;
}

struct manifest_entry *
manifest_find(struct manifest *m, const char *path)
{
	struct manifest_entry key;

	if (m->n == 0)
		return NULL;
	key.path = (char *)path;
	return bsearch(&key, m->v, m->n, sizeof(*m->v), entry_cmp);
}

void
manifest_free(struct manifest *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}
