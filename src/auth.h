/*
 * auth.h — how requests to Blob Storage are authorised: a managed-identity
 * bearer token from IMDS (cached in memory, refreshed before expiry and once
 * after storage rejects it), a SAS token (from sas_file or the environment,
 * never argv, never logged), or nothing (public containers).
 */
#ifndef GREENLIGHT_AUTH_H
#define GREENLIGHT_AUTH_H

#include "config.h"
#include "http.h"

struct auth;

/*
 * New authoriser for cfg (kept by reference; must outlive it). Reads the
 * SAS file now. NULL on failure (logged; *exit_code gets the enum
 * exit_code to return, e.g. EXIT_CONFIG for an unreadable sas_file).
 */
struct auth *auth_new(const struct config *cfg, struct http_client *http,
    int *exit_code);
/* Free and wipe secrets; NULL is fine. */
void auth_free(struct auth *a);

/*
 * Authorisation for the next storage request: *header gets a complete
 * header line ("Authorization: Bearer …") or NULL, *query a query-string
 * fragment without '?' or '&' (SAS) or NULL. Both stay valid until the next
 * auth_* call. May block to fetch a token from IMDS (with the IMDS retry
 * rules, bounded by [fetch] deadline). Returns EXIT_OK or the enum
 * exit_code of the failure (logged with what to do).
 */
int auth_prepare(struct auth *a, const char **header, const char **query);
/*
 * Storage rejected the credentials (401, or 403 AuthenticationFailed).
 * Returns 0 when one retry with fresh credentials is worthwhile (the cached
 * token was dropped), -1 when not (already refreshed once since the last
 * success, or SAS/none). Not logged. Rejections arriving after the drop but
 * before a new token was fetched also return 0 (same refresh).
 */
int auth_rejected(struct auth *a);
/*
 * Changes whenever auth_prepare starts handing out a new credential. A
 * caller with requests in flight notes it per request: a rejection of a
 * request made with an older generation is retried without auth_rejected.
 */
unsigned auth_generation(const struct auth *a);
/* The last request with these credentials succeeded: re-arm auth_rejected. */
void auth_accepted(struct auth *a);
/*
 * Who requests are made as, for messages: "the system-assigned managed
 * identity", "the user-assigned managed identity client_id=…", "the SAS
 * token", "anonymous access".
 */
const char *auth_describe(const struct auth *a);

#endif
