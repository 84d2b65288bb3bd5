/*
 * config_check.c — the rules a configuration must meet beyond each key's
 * own syntax: storage names, keys that need each other, limits between
 * keys, and what a command needs present.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_int.h"
#include "log.h"

/* Container names: 3-63 of [a-z0-9-], starting and ending alphanumeric. */
static int
container_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!(islower((unsigned char)s[i]) ||
		    isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
		if (s[i] == '-' && s[i + 1] == '-')
			return 0;
	}
	return 1;
}

/* Storage account names: 3-24 lower-case letters and digits. */
static int
account_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 24)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Release names become directory names: one safe path segment. */
static int
release_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!(isalnum((unsigned char)s[i]) || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-' || s[i] == '+' || s[i] == '@'))
			return 0;
	}
	return 1;
}

int
config_check(struct config *cfg, unsigned need)
{
	int n = 0, ids = 0;
	char url[512];

	if (cfg->account != NULL && !account_valid(cfg->account)) {
		log_error("%s: storage.account \"%s\" is not a valid storage "
		    "account name (3-24 lower-case letters and digits)",
		    config_origin(cfg, "storage", "account"), cfg->account);
		n++;
	} else if (cfg->endpoint == NULL && cfg->account != NULL) {
		if (snprintf(url, sizeof(url),
		    "https://%s.blob.core.windows.net",
		    cfg->account) >= (int)sizeof(url)) {
			log_error("storage.account: too long");
			n++;
		} else {
			cfg->endpoint = strdup(url);
			config_origin_set(cfg, "storage", "endpoint",
			    "default (from storage.account)");
		}
	}
	if (need & CONFIG_NEED_STORAGE) {
		if (cfg->endpoint == NULL && cfg->account == NULL) {
			log_error("storage.account is required (or "
			    "storage.endpoint): set it in the config file or "
			    "GREENLIGHT_STORAGE_ACCOUNT");
			n++;
		}
		if (cfg->container == NULL) {
			log_error("storage.container is required: set it in "
			    "the config file, BLOB_CONTAINER_NAME or "
			    "GREENLIGHT_STORAGE_CONTAINER");
			n++;
		}
	}
	if (cfg->endpoint != NULL &&
	    strncmp(cfg->endpoint, "https://", 8) != 0) {
		log_error("%s: storage.endpoint \"%s\" must use https:// "
		    "(tokens are never sent over plain HTTP)",
		    config_origin(cfg, "storage", "endpoint"), cfg->endpoint);
		n++;
	}
	if (cfg->endpoint != NULL && strpbrk(cfg->endpoint, "?#") != NULL) {
		log_error("%s: storage.endpoint must be the blob service URL "
		    "without a query; put a SAS token in auth.sas_file",
		    config_origin(cfg, "storage", "endpoint"));
		n++;
	}
	if (cfg->container != NULL && !container_valid(cfg->container)) {
		log_error("%s: storage.container \"%s\" is not a valid "
		    "container name (3-63 lower-case letters, digits and "
		    "single hyphens)",
		    config_origin(cfg, "storage", "container"), cfg->container);
		n++;
	}
	if ((need & CONFIG_NEED_RELEASE) && cfg->release == NULL) {
		log_error("storage.release is required: pass --release, set "
		    "RELEASE_FOLDER_NAME, or set it in the config file");
		n++;
	}
	if (cfg->release != NULL && !release_valid(cfg->release)) {
		log_error("%s: storage.release \"%s\" is not a valid release "
		    "name (one path segment of letters, digits, '.', '_', "
		    "'-', '+', '@')", config_origin(cfg, "storage", "release"),
		    cfg->release);
		n++;
	}
	ids = (cfg->client_id != NULL) + (cfg->object_id != NULL) +
	    (cfg->msi_res_id != NULL);
	if (cfg->auth_method == AUTH_MANAGED_IDENTITY && ids > 1) {
		log_error("auth: set at most one of client_id, object_id and "
		    "msi_res_id");
		n++;
	}
	if (cfg->auth_method == AUTH_SAS && cfg->sas_file == NULL &&
	    cfg->sas_token == NULL) {
		log_error("auth.method = sas needs auth.sas_file or the "
		    "environment variable GREENLIGHT_AUTH_SAS_TOKEN");
		n++;
	}
	if (cfg->chunk_size < 64 * 1024 || cfg->chunk_size > 1024ull << 20) {
		log_error("%s: fetch.chunk_size must be between 64K and 1G",
		    config_origin(cfg, "fetch", "chunk_size"));
		n++;
	}
	if (cfg->drain_min_ms > 0 && cfg->drain_max_ms < cfg->drain_min_ms) {
		log_error("%s: health.drain_max must not be below "
		    "health.drain_min",
		    config_origin(cfg, "health", "drain_max"));
		n++;
	}
	if (cfg->drain_max_ms > 15 * 60 * 1000) {
		log_error("%s: health.drain_max must stay inside the scale "
		    "set's notBeforeTimeout (at most 15m)",
		    config_origin(cfg, "health", "drain_max"));
		n++;
	}
	if (cfg->health_path != NULL && cfg->health_path[0] != '/') {
		log_error("%s: health.path must start with '/'",
		    config_origin(cfg, "health", "path"));
		n++;
	}
	if (cfg->health_listen == NULL ||
	    strrchr(cfg->health_listen, ':') == NULL) {
		log_error("%s: health.listen must be HOST:PORT",
		    config_origin(cfg, "health", "listen"));
		n++;
	}
	return n;
}
