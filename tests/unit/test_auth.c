/*
 * test_auth.c — managed-identity token caching and refresh (against a
 * loopback IMDS stub), SAS loading and normalising, anonymous access.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "agent.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "stub_server.h"
#include "testutil.h"

struct imds_sim {
	int64_t lifetime_s;	/* expires_on = now + lifetime */
	int fail_from;		/* answer 400 from this request on (0: never) */
	int seen;
};

static void
imds_handler(void *arg, const char *head, struct stub_reply *r)
{
	struct imds_sim *im = arg;
	int n = __atomic_add_fetch(&im->seen, 1, __ATOMIC_SEQ_CST);

	(void)head;
	if (im->fail_from > 0 && n >= im->fail_from) {
		r->status = 400;
		snprintf(r->body, sizeof(r->body), "{\"error\":"
		    "\"invalid_request\",\"error_description\":\"Identity not "
		    "found\"}");
		return;
	}
	snprintf(r->body, sizeof(r->body), "{\"access_token\":\"token-%d\","
	    "\"expires_on\":\"%lld\",\"resource\":"
	    "\"https://storage.azure.com/\",\"token_type\":\"Bearer\"}", n,
	    (long long)time(NULL) + (long long)im->lifetime_s);
}

struct fixture {
	struct stub_server srv;
	struct imds_sim im;
	struct config cfg;
	struct http_client *http;
	char endpoint[64];
};

static struct fixture *
fixture_new(int64_t lifetime_s)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->im.lifetime_s = lifetime_s;
	stub_start(&f->srv, imds_handler, &f->im);
	snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%d",
	    f->srv.port);
	f->cfg.imds_endpoint = f->endpoint;
	f->cfg.deadline_ms = 2000;
	f->cfg.auth_method = AUTH_MANAGED_IDENTITY;
	f->http = http_client_new(NULL);
	assert_non_null(f->http);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	stub_stop(&f->srv);
	http_client_free(f->http);
	free(f);
}

static const char *
prepare(struct auth *a, int want_rc)
{
	const char *h = (const char *)1, *q = (const char *)1;

	assert_int_equal(auth_prepare(a, &h, &q), want_rc);
	assert_null(q);
	return h;
}

static void
test_describe(void **state)
{
	static const struct {
		enum auth_method m;
		const char *client_id, *object_id, *msi_res_id;
		const char *want;
	} t[] = {
		{ AUTH_MANAGED_IDENTITY, NULL, NULL, NULL,
		    "the system-assigned managed identity" },
		{ AUTH_MANAGED_IDENTITY, "c1", NULL, NULL,
		    "the user-assigned managed identity client_id=c1" },
		{ AUTH_MANAGED_IDENTITY, NULL, "o1", NULL,
		    "the user-assigned managed identity object_id=o1" },
		{ AUTH_MANAGED_IDENTITY, NULL, NULL, "/sub/x",
		    "the user-assigned managed identity msi_res_id=/sub/x" },
		{ AUTH_SAS, NULL, NULL, NULL, "the SAS token" },
		{ AUTH_NONE, NULL, NULL, NULL, "anonymous access" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct config cfg;
		struct auth *a;
		int rc = -1;

		memset(&cfg, 0, sizeof(cfg));
		cfg.auth_method = t[i].m;
		cfg.client_id = (char *)t[i].client_id;
		cfg.object_id = (char *)t[i].object_id;
		cfg.msi_res_id = (char *)t[i].msi_res_id;
		cfg.sas_token = (char *)"sv=1&sig=x";
		a = auth_new(&cfg, NULL, &rc);
		assert_non_null(a);
		assert_int_equal(rc, EXIT_OK);
		assert_string_equal(auth_describe(a), t[i].want);
		auth_free(a);
	}
	auth_free(NULL);
}

static void
test_identity_cached_and_forced_refresh(void **state)
{
	struct fixture *f = fixture_new(86400);
	struct auth *a;
	struct capture cap;
	unsigned g1;
	int rc;

	(void)state;
	a = auth_new(&f->cfg, f->http, &rc);
	assert_non_null(a);
	assert_int_equal(f->im.seen, 0); /* no token until needed */
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-1");
	g1 = auth_generation(a);
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-1");
	assert_int_equal(f->im.seen, 1);
	assert_int_equal(auth_generation(a), g1);
	/* storage refused it: one refresh is worth it */
	assert_int_equal(auth_rejected(a), 0);
	/* a second rejection of the old token before the refetch: same */
	assert_int_equal(auth_rejected(a), 0);
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-2");
	assert_int_equal(f->im.seen, 2);
	assert_true(auth_generation(a) != g1);
	/* refused again with the fresh token: give up */
	assert_int_equal(auth_rejected(a), -1);
	/* a success re-arms it */
	auth_accepted(a);
	assert_int_equal(auth_rejected(a), 0);
	capture_begin(&cap);
	log_set_level(LOG_LEVEL_TRACE);
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-3");
	log_set_level(LOG_LEVEL_INFO);
	capture_end(&cap);
	assert_null(strstr(cap.text, "token-3"));
	auth_free(a);
	fixture_free(f);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void
test_identity_early_refresh(void **state)
{
	/* 4 s tokens: always under 5 min, early refresh at most every 1 s */
	struct fixture *f = fixture_new(4);
	struct auth *a;
	struct capture cap;
	int rc;

	(void)state;
	a = auth_new(&f->cfg, f->http, &rc);
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-1");
	/* not again right away: IMDS is not asked for every request */
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-1");
	assert_int_equal(f->im.seen, 1);
	sleep_ms(1100);
	/* a quarter of the lifetime later: refreshed before it expires */
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-2");
	assert_int_equal(f->im.seen, 2);
	/* now IMDS fails: the old token is kept, one warning */
	f->im.fail_from = 3;
	sleep_ms(1100);
	capture_begin(&cap);
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-2");
	/* ... and no new attempt right away */
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-2");
	capture_end(&cap);
	assert_int_equal(f->im.seen, 3);
	assert_int_equal(count_lines_with(cap.text, "warning: managed "
	    "identity: early token refresh failed (auth); using the current "
	    "token, valid for"), 1);
	assert_int_equal(count_lines_with(cap.text, "error"), 0);
	auth_free(a);
	fixture_free(f);
}

static void
test_identity_failure_and_expired(void **state)
{
	struct fixture *f = fixture_new(-60);
	struct auth *a;
	struct capture cap;
	int rc;

	(void)state;
	/* a token that is already expired is used, with a clock warning */
	a = auth_new(&f->cfg, f->http, &rc);
	capture_begin(&cap);
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-1");
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "IMDS issued a token that has "
	    "already expired by this VM's clock"));
	/* asking again would give the same: it stays until storage refuses */
	assert_string_equal(prepare(a, EXIT_OK),
	    "Authorization: Bearer token-1");
	assert_int_equal(f->im.seen, 1);
	assert_int_equal(auth_rejected(a), 0);
	/* then a new one is fetched; here IMDS refuses */
	f->im.fail_from = 2;
	capture_begin(&cap);
	assert_null(prepare(a, EXIT_AUTH));
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "no system-assigned identity is "
	    "enabled on this VM"));
	auth_free(a);
	fixture_free(f);
}

static void
test_sas(void **state)
{
	static const struct {
		const char *file;	/* file content, or NULL */
		const char *env;	/* GREENLIGHT_AUTH_SAS_TOKEN, or NULL */
		mode_t mode;
		int rc;
		const char *query;	/* or the logged message */
	} t[] = {
		{ "sv=2021-12-02&sr=c&sp=rl&sig=abc%3D\n", NULL, 0600, EXIT_OK,
		    "sv=2021-12-02&sr=c&sp=rl&sig=abc%3D" },
		{ "  ?sv=1&sig=x \r\n\n", NULL, 0600, EXIT_OK, "sv=1&sig=x" },
		{ "https://acct.blob.core.windows.net/c?sv=1&sig=y\n", NULL,
		    0600, EXIT_OK, "sv=1&sig=y" },
		{ "sig=z&sv=1", NULL, 0644, EXIT_OK, "sig=z&sv=1" },
		{ "file", "?sv=2&sig=env", 0600, EXIT_OK, "sv=2&sig=env" },
		{ "", NULL, 0600, EXIT_CONFIG, "is empty" },
		{ "sv=1&sp=rl\n", NULL, 0600, EXIT_CONFIG,
		    "has no signature (sig parameter)" },
		{ "sv=1&sig=a\nsv=2&sig=b\n", NULL, 0600, EXIT_CONFIG,
		    "one token on one line expected" },
		{ "https://acct.blob.core.windows.net/c\n", NULL, 0600,
		    EXIT_CONFIG, "is a URL without a query string" },
		{ NULL, NULL, 0, EXIT_CONFIG, "cannot read: No such file" },
	};
	char dir[256];

	(void)state;
	tmpdir_make(dir, sizeof(dir));
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct config cfg;
		struct auth *a;
		struct capture cap;
		char path[512];
		const char *h = (const char *)1, *q = NULL;
		int rc = -1;

		memset(&cfg, 0, sizeof(cfg));
		cfg.auth_method = AUTH_SAS;
		if (t[i].file != NULL) {
			file_put(dir, "sas", t[i].file, path, sizeof(path));
			chmod(path, t[i].mode);
		} else {
			snprintf(path, sizeof(path), "%s/missing", dir);
		}
		cfg.sas_file = path;
		cfg.sas_token = (char *)t[i].env;
		capture_begin(&cap);
		a = auth_new(&cfg, NULL, &rc);
		capture_end(&cap);
		if (rc != t[i].rc)
			fail_msg("case %zu: rc %d want %d: %s", i, rc, t[i].rc,
			    cap.text);
		if (t[i].rc != EXIT_OK) {
			assert_null(a);
			if (strstr(cap.text, t[i].query) == NULL)
				fail_msg("case %zu logged: %s", i, cap.text);
			continue;
		}
		assert_non_null(a);
		assert_int_equal(auth_prepare(a, &h, &q), EXIT_OK);
		assert_null(h);
		assert_string_equal(q, t[i].query);
		/* the token itself is never logged */
		assert_null(strstr(cap.text, "sig="));
		assert_int_equal(!!strstr(cap.text, "readable by every user"),
		    (t[i].mode & 0004) != 0 && t[i].env == NULL);
		assert_int_equal(auth_rejected(a), -1);
		auth_free(a);
		unlink(path);
	}
	rmdir(dir);
}

static void
test_none(void **state)
{
	struct config cfg;
	struct auth *a;
	const char *h = (const char *)1, *q = (const char *)1;
	int rc;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.auth_method = AUTH_NONE;
	a = auth_new(&cfg, NULL, &rc);
	assert_int_equal(auth_prepare(a, &h, &q), EXIT_OK);
	assert_null(h);
	assert_null(q);
	assert_int_equal(auth_rejected(a), -1);
	auth_accepted(a);
	auth_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_identity_cached_and_forced_refresh),
		cmocka_unit_test(test_identity_early_refresh),
		cmocka_unit_test(test_identity_failure_and_expired),
		cmocka_unit_test(test_sas),
		cmocka_unit_test(test_none),
	};

	log_set_journal(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
