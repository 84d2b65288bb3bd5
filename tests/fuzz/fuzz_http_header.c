/*
 * fuzz_http_header.c — a response header block (what a server or a proxy
 * sends) through http_response_header and http_response_retry_after_ms.
 * A value comes back NUL-terminated within its buffer, without the line
 * end; Retry-After is -1 or a wait in [0, 1 h].
 */
#include <string.h>

#include "fuzz.h"
#include "http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"Retry-After", "x-ms-error-code", "ETag", "Content-Length",
		"Content-Range", "x-ms-request-id", "Content-MD5", "",
	};
	static const size_t outsz[] = { 1, 2, 16, 128, 4096 };
	struct http_response resp;
	char out[4096];
	int64_t ms;

	fuzz_log_sample();
	memset(&resp, 0, sizeof(resp));
	resp.status = 503;
	resp.headers = fuzz_strndup(data, size);
	resp.headers_len = size;
	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		for (size_t o = 0; o < sizeof(outsz) / sizeof(outsz[0]); o++) {
			char *v;

			v = http_response_header(&resp, names[n], out,
			    outsz[o]);
			if (v == NULL)
				continue;
			FUZZ_CHECK(v == out);
			FUZZ_CHECK(memchr(out, '\0', outsz[o]) != NULL);
			FUZZ_CHECK(strchr(out, '\n') == NULL);
		}
	}
	ms = http_response_retry_after_ms(&resp);
	FUZZ_CHECK(ms == -1 || (ms >= 0 && ms <= 3600 * 1000));
	http_response_clear(&resp);
	return 0;
}
