/*
 * test_state.c — the state file: round trip, tolerance of missing and
 * corrupt files, the history cap, interrupted runs, UTF-8 cleaning and
 * tail caps, and what `greenlight status` prints.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "fsutil.h"
#include "state.h"
#include "testutil.h"

static char tmp[256];
static char path[512];

static int
setup(void **state)
{
	tmpdir_make(tmp, sizeof(tmp));
	snprintf(path, sizeof(path), "%s/var/lib/greenlight/state.json", tmp);
	return 0;
}

static int
teardown(void **state)
{
	fs_rm_rf(tmp);
	return 0;
}

/* Is s valid UTF-8? */
static int
utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 :
		    (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;

		if (n < 0)
			return 0;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

static void
test_missing_is_empty(void **state)
{
	struct state *st;
	struct capture c;

	capture_begin(&c);
	st = state_load(path);
	capture_end(&c);
	assert_non_null(st);
	assert_string_equal(c.text, "");
	assert_null(st->current);
	assert_null(st->previous);
	assert_int_equal(st->last.result, RESULT_NONE);
	assert_int_equal(st->nhistory, 0);
	for (int i = 0; i < PHASE__MAX; i++)
		assert_int_equal(st->phase_ms[i], -1);
	state_free(st);
}

static void
test_round_trip(void **state)
{
	struct state *st, *back;
	char *json, *file;
	struct stat sb;
	int64_t started;

	st = state_load(path);
	assert_int_equal(state_begin(st, "deploy", "v2"), 0);
	assert_int_equal(st->last.result, RESULT_RUNNING);
	started = st->last.started_ms;
	assert_true(started > 1700000000000LL);
	state_phase_add(st, PHASE_PREFLIGHT, 3);
	state_phase_add(st, PHASE_FETCH, 1200);
	state_phase_add(st, PHASE_FETCH, 34);
	state_phase_add(st, PHASE_VALIDATE, 0);
	state_phase_add(st, PHASE__MAX, 5); /* ignored */
	assert_int_equal(state_set_links(st, "v2", "v1"), 0);
	assert_int_equal(state_set_error(st, EXIT_ROLLEDBACK, "workload check "
	    "http://127.0.0.1:8080/health: 503 for 30s; rolled back to v1"), 0);
	assert_int_equal(state_set_hook(st, "before_install",
	    "exited with status 0", "migrating\ndone\n"), 0);
	assert_int_equal(state_set_hook(st, "validate", "exited with status 1",
	    "bad \xff byte\n"), 0);
	/* the same hook again replaces its record */
	assert_int_equal(state_set_hook(st, "before_install",
	    "exited with status 0", "migrated\n"), 0);
	state_finish(st, RESULT_ROLLEDBACK, EXIT_ROLLEDBACK);
	assert_int_equal(state_save(st, path), 0);

	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	file = fs_read_file(path, 1 << 20, NULL, 0);
	json = state_render_json(st);
	assert_string_equal(file, json);
	assert_non_null(strstr(json, "\"current\": \"v2\""));
	assert_non_null(strstr(json, "\"result\": \"rolled-back\""));
	assert_non_null(strstr(json, "\"exit\": \"rolled-back\""));
	assert_non_null(strstr(json, "\"exit_code\": 7"));
	assert_non_null(strstr(json, "\"fetch\": 1234"));
	assert_non_null(strstr(json, "\"validate\": 0"));
	assert_null(strstr(json, "\"unpack\""));
	assert_non_null(strstr(json, "\"class\": \"rolled-back\""));
	assert_non_null(strstr(json, "\"output_tail\": \"bad ? byte\\n\""));
	free(file);
	free(json);

	back = state_load(path);
	assert_string_equal(back->current, "v2");
	assert_string_equal(back->previous, "v1");
	assert_string_equal(back->last.command, "deploy");
	assert_string_equal(back->last.release, "v2");
	assert_int_equal(back->last.result, RESULT_ROLLEDBACK);
	assert_int_equal(back->last.exit_code, EXIT_ROLLEDBACK);
	assert_int_equal(back->last.started_ms, started);
	assert_int_equal(back->last.finished_ms, st->last.finished_ms);
	assert_int_equal(back->phase_ms[PHASE_PREFLIGHT], 3);
	assert_int_equal(back->phase_ms[PHASE_FETCH], 1234);
	assert_int_equal(back->phase_ms[PHASE_VALIDATE], 0);
	assert_int_equal(back->phase_ms[PHASE_UNPACK], -1);
	assert_string_equal(back->error_class, "rolled-back");
	assert_string_equal(back->error_message, st->error_message);
	assert_int_equal(back->nhooks, 2);
	assert_string_equal(back->hooks[0].name, "before_install");
	assert_string_equal(back->hooks[0].tail, "migrated\n");
	assert_string_equal(back->hooks[1].tail, "bad ? byte\n");
	assert_int_equal(back->nhistory, 1);
	assert_string_equal(back->history[0].release, "v2");
	assert_int_equal(back->history[0].result, RESULT_ROLLEDBACK);

	/* saving what was loaded gives the same bytes */
	json = state_render_json(back);
	file = state_render_json(st);
	assert_string_equal(json, file);
	free(json);
	free(file);
	state_free(back);
	state_free(st);
}

static void
test_corrupt(void **state)
{
	static const char *const bad[] = {
		"{\"format\": 1, \"current\": ",	/* truncated */
		"",					/* empty */
		"[1, 2]",				/* not an object */
		"{\"format\": 99}",			/* not ours */
		"\xff\xfe garbage",
	};
	char corrupt[600];

	snprintf(corrupt, sizeof(corrupt), "%s.corrupt", path);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct state *st;
		struct capture c;
		char *kept, dir[600];

		snprintf(dir, sizeof(dir), "%s/var/lib/greenlight", tmp);
		fs_mkdir_p(dir, 0755);
		fs_write_atomic(path, bad[i], strlen(bad[i]), 0644);
		capture_begin(&c);
		st = state_load(path);
		capture_end(&c);
		assert_non_null(st);
		assert_null(st->current);
		assert_int_equal(st->last.result, RESULT_NONE);
		if (count_lines_with(c.text, "keeping it as") != 1 ||
		    strstr(c.text, corrupt) == NULL)
			fail_msg("case %zu: message was: %s", i, c.text);
		kept = fs_read_file(corrupt, 4096, NULL, 0);
		assert_non_null(kept);
		assert_string_equal(kept, bad[i]);
		free(kept);
		assert_int_equal(access(path, F_OK), -1);
		/* and a new state can be saved over it */
		assert_int_equal(state_begin(st, "deploy", "v1"), 0);
		assert_int_equal(state_save(st, path), 0);
		state_free(st);
	}
}

static void
test_history_cap_and_interrupted(void **state)
{
	struct state *st = state_load(path), *back;
	char name[16];

	for (int i = 1; i <= 25; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		assert_int_equal(state_begin(st, "deploy", name), 0);
		state_finish(st, i % 2 ? RESULT_OK : RESULT_NOOP, EXIT_OK);
	}
	assert_int_equal(st->nhistory, STATE_HISTORY_MAX);
	assert_string_equal(st->history[0].release, "r25");
	assert_string_equal(st->history[19].release, "r6");
	assert_int_equal(st->history[1].result, RESULT_NOOP);

	/* a run killed mid-way: RUNNING on disk, INTERRUPTED once the next
	 * run begins */
	assert_int_equal(state_begin(st, "deploy", "r26"), 0);
	assert_int_equal(state_save(st, path), 0);
	state_free(st);
	back = state_load(path);
	assert_int_equal(back->last.result, RESULT_RUNNING);
	assert_string_equal(back->last.release, "r26");
	assert_int_equal(state_begin(back, "rollback", "r25"), 0);
	assert_int_equal(back->history[0].result, RESULT_INTERRUPTED);
	assert_string_equal(back->history[0].release, "r26");
	assert_int_equal(back->history[0].finished_ms, 0);
	assert_int_equal(back->nhistory, STATE_HISTORY_MAX);
	assert_string_equal(back->last.command, "rollback");
	assert_int_equal(back->nhooks, 0);
	assert_null(back->error_message);
	state_free(back);
}

static void
test_tail_cap_utf8(void **state)
{
	struct state *st = state_load(path);
	char *big = malloc(10001);

	/* "é" is 2 bytes: a cut at 4096 from the end lands mid-character */
	for (int i = 0; i < 10000; i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9;
	}
	big[9999] = 'Z'; /* odd total: the cut is inside a character */
	big[10000] = '\0';
	assert_int_equal(state_begin(st, "deploy", "v1"), 0);
	assert_int_equal(state_set_hook(st, "validate", "exited with status 0",
	    big), 0);
	assert_true(strlen(st->hooks[0].tail) <= STATE_TAIL_MAX);
	assert_true(strlen(st->hooks[0].tail) >= STATE_TAIL_MAX - 4);
	assert_true(utf8_ok(st->hooks[0].tail));
	assert_int_equal(st->hooks[0].tail[strlen(st->hooks[0].tail) - 1],
	    'Z');
	/* control bytes and bad UTF-8 in messages are replaced */
	assert_int_equal(state_set_error(st, EXIT_INTEGRITY,
	    "blob \x1b[31mx\xc3(: digest mismatch"), 0);
	assert_string_equal(st->error_message, "blob ?[31mx?(: digest "
	    "mismatch");
	assert_string_equal(st->error_class, "integrity");
	/* eight hooks at most */
	for (int i = 0; i < STATE_HOOKS_MAX - 1; i++) {
		char n[16];

		snprintf(n, sizeof(n), "h%d", i);
		assert_int_equal(state_set_hook(st, n, "x", "y"), 0);
	}
	assert_int_equal(state_set_hook(st, "one-too-many", "x", "y"), -1);
	state_finish(st, RESULT_OK, EXIT_OK);
	assert_int_equal(state_save(st, path), 0);
	free(big);
	state_free(st);
}

static void
test_render_text(void **state)
{
	struct state *st = state_load(path);
	char buf[8192];
	FILE *f;
	size_t n;

	f = fmemopen(buf, sizeof(buf), "w");
	state_render_text(st, f);
	fclose(f);
	assert_string_equal(buf, "current:   (none)\nprevious:  (none)\n"
	    "last run:  (none recorded)\n");

	assert_int_equal(state_begin(st, "deploy", "v2"), 0);
	st->last.started_ms = 1764162000000LL; /* 2025-11-26 13:00:00 UTC */
	state_phase_add(st, PHASE_PREFLIGHT, 4);
	state_phase_add(st, PHASE_FETCH, 2500);
	state_phase_add(st, PHASE_VALIDATE, 61000);
	assert_int_equal(state_set_links(st, "v2", "v1"), 0);
	assert_int_equal(state_set_error(st, EXIT_ROLLEDBACK, "workload "
	    "check failed; rolled back to v1"), 0);
	assert_int_equal(state_set_hook(st, "validate", "exited with status "
	    "1", "l1\nl2\nl3\nl4\nl5\nl6\nl7\n"), 0);
	state_finish(st, RESULT_ROLLEDBACK, EXIT_ROLLEDBACK);
	st->last.finished_ms = st->last.started_ms + 65432;
	st->history[0].started_ms = st->last.started_ms;
	f = fmemopen(buf, sizeof(buf), "w");
	state_render_text(st, f);
	n = (size_t)ftell(f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf,
	    "current:   v2\n"
	    "previous:  v1\n"
	    "last run:  deploy v2: rolled-back (exit 7, rolled-back) at "
	    "2025-11-26 13:00:00 UTC, took 1m05s\n"
	    "error:     rolled-back: workload check failed; rolled back to "
	    "v1\n"
	    "phases:    preflight 4ms, fetch 2.5s, validate 1m01s\n"
	    "hook validate: exited with status 1\n"
	    "  | l3\n  | l4\n  | l5\n  | l6\n  | l7\n"
	    "history (newest first):\n"
	    "  2025-11-26 13:00:00 UTC  deploy   v2                   "
	    "rolled-back\n");

	/* a run in progress (or killed) says so */
	assert_int_equal(state_begin(st, "rollback", "v1"), 0);
	st->last.started_ms = 1764162000000LL;
	f = fmemopen(buf, sizeof(buf), "w");
	state_render_text(st, f);
	fclose(f);
	assert_non_null(strstr(buf, "last run:  rollback v1: running since "
	    "2025-11-26 13:00:00 UTC (or was interrupted: a rerun will "
	    "converge)\n"));
	state_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_is_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_history_cap_and_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_cap_utf8, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_render_text, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
