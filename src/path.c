/* path.c — segments and normal forms of '/'-separated paths. */
#include <string.h>

#include "path.h"

const char *
path_segment_next(const char **p, size_t *len)
{
	const char *s = *p, *seg;

	for (;;) {
		while (*s == '/')
			s++;
		if (*s == '\0') {
			*p = s;
			return NULL;
		}
		seg = s;
		while (*s != '\0' && *s != '/')
			s++;
		if (s - seg == 1 && seg[0] == '.')
			continue;
		*p = s;
		*len = (size_t)(s - seg);
		return seg;
	}
}

int
path_segment_is_dotdot(const char *seg, size_t len)
{
	return len == 2 && seg[0] == '.' && seg[1] == '.';
}

int
path_norm(const char *in, char *out, size_t outsz)
{
	const char *p = in, *seg;
	size_t o = 0, len;

	if (outsz <= strlen(in))
		return -1;
	while ((seg = path_segment_next(&p, &len)) != NULL) {
		if (path_segment_is_dotdot(seg, len))
			return -1;
		if (o > 0 || in[0] == '/')
			out[o++] = '/';
		memcpy(out + o, seg, len);
		o += len;
	}
	if (in[0] == '/' && o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}
