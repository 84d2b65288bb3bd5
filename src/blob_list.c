/* blob_list.c — List Blobs: every page, parsed with expat as a stream. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <expat.h>

#include "agent.h"
#include "blob.h"
#include "blob_priv.h"
#include "digest.h"
#include "log.h"
#include "parse.h"
#include "retry.h"

/* Caps on what a listing may hold. */
#define LIST_PAGE_MAX (64u << 20)	/* bytes of one page */
#define LIST_ENTRIES_MAX 1000000	/* blobs in one release */
#define LIST_PAGES_MAX 10000
#define LIST_TEXT_MAX 4096		/* one element's text (names <= 1024) */
#define LIST_REQUEST_TIMEOUT_MS 120000
#define LIST_BAD_BODY_TRIES 3

/* --- List Blobs: a streaming expat parser --- */

enum el {
	EL_OTHER,
	EL_ROOT,	/* EnumerationResults */
	EL_BLOBS,
	EL_BLOB,
	EL_NAME,
	EL_PROPS,
	EL_META,
	EL_LENGTH,
	EL_ETAG,
	EL_MD5,
	EL_MTIME,
	EL_ISFOLDER,	/* Metadata/hdi_isfolder */
	EL_NEXT,	/* NextMarker */
	EL__MAX
};

#define DEPTH_MAX 16

struct list_parser {
	XML_Parser xp;
	const char *prefix;
	struct blob_list *out;
	size_t cap;
	enum el stack[DEPTH_MAX];
	int depth;		/* elements open; deeper ones are EL_OTHER */
	int saw_root;
	char text[LIST_TEXT_MAX + 1];
	size_t text_len;
	int text_too_long;
	/* the blob being read */
	struct blob_entry cur;
	int cur_encoded;	/* <Name Encoded="true"> */
	int cur_has_size;
	int cur_isfolder;
	char *next;		/* NextMarker */
	uint64_t bytes;		/* page size so far */
	size_t skipped_dirs;
	char err[512];
	int unsafe;		/* a name cannot be a relative path */
};

static enum el
el_child(enum el parent, const char *name)
{
	switch (parent) {
	case EL_OTHER:
		return EL_OTHER;
	case EL_ROOT:
		if (strcmp(name, "Blobs") == 0)
			return EL_BLOBS;
		if (strcmp(name, "NextMarker") == 0)
			return EL_NEXT;
		return EL_OTHER;
	case EL_BLOBS:
		return strcmp(name, "Blob") == 0 ? EL_BLOB : EL_OTHER;
	case EL_BLOB:
		if (strcmp(name, "Name") == 0)
			return EL_NAME;
		if (strcmp(name, "Properties") == 0)
			return EL_PROPS;
		if (strcmp(name, "Metadata") == 0)
			return EL_META;
		return EL_OTHER;
	case EL_PROPS:
		if (strcmp(name, "Content-Length") == 0)
			return EL_LENGTH;
		if (strcmp(name, "Etag") == 0 || strcmp(name, "ETag") == 0)
			return EL_ETAG;
		if (strcmp(name, "Content-MD5") == 0)
			return EL_MD5;
		if (strcmp(name, "Last-Modified") == 0)
			return EL_MTIME;
		return EL_OTHER;
	case EL_META:
		return strcasecmp(name, "hdi_isfolder") == 0 ? EL_ISFOLDER :
		    EL_OTHER;
	default:
		return EL_OTHER;
	}
}

static int
el_has_text(enum el e)
{
	return e == EL_NAME || e == EL_LENGTH || e == EL_ETAG ||
	    e == EL_MD5 || e == EL_MTIME || e == EL_ISFOLDER || e == EL_NEXT;
}

static void __attribute__((format(printf, 2, 3)))
parser_fail(struct list_parser *lp, const char *fmt, ...)
{
	va_list ap;

	if (lp->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(lp->err, sizeof(lp->err), fmt, ap);
		va_end(ap);
	}
	XML_StopParser(lp->xp, XML_FALSE);
}

static void
cur_reset(struct list_parser *lp)
{
	free(lp->cur.name);
	memset(&lp->cur, 0, sizeof(lp->cur));
	lp->cur_encoded = lp->cur_has_size = lp->cur_isfolder = 0;
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct list_parser *lp = arg;
	enum el parent, e;

	if (lp->depth == 0) {
		if (strcmp(name, "EnumerationResults") != 0) {
			parser_fail(lp, "unexpected root element <%s>", name);
			return;
		}
		e = EL_ROOT;
		lp->saw_root = 1;
	} else {
		parent = lp->depth <= DEPTH_MAX ? lp->stack[lp->depth - 1] :
		    EL_OTHER;
		e = el_child(parent, name);
	}
	if (lp->depth < DEPTH_MAX)
		lp->stack[lp->depth] = e;
	lp->depth++;
	if (lp->depth > 64) {
		parser_fail(lp, "elements nested too deeply");
		return;
	}
	lp->text_len = 0;
	lp->text_too_long = 0;
	if (e == EL_BLOB)
		cur_reset(lp);
	if (e == EL_NAME) {
		for (int i = 0; attrs[i] != NULL; i += 2)
			if (strcmp(attrs[i], "Encoded") == 0 &&
			    strcmp(attrs[i + 1], "true") == 0)
				lp->cur_encoded = 1;
	}
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct list_parser *lp = arg;
	enum el e;

	if (lp->depth == 0 || lp->depth > DEPTH_MAX)
		return;
	e = lp->stack[lp->depth - 1];
	if (!el_has_text(e))
		return;
	if (lp->text_len + (size_t)len > LIST_TEXT_MAX) {
		lp->text_too_long = 1;
		return;
	}
	memcpy(lp->text + lp->text_len, s, (size_t)len);
	lp->text_len += (size_t)len;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode in place (Encoded="true" names); -1 on bad escapes. */
static int
percent_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			int hi = hexval(s[1]), lo = hi >= 0 ? hexval(s[2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

/* Is rel usable as a relative file path? NULL or what is wrong. */
static const char *
rel_problem(const char *rel)
{
	const char *seg = rel;

	if (*rel == '/')
		return "starts with '/'";
	for (const char *c = rel;; c++) {
		if (*c == '/' || *c == '\0') {
			size_t n = (size_t)(c - seg);

			if (n == 0)
				return "has an empty path segment";
			if ((n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return "has a '.' or '..' segment";
			if (n > 255)
				return "has a path segment longer than 255 "
				    "bytes";
			if (*c == '\0')
				break;
			seg = c + 1;
		}
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
			return "has a control character or backslash";
	}
	return NULL;
}

static int
decimal_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int64_t
http_date(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
	if (end == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

static void
blob_finish(struct list_parser *lp)
{
	struct blob_entry *e = &lp->cur;
	size_t plen = strlen(lp->prefix), n;
	const char *why;
	unsigned char md5[16];

	if (e->name == NULL) {
		parser_fail(lp, "a <Blob> without a <Name>");
		return;
	}
	if (!lp->cur_has_size) {
		parser_fail(lp, "blob \"%s\" has no Content-Length", e->name);
		return;
	}
	if (strncmp(e->name, lp->prefix, plen) != 0) {
		/* not ours: the service filters by prefix, so ignore */
		cur_reset(lp);
		return;
	}
	n = strlen(e->name);
	/* directory markers (HNS folders, "x/" placeholder blobs) */
	if (n == plen || e->name[n - 1] == '/' ||
	    (e->size == 0 && lp->cur_isfolder)) {
		lp->skipped_dirs++;
		cur_reset(lp);
		return;
	}
	why = rel_problem(e->name + plen);
	if (why != NULL) {
		char name[200];

		blob_clean_copy(name, sizeof(name), e->name, strlen(e->name));
		snprintf(lp->err, sizeof(lp->err), "blob name \"%s\" %s, so it "
		    "cannot be a file of the release", name, why);
		lp->unsafe = 1;
		XML_StopParser(lp->xp, XML_FALSE);
		return;
	}
	if (e->md5[0] != '\0' && digest_unbase64(e->md5, md5,
	    sizeof(md5)) != 16) {
		log_warn("storage: blob %s has a malformed Content-MD5 \"%s\"; "
		    "checking its size only", e->name, e->md5);
		e->md5[0] = '\0';
	}
	if (lp->out->n >= LIST_ENTRIES_MAX) {
		parser_fail(lp, "more than %d blobs in the release",
		    LIST_ENTRIES_MAX);
		return;
	}
	if (lp->out->n == lp->cap) {
		size_t ncap = lp->cap ? lp->cap * 2 : 256;
		struct blob_entry *nv = realloc(lp->out->v,
		    ncap * sizeof(*nv));

		if (nv == NULL) {
			parser_fail(lp, "out of memory");
			return;
		}
		lp->out->v = nv;
		lp->cap = ncap;
	}
	e->rel = e->name + plen;
	lp->out->v[lp->out->n++] = *e;
	memset(&lp->cur, 0, sizeof(lp->cur));
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct list_parser *lp = arg;
	enum el e;
	char *t = lp->text, *end;

	(void)name;
	if (lp->depth == 0)
		return;
	e = lp->depth <= DEPTH_MAX ? lp->stack[lp->depth - 1] : EL_OTHER;
	lp->depth--;
	if (el_has_text(e) && lp->text_too_long) {
		parser_fail(lp, "a <%s> value is too long", name);
		return;
	}
	t[lp->text_len] = '\0';
	lp->text_len = 0;
	switch (e) {
	case EL_NAME:
		free(lp->cur.name);
		lp->cur.name = strdup(t);
		if (lp->cur.name == NULL) {
			parser_fail(lp, "out of memory");
			return;
		}
		if (lp->cur_encoded && percent_decode(lp->cur.name) < 0)
			parser_fail(lp, "bad encoded blob name \"%s\"", t);
		else if (lp->cur.name[0] == '\0')
			parser_fail(lp, "empty blob name");
		break;
	case EL_LENGTH:
		if (decimal_u64(t, &lp->cur.size) < 0) {
			parser_fail(lp, "bad Content-Length \"%s\"", t);
			return;
		}
		lp->cur_has_size = 1;
		break;
	case EL_ETAG:
		if (*t == '"')
			t++;
		end = t + strlen(t);
		if (end > t && end[-1] == '"')
			*--end = '\0';
		if (strlen(t) >= sizeof(lp->cur.etag)) {
			parser_fail(lp, "Etag \"%s\" too long", t);
			return;
		}
		memcpy(lp->cur.etag, t, strlen(t) + 1);
		break;
	case EL_MD5:
		if (strlen(t) >= sizeof(lp->cur.md5)) {
			parser_fail(lp, "Content-MD5 \"%s\" too long", t);
			return;
		}
		memcpy(lp->cur.md5, t, strlen(t) + 1);
		break;
	case EL_MTIME:
		lp->cur.mtime = http_date(t);
		break;
	case EL_ISFOLDER:
		lp->cur_isfolder = strcasecmp(t, "true") == 0;
		break;
	case EL_NEXT:
		free(lp->next);
		lp->next = NULL;
		if (*t != '\0') {
			lp->next = strdup(t);
			if (lp->next == NULL)
				parser_fail(lp, "out of memory");
		}
		break;
	case EL_BLOB:
		blob_finish(lp);
		break;
	default:
		break;
	}
}

/* A listing has no business declaring entities: refuse any DTD. */
static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	parser_fail(arg, "a DOCTYPE (<!DOCTYPE %s>) in a listing", name);
}

static int
parser_init(struct list_parser *lp, const char *prefix, struct blob_list *out)
{
	memset(lp, 0, sizeof(*lp));
	lp->prefix = prefix;
	lp->out = out;
	lp->cap = out->n;
	lp->xp = XML_ParserCreate("UTF-8");
	if (lp->xp == NULL)
		return -1;
	XML_SetUserData(lp->xp, lp);
	XML_SetElementHandler(lp->xp, on_start, on_end);
	XML_SetCharacterDataHandler(lp->xp, on_text);
	XML_SetStartDoctypeDeclHandler(lp->xp, on_doctype);
	return 0;
}

static void
parser_done(struct list_parser *lp)
{
	if (lp->xp != NULL)
		XML_ParserFree(lp->xp);
	lp->xp = NULL;
	cur_reset(lp);
	free(lp->next);
	lp->next = NULL;
}

/* Feed bytes (final = 1 at the end); 0 or -1 with lp->err set. */
static int
parser_feed(struct list_parser *lp, const char *p, size_t n, int final)
{
	if (lp->err[0] != '\0')
		return -1;
	lp->bytes += n;
	if (lp->bytes > LIST_PAGE_MAX) {
		snprintf(lp->err, sizeof(lp->err), "listing page larger than "
		    "%u MiB", LIST_PAGE_MAX >> 20);
		return -1;
	}
	while (n > 0 || final) {
		int chunk = n > (1u << 30) ? (1 << 30) : (int)n;

		if (XML_Parse(lp->xp, p, chunk, final && (size_t)chunk == n) ==
		    XML_STATUS_ERROR) {
			if (lp->err[0] == '\0')
				snprintf(lp->err, sizeof(lp->err),
				    "malformed XML at line %lu: %s",
				    (unsigned long)XML_GetCurrentLineNumber(
				    lp->xp), XML_ErrorString(XML_GetErrorCode(
				    lp->xp)));
			return -1;
		}
		p += chunk;
		n -= (size_t)chunk;
		if (n == 0)
			break;
	}
	if (final && !lp->saw_root) {
		snprintf(lp->err, sizeof(lp->err), "not a List Blobs response");
		return -1;
	}
	return 0;
}

/* Free entries from index from on (a failed page is rolled back). */
static void
list_truncate(struct blob_list *l, size_t from)
{
	for (size_t i = from; i < l->n; i++)
		free(l->v[i].name);
	l->n = from < l->n ? from : l->n;
}

int
blob_list_parse(const char *xml, size_t len, const char *prefix,
    struct blob_list *out, char **next, char *err, size_t errsz)
{
	struct list_parser lp;
	size_t n0 = out->n;
	int rc = -1;

	*next = NULL;
	err[0] = '\0';
	if (parser_init(&lp, prefix, out) < 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (parser_feed(&lp, xml, len, 1) < 0) {
		snprintf(err, errsz, "%s", lp.err);
		list_truncate(out, n0);
		goto out;
	}
	*next = lp.next;
	lp.next = NULL;
	rc = 0;
out:
	parser_done(&lp);
	return rc;
}

void
blob_list_free(struct blob_list *l)
{
	if (l == NULL)
		return;
	list_truncate(l, 0);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* --- listing over every page --- */

static int
list_sink(void *arg, const void *buf, size_t len)
{
	return parser_feed(arg, buf, len, 0);
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct blob_entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* URL of one listing page; caller frees. */
static char *
list_url(struct blob_service *bs, const char *prefix, const char *marker)
{
	char *p = http_escape(prefix, 0), *mk = NULL, *q = NULL, *u = NULL;
	size_t n;

	if (p == NULL)
		goto out;
	if (marker != NULL && (mk = http_escape(marker, 0)) == NULL)
		goto out;
	n = strlen(p) + (mk ? strlen(mk) : 0) + 128;
	q = malloc(n);
	if (q == NULL)
		goto out;
	if (snprintf(q, n, "restype=container&comp=list&prefix=%s"
	    "&maxresults=5000&include=metadata%s%s", p, mk ? "&marker=" : "",
	    mk ? mk : "") >= (int)n)
		goto out;
	u = blob_url_build(bs, "", q);
out:
	free(p);
	free(mk);
	free(q);
	return u;
}

/* One page with retries; 0 with *next, or an exit code (logged). */
static int
list_page(struct blob_service *bs, const char *prefix, const char *marker,
    const char *subject, struct blob_list *out, char **next)
{
	struct retry_policy policy = { 500, 30000, bs->cfg->deadline_ms, 0 };
	struct retry_state rs;
	struct http_response resp;
	struct list_parser lp;
	size_t n0 = out->n;
	int rc = EXIT_TEMPORARY, bad = 0, warned = 0;

	*next = NULL;
	memset(&resp, 0, sizeof(resp));
	memset(&lp, 0, sizeof(lp));
	retry_begin(&rs, &policy, NULL);
	for (;;) {
		struct http_request req;
		const char *const *hdrs;
		char *url = NULL, last[520], note[96], took[32];
		int cls, hrc = EXIT_OK;

		list_truncate(out, n0);
		parser_done(&lp);
		http_response_clear(&resp);
		if (parser_init(&lp, prefix, out) < 0) {
			log_error("storage: out of memory");
			rc = EXIT_FAILURE_;
			break;
		}
		hdrs = blob_headers(bs, NULL, &hrc);
		if (hdrs == NULL) {
			rc = hrc;
			break;
		}
		url = list_url(bs, prefix, marker);
		if (url == NULL) {
			log_error("storage: out of memory");
			rc = EXIT_FAILURE_;
			break;
		}
		memset(&req, 0, sizeof(req));
		req.url = url;
		req.headers = hdrs;
		req.timeout_ms = LIST_REQUEST_TIMEOUT_MS;
		req.sink = list_sink;
		req.sink_arg = &lp;
		http_do(bs->http, &req, &resp);
		free(url);
		if (resp.err == HTTP_E_NONE && resp.status >= 200 &&
		    resp.status < 300) {
			if (parser_feed(&lp, NULL, 0, 1) == 0) {
				if (bs->auth != NULL)
					auth_accepted(bs->auth);
				*next = lp.next;
				lp.next = NULL;
				rc = EXIT_OK;
				break;
			}
		}
		if (lp.unsafe) {
			log_error("storage: %s: %s; rename it in the container",
			    subject, lp.err);
			rc = EXIT_CONFIG;
			break;
		}
		if (lp.err[0] != '\0') {
			/* a broken page: retried a few times, then final */
			snprintf(last, sizeof(last), "%s", lp.err);
			cls = ++bad < LIST_BAD_BODY_TRIES ? RETRY_YES :
			    RETRY_NO;
			if (cls == RETRY_NO) {
				log_error("storage: %s: unusable answer from "
				    "%s (%s); check [storage] endpoint",
				    subject, bs->host, last);
				rc = EXIT_TEMPORARY;
				break;
			}
		} else {
			cls = blob_classify(&resp);
			if (resp.err != HTTP_E_NONE)
				snprintf(last, sizeof(last), "%s",
				    resp.errmsg);
			else
				snprintf(last, sizeof(last), "HTTP %ld",
				    resp.status);
		}
		if (cls == RETRY_AUTH && bs->auth != NULL &&
		    auth_rejected(bs->auth) == 0) {
			log_info("storage: %s: credentials refused (%s); "
			    "retrying once with a fresh token", subject, last);
			continue;
		}
		if (cls != RETRY_YES) {
			rc = blob_report(bs, &resp, subject, "");
			break;
		}
		if (retry_backoff(&rs, http_response_retry_after_ms(&resp)) <
		    0) {
			parse_format_duration(retry_elapsed_ms(&rs) -
			    retry_elapsed_ms(&rs) % 1000, took, sizeof(took));
			snprintf(note, sizeof(note), " after %d attempts in %s",
			    rs.attempts, took);
			rc = blob_report(bs, &resp, subject, note);
			break;
		}
		if (!warned) {
			parse_format_duration(policy.deadline_ms, took,
			    sizeof(took));
			log_warn("storage: %s: %s; retrying for up to %s",
			    subject, last, took);
			warned = 1;
		}
	}
	if (rc != EXIT_OK)
		list_truncate(out, n0);
	parser_done(&lp);
	http_response_clear(&resp);
	return rc;
}

int
blob_list(struct blob_service *bs, const char *prefix, struct blob_list *out)
{
	char subject[300], release[256];
	char *marker = NULL, *next = NULL;
	size_t plen = strlen(prefix);
	int rc = EXIT_OK, pages = 0;

	memset(out, 0, sizeof(*out));
	snprintf(release, sizeof(release), "%.*s",
	    (int)(plen > 0 && prefix[plen - 1] == '/' ? plen - 1 : plen),
	    prefix);
	snprintf(subject, sizeof(subject), "listing release %s", release);
	do {
		if (++pages > LIST_PAGES_MAX) {
			log_error("storage: %s: more than %d pages; giving up",
			    subject, LIST_PAGES_MAX);
			rc = EXIT_TEMPORARY;
			break;
		}
		rc = list_page(bs, prefix, marker, subject, out, &next);
		if (rc != EXIT_OK)
			break;
		if (next != NULL && marker != NULL &&
		    strcmp(next, marker) == 0) {
			log_error("storage: %s: the service returned the same "
			    "continuation marker twice; giving up", subject);
			rc = EXIT_TEMPORARY;
			break;
		}
		free(marker);
		marker = next;
		next = NULL;
		log_debug("storage: %s: page %d, %zu blobs so far", subject,
		    pages, out->n);
	} while (marker != NULL);
	free(marker);
	free(next);
	if (rc == EXIT_OK && out->n == 0) {
		log_error("storage: release folder %s not found in container "
		    "%s of account %s (no blobs under \"%s\"); check the "
		    "release name (--release / RELEASE_FOLDER_NAME) and that "
		    "CI uploaded it", release, bs->cfg->container, bs->account,
		    prefix);
		rc = EXIT_NOTFOUND;
	}
	if (rc == EXIT_OK) {
		qsort(out->v, out->n, sizeof(*out->v), entry_cmp);
		for (size_t i = 1; i < out->n; i++) {
			if (strcmp(out->v[i - 1].name, out->v[i].name) == 0) {
				log_error("storage: %s: blob %s listed twice; "
				    "the listing is inconsistent — rerun",
				    subject, out->v[i].name);
				rc = EXIT_TEMPORARY;
				break;
			}
		}
	}
	if (rc != EXIT_OK)
		blob_list_free(out);
	return rc;
}

