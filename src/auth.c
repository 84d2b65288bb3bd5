/* auth.c — credentials for storage: managed identity, SAS, or none. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "auth.h"
#include "clock.h"
#include "imds.h"
#include "log.h"
#include "parse.h"

/* The audience of Blob Storage tokens (IMDS-style, with the slash). */
#define AUTH_RESOURCE "https://storage.azure.com/"
/* Refresh a token when less than this is left ... */
#define REFRESH_BEFORE_S 300
/* ... but at most once per this (or a quarter of the lifetime) ... */
#define EARLY_EVERY_MS 30000
/* ... and give it at most this long (the old token is still good). */
#define EARLY_DEADLINE_MS 15000
/* A SAS token is a query string of a few hundred bytes. */
#define SAS_MAX 8192

struct auth {
	const struct config *cfg;
	struct http_client *http;
	enum auth_method method;
	struct imds_token tok;	/* managed identity: the cached token */
	int64_t fetched_ms;	/* wall clock (ms) when tok arrived */
	int64_t next_early_ms;	/* no early refresh before this (wall ms) */
	int forced;		/* refresh forced since the last success */
	int refetched;		/* ... and a new token arrived after it */
	int warned_early;	/* early-refresh failure logged once */
	int stale_at_issue;	/* expired by our clock when it arrived */
	unsigned generation;	/* bumped with every new credential */
	char *header;		/* "Authorization: Bearer ..." (secret) */
	char *sas;		/* SAS query without '?' (secret) */
	char describe[256];
};

static void
secret_free(char **p)
{
	if (*p != NULL) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* Drop the cached token and its header. */
static void
token_drop(struct auth *a)
{
	imds_token_clear(&a->tok);
	secret_free(&a->header);
	a->fetched_ms = 0;
}

/* Pause between early refresh attempts: 30 s, less for short tokens. */
static int64_t
early_every_ms(const struct auth *a)
{
	int64_t life_ms = a->tok.expires_on * 1000 - a->fetched_ms;

	if (life_ms / 4 < EARLY_EVERY_MS)
		return life_ms > 0 ? life_ms / 4 : 0;
	return EARLY_EVERY_MS;
}

/* Take tok as the current token; builds the header. 0 or -1. */
static int
token_take(struct auth *a, struct imds_token *tok)
{
	static const char prefix[] = "Authorization: Bearer ";
	size_t n = sizeof(prefix) + strlen(tok->access_token);
	char *h = malloc(n);
	int64_t now_ms = clock_wall_ms(), now = now_ms / 1000;

	if (h == NULL) {
		imds_token_clear(tok);
		log_error("auth: out of memory");
		return -1;
	}
	memcpy(h, prefix, sizeof(prefix) - 1);
	memcpy(h + sizeof(prefix) - 1, tok->access_token,
	    strlen(tok->access_token) + 1);
	token_drop(a);
	a->tok = *tok;
	memset(tok, 0, sizeof(*tok));
	a->header = h;
	a->fetched_ms = now_ms;
	a->next_early_ms = now_ms + early_every_ms(a);
	a->generation++;
	if (a->forced)
		a->refetched = 1;
	a->stale_at_issue = a->tok.expires_on <= now;
	if (a->stale_at_issue)
		log_warn("managed identity: IMDS issued a token that has "
		    "already expired by this VM's clock (%" PRId64 " s "
		    "ago); storage will refuse it — check the system clock "
		    "(timedatectl, chrony)", now - a->tok.expires_on);
	else
		log_debug("managed identity: token valid for %" PRId64 " s",
		    a->tok.expires_on - now);
	return 0;
}

/*
 * A token is usable until a small margin before expiry: a tenth of its
 * lifetime, at most 30 s (so a short-lived test token is still used).
 */
static int
token_usable(const struct auth *a, int64_t now)
{
	int64_t life, margin;

	if (a->header == NULL)
		return 0;
	life = a->tok.expires_on - a->fetched_ms / 1000;
	margin = life > 0 ? life / 10 : 0;
	if (margin > 30)
		margin = 30;
	return now < a->tok.expires_on - margin;
}

static int
prepare_identity(struct auth *a)
{
	struct imds_token tok;
	int64_t now_ms = clock_wall_ms(), now = now_ms / 1000, deadline;
	int rc;

	/*
	 * A token that was expired when IMDS issued it means our clock is
	 * off: asking again gives the same; let storage judge it (a refusal
	 * drops it through auth_rejected).
	 */
	if (a->header != NULL && a->stale_at_issue)
		return EXIT_OK;
	if (token_usable(a, now)) {
		if (a->tok.expires_on - now >= REFRESH_BEFORE_S ||
		    now_ms < a->next_early_ms)
			return EXIT_OK;
		/* early refresh; on failure keep the token we have */
		deadline = a->cfg->deadline_ms;
		if (deadline <= 0 || deadline > EARLY_DEADLINE_MS)
			deadline = EARLY_DEADLINE_MS;
		rc = imds_token_try(a->cfg, a->http, AUTH_RESOURCE, deadline,
		    &tok);
		if (rc == EXIT_OK)
			return token_take(a, &tok) == 0 ? EXIT_OK :
			    EXIT_FAILURE_;
		a->next_early_ms = clock_wall_ms() + early_every_ms(a);
		if (!a->warned_early) {
			log_warn("managed identity: early token refresh "
			    "failed (%s); using the current token, valid "
			    "for %" PRId64 " s more", exit_code_name(rc),
			    a->tok.expires_on - now);
			a->warned_early = 1;
		}
		return EXIT_OK;
	}
	token_drop(a);
	rc = imds_token_fetch(a->cfg, a->http, AUTH_RESOURCE, 0, NULL, &tok);
	if (rc != EXIT_OK)
		return rc;
	return token_take(a, &tok) == 0 ? EXIT_OK : EXIT_FAILURE_;
}

/* Trim, accept "?sv=..." or a whole SAS URL; NULL or what is wrong. */
static const char *
sas_normalize(char *s)
{
	char *p = s, *q, *end;

	while (isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	if (strncmp(p, "https://", 8) == 0 || strncmp(p, "http://", 7) == 0) {
		q = strchr(p, '?');
		if (q == NULL)
			return "is a URL without a query string, not a SAS "
			    "token";
		p = q;
	}
	if (*p == '?')
		p++;
	if (*p == '\0')
		return "is empty";
	for (q = p; *q; q++)
		if (!isgraph((unsigned char)*q) || *q == '#')
			return "contains characters a SAS token cannot have "
			    "(one token on one line expected)";
	if (strncmp(p, "sig=", 4) != 0 && strstr(p, "&sig=") == NULL)
		return "has no signature (sig parameter), so it is not a "
		    "SAS token";
	memmove(s, p, strlen(p) + 1);
	return NULL;
}

/* Read the SAS from the environment or sas_file. EXIT_OK or EXIT_CONFIG. */
static int
sas_load(struct auth *a)
{
	const struct config *cfg = a->cfg;
	char buf[SAS_MAX + 1];
	const char *src, *why;
	struct stat st;
	size_t n = 0;
	int fd = -1, rc = EXIT_CONFIG;

	if (cfg->sas_token != NULL) {
		src = "GREENLIGHT_AUTH_SAS_TOKEN";
		if (strlen(cfg->sas_token) > SAS_MAX) {
			log_error("auth: %s is longer than %d bytes; it is not "
			    "a SAS token", src, SAS_MAX);
			goto out;
		}
		memcpy(buf, cfg->sas_token, strlen(cfg->sas_token) + 1);
	} else {
		src = cfg->sas_file;
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			log_error("auth: sas_file %s: cannot read: %s; check "
			    "[auth] sas_file", src, strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			log_error("auth: sas_file %s is not a regular file; "
			    "check [auth] sas_file", src);
			goto out;
		}
		if (st.st_mode & S_IROTH)
			log_warn("auth: sas_file %s is readable by every user "
			    "of this machine; chmod 600 it", src);
		for (;;) {
			ssize_t r = read(fd, buf + n, SAS_MAX + 1 - n);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				log_error("auth: sas_file %s: read failed: %s",
				    src, strerror(errno));
				goto out;
			}
			if (r == 0)
				break;
			n += (size_t)r;
			if (n > SAS_MAX) {
				log_error("auth: sas_file %s is larger than %d "
				    "bytes; it should hold one SAS token", src,
				    SAS_MAX);
				goto out;
			}
		}
		buf[n] = '\0';
		if (strlen(buf) != n) {
			log_error("auth: sas_file %s holds binary data, not "
			    "a SAS token", src);
			goto out;
		}
	}
	why = sas_normalize(buf);
	if (why != NULL) {
		log_error("auth: the SAS token from %s %s; check [auth] "
		    "sas_file / GREENLIGHT_AUTH_SAS_TOKEN", src, why);
		goto out;
	}
	a->sas = strdup(buf);
	if (a->sas == NULL) {
		log_error("auth: out of memory");
		rc = EXIT_FAILURE_;
		goto out;
	}
	a->generation++;
	rc = EXIT_OK;
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return rc;
}

struct auth *
auth_new(const struct config *cfg, struct http_client *http, int *exit_code)
{
	struct auth *a;
	int rc = EXIT_FAILURE_;

	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		log_error("auth: out of memory");
		goto fail;
	}
	a->cfg = cfg;
	a->http = http;
	a->method = cfg->auth_method;
	switch (a->method) {
	case AUTH_MANAGED_IDENTITY:
		if (cfg->client_id != NULL)
			snprintf(a->describe, sizeof(a->describe), "the "
			    "user-assigned managed identity client_id=%s",
			    cfg->client_id);
		else if (cfg->object_id != NULL)
			snprintf(a->describe, sizeof(a->describe), "the "
			    "user-assigned managed identity object_id=%s",
			    cfg->object_id);
		else if (cfg->msi_res_id != NULL)
			snprintf(a->describe, sizeof(a->describe), "the "
			    "user-assigned managed identity msi_res_id=%s",
			    cfg->msi_res_id);
		else
			snprintf(a->describe, sizeof(a->describe), "the "
			    "system-assigned managed identity");
		break;
	case AUTH_SAS:
		snprintf(a->describe, sizeof(a->describe), "the SAS token");
		rc = sas_load(a);
		if (rc != EXIT_OK)
			goto fail;
		break;
	case AUTH_NONE:
	default:
		snprintf(a->describe, sizeof(a->describe), "anonymous access");
		break;
	}
	if (exit_code != NULL)
		*exit_code = EXIT_OK;
	return a;
fail:
	auth_free(a);
	if (exit_code != NULL)
		*exit_code = rc;
	return NULL;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	token_drop(a);
	secret_free(&a->sas);
	free(a);
}

int
auth_prepare(struct auth *a, const char **header, const char **query)
{
	int rc = EXIT_OK;

	*header = NULL;
	*query = NULL;
	switch (a->method) {
	case AUTH_MANAGED_IDENTITY:
		rc = prepare_identity(a);
		if (rc == EXIT_OK)
			*header = a->header;
		break;
	case AUTH_SAS:
		*query = a->sas;
		break;
	default:
		break;
	}
	return rc;
}

int
auth_rejected(struct auth *a)
{
	if (a->method != AUTH_MANAGED_IDENTITY)
		return -1;
	if (a->forced && a->refetched)
		return -1;
	/* rejections of the old token before the new one arrived: fine */
	a->forced = 1;
	token_drop(a);
	return 0;
}

void
auth_accepted(struct auth *a)
{
	a->forced = 0;
	a->refetched = 0;
}

unsigned
auth_generation(const struct auth *a)
{
	return a->generation;
}

const char *
auth_describe(const struct auth *a)
{
	return a->describe;
}
