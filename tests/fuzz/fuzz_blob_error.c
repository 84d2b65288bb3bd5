/*
 * fuzz_blob_error.c — a storage error response through blob_error_parse and
 * blob_classify. The input is a header block, a blank line ("\r\n\r\n"), then
 * the XML body; without a blank line it is all body. Output buffers of
 * several sizes must come back NUL-terminated and printable.
 */
#include <ctype.h>
#include <string.h>

#include "blob.h"
#include "fuzz.h"
#include "http.h"

static void
check_text(const char *s, size_t sz)
{
	if (sz == 0)
		return;
	FUZZ_CHECK(memchr(s, '\0', sz) != NULL);
	for (; *s; s++)
		FUZZ_CHECK(isprint((unsigned char)*s));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[][2] = {
		{ 128, 256 }, { 16, 8 }, { 1, 1 }, { 0, 0 },
	};
	struct http_response resp;
	const uint8_t *sep = NULL;
	char code[128], detail[256];

	fuzz_log_sample();
	for (size_t i = 0; i + 4 <= size; i++)
		if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
			sep = data + i;
			break;
		}
	memset(&resp, 0, sizeof(resp));
	resp.status = 403;
	if (sep != NULL) {
		resp.headers_len = (size_t)(sep - data) + 2;
		resp.headers = fuzz_strndup(data, resp.headers_len);
		data = sep + 4;
		size -= resp.headers_len + 2;
	}
	resp.body = fuzz_strndup(data, size);
	resp.body_len = size;
	resp.bytes = (int64_t)size;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int rc;

		memset(code, 'x', sizeof(code));
		memset(detail, 'x', sizeof(detail));
		rc = blob_error_parse(&resp, code, sizes[i][0], detail,
		    sizes[i][1]);
		check_text(code, sizes[i][0]);
		check_text(detail, sizes[i][1]);
		FUZZ_CHECK(rc == 0 ? sizes[i][0] > 0 && code[0] != '\0' :
		    rc == -1);
	}
	for (long st = 400; st <= 503; st += 103) {
		resp.status = st;
		(void)blob_classify(&resp);
	}
	http_response_clear(&resp);
	return 0;
}
