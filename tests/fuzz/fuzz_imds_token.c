/*
 * fuzz_imds_token.c — an IMDS token response body through imds_token_parse.
 * A token that parses has an access token and a resource or none; one
 * that does not says why; imds_token_clear frees either.
 */
#include <string.h>

#include "fuzz.h"
#include "imds.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imds_token tok;
	char err[256];

	fuzz_log_sample();
	memset(&tok, 0xa5, sizeof(tok));
	if (imds_token_parse((const char *)data, size, &tok, err,
	    sizeof(err)) == 0) {
		FUZZ_CHECK(tok.access_token != NULL);
		FUZZ_CHECK(tok.access_token[0] != '\0');
		/* it goes into an Authorization header as it is */
		FUZZ_CHECK(strpbrk(tok.access_token, " \r\n\t") == NULL);
		/* times the token cache can do arithmetic on (ms, now + n) */
		FUZZ_CHECK(tok.expires_on >= 0 && tok.expires_on < (1LL << 40));
		FUZZ_CHECK(tok.not_before >= 0 && tok.not_before < (1LL << 40));
	} else {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	}
	imds_token_clear(&tok);
	return 0;
}
