/*
 * spec.h — release.ini, the release spec at the root of every release: what
 * to run ([service], [environment]), what to unpack ([unpack]), the hooks
 * ([hooks]) and how to tell the workload is healthy ([health]). Every key is
 * documented in conf/release.ini.
 */
#ifndef GREENLIGHT_SPEC_H
#define GREENLIGHT_SPEC_H

#include <stdint.h>

#include "unpack.h"

#define SPEC_FILE "release.ini"
/* The workload's user when the spec names none: a system user without a
 * login shell or home, created by deploy when missing. */
#define SPEC_DEFAULT_USER "greenlight-app"

/* systemd Restart= values. */
enum spec_restart {
	SPEC_RESTART_NO,
	SPEC_RESTART_ON_SUCCESS,
	SPEC_RESTART_ON_FAILURE,
	SPEC_RESTART_ON_ABNORMAL,
	SPEC_RESTART_ON_WATCHDOG,
	SPEC_RESTART_ON_ABORT,
	SPEC_RESTART_ALWAYS,
	SPEC_RESTART__MAX
};
/* "no", "on-success", "on-failure", ... as systemd spells them. */
extern const char *const spec_restart_names[SPEC_RESTART__MAX];

enum spec_hook {
	SPEC_HOOK_BEFORE_INSTALL,
	SPEC_HOOK_AFTER_INSTALL,
	SPEC_HOOK_BEFORE_START,
	SPEC_HOOK_VALIDATE,
	SPEC_HOOK__MAX
};
/* "before_install", ... as the keys are spelled. */
extern const char *const spec_hook_names[SPEC_HOOK__MAX];

/*
 * A command. argv is exactly what to execve(): the words of line split by
 * spec_argv_split(), or { "/bin/sh", "-c", line } when shell is set. Every
 * element is literal (nothing expanded): a renderer into a unit file must
 * escape systemd's '%' and '$'. argv[0] containing '/' but not starting
 * with it is relative to the release: the caller prefixes the directory it
 * runs from (<root>/current for the service, the release for hooks).
 */
struct spec_command {
	char *line;	    /* as written; NULL: not set */
	char **argv;	    /* NULL-terminated; NULL: not set */
	int shell;	    /* run through /bin/sh -c */
	int64_t timeout_ms; /* hooks: kill the process group after this */
};

/* [unpack] archive = PATH [-> DEST] */
struct spec_archive {
	char *path; /* relative to the release root, normalised */
	char *dest; /* relative directory in the release; "" = the root */
};

/*
 * The parsed spec. Plain data owned by the struct (spec_free); durations in
 * milliseconds; lists NULL-terminated and never NULL.
 */
struct spec {
	char *path; /* the file read */
	/* [service] */
	char *name;		 /* unit name stem, [A-Za-z0-9_.-] */
	struct spec_command exec; /* ExecStart */
	char *user;		 /* never NULL (SPEC_DEFAULT_USER) */
	int user_default;	 /* user was not set: create it if missing */
	char *group;		 /* NULL: the user's primary group */
	int allow_root;		 /* user/group may be root */
	char *working_directory; /* NULL: <root>/current; relative: in it */
	char **environment;	 /* "KEY=VALUE" of [environment], in order */
	enum spec_restart restart;
	int64_t restart_sec_ms;
	int64_t stop_timeout_ms;
	char **writable_paths; /* absolute; ReadWritePaths= */
	/* [unpack] */
	struct spec_archive *archives;
	int narchives;
	struct unpack_limits limits;
	/* [hooks] */
	struct spec_command hooks[SPEC_HOOK__MAX];
	/* [health] */
	char *check_url;	  /* http(s) URL, or NULL */
	long check_status;	  /* expected HTTP status */
	char *check_tcp;	  /* host:port, or NULL */
	int64_t deadline_ms;	  /* validation must pass within this */
	int64_t interval_ms;	  /* between check attempts */
	int64_t check_timeout_ms; /* one attempt */
	int daemon;		  /* install the greenlight health unit */
};

/*
 * Read and validate the spec at path. Every problem is logged as
 * "FILE:LINE: what" and counted into *problems (a missing file is one
 * problem); the spec is usable only when *problems is 0. NULL only when out
 * of memory.
 */
struct spec *spec_load(const char *path, int *problems);
/* Free a spec; NULL is fine. */
void spec_free(struct spec *s);

/*
 * Split line into words like sh, without running one and expanding
 * nothing: blanks separate words; '...' is literal; in "..." a backslash
 * escapes only " \ $ `; elsewhere a backslash escapes any character; ""
 * is an empty word. Unquoted | & ; < > ( ) ` $ and a word-leading #, and
 * $ or ` inside "...", would mean something else to a shell and are
 * errors. Returns the word count with *argv NULL-terminated (free with
 * spec_argv_free), or -1 with *why set to a static reason.
 */
int spec_argv_split(const char *line, char ***argv, const char **why);
/* Free an argv from spec_argv_split; NULL is fine. */
void spec_argv_free(char **argv);

#endif
