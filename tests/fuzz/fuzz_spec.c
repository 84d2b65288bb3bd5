/*
 * fuzz_spec.c — release.ini (it arrives with the release from storage)
 * through spec_load, from a file in a scratch directory (spec_load reads a
 * path; there is no in-memory API). A spec that loads without problems has
 * the required keys and commands that are ready to execve().
 */
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "spec.h"
#include "spec_syntax.h"

static void
check_command(const struct spec_command *c)
{
	if (c->line == NULL) {
		FUZZ_CHECK(c->argv == NULL);
		return;
	}
	FUZZ_CHECK(c->argv != NULL && c->argv[0] != NULL);
	if (c->shell)
		FUZZ_CHECK(strcmp(c->argv[0], "/bin/sh") == 0);
}

/* What a spec that loaded without problems promises its users. */
static void
check_spec(const struct spec *s)
{
	FUZZ_CHECK(s->user != NULL && s->environment != NULL &&
	    s->writable_paths != NULL);
	FUZZ_CHECK(s->name != NULL && spec_name_valid(s->name));
	FUZZ_CHECK(s->exec.argv != NULL);
	check_command(&s->exec);
	for (int h = 0; h < SPEC_HOOK__MAX; h++)
		check_command(&s->hooks[h]);
	/* root only when asked for in so many words */
	if (!s->allow_root) {
		FUZZ_CHECK(!spec_id_is_root(s->user));
		FUZZ_CHECK(s->group == NULL || !spec_id_is_root(s->group));
	}
	for (char **e = s->environment; *e != NULL; e++)
		FUZZ_CHECK(strchr(*e, '=') != NULL && strchr(*e, '\n') == NULL);
	for (char **w = s->writable_paths; *w != NULL; w++)
		FUZZ_CHECK((*w)[0] == '/');
	FUZZ_CHECK(s->narchives >= 0);
	for (int i = 0; i < s->narchives; i++) {
		FUZZ_CHECK(fuzz_rel_safe(s->archives[i].path));
		FUZZ_CHECK(s->archives[i].dest[0] == '\0' ||
		    fuzz_rel_safe(s->archives[i].dest));
	}
	FUZZ_CHECK(s->check_url == NULL || spec_url_valid(s->check_url));
	FUZZ_CHECK(s->check_tcp == NULL ||
	    spec_hostport_valid(s->check_tcp));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spec *s;
	const char *path;
	int problems = -1;

	fuzz_log_sample();
	if (size > 256 * 1024)
		return 0;
	path = fuzz_write_file(SPEC_FILE, data, size);
	s = spec_load(path, &problems);
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(problems >= 0);
	if (problems == 0)
		check_spec(s);
	spec_free(s);
	return 0;
}
