/*
 * unpack_stream.c — the extraction worker and the file it reads while the
 * download grows it: a mutex and a condition variable around how many
 * bytes from the start are on disk, a generation bumped by a restart, and
 * the public unpack_* entry points (unpack_file is a stream whose bytes are
 * all there).
 *
 * The worker unshares its file-system context (cwd, umask) from the rest of
 * the process, so it can chdir into its extraction directory without other
 * threads noticing (see unpack.c), and reads names in a UTF-8 locale of its
 * own.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "unpack.h"
#include "unpack_int.h"

#define RESTARTS_MAX 16
#define STALL_MS (15 * 60 * 1000) /* no new bytes for this long: give up */
#define WRITEBACK_MS 250	   /* write back what is extracted this often */

static const char *const status_names[UNPACK__MAX] = {
	"ok", "refused", "aborted", "local"
};


const char *
unpack_status_name(enum unpack_status st)
{
	return st < UNPACK__MAX ? status_names[st] : "?";
}

void
unpack_limits_default(struct unpack_limits *lim)
{
	lim->max_entries = UNPACK_MAX_ENTRIES;
	lim->max_size = UNPACK_MAX_SIZE;
	lim->max_ratio = UNPACK_MAX_RATIO;
	lim->max_path = UNPACK_MAX_PATH;
}

int
unpack_stream_wait(struct unpack_stream *s, unsigned gen, uint64_t want,
    char *why, size_t whysz)
{
	int64_t last = clock_mono_ms();
	uint64_t seen = 0;
	struct timespec ts;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->gen != gen) {
			rc = UNPACK_ATTEMPT_RESTART;
			break;
		}
		if (s->failed) {
			snprintf(why, whysz, "the download failed; "
			    "extraction stopped");
			rc = UNPACK_ABORTED;
			break;
		}
		if (s->avail >= want)
			break;
		if (s->finishing) {
			snprintf(why, whysz, "the download ended after %llu "
			    "of %llu bytes", (unsigned long long)s->avail,
			    (unsigned long long)s->size);
			rc = UNPACK_ABORTED;
			break;
		}
		if (s->avail != seen) {
			seen = s->avail;
			last = clock_mono_ms();
		} else if (clock_mono_ms() - last > STALL_MS) {
			snprintf(why, whysz, "no new bytes for %d minutes; "
			    "extraction stopped", STALL_MS / 60000);
			rc = UNPACK_ABORTED;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/*
 * Write-back while extracting: a thread that syncs the release's file
 * system every WRITEBACK_MS while an attempt runs. The kernel would hold
 * the extracted files in memory for up to 30 s and write them all when the
 * release is sealed (syncfs), after the download and extraction are done;
 * written back as they come, they overlap with the download instead and
 * the seal finds little left. Durability is still the seal's job; this
 * only moves the work earlier. (syncfs, not sync_file_range: libarchive
 * writes the files, we hold no descriptors to them.)
 */
struct writeback {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;
	int stop;
	int running;
};

static void *
writeback_main(void *arg)
{
	struct writeback *wb = arg;
	struct timespec ts;

	pthread_mutex_lock(&wb->mu);
	while (!wb->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)WRITEBACK_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&wb->cv, &wb->mu, &ts);
		if (wb->stop)
			break;
		pthread_mutex_unlock(&wb->mu);
		syncfs(wb->fd);
		pthread_mutex_lock(&wb->mu);
	}
	pthread_mutex_unlock(&wb->mu);
	return NULL;
}

/* Start write-back of dir's file system; without it all still works. */
static void
writeback_start(struct writeback *wb, const char *dir)
{
	pthread_condattr_t ca;

	memset(wb, 0, sizeof(*wb));
	wb->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wb->fd < 0)
		return;
	pthread_mutex_init(&wb->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wb->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&wb->thread, NULL, writeback_main, wb) == 0) {
		wb->running = 1;
		return;
	}
	pthread_cond_destroy(&wb->cv);
	pthread_mutex_destroy(&wb->mu);
	close(wb->fd);
	wb->fd = -1;
}

static void
writeback_stop(struct writeback *wb)
{
	if (wb->running) {
		pthread_mutex_lock(&wb->mu);
		wb->stop = 1;
		pthread_cond_signal(&wb->cv);
		pthread_mutex_unlock(&wb->mu);
		pthread_join(wb->thread, NULL);
		pthread_cond_destroy(&wb->cv);
		pthread_mutex_destroy(&wb->mu);
	}
	if (wb->fd >= 0)
		close(wb->fd);
	memset(wb, 0, sizeof(*wb));
	wb->fd = -1;
}

/* Remove the attempt's directory, if any. */
static void
tmp_discard(struct unpack_stream *s)
{
	if (s->tmp[0] != '\0') {
		fs_rm_rf(s->tmp);
		s->tmp[0] = '\0';
	}
}

static void *
worker(void *arg)
{
	struct unpack_stream *s = arg;
	locale_t loc;
	unsigned gen;
	int st;

	/* a private cwd and umask for this thread only */
	if (unshare(CLONE_FS) < 0) {
		pthread_mutex_lock(&s->mu);
		s->status = UNPACK_LOCAL;
		s->attempt_failed = 1;
		snprintf(s->msg, sizeof(s->msg), "%s: cannot give the "
		    "extraction its own working directory (unshare: %s)",
		    s->name, strerror(errno));
		pthread_mutex_unlock(&s->mu);
		return NULL;
	}
	umask(022);
	/* UTF-8 names in pax headers and zips convert instead of warning */
	loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (loc != (locale_t)0)
		uselocale(loc);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct writeback wb;

		gen = s->gen;
		pthread_mutex_unlock(&s->mu);
		writeback_start(&wb, s->root);
		st = unpack_attempt_run(s, gen);
		writeback_stop(&wb);
		pthread_mutex_lock(&s->mu);
		if (st != UNPACK_ATTEMPT_RESTART) {
			s->status = st;
			s->attempt_failed = st != UNPACK_OK;
			/* done with these bytes: wait for the end or a
			 * restart (a digest mismatch restarts late) */
			while (s->gen == gen && !s->failed && !s->finishing)
				pthread_cond_wait(&s->cv, &s->mu);
			if (s->gen == gen || s->failed)
				break;
		}
		pthread_mutex_unlock(&s->mu);
		tmp_discard(s);
		pthread_mutex_lock(&s->mu);
		if (++s->restarts > RESTARTS_MAX) {
			s->status = UNPACK_ABORTED;
			snprintf(s->msg, sizeof(s->msg), "%s: the download "
			    "restarted more than %d times; extraction "
			    "stopped", s->name, RESTARTS_MAX);
			break;
		}
		s->attempt_failed = 0;
		s->msg[0] = '\0';
	}
	if (s->failed && s->status == UNPACK_OK) {
		s->status = UNPACK_ABORTED;
		snprintf(s->msg, sizeof(s->msg), "%s: the download failed; "
		    "extraction discarded", s->name);
	}
	pthread_mutex_unlock(&s->mu);
	uselocale(LC_GLOBAL_LOCALE);
	if (loc != (locale_t)0)
		freelocale(loc);
	return NULL;
}

/* p made absolute against the cwd (the worker leaves it); malloc'd. */
static char *
abs_path(const char *p)
{
	char cwd[4096], *out;

	if (p[0] == '/')
		return strdup(p);
	if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    asprintf(&out, "%s/%s", cwd, p) < 0)
		return NULL;
	return out;
}

static void
stream_free(struct unpack_stream *s)
{
	if (s == NULL)
		return;
	tree_index_free(&s->index);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->path);
	free(s->name);
	free(s->root);
	free(s->dest);
	free(s);
}

struct unpack_stream *
unpack_stream_start(const char *path, uint64_t size, const char *name,
    const char *root, const char *dest, const struct unpack_limits *lim)
{
	struct unpack_stream *s = NULL;
	pthread_condattr_t ca;
	char norm[4096], why[512];
	struct stat st;

	if (tree_path_norm(dest ? dest : "", 4095, norm, sizeof(norm), why,
	    sizeof(why)) < 0) {
		log_error("%s: destination \"%s\": %s", name ? name : path,
		    dest, why);
		return NULL;
	}
	errno = 0;
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("%s: cannot extract into %s: %s", name ? name : path,
		    root, errno ? strerror(errno) : "not a directory");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->path = abs_path(path);
	s->name = strdup(name ? name : path);
	s->root = abs_path(root);
	s->dest = strdup(norm);
	s->size = size;
	if (lim != NULL)
		s->lim = *lim;
	else
		unpack_limits_default(&s->lim);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (s->path == NULL || s->name == NULL || s->root == NULL ||
	    s->dest == NULL || s->lim.max_ratio == 0) {
		stream_free(s);
		return NULL;
	}
	s->ms = clock_mono_ms();
	if (pthread_create(&s->thread, NULL, worker, s) != 0) {
		log_error("%s: cannot start the extraction thread", s->name);
		stream_free(s);
		return NULL;
	}
	return s;
}

int
unpack_stream_advance(struct unpack_stream *s, uint64_t contiguous)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	if (contiguous > s->avail)
		s->avail = contiguous > s->size ? s->size : contiguous;
	rc = s->attempt_failed ? -1 : 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void
unpack_stream_restart(struct unpack_stream *s)
{
	pthread_mutex_lock(&s->mu);
	s->gen++;
	s->avail = 0;
	s->attempt_failed = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void
unpack_stream_fail(struct unpack_stream *s)
{
	pthread_mutex_lock(&s->mu);
	s->failed = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

enum unpack_status
unpack_stream_finish(struct unpack_stream *s, int commit)
{
	enum unpack_status st;
	char why[640];

	pthread_mutex_lock(&s->mu);
	if (!commit)
		s->failed = 1;
	s->finishing = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	st = s->status;
	if (st == UNPACK_OK && commit) {
		st = tree_commit(s->root, s->tmp, s->dest, &s->index,
		    why, sizeof(why));
		if (st != UNPACK_OK)
			snprintf(s->msg, sizeof(s->msg), "%.300s: %s",
			    s->name, why);
		else
			s->tmp[0] = '\0';
	}
	if (st == UNPACK_OK && commit)
		log_debug("%s: %llu entries, %llu bytes unpacked into %s%s%s "
		    "in %lld ms", s->name, (unsigned long long)s->entries,
		    (unsigned long long)s->bytes, s->root, *s->dest ? "/" : "",
		    s->dest, (long long)(clock_mono_ms() - s->ms));
	else if (st == UNPACK_ABORTED || !commit)
		log_debug("%s", s->msg[0] ? s->msg : "extraction discarded");
	else
		log_error("%s", s->msg);
	if (!commit && st == UNPACK_OK)
		st = UNPACK_ABORTED;
	tmp_discard(s);
	stream_free(s);
	return st;
}

enum unpack_status
unpack_file(const char *path, const char *name, const char *root,
    const char *dest, const struct unpack_limits *lim)
{
	struct unpack_stream *s;
	struct stat st;

	errno = 0;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("%s: cannot extract: %s", name ? name : path,
		    errno ? strerror(errno) : "not a regular file");
		return UNPACK_LOCAL;
	}
	s = unpack_stream_start(path, (uint64_t)st.st_size, name, root, dest,
	    lim);
	if (s == NULL)
		return UNPACK_LOCAL;
	unpack_stream_advance(s, (uint64_t)st.st_size);
	return unpack_stream_finish(s, 1);
}
