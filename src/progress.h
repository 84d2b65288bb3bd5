/*
 * progress.h — progress of long work: a bar on a TTY (bytes, rate, ETA,
 * files), otherwise one log line every few seconds.
 */
#ifndef GREENLIGHT_PROGRESS_H
#define GREENLIGHT_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#define PROGRESS_LINE_EVERY_MS 5000

struct progress;

/*
 * Start showing progress of what ("fetch 1.2") towards total_bytes and
 * total_files. mode: -1 a bar when stderr is a TTY, else log lines; 0 log
 * lines; 1 a bar. NULL on allocation failure (progress is then not shown).
 */
struct progress *progress_new(int mode, const char *what,
    int64_t total_bytes, int64_t total_files);
/* The totals so far; redraws when due, cheap to call often. */
void progress_update(struct progress *p, int64_t bytes, int64_t files);
/* Bytes and files present before the work started (not in the rate). */
void progress_base(struct progress *p, int64_t bytes, int64_t files);
/* Erase the bar, so a log message starts on a clean line. NULL is fine. */
void progress_clear(struct progress *p);
/* Erase the bar and free. NULL is fine. */
void progress_free(struct progress *p);

/* "512 B", "1.5 KiB", "256.0 MiB", "3.20 GiB". */
void progress_fmt_bytes(int64_t n, char *out, size_t outsz);
/* Bytes per second as "312.5 MiB/s". */
void progress_fmt_rate(double bps, char *out, size_t outsz);
/* "0:42", "12:03", "1:02:03"; "--:--" when secs < 0 (unknown). */
void progress_fmt_eta(int64_t secs, char *out, size_t outsz);
/*
 * One status text: "45% 115.2 MiB of 256.0 MiB, 12.5 MiB/s, ETA 0:11,
 * 3 of 200 files" (total_bytes 0 counts as 100%).
 */
void progress_fmt_status(int64_t bytes, int64_t total_bytes, int64_t files,
    int64_t total_files, double bps, char *out, size_t outsz);

#endif
