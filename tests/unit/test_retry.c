/* test_retry.c — classification table and backoff on an injected clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "retry.h"

/* A clock that only moves when told to; sleeping moves it. */
struct fake_clock {
	int64_t now;
	int sleeps;
	int64_t slept;
};

static int64_t
fake_now(void *arg)
{
	return ((struct fake_clock *)arg)->now;
}

static void
fake_sleep(void *arg, int64_t ms)
{
	struct fake_clock *f = arg;

	assert_true(ms >= 0);
	f->now += ms;
	f->slept += ms;
	f->sleeps++;
}

static void
fake_init(struct fake_clock *f, struct clock *c, int64_t start)
{
	memset(f, 0, sizeof(*f));
	f->now = start;
	c->now_ms = fake_now;
	c->sleep_ms = fake_sleep;
	c->arg = f;
}

#define S RETRY_TARGET_STORAGE
#define I RETRY_TARGET_IMDS

static void
test_classify_status_table(void **state)
{
	static const struct {
		long status;
		const char *code;
		enum retry_class storage, imds;
	} t[] = {
		{ 200, NULL, RETRY_NO, RETRY_NO },
		{ 201, NULL, RETRY_NO, RETRY_NO },
		{ 202, NULL, RETRY_NO, RETRY_NO },
		{ 206, NULL, RETRY_NO, RETRY_NO },
		{ 304, NULL, RETRY_NO, RETRY_NO },
		{ 400, NULL, RETRY_NO, RETRY_NO },
		{ 400, "InvalidQueryParameterValue", RETRY_NO, RETRY_NO },
		{ 401, NULL, RETRY_AUTH, RETRY_NO },
		{ 401, "InvalidAuthenticationInfo", RETRY_AUTH, RETRY_NO },
		{ 403, NULL, RETRY_NO, RETRY_NO },
		{ 403, "AuthenticationFailed", RETRY_AUTH, RETRY_NO },
		{ 403, "AuthorizationPermissionMismatch", RETRY_NO, RETRY_NO },
		{ 403, "AuthorizationFailure", RETRY_NO, RETRY_NO },
		{ 403, "authenticationfailed", RETRY_NO, RETRY_NO },
		{ 404, NULL, RETRY_NO, RETRY_YES },
		{ 404, "BlobNotFound", RETRY_NO, RETRY_YES },
		{ 404, "ContainerNotFound", RETRY_NO, RETRY_YES },
		{ 405, NULL, RETRY_NO, RETRY_NO },
		{ 408, NULL, RETRY_YES, RETRY_YES },
		{ 409, NULL, RETRY_NO, RETRY_NO },
		{ 410, NULL, RETRY_NO, RETRY_YES },
		{ 412, "ConditionNotMet", RETRY_NO, RETRY_NO },
		{ 413, NULL, RETRY_NO, RETRY_NO },
		{ 416, NULL, RETRY_NO, RETRY_NO },
		{ 429, NULL, RETRY_YES, RETRY_YES },
		{ 500, NULL, RETRY_YES, RETRY_YES },
		{ 500, "OperationTimedOut", RETRY_YES, RETRY_YES },
		{ 501, NULL, RETRY_NO, RETRY_YES },
		{ 502, NULL, RETRY_YES, RETRY_YES },
		{ 503, "ServerBusy", RETRY_YES, RETRY_YES },
		{ 504, NULL, RETRY_YES, RETRY_YES },
		{ 505, NULL, RETRY_NO, RETRY_YES },
		{ 511, NULL, RETRY_NO, RETRY_YES },
		{ 599, NULL, RETRY_NO, RETRY_YES },
	};
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		enum retry_class s, m;

		s = retry_classify(S, t[i].status, HTTP_E_NONE, t[i].code);
		m = retry_classify(I, t[i].status, HTTP_E_NONE, t[i].code);
		if (s != t[i].storage || m != t[i].imds) {
			print_error("status %ld %s: storage %s (want %s), "
			    "imds %s (want %s)\n", t[i].status,
			    t[i].code ? t[i].code : "-", retry_class_names[s],
			    retry_class_names[t[i].storage],
			    retry_class_names[m], retry_class_names[t[i].imds]);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void
test_classify_transport_table(void **state)
{
	static const struct {
		enum http_err err;
		enum retry_class want;
	} t[] = {
		{ HTTP_E_DNS, RETRY_YES },
		{ HTTP_E_CONNECT, RETRY_YES },
		{ HTTP_E_TLS, RETRY_NO },
		{ HTTP_E_TIMEOUT, RETRY_YES },
		{ HTTP_E_RECV, RETRY_YES },
		{ HTTP_E_TOO_BIG, RETRY_NO },
		{ HTTP_E_ABORTED, RETRY_NO },
		{ HTTP_E_PROTOCOL, RETRY_NO },
		{ HTTP_E_OTHER, RETRY_NO },
	};

	/* every transport error is in the table */
	assert_int_equal(ARRAY_SIZE(t), HTTP_E__MAX - 1);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		for (int target = S; target <= I; target++) {
			/* a transport error wins over any status */
			static const long statuses[] = { 0, 200, 404, 503 };

			for (size_t k = 0; k < ARRAY_SIZE(statuses); k++) {
				enum retry_class got = retry_classify(target,
				    statuses[k], t[i].err, NULL);

				if (got != t[i].want)
					fail_msg("%s (target %d, status %ld): "
					    "%s, want %s",
					    http_err_names[t[i].err], target,
					    statuses[k], retry_class_names[got],
					    retry_class_names[t[i].want]);
			}
		}
	}
	/* no response and no error is not something to retry */
	assert_int_equal(retry_classify(S, 0, HTTP_E_NONE, NULL), RETRY_NO);
	for (int i = 0; i < RETRY__MAX; i++)
		assert_non_null(retry_class_names[i]);
}

/* Every delay lies in [0, min(cap, base * 2^(n-1))] and is spread out. */
static void
test_full_jitter_bounds(void **state)
{
	const struct retry_policy p = { 100, 1600, 0, 0 };
	struct fake_clock f;
	struct clock c;
	struct retry_state rs;
	int64_t sum_last = 0, min_last = INT64_MAX, max_last = 0;
	int runs = 400, attempts = 12;
	int64_t distinct_first[101] = { 0 };
	int ndistinct = 0;

	for (int r = 0; r < runs; r++) {
		fake_init(&f, &c, 1000 + r * 7919);
		retry_begin(&rs, &p, &c);
		for (int n = 1; n <= attempts; n++) {
			int64_t ceiling = 100LL << (n - 1);
			int64_t d = retry_next_delay(&rs, -1);

			if (ceiling > 1600)
				ceiling = 1600;
			if (d < 0 || d > ceiling)
				fail_msg("run %d attempt %d: delay %lld "
				    "outside [0, %lld]", r, n, (long long)d,
				    (long long)ceiling);
			if (n == 1 && !distinct_first[d]++)
				ndistinct++;
			if (n == attempts) {
				sum_last += d;
				if (d < min_last)
					min_last = d;
				if (d > max_last)
					max_last = d;
			}
		}
		assert_int_equal(rs.attempts, attempts);
		assert_int_equal(f.sleeps, 0); /* next_delay never sleeps */
	}
	/* uniform on [0, 1600]: mean near 800, both ends reached */
	assert_in_range(sum_last / runs, 650, 950);
	assert_true(min_last < 200);
	assert_true(max_last > 1400);
	assert_true(ndistinct > 50);
}

/* Unset base and cap take the documented defaults (500 ms, 30 s). */
static void
test_defaults(void **state)
{
	const struct retry_policy p = { 0, 0, 0, 0 };
	struct fake_clock f;
	struct clock c;
	struct retry_state rs;

	fake_init(&f, &c, 5);
	retry_begin(&rs, &p, &c);
	assert_int_equal(rs.policy.base_ms, 500);
	assert_int_equal(rs.policy.cap_ms, 30000);
	for (int n = 1; n <= 200; n++) {
		int64_t d = retry_next_delay(&rs, -1);

		assert_in_range(d, 0, n == 1 ? 500 : 30000);
	}
	/* NULL clock means the real one */
	retry_begin(&rs, &p, NULL);
	assert_ptr_equal(rs.clock, &clock_real);
	assert_in_range(retry_elapsed_ms(&rs), 0, 1000);
}

/* Huge bases and many attempts neither overflow nor pass the cap. */
static void
test_no_overflow(void **state)
{
	static const struct retry_policy p[] = {
		{ INT64_MAX / 4, INT64_MAX / 2, 0, 0 },
		{ 1LL << 50, 1LL << 52, 0, 0 },
		{ 3, INT64_MAX - 1, 0, 0 },
		{ 1, INT64_MAX, 0, 0 },
	};
	struct fake_clock f;
	struct clock c;
	struct retry_state rs;

	for (size_t i = 0; i < ARRAY_SIZE(p); i++) {
		fake_init(&f, &c, 0);
		retry_begin(&rs, &p[i], &c);
		for (int n = 1; n <= 100; n++) {
			int64_t d = retry_next_delay(&rs, -1);

			assert_true(d >= 0 && d <= p[i].cap_ms);
		}
	}
}

/* Retry-After is a floor: never retry sooner than the server asked. */
static void
test_retry_after_floor(void **state)
{
	static const int64_t after[] = { 0, 1, 250, 999, 1000, 5000, 60000 };
	const struct retry_policy p = { 100, 1000, 0, 0 };
	struct fake_clock f;
	struct clock c;
	struct retry_state rs;

	for (size_t i = 0; i < ARRAY_SIZE(after); i++) {
		fake_init(&f, &c, (int64_t)i * 31);
		retry_begin(&rs, &p, &c);
		for (int n = 0; n < 20; n++) {
			int64_t d = retry_next_delay(&rs, after[i]);
			int64_t ceiling = 100LL << (n < 4 ? n : 4);

			assert_true(d >= after[i]);
			/* the floor moves the delay up, never past it */
			if (ceiling > 1000)
				ceiling = 1000;
			assert_true(d <= (after[i] > ceiling ? after[i] :
			    ceiling));
		}
	}
}

/* retry_backoff sleeps (on the fake clock) and never passes the deadline. */
static void
test_deadline(void **state)
{
	const struct retry_policy p = { 200, 4000, 30000, 0 };
	struct fake_clock f;
	struct clock c;
	struct retry_state rs;
	int tries;

	for (int r = 0; r < 50; r++) {
		fake_init(&f, &c, 77 + r * 13);
		retry_begin(&rs, &p, &c);
		for (tries = 1; tries < 1000; tries++) {
			f.now += 700; /* each attempt takes 0.7 s */
			if (retry_backoff(&rs, -1) < 0)
				break;
			/* the next attempt starts by the deadline */
			assert_true(retry_elapsed_ms(&rs) <= 30000);
		}
		assert_true(tries < 1000);
		assert_int_equal(rs.slept_ms, f.slept);
		assert_int_equal(f.sleeps, tries - 1);
		/* it gave up only once the deadline had passed: the last
		 * attempt started at it at the latest */
		assert_true(retry_elapsed_ms(&rs) > 30000);
		assert_true(retry_elapsed_ms(&rs) <= 30000 + 700);
	}
}

static void
test_deadline_edges(void **state)
{
	const struct retry_policy p = { 100, 1000, 1000, 0 };
	struct fake_clock f;
	struct clock c;
	struct retry_state rs;

	fake_init(&f, &c, 0);
	retry_begin(&rs, &p, &c);
	/* Retry-After that ends past the deadline: give up now */
	f.now = 900;
	assert_int_equal(retry_next_delay(&rs, 200), -1);
	assert_int_equal(retry_backoff(&rs, 200), -1);
	assert_int_equal(f.sleeps, 0);
	/* deadline already passed */
	f.now = 1000;
	assert_int_equal(retry_next_delay(&rs, -1), -1);
	f.now = 5000;
	assert_int_equal(retry_backoff(&rs, 0), -1);
	/* a backoff past the deadline is cut to end at it (30 ms left; the
	 * 4th attempt's window is 0-800 ms: most draws are longer) */
	for (int r = 0; r < 20; r++) {
		int64_t d;

		fake_init(&f, &c, 0);
		retry_begin(&rs, &p, &c);
		rs.rng ^= (uint64_t)r * 0x9E3779B97F4A7C15ull;
		rs.attempts = 3;
		f.now = 970;
		d = retry_next_delay(&rs, -1);
		assert_in_range(d, 0, 30);
	}
	/* plenty of time left: a delay inside it */
	fake_init(&f, &c, 0);
	retry_begin(&rs, &p, &c);
	assert_in_range(retry_next_delay(&rs, 50), 50, 100);
	assert_int_equal(retry_backoff(&rs, 300), 0);
	assert_in_range(f.slept, 300, 300);
	assert_int_equal(retry_elapsed_ms(&rs), 300);
}

static void
test_max_attempts(void **state)
{
	static const int max[] = { 1, 2, 3, 5, 10 };
	struct fake_clock f;
	struct clock c;
	struct retry_state rs;

	for (size_t i = 0; i < ARRAY_SIZE(max); i++) {
		const struct retry_policy p = { 10, 100, 0, max[i] };
		int attempts = 0;

		fake_init(&f, &c, 0);
		retry_begin(&rs, &p, &c);
		/* attempt, fail, back off ... until told to stop */
		do {
			attempts++;
			assert_true(attempts <= 100);
		} while (retry_backoff(&rs, -1) == 0);
		assert_int_equal(attempts, max[i]);
		assert_int_equal(f.sleeps, max[i] - 1);
	}
	/* both limits: whichever comes first */
	{
		const struct retry_policy p = { 1000, 1000, 2500, 100 };
		int attempts = 0;

		fake_init(&f, &c, 0);
		retry_begin(&rs, &p, &c);
		do {
			attempts++;
		} while (retry_backoff(&rs, 1000) == 0);
		/* 1 s floors: tries at 0, 1, 2 s; a 4th is past 2.5 s */
		assert_int_equal(attempts, 3);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_status_table),
		cmocka_unit_test(test_classify_transport_table),
		cmocka_unit_test(test_full_jitter_bounds),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_no_overflow),
		cmocka_unit_test(test_retry_after_floor),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_deadline_edges),
		cmocka_unit_test(test_max_attempts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
