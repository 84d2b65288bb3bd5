/*
 * imds.h — managed-identity tokens from the Instance Metadata Service.
 * GET {imds}/metadata/identity/oauth2/token (Metadata: true, never via a
 * proxy). 410 is retried for at least 70 s; 404, 429, 5xx and transport
 * errors back off with jitter up to the deadline; 400 fails at once.
 */
#ifndef GREENLIGHT_IMDS_H
#define GREENLIGHT_IMDS_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "http.h"

struct imds_token {
	char *access_token; /* secret: wiped on free, never logged */
	int64_t expires_on; /* Unix seconds */
	int64_t not_before; /* Unix seconds, 0 if absent */
	char *resource;
};

/*
 * Parse a token response body (all numbers are JSON strings in IMDS).
 * Returns 0, or -1 with a reason in err ("missing access_token").
 */
int imds_token_parse(const char *json, size_t len, struct imds_token *tok,
    char *err, size_t errsz);
/* Free and wipe a token's contents (the struct itself is the caller's). */
void imds_token_clear(struct imds_token *tok);

/*
 * Fetch a token for resource (e.g. "https://storage.azure.com/") with the
 * identity cfg selects, retrying per the IMDS rules until deadline_ms of
 * waiting (0 = the config's [fetch] deadline). Returns EXIT_OK or the enum
 * exit_code of the failure (logged, naming the setting to check).
 * clock NULL = real time.
 */
int imds_token_fetch(const struct config *cfg, struct http_client *http,
    const char *resource, int64_t deadline_ms, const struct clock *clock,
    struct imds_token *tok);
/*
 * imds_token_fetch for an optional early refresh while the caller still
 * holds a valid token: same rules, but failures are logged at debug level
 * only (the caller decides what to say).
 */
int imds_token_try(const struct config *cfg, struct http_client *http,
    const char *resource, int64_t deadline_ms, struct imds_token *tok);

#endif
