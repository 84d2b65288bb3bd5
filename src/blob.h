/*
 * blob.h — Azure Blob Storage REST: URLs, request headers (x-ms-version
 * pinned), List Blobs parsed with expat as a stream over every page, and
 * error responses mapped to messages a user can act on.
 */
#ifndef GREENLIGHT_BLOB_H
#define GREENLIGHT_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "http.h"

#define BLOB_API_VERSION "2021-12-02"

struct blob_entry {
	char *name;	    /* full blob name ("1.2/app/x.tar.zst") */
	const char *rel;    /* name below the release prefix ("app/x.tar.zst") */
	uint64_t size;
	char etag[96];	    /* without quotes */
	char md5[32];	    /* base64 Content-MD5, "" when the blob has none */
	int64_t mtime;	    /* Last-Modified, Unix seconds */
};

struct blob_list {
	struct blob_entry *v;
	size_t n;
};

struct blob_service;

/* New service client for cfg's endpoint and container. NULL on failure. */
struct blob_service *blob_service_new(const struct config *cfg,
    struct http_client *http, struct auth *auth);
void blob_service_free(struct blob_service *bs);

/*
 * List every blob under prefix ("<release>/"), all pages, with retries and
 * one credential refresh. An empty result is an error ("release folder R
 * not found in container C of account A"). Returns EXIT_OK or the enum
 * exit_code (logged). Entries are sorted by name.
 */
int blob_list(struct blob_service *bs, const char *prefix,
    struct blob_list *out);
void blob_list_free(struct blob_list *l);

/*
 * Parse one List Blobs page (for tests and the streaming parser): appends
 * entries under prefix to out, stores the NextMarker (or NULL when empty)
 * in *next (caller frees). Returns 0, or -1 with a reason in err.
 */
int blob_list_parse(const char *xml, size_t len, const char *prefix,
    struct blob_list *out, char **next, char *err, size_t errsz);

/* URL of blob name, path-escaped, with the SAS query if any; caller frees. */
char *blob_url(struct blob_service *bs, const char *name);
/*
 * Request headers for a storage request (x-ms-version, x-ms-date,
 * x-ms-client-request-id, Authorization) plus extra (NULL-terminated, may
 * be NULL), as a NULL-terminated array valid until the next call on bs.
 * Returns NULL on failure (credentials; *exit_code set, logged).
 */
const char *const *blob_headers(struct blob_service *bs,
    const char *const *extra, int *exit_code);

/* Storage error code ("BlobNotFound") from x-ms-error-code or the XML body. */
int blob_error_parse(const struct http_response *resp, char *code,
    size_t codesz, char *detail, size_t detailsz);
/*
 * Report a final failed response for subject (a blob name or "listing
 * release R") with what the user should do; returns the enum exit_code
 * it maps to (auth, notfound, temporary, ...).
 */
int blob_error_report(struct blob_service *bs,
    const struct http_response *resp, const char *subject);
/*
 * Classify a finished storage response for the engine: RETRY_NO when it
 * is final (success or fatal), RETRY_YES to back off, RETRY_AUTH to retry
 * once with refreshed credentials (see auth_rejected).
 */
int blob_classify(const struct http_response *resp);
/* The auth this service uses (for auth_rejected / messages). */
struct auth *blob_auth(struct blob_service *bs);

#endif
