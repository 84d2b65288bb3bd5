/*
 * proc.c — run one command with a timeout in its own process group, output
 * captured through a pipe. fork + execve only: no shell, no popen.
 *
 * The parent waits on a pidfd (or polls every 20 ms when the kernel has
 * none) and on the output pipe at once. Exec failures come back through a
 * close-on-exec status pipe, so "command not found" is an error of
 * proc_run() and not an exit status 127 of a child.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "parse.h"
#include "proc.h"

#define PROC_DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PROC_DRAIN_MS 100   /* output still arriving after the exit */
#define PROC_GIVEUP_MS 2000 /* after KILL, stop waiting for the pipe */

extern char **environ;

/* What the child reports through the status pipe when it cannot exec. */
enum child_stage {
	CHILD_CHDIR,
	CHILD_PRIVS,
	CHILD_EXEC,
};

struct child_error {
	int stage;
	int err;
};

/* Output bookkeeping: current line, tail ring, how much was logged. */
struct outbuf {
	const struct proc_opts *o;
	char line[PROC_LINE_MAX];
	size_t linelen;
	char *tail;
	size_t tailcap, taillen;
	size_t logged;
	int quiet; /* PROC_LOG_MAX reached */
};

int
proc_which(const char *name, const char *path_list, char *out, size_t outsz)
{
	const char *p = path_list ? path_list : PROC_DEFAULT_PATH;

	if (name[0] == '\0' || strchr(name, '/') != NULL)
		return -1;
	while (*p != '\0') {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct stat st;
		int n;

		if (len > 0 && p[0] == '/') {
			n = snprintf(out, outsz, "%.*s/%s", (int)len, p, name);
			if (n > 0 && (size_t)n < outsz &&
			    stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
			    access(out, X_OK) == 0)
				return 0;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return -1;
}

static const char *
env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	if (envp == NULL)
		return getenv(name);
	for (size_t i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
			return envp[i] + len + 1;
	return NULL;
}

static void
out_emit(struct outbuf *b)
{
	if (b->o->on_line == NULL || b->quiet)
		goto done;
	b->line[b->linelen] = '\0';
	for (size_t i = 0; i < b->linelen; i++) {
		unsigned char c = (unsigned char)b->line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			b->line[i] = '?';
	}
	b->o->on_line(b->o->arg, b->line);
	b->logged += b->linelen + 1;
	if (b->logged >= PROC_LOG_MAX) {
		b->quiet = 1;
		b->o->on_line(b->o->arg,
		    "(output past 1 MiB is not logged; its tail is kept)");
	}
done:
	b->linelen = 0;
}

static void
out_feed(struct outbuf *b, const char *p, size_t n)
{
	/* tail: keep the last tailcap bytes */
	if (n >= b->tailcap) {
		memcpy(b->tail, p + n - b->tailcap, b->tailcap);
		b->taillen = b->tailcap;
	} else {
		if (b->taillen + n > b->tailcap) {
			size_t drop = b->taillen + n - b->tailcap;

			memmove(b->tail, b->tail + drop, b->taillen - drop);
			b->taillen -= drop;
		}
		memcpy(b->tail + b->taillen, p, n);
		b->taillen += n;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (b->linelen > 0 && b->line[b->linelen - 1] == '\r')
				b->linelen--;
			out_emit(b);
			continue;
		}
		if (b->linelen == sizeof(b->line) - 1)
			out_emit(b);
		b->line[b->linelen++] = p[i];
	}
}

/* Is any member of process group pgid alive (not a zombie)? */
static int
group_alive(pid_t pgid)
{
	DIR *d;
	struct dirent *e;
	int alive = 0;

	if (kill(-pgid, 0) < 0)
		return errno == EPERM;
	/* Members may be zombies nobody reaps (PID 1 need not be init). */
	d = opendir("/proc");
	if (d == NULL)
		return 1;
	while (!alive && (e = readdir(d)) != NULL) {
		char path[64], buf[512], *rp;
		long pgrp;
		ssize_t r;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name) >=
		    (int)sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		/* "pid (comm) S ppid pgrp ..." — comm may hold spaces */
		rp = strrchr(buf, ')');
		if (rp == NULL || rp[1] != ' ' || rp[2] == '\0')
			continue;
		if (rp[2] == 'Z' || rp[2] == 'X')
			continue;
		rp = strchr(rp + 4, ' ');
		if (rp == NULL)
			continue;
		pgrp = strtol(rp + 1, NULL, 10);
		if (pgrp == (long)pgid)
			alive = 1;
	}
	closedir(d);
	return alive;
}

/* In the child: report why we could not exec, then exit. */
static void __attribute__((noreturn))
child_fail(int fd, int stage)
{
	struct child_error ce = { stage, errno };
	ssize_t w;

	w = write(fd, &ce, sizeof(ce));
	(void)w;
	_exit(127);
}

static void __attribute__((noreturn))
child_run(const struct proc_opts *o, const char *path, int outfd,
    int statfd)
{
	sigset_t none;
	int devnull;

	setpgid(0, 0);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0 && devnull != STDIN_FILENO) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	dup2(outfd, STDOUT_FILENO);
	dup2(outfd, STDERR_FILENO);
	if (outfd > STDERR_FILENO && outfd != statfd)
		close(outfd);
	/* Close every other descriptor but the status pipe (close-on-exec). */
	if ((statfd > 3 && syscall(SYS_close_range, 3, statfd - 1, 0) < 0) ||
	    syscall(SYS_close_range, statfd + 1, ~0U, 0) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			if (fd != statfd)
				close(fd);
	}
	if (o->cwd != NULL && chdir(o->cwd) < 0)
		child_fail(statfd, CHILD_CHDIR);
	if (o->drop) {
		if (setgroups(1, &o->gid) < 0 || setgid(o->gid) < 0 ||
		    setuid(o->uid) < 0)
			child_fail(statfd, CHILD_PRIVS);
	}
	execve(path, o->argv, o->envp ? o->envp : environ);
	child_fail(statfd, CHILD_EXEC);
}

static void
group_signal(pid_t pgid, int sig)
{
	if (kill(-pgid, sig) < 0 && errno != ESRCH)
		log_debug("process group %ld: kill %d: %s", (long)pgid, sig,
		    strerror(errno));
}

/* Read the status pipe: 0 when the exec happened, -1 (logged) if not. */
static int
exec_result(int statfd, const struct proc_opts *o, const char *path)
{
	struct child_error ce;
	ssize_t r;

	do
		r = read(statfd, &ce, sizeof(ce));
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(ce))
		return 0;
	switch (ce.stage) {
	case CHILD_CHDIR:
		log_error("%s: cannot change to directory %s: %s", path,
		    o->cwd, strerror(ce.err));
		break;
	case CHILD_PRIVS:
		log_error("%s: cannot switch to uid %ld gid %ld: %s", path,
		    (long)o->uid, (long)o->gid, strerror(ce.err));
		break;
	default:
		log_error("%s: cannot execute: %s", path, strerror(ce.err));
		break;
	}
	return -1;
}

/*
 * The parent's loop: read output, watch for the exit, enforce the timeout,
 * kill leftovers. Always reaps pid.
 */
static void
supervise(pid_t pid, int outfd, const struct proc_opts *o,
    struct outbuf *b, struct proc_result *res, int64_t start)
{
	int64_t grace = o->grace_ms > 0 ? o->grace_ms : PROC_GRACE_MS;
	int64_t deadline = start + o->timeout_ms, kill_at = 0, gone_at = 0;
	int64_t exited_at = 0;
	int pidfd, reaped = 0, stage = 0, wstatus = 0;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		int64_t now = clock_mono_ms(), wake = 1000;
		struct pollfd pfd[2];
		int nfd = 0;

		if (!reaped && stage == 0 && now >= deadline) {
			res->timed_out = 1;
			group_signal(pid, SIGTERM);
			stage = 1;
			kill_at = now + grace;
		}
		if (reaped && stage == 0 && outfd >= 0 &&
		    now >= exited_at + PROC_DRAIN_MS) {
			/* exited, yet someone in its group holds the pipe */
			res->leftovers = 1;
			group_signal(pid, SIGTERM);
			stage = 1;
			kill_at = now + grace;
		}
		if (stage == 1 && now >= kill_at) {
			group_signal(pid, SIGKILL);
			stage = 2;
			gone_at = now + PROC_GIVEUP_MS;
		}
		if (stage == 2 && outfd >= 0 && now >= gone_at) {
			log_warn("%s: a process that left its process group "
			    "still holds the output pipe; no longer reading "
			    "it", o->argv[0]);
			close(outfd);
			outfd = -1;
		}
		if (reaped && outfd < 0)
			break;

		if (!reaped && stage == 0 && deadline - now < wake)
			wake = deadline - now;
		if (reaped && stage == 0 && exited_at + PROC_DRAIN_MS - now <
		    wake)
			wake = exited_at + PROC_DRAIN_MS - now;
		if (stage == 1 && kill_at - now < wake)
			wake = kill_at - now;
		if (stage == 2 && gone_at - now < wake)
			wake = gone_at - now;
		if (!reaped && pidfd < 0 && wake > 20)
			wake = 20;
		if (wake < 0)
			wake = 0;
		if (outfd >= 0) {
			pfd[nfd].fd = outfd;
			pfd[nfd++].events = POLLIN;
		}
		if (!reaped && pidfd >= 0) {
			pfd[nfd].fd = pidfd;
			pfd[nfd++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)nfd, (int)wake) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			clock_sleep_ms(20, NULL);
		}
		if (outfd >= 0) {
			char buf[16384];
			ssize_t r = read(outfd, buf, sizeof(buf));

			if (r > 0)
				out_feed(b, buf, (size_t)r);
			else if (r == 0 || (errno != EAGAIN &&
			    errno != EINTR)) {
				close(outfd);
				outfd = -1;
			}
		}
		if (!reaped) {
			pid_t w = waitpid(pid, &wstatus, WNOHANG);

			if (w == pid || (w < 0 && errno == ECHILD)) {
				reaped = 1;
				exited_at = clock_mono_ms();
			}
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (b->linelen > 0)
		out_emit(b);

	/* Whatever is left of the group (closed its output, kept running). */
	if (stage == 0 && group_alive(pid)) {
		res->leftovers = 1;
		group_signal(pid, SIGTERM);
		kill_at = clock_mono_ms() + grace;
		while (group_alive(pid) && clock_mono_ms() < kill_at)
			clock_sleep_ms(20, NULL);
		stage = 1;
	}
	if (stage >= 1 && group_alive(pid))
		group_signal(pid, SIGKILL);

	if (WIFEXITED(wstatus)) {
		res->exited = 1;
		res->status = WEXITSTATUS(wstatus);
	} else if (WIFSIGNALED(wstatus)) {
		res->signal = WTERMSIG(wstatus);
	}
}

int
proc_run(const struct proc_opts *o, struct proc_result *res)
{
	struct outbuf b;
	char path[PATH_MAX];
	int outp[2] = { -1, -1 }, statp[2] = { -1, -1 };
	int64_t start;
	pid_t pid;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&b, 0, sizeof(b));
	b.o = o;
	if (o->argv == NULL || o->argv[0] == NULL || o->timeout_ms <= 0) {
		log_error("proc_run: no command or no timeout");
		return -1;
	}
	if (strchr(o->argv[0], '/') != NULL) {
		if (snprintf(path, sizeof(path), "%s", o->argv[0]) >=
		    (int)sizeof(path)) {
			log_error("%.64s...: path too long", o->argv[0]);
			return -1;
		}
	} else if (proc_which(o->argv[0], env_get(o->envp, "PATH"), path,
	    sizeof(path)) < 0) {
		log_error("%s: command not found in PATH (%s)", o->argv[0],
		    env_get(o->envp, "PATH") ? env_get(o->envp, "PATH") :
		    PROC_DEFAULT_PATH);
		return -1;
	}
	b.tailcap = o->tail_max > 0 ? o->tail_max : PROC_TAIL_MAX;
	b.tail = malloc(b.tailcap + 1);
	if (b.tail == NULL) {
		log_error("%s: out of memory", path);
		return -1;
	}
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(statp, O_CLOEXEC) < 0) {
		log_error("%s: pipe: %s", path, strerror(errno));
		goto out;
	}
	start = clock_mono_ms();
	pid = fork();
	if (pid < 0) {
		log_error("%s: fork: %s", path, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(outp[0]);
		close(statp[0]);
		child_run(o, path, outp[1], statp[1]);
	}
	/* Both sides set the group, so no signal can race the child's call. */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_debug("%s: setpgid: %s", path, strerror(errno));
	close(outp[1]);
	outp[1] = -1;
	close(statp[1]);
	statp[1] = -1;
	if (exec_result(statp[0], o, path) < 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	if (fcntl(outp[0], F_SETFL, O_NONBLOCK) < 0)
		log_debug("%s: O_NONBLOCK: %s", path, strerror(errno));
	supervise(pid, outp[0], o, &b, res, start);
	outp[0] = -1; /* closed by supervise */
	res->ms = clock_mono_ms() - start;
	b.tail[b.taillen] = '\0';
	res->tail = b.tail;
	res->tail_len = b.taillen;
	b.tail = NULL;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (statp[i] >= 0)
			close(statp[i]);
	}
	free(b.tail);
	return rc;
}

void
proc_result_free(struct proc_result *res)
{
	free(res->tail);
	res->tail = NULL;
	res->tail_len = 0;
}

void
proc_describe(const struct proc_result *res, int64_t timeout_ms, char *out,
    size_t outsz)
{
	char dur[32];

	if (res->timed_out) {
		parse_format_duration(timeout_ms, dur, sizeof(dur));
		snprintf(out, outsz, "timed out after %s; its process group "
		    "was killed", dur);
	} else if (res->exited) {
		snprintf(out, outsz, "exited with status %d", res->status);
	} else if (res->signal != 0) {
		const char *name = sigabbrev_np(res->signal);

		snprintf(out, outsz, "killed by signal %d (%s)", res->signal,
		    name ? name : "?");
	} else {
		snprintf(out, outsz, "ended in an unknown way");
	}
}
