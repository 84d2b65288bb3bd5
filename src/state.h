/*
 * state.h — the state file ([install] state_file, JSON, written atomically
 * with mode 0644 so `greenlight status` works without root): current and
 * previous release, the last deploy or rollback (result, exit code, per-phase
 * timings, error class and message, hook output tails), a deploy in
 * progress, and the history of the last STATE_HISTORY_MAX runs.
 */
#ifndef GREENLIGHT_STATE_H
#define GREENLIGHT_STATE_H

#include <stdint.h>
#include <stdio.h>

#define STATE_HISTORY_MAX 20
#define STATE_HOOKS_MAX 8
#define STATE_TAIL_MAX 4096 /* bytes of hook output kept per hook */

enum state_phase {
	PHASE_PREFLIGHT,
	PHASE_IDENTITY,
	PHASE_LIST,
	PHASE_FETCH,
	PHASE_VERIFY,
	PHASE_UNPACK,
	PHASE_INSTALL,
	PHASE_ACTIVATE,
	PHASE_VALIDATE,
	PHASE_COMMIT,
	PHASE__MAX
};
extern const char *const state_phase_names[PHASE__MAX];

enum state_result {
	RESULT_NONE,	   /* nothing recorded yet */
	RESULT_RUNNING,	   /* started, not finished (or killed) */
	RESULT_OK,	   /* new release active and healthy */
	RESULT_NOOP,	   /* already current and intact: nothing done */
	RESULT_ROLLEDBACK, /* failed after activate; previous restored */
	RESULT_FAILED,	   /* failed before activate; nothing switched */
	RESULT_INTERRUPTED, /* never finished (killed); set by the next run */
	RESULT__MAX
};
extern const char *const state_result_names[RESULT__MAX];

struct state_hook {
	char *name;    /* "before_install" */
	char *outcome; /* "exited with status 0", "timed out after 30s" */
	char *tail;    /* last STATE_TAIL_MAX bytes of its output */
};

struct state_run {
	char *command; /* "deploy", "rollback" */
	char *release; /* the release it was about */
	enum state_result result;
	int exit_code;	     /* enum exit_code */
	int64_t started_ms;  /* wall clock, Unix ms */
	int64_t finished_ms; /* 0 while running */
};

/* Plain data, owned by the struct; read freely, change with the setters. */
struct state {
	char *current;	/* NULL when none */
	char *previous; /* NULL when none */
	struct state_run last;
	int64_t phase_ms[PHASE__MAX]; /* of the last run; -1 = not run */
	char *error_class;	      /* exit_code_name() of the failure */
	char *error_message;	      /* what failed and what to do */
	struct state_hook hooks[STATE_HOOKS_MAX];
	int nhooks;
	struct state_run history[STATE_HISTORY_MAX]; /* newest first */
	int nhistory;
};

/*
 * Read path. A missing file gives an empty state; an unreadable or corrupt
 * one is warned about, kept as path.corrupt, and an empty state returned.
 * NULL only when out of memory.
 */
struct state *state_load(const char *path);
/* Write atomically (mode 0644, parent created 0755). 0/-1 (logged). */
int state_save(const struct state *st, const char *path);
void state_free(struct state *st);

/*
 * Start a run: a last run still RUNNING goes to the history as INTERRUPTED;
 * then phases, error and hooks are cleared, result RUNNING, started now.
 * 0/-1 (out of memory).
 */
int state_begin(struct state *st, const char *command, const char *release);
/* Record how long a phase took (adds up when called twice). */
void state_phase_add(struct state *st, enum state_phase ph, int64_t ms);
/* Set current and previous (NULL or "" = none). 0/-1 (out of memory). */
int state_set_links(struct state *st, const char *current,
    const char *previous);
/* Record the failure: class from exit_code_name(code), message as given. */
int state_set_error(struct state *st, int code, const char *message);
/* Record a hook's outcome and output tail (the last STATE_TAIL_MAX bytes). */
int state_set_hook(struct state *st, const char *name, const char *outcome,
    const char *tail);
/* Finish the run: result, exit code, now; pushed onto the history. */
void state_finish(struct state *st, enum state_result result, int exit_code);

/* The JSON of the state (as stored; for `status --json`). Caller frees. */
char *state_render_json(const struct state *st);
/* A human summary for `greenlight status`. */
void state_render_text(const struct state *st, FILE *out);

#endif
