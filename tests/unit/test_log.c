/* test_log.c — redaction of secrets, levels, journald prefixes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "log.h"
#include "testutil.h"

#define JWT                                                                    \
	"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."                                \
	"eyJhdWQiOiJodHRwczovL3N0b3JhZ2UuYXp1cmUuY29tLyJ9.c2lnbmF0dXJlX2J5dGVz"

static const struct {
	const char *in;
	const char *want;
} redact_table[] = {
	/* URLs lose their query string, whatever it holds */
	{ "GET https://acct.blob.core.windows.net/c/r/a.tar?sv=2021-08-06"
	  "&sr=c&sig=abc%2Fdef%3D&se=2030-01-01 failed",
	    "GET https://acct.blob.core.windows.net/c/r/a.tar?... failed" },
	{ "http://169.254.169.254/metadata/identity/oauth2/token?api-version="
	  "2018-02-01&resource=https://storage.azure.com/",
	    "http://169.254.169.254/metadata/identity/oauth2/token?..." },
	{ "url=\"https://h.example/p?x=1\" next",
	    "url=\"https://h.example/p?...\" next" },
	{ "(https://h.example/p?x=1), then",
	    "(https://h.example/p?...), then" },
	{ "a https://h.example/p?x=1\nb http://h/q?y=2\tc",
	    "a https://h.example/p?...\nb http://h/q?...\tc" },
	{ "<https://h.example/p?sig=s3cr3t>", "<https://h.example/p?...>" },
	{ "GET https://h/p?a=1: 503. See https://h/q?b=2.",
	    "GET https://h/p?...: 503. See https://h/q?...." },
	{ "se=2030-01-01T00:00:00Z in https://h/p?se=2030-01-01T10:00:00Z&x",
	    "se=2030-01-01T00:00:00Z in https://h/p?..." },
	/* a URL without a query stays as it is */
	{ "https://127.0.0.1:10000/devstoreaccount1/releases/v1/app.tar.gz",
	    "https://127.0.0.1:10000/devstoreaccount1/releases/v1/app.tar.gz" },
	/* SAS tokens outside a URL: the signature goes */
	{ "sas: sv=2021-08-06&ss=b&srt=co&sp=rl&se=2030-01-01&sig=AbC%3D",
	    "sas: sv=2021-08-06&ss=b&srt=co&sp=rl&se=2030-01-01"
	    "&sig=[redacted]" },
	{ "?sv=2020&sig=xyz&se=1", "?sv=2020&sig=[redacted]&se=1" },
	{ "sas_token=sv=1&sig=zzz", "sas_token=[redacted]&sig=[redacted]" },
	{ "SIG=abc&se=1", "SIG=[redacted]&se=1" },
	/* Authorization headers */
	{ "Authorization: Bearer " JWT, "Authorization: Bearer [redacted]" },
	{ "Authorization: Bearer opaque-token-value\nnext line",
	    "Authorization: Bearer [redacted]\nnext line" },
	{ "authorization: bearer opaque-token-value",
	    "authorization: bearer [redacted]" },
	{ "Authorization: SharedKey devstoreaccount1:Zm9vYmFy==",
	    "Authorization: SharedKey [redacted]" },
	/* bare JWTs */
	{ "token " JWT " end", "token [redacted] end" },
	{ JWT, "[redacted]" },
	/* IMDS token JSON */
	{ "{\"access_token\":\"" JWT "\",\"expires_in\":\"86399\"}",
	    "{\"access_token\":\"[redacted]\",\"expires_in\":\"86399\"}" },
	{ "{\"access_token\": \"abc.def\", \"token_type\": \"Bearer\"}",
	    "{\"access_token\": \"[redacted]\", \"token_type\": \"Bearer\"}" },
	/* ordinary text is left alone */
	{ "", "" },
	{ "storage.release \"v1.2\" is not valid",
	    "storage.release \"v1.2\" is not valid" },
	{ "fetch: 3 of 10 blobs, 12.5 MB/s, ETA 4s",
	    "fetch: 3 of 10 blobs, 12.5 MB/s, ETA 4s" },
	{ "eyJ is how JSON starts in base64",
	    "eyJ is how JSON starts in base64" },
	{ "design=blue assign=x consign=y", "design=blue assign=x consign=y" },
	{ "the token_type is Bearer", "the token_type is Bearer" },
	{ "see greenlight.ini:12: unknown key \"sig\"",
	    "see greenlight.ini:12: unknown key \"sig\"" },
	{ "a ? b & c = d", "a ? b & c = d" },
	{ "http://", "http://" },
};

static void
test_redact_table(void **state)
{
	char out[1024];
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(redact_table); i++) {
		log_redact(redact_table[i].in, out, sizeof(out));
		if (strcmp(out, redact_table[i].want) != 0) {
			print_error("log_redact(\"%s\")\n  got  \"%s\"\n  want "
			    "\"%s\"\n", redact_table[i].in, out,
			    redact_table[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Every prefix of a secret-bearing text redacts into every buffer size. */
static void
test_redact_truncation(void **state)
{
	static const char *const in[] = {
		"Authorization: Bearer " JWT,
		"https://h.example/p?sig=s3cr3t",
		"{\"access_token\":\"" JWT "\"}",
	};
	char out[256];

	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		for (size_t sz = 1; sz < sizeof(out); sz++) {
			memset(out, 'X', sizeof(out));
			assert_ptr_equal(log_redact(in[i], out, sz), out);
			assert_true(strlen(out) < sz);
			assert_true(out[sz] == 'X' || sz == sizeof(out) - 1);
			assert_null(strstr(out, "s3cr3t"));
			assert_null(strstr(out, "c2lnbmF0dXJl"));
		}
	}
	/* size 0 writes nothing */
	out[0] = 'X';
	log_redact("abc", out, 0);
	assert_int_equal(out[0], 'X');
}

/* The secret never shows, wherever it sits in the message. */
static void
test_log_messages_redacted(void **state)
{
	struct capture c;

	log_set_tag(NULL);
	log_set_journal(0);
	log_set_level(LOG_LEVEL_INFO);
	capture_begin(&c);
	log_error("download %s: 403", "https://a.blob.core.windows.net/c/b"
	    "?sv=1&sig=TOPSECRET");
	log_info("token: {\"access_token\":\"%s\"}", JWT);
	log_warn("header Authorization: Bearer %s", "TOPSECRET2");
	capture_end(&c);
	assert_null(strstr(c.text, "TOPSECRET"));
	assert_null(strstr(c.text, "c2lnbmF0dXJl"));
	assert_string_equal(c.text,
	    "error: download https://a.blob.core.windows.net/c/b?...: 403\n"
	    "token: {\"access_token\":\"[redacted]\"}\n"
	    "warning: header Authorization: Bearer [redacted]\n");
}

static void
emit_all(void)
{
	log_error("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	log_trace("t");
}

static void
test_levels(void **state)
{
	static const struct {
		enum log_level level;
		const char *want;
	} t[] = {
		{ LOG_LEVEL_ERROR, "error: e\n" },
		{ LOG_LEVEL_WARN, "error: e\nwarning: w\n" },
		{ LOG_LEVEL_INFO, "error: e\nwarning: w\ni\n" },
		{ LOG_LEVEL_DEBUG, "error: e\nwarning: w\ni\ndebug: d\n" },
		{ LOG_LEVEL_TRACE,
		    "error: e\nwarning: w\ni\ndebug: d\ntrace: t\n" },
		/* out of range clamps to the most verbose */
		{ LOG_LEVEL__MAX + 3,
		    "error: e\nwarning: w\ni\ndebug: d\ntrace: t\n" },
	};
	struct capture c;

	log_set_tag(NULL);
	log_set_journal(0);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		log_set_level(t[i].level);
		capture_begin(&c);
		emit_all();
		capture_end(&c);
		assert_string_equal(c.text, t[i].want);
	}
	log_set_level(LOG_LEVEL_DEBUG);
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	log_set_level(LOG_LEVEL_INFO);
}

/* log_quiet: everything above debug becomes debug, and it nests. */
static void
test_quiet(void **state)
{
	static const struct {
		enum log_level level;
		const char *want;
	} t[] = {
		{ LOG_LEVEL_INFO, "" },
		{ LOG_LEVEL_DEBUG, "debug: e\ndebug: w\ndebug: i\ndebug: d\n" },
	};
	struct capture c;
	int was;

	log_set_tag(NULL);
	log_set_journal(0);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		log_set_level(t[i].level);
		was = log_quiet(1);
		assert_int_equal(was, 0);
		capture_begin(&c);
		emit_all();
		capture_end(&c);
		assert_int_equal(log_quiet(was), 1);
		assert_string_equal(c.text, t[i].want);
	}
	log_set_level(LOG_LEVEL_INFO);
	capture_begin(&c);
	log_error("e");
	capture_end(&c);
	assert_string_equal(c.text, "error: e\n");
}

static void
test_journal_prefix_and_tag(void **state)
{
	struct capture c;

	log_set_level(LOG_LEVEL_TRACE);
	log_set_journal(1);
	log_set_tag("greenlight");
	capture_begin(&c);
	emit_all();
	capture_end(&c);
	assert_string_equal(c.text,
	    "<3>greenlight: error: e\n"
	    "<4>greenlight: warning: w\n"
	    "<6>greenlight: i\n"
	    "<7>greenlight: debug: d\n"
	    "<7>greenlight: trace: t\n");

	/* -1: prefixes only when stderr is no TTY (a file here) */
	log_set_journal(-1);
	log_set_tag(NULL);
	capture_begin(&c);
	log_info("x");
	capture_end(&c);
	assert_string_equal(c.text, "<6>x\n");
	log_set_journal(0);
	log_set_level(LOG_LEVEL_INFO);
}

/* A message longer than the log buffer is cut, not overflowed. */
static void
test_long_message(void **state)
{
	static char big[10000];
	struct capture c;

	memset(big, 'a', sizeof(big) - 1);
	log_set_journal(0);
	log_set_tag(NULL);
	capture_begin(&c);
	log_info("%s", big);
	capture_end(&c);
	assert_true(c.len > 1000 && c.len <= 4096);
	assert_int_equal(c.text[c.len - 1], '\n');
}

static void
test_exit_code_names(void **state)
{
	assert_string_equal(exit_code_name(EXIT_OK), "ok");
	assert_string_equal(exit_code_name(EXIT_CONFIG), "config");
	assert_string_equal(exit_code_name(EXIT_TEMPORARY), "temporary");
	assert_string_equal(exit_code_name(EXIT_LOCAL), "local");
	assert_string_equal(exit_code_name(-1), "unknown");
	assert_string_equal(exit_code_name(EXIT__MAX), "unknown");
	for (int i = 0; i < EXIT__MAX; i++)
		assert_non_null(exit_code_name(i));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_table),
		cmocka_unit_test(test_redact_truncation),
		cmocka_unit_test(test_log_messages_redacted),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_journal_prefix_and_tag),
		cmocka_unit_test(test_long_message),
		cmocka_unit_test(test_exit_code_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
