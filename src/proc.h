/*
 * proc.h — run one command the careful way: fork + execve (never a shell
 * unless the caller puts one in argv), its own process group, a chosen
 * environment and working directory, stdin from /dev/null, stdout+stderr
 * captured through one pipe (every line handed to a callback, the last
 * bytes kept), a timeout that kills the whole group (TERM, then KILL after
 * a grace). Used by hooks.c and service.c (systemctl, systemd-analyze).
 */
#ifndef GREENLIGHT_PROC_H
#define GREENLIGHT_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_TAIL_MAX 4096	      /* output tail kept by default */
#define PROC_LINE_MAX 1024	      /* longer lines are split */
#define PROC_LOG_MAX (1024 * 1024)    /* bytes handed to on_line, then quiet */
#define PROC_GRACE_MS 5000	      /* TERM -> KILL grace by default */

struct proc_opts {
	char *const *argv;  /* argv[0] without '/' is searched in envp's PATH */
	char *const *envp;  /* NULL: inherit greenlight's environment */
	const char *cwd;    /* NULL: greenlight's working directory */
	int64_t timeout_ms; /* > 0 required */
	int64_t grace_ms;   /* TERM -> KILL; 0 = PROC_GRACE_MS */
	uid_t uid;	    /* run as uid/gid when drop is set (root only) */
	gid_t gid;
	int drop;
	size_t tail_max;    /* 0 = PROC_TAIL_MAX */
	/* each output line without its newline (NUL-terminated); NULL = none */
	void (*on_line)(void *arg, const char *line);
	void *arg;
};

struct proc_result {
	int exited;	 /* 1: exited with status */
	int status;	 /* exit status when exited */
	int signal;	 /* signal that killed it, or 0 */
	int timed_out;	 /* 1: killed because the timeout passed */
	int leftovers;	 /* 1: group members outlived it (killed) */
	int64_t ms;	 /* wall time */
	char *tail;	 /* output tail, NUL-terminated; caller frees */
	size_t tail_len;
};

/*
 * Run the command to completion. Returns 0 when it ran (whatever its
 * outcome, in *res), -1 when it could not be started (logged, *res zeroed).
 * Processes the command leaves behind in its group are killed, and so is the
 * whole group on timeout.
 */
int proc_run(const struct proc_opts *opts, struct proc_result *res);
/* Free res->tail; res may be reused. */
void proc_result_free(struct proc_result *res);
/* "exited with status 3", "killed by signal 9 (KILL)", "timed out after
 * 30s; its process group was killed". */
void proc_describe(const struct proc_result *res, int64_t timeout_ms,
    char *out, size_t outsz);
/* Find a bare command name in a PATH list; 0 and the path in out, or -1. */
int proc_which(const char *name, const char *path_list, char *out,
    size_t outsz);

#endif
