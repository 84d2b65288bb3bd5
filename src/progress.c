/* progress.c — a bar on a TTY, a log line every few seconds otherwise. */
#include <sys/ioctl.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "progress.h"

#define BAR_EVERY_MS 200
#define SAMPLES 16	     /* rate over the last few seconds */
#define SAMPLE_EVERY_MS 500
#define STATUS_ROOM 72	     /* columns kept for the status text */
#define BAR_CELLS_MAX 30

struct progress {
	int bar;
	char what[128];
	int64_t total_bytes, total_files;
	int64_t bytes, files;
	int64_t base_bytes;
	int64_t start_ms, last_draw_ms;
	int shown; /* the bar is on screen */
	struct {
		int64_t ms, bytes;
	} s[SAMPLES];
	int ns, head;
};

struct progress *
progress_new(int mode, const char *what, int64_t total_bytes,
    int64_t total_files)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->bar = mode < 0 ? isatty(STDERR_FILENO) : mode > 0;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->total_bytes = total_bytes;
	p->total_files = total_files;
	p->start_ms = clock_mono_ms();
	p->last_draw_ms = p->start_ms;
	return p;
}

void
progress_base(struct progress *p, int64_t bytes, int64_t files)
{
	if (p == NULL)
		return;
	p->base_bytes = bytes;
	p->bytes = bytes;
	p->files = files;
}

void
progress_fmt_bytes(int64_t n, char *out, size_t outsz)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(out, outsz, "%" PRId64 " B", n);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, outsz, v < 10 && u >= 2 ? "%.2f %s" : "%.1f %s", v,
	    unit[u]);
}

void
progress_fmt_rate(double bps, char *out, size_t outsz)
{
	size_t n;

	progress_fmt_bytes(bps < 0 ? 0 : (int64_t)bps, out, outsz);
	n = strlen(out);
	if (n + 3 <= outsz)
		memcpy(out + n, "/s", 3);
}

void
progress_fmt_eta(int64_t secs, char *out, size_t outsz)
{
	if (secs < 0 || secs > 99 * 3600)
		snprintf(out, outsz, "--:--");
	else if (secs >= 3600)
		snprintf(out, outsz, "%d:%02d:%02d", (int)(secs / 3600),
		    (int)(secs / 60 % 60), (int)(secs % 60));
	else
		snprintf(out, outsz, "%d:%02d", (int)(secs / 60),
		    (int)(secs % 60));
}

static int
percent(int64_t bytes, int64_t total)
{
	if (total <= 0 || bytes >= total)
		return 100;
	return (int)(bytes * 100 / total);
}

void
progress_fmt_status(int64_t bytes, int64_t total_bytes, int64_t files,
    int64_t total_files, double bps, char *out, size_t outsz)
{
	char done[32], total[32], rate[32], eta[16];
	int64_t secs = -1;

	progress_fmt_bytes(bytes, done, sizeof(done));
	progress_fmt_bytes(total_bytes, total, sizeof(total));
	progress_fmt_rate(bps, rate, sizeof(rate));
	if (bytes >= total_bytes)
		secs = 0;
	else if (bps >= 1)
		secs = (int64_t)((double)(total_bytes - bytes) / bps + 0.999);
	progress_fmt_eta(secs, eta, sizeof(eta));
	snprintf(out, outsz, "%d%% %s of %s, %s, ETA %s, %" PRId64 " of %"
	    PRId64 " files", percent(bytes, total_bytes), done, total, rate,
	    eta, files, total_files);
}

/* Bytes per second over the recent samples (or since the start). */
static double
rate_now(struct progress *p, int64_t now)
{
	int64_t ms = now - p->start_ms, b = p->bytes - p->base_bytes;

	if (p->ns > 0) {
		int oldest = (p->head - p->ns + SAMPLES) % SAMPLES;

		if (now - p->s[oldest].ms >= 1000) {
			ms = now - p->s[oldest].ms;
			b = p->bytes - p->s[oldest].bytes;
		}
	}
	return ms > 0 ? (double)b * 1000.0 / (double)ms : 0;
}

static void
sample(struct progress *p, int64_t now)
{
	int last = (p->head - 1 + SAMPLES) % SAMPLES;

	if (p->ns > 0 && now - p->s[last].ms < SAMPLE_EVERY_MS)
		return;
	p->s[p->head].ms = now;
	p->s[p->head].bytes = p->bytes;
	p->head = (p->head + 1) % SAMPLES;
	if (p->ns < SAMPLES)
		p->ns++;
}

static int
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col > 200 ? 200 : ws.ws_col;
	return 80;
}

static void
draw_bar(struct progress *p, int64_t now)
{
	char status[256], bar[64];
	int width = term_width(), cells, fill, pct;
	size_t slen;

	progress_fmt_status(p->bytes, p->total_bytes, p->files,
	    p->total_files, rate_now(p, now), status, sizeof(status));
	slen = strlen(status);
	/* "[####....] " before the status when there is room; a steady
	 * width, not one that follows the status text */
	cells = width - 1 - STATUS_ROOM - 3;
	if (cells > BAR_CELLS_MAX)
		cells = BAR_CELLS_MAX;
	if (cells >= 10 && (int)slen + cells + 3 > width - 1)
		cells = 0;
	if (cells >= 10) {
		pct = percent(p->bytes, p->total_bytes);
		fill = cells * pct / 100;
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(cells - fill));
		bar[cells] = '\0';
		fprintf(stderr, "\r[%s] %s\033[K", bar, status);
	} else {
		if ((int)slen > width - 1)
			status[width - 1] = '\0';
		fprintf(stderr, "\r%s\033[K", status);
	}
	fflush(stderr);
	p->shown = 1;
}

void
progress_update(struct progress *p, int64_t bytes, int64_t files)
{
	int64_t now;

	if (p == NULL)
		return;
	p->bytes = bytes;
	p->files = files;
	now = clock_mono_ms();
	sample(p, now);
	if (p->bar) {
		if (now - p->last_draw_ms >= BAR_EVERY_MS) {
			p->last_draw_ms = now;
			draw_bar(p, now);
		}
		return;
	}
	if (now - p->last_draw_ms >= PROGRESS_LINE_EVERY_MS) {
		char status[256];

		p->last_draw_ms = now;
		progress_fmt_status(p->bytes, p->total_bytes, p->files,
		    p->total_files, rate_now(p, now), status, sizeof(status));
		log_info("%s: %s", p->what, status);
	}
}

void
progress_clear(struct progress *p)
{
	if (p == NULL || !p->shown)
		return;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	p->shown = 0;
	/* redraw soon after the message */
	p->last_draw_ms = 0;
}

void
progress_free(struct progress *p)
{
	progress_clear(p);
	free(p);
}
