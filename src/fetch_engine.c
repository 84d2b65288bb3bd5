/*
 * fetch_engine.c — moves the bytes: hands ranges to a fixed set of
 * transfer slots ([fetch] connections), gathers each response and pwrites
 * it into its staging file, retries what is transient, restarts a blob
 * whose ETag changed, and journals every completed range.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "auth.h"
#include "clock.h"
#include "fetch_hash.h"
#include "fetch_int.h"
#include "log.h"
#include "parse.h"

#define RUN_SLICE_MS 200
/* how often to look for digests the helper thread has finished */
#define VERIFY_POLL_MS 2

/* Forget what s was doing (aborting its transfer); keep its buffer. */
void
fslot_release(struct fslot *s)
{
	struct fetch *f = s->f;
	unsigned char *buf = s->buf;

	if (s->x != NULL)
		http_xfer_free(s->x);
	memset(s, 0, sizeof(*s));
	s->f = f;
	s->buf = buf;
}

/* ---- one transfer ---- */

/* Write what s has buffered to its place in the staging file. */
static int
slot_flush(struct fetch *f, struct fslot *s)
{
	struct fblob *b = s->b;
	uint64_t pos = s->off + s->got;
	const unsigned char *p = s->buf;
	size_t n = s->buffered, left = n;

	while (left > 0) {
		ssize_t w = pwrite(b->fd, p, left, (off_t)(pos + (n - left)));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			char path[PATH_MAX];

			stage_path(f, b, path, sizeof(path));
			fetch_write_failed(f, path, w < 0 ? errno : ENOSPC);
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	fetch_sum_update(&s->sum, s->buf, n);
	s->got += n;
	s->buffered = 0;
	if (b->contig != pos || n == 0)
		return 0;
	/* the contiguous prefix grows: hash from memory if nobody else does */
	if (b->h != NULL && (f->hasher == NULL || b->hash_inline) &&
	    b->hashq == pos) {
		fhash_update_mem(b->h, s->buf, n);
		b->hashq += n;
	}
	b->contig += n;
	fblob_watch(f, b, 0);
	return fblob_hash_feed(f, b);
}

static int
slot_sink(void *arg, const void *buf, size_t n)
{
	struct fslot *s = arg;
	struct fetch *f = s->f;
	const unsigned char *p = buf;

	if (f->rc != EXIT_OK)
		return -1;
	if (s->got + s->buffered + n > s->len) {
		s->overflow = 1;
		return -1;
	}
	s->b->counted += (int64_t)n;
	f->bytes_done += (int64_t)n;
	f->st.bytes_downloaded += (int64_t)n;
	while (n > 0) {
		size_t k = FETCH_SLOT_BUF - s->buffered;

		if (k > n)
			k = n;
		memcpy(s->buf + s->buffered, p, k);
		s->buffered += k;
		p += k;
		n -= k;
		if (s->buffered == FETCH_SLOT_BUF && slot_flush(f, s) < 0)
			return -1;
	}
	return 0;
}

/*
 * May range b->next start? A blob that is read front to back while it
 * downloads (hashed from its file, or watched by a streaming consumer)
 * keeps its ranges in flight within FETCH_ORDER_AHEAD of its contiguous
 * prefix: lowest offsets first, so the prefix grows steadily and hashing
 * or extraction keep pace with the download, instead of waiting for a
 * wave of ranges that all complete at once and then running on alone
 * after the last byte arrived.
 */
static int
order_window_open(const struct fetch *f, const struct fblob *b)
{
	uint64_t ahead = FETCH_ORDER_AHEAD > f->chunk ? FETCH_ORDER_AHEAD :
	    f->chunk;
	uint64_t off, len;

	if (!b->watched && (b->algos == 0 || b->nranges == 1))
		return 1;
	fetch_range_get(b->e->size, f->chunk, b->next, &off, &len);
	return off + len <= b->contig + ahead;
}

/* Hand the next piece of work to the free slot s; 0 when there is none. */
static int
slot_pick(struct fetch *f, struct fslot *s)
{
	int exhausted = 1; /* every blob before i has nothing to hand out */

	for (size_t i = f->cursor; i < f->nb; i++) {
		struct fblob *b = &f->b[f->order[i]];
		struct retry_policy pol = {
			.base_ms = 250,
			.cap_ms = 30000,
			.max_attempts = FETCH_ATTEMPTS_MAX,
		};

		while (b->state == FB_TODO && b->next < b->nranges &&
		    b->rs[b->next] != FR_TODO)
			b->next++;
		if (b->skip || (b->state != FB_TODO &&
		    b->state != FB_PROBE) || (b->state == FB_TODO &&
		    b->next >= b->nranges)) {
			if (exhausted)
				f->cursor = i + 1;
			continue;
		}
		if (b->state == FB_TODO && !order_window_open(f, b)) {
			exhausted = 0;
			continue;
		}
		pol.deadline_ms = f->deadline_at - clock_mono_ms();
		if (pol.deadline_ms <= 0)
			pol.deadline_ms = 1;
		fslot_release(s);
		s->b = b;
		retry_begin(&s->rs, &pol, NULL);
		if (b->state == FB_PROBE) {
			s->probe = 1;
			b->state = FB_PROBING;
			return 1;
		}
		s->r = b->next++;
		b->rs[s->r] = FR_ACTIVE;
		fetch_range_get(b->e->size, f->chunk, s->r, &s->off, &s->len);
		fetch_sum_init(&s->sum);
		return 1;
	}
	return 0;
}

static int
slot_start(struct fetch *f, struct fslot *s)
{
	struct fblob *b = s->b;
	char ifmatch[160], range[96];
	const char *extra[3];
	const char *const *hdrs;
	struct http_request req;
	char *url = NULL;
	int n = 0, ec = EXIT_OK;

	if (!s->probe && fblob_open(f, b) < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	if (!s->probe && b->e->etag[0] != '\0') {
		snprintf(ifmatch, sizeof(ifmatch), "If-Match: \"%s\"",
		    b->e->etag);
		extra[n++] = ifmatch;
	}
	if (!s->probe && (s->got > 0 || s->len != b->e->size)) {
		snprintf(range, sizeof(range), "Range: bytes=%" PRIu64
		    "-%" PRIu64, s->off + s->got, s->off + s->len - 1);
		extra[n++] = range;
	}
	extra[n] = NULL;
	hdrs = blob_headers(f->bs, extra, &ec);
	if (hdrs == NULL) {
		f->rc = ec != EXIT_OK ? ec : EXIT_FAILURE_;
		return -1;
	}
	s->gen = auth_generation(f->auth);
	url = blob_url(f->bs, b->e->name);
	if (url == NULL) {
		log_error("fetch: out of memory");
		f->rc = EXIT_FAILURE_;
		return -1;
	}
	req.method = s->probe ? "HEAD" : "GET";
	req.url = url;
	req.headers = hdrs;
	req.max_body = 64 * 1024;
	if (!s->probe) {
		req.sink = slot_sink;
		req.sink_arg = s;
	}
	s->overflow = 0;
	s->ranged = !s->probe && (s->got > 0 || s->len != b->e->size);
	s->got_start = s->got;
	s->x = http_xfer_start(f->http, &req, s);
	free(url);
	if (s->x == NULL) {
		f->rc = EXIT_FAILURE_;
		return -1;
	}
	f->st.requests++;
	return 0;
}

/* Copy header name of resp into out, without surrounding quotes. */
static int
header_unquoted(const struct http_response *resp, const char *name,
    char *out, size_t outsz)
{
	char v[256];
	size_t len;
	const char *p = v;

	if (http_response_header(resp, name, v, sizeof(v)) == NULL)
		return -1;
	len = strlen(v);
	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		p = v + 1;
		len -= 2;
	}
	if (len >= outsz)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static int
decimal(const char *s, uint64_t *out)
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

static int64_t
http_date(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%a, %d %b %Y %H:%M:%S", &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

/* A blob changed in storage: take its new properties and plan again. */
static int
probe_done(struct fetch *f, struct fslot *s,
    const struct http_response *resp)
{
	struct fblob *b = s->b;
	struct blob_entry *e = b->e;
	char v[128];
	uint64_t size = 0;
	uint32_t nr;
	unsigned char *rs;

	if (header_unquoted(resp, "ETag", e->etag, sizeof(e->etag)) < 0 ||
	    http_response_header(resp, "Content-Length", v, sizeof(v)) ==
	    NULL || decimal(v, &size) < 0) {
		progress_clear(f->prog);
		log_error("fetch: %s: storage answered without ETag or "
		    "Content-Length; rerun later", e->name);
		f->rc = EXIT_TEMPORARY;
		return -1;
	}
	if (header_unquoted(resp, "Content-MD5", e->md5, sizeof(e->md5)) < 0)
		e->md5[0] = '\0';
	if (http_response_header(resp, "Last-Modified", v, sizeof(v)) != NULL)
		e->mtime = http_date(v);
	if (b->m != NULL && b->m->size != size) {
		progress_clear(f->prog);
		log_error("fetch: %s changed during the download and is now "
		    "%" PRIu64 " bytes; the MANIFEST says %" PRIu64 "; rerun "
		    "once the release upload has finished", e->name, size,
		    b->m->size);
		f->rc = EXIT_INTEGRITY;
		return -1;
	}
	nr = fetch_range_count(size, f->chunk);
	rs = realloc(b->rs, nr);
	if (rs == NULL) {
		f->rc = EXIT_FAILURE_;
		return -1;
	}
	memset(rs, FR_TODO, nr);
	b->rs = rs;
	b->nranges = nr;
	f->st.bytes += (int64_t)size - (int64_t)e->size;
	e->size = size;
	b->algos = fblob_algos(b);
	b->state = FB_TODO;
	if (b->pos < f->cursor)
		f->cursor = b->pos;
	fslot_release(s);
	if (size == 0) {
		b->rs[0] = FR_DONE;
		b->ndone = 1;
		if (fblob_open(f, b) < 0)
			return -1;
		return fblob_finish(f, b);
	}
	return 0;
}

static int
range_done(struct fetch *f, struct fslot *s)
{
	struct fblob *b = s->b;
	char line[FETCH_JOURNAL_LINE_MAX + 128];
	int n = 0, m;

	/* the blob's version goes in with its first range, in one write */
	if (b->jid == 0) {
		b->jid = ++f->next_jid;
		n = fetch_journal_fmt_blob(line, FETCH_JOURNAL_LINE_MAX, b->jid,
		    b->e->size, f->chunk, b->e->etag, b->e->name);
		if (n < 0)
			return -1;
	}
	m = fetch_journal_fmt_range(line + n, sizeof(line) - (size_t)n,
	    b->jid, s->r, s->len, fetch_sum_final(&s->sum));
	if (m < 0 || stage_append(f, line, n + m) < 0)
		return -1;
	b->rs[s->r] = FR_DONE;
	b->ndone++;
	/* start writing a large range to disk now, so the final sync has
	 * little left (small files are better written back together) */
	if (s->len >= FETCH_WRITEBACK_MIN)
		sync_file_range(b->fd, (off_t)s->off, (off_t)s->len,
		    SYNC_FILE_RANGE_WRITE);
	fslot_release(s);
	if (b->ndone == b->nranges)
		return fblob_finish(f, b);
	return fblob_advance(f, b);
}

/* Judge the blobs whose digests the helper thread has finished. */
static int
verify_ready(struct fetch *f)
{
	size_t i = 0;

	while (i < f->npend) {
		struct fblob *b = &f->b[f->pend[i]];

		if (b->state == FB_VERIFY && !fhash_done(b->h)) {
			i++;
			continue;
		}
		f->pend[i] = f->pend[--f->npend];
		if (b->state == FB_VERIFY && fblob_verified(f, b) < 0)
			return -1;
	}
	return 0;
}

static void
fail_final(struct fetch *f, struct fslot *s, const struct http_response *resp)
{
	if (f->rc != EXIT_OK)
		return;
	progress_clear(f->prog);
	if (resp->err == HTTP_E_NONE && resp->status / 100 == 2) {
		/* answers kept breaking off, or were not what was asked */
		log_error("fetch: %s: storage kept sending incomplete answers "
		    "(%ld, %" PRIu64 " of %" PRIu64 " bytes of a range); the "
		    "network or the storage service is unwell — rerun later "
		    "to resume", s->b->e->name, resp->status, s->got, s->len);
		f->rc = EXIT_TEMPORARY;
		return;
	}
	f->rc = blob_error_report(f->bs, resp, s->b->e->name);
	if (f->rc == EXIT_OK)
		f->rc = EXIT_FAILURE_;
}

/* Back off and try s again later; -1 when the retries are used up. */
static int
slot_retry(struct fetch *f, struct fslot *s, const struct http_response *resp)
{
	int64_t delay;

	if (s->got > s->got_start) {
		/* progress was made: a fresh budget for the rest */
		struct retry_policy pol = s->rs.policy;

		pol.deadline_ms = f->deadline_at - clock_mono_ms();
		if (pol.deadline_ms <= 0)
			pol.deadline_ms = 1;
		retry_begin(&s->rs, &pol, NULL);
	}
	delay = retry_next_delay(&s->rs, http_response_retry_after_ms(resp));
	if (delay < 0) {
		fail_final(f, s, resp);
		return -1;
	}
	/* the first one is worth a line; the summary counts them all */
	if (f->st.retries++ == 0) {
		progress_clear(f->prog);
		if (resp->err != HTTP_E_NONE)
			log_info("fetch: %s: transfer broke off (%s: %s); "
			    "retrying in %" PRId64 " ms (further retries are "
			    "counted in the summary)", s->b->e->name,
			    http_err_names[resp->err], resp->errmsg, delay);
		else
			log_info("fetch: %s: storage answered %ld; retrying "
			    "in %" PRId64 " ms (further retries are counted "
			    "in the summary)", s->b->e->name, resp->status,
			    delay);
	} else {
		log_debug("fetch: %s: %s %ld, retrying in %" PRId64 " ms",
		    s->b->e->name, http_err_names[resp->err], resp->status,
		    delay);
	}
	s->due_ms = clock_mono_ms() + delay;
	return 0;
}

/* The blob changed in storage (412, 416, too long): start it over. */
static int
restart_changed(struct fetch *f, struct fblob *b)
{
	if (++b->restarts > FETCH_RESTARTS_MAX) {
		progress_clear(f->prog);
		log_error("fetch: %s changed %d times during the download; "
		    "rerun once the release upload has finished", b->e->name,
		    b->restarts);
		f->rc = EXIT_TEMPORARY;
		return -1;
	}
	progress_clear(f->prog);
	log_warn("fetch: %s changed in storage during the download (its "
	    "ETag is new); downloading it again from the start", b->e->name);
	fblob_restart(f, b, 1);
	return 0;
}

/* A transfer finished: decide what comes next for its slot. */
static int
slot_done(struct fetch *f, struct fslot *s, const struct http_response *resp)
{
	int answered = resp->err == HTTP_E_NONE;
	long want = s->probe || !s->ranged ? 200 : 206;

	s->x = NULL;
	log_trace("fetch: %s %s range %" PRIu32 ": %ld %s, %" PRId64
	    " bytes in %" PRId64 " ms", s->probe ? "HEAD" : "GET",
	    s->b->e->name, s->r, resp->status, http_err_names[resp->err],
	    resp->bytes, resp->elapsed_ms);
	if (f->rc != EXIT_OK || (!s->probe && slot_flush(f, s) < 0))
		return -1;
	if (answered && resp->status / 100 == 2 &&
	    s->gen == auth_generation(f->auth))
		auth_accepted(f->auth);
	if (answered && resp->status == want) {
		if (s->probe)
			return probe_done(f, s, resp);
		if (s->got == s->len)
			return range_done(f, s);
	}
	if (s->overflow || (answered && (resp->status == 412 ||
	    resp->status == 416)))
		return restart_changed(f, s->b);
	if (answered && resp->status / 100 == 2) {
		/* a short body, or a whole blob where a range was asked */
		return slot_retry(f, s, resp);
	}
	switch (blob_classify(resp)) {
	case RETRY_AUTH:
		/* a request with an older token: the new one is on its way */
		if (s->gen != auth_generation(f->auth) ||
		    auth_rejected(f->auth) == 0) {
			f->st.retries++;
			s->due_ms = 0;
			return 0;
		}
		break;
	case RETRY_YES:
		return slot_retry(f, s, resp);
	default:
		break;
	}
	fail_final(f, s, resp);
	return -1;
}

static void
deadline_passed(struct fetch *f)
{
	char d[32], got[32], all[32];

	parse_format_duration(f->cfg->deadline_ms, d, sizeof(d));
	progress_fmt_bytes(f->bytes_done, got, sizeof(got));
	progress_fmt_bytes(f->st.bytes, all, sizeof(all));
	progress_clear(f->prog);
	log_error("fetch: release %s did not arrive within fetch.deadline "
	    "(%s): %s of %s are in %s; rerun to resume, or raise "
	    "fetch.deadline", f->cfg->release, d, got, all, f->staging);
	f->rc = EXIT_TEMPORARY;
}

int
fetch_engine_run(struct fetch *f)
{
	struct http_xfer *x;
	struct http_response *resp;
	void *user;

	while (f->rc == EXIT_OK) {
		int64_t now = clock_mono_ms(), next_due = INT64_MAX;
		int busy = 0, flying = 0;
		int64_t wait;

		if (now >= f->deadline_at) {
			deadline_passed(f);
			break;
		}
		/* first, so a blob it starts over is handed out just below */
		if (verify_ready(f) < 0)
			break;
		for (int i = 0; i < f->nslots && f->rc == EXIT_OK; i++) {
			struct fslot *s = &f->slots[i];

			if (s->b == NULL && !slot_pick(f, s))
				continue;
			busy++;
			if (s->x == NULL && s->due_ms <= now)
				slot_start(f, s);
			if (s->x != NULL)
				flying++;
			else if (s->due_ms < next_due)
				next_due = s->due_ms;
		}
		if (f->rc != EXIT_OK)
			break;
		if (busy == 0 && f->npend == 0)
			break;
		wait = next_due == INT64_MAX ? RUN_SLICE_MS : next_due - now;
		/* digests being finished: look again soon */
		if (f->npend > 0 && wait > VERIFY_POLL_MS)
			wait = VERIFY_POLL_MS;
		if (wait > RUN_SLICE_MS)
			wait = RUN_SLICE_MS;
		if (wait < 0)
			wait = 0;
		if (flying == 0)
			clock_sleep_ms(wait, NULL);
		else
			http_client_run(f->http, (int)wait);
		while ((x = http_client_done(f->http, &user, &resp)) != NULL) {
			slot_done(f, user, resp);
			http_xfer_free(x);
		}
		stage_flush(f);
		progress_update(f->prog, f->bytes_done, f->files_done);
	}
	stage_flush(f);
	for (size_t i = 0; i < f->nb && f->rc == EXIT_OK; i++) {
		if (!f->b[i].skip && f->b[i].state != FB_DONE &&
		    f->b[i].state != FB_INPLACE) {
			log_error("fetch: internal error: %s was left "
			    "unfinished", f->b[i].e->name);
			f->rc = EXIT_FAILURE_;
		}
	}
	for (int i = 0; i < f->nslots; i++) {
		struct fslot *s = &f->slots[i];

		if (s->b != NULL && !s->probe && s->b->rs[s->r] == FR_ACTIVE)
			s->b->rs[s->r] = FR_TODO;
		fslot_release(s);
	}
	return f->rc;
}
