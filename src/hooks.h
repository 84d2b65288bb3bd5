/*
 * hooks.h — release hooks (before_install, after_install, before_start,
 * validate): a command from the spec run with a timeout in its own process
 * group (the whole group is killed on timeout, and whatever it leaves
 * running), stdin /dev/null, output logged line by line as
 * "hook NAME: LINE" with its last bytes kept for the state file.
 *
 * The environment is built from nothing, never inherited (no secrets):
 * PATH (HOOKS_PATH), HOME (of the user it runs as), LANG (C.UTF-8) unless
 * the spec's environment sets them, GREENLIGHT_HOOK, GREENLIGHT_RELEASE,
 * GREENLIGHT_PREVIOUS_RELEASE (empty when none), GREENLIGHT_RELEASE_DIR,
 * GREENLIGHT_ROOT, then the spec's environment (its GREENLIGHT_* ignored).
 */
#ifndef GREENLIGHT_HOOKS_H
#define GREENLIGHT_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#define HOOKS_TIMEOUT_MS 300000 /* when the spec gives none */
#define HOOKS_TAIL_MAX 4096
#define HOOKS_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum hook_outcome {
	HOOK_OK,      /* exited 0 */
	HOOK_FAILED,  /* exited non-zero */
	HOOK_KILLED,  /* died of a signal it did not get from us */
	HOOK_TIMEOUT, /* ran past its timeout; group killed */
	HOOK_ERROR,   /* could not be started */
	HOOK__MAX
};
extern const char *const hook_outcome_names[HOOK__MAX];

struct hook {
	const char *name;    /* "before_install" */
	char *const *argv;   /* the command (NULL-terminated) ... */
	const char *shell;   /* ... or a command for /bin/sh -c */
	int64_t timeout_ms;  /* 0: HOOKS_TIMEOUT_MS */
	const char *cwd;     /* NULL: release_dir */
	const char *user;    /* run as this user (greenlight must be root);
				NULL: as greenlight */
	char *const *env;    /* spec's "NAME=value" strings, NULL-terminated */
	const char *release;	  /* GREENLIGHT_RELEASE */
	const char *previous;	  /* ..._PREVIOUS_RELEASE, NULL = "" */
	const char *release_dir;  /* GREENLIGHT_RELEASE_DIR */
	const char *root;	  /* GREENLIGHT_ROOT */
};

struct hook_result {
	enum hook_outcome outcome;
	int status;	  /* exit status (HOOK_OK/HOOK_FAILED) */
	int signal;	  /* HOOK_KILLED */
	int64_t ms;	  /* how long it ran */
	char message[256]; /* "hook validate: exited with status 1" */
	char tail[HOOKS_TAIL_MAX + 1]; /* last output bytes, NUL-terminated */
	size_t tail_len;
};

/*
 * Run hook h to completion. Returns h's outcome (also in res); anything but
 * HOOK_OK is logged as an error with res->message.
 */
enum hook_outcome hooks_run(const struct hook *h, struct hook_result *res);

#endif
