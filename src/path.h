/* path.h — '/'-separated path strings, read without touching the disk. */
#ifndef GREENLIGHT_PATH_H
#define GREENLIGHT_PATH_H

#include <stddef.h>

/*
 * The next segment of the path at *p, empty and "." segments skipped: its
 * start, with *len set and *p moved past it; NULL at the end.
 */
const char *path_segment_next(const char **p, size_t *len);
/* 1 when the segment (seg, len) is "..". */
int path_segment_is_dotdot(const char *seg, size_t len);
/*
 * Normalise in into out (outsz > strlen(in)): empty and "." segments
 * dropped, no trailing '/', a leading '/' kept ("/" for the root, "" for a
 * relative path with no segment). -1 when a segment is ".." (or out is
 * too small).
 */
int path_norm(const char *in, char *out, size_t outsz);

#endif
