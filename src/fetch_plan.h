/*
 * fetch_plan.h — the pure parts of the fetch engine, kept apart so tests can
 * drive them with tables: which blob names are safe to write below DIR, how
 * a blob splits into ranges, the torn-write checksum, and the staging
 * journal (what is already downloaded, and of which blob version).
 */
#ifndef GREENLIGHT_FETCH_PLAN_H
#define GREENLIGHT_FETCH_PLAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * 0 when rel is a relative path that stays below the destination: no
 * leading '/', no empty, "." or ".." segment, no trailing '/', no control
 * characters, at most 1024 bytes. -1 with the reason in err otherwise.
 */
int fetch_path_check(const char *rel, char *err, size_t errsz);

/*
 * 1 when a name in sorted (strcmp order) is also a directory of another
 * ("a" and "a/b"): *file and *under get their indexes. 0 when none.
 */
int fetch_paths_conflict(const char *const *sorted, size_t n, size_t *file,
    size_t *under);

/* Number of ranges a blob of size bytes splits into (a 0-byte blob: 1). */
uint32_t fetch_range_count(uint64_t size, uint64_t chunk);
/* Offset and length of range i of a blob of size bytes. */
void fetch_range_get(uint64_t size, uint64_t chunk, uint32_t i,
    uint64_t *off, uint64_t *len);

/*
 * A fast 64-bit checksum (XXH64) of what was written, kept per range in the
 * journal so data reused after a crash is never trusted unread.
 */
struct fetch_sum {
	uint64_t v[4];
	uint64_t total;
	unsigned char buf[32];
	unsigned buflen;
};
void fetch_sum_init(struct fetch_sum *s);
void fetch_sum_update(struct fetch_sum *s, const void *p, size_t n);
uint64_t fetch_sum_final(const struct fetch_sum *s);
uint64_t fetch_sum_of(const void *p, size_t n);

/*
 * The journal: text lines, each ending in " ~<checksum of the line>", so a
 * torn or damaged line is skipped rather than believed.
 *   greenlight-fetch 1 <key>          first line: which release this is
 *   B <id> <size> <chunk> <etag> <name>  blob version <id> was started
 *   R <id> <range> <len> <sum>        that range is complete in staging
 *   X <id>                            blob version <id> was thrown away
 * Names and etags are %-escaped (bytes <= ' ', '%', DEL).
 */
#define FETCH_JOURNAL_LINE_MAX 4096

struct fetch_jblob {
	char *name;
	uint64_t size;
	uint64_t chunk;
	char etag[96];
	uint32_t nranges;
	unsigned char *done; /* per range: 1 when complete */
	uint64_t *sums;	     /* per range: checksum when complete */
	unsigned id;
};

struct fetch_journal {
	struct fetch_jblob *v; /* sorted by name, one (the latest) per name */
	size_t n;
	unsigned max_id;   /* highest id seen */
	int bad_lines;	   /* torn or damaged lines skipped */
	int key_mismatch;  /* the first line names another release */
};

/*
 * Parse journal text written for key (endpoint/container/release). A
 * journal for another key parses as empty with key_mismatch set. Returns 0,
 * or -1 on allocation failure.
 */
int fetch_journal_parse(const char *text, size_t len, const char *key,
    struct fetch_journal *j);
/* The latest version recorded for name, or NULL. */
struct fetch_jblob *fetch_journal_find(struct fetch_journal *j,
    const char *name);
void fetch_journal_free(struct fetch_journal *j);

/*
 * Format one journal line (with its checksum and '\n') into out; returns
 * its length, or -1 when it does not fit.
 */
int fetch_journal_fmt_head(char *out, size_t outsz, const char *key);
int fetch_journal_fmt_blob(char *out, size_t outsz, unsigned id,
    uint64_t size, uint64_t chunk, const char *etag, const char *name);
int fetch_journal_fmt_range(char *out, size_t outsz, unsigned id,
    uint32_t range, uint64_t len, uint64_t sum);
int fetch_journal_fmt_reset(char *out, size_t outsz, unsigned id);

#endif
