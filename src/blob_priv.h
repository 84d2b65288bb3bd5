/*
 * blob_priv.h — what the two halves of the blob module share: blob.c
 * (service, URLs, headers, errors) and blob_list.c (List Blobs over expat).
 * Not for other modules.
 */
#ifndef GREENLIGHT_BLOB_PRIV_H
#define GREENLIGHT_BLOB_PRIV_H

#include <stddef.h>

#include "blob.h"

/* Headers: x-ms-version, x-ms-date, x-ms-client-request-id, auth + extra. */
#define HDR_EXTRA_MAX 16

struct blob_service {
	const struct config *cfg;
	struct http_client *http;
	struct auth *auth;
	char *base;	     /* endpoint/container */
	char account[128];   /* for messages */
	char host[256];	     /* endpoint host, for messages */
	char date_hdr[64];
	char reqid_hdr[80];
	char *auth_hdr;	     /* copy of the Authorization line (secret) */
	const char *hv[4 + HDR_EXTRA_MAX + 1];
};

/* base[/path][?query][&SAS]; path already escaped. Caller frees. */
char *blob_url_build(struct blob_service *bs, const char *path,
    const char *query);
/* blob_error_report with a note on retries (" after 6 attempts in 31s"). */
int blob_report(struct blob_service *bs, const struct http_response *resp,
    const char *subject, const char *note);
/* Printable, bounded, single-line copy of server text. */
void blob_clean_copy(char *out, size_t outsz, const char *in, size_t n);

#endif
