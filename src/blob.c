/* blob.c — Blob Storage REST: URLs, request headers, error responses. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <expat.h>

#include "agent.h"
#include "blob.h"
#include "blob_priv.h"
#include "clock.h"
#include "log.h"
#include "retry.h"

/* --- small helpers --- */

static void
secret_free(char **p)
{
	if (*p != NULL) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* Printable, bounded, single-line copy of server text. */
void
blob_clean_copy(char *out, size_t outsz, const char *in, size_t n)
{
	size_t o = 0;

	if (outsz == 0)
		return;
	for (size_t i = 0; i < n && in[i] != '\0' && o + 1 < outsz; i++) {
		if (in[i] == '\n' || in[i] == '\r')
			break;
		out[o++] = isprint((unsigned char)in[i]) ? in[i] : '?';
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static int
is_ip_or_local(const char *h)
{
	if (strcmp(h, "localhost") == 0 || h[0] == '[')
		return 1;
	for (; *h; h++)
		if (!isdigit((unsigned char)*h) && *h != '.')
			return 0;
	return 1;
}

/*
 * Host and account of the endpoint: "acct" from https://acct.blob..., or
 * the first path segment of path-style URLs (Azurite: https://IP/acct).
 */
static void
endpoint_names(struct blob_service *bs)
{
	const char *e = bs->cfg->endpoint, *h, *end, *path;
	size_t n;

	h = strstr(e, "://");
	h = h ? h + 3 : e;
	path = strchr(h, '/');
	end = h + strcspn(h, ":/");
	if (h[0] == '[')
		end = h + strcspn(h, "]") + 1;
	n = (size_t)(end - h);
	if (n >= sizeof(bs->host))
		n = sizeof(bs->host) - 1;
	memcpy(bs->host, h, n);
	bs->host[n] = '\0';
	if (bs->cfg->account != NULL) {
		snprintf(bs->account, sizeof(bs->account), "%s",
		    bs->cfg->account);
	} else if (is_ip_or_local(bs->host) && path != NULL && path[1]) {
		n = strcspn(path + 1, "/");
		if (n >= sizeof(bs->account))
			n = sizeof(bs->account) - 1;
		memcpy(bs->account, path + 1, n);
		bs->account[n] = '\0';
	} else {
		n = strcspn(bs->host, ".");
		if (n >= sizeof(bs->account))
			n = sizeof(bs->account) - 1;
		memcpy(bs->account, bs->host, n);
		bs->account[n] = '\0';
	}
}

struct blob_service *
blob_service_new(const struct config *cfg, struct http_client *http,
    struct auth *auth)
{
	struct blob_service *bs;
	char *cont = NULL;
	size_t n;

	if (cfg->endpoint == NULL || cfg->container == NULL) {
		log_error("storage: no endpoint or container configured");
		return NULL;
	}
	bs = calloc(1, sizeof(*bs));
	if (bs == NULL)
		goto fail;
	bs->cfg = cfg;
	bs->http = http;
	bs->auth = auth;
	cont = http_escape(cfg->container, 0);
	if (cont == NULL)
		goto fail;
	n = strlen(cfg->endpoint) + strlen(cont) + 2;
	bs->base = malloc(n);
	if (bs->base == NULL)
		goto fail;
	snprintf(bs->base, n, "%s/%s", cfg->endpoint, cont);
	free(cont);
	endpoint_names(bs);
	return bs;
fail:
	log_error("storage: out of memory");
	free(cont);
	blob_service_free(bs);
	return NULL;
}

void
blob_service_free(struct blob_service *bs)
{
	if (bs == NULL)
		return;
	secret_free(&bs->auth_hdr);
	free(bs->base);
	free(bs);
}

struct auth *
blob_auth(struct blob_service *bs)
{
	return bs->auth;
}

/* The SAS query when the method is SAS (no blocking), else NULL. */
static const char *
sas_query(struct blob_service *bs)
{
	const char *h, *q;

	if (bs->cfg->auth_method != AUTH_SAS || bs->auth == NULL)
		return NULL;
	if (auth_prepare(bs->auth, &h, &q) != EXIT_OK)
		return NULL;
	return q;
}

char *
blob_url_build(struct blob_service *bs, const char *path, const char *query)
{
	const char *sas = sas_query(bs);
	size_t n = strlen(bs->base) + strlen(path) + 4 +
	    (query ? strlen(query) : 0) + (sas ? strlen(sas) : 0);
	char *u = malloc(n);
	int w;

	if (u == NULL)
		return NULL;
	w = snprintf(u, n, "%s%s%s%s%s%s", bs->base, *path ? "/" : "", path,
	    (query || sas) ? "?" : "", query ? query : "",
	    sas ? (query ? "&" : "") : "");
	if (w < 0 || (size_t)w >= n) {
		free(u);
		return NULL;
	}
	if (sas != NULL)
		memcpy(u + w, sas, strlen(sas) + 1);
	return u;
}

char *
blob_url(struct blob_service *bs, const char *name)
{
	char *path = http_escape(name, 1), *u;

	if (path == NULL)
		return NULL;
	u = blob_url_build(bs, path, NULL);
	free(path);
	return u;
}

static void
request_id(char *out, size_t outsz)
{
	unsigned char r[16];
	static unsigned counter;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		uint64_t t = (uint64_t)clock_wall_ms() ^ ((uint64_t)++counter
		    << 48);

		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(t >> ((i % 8) * 8)) ^
			    (unsigned char)(i * 37);
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, outsz, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
	    r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

const char *const *
blob_headers(struct blob_service *bs, const char *const *extra,
    int *exit_code)
{
	char date[40], id[40];
	const char *h = NULL, *q = NULL;
	time_t now = time(NULL);
	struct tm tm;
	size_t i = 0;
	int rc = EXIT_OK;

	if (bs->auth != NULL)
		rc = auth_prepare(bs->auth, &h, &q);
	if (rc != EXIT_OK) {
		if (exit_code != NULL)
			*exit_code = rc;
		return NULL;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(bs->date_hdr, sizeof(bs->date_hdr), "x-ms-date: %s", date);
	request_id(id, sizeof(id));
	snprintf(bs->reqid_hdr, sizeof(bs->reqid_hdr),
	    "x-ms-client-request-id: %s", id);
	secret_free(&bs->auth_hdr);
	if (h != NULL) {
		bs->auth_hdr = strdup(h);
		if (bs->auth_hdr == NULL) {
			log_error("storage: out of memory");
			if (exit_code != NULL)
				*exit_code = EXIT_FAILURE_;
			return NULL;
		}
	}
	bs->hv[i++] = "x-ms-version: " BLOB_API_VERSION;
	bs->hv[i++] = bs->date_hdr;
	bs->hv[i++] = bs->reqid_hdr;
	if (bs->auth_hdr != NULL)
		bs->hv[i++] = bs->auth_hdr;
	for (size_t k = 0; extra != NULL && extra[k] != NULL; k++) {
		if (k >= HDR_EXTRA_MAX) {
			log_error("storage: too many request headers");
			if (exit_code != NULL)
				*exit_code = EXIT_FAILURE_;
			return NULL;
		}
		bs->hv[i++] = extra[k];
	}
	bs->hv[i] = NULL;
	if (exit_code != NULL)
		*exit_code = EXIT_OK;
	return bs->hv;
}

/* --- errors --- */

struct err_parser {
	XML_Parser xp;
	int depth;
	int which;	/* 1 Code, 2 Message, 3 AuthenticationErrorDetail */
	char code[128];
	char message[512];
	char authdetail[512];
	int code_done, message_done, authdetail_done;
	size_t len;
	char *dst;
	size_t dstsz;
};

static void XMLCALL
err_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct err_parser *ep = arg;

	(void)attrs;
	ep->depth++;
	ep->dst = NULL;
	if (ep->depth != 2)
		return;
	if (strcmp(name, "Code") == 0) {
		ep->dst = ep->code;
		ep->dstsz = sizeof(ep->code);
	} else if (strcmp(name, "Message") == 0) {
		ep->dst = ep->message;
		ep->dstsz = sizeof(ep->message);
	} else if (strcmp(name, "AuthenticationErrorDetail") == 0) {
		ep->dst = ep->authdetail;
		ep->dstsz = sizeof(ep->authdetail);
	}
	ep->len = 0;
	if (ep->dst != NULL)
		ep->dst[0] = '\0';
}

static void XMLCALL
err_text(void *arg, const XML_Char *s, int len)
{
	struct err_parser *ep = arg;
	size_t n = (size_t)len;

	if (ep->dst == NULL)
		return;
	if (ep->len + n + 1 > ep->dstsz)
		n = ep->dstsz - ep->len - 1;
	memcpy(ep->dst + ep->len, s, n);
	ep->len += n;
	ep->dst[ep->len] = '\0';
}

static void XMLCALL
err_end(void *arg, const XML_Char *name)
{
	struct err_parser *ep = arg;

	(void)name;
	/* only complete elements count: a cut body proves nothing */
	if (ep->dst == ep->code)
		ep->code_done = 1;
	else if (ep->dst == ep->message)
		ep->message_done = 1;
	else if (ep->dst == ep->authdetail)
		ep->authdetail_done = 1;
	ep->depth--;
	ep->dst = NULL;
}

/* Error bodies declare no entities: stop at any DTD. */
static void XMLCALL
err_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	struct err_parser *ep = arg;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	XML_StopParser(ep->xp, XML_FALSE);
}

int
blob_error_parse(const struct http_response *resp, char *code, size_t codesz,
    char *detail, size_t detailsz)
{
	struct err_parser ep;
	char hdr[128];

	memset(&ep, 0, sizeof(ep));
	if (codesz > 0)
		code[0] = '\0';
	if (detailsz > 0)
		detail[0] = '\0';
	if (resp->body != NULL && resp->body_len > 0 &&
	    resp->body_len < 1024 * 1024) {
		ep.xp = XML_ParserCreate("UTF-8");
		if (ep.xp != NULL) {
			XML_SetUserData(ep.xp, &ep);
			XML_SetElementHandler(ep.xp, err_start, err_end);
			XML_SetCharacterDataHandler(ep.xp, err_text);
			XML_SetStartDoctypeDeclHandler(ep.xp, err_doctype);
			/* a half-parsed body still yields what it had */
			XML_Parse(ep.xp, resp->body, (int)resp->body_len, 1);
			XML_ParserFree(ep.xp);
		}
	}
	if (http_response_header(resp, "x-ms-error-code", hdr,
	    sizeof(hdr)) != NULL && hdr[0] != '\0')
		blob_clean_copy(code, codesz, hdr, strlen(hdr));
	else if (ep.code_done)
		blob_clean_copy(code, codesz, ep.code, strlen(ep.code));
	if (ep.authdetail_done && ep.authdetail[0] != '\0')
		blob_clean_copy(detail, detailsz, ep.authdetail,
		    strlen(ep.authdetail));
	else if (ep.message_done)
		blob_clean_copy(detail, detailsz, ep.message,
		    strlen(ep.message));
	return codesz > 0 && code[0] != '\0' ? 0 : -1;
}

int
blob_classify(const struct http_response *resp)
{
	char code[128], detail[8];

	code[0] = '\0';
	if (resp->err == HTTP_E_NONE && resp->status >= 400)
		blob_error_parse(resp, code, sizeof(code), detail,
		    sizeof(detail));
	return (int)retry_classify(RETRY_TARGET_STORAGE, resp->status,
	    resp->err, code[0] ? code : NULL);
}

static int
is_auth_code(const char *code)
{
	return strcmp(code, "AuthenticationFailed") == 0 ||
	    strcmp(code, "InvalidAuthenticationInfo") == 0 ||
	    strcmp(code, "NoAuthenticationInformation") == 0;
}

/*
 * The one place storage failures become messages. note: "after N
 * attempts in Ts" when retries were exhausted, or "".
 */
int
blob_report(struct blob_service *bs, const struct http_response *resp,
    const char *subject, const char *note)
{
	const char *who = bs->auth ? auth_describe(bs->auth) :
	    "anonymous access";
	enum auth_method m = bs->cfg->auth_method;
	const char *A = bs->account, *C = bs->cfg->container;
	char code[128], detail[256], what[448];
	long st = resp->status;

	if (resp->err != HTTP_E_NONE) {
		const char *msg = resp->errmsg;

		switch (resp->err) {
		case HTTP_E_DNS:
			log_error("storage: %s: cannot resolve host %s%s (%s); "
			    "check [storage] endpoint / account and this VM's "
			    "DNS", subject, bs->host, note, msg);
			return EXIT_TEMPORARY;
		case HTTP_E_CONNECT:
			log_error("storage: %s: cannot connect to %s%s (%s); "
			    "check [storage] endpoint and the network path "
			    "(firewall, NSG, proxy)", subject, bs->host, note,
			    msg);
			return EXIT_TEMPORARY;
		case HTTP_E_TLS:
			log_error("storage: %s: TLS verification of %s failed "
			    "(%s); check [storage] ca_file / the endpoint's "
			    "certificate", subject, bs->host, msg);
			return EXIT_TEMPORARY;
		case HTTP_E_PROTOCOL:
			log_error("storage: %s: cannot use %s (%s); check "
			    "[storage] endpoint", subject, bs->cfg->endpoint,
			    msg);
			return EXIT_CONFIG;
		case HTTP_E_ABORTED:
			log_error("storage: %s: transfer aborted (%s)",
			    subject, msg);
			return EXIT_FAILURE_;
		default:
			log_error("storage: %s: no usable answer from %s%s "
			    "(last: %s: %s); the network or the storage "
			    "service is unavailable — rerun later", subject,
			    bs->host, note, http_err_names[resp->err], msg);
			return EXIT_TEMPORARY;
		}
	}
	blob_error_parse(resp, code, sizeof(code), detail, sizeof(detail));
	snprintf(what, sizeof(what), "%ld%s%s%s%s", st, code[0] ? " " : "",
	    code, detail[0] ? ": " : "", detail);
	if (st == 401 || ((st == 403 || st == 400) && is_auth_code(code))) {
		if (m == AUTH_SAS)
			log_error("storage: %s: the SAS token was refused "
			    "(%s): it is expired, not yet valid, revoked or "
			    "made for another account or container; make a "
			    "new one with read and list permission (sp=rl) on "
			    "container %s and update [auth] sas_file", subject,
			    what, C);
		else if (m == AUTH_NONE)
			log_error("storage: %s: anonymous access was refused "
			    "(%s); set [auth] method = managed-identity or "
			    "sas", subject, what);
		else
			log_error("storage: %s: the token of %s was refused "
			    "even after a refresh (%s): the token is not valid "
			    "for storage — check its audience (resource "
			    "https://storage.azure.com/), issuer (tenant) and "
			    "this VM's clock", subject, who, what);
		return EXIT_AUTH;
	}
	if (st == 403 && strcmp(code, "AuthorizationPermissionMismatch") == 0) {
		if (m == AUTH_SAS)
			log_error("storage: %s: the SAS token lacks read and "
			    "list permission on container %s of account %s "
			    "(%s); make one with sp=rl and update [auth] "
			    "sas_file", subject, C, A, what);
		else
			log_error("storage: %s: %s lacks a Storage Blob Data "
			    "Reader role on account %s (or container %s); "
			    "assign it — role assignments can take several "
			    "minutes to apply — then rerun", subject, who, A,
			    C);
		return EXIT_AUTH;
	}
	if (st == 403 && strcmp(code, "AuthorizationFailure") == 0) {
		if (m == AUTH_NONE)
			log_error("storage: %s: account %s refused anonymous "
			    "access (%s): container %s is not public — set "
			    "[auth] method = managed-identity or sas — or the "
			    "account's network rules or firewall refuse this "
			    "VM", subject, A, what, C);
		else
			log_error("storage: %s: the storage account's network "
			    "rules or firewall refuse this VM (%s); check the "
			    "networking settings of account %s (allowed "
			    "networks, IP ranges, private endpoint)", subject,
			    what, A);
		return EXIT_AUTH;
	}
	if (st == 403) {
		log_error("storage: %s: access denied (%s) for %s; check its "
		    "role on account %s and the account's network rules",
		    subject, what, who, A);
		return EXIT_AUTH;
	}
	if (st == 404 && strcmp(code, "ContainerNotFound") == 0) {
		log_error("storage: container %s does not exist in account %s "
		    "(check [storage] container / BLOB_CONTAINER_NAME)", C, A);
		return EXIT_NOTFOUND;
	}
	if (st == 404 && strcmp(code, "BlobNotFound") == 0) {
		log_error("storage: %s: blob not found in container %s of "
		    "account %s (404 BlobNotFound); it was deleted or renamed "
		    "meanwhile — check the release folder, then rerun",
		    subject, C, A);
		return EXIT_NOTFOUND;
	}
	if (st == 404) {
		log_error("storage: %s: not found (%s) at %s; check [storage] "
		    "account / endpoint", subject, what, bs->cfg->endpoint);
		return EXIT_NOTFOUND;
	}
	if (st == 412) {
		log_error("storage: %s: the blob changed while it was read "
		    "(%s); rerun once the upload has finished", subject,
		    what);
		return EXIT_TEMPORARY;
	}
	if (st == 416) {
		log_error("storage: %s: the blob is shorter than listed (%s); "
		    "it changed meanwhile — rerun", subject, what);
		return EXIT_TEMPORARY;
	}
	if (st == 408 || st == 429 || st >= 500) {
		log_error("storage: %s: the storage service kept failing%s "
		    "(last: %s); rerun later", subject, note, what);
		return EXIT_TEMPORARY;
	}
	log_error("storage: %s: the storage service refused the request (%s); "
	    "check [storage] endpoint (API version " BLOB_API_VERSION ")",
	    subject, what);
	return EXIT_FAILURE_;
}

int
blob_error_report(struct blob_service *bs, const struct http_response *resp,
    const char *subject)
{
	return blob_report(bs, resp, subject, "");
}

