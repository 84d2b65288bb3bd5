/* fetch_plan.c — path safety, range arithmetic, checksum and journal format. */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch_plan.h"

#define NAME_MAX_BYTES 1024
#define SEGMENT_MAX 255
#define JOURNAL_ID_MAX (1u << 24)
#define JOURNAL_RANGES_MAX (1u << 24)

int
fetch_path_check(const char *rel, char *err, size_t errsz)
{
	const char *seg = rel, *why = NULL;
	size_t len = strlen(rel);

	if (len == 0)
		why = "the name is empty below the release folder";
	else if (len > NAME_MAX_BYTES)
		why = "the name is longer than 1024 bytes";
	else if (rel[0] == '/')
		why = "the name is absolute (starts with '/')";
	for (const char *p = rel; why == NULL; p++) {
		if (*p != '/' && *p != '\0') {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				why = "the name contains a control character";
			continue;
		}
		if (p == seg)
			why = "the name has an empty path segment ('//' or a "
			    "trailing '/')";
		else if (p - seg == 1 && seg[0] == '.')
			why = "the name has a '.' path segment";
		else if (p - seg == 2 && seg[0] == '.' && seg[1] == '.')
			why = "the name has a '..' path segment (it would "
			    "leave the destination)";
		else if (p - seg > SEGMENT_MAX)
			why = "a path segment is longer than 255 bytes";
		if (*p == '\0')
			break;
		seg = p + 1;
	}
	if (why == NULL)
		return 0;
	snprintf(err, errsz, "%s", why);
	return -1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
fetch_paths_conflict(const char *const *sorted, size_t n, size_t *file,
    size_t *under)
{
	char buf[NAME_MAX_BYTES + 1];

	for (size_t i = 0; i < n; i++) {
		const char *s = sorted[i];

		for (const char *p = strchr(s, '/'); p != NULL;
		    p = strchr(p + 1, '/')) {
			const char *key = buf;
			const char *const *hit;
			size_t plen = (size_t)(p - s);

			if (plen >= sizeof(buf))
				break;
			memcpy(buf, s, plen);
			buf[plen] = '\0';
			hit = bsearch(&key, sorted, n, sizeof(*sorted),
			    cmp_str);
			if (hit != NULL) {
				*file = (size_t)(hit - sorted);
				*under = i;
				return 1;
			}
		}
	}
	return 0;
}

uint32_t
fetch_range_count(uint64_t size, uint64_t chunk)
{
	uint64_t n;

	if (size == 0 || chunk == 0)
		return 1;
	n = size / chunk + (size % chunk != 0);
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

void
fetch_range_get(uint64_t size, uint64_t chunk, uint32_t i, uint64_t *off,
    uint64_t *len)
{
	uint64_t o = chunk == 0 ? 0 : (uint64_t)i * chunk;

	if (o > size)
		o = size;
	*off = o;
	*len = chunk == 0 ? size : (size - o < chunk ? size - o : chunk);
}

/*
 * XXH64 (seed 0), from the published specification. Not a security
 * measure: it tells a torn write after a crash from good data, quickly.
 */
#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static inline uint64_t
rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t
rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline uint32_t
rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t
xround(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl64(acc, 31);
	return acc * P1;
}

static inline uint64_t
xmerge(uint64_t acc, uint64_t v)
{
	acc ^= xround(0, v);
	return acc * P1 + P4;
}

void
fetch_sum_init(struct fetch_sum *s)
{
	memset(s, 0, sizeof(*s));
	s->v[0] = P1 + P2;
	s->v[1] = P2;
	s->v[2] = 0;
	s->v[3] = 0 - P1;
}

static void
sum_blocks(struct fetch_sum *s, const unsigned char *p, size_t n)
{
	uint64_t v0 = s->v[0], v1 = s->v[1], v2 = s->v[2], v3 = s->v[3];

	for (; n >= 32; p += 32, n -= 32) {
		v0 = xround(v0, rd64(p));
		v1 = xround(v1, rd64(p + 8));
		v2 = xround(v2, rd64(p + 16));
		v3 = xround(v3, rd64(p + 24));
	}
	s->v[0] = v0;
	s->v[1] = v1;
	s->v[2] = v2;
	s->v[3] = v3;
}

void
fetch_sum_update(struct fetch_sum *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	s->total += n;
	if (s->buflen + n < 32) {
		memcpy(s->buf + s->buflen, p, n);
		s->buflen += (unsigned)n;
		return;
	}
	if (s->buflen > 0) {
		size_t fill = 32 - s->buflen;

		memcpy(s->buf + s->buflen, p, fill);
		sum_blocks(s, s->buf, 32);
		p += fill;
		n -= fill;
		s->buflen = 0;
	}
	sum_blocks(s, p, n & ~(size_t)31);
	p += n & ~(size_t)31;
	n &= 31;
	memcpy(s->buf, p, n);
	s->buflen = (unsigned)n;
}

uint64_t
fetch_sum_final(const struct fetch_sum *s)
{
	const unsigned char *p = s->buf;
	unsigned rem = s->buflen;
	uint64_t h;

	if (s->total >= 32) {
		h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) +
		    rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
		for (int i = 0; i < 4; i++)
			h = xmerge(h, s->v[i]);
	} else {
		h = s->v[2] + P5;
	}
	h += s->total;
	for (; rem >= 8; p += 8, rem -= 8) {
		h ^= xround(0, rd64(p));
		h = rotl64(h, 27) * P1 + P4;
	}
	if (rem >= 4) {
		h ^= (uint64_t)rd32(p) * P1;
		h = rotl64(h, 23) * P2 + P3;
		p += 4;
		rem -= 4;
	}
	for (; rem > 0; p++, rem--) {
		h ^= (uint64_t)*p * P5;
		h = rotl64(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

uint64_t
fetch_sum_of(const void *p, size_t n)
{
	struct fetch_sum s;

	fetch_sum_init(&s);
	fetch_sum_update(&s, p, n);
	return fetch_sum_final(&s);
}

/* ---- journal lines ---- */

static int
needs_escape(unsigned char c)
{
	return c <= ' ' || c == '%' || c == 0x7f;
}

/* %-escape s into out; -1 when it does not fit. */
static int
escape(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (o + 4 > outsz)
			return -1;
		if (needs_escape(c)) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (o + 1 > outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undo escape() in place; -1 on a malformed escape or a NUL byte. */
static int
unescape(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		if (hexval(p[1]) < 0 || hexval(p[2]) < 0)
			return -1;
		*o = (char)(hexval(p[1]) << 4 | hexval(p[2]));
		if (*o == '\0')
			return -1;
		o++;
		p += 2;
	}
	*o = '\0';
	return 0;
}

/* Append " ~<sum>\n" to the line in out (length n). */
static int
seal(char *out, size_t outsz, int n)
{
	int m;

	if (n < 0 || (size_t)n >= outsz)
		return -1;
	m = snprintf(out + n, outsz - (size_t)n, " ~%016" PRIx64 "\n",
	    fetch_sum_of(out, (size_t)n));
	if (m < 0 || (size_t)(n + m) >= outsz)
		return -1;
	return n + m;
}

int
fetch_journal_fmt_head(char *out, size_t outsz, const char *key)
{
	char k[FETCH_JOURNAL_LINE_MAX];

	if (escape(key, k, sizeof(k)) < 0)
		return -1;
	return seal(out, outsz, snprintf(out, outsz, "greenlight-fetch 1 %s",
	    k));
}

int
fetch_journal_fmt_blob(char *out, size_t outsz, unsigned id, uint64_t size,
    uint64_t chunk, const char *etag, const char *name)
{
	char e[300], nm[NAME_MAX_BYTES * 3 + 1];

	if (escape(etag, e, sizeof(e)) < 0 || escape(name, nm, sizeof(nm)) < 0)
		return -1;
	return seal(out, outsz, snprintf(out, outsz,
	    "B %u %" PRIu64 " %" PRIu64 " %s %s", id, size, chunk,
	    e[0] ? e : "%20", nm));
}

int
fetch_journal_fmt_range(char *out, size_t outsz, unsigned id,
    uint32_t range, uint64_t len, uint64_t sum)
{
	return seal(out, outsz, snprintf(out, outsz,
	    "R %u %" PRIu32 " %" PRIu64 " %016" PRIx64, id, range, len, sum));
}

int
fetch_journal_fmt_reset(char *out, size_t outsz, unsigned id)
{
	return seal(out, outsz, snprintf(out, outsz, "X %u", id));
}

/* ---- journal parsing ---- */

struct jparse {
	struct fetch_jblob *all; /* every B record, in order */
	size_t n, cap;
	size_t *by_id;		 /* id -> index + 1 (0: none) */
	size_t nid;
	unsigned char *dead;	 /* per entry of all */
};

static void
jblob_clear(struct fetch_jblob *b)
{
	free(b->name);
	free(b->done);
	free(b->sums);
	memset(b, 0, sizeof(*b));
}

static int
split(char *line, char **tok, int max)
{
	int n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		tok[n++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	while (*p == ' ')
		p++;
	return *p ? -1 : n;
}

static int
u64_of(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int
hex64_of(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (strlen(s) != 16)
		return -1;
	for (; *s; s++) {
		int h = hexval(*s);

		if (h < 0)
			return -1;
		v = v << 4 | (uint64_t)h;
	}
	*out = v;
	return 0;
}

static struct fetch_jblob *
jp_get(struct jparse *jp, uint64_t id, size_t *idx)
{
	if (id == 0 || id >= jp->nid || jp->by_id[id] == 0)
		return NULL;
	*idx = jp->by_id[id] - 1;
	return jp->dead[*idx] ? NULL : &jp->all[*idx];
}

/* A B record; 0, or -1 on allocation failure (bad fields are skipped). */
static int
jp_blob(struct jparse *jp, char **tok, int *bad)
{
	uint64_t id, size, chunk;
	struct fetch_jblob b;
	uint32_t nr;

	memset(&b, 0, sizeof(b));
	if (u64_of(tok[1], &id) < 0 || id == 0 || id >= JOURNAL_ID_MAX ||
	    u64_of(tok[2], &size) < 0 || u64_of(tok[3], &chunk) < 0 ||
	    chunk == 0 || unescape(tok[4]) < 0 || unescape(tok[5]) < 0 ||
	    strlen(tok[4]) >= sizeof(b.etag) || tok[5][0] == '\0') {
		(*bad)++;
		return 0;
	}
	nr = fetch_range_count(size, chunk);
	if (nr > JOURNAL_RANGES_MAX) {
		(*bad)++;
		return 0;
	}
	if (id >= jp->nid) {
		size_t nn = id + 64;
		size_t *nb = realloc(jp->by_id, nn * sizeof(*nb));

		if (nb == NULL)
			return -1;
		memset(nb + jp->nid, 0, (nn - jp->nid) * sizeof(*nb));
		jp->by_id = nb;
		jp->nid = nn;
	}
	if (jp->n == jp->cap) {
		size_t nc = jp->cap ? jp->cap * 2 : 64;
		struct fetch_jblob *na = realloc(jp->all, nc * sizeof(*na));
		unsigned char *nd;

		if (na == NULL)
			return -1;
		jp->all = na;
		nd = realloc(jp->dead, nc);
		if (nd == NULL)
			return -1;
		jp->dead = nd;
		jp->cap = nc;
	}
	b.id = (unsigned)id;
	b.size = size;
	b.chunk = chunk;
	b.nranges = nr;
	snprintf(b.etag, sizeof(b.etag), "%s", strcmp(tok[4], " ") == 0 ?
	    "" : tok[4]);
	b.name = strdup(tok[5]);
	b.done = calloc(nr, 1);
	b.sums = calloc(nr, sizeof(*b.sums));
	if (b.name == NULL || b.done == NULL || b.sums == NULL) {
		jblob_clear(&b);
		return -1;
	}
	/* an id used twice: the older version is void */
	if (jp->by_id[id] != 0)
		jp->dead[jp->by_id[id] - 1] = 1;
	jp->all[jp->n] = b;
	jp->dead[jp->n] = 0;
	jp->by_id[id] = ++jp->n;
	return 0;
}

/* One journal line; 0, or -1 on allocation failure. */
static int
jp_line(struct jparse *jp, char *line, const char *key, int first,
    struct fetch_journal *j)
{
	char *tok[8], *mark;
	uint64_t sum, id, r, len, rsum;
	struct fetch_jblob *b;
	size_t idx;
	int n;

	mark = strrchr(line, ' ');
	if (mark == NULL || mark[1] != '~' || hex64_of(mark + 2, &sum) < 0 ||
	    fetch_sum_of(line, (size_t)(mark - line)) != sum) {
		j->bad_lines++;
		return 0;
	}
	*mark = '\0';
	n = split(line, tok, 8);
	if (first) {
		if (n != 3 || strcmp(tok[0], "greenlight-fetch") != 0 ||
		    strcmp(tok[1], "1") != 0 || unescape(tok[2]) < 0 ||
		    strcmp(tok[2], key) != 0)
			j->key_mismatch = 1;
		return 0;
	}
	if (n == 6 && strcmp(tok[0], "B") == 0)
		return jp_blob(jp, tok, &j->bad_lines);
	if (n == 5 && strcmp(tok[0], "R") == 0 && u64_of(tok[1], &id) == 0 &&
	    u64_of(tok[2], &r) == 0 && u64_of(tok[3], &len) == 0 &&
	    hex64_of(tok[4], &rsum) == 0 &&
	    (b = jp_get(jp, id, &idx)) != NULL && r < b->nranges) {
		uint64_t off, want;

		fetch_range_get(b->size, b->chunk, (uint32_t)r, &off, &want);
		if (want == len) {
			b->done[r] = 1;
			b->sums[r] = rsum;
			return 0;
		}
	}
	if (n == 2 && strcmp(tok[0], "X") == 0 && u64_of(tok[1], &id) == 0 &&
	    (b = jp_get(jp, id, &idx)) != NULL) {
		jp->dead[idx] = 1;
		return 0;
	}
	j->bad_lines++;
	return 0;
}

static int
cmp_jblob(const void *a, const void *b)
{
	const struct fetch_jblob *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	/* same name: the newer version (larger id) last */
	return x->id < y->id ? -1 : x->id > y->id;
}

int
fetch_journal_parse(const char *text, size_t len, const char *key,
    struct fetch_journal *j)
{
	struct jparse jp;
	char line[FETCH_JOURNAL_LINE_MAX];
	size_t pos = 0, keep = 0;
	int first = 1, rc = -1;

	memset(j, 0, sizeof(*j));
	memset(&jp, 0, sizeof(jp));
	while (pos < len && !j->key_mismatch) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll;

		if (nl == NULL) {
			/* torn last line */
			j->bad_lines++;
			break;
		}
		ll = (size_t)(nl - (text + pos));
		if (ll >= sizeof(line) || memchr(text + pos, '\0', ll)) {
			j->bad_lines++;
		} else {
			memcpy(line, text + pos, ll);
			line[ll] = '\0';
			if (jp_line(&jp, line, key, first, j) < 0)
				goto out;
		}
		if (first && j->bad_lines > 0)
			j->key_mismatch = 1;
		first = 0;
		pos += ll + 1;
	}
	if (first)
		j->key_mismatch = len > 0;
	if (j->key_mismatch) {
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < jp.n; i++)
		if (jp.all[i].id > j->max_id)
			j->max_id = jp.all[i].id;
	/* dead versions go; of the rest keep the newest per name */
	for (size_t i = 0; i < jp.n; i++) {
		if (jp.dead[i]) {
			/* a name whose newest version is dead has none */
			free(jp.all[i].done);
			jp.all[i].done = NULL;
		}
	}
	if (jp.n > 1)
		qsort(jp.all, jp.n, sizeof(*jp.all), cmp_jblob);
	for (size_t i = 0; i < jp.n; i++) {
		int newest = i + 1 == jp.n ||
		    strcmp(jp.all[i].name, jp.all[i + 1].name) != 0;

		if (newest && jp.all[i].done != NULL)
			jp.all[keep++] = jp.all[i];
		else
			jblob_clear(&jp.all[i]);
	}
	j->v = jp.all;
	j->n = keep;
	jp.all = NULL;
	jp.n = 0;
	rc = 0;
out:
	for (size_t i = 0; i < jp.n; i++)
		jblob_clear(&jp.all[i]);
	free(jp.all);
	free(jp.by_id);
	free(jp.dead);
	if (rc < 0)
		memset(j, 0, sizeof(*j));
	return rc;
}

struct fetch_jblob *
fetch_journal_find(struct fetch_journal *j, const char *name)
{
	size_t lo = 0, hi = j->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, j->v[mid].name);

		if (c == 0)
			return &j->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void
fetch_journal_free(struct fetch_journal *j)
{
	for (size_t i = 0; i < j->n; i++)
		jblob_clear(&j->v[i]);
	free(j->v);
	memset(j, 0, sizeof(*j));
}
