/* test_digest.c — hash vectors, hex/base64, and the MANIFEST parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "digest.h"
#include "testutil.h"

/* RFC 1321 and FIPS 180-2 vectors. */
static const struct {
	const char *in;
	const char *md5;
	const char *sha256;
} vectors[] = {
	{ "", "d41d8cd98f00b204e9800998ecf8427e",
	    "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855" },
	{ "abc", "900150983cd24fb0d6963f7d28e17f72",
	    "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad" },
	{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0",
	    "f7846f55cf23e14eebeab5b4e1550cad"
	    "5b509e3348fbc4efa3a1413d393cb650" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    "8215ef0796a20bcaaae116d3876c664a",
	    "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1" },
	{ "12345678901234567890123456789012345678901234567890123456789012345678"
	  "901234567890", "57edf4a22be3c955ac49da2e2107b67a",
	    "f371bc4a311f2b009eef952dd83ca80e"
	    "2b60026c8e935592d0f9c308453c813e" },
};

static void
test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		unsigned char md5[16], sha[32];
		char hex[65];
		struct digest *d = digest_new(DIGEST_MD5 | DIGEST_SHA256);
		const char *s = vectors[i].in;

		assert_non_null(d);
		/* feed in uneven pieces: streaming must not matter */
		for (size_t off = 0, step = 1; off < strlen(s); off += step,
		    step = step * 2 + 1) {
			size_t n = strlen(s) - off < step ? strlen(s) - off :
			    step;

			digest_update(d, s + off, n);
		}
		digest_final(d, md5, sha);
		digest_free(d);
		digest_hex(md5, 16, hex);
		assert_string_equal(hex, vectors[i].md5);
		digest_hex(sha, 32, hex);
		assert_string_equal(hex, vectors[i].sha256);
	}
}

static void
test_one_algo_and_million_a(void **state)
{
	struct digest *d = digest_new(DIGEST_SHA256);
	unsigned char sha[32], block[1000];
	char hex[65];

	(void)state;
	memset(block, 'a', sizeof(block));
	for (int i = 0; i < 1000; i++)
		digest_update(d, block, sizeof(block));
	digest_final(d, NULL, sha);
	digest_free(d);
	digest_hex(sha, 32, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a4"
	    "97200e046d39ccc7112cd0");
	digest_free(NULL);
}

static void
test_file(void **state)
{
	char dir[256], path[512], hex[65];
	unsigned char md5[16], sha[32];
	struct capture cap;

	(void)state;
	tmpdir_make(dir, sizeof(dir));
	file_put(dir, "f", "abc", path, sizeof(path));
	assert_int_equal(digest_file(path, DIGEST_MD5 | DIGEST_SHA256, md5,
	    sha), 0);
	digest_hex(md5, 16, hex);
	assert_string_equal(hex, vectors[1].md5);
	digest_hex(sha, 32, hex);
	assert_string_equal(hex, vectors[1].sha256);
	unlink(path);
	capture_begin(&cap);
	assert_int_equal(digest_file(path, DIGEST_MD5, md5, NULL), -1);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "cannot open"));
	rmdir(dir);
}

static void
test_base64(void **state)
{
	static const struct {
		const char *raw;
		const char *b64;
	} t[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "Zm9v!", "Zm=v", "Zh==", "====",
		"Zg==Zg==",
	};
	unsigned char out[64], md5[16];
	char enc[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		size_t n = strlen(t[i].raw);

		digest_base64((const unsigned char *)t[i].raw, n, enc,
		    sizeof(enc));
		assert_string_equal(enc, t[i].b64);
		assert_int_equal(digest_unbase64(t[i].b64, out, sizeof(out)),
		    (int)n);
		assert_memory_equal(out, t[i].raw, n);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (digest_unbase64(bad[i], out, sizeof(out)) != -1)
			fail_msg("\"%s\" decoded", bad[i]);
	/* output too small */
	assert_int_equal(digest_unbase64("Zm9vYmFy", out, 5), -1);
	/* a Content-MD5 */
	assert_int_equal(digest_unbase64("1B2M2Y8AsgTpgAmY7PhCfg==", md5,
	    sizeof(md5)), 16);
	digest_hex(md5, 16, enc);
	assert_string_equal(enc, "d41d8cd98f00b204e9800998ecf8427e");
	/* encoding into a buffer too small yields "" */
	digest_base64(md5, 16, enc, 10);
	assert_string_equal(enc, "");
}

#define H1 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define H2 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
test_manifest_ok(void **state)
{
	static const char text[] =
	    "# greenlight MANIFEST\n"
	    "\n"
	    H1 "  3  app/bin/server\n"
	    H2 "  0  empty file.txt\n"
	    "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
	    "  18446744073709551615  dir with  two  spaces/f\r\n"
	    H1 "  3  caf\xc3\xa9/na\xc3\xafve.txt";
	struct manifest m;
	struct manifest_entry *e;
	char err[128], hex[65];

	(void)state;
	assert_int_equal(manifest_parse(text, strlen(text), &m, err,
	    sizeof(err)), 0);
	assert_int_equal(m.n, 4);
	e = manifest_find(&m, "app/bin/server");
	assert_non_null(e);
	assert_int_equal(e->size, 3);
	assert_int_equal(e->seen, 0);
	digest_hex(e->sha256, 32, hex);
	assert_string_equal(hex, H1);
	e = manifest_find(&m, "empty file.txt");
	assert_non_null(e);
	assert_int_equal(e->size, 0);
	e = manifest_find(&m, "dir with  two  spaces/f");
	assert_non_null(e);
	assert_true(e->size == UINT64_MAX);
	digest_hex(e->sha256, 32, hex);
	assert_string_equal(hex, H1);
	assert_non_null(manifest_find(&m, "caf\xc3\xa9/na\xc3\xafve.txt"));
	assert_null(manifest_find(&m, "app/bin"));
	assert_null(manifest_find(&m, "nope"));
	manifest_free(&m);
	assert_int_equal(manifest_parse("", 0, &m, err, sizeof(err)), 0);
	assert_int_equal(m.n, 0);
	assert_null(manifest_find(&m, "x"));
	manifest_free(&m);
}

static void
test_manifest_errors(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} t[] = {
		{ "xyz  3  a\n", "line 1: expected 64 hex digits of SHA-256" },
		{ "# c\n" H1 " 3  a\n",
		    "line 2: expected two spaces after the SHA-256" },
		{ H1 "  3 a\n", "line 1: expected two spaces after the size" },
		{ H1 "  -3  a\n", "line 1: expected a decimal size" },
		{ H1 "  18446744073709551616  a\n", "line 1: size too large" },
		{ H1 "  3  \n", "line 1: empty path" },
		{ H1 "  3  /etc/passwd\n", "line 1: absolute path" },
		{ H1 "  3  a/../../b\n", "line 1: path contains \"..\"" },
		{ H1 "  3  ..\n", "line 1: path contains \"..\"" },
		{ H1 "  3  ./a\n", "line 1: path contains \".\"" },
		{ H1 "  3  a//b\n", "line 1: empty path segment (\"//\" or "
		    "trailing '/')" },
		{ H1 "  3  a/\n", "line 1: empty path segment (\"//\" or "
		    "trailing '/')" },
		{ H1 "  3  a\tb\n", "line 1: control character in path" },
		{ H1 "  3  a\n\n" H2 "  0  b\n" H1 "  3  a\n",
		    "line 4: duplicate path \"a\" (first on line 1)" },
		{ H1 "3  a\n",
		    "line 1: expected two spaces after the SHA-256" },
		{ "ba7816bf8f01cfea414140de5dae2223"
		  "b00361a396177a9cb410ff61f20015a"
		  "  3  a\n", "line 1: expected 64 hex digits of SHA-256" },
		{ "ba7816bf8f01cfea414140de5dae2223"
		  "b00361a396177a9cb410ff61f20015a"
		  "g  3  a\n", "line 1: expected 64 hex digits of SHA-256" },
	};
	struct manifest m;
	char err[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int rc = manifest_parse(t[i].text, strlen(t[i].text), &m, err,
		    sizeof(err));

		if (rc != -1)
			fail_msg("case %zu parsed", i);
		if (strcmp(err, t[i].err) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, err,
			    t[i].err);
		assert_null(m.v);
		assert_int_equal(m.n, 0);
	}
	/* a NUL byte inside the text */
	{
		char text[200];
		size_t n;

		n = (size_t)snprintf(text, sizeof(text), H1 "  3  ab\n");
		text[n - 2] = '\0';
		assert_int_equal(manifest_parse(text, n, &m, err, sizeof(err)),
		    -1);
		assert_string_equal(err, "line 1: NUL byte in path");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_one_algo_and_million_a),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_manifest_ok),
		cmocka_unit_test(test_manifest_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
