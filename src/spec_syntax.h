/*
 * spec_syntax.h — value syntax checks for release.ini, and the string
 * lists its values become; shared by spec.c and spec_syntax.c only (the
 * spec's users read struct spec).
 */
#ifndef GREENLIGHT_SPEC_SYNTAX_H
#define GREENLIGHT_SPEC_SYNTAX_H

#include <stddef.h>

#define SPEC_PATH_MAX 1024

/*
 * Normalise path into out: "." and empty segments dropped, no trailing '/'.
 * absolute: must start with '/'; else must not, and "" is the release root.
 * ".." is refused either way. 0, or -1 with *why.
 */
int spec_path_norm(const char *in, int absolute, char *out, size_t outsz,
    const char **why);
/* Unit name stem: 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
int spec_name_valid(const char *s);
/* User or group: a name as above of at most 32, or a number. */
int spec_id_valid(const char *s);
/* 1 when s names root ("root" or 0). */
int spec_id_is_root(const char *s);
/* http:// or https:// with a host, no blanks or control characters. */
int spec_url_valid(const char *s);
/* HOST:PORT or [V6]:PORT, port 1-65535. */
int spec_hostport_valid(const char *s);
/* Environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
int spec_env_name_valid(const char *s);
/*
 * Append a copy of s to the NULL-terminated list *list of *n strings (free
 * with spec_argv_free). 0, or -1 out of memory.
 */
int spec_list_push(char ***list, size_t *n, const char *s);

#endif
