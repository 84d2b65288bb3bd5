/*
 * fuzz_log_redact.c — log_redact, which every log line passes through and
 * which sees server-provided text (error messages, headers, URLs). The
 * result fits its buffer; in text without a URL, no JWT-looking token and
 * no secret key ("Bearer ", "sig=", ...) is left unredacted.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "log.h"

#define MARK "[redacted]"

static const char *const keys[] = {
	"Bearer ", "sig=", "\"access_token\":\"", "\"access_token\": \"",
	"SharedKey ", "sas_token=",
};

static int
b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* A JWT as log.c sees one: "eyJ", base64url and dots, a dot, 16+ long. */
static int
jwt_at(const char *p)
{
	size_t n = 0;
	int dots = 0;

	if (strncmp(p, "eyJ", 3) != 0)
		return 0;
	for (; b64url(p[n]) || p[n] == '.'; n++)
		dots += p[n] == '.';
	return dots >= 1 && n >= 16;
}

static void
check_clean(const char *out)
{
	for (const char *p = out; *p; p++) {
		FUZZ_CHECK(!jwt_at(p));
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t kl = strlen(keys[k]);

			if (strncasecmp(p, keys[k], kl) != 0)
				continue;
			/* redacted, or cut off by the buffer's end */
			FUZZ_CHECK(strncmp(p + kl, MARK, strlen(p + kl)) == 0 ||
			    strncmp(p + kl, MARK, strlen(MARK)) == 0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 17, 256, 8192 };
	char *in = fuzz_strndup(data, size), *out;

	out = malloc(8192);
	if (out == NULL)
		abort();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(out, 'x', 8192);
		FUZZ_CHECK(log_redact(in, out, sizes[i]) == out);
		FUZZ_CHECK(memchr(out, '\0', sizes[i]) != NULL);
		if (strstr(in, "http://") == NULL &&
		    strstr(in, "https://") == NULL)
			check_clean(out);
	}
	free(out);
	free(in);
	return 0;
}
