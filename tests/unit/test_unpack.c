/*
 * test_unpack.c — release archives: every format round-trips; every kind of
 * hostile archive is refused with the entry named and nothing left behind;
 * modes and owners are never taken from the archive; the streaming reader
 * extracts while another thread writes, restarts and fails cleanly.
 * Archives are built here with libarchive's writer (no binary fixtures).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "agent.h"
#include "fsutil.h"
#include "log.h"
#include "unpack.h"
#include "testutil.h"

enum fmt { TAR, TGZ, TXZ, TZST, ZIP };
static const char *const fmt_names[] = {
	"tar", "tar.gz", "tar.xz", "tar.zst", "zip"
};

#define HARD 1	/* type: a hardlink to .data */
#define SPARSE 2 /* type: .zeros bytes, all a hole but 10 bytes of .data */

struct ent {
	const char *path;
	int type;	  /* AE_IFREG, AE_IFDIR, AE_IFLNK, ..., or HARD */
	int mode;	  /* permission bits, 0 = 0644/0755 */
	const char *data; /* contents, or link target */
	uint64_t zeros;	  /* AE_IFREG: this many zero bytes instead */
};

static char top[200]; /* per-run temporary directory */

static void
write_zeros(struct archive *a, uint64_t n)
{
	static char zero[65536];

	while (n > 0) {
		size_t k = n > sizeof(zero) ? sizeof(zero) : (size_t)n;

		assert_int_equal(archive_write_data(a, zero, k), (ssize_t)k);
		n -= k;
	}
}

/* Build an archive of ents (up to path NULL) at file. */
static void
build(const char *file, enum fmt f, const struct ent *ents)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;
	/* UTF-8 names; unpack's worker sets its own locale */
	locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t old;

	assert_non_null(a);
	assert_non_null(loc);
	old = uselocale(loc);
	if (f == ZIP)
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	else
		assert_int_equal(archive_write_set_format_pax_restricted(a),
		    ARCHIVE_OK);
	if (f == TGZ)
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	if (f == TXZ)
		assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
	if (f == TZST)
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
	for (const struct ent *x = ents; x->path != NULL; x++) {
		size_t len = x->data ? strlen(x->data) : 0;

		e = archive_entry_new();
		archive_entry_copy_pathname(e, x->path);
		archive_entry_set_mtime(e, 1700000000, 0);
		archive_entry_set_uid(e, 4321);
		archive_entry_set_gid(e, 8765);
		archive_entry_copy_uname(e, "mallory");
		archive_entry_copy_gname(e, "mallory");
		if (x->type == SPARSE) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)x->zeros);
			archive_entry_sparse_add_entry(e, 0, 10);
		} else if (x->type == HARD) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_copy_hardlink(e, x->data);
			archive_entry_set_size(e, 0);
		} else {
			archive_entry_set_filetype(e, (unsigned)x->type);
			archive_entry_set_perm(e, x->mode ? (unsigned)x->mode :
			    x->type == AE_IFDIR ? 0755 : 0644);
			if (x->type == AE_IFLNK)
				archive_entry_copy_symlink(e, x->data);
			if (x->type == AE_IFCHR)
				archive_entry_set_rdev(e, 0x0103);
			archive_entry_set_size(e, x->type != AE_IFREG ? 0 :
			    x->zeros ? (la_int64_t)x->zeros : (la_int64_t)len);
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (x->type == SPARSE)
			assert_int_equal(archive_write_data(a, x->data, 10),
			    10);
		else if (x->type == AE_IFREG && x->zeros)
			write_zeros(a, x->zeros);
		else if (x->type == AE_IFREG && len > 0)
			assert_int_equal(archive_write_data(a, x->data, len),
			    (ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	uselocale(old);
	freelocale(loc);
}

/* Build a tar of ents as top/name and unpack it into root/dest. */
static enum unpack_status
tar_unpack(const char *name, const struct ent *ents, const char *root,
    const char *dest)
{
	char file[1024];

	snprintf(file, sizeof(file), "%s/%s", top, name);
	build(file, TAR, ents);
	return unpack_file(file, name, root, dest, NULL);
}

/* A fresh release root holding keep.txt, as if other files were there. */
static void
root_make(char *root, size_t rootsz, const char *name)
{
	char p[512];

	snprintf(root, rootsz, "%s/%s", top, name);
	fs_rm_rf(root);
	assert_int_equal(mkdir(root, 0755), 0);
	file_put(root, "keep.txt", "kept\n", p, sizeof(p));
}

/* Names in dir, sorted, joined by ' '. */
static void
listing(const char *dir, char *out, size_t outsz)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	size_t o = 0;

	out[0] = '\0';
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' || strlen(names[i]->d_name) > 2)
			o += (size_t)snprintf(out + o, outsz - o, "%s%s",
			    o ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

static void
assert_file(const char *root, const char *rel, const char *want, int mode)
{
	char p[1024], *got;
	struct stat st;
	size_t len;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	if ((int)(st.st_mode & 07777) != mode)
		fail_msg("%s: mode %o, want %o", rel, st.st_mode & 07777,
		    mode);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_gid, getegid());
	got = fs_read_file(p, 1 << 20, &len, 0);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static const struct ent good[] = {
	{ "./", AE_IFDIR, 0, NULL, 0 },
	{ "./bin/", AE_IFDIR, 0, NULL, 0 },
	{ "./bin/app", AE_IFREG, 0750, "#!/bin/sh\necho app\n", 0 },
	{ "README", AE_IFREG, 0600, "read me\n", 0 },
	{ "docs//guide/a.txt", AE_IFREG, 0, "guide\n", 0 },
	{ "latest", AE_IFLNK, 0, "bin/app", 0 },
	{ "docs/guide/up", AE_IFLNK, 0, "../../README", 0 },
	{ "donn\xc3\xa9" "es/\xc3\xa9t\xc3\xa9.txt", AE_IFREG, 0, "utf8\n", 0 },
	{ "docs/", AE_IFDIR, 0, NULL, 0 }, /* a directory after its files */
	{ "empty", AE_IFREG, 0, "", 0 },
	{ NULL, 0, 0, NULL, 0 },
};

static void
check_good(const char *dir, int hardlink)
{
	char p[1024], q[1024], t[256];
	struct stat a, b;
	ssize_t n;

	assert_file(dir, "bin/app", "#!/bin/sh\necho app\n", 0755);
	assert_file(dir, "README", "read me\n", 0644);
	assert_file(dir, "docs/guide/a.txt", "guide\n", 0644);
	assert_file(dir, "donn\xc3\xa9" "es/\xc3\xa9t\xc3\xa9.txt", "utf8\n",
	    0644);
	assert_file(dir, "empty", "", 0644);
	snprintf(p, sizeof(p), "%s/latest", dir);
	n = readlink(p, t, sizeof(t) - 1);
	assert_true(n > 0);
	t[n] = '\0';
	assert_string_equal(t, "bin/app");
	snprintf(p, sizeof(p), "%s/docs", dir);
	assert_int_equal(stat(p, &a), 0);
	assert_int_equal(a.st_mode & 07777, 0755);
	if (hardlink) {
		snprintf(p, sizeof(p), "%s/bin/app", dir);
		snprintf(q, sizeof(q), "%s/bin/app2", dir);
		assert_int_equal(stat(p, &a), 0);
		assert_int_equal(stat(q, &b), 0);
		assert_int_equal(a.st_ino, b.st_ino);
	}
}

static void
test_roundtrip(void **state)
{
	static const struct ent hard[] = {
		{ "bin/app2", HARD, 0, "bin/app", 0 },
		{ NULL, 0, 0, NULL, 0 },
	};
	struct ent ents[ARRAY_SIZE(good) + 1];
	char root[256], file[1024], list[1024];

	for (int f = TAR; f <= ZIP; f++) {
		size_t n = 0;

		for (; good[n].path != NULL; n++)
			ents[n] = good[n];
		if (f != ZIP) /* zip has no hardlinks */
			ents[n++] = hard[0];
		ents[n] = hard[1];
		root_make(root, sizeof(root), fmt_names[f]);
		snprintf(file, sizeof(file), "%s/a.%s", top, fmt_names[f]);
		build(file, (enum fmt)f, ents);
		if (unpack_file(file, fmt_names[f], root, "", NULL) !=
		    UNPACK_OK)
			fail_msg("%s: not unpacked", fmt_names[f]);
		check_good(root, f != ZIP);
		listing(root, list, sizeof(list));
		assert_string_equal(list, "README bin docs donn\xc3\xa9" "es "
		    "empty keep.txt latest");
		/* into a directory that does not exist yet */
		if (unpack_file(file, fmt_names[f], root, "./public//site/",
		    NULL) != UNPACK_OK)
			fail_msg("%s: not unpacked into public/site",
			    fmt_names[f]);
		snprintf(file, sizeof(file), "%s/public/site", root);
		check_good(file, f != ZIP);
		/* merged into an existing directory */
		snprintf(file, sizeof(file), "%s/public/site/docs/more", root);
		assert_int_equal(mkdir(file, 0755), 0);
		fs_rm_rf(root);
	}
}

/* Merging: an existing directory takes new entries; a file may not. */
static void
test_merge(void **state)
{
	static const struct ent one[] = {
		{ "lib/a.so", AE_IFREG, 0, "a", 0 },
		{ NULL, 0, 0, NULL, 0 },
	};
	static const struct ent two[] = {
		{ "lib/b.so", AE_IFREG, 0, "b", 0 },
		{ "z.txt", AE_IFREG, 0, "z", 0 },
		{ NULL, 0, 0, NULL, 0 },
	};
	char root[256], file[1024], list[256];

	root_make(root, sizeof(root), "merge");
	assert_int_equal(tar_unpack("one.tar", one, root, ""), UNPACK_OK);
	assert_int_equal(tar_unpack("two.tar", two, root, ""), UNPACK_OK);
	snprintf(file, sizeof(file), "%s/lib", root);
	listing(file, list, sizeof(list));
	assert_string_equal(list, "a.so b.so");
	fs_rm_rf(root);
}

/* A link chain through a link another archive already put there. */
static void
test_chain_across(void **state)
{
	static const struct ent one[] = {
		{ "d/e/x", AE_IFLNK, 0, "../..", 0 },
		{ NULL, 0, 0, NULL, 0 },
	};
	static const struct ent two[] = {
		{ "ok", AE_IFLNK, 0, "d/e/x/keep.txt", 0 },
		{ "y", AE_IFLNK, 0, "d/e/x/../etc", 0 },
		{ NULL, 0, 0, NULL, 0 },
	};
	char root[256], list[256];
	struct capture cap;

	root_make(root, sizeof(root), "across");
	assert_int_equal(tar_unpack("one.tar", one, root, ""), UNPACK_OK);
	capture_begin(&cap);
	assert_int_equal(tar_unpack("two.tar", two, root, ""), UNPACK_REFUSED);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "two.tar: entry \"y\": symlink to "
	    "\"d/e/x/../etc\" resolves outside the release (refused)"));
	listing(root, list, sizeof(list));
	assert_string_equal(list, "d keep.txt");
	fs_rm_rf(root);
}

struct hostile {
	const char *what;
	enum fmt fmt;
	struct ent ents[6];
	const char *want; /* in the log */
	struct unpack_limits lim;
};

#define LIM(e, s, r, p) { e, s, r, p }
#define DEF LIM(100000, 1ull << 30, 100, 1024)

static const struct hostile hostile[] = {
	{ "absolute path", TAR, { { "/etc/evil", AE_IFREG, 0, "x", 0 } },
	    "h: entry \"/etc/evil\": absolute path (refused)", DEF },
	{ "dot-dot", TAR, { { "ok.txt", AE_IFREG, 0, "x", 0 },
	    { "../evil", AE_IFREG, 0, "x", 0 } },
	    "h: entry \"../evil\": \"..\" in the path (refused)", DEF },
	{ "dot-dot inside", TGZ, { { "a/../../evil", AE_IFREG, 0, "x", 0 } },
	    "entry \"a/../../evil\": \"..\" in the path (refused)", DEF },
	{ "symlink to /etc", TAR, { { "etc", AE_IFLNK, 0, "/etc", 0 } },
	    "entry \"etc\": symlink to the absolute path \"/etc\" (refused)",
	    DEF },
	{ "symlink up", TAR, { { "d/up", AE_IFLNK, 0, "../../x", 0 } },
	    "entry \"d/up\": symlink to \"../../x\" leaves the release "
	    "(refused)", DEF },
	{ "symlink chain", TAR, {
	    { "d/e/", AE_IFDIR, 0, NULL, 0 },
	    { "d/e/x", AE_IFLNK, 0, "../..", 0 },
	    { "y", AE_IFLNK, 0, "d/e/x/..", 0 } },
	    "entry \"y\": symlink to \"d/e/x/..\" resolves outside the "
	    "release (refused)", DEF },
	{ "symlink loop", TAR, {
	    { "a", AE_IFLNK, 0, "b", 0 },
	    { "b", AE_IFLNK, 0, "a", 0 } },
	    "goes through too many links (refused)", DEF },
	{ "write through a symlink", TAR, {
	    { "sub/", AE_IFDIR, 0, NULL, 0 },
	    { "s", AE_IFLNK, 0, "sub", 0 },
	    { "s/f", AE_IFREG, 0, "x", 0 } },
	    "entry \"s/f\": clashes with an earlier entry", DEF },
	{ "hardlink absolute", TAR, { { "h", HARD, 0, "/etc/passwd", 0 } },
	    "entry \"h\": hardlink target: absolute path (refused)", DEF },
	{ "hardlink up", TAR, { { "h", HARD, 0, "../x", 0 } },
	    "entry \"h\": hardlink target: \"..\" in the path (refused)",
	    DEF },
	{ "hardlink to nothing", TAR, { { "h", HARD, 0, "etc/passwd", 0 } },
	    "entry \"h\": hardlink to \"etc/passwd\", which is not an earlier "
	    "file of this archive (refused)", DEF },
	{ "hardlink via symlink", TAR, {
	    { "s", AE_IFLNK, 0, ".", 0 },
	    { "h", HARD, 0, "s/h", 0 } },
	    "entry \"h\": hardlink to \"s/h\", which is not an earlier file",
	    DEF },
	{ "device node", TAR, { { "tty", AE_IFCHR, 0, NULL, 0 } },
	    "entry \"tty\": device nodes are not allowed in a release "
	    "(refused)", DEF },
	{ "block device", TXZ, { { "sda", AE_IFBLK, 0, NULL, 0 } },
	    "entry \"sda\": device nodes are not allowed", DEF },
	{ "fifo", TZST, { { "pipe", AE_IFIFO, 0, NULL, 0 } },
	    "entry \"pipe\": FIFOs are not allowed in a release (refused)",
	    DEF },
	{ "duplicate", TAR, { { "a", AE_IFREG, 0, "1", 0 },
	    { "a", AE_IFREG, 0, "2", 0 } },
	    "entry \"a\": clashes with an earlier entry of this archive "
	    "(refused)", DEF },
	{ "directory over a file", TAR, { { "a", AE_IFREG, 0, "1", 0 },
	    { "a/", AE_IFDIR, 0, NULL, 0 } },
	    "entry \"a/\": clashes with an earlier entry", DEF },
	{ "file over an implicit directory", TAR, {
	    { "d/f", AE_IFREG, 0, "1", 0 }, { "d", AE_IFREG, 0, "2", 0 } },
	    "entry \"d\": clashes with an earlier entry", DEF },
	{ "file under a file", TAR, { { "f", AE_IFREG, 0, "1", 0 },
	    { "f/g", AE_IFREG, 0, "2", 0 } },
	    "entry \"f/g\": clashes with an earlier entry", DEF },
	{ "file then symlink", TAR, { { "a", AE_IFREG, 0, "1", 0 },
	    { "a", AE_IFLNK, 0, "/etc/passwd", 0 } },
	    "entry \"a\": symlink to the absolute path", DEF },
	{ "clash with the release", TAR, { { "keep.txt", AE_IFREG, 0, "x",
	    0 } }, "h: entry \"keep.txt\": already in the release (refused)",
	    DEF },
	{ "control character", TAR, { { "a\nb", AE_IFREG, 0, "x", 0 } },
	    "entry \"a?b\": control character in the path (refused)", DEF },
	{ "long path", TAR, { { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    AE_IFREG, 0, "x", 0 } },
	    "path longer than 40 bytes (max_path) (refused)",
	    LIM(100, 1 << 20, 100, 40) },
	{ "entry count", TAR, { { "1", AE_IFREG, 0, "x", 0 },
	    { "2", AE_IFREG, 0, "x", 0 }, { "3", AE_IFREG, 0, "x", 0 },
	    { "4", AE_IFREG, 0, "x", 0 } },
	    "entry \"4\": more than 3 entries (max_entries) (refused)",
	    LIM(3, 1 << 20, 100, 1024) },
	{ "size cap", TAR, { { "small", AE_IFREG, 0, "x", 0 },
	    { "big", AE_IFREG, 0, NULL, 300000 } },
	    "entry \"big\": 300000 bytes would pass the 200000-byte cap on "
	    "the unpacked size (max_size) (refused)",
	    LIM(100, 200000, 1000000, 1024) },
	{ "sparse files", TAR, {
	    { "s1", SPARSE, 0, "0123456789", 150000 },
	    { "s2", SPARSE, 0, "0123456789", 150000 } },
	    "entry \"s2\": 150000 bytes would pass the 200000-byte cap",
	    LIM(100, 200000, 1000000, 1024) },
	{ "ratio bomb", TGZ, { { "zeros", AE_IFREG, 0, NULL, 16 << 20 } },
	    "entry \"zeros\": ", DEF },
	{ "zip bomb", ZIP, { { "zeros", AE_IFREG, 0, NULL, 16 << 20 } },
	    "compression ratio over 100 (max_ratio) (refused)", DEF },
	{ "zip absolute", ZIP, { { "/tmp/evil", AE_IFREG, 0, "x", 0 } },
	    "entry \"/tmp/evil\": absolute path (refused)", DEF },
	{ "zip dot-dot", ZIP, { { "../../evil", AE_IFREG, 0, "x", 0 } },
	    "entry \"../../evil\": \"..\" in the path (refused)", DEF },
	{ "zip symlink", ZIP, { { "l", AE_IFLNK, 0, "/etc/shadow", 0 } },
	    "entry \"l\": symlink to the absolute path \"/etc/shadow\"",
	    DEF },
};

static void
test_hostile(void **state)
{
	char root[256], file[1024], list[1024];
	struct capture cap;
	enum unpack_status st;

	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
		const struct hostile *h = &hostile[i];
		struct ent ents[7];
		size_t n = 0;

		for (; n < 6 && h->ents[n].path != NULL; n++)
			ents[n] = h->ents[n];
		memset(&ents[n], 0, sizeof(ents[n]));
		root_make(root, sizeof(root), "hostile");
		snprintf(file, sizeof(file), "%s/h.%s", top,
		    fmt_names[h->fmt]);
		build(file, h->fmt, ents);
		capture_begin(&cap);
		st = unpack_file(file, "h", root, "", &h->lim);
		capture_end(&cap);
		if (st != UNPACK_REFUSED || strstr(cap.text, h->want) == NULL)
			fail_msg("%s: status %s, want refused with \"%s\"; "
			    "log:\n%s", h->what, unpack_status_name(st),
			    h->want, cap.text);
		if (count_lines_with(cap.text, "refused") != 1)
			fail_msg("%s: logged more than once:\n%s", h->what,
			    cap.text);
		listing(root, list, sizeof(list));
		if (strcmp(list, "keep.txt") != 0)
			fail_msg("%s: left behind: %s", h->what, list);
		unlink(file);
	}
	fs_rm_rf(root);
}

/* The ratio bomb message in full (its first entry varies by format). */
static void
test_ratio(void **state)
{
	static const struct ent bomb[] = {
		{ "zeros", AE_IFREG, 0, NULL, 16 << 20 },
		{ NULL, 0, 0, NULL, 0 },
	};
	struct unpack_limits lim;
	char root[256], file[1024];
	struct capture cap;

	unpack_limits_default(&lim);
	root_make(root, sizeof(root), "ratio");
	snprintf(file, sizeof(file), "%s/bomb.tar.zst", top);
	build(file, TZST, bomb);
	capture_begin(&cap);
	assert_int_equal(unpack_file(file, "bomb.tar.zst", root, "", &lim),
	    UNPACK_REFUSED);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "bomb.tar.zst: entry \"zeros\": "));
	assert_non_null(strstr(cap.text, "compression ratio over 100 "
	    "(max_ratio) (refused)"));
	/* the same archive passes with a ratio cap it stays under */
	lim.max_ratio = 1000000;
	assert_int_equal(unpack_file(file, "bomb.tar.zst", root, "", &lim),
	    UNPACK_OK);
	fs_rm_rf(root);
}

/* setuid, setgid and sticky bits dropped; owners never applied. */
static void
test_modes(void **state)
{
	static const struct ent ents[] = {
		{ "suid", AE_IFREG, 04755, "x", 0 },
		{ "sgid", AE_IFREG, 02711, "x", 0 },
		{ "ro", AE_IFREG, 0400, "x", 0 },
		{ "world", AE_IFREG, 0666, "x", 0 },
		{ "sticky/", AE_IFDIR, 01777, NULL, 0 },
		{ "private/", AE_IFDIR, 0700, NULL, 0 },
		{ "sgiddir/", AE_IFDIR, 02775, NULL, 0 },
		{ NULL, 0, 0, NULL, 0 },
	};
	static const struct {
		const char *path;
		int mode;
	} want[] = {
		{ "suid", 0755 }, { "sgid", 0755 }, { "ro", 0644 },
		{ "world", 0644 }, { "sticky", 0755 }, { "private", 0755 },
		{ "sgiddir", 0755 },
	};
	char root[256], p[1024];
	struct stat st;

	root_make(root, sizeof(root), "modes");
	assert_int_equal(tar_unpack("modes.tar", ents, root, ""), UNPACK_OK);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, want[i].path);
		assert_int_equal(lstat(p, &st), 0);
		if ((int)(st.st_mode & 07777) != want[i].mode)
			fail_msg("%s: mode %o, want %o", want[i].path,
			    st.st_mode & 07777, want[i].mode);
		/* the archive said uid 4321, gid 8765 */
		assert_int_equal(st.st_uid, geteuid());
		assert_int_equal(st.st_gid, getegid());
	}
	fs_rm_rf(root);
}

static void
test_not_archive(void **state)
{
	static const struct ent ents[] = {
		{ "a", AE_IFREG, 0, NULL, 200000 },
		{ "b", AE_IFREG, 0, "b", 0 },
		{ NULL, 0, 0, NULL, 0 },
	};
	char root[256], file[1024], list[256];
	struct capture cap;

	root_make(root, sizeof(root), "junk");
	file_put(top, "junk.tar.gz", "this is not an archive\n", file,
	    sizeof(file));
	capture_begin(&cap);
	assert_int_equal(unpack_file(file, "junk.tar.gz", root, "", NULL),
	    UNPACK_REFUSED);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "junk.tar.gz: not a tar, tar.gz, "
	    "tar.xz, tar.zst or zip archive"));
	file_put(top, "empty.tar", "", file, sizeof(file));
	capture_begin(&cap);
	assert_int_equal(unpack_file(file, "empty.tar", root, "", NULL),
	    UNPACK_REFUSED);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "empty.tar: an empty file is no "
	    "archive (refused)"));
	/* bzip2 is not one we document */
	snprintf(file, sizeof(file), "%s/b.tar.bz2", top);
	{
		struct archive *a = archive_write_new();

		archive_write_set_format_pax_restricted(a);
		archive_write_add_filter_bzip2(a);
		assert_int_equal(archive_write_open_filename(a, file),
		    ARCHIVE_OK);
		archive_write_close(a);
		archive_write_free(a);
	}
	capture_begin(&cap);
	assert_int_equal(unpack_file(file, "b.tar.bz2", root, "", NULL),
	    UNPACK_REFUSED);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "b.tar.bz2: not a tar"));
	/* truncated in the middle of an entry */
	snprintf(file, sizeof(file), "%s/t.tar.gz", top);
	build(file, TGZ, ents);
	assert_int_equal(truncate(file, 150), 0);
	capture_begin(&cap);
	assert_int_equal(unpack_file(file, "t.tar.gz", root, "", NULL),
	    UNPACK_REFUSED);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "t.tar.gz: "));
	assert_non_null(strstr(cap.text, "(refused)"));
	listing(root, list, sizeof(list));
	assert_string_equal(list, "keep.txt");
	/* a destination that is a symlink out of the release */
	snprintf(file, sizeof(file), "%s/public", root);
	assert_int_equal(symlink("/tmp", file), 0);
	capture_begin(&cap);
	assert_int_equal(tar_unpack("ok.tar", ents + 1, root, "public"),
	    UNPACK_REFUSED);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "ok.tar: destination \"public\" in "));
	assert_non_null(strstr(cap.text, ": not a directory (refused)"));
	fs_rm_rf(root);
}

/* ---- streaming ---- */

struct writer {
	const char *src; /* the complete archive */
	const char *dst; /* the growing staging file */
	struct unpack_stream *s;
	uint64_t stop_at; /* write only this much, then stop (0: all) */
	unsigned seed;
	int restart_first; /* write half, restart, then everything */
	const char *src2;  /* after the restart, write this file instead */
};

/* Copy w->src into w->dst in random steps, reporting each. */
static void
copy_steps(struct writer *w, const char *src, uint64_t stop_at)
{
	char buf[256 * 1024];
	FILE *in = fopen(src, "rb");
	FILE *out = fopen(w->dst, "wb");
	uint64_t done = 0;
	size_t k, n;

	assert_non_null(in);
	assert_non_null(out);
	for (int steps = 0; steps < 100000; steps++) {
		n = 1 + (size_t)(rand_r(&w->seed) % sizeof(buf));
		if (stop_at && done + n > stop_at)
			n = (size_t)(stop_at - done);
		k = fread(buf, 1, n, in);
		if (k == 0)
			break;
		assert_int_equal(fwrite(buf, 1, k, out), k);
		fflush(out);
		done += k;
		unpack_stream_advance(w->s, done);
		if (rand_r(&w->seed) % 4 == 0)
			usleep(200);
	}
	fclose(in);
	fclose(out);
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct stat st;

	if (w->restart_first) {
		assert_int_equal(stat(w->src, &st), 0);
		copy_steps(w, w->src, (uint64_t)st.st_size / 2);
		usleep(20000);
		unpack_stream_restart(w->s);
		copy_steps(w, w->src2, 0);
		return NULL;
	}
	copy_steps(w, w->src, w->stop_at);
	return NULL;
}

/* A tar.zst of n files of random data (about 300K each). */
static void
build_random(const char *file, enum fmt f, int n, unsigned seed)
{
	struct ent *ents = calloc((size_t)n + 1, sizeof(*ents));
	char **bufs = calloc((size_t)n, sizeof(*bufs));
	char name[64];

	assert_non_null(ents);
	assert_non_null(bufs);
	for (int i = 0; i < n; i++) {
		size_t len = 100000 + (size_t)(rand_r(&seed) % 400000);

		bufs[i] = malloc(len + 1);
		assert_non_null(bufs[i]);
		/* printable and only partly compressible */
		for (size_t j = 0; j < len; j++)
			bufs[i][j] = (char)('0' + rand_r(&seed) % 64);
		bufs[i][len] = '\0';
		snprintf(name, sizeof(name), "dir%d/file%d.txt", i % 3, i);
		ents[i].path = strdup(name);
		ents[i].type = AE_IFREG;
		ents[i].data = bufs[i];
	}
	build(file, f, ents);
	for (int i = 0; i < n; i++) {
		free((char *)ents[i].path);
		free(bufs[i]);
	}
	free(ents);
	free(bufs);
}

/* a and b hold the same names, types and bytes, recursively. */
static void
assert_same_tree(const char *a, const char *b)
{
	char la[4096], lb[4096], pa[1024], pb[1024], *da, *db;
	struct dirent **names;
	struct stat sa, sb;
	size_t na, nb;
	int n;

	listing(a, la, sizeof(la));
	listing(b, lb, sizeof(lb));
	assert_string_equal(la, lb);
	n = scandir(a, &names, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;

		if (strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
			snprintf(pa, sizeof(pa), "%s/%s", a, nm);
			snprintf(pb, sizeof(pb), "%s/%s", b, nm);
			assert_int_equal(lstat(pa, &sa), 0);
			assert_int_equal(lstat(pb, &sb), 0);
			assert_int_equal(sa.st_mode, sb.st_mode);
			if (S_ISDIR(sa.st_mode)) {
				assert_same_tree(pa, pb);
			} else if (S_ISREG(sa.st_mode)) {
				da = fs_read_file(pa, 64 << 20, &na, 0);
				db = fs_read_file(pb, 64 << 20, &nb, 0);
				assert_non_null(da);
				assert_non_null(db);
				assert_int_equal(na, nb);
				assert_memory_equal(da, db, na);
				free(da);
				free(db);
			}
		}
		free(names[i]);
	}
	free(names);
}

static void
test_stream(void **state)
{
	char root[256], src[1024], dst[1024], ref[1024], list[256];
	struct writer w;
	pthread_t t;
	struct stat st;

	for (int f = TZST; f <= ZIP; f++) {
		root_make(root, sizeof(root), "stream");
		snprintf(src, sizeof(src), "%s/big.%s", top, fmt_names[f]);
		snprintf(dst, sizeof(dst), "%s/staging.part", top);
		build_random(src, (enum fmt)f, 12, 7);
		/* the reference: the same archive from the finished file */
		snprintf(ref, sizeof(ref), "%s/ref", top);
		fs_rm_rf(ref);
		assert_int_equal(mkdir(ref, 0755), 0);
		assert_int_equal(unpack_file(src, "ref", ref, "", NULL),
		    UNPACK_OK);
		assert_int_equal(stat(src, &st), 0);
		assert_true(st.st_size > 2 * 1024 * 1024);
		unlink(dst);
		memset(&w, 0, sizeof(w));
		w.src = src;
		w.dst = dst;
		w.seed = 42;
		w.s = unpack_stream_start(dst, (uint64_t)st.st_size,
		    "big", root, "app", NULL);
		assert_non_null(w.s);
		assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
		pthread_join(t, NULL);
		assert_int_equal(unpack_stream_finish(w.s, 1), UNPACK_OK);
		snprintf(dst, sizeof(dst), "%s/app", root);
		assert_same_tree(ref, dst);
		listing(root, list, sizeof(list));
		assert_string_equal(list, "app keep.txt");
		fs_rm_rf(root);
		fs_rm_rf(ref);
	}
}

/* restart(): what was extracted is discarded; the new bytes win. */
static void
test_stream_restart(void **state)
{
	char root[256], a[1024], b[1024], dst[1024], ref[1024], list[256];
	struct writer w;
	pthread_t t;
	struct stat st;

	root_make(root, sizeof(root), "restart");
	snprintf(a, sizeof(a), "%s/a.tar.zst", top);
	snprintf(b, sizeof(b), "%s/b.tar.zst", top);
	snprintf(dst, sizeof(dst), "%s/staging.part", top);
	build_random(a, TZST, 10, 1);
	build_random(b, TZST, 10, 2);
	snprintf(ref, sizeof(ref), "%s/ref", top);
	fs_rm_rf(ref);
	assert_int_equal(mkdir(ref, 0755), 0);
	assert_int_equal(unpack_file(b, "ref", ref, "", NULL), UNPACK_OK);
	/* the size given at start is b's: the blob that finally arrives */
	assert_int_equal(stat(b, &st), 0);
	unlink(dst);
	memset(&w, 0, sizeof(w));
	w.src = a;
	w.src2 = b;
	w.dst = dst;
	w.seed = 3;
	w.restart_first = 1;
	w.s = unpack_stream_start(dst, (uint64_t)st.st_size, "r", root, "",
	    NULL);
	assert_non_null(w.s);
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	pthread_join(t, NULL);
	assert_int_equal(unpack_stream_finish(w.s, 1), UNPACK_OK);
	snprintf(dst, sizeof(dst), "%s/keep.txt", root);
	assert_int_equal(unlink(dst), 0); /* so the trees compare */
	assert_same_tree(ref, root);
	listing(root, list, sizeof(list));
	assert_string_equal(list, "dir0 dir1 dir2");
	fs_rm_rf(root);
	fs_rm_rf(ref);
}

/* fail() while the worker waits for bytes: it stops, nothing is left. */
static void
test_stream_fail(void **state)
{
	char root[256], src[1024], dst[1024], list[256];
	struct writer w;
	pthread_t t;
	struct stat st;
	struct capture cap;
	int64_t t0;

	root_make(root, sizeof(root), "fail");
	snprintf(src, sizeof(src), "%s/f.tar.zst", top);
	snprintf(dst, sizeof(dst), "%s/staging.part", top);
	build_random(src, TZST, 10, 5);
	assert_int_equal(stat(src, &st), 0);
	unlink(dst);
	memset(&w, 0, sizeof(w));
	w.src = src;
	w.dst = dst;
	w.seed = 9;
	w.stop_at = (uint64_t)st.st_size / 2;
	w.s = unpack_stream_start(dst, (uint64_t)st.st_size, "f", root, "",
	    NULL);
	assert_non_null(w.s);
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	pthread_join(t, NULL);
	usleep(50000); /* the worker now waits for the second half */
	t0 = (int64_t)time(NULL);
	unpack_stream_fail(w.s);
	capture_begin(&cap);
	assert_int_equal(unpack_stream_finish(w.s, 1), UNPACK_ABORTED);
	capture_end(&cap);
	assert_true((int64_t)time(NULL) - t0 < 5);
	assert_int_equal(count_lines_with(cap.text, "error"), 0);
	listing(root, list, sizeof(list));
	assert_string_equal(list, "keep.txt");

	/* finish without commit after a complete extraction: discarded */
	w.s = unpack_stream_start(src, (uint64_t)st.st_size, "f", root, "",
	    NULL);
	assert_non_null(w.s);
	assert_int_equal(unpack_stream_advance(w.s, (uint64_t)st.st_size),
	    0);
	usleep(100000);
	assert_int_equal(unpack_stream_finish(w.s, 0), UNPACK_ABORTED);
	listing(root, list, sizeof(list));
	assert_string_equal(list, "keep.txt");

	/* commit while the download is short: aborted, not hung */
	w.s = unpack_stream_start(src, (uint64_t)st.st_size, "f", root, "",
	    NULL);
	assert_non_null(w.s);
	unpack_stream_advance(w.s, 1000);
	capture_begin(&cap);
	assert_int_equal(unpack_stream_finish(w.s, 1), UNPACK_ABORTED);
	capture_end(&cap);
	listing(root, list, sizeof(list));
	assert_string_equal(list, "keep.txt");
	fs_rm_rf(root);
}

/* A hostile stream: advance() says so before the download ends. */
static void
test_stream_hostile(void **state)
{
	static const struct ent ents[] = {
		{ "dev", AE_IFCHR, 0, NULL, 0 },
		{ "pad", AE_IFREG, 0, NULL, 1 << 20 },
		{ NULL, 0, 0, NULL, 0 },
	};
	char root[256], src[1024], list[256];
	struct unpack_stream *s;
	struct capture cap;
	struct stat st;
	int rc = 0;

	root_make(root, sizeof(root), "hostile-stream");
	snprintf(src, sizeof(src), "%s/hs.tar", top);
	build(src, TAR, ents);
	assert_int_equal(stat(src, &st), 0);
	s = unpack_stream_start(src, (uint64_t)st.st_size, "hs.tar", root, "",
	    NULL);
	assert_non_null(s);
	for (int i = 0; i < 500 && rc == 0; i++) {
		rc = unpack_stream_advance(s, 4096);
		usleep(10000);
	}
	assert_int_equal(rc, -1);
	capture_begin(&cap);
	assert_int_equal(unpack_stream_finish(s, 1), UNPACK_REFUSED);
	capture_end(&cap);
	assert_non_null(strstr(cap.text, "hs.tar: entry \"dev\": device nodes "
	    "are not allowed in a release (refused)"));
	listing(root, list, sizeof(list));
	assert_string_equal(list, "keep.txt");
	fs_rm_rf(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_chain_across),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_ratio),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_not_archive),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_restart),
		cmocka_unit_test(test_stream_fail),
		cmocka_unit_test(test_stream_hostile),
	};
	int rc;

	log_set_journal(0);
	tmpdir_make(top, sizeof(top));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		fs_rm_rf(top);
	else
		fprintf(stderr, "kept %s\n", top);
	return rc;
}
