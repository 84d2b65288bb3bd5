/*
 * fuzz_journal.c — the fetch journal (staging/journal, which a crash may
 * leave torn or damaged) through fetch_journal_parse.
 *
 * Each line carries a checksum of itself, so random bytes rarely get past
 * it. When the input's first byte is odd, every line after that byte is
 * sealed afresh (its old " ~<sum>" dropped, a correct one appended) so the
 * fields behind the checksum get fuzzed too; an even first byte feeds the
 * rest as it is, testing the checksum itself.
 */
#include <inttypes.h>
#include <string.h>

#include "fetch_plan.h"
#include "fuzz.h"

#define KEY "https://acct.blob.core.windows.net releases 1.2"

/* text[0..len) with every line re-sealed; caller frees. */
static char *
reseal(const uint8_t *text, size_t len, size_t *outlen)
{
	size_t lines = 1, o = 0, pos = 0;
	char *out;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	out = malloc(len + lines * 20 + 1);
	if (out == NULL)
		abort();
	while (pos < len) {
		const uint8_t *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		size_t keep = ll;

		/* drop an old seal: the last " ~" and what follows it */
		for (size_t i = ll; i >= 2; i--)
			if (text[pos + i - 2] == ' ' && text[pos + i - 1] == '~') {
				keep = i - 2;
				break;
			}
		memcpy(out + o, text + pos, keep);
		o += (size_t)snprintf(out + o, 21, " ~%016" PRIx64,
		    fetch_sum_of(text + pos, keep));
		if (nl != NULL)
			out[o++] = '\n';	/* a torn last line stays torn */
		pos += ll + (nl != NULL);
	}
	*outlen = o;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fetch_journal j;
	char *text = NULL;
	size_t len;

	fuzz_log_sample();
	if (size == 0 || size > 1024 * 1024)
		return 0;
	if (data[0] & 1) {
		text = reseal(data + 1, size - 1, &len);
	} else {
		text = fuzz_strndup(data + 1, size - 1);
		len = size - 1;
	}
	FUZZ_CHECK(fetch_journal_parse(text, len, KEY, &j) == 0);
	if (j.key_mismatch)
		FUZZ_CHECK(j.n == 0);
	for (size_t i = 0; i < j.n; i++) {
		const struct fetch_jblob *b = &j.v[i];

		FUZZ_CHECK(b->name != NULL && b->name[0] != '\0');
		FUZZ_CHECK(b->chunk > 0 && b->id > 0 && b->id <= j.max_id);
		FUZZ_CHECK(b->nranges == fetch_range_count(b->size, b->chunk));
		FUZZ_CHECK(b->done != NULL && b->sums != NULL);
		FUZZ_CHECK(memchr(b->etag, '\0', sizeof(b->etag)) != NULL);
		if (i > 0)
			FUZZ_CHECK(strcmp(j.v[i - 1].name, b->name) < 0);
		FUZZ_CHECK(fetch_journal_find(&j, b->name) == b);
		for (uint32_t r = 0; r < b->nranges && r < 4096; r++)
			FUZZ_CHECK(b->done[r] <= 1);
	}
	fetch_journal_free(&j);
	free(text);
	return 0;
}
