/* agent.h — the few definitions every module shares: exit codes and limits. */
#ifndef GREENLIGHT_AGENT_H
#define GREENLIGHT_AGENT_H

/*
 * Exit codes are part of the user interface (README, `greenlight help deploy`).
 * The Custom Script Extension reports any non-zero code as failure, so a
 * no-op deploy must exit EXIT_OK.
 */
enum exit_code {
	EXIT_OK = 0,	     /* success, or already current (no-op) */
	EXIT_FAILURE_ = 1,   /* internal or unexpected failure */
	EXIT_USAGE = 2,	     /* bad command line */
	EXIT_CONFIG = 3,     /* configuration or release spec invalid */
	EXIT_AUTH = 4,	     /* identity, token or permission refused */
	EXIT_NOTFOUND = 5,   /* account, container, release or blob missing */
	EXIT_INTEGRITY = 6,  /* size / MD5 / MANIFEST / archive check failed */
	EXIT_ROLLEDBACK = 7, /* install or validation failed; previous kept */
	EXIT_TEMPORARY = 8,  /* network, throttling, IMDS, lock busy: retry */
	EXIT_LOCAL = 9,	     /* this machine: disk full, permissions, systemd */
	EXIT__MAX
};

/* Short name of an exit code for logs and the state file ("auth", ...). */
const char *exit_code_name(int code);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
