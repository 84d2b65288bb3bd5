/*
 * test_imds.c — token JSON, and the IMDS retry rules against a loopback
 * stub with a simulated clock (410 for 20 s, 400 at once, deadlines).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "agent.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "imds.h"
#include "log.h"
#include "stub_server.h"
#include "testutil.h"

static void
test_parse_table(void **state)
{
	static const struct {
		const char *json;
		int rc;
		int64_t expires_on; /* -1: now + 3600 (expires_in only) */
		int64_t not_before;
		const char *resource;
		const char *err;
	} t[] = {
		{ "{\"access_token\":\"eyJ0.eyJ1.sig\",\"refresh_token\":\"\","
		  "\"expires_in\":\"86399\",\"expires_on\":\"1735689600\","
		  "\"not_before\":\"1735603200\",\"resource\":"
		  "\"https://storage.azure.com/\",\"token_type\":\"Bearer\"}",
		  0, 1735689600, 1735603200, "https://storage.azure.com/", "" },
		/* numbers as numbers, too */
		{ "{\"access_token\":\"t\",\"expires_on\":1735689600,"
		  "\"not_before\":1735603200}", 0, 1735689600, 1735603200, NULL,
		  "" },
		{ "{\"access_token\":\"t\",\"expires_on\":1735689600.0}", 0,
		  1735689600, 0, NULL, "" },
		{ "{\"access_token\":\"t\",\"expires_on\":\" 1735689600 \"}", 0,
		  1735689600, 0, NULL, "" },
		/* expires_on wins over expires_in */
		{ "{\"access_token\":\"t\",\"expires_in\":\"5\","
		  "\"expires_on\":\"1735689600\"}", 0, 1735689600, 0, NULL,
		  "" },
		{ "{\"access_token\":\"t\",\"expires_in\":\"3600\"}", 0, -1, 0,
		  NULL, "" },
		{ "{\"access_token\":\"t\",\"expires_in\":3600,"
		  "\"token_type\":\"bearer\"}", 0, -1, 0, NULL, "" },
		{ "{\"access_token\":\"t\",\"expires_on\":\"1735689600\","
		  "\"not_before\":\"soon\"}", 0, 1735689600, 0, NULL, "" },
		{ "{\"expires_on\":\"1735689600\"}", -1, 0, 0, NULL,
		  "missing access_token" },
		{ "{\"access_token\":\"\",\"expires_on\":\"1\"}", -1, 0, 0,
		  NULL, "missing access_token" },
		{ "{\"access_token\":42,\"expires_on\":\"1\"}", -1, 0, 0, NULL,
		  "missing access_token" },
		{ "{\"access_token\":\"a b\",\"expires_on\":\"1\"}", -1, 0, 0,
		  NULL, "access_token has characters a token cannot have" },
		{ "{\"access_token\":\"t\"}", -1, 0, 0, NULL,
		  "missing expires_on and expires_in" },
		{ "{\"access_token\":\"t\",\"expires_on\":\"tomorrow\"}", -1, 0,
		  0, NULL, "expires_on is not a number" },
		/* an App Service style date in expires_on: expires_in wins */
		{ "{\"access_token\":\"t\",\"expires_on\":\"09/14/2017 "
		  "00:00:00 PM +00:00\",\"expires_in\":\"3600\"}", 0, -1, 0,
		  NULL, "" },
		{ "{\"access_token\":\"t\",\"expires_on\":\"-5\"}", -1, 0, 0,
		  NULL, "expires_on is not a number" },
		{ "{\"access_token\":\"t\",\"expires_on\":\""
		  "99999999999999999999\"}", -1, 0, 0, NULL,
		  "expires_on is not a number" },
		{ "{\"access_token\":\"t\",\"expires_in\":null}", -1, 0, 0,
		  NULL, "expires_in is not a number" },
		{ "{\"access_token\":\"t\",\"expires_on\":\"1\","
		  "\"token_type\":\"PoP\"}", -1, 0, 0, NULL,
		  "token_type is not Bearer" },
		{ "{\"error\":\"invalid_request\",\"error_description\":"
		  "\"Identity not found\"}", -1, 0, 0, NULL,
		  "missing access_token" },
		{ "[1,2]", -1, 0, 0, NULL, "not a JSON object" },
		{ "", -1, 0, 0, NULL, "not JSON" },
		{ "{\"access_token\":\"t\"", -1, 0, 0, NULL, "not JSON" },
		{ "{\"access_token\":\"t\",\"access_token\":\"u\","
		  "\"expires_on\":\"1\"}", -1, 0, 0, NULL, "not JSON" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct imds_token tok;
		char err[128];
		int rc = imds_token_parse(t[i].json, strlen(t[i].json), &tok,
		    err, sizeof(err));

		if (rc != t[i].rc)
			fail_msg("case %zu: rc %d (%s)", i, rc, err);
		if (rc < 0) {
			if (strncmp(err, t[i].err, strlen(t[i].err)) != 0)
				fail_msg("case %zu: \"%s\", want \"%s\"", i,
				    err, t[i].err);
			assert_null(tok.access_token);
			continue;
		}
		assert_non_null(tok.access_token);
		if (t[i].expires_on == -1) {
			int64_t want = (int64_t)time(NULL) + 3600;

			assert_true(tok.expires_on >= want - 2 &&
			    tok.expires_on <= want);
		} else {
			assert_int_equal(tok.expires_on, t[i].expires_on);
		}
		assert_int_equal(tok.not_before, t[i].not_before);
		if (t[i].resource != NULL)
			assert_string_equal(tok.resource, t[i].resource);
		else
			assert_null(tok.resource);
		imds_token_clear(&tok);
		assert_null(tok.access_token);
	}
	imds_token_clear(NULL);
}

/* --- fetch against the stub, with simulated time --- */

struct scenario {
	int64_t now_ms;		/* simulated monotonic clock */
	int64_t fail_until_ms;	/* answer fail_status before this */
	int fail_status;	/* 0: drop the connection */
	int fail_count;		/* ... or for this many requests (if > 0) */
	int ok_status;
	const char *ok_body;
	int seen;
	char first_head[4096];
};

static int64_t
sim_now(void *arg)
{
	struct scenario *sc = arg;

	return __atomic_load_n(&sc->now_ms, __ATOMIC_SEQ_CST);
}

static void
sim_sleep(void *arg, int64_t ms)
{
	struct scenario *sc = arg;

	__atomic_add_fetch(&sc->now_ms, ms, __ATOMIC_SEQ_CST);
}

#define TOKEN_JSON "{\"access_token\":\"eyJhbGciOiJub25lIn0.eyJzZWNyZXQi" \
	"OjF9.c2VjcmV0\",\"expires_in\":\"86399\","                     \
	"\"expires_on\":\"4102444800\","                                    \
	"\"not_before\":\"1735603200\",\"resource\":\"https://storage.azure." \
	"com/\",\"token_type\":\"Bearer\"}"

static void
handler(void *arg, const char *head, struct stub_reply *r)
{
	struct scenario *sc = arg;
	int64_t now = sim_now(sc);
	int n = __atomic_add_fetch(&sc->seen, 1, __ATOMIC_SEQ_CST);

	if (n == 1)
		snprintf(sc->first_head, sizeof(sc->first_head), "%s", head);
	if ((sc->fail_count > 0 && n <= sc->fail_count) ||
	    (sc->fail_count == 0 && now < sc->fail_until_ms)) {
		r->status = sc->fail_status;
		if (sc->fail_status == 400)
			snprintf(r->body, sizeof(r->body), "{\"error\":"
			    "\"invalid_request\",\"error_description\":"
			    "\"Identity not found\"}");
		else if (sc->fail_status == 403)
			snprintf(r->body, sizeof(r->body), "{\"error\":"
			    "\"forbidden\",\"error_description\":\"Request "
			    "contains X-Forwarded-For\"}");
		else
			snprintf(r->body, sizeof(r->body), "{\"error\":"
			    "\"unavailable\"}");
		return;
	}
	r->status = sc->ok_status ? sc->ok_status : 200;
	snprintf(r->body, sizeof(r->body), "%s", sc->ok_body ? sc->ok_body :
	    TOKEN_JSON);
}

struct fixture {
	struct stub_server srv;
	struct scenario sc;
	struct clock clk;
	struct config cfg;
	struct http_client *http;
	char endpoint[64];
};

static struct fixture *
fixture_new(int dead)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int port;

	assert_non_null(f);
	if (dead) {
		port = stub_dead_port();
	} else {
		stub_start(&f->srv, handler, &f->sc);
		port = f->srv.port;
	}
	snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%d",
	    port);
	f->cfg.imds_endpoint = f->endpoint;
	f->cfg.deadline_ms = 5000;
	f->clk.now_ms = sim_now;
	f->clk.sleep_ms = sim_sleep;
	f->clk.arg = &f->sc;
	f->sc.now_ms = 1000000;
	f->http = http_client_new(NULL);
	assert_non_null(f->http);
	return f;
}

static void
fixture_free(struct fixture *f, int dead)
{
	if (!dead)
		stub_stop(&f->srv);
	http_client_free(f->http);
	free(f);
}

static int
fetch(struct fixture *f, int64_t deadline, struct imds_token *tok,
    struct capture *cap)
{
	int rc;

	capture_begin(cap);
	rc = imds_token_fetch(&f->cfg, f->http, "https://storage.azure.com/",
	    deadline, &f->clk, tok);
	capture_end(cap);
	return rc;
}

static void
test_fetch_ok_request_shape(void **state)
{
	struct fixture *f = fixture_new(0);
	struct imds_token tok;
	struct capture cap;

	(void)state;
	log_set_level(LOG_LEVEL_TRACE);
	assert_int_equal(fetch(f, 0, &tok, &cap), EXIT_OK);
	log_set_level(LOG_LEVEL_INFO);
	assert_int_equal(f->sc.seen, 1);
	assert_non_null(strstr(f->sc.first_head, "GET /metadata/identity/"
	    "oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2F"
	    "storage.azure.com%2F HTTP/1.1\r\n"));
	assert_non_null(strstr(f->sc.first_head, "\r\nMetadata: true\r\n"));
	assert_null(strstr(f->sc.first_head, "X-Forwarded-For"));
	assert_int_equal(tok.expires_on, 4102444800);
	assert_string_equal(tok.resource, "https://storage.azure.com/");
	/* the token never reaches the log, even at trace level */
	assert_null(strstr(cap.text, "c2VjcmV0"));
	assert_null(strstr(cap.text, "eyJzZWNyZXQi"));
	imds_token_clear(&tok);
	fixture_free(f, 0);
}

static void
test_fetch_user_assigned_params(void **state)
{
	static const struct {
		const char *client_id, *object_id, *msi_res_id;
		const char *want;
	} t[] = {
		{ "1111-2222", NULL, NULL, "&client_id=1111-2222 HTTP" },
		{ NULL, "abcd-ef", NULL, "&object_id=abcd-ef HTTP" },
		{ NULL, NULL, "/subscriptions/s/resourcegroups/g/providers/"
		  "Microsoft.ManagedIdentity/userAssignedIdentities/id1",
		  "&msi_res_id=%2Fsubscriptions%2Fs%2Fresourcegroups%2Fg%2F"
		  "providers%2FMicrosoft.ManagedIdentity%2FuserAssigned"
		  "Identities%2Fid1 HTTP" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct fixture *f = fixture_new(0);
		struct imds_token tok;
		struct capture cap;

		f->cfg.client_id = (char *)t[i].client_id;
		f->cfg.object_id = (char *)t[i].object_id;
		f->cfg.msi_res_id = (char *)t[i].msi_res_id;
		assert_int_equal(fetch(f, 0, &tok, &cap), EXIT_OK);
		if (strstr(f->sc.first_head, t[i].want) == NULL)
			fail_msg("case %zu: %s", i, f->sc.first_head);
		imds_token_clear(&tok);
		fixture_free(f, 0);
	}
}

static void
test_fetch_410_then_ok(void **state)
{
	struct fixture *f = fixture_new(0);
	struct imds_token tok;
	struct capture cap;

	(void)state;
	/* IMDS updating for 20 s; a deadline of 5 s must not cut it short */
	f->sc.fail_status = 410;
	f->sc.fail_until_ms = f->sc.now_ms + 20000;
	assert_int_equal(fetch(f, 5000, &tok, &cap), EXIT_OK);
	assert_true(f->sc.seen > 2);
	assert_true(f->sc.now_ms >= 1000000 + 20000);
	assert_non_null(tok.access_token);
	assert_int_equal(count_lines_with(cap.text, "IMDS not ready (HTTP "
	    "410); retrying for up to 70s"), 1);
	assert_int_equal(count_lines_with(cap.text, "error"), 0);
	imds_token_clear(&tok);
	fixture_free(f, 0);
}

static void
test_fetch_410_forever(void **state)
{
	struct fixture *f = fixture_new(0);
	struct imds_token tok;
	struct capture cap;
	char want[512];
	int64_t waited;

	(void)state;
	f->sc.fail_status = 410;
	f->sc.fail_until_ms = INT64_MAX;
	assert_int_equal(fetch(f, 5000, &tok, &cap), EXIT_TEMPORARY);
	waited = f->sc.now_ms - 1000000;
	assert_true(waited >= 70000 && waited < 80000);
	assert_null(tok.access_token);
	snprintf(want, sizeof(want), "error: managed identity: IMDS at %s "
	    "gave no token in 70s (%d attempts, last: HTTP 410); it is "
	    "unreachable or still starting — check [imds] endpoint and the "
	    "VM's network, then rerun (or raise [fetch] deadline)",
	    f->endpoint, f->sc.seen);
	if (strstr(cap.text, want) == NULL)
		fail_msg("logged:\n%s\nwant:\n%s", cap.text, want);
	fixture_free(f, 0);
}

static void
test_fetch_5xx_until_deadline(void **state)
{
	static const int statuses[] = { 500, 503, 429, 404 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(statuses); i++) {
		struct fixture *f = fixture_new(0);
		struct imds_token tok;
		struct capture cap;
		char want[64];
		int64_t waited;

		f->sc.fail_status = statuses[i];
		f->sc.fail_until_ms = INT64_MAX;
		assert_int_equal(fetch(f, 10000, &tok, &cap), EXIT_TEMPORARY);
		waited = f->sc.now_ms - 1000000;
		if (waited < 10000 || waited > 10000 + 100)
			fail_msg("status %d: waited %lld ms", statuses[i],
			    (long long)waited);
		assert_true(f->sc.seen >= 3);
		snprintf(want, sizeof(want), "last: HTTP %d)", statuses[i]);
		assert_non_null(strstr(cap.text, want));
		assert_non_null(strstr(cap.text, "gave no token in 10s"));
		fixture_free(f, 0);
	}
}

static void
test_fetch_503_then_ok(void **state)
{
	struct fixture *f = fixture_new(0);
	struct imds_token tok;
	struct capture cap;

	(void)state;
	f->sc.fail_status = 503;
	f->sc.fail_count = 3;
	assert_int_equal(fetch(f, 60000, &tok, &cap), EXIT_OK);
	assert_int_equal(f->sc.seen, 4);
	assert_non_null(strstr(cap.text, "IMDS answered after 4 attempts"));
	imds_token_clear(&tok);
	fixture_free(f, 0);
}

static void
test_fetch_400_at_once(void **state)
{
	static const struct {
		const char *client_id;
		int status;
		int rc;
		const char *msg;
	} t[] = {
		{ "1111-2222", 400, EXIT_AUTH, "error: managed identity: IMDS "
		  "refused the token request (400 invalid_request: Identity "
		  "not found): the user-assigned identity client_id=1111-2222 "
		  "is not assigned to this VM; check [auth] client_id / "
		  "object_id / msi_res_id\n" },
		{ NULL, 400, EXIT_AUTH, "error: managed identity: IMDS refused "
		  "the token request (400 invalid_request: Identity not "
		  "found): no system-assigned identity is enabled on this VM; "
		  "enable it or set [auth] client_id\n" },
		{ NULL, 403, EXIT_AUTH, "refused the token request (403 "
		  "forbidden: Request contains X-Forwarded-For); check [imds] "
		  "endpoint and that no proxy or firewall sits between this VM "
		  "and IMDS\n" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct fixture *f = fixture_new(0);
		struct imds_token tok;
		struct capture cap;

		f->cfg.client_id = (char *)t[i].client_id;
		f->sc.fail_status = t[i].status;
		f->sc.fail_until_ms = INT64_MAX;
		assert_int_equal(fetch(f, 60000, &tok, &cap), t[i].rc);
		assert_int_equal(f->sc.seen, 1);
		assert_int_equal(f->sc.now_ms, 1000000);
		if (strstr(cap.text, t[i].msg) == NULL)
			fail_msg("case %zu logged:\n%s", i, cap.text);
		assert_int_equal(count_lines_with(cap.text, "error"), 1);
		fixture_free(f, 0);
	}
}

static void
test_fetch_unreachable(void **state)
{
	struct fixture *f = fixture_new(1);
	struct imds_token tok;
	struct capture cap;
	char want[512];

	(void)state;
	assert_int_equal(fetch(f, 3000, &tok, &cap), EXIT_TEMPORARY);
	assert_true(f->sc.now_ms - 1000000 >= 3000);
	snprintf(want, sizeof(want), "error: managed identity: IMDS at %s "
	    "gave no token in 3s (", f->endpoint);
	if (strstr(cap.text, want) == NULL)
		fail_msg("logged:\n%s", cap.text);
	assert_non_null(strstr(cap.text, "last: connect: "));
	assert_non_null(strstr(cap.text, "retrying for up to 3s"));
	fixture_free(f, 1);
}

static void
test_fetch_bad_body(void **state)
{
	struct fixture *f = fixture_new(0);
	struct imds_token tok;
	struct capture cap;

	(void)state;
	f->sc.ok_body = "<html>captive portal</html>";
	assert_int_equal(fetch(f, 60000, &tok, &cap), EXIT_TEMPORARY);
	assert_int_equal(f->sc.seen, 3);
	assert_non_null(strstr(cap.text, "answered HTTP 200 with an unusable "
	    "body: not JSON"));
	fixture_free(f, 0);
}

static void
test_fetch_dropped_connection_then_ok(void **state)
{
	struct fixture *f = fixture_new(0);
	struct imds_token tok;
	struct capture cap;

	(void)state;
	f->sc.fail_status = 0; /* close without an answer */
	f->sc.fail_count = 2;
	assert_int_equal(fetch(f, 60000, &tok, &cap), EXIT_OK);
	assert_int_equal(f->sc.seen, 3);
	imds_token_clear(&tok);
	fixture_free(f, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_fetch_ok_request_shape),
		cmocka_unit_test(test_fetch_user_assigned_params),
		cmocka_unit_test(test_fetch_410_then_ok),
		cmocka_unit_test(test_fetch_410_forever),
		cmocka_unit_test(test_fetch_5xx_until_deadline),
		cmocka_unit_test(test_fetch_503_then_ok),
		cmocka_unit_test(test_fetch_400_at_once),
		cmocka_unit_test(test_fetch_unreachable),
		cmocka_unit_test(test_fetch_bad_body),
		cmocka_unit_test(test_fetch_dropped_connection_then_ok),
	};

	log_set_journal(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
