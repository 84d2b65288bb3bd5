/* test_blob.c — List Blobs pages, error bodies, messages and URLs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "auth.h"
#include "blob.h"
#include "config.h"
#include "http.h"
#include "retry.h"
#include "testutil.h"

#define HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults " \
	"ServiceEndpoint=\"https://acct.blob.core.windows.net/\" "             \
	"ContainerName=\"releases\"><Prefix>1.2/</Prefix><MaxResults>5000"     \
	"</MaxResults><Blobs>"
#define TAIL(next) "</Blobs><NextMarker>" next "</NextMarker>"             \
	"</EnumerationResults>"
#define PROPS(len, etag, md5) "<Properties><Creation-Time>Mon, 01 Jan 2026 " \
	"10:00:00 GMT</Creation-Time><Last-Modified>Mon, 01 Jan 2026 "         \
	"10:05:00 GMT</Last-Modified><Etag>" etag "</Etag>"                    \
	"<Content-Length>" len                                                 \
	"</Content-Length><Content-Type>application/octet-stream"              \
	"</Content-Type>" md5 "<BlobType>BlockBlob</BlobType></Properties>"
#define BLOB(name, len) "<Blob><Name>" name "</Name>" PROPS(len,             \
	"0x8DC0123456789AB",                                                   \
	"<Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5>")                 \
	"<Metadata/></Blob>"

static void
test_list_one_page(void **state)
{
	static const char xml[] = HEAD
	    BLOB("1.2/app/server", "734003200")
	    "<Blob><Name>1.2/dir/</Name>" PROPS("0", "0x1", "") "</Blob>"
	    "<Blob><Name>1.2/folder</Name>" PROPS("0", "0x2", "")
	    "<Metadata><hdi_isfolder>true</hdi_isfolder></Metadata></Blob>"
	    "<Blob><Name>1.2/empty</Name>" PROPS("0", "\"0x3\"",
	    "<Content-MD5/>") "<Metadata><other>x</other></Metadata></Blob>"
	    "<Blob><Name>1.2/nomd5</Name>" PROPS("17", "&quot;0x4&quot;", "")
	    "</Blob>"
	    "<Blob><Name>1.20/other-release</Name>" PROPS("5", "0x5", "")
	    "</Blob>"
	    TAIL("");
	struct blob_list l = { NULL, 0 };
	char *next = (char *)"x", err[256];

	(void)state;
	assert_int_equal(blob_list_parse(xml, strlen(xml), "1.2/", &l, &next,
	    err, sizeof(err)), 0);
	assert_null(next);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].name, "1.2/app/server");
	assert_string_equal(l.v[0].rel, "app/server");
	assert_true(l.v[0].size == 734003200ull);
	assert_string_equal(l.v[0].etag, "0x8DC0123456789AB");
	assert_string_equal(l.v[0].md5, "1B2M2Y8AsgTpgAmY7PhCfg==");
	assert_int_equal(l.v[0].mtime, 1767261900); /* 2026-01-01 10:05 UTC */
	/* a 0-byte blob without hdi_isfolder is a file */
	assert_string_equal(l.v[1].rel, "empty");
	assert_int_equal(l.v[1].size, 0);
	assert_string_equal(l.v[1].etag, "0x3");
	assert_string_equal(l.v[1].md5, "");
	assert_string_equal(l.v[2].rel, "nomd5");
	assert_string_equal(l.v[2].etag, "0x4");
	assert_string_equal(l.v[2].md5, "");
	blob_list_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
}

static void
test_list_pages_append(void **state)
{
	static const char p1[] = HEAD BLOB("1.2/b", "1") BLOB("1.2/c", "2")
	    TAIL("1.2/c%20x&amp;y");
	static const char p2[] = HEAD BLOB("1.2/a", "3") TAIL("");
	struct blob_list l = { NULL, 0 };
	char *next = NULL, err[256];

	(void)state;
	assert_int_equal(blob_list_parse(p1, strlen(p1), "1.2/", &l, &next,
	    err, sizeof(err)), 0);
	assert_non_null(next);
	/* opaque: entities decoded, nothing else touched */
	assert_string_equal(next, "1.2/c%20x&y");
	free(next);
	assert_int_equal(blob_list_parse(p2, strlen(p2), "1.2/", &l, &next,
	    err, sizeof(err)), 0);
	assert_null(next);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[2].rel, "a");
	/* a bad third page leaves the first two intact */
	assert_int_equal(blob_list_parse(HEAD BLOB("1.2/d", "1") "<Blob>",
	    strlen(HEAD BLOB("1.2/d", "1") "<Blob>"), "1.2/", &l, &next, err,
	    sizeof(err)), -1);
	assert_int_equal(l.n, 3);
	blob_list_free(&l);
}

static void
test_list_empty(void **state)
{
	static const char *const pages[] = {
		HEAD TAIL(""),
		"<?xml version=\"1.0\"?><EnumerationResults><Blobs/>"
		    "<NextMarker/></EnumerationResults>",
		"<EnumerationResults ContainerName=\"c\"><Prefix>1.2/</Prefix>"
		    "<Blobs></Blobs></EnumerationResults>",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pages); i++) {
		struct blob_list l = { NULL, 0 };
		char *next = NULL;

		assert_int_equal(blob_list_parse(pages[i], strlen(pages[i]),
		    "1.2/", &l, &next, err, sizeof(err)), 0);
		assert_int_equal(l.n, 0);
		assert_null(next);
		blob_list_free(&l);
	}
}

static void
test_list_names(void **state)
{
	char name[1100], xml[4096];
	struct blob_list l = { NULL, 0 };
	char *next = NULL, err[256];
	static const char special[] = HEAD
	    BLOB("1.2/with space/file name.txt", "1")
	    BLOB("1.2/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt", "2")
	    BLOB("1.2/a&amp;b&lt;c&gt;d&apos;e&quot;f&#x00E9;&#233;", "3")
	    "<Blob><Name Encoded=\"true\">1.2/ctl%01x%2Fy</Name>"
	    PROPS("4", "0x9", "") "</Blob>"
	    TAIL("");

	(void)state;
	assert_int_equal(blob_list_parse(special, strlen(special), "1.2/", &l,
	    &next, err, sizeof(err)), -1);
	/* the encoded name has a control character: refused, not written */
	assert_non_null(strstr(err, "cannot be a file of the release"));
	assert_int_equal(l.n, 0);
	{
		static const char ok[] = HEAD
		    BLOB("1.2/with space/file name.txt", "1")
		    BLOB("1.2/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt", "2")
		    BLOB("1.2/a&amp;b&lt;c&gt;d&apos;e&quot;f&#x00E9;&#233;",
		    "3")
		    "<Blob><Name Encoded=\"true\">1.2/x%2By%20z</Name>"
		    PROPS("4", "0x9", "") "</Blob>"
		    TAIL("");

		assert_int_equal(blob_list_parse(ok, strlen(ok), "1.2/", &l,
		    &next, err, sizeof(err)), 0);
		assert_int_equal(l.n, 4);
		assert_string_equal(l.v[0].rel, "with space/file name.txt");
		assert_string_equal(l.v[1].rel,
		    "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt");
		assert_string_equal(l.v[2].rel,
		    "a&b<c>d'e\"f\xc3\xa9\xc3\xa9");
		assert_string_equal(l.v[3].rel, "x+y z");
		blob_list_free(&l);
	}
	/* a 1024-byte name (the service maximum) */
	memset(name, 'n', sizeof(name));
	memcpy(name, "1.2/", 4);
	for (size_t i = 100; i < 1024; i += 100)
		name[i] = '/';
	name[1024] = '\0';
	snprintf(xml, sizeof(xml), HEAD "<Blob><Name>%s</Name>%s</Blob>"
	    TAIL(""), name, PROPS("9", "0x1", ""));
	assert_int_equal(blob_list_parse(xml, strlen(xml), "1.2/", &l, &next,
	    err, sizeof(err)), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(strlen(l.v[0].name), 1024);
	blob_list_free(&l);
}

static void
test_list_bad(void **state)
{
	static char huge[8192];
	static const struct {
		const char *xml;
		const char *err;
	} t[] = {
		{ HEAD BLOB("1.2/a", "1"), "malformed XML" },
		{ HEAD "<Blob><Name>1.2/a</Name>", "malformed XML" },
		{ "", "malformed XML" },
		{ "<html><body>proxy says hi</body></html>",
		    "unexpected root element <html>" },
		{ "not xml at all", "malformed XML" },
		{ HEAD "<Blob><Name>1.2/a</Name><Properties/></Blob>" TAIL(""),
		    "blob \"1.2/a\" has no Content-Length" },
		{ HEAD "<Blob><Name>1.2/a</Name>" PROPS("12x", "0x1", "")
		    "</Blob>" TAIL(""), "bad Content-Length \"12x\"" },
		{ HEAD "<Blob><Name>1.2/a</Name>" PROPS("-1", "0x1", "")
		    "</Blob>" TAIL(""), "bad Content-Length \"-1\"" },
		{ HEAD "<Blob><Name>1.2/a</Name>"
		    PROPS("99999999999999999999", "0x1", "") "</Blob>" TAIL(""),
		    "bad Content-Length" },
		{ HEAD "<Blob>" PROPS("1", "0x1", "") "</Blob>" TAIL(""),
		    "a <Blob> without a <Name>" },
		{ HEAD BLOB("1.2/../etc/passwd", "1") TAIL(""),
		    "blob name \"1.2/../etc/passwd\" has a '.' or '..' "
		    "segment" },
		{ HEAD BLOB("1.2//x", "1") TAIL(""), "starts with '/'" },
		{ HEAD BLOB("1.2/a//x", "1") TAIL(""), "empty path segment" },
		{ HEAD BLOB("1.2/a\\b", "1") TAIL(""), "backslash" },
		{ HEAD "<Blob><Name Encoded=\"true\">1.2/%zz</Name>"
		    PROPS("1", "0x1", "") "</Blob>" TAIL(""),
		    "bad encoded blob name" },
		{ HEAD "<Blob><Name Encoded=\"true\">1.2/a%00b</Name>"
		    PROPS("1", "0x1", "") "</Blob>" TAIL(""),
		    "bad encoded blob name" },
		{ huge, "value is too long" },
		{ "<!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
		    "<EnumerationResults><Blobs><Blob><Name>1.2/&b;</Name>"
		    "</Blob></Blobs></EnumerationResults>",
		    "a DOCTYPE (<!DOCTYPE x>) in a listing" },
		{ "<!DOCTYPE EnumerationResults SYSTEM \"file:///etc/passwd\">"
		    "<EnumerationResults/>", "a DOCTYPE" },
	};
	char err[256];

	(void)state;
	snprintf(huge, sizeof(huge), HEAD "<Blob><Name>1.2/%05000d</Name>"
	    "</Blob>" TAIL(""), 1);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct blob_list l = { NULL, 0 };
		char *next = NULL;
		int rc = blob_list_parse(t[i].xml, strlen(t[i].xml), "1.2/", &l,
		    &next, err, sizeof(err));

		if (rc != -1)
			fail_msg("case %zu parsed", i);
		if (strstr(err, t[i].err) == NULL)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, err,
			    t[i].err);
		assert_int_equal(l.n, 0);
		assert_null(next);
		blob_list_free(&l);
	}
}

static void
test_list_bad_md5_ignored(void **state)
{
	static const char xml[] = HEAD "<Blob><Name>1.2/a</Name>" PROPS("1",
	    "0x1", "<Content-MD5>bm90IG1kNQ==</Content-MD5>") "</Blob>"
	    TAIL("");
	struct blob_list l = { NULL, 0 };
	struct capture cap;
	char *next = NULL, err[256];

	(void)state;
	capture_begin(&cap);
	assert_int_equal(blob_list_parse(xml, strlen(xml), "1.2/", &l, &next,
	    err, sizeof(err)), 0);
	capture_end(&cap);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].md5, "");
	assert_non_null(strstr(cap.text, "malformed Content-MD5"));
	blob_list_free(&l);
}

/* --- errors --- */

static struct config *
cfg_make(enum auth_method m, const char *client_id)
{
	struct config *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->endpoint = strdup("https://127.0.0.1:10000/devstoreaccount1");
	c->container = strdup("releases");
	c->imds_endpoint = strdup("http://127.0.0.1:9");
	c->auth_method = m;
	c->client_id = client_id ? strdup(client_id) : NULL;
	c->sas_token = m == AUTH_SAS ? strdup("sv=2021&sig=abc") : NULL;
	c->deadline_ms = 1000;
	return c;
}

static void
cfg_drop(struct config *c)
{
	free(c->endpoint);
	free(c->container);
	free(c->imds_endpoint);
	free(c->client_id);
	free(c->sas_token);
	free(c);
}

#define XERR(code, msg) "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error>" \
	"<Code>" code "</Code><Message>" msg "\nRequestId:5e1f\n"              \
	"Time:2026-01-01T10:00:00.000Z</Message></Error>"

static void
test_error_parse(void **state)
{
	static const struct {
		const char *headers;
		const char *body;
		int rc;
		const char *code;
		const char *detail;
	} t[] = {
		{ NULL, XERR("BlobNotFound", "The specified blob does not "
		    "exist."), 0, "BlobNotFound",
		    "The specified blob does not exist." },
		{ "HTTP/1.1 404 x\r\nx-ms-error-code: ContainerNotFound\r\n",
		    NULL, 0, "ContainerNotFound", "" },
		{ "x-ms-error-code: AuthenticationFailed\r\n",
		    "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed"
		    "</Code><Message>Server failed to authenticate the request."
		    "\nRequestId:1</Message><AuthenticationErrorDetail>"
		    "Lifetime validation failed. The token is expired."
		    "</AuthenticationErrorDetail></Error>", 0,
		    "AuthenticationFailed",
		    "Lifetime validation failed. The token is expired." },
		{ NULL, "<html>bad gateway</html>", -1, "", "" },
		{ NULL, "<Error><Code>Trunc", -1, "", "" },
		{ NULL, NULL, -1, "", "" },
		{ "x-ms-error-code: Bad\x01" "Code\r\n", NULL, 0, "Bad?Code",
		    "" },
		{ NULL, "<Error><Code>Bad\x01" "Code</Code></Error>", -1, "",
		    "" },
		{ NULL, "<!DOCTYPE Error [<!ENTITY e \"Blob\">]><Error><Code>"
		    "&e;NotFound</Code></Error>", -1, "", "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct http_response r;
		char code[64], detail[128];

		memset(&r, 0, sizeof(r));
		r.status = 404;
		r.headers = (char *)t[i].headers;
		r.body = (char *)t[i].body;
		r.body_len = t[i].body ? strlen(t[i].body) : 0;
		if (blob_error_parse(&r, code, sizeof(code), detail,
		    sizeof(detail)) != t[i].rc)
			fail_msg("case %zu: rc", i);
		assert_string_equal(code, t[i].code);
		assert_string_equal(detail, t[i].detail);
	}
}

static void
test_error_report(void **state)
{
	static const struct {
		enum auth_method method;
		const char *client_id;
		long status;
		enum http_err err;
		const char *body;
		int rc;
		int cls;
		const char *msg;
	} t[] = {
		{ AUTH_MANAGED_IDENTITY, "1111-22", 403, HTTP_E_NONE,
		    XERR("AuthorizationPermissionMismatch", "This request is "
		    "not authorized to perform this operation using this "
		    "permission."), EXIT_AUTH, RETRY_NO,
		    "storage: listing release 1.2: the user-assigned managed "
		    "identity client_id=1111-22 lacks a Storage Blob Data "
		    "Reader role on account devstoreaccount1 (or container "
		    "releases); assign it — role assignments can take several "
		    "minutes to apply — then rerun" },
		{ AUTH_MANAGED_IDENTITY, NULL, 403, HTTP_E_NONE,
		    XERR("AuthorizationPermissionMismatch", "x"), EXIT_AUTH,
		    RETRY_NO, "the system-assigned managed identity lacks a "
		    "Storage Blob Data Reader role on account "
		    "devstoreaccount1" },
		{ AUTH_SAS, NULL, 403, HTTP_E_NONE,
		    XERR("AuthorizationPermissionMismatch", "x"), EXIT_AUTH,
		    RETRY_NO, "the SAS token lacks read and list permission on "
		    "container releases of account devstoreaccount1" },
		{ AUTH_MANAGED_IDENTITY, NULL, 403, HTTP_E_NONE,
		    XERR("AuthorizationFailure", "This request is not "
		    "authorized to perform this operation."), EXIT_AUTH,
		    RETRY_NO, "storage: listing release 1.2: the storage "
		    "account's network rules or firewall refuse this VM (403 "
		    "AuthorizationFailure: This request is not authorized to "
		    "perform this operation.); check the networking settings "
		    "of account devstoreaccount1 (allowed networks, IP ranges, "
		    "private endpoint)" },
		{ AUTH_NONE, NULL, 403, HTTP_E_NONE,
		    XERR("AuthorizationFailure", "x"), EXIT_AUTH, RETRY_NO,
		    "account devstoreaccount1 refused anonymous access (403 "
		    "AuthorizationFailure: x): container releases is not "
		    "public" },
		{ AUTH_MANAGED_IDENTITY, NULL, 403, HTTP_E_NONE,
		    "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed"
		    "</Code><Message>Server failed\nRequestId:1</Message>"
		    "<AuthenticationErrorDetail>Invalid token audience."
		    "</AuthenticationErrorDetail></Error>", EXIT_AUTH,
		    RETRY_AUTH, "storage: listing release 1.2: the token of "
		    "the system-assigned managed identity was refused even "
		    "after a refresh (403 AuthenticationFailed: Invalid token "
		    "audience.): the token is not valid for storage — check "
		    "its audience (resource https://storage.azure.com/), "
		    "issuer (tenant) and this VM's clock" },
		{ AUTH_MANAGED_IDENTITY, NULL, 401, HTTP_E_NONE,
		    XERR("InvalidAuthenticationInfo", "Server failed to "
		    "authenticate the request."), EXIT_AUTH, RETRY_AUTH,
		    "(401 InvalidAuthenticationInfo: Server failed to "
		    "authenticate the request.): the token is not valid for "
		    "storage" },
		{ AUTH_SAS, NULL, 403, HTTP_E_NONE,
		    XERR("AuthenticationFailed", "Signature did not match."),
		    EXIT_AUTH, RETRY_AUTH, "the SAS token was refused (403 "
		    "AuthenticationFailed: Signature did not match.)" },
		{ AUTH_MANAGED_IDENTITY, NULL, 403, HTTP_E_NONE,
		    XERR("AuthorizationSourceIPMismatch", "x"), EXIT_AUTH,
		    RETRY_NO, "access denied (403 "
		    "AuthorizationSourceIPMismatch: x) for the system-assigned "
		    "managed identity" },
		{ AUTH_MANAGED_IDENTITY, NULL, 404, HTTP_E_NONE,
		    XERR("ContainerNotFound", "The specified container does "
		    "not exist."), EXIT_NOTFOUND, RETRY_NO,
		    "storage: container releases does not exist in account "
		    "devstoreaccount1 (check [storage] container / "
		    "BLOB_CONTAINER_NAME)" },
		{ AUTH_MANAGED_IDENTITY, NULL, 404, HTTP_E_NONE,
		    XERR("BlobNotFound", "x"), EXIT_NOTFOUND, RETRY_NO,
		    "storage: listing release 1.2: blob not found in container "
		    "releases of account devstoreaccount1 (404 BlobNotFound)" },
		{ AUTH_MANAGED_IDENTITY, NULL, 404, HTTP_E_NONE,
		    XERR("ResourceNotFound", "x"), EXIT_NOTFOUND, RETRY_NO,
		    "not found (404 ResourceNotFound: x) at "
		    "https://127.0.0.1:10000/devstoreaccount1; check [storage] "
		    "account / endpoint" },
		{ AUTH_MANAGED_IDENTITY, NULL, 503, HTTP_E_NONE,
		    XERR("ServerBusy", "The server is busy."), EXIT_TEMPORARY,
		    RETRY_YES, "the storage service kept failing (last: 503 "
		    "ServerBusy: The server is busy.); rerun later" },
		{ AUTH_MANAGED_IDENTITY, NULL, 500, HTTP_E_NONE, NULL,
		    EXIT_TEMPORARY, RETRY_YES, "(last: 500); rerun later" },
		{ AUTH_MANAGED_IDENTITY, NULL, 429, HTTP_E_NONE, NULL,
		    EXIT_TEMPORARY, RETRY_YES, "(last: 429)" },
		{ AUTH_MANAGED_IDENTITY, NULL, 412, HTTP_E_NONE,
		    XERR("ConditionNotMet", "x"), EXIT_TEMPORARY, RETRY_NO,
		    "the blob changed while it was read" },
		{ AUTH_MANAGED_IDENTITY, NULL, 400, HTTP_E_NONE,
		    XERR("InvalidHeaderValue", "The value for one of the HTTP "
		    "headers is not in the correct format."), EXIT_FAILURE_,
		    RETRY_NO, "the storage service refused the request (400 "
		    "InvalidHeaderValue" },
		{ AUTH_MANAGED_IDENTITY, NULL, 0, HTTP_E_DNS, NULL,
		    EXIT_TEMPORARY, RETRY_YES, "storage: listing release 1.2: "
		    "cannot resolve host 127.0.0.1 (curl says); check "
		    "[storage] endpoint / account and this VM's DNS" },
		{ AUTH_MANAGED_IDENTITY, NULL, 0, HTTP_E_CONNECT, NULL,
		    EXIT_TEMPORARY, RETRY_YES, "cannot connect to 127.0.0.1 "
		    "(curl says); check [storage] endpoint" },
		{ AUTH_MANAGED_IDENTITY, NULL, 0, HTTP_E_TLS, NULL,
		    EXIT_TEMPORARY, RETRY_NO, "TLS verification of 127.0.0.1 "
		    "failed (curl says); check [storage] ca_file / the "
		    "endpoint's certificate" },
		{ AUTH_MANAGED_IDENTITY, NULL, 0, HTTP_E_RECV, NULL,
		    EXIT_TEMPORARY, RETRY_YES, "no usable answer from "
		    "127.0.0.1 (last: recv: curl says)" },
		{ AUTH_MANAGED_IDENTITY, NULL, 0, HTTP_E_TIMEOUT, NULL,
		    EXIT_TEMPORARY, RETRY_YES, "(last: timeout: curl says)" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct config *cfg = cfg_make(t[i].method, t[i].client_id);
		struct auth *a;
		struct blob_service *bs;
		struct http_response r;
		struct capture cap;
		int rc, ec;

		a = auth_new(cfg, NULL, &ec);
		assert_non_null(a);
		bs = blob_service_new(cfg, NULL, a);
		assert_non_null(bs);
		memset(&r, 0, sizeof(r));
		r.status = t[i].status;
		r.err = t[i].err;
		snprintf(r.errmsg, sizeof(r.errmsg), "curl says");
		r.body = (char *)t[i].body;
		r.body_len = t[i].body ? strlen(t[i].body) : 0;
		capture_begin(&cap);
		rc = blob_error_report(bs, &r, "listing release 1.2");
		capture_end(&cap);
		if (rc != t[i].rc)
			fail_msg("case %zu: exit %d, want %d", i, rc, t[i].rc);
		if (strstr(cap.text, t[i].msg) == NULL)
			fail_msg("case %zu: logged\n%s\nwant\n%s", i, cap.text,
			    t[i].msg);
		if (count_lines_with(cap.text, "error") != 1)
			fail_msg("case %zu: not one error line:\n%s", i,
			    cap.text);
		if (blob_classify(&r) != t[i].cls)
			fail_msg("case %zu: class %d, want %d", i,
			    blob_classify(&r), t[i].cls);
		blob_service_free(bs);
		auth_free(a);
		cfg_drop(cfg);
	}
}

static void
test_url_and_headers(void **state)
{
	struct config *cfg = cfg_make(AUTH_SAS, NULL);
	struct auth *a;
	struct blob_service *bs;
	const char *const extra[] = { "Range: bytes=0-0", NULL };
	const char *const *h;
	char *u;
	int ec = -1;

	(void)state;
	a = auth_new(cfg, NULL, &ec);
	assert_non_null(a);
	bs = blob_service_new(cfg, NULL, a);
	u = blob_url(bs, "1.2/dir with space/caf\xc3\xa9?#%.txt");
	assert_string_equal(u, "https://127.0.0.1:10000/devstoreaccount1/"
	    "releases/1.2/dir%20with%20space/caf%C3%A9%3F%23%25.txt"
	    "?sv=2021&sig=abc");
	free(u);
	h = blob_headers(bs, extra, &ec);
	assert_non_null(h);
	assert_int_equal(ec, EXIT_OK);
	assert_string_equal(h[0], "x-ms-version: " BLOB_API_VERSION);
	assert_true(strncmp(h[1], "x-ms-date: ", 11) == 0);
	assert_true(strlen(h[1]) == 11 + 29);
	assert_true(strncmp(h[2], "x-ms-client-request-id: ", 24) == 0);
	assert_int_equal(strlen(h[2]), 24 + 36);
	/* SAS: no Authorization header */
	assert_string_equal(h[3], "Range: bytes=0-0");
	assert_null(h[4]);
	blob_service_free(bs);
	auth_free(a);
	cfg_drop(cfg);

	cfg = cfg_make(AUTH_NONE, NULL);
	a = auth_new(cfg, NULL, &ec);
	bs = blob_service_new(cfg, NULL, a);
	u = blob_url(bs, "1.2/a");
	assert_string_equal(u, "https://127.0.0.1:10000/devstoreaccount1/"
	    "releases/1.2/a");
	free(u);
	h = blob_headers(bs, NULL, &ec);
	assert_non_null(h[2]);
	assert_null(h[3]);
	blob_service_free(bs);
	auth_free(a);
	cfg_drop(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_one_page),
		cmocka_unit_test(test_list_pages_append),
		cmocka_unit_test(test_list_empty),
		cmocka_unit_test(test_list_names),
		cmocka_unit_test(test_list_bad),
		cmocka_unit_test(test_list_bad_md5_ignored),
		cmocka_unit_test(test_error_parse),
		cmocka_unit_test(test_error_report),
		cmocka_unit_test(test_url_and_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
