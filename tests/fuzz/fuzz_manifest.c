/*
 * fuzz_manifest.c — a release MANIFEST (downloaded with the release) through
 * manifest_parse. What parses is sorted, without duplicates, every path
 * safe and found again by manifest_find.
 */
#include <string.h>

#include "digest.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m;
	char err[512];

	fuzz_log_sample();
	memset(&m, 0xa5, sizeof(m));
	if (manifest_parse((const char *)data, size, &m, err,
	    sizeof(err)) < 0) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(m.n == 0 && m.v == NULL);
		return 0;
	}
	for (size_t i = 0; i < m.n; i++) {
		const struct manifest_entry *e = &m.v[i];

		FUZZ_CHECK(e->path != NULL && e->seen == 0);
		if (i > 0)
			FUZZ_CHECK(strcmp(m.v[i - 1].path, e->path) < 0);
		/* the fetch writes these paths below its destination */
		FUZZ_CHECK(fuzz_rel_safe(e->path));
		FUZZ_CHECK(manifest_find(&m, e->path) == e);
	}
	manifest_free(&m);
	return 0;
}
