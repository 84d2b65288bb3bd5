/* config.h — greenlight.ini, environment and flag overrides, validation. */
#ifndef GREENLIGHT_CONFIG_H
#define GREENLIGHT_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/greenlight/greenlight.ini"

enum auth_method {
	AUTH_MANAGED_IDENTITY,
	AUTH_SAS,
	AUTH_NONE,
	AUTH__MAX
};

enum install_scope {
	SCOPE_SYSTEM,
	SCOPE_USER,
	SCOPE__MAX
};

/* Scheduled Event types, as bits in config.health_events. */
enum event_type {
	EVENT_TERMINATE,
	EVENT_PREEMPT,
	EVENT_REBOOT,
	EVENT_REDEPLOY,
	EVENT_FREEZE,
	EVENT__MAX
};
extern const char *const event_type_names[EVENT__MAX];

/*
 * The effective configuration. Plain data: strings are owned by the struct
 * (freed by config_free), durations are milliseconds, sizes bytes. An empty
 * optional string is NULL.
 */
struct config {
	/* [storage] */
	char *account;	 /* storage account name */
	char *endpoint;	 /* blob service base URL, no trailing '/' */
	char *container; /* container holding release folders */
	char *release;	 /* release folder name */
	char *ca_file;	 /* extra CA bundle for TLS verification */
	/* [auth] */
	enum auth_method auth_method;
	char *client_id;  /* user-assigned identity by client id */
	char *object_id;  /* ... or by object id */
	char *msi_res_id; /* ... or by ARM resource id */
	char *sas_file;	  /* file holding a SAS token (method = sas) */
	char *sas_token;  /* SAS token itself (env only; secret) */
	/* [imds] */
	char *imds_endpoint; /* http://169.254.169.254 */
	/* [fetch] */
	long connections;	   /* parallel connections in total */
	uint64_t chunk_size;	   /* range size for large blobs */
	int64_t deadline_ms;	   /* whole fetch incl. retries */
	uint64_t max_release_size; /* refuse larger releases */
	/* [install] */
	char *root;		/* /opt/greenlight */
	long keep;		/* old releases kept besides current/previous */
	enum install_scope scope; /* system | user */
	char *unit_dir;		/* where units are written */
	char *state_file;	/* state.json */
	char *lock_file;	/* flock for one deploy at a time */
	int64_t lock_wait_ms;	/* how long a second deploy waits */
	/* [health] */
	char *health_listen;	  /* host:port of the probe server */
	char *health_path;	  /* LB probe path (/health) */
	unsigned health_events;	  /* bitmask of 1 << enum event_type */
	int64_t probe_interval_ms; /* LB probe interval */
	long probe_threshold;	  /* LB unhealthy threshold */
	int64_t drain_min_ms;	  /* 0 = probe_interval*threshold + margin */
	int64_t drain_max_ms;	  /* cap; inside notBeforeTimeout */
	int64_t preempt_drain_max_ms; /* Preempt gives 30 s notice */
	int approve;		  /* approve events at all */
	int64_t poll_interval_ms; /* Scheduled Events poll */
	char *check_url;	  /* workload HTTP check (overrides spec) */
	long check_status;	  /* expected status of check_url */
	char *check_tcp;	  /* or host:port TCP check */
	int64_t check_interval_ms;
	int64_t check_timeout_ms;
	long check_threshold;	  /* consecutive results before a flip */
	char *workload_ports;	  /* ports whose connections drain */

	/* where each value came from, indexed like the key table */
	char *origin[64];
	char *path; /* the file read, or NULL */
};

/* What a command needs present, for config_check(). */
#define CONFIG_NEED_STORAGE 0x1 /* account/endpoint and container */
#define CONFIG_NEED_RELEASE 0x2 /* release name */

/*
 * Load defaults, then path (NULL: the default path, which may be missing),
 * then the environment. Every problem is logged as "FILE:LINE: what" and
 * counted; returns a config (also when problems > 0, for printing) or NULL
 * on allocation failure. *problems gets the count.
 */
struct config *config_load(const char *path, int *problems);
/*
 * Apply one "section.key=value" or ("section.key", value) override from
 * the command line; origin says where it came from ("flag --release").
 * Returns 0 or -1 (logged).
 */
int config_set(struct config *cfg, const char *name, const char *value,
    const char *origin);
/* Check required keys and cross-key rules; logs each problem. Returns count. */
int config_check(struct config *cfg, unsigned need);
/* Print every key, its effective value and origin; secrets masked. */
void config_print(const struct config *cfg, FILE *out);
/* Effective drain_min: explicit, or probe_interval * threshold + margin. */
int64_t config_drain_min_ms(const struct config *cfg);
/* Free everything; NULL is fine. Secrets are wiped. */
void config_free(struct config *cfg);
/* Name of an auth method / scope for logs. */
const char *config_auth_name(enum auth_method m);
const char *config_scope_name(enum install_scope s);

#endif
