/*
 * fuzz_blob_list.c — one List Blobs page (storage's XML, hostile until
 * checked) through blob_list_parse, twice into the same list as the paging
 * loop does. Every entry kept must be a safe relative name under the prefix.
 */
#include <string.h>

#include "blob.h"
#include "fuzz.h"

#define PREFIX "1.2/"

static void
check_entry(const struct blob_entry *e)
{
	FUZZ_CHECK(e->name != NULL);
	FUZZ_CHECK(strncmp(e->name, PREFIX, strlen(PREFIX)) == 0);
	FUZZ_CHECK(e->rel == e->name + strlen(PREFIX));
	FUZZ_CHECK(memchr(e->etag, '\0', sizeof(e->etag)) != NULL);
	FUZZ_CHECK(memchr(e->md5, '\0', sizeof(e->md5)) != NULL);
	/* a name the fetch can write below its destination */
	FUZZ_CHECK(fuzz_rel_safe(e->rel));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blob_list l = { NULL, 0 };
	char *next = NULL, err[256];
	size_t n0;

	fuzz_log_sample();
	for (int pass = 0; pass < 2; pass++) {
		n0 = l.n;
		if (blob_list_parse((const char *)data, size, PREFIX, &l, &next,
		    err, sizeof(err)) < 0) {
			FUZZ_CHECK(err[0] != '\0');
			FUZZ_CHECK(next == NULL);
			FUZZ_CHECK(l.n == n0);	/* a bad page adds nothing */
		} else if (next != NULL) {
			FUZZ_CHECK(next[0] != '\0');
		}
		free(next);
		next = NULL;
	}
	for (size_t i = 0; i < l.n; i++)
		check_entry(&l.v[i]);
	blob_list_free(&l);
	return 0;
}
