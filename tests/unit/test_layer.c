/* runtime/layer.c: layers this file writes with libarchive (tar, tar+gzip,
 * tar+zstd) applied onto a rootfs in a temporary directory, with a
 * "sentinel" directory beside the rootfs that hostile entries aim at and
 * that must stay as it was. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "runtime/cleanup.h"
#include "runtime/layer.h"
#include "tests/unit/unit.h"

enum filter { TAR, GZIP, ZSTD };

/* One archive entry.  kind: 'd' directory, 'f' file (arg: content), 'l'
 * symlink (arg: target), 'h' hardlink (arg: target), 'c' char device
 * 1:3, 'b' block device 7:200, 'p' fifo.  (Sockets: libarchive's tar
 * writers refuse them, as tar does.) */
struct ent {
	const char *path;
	char kind;
	const char *arg;
	mode_t perm; /* 0: 0755 for directories, 0644 else */
	int uid, gid;
	time_t mtime;
	const char *xattr; /* "user.name=value" */
};

struct fx {
	char base[64];
	char root[128], sentinel[128], layer[128];
};

static void fx_init(struct fx *f)
{
	strcpy(f->base, "/tmp/mvrun-layer.XXXXXX");
	CHECK(mkdtemp(f->base) != NULL);
	snprintf(f->root, sizeof(f->root), "%s/rootfs", f->base);
	snprintf(f->sentinel, sizeof(f->sentinel), "%s/sentinel", f->base);
	snprintf(f->layer, sizeof(f->layer), "%s/layer", f->base);
	CHECK_INT(mkdir(f->root, 0755), ==, 0);
	CHECK_INT(mkdir(f->sentinel, 0755), ==, 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void fx_release(struct fx *f)
{
	CHECK_INT(nftw(f->base, remove_one, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
}

/* f->root/rel (or base/rel with "../"), in one of a few rotating buffers. */
static const char *in(const struct fx *f, const char *rel)
{
	static char bufs[8][256];
	static int next;
	char *b = bufs[next++ % 8];

	if (strncmp(rel, "../", 3) == 0)
		snprintf(b, sizeof(bufs[0]), "%s/%s", f->base, rel + 3);
	else
		snprintf(b, sizeof(bufs[0]), "%s/%s", f->root, rel);
	return b;
}

static void add_entry(struct archive *a, const struct ent *x)
{
	struct archive_entry *e = archive_entry_new();
	mode_t types[128] = {['d'] = AE_IFDIR, ['f'] = AE_IFREG, ['l'] = AE_IFLNK, ['h'] = AE_IFREG,
			     ['c'] = AE_IFCHR, ['b'] = AE_IFBLK, ['p'] = AE_IFIFO};
	size_t len = x->kind == 'f' && x->arg ? strlen(x->arg) : 0;

	CHECK(e != NULL && types[(int)x->kind] != 0);
	archive_entry_set_pathname(e, x->path);
	archive_entry_set_filetype(e, types[(int)x->kind]);
	archive_entry_set_perm(e, x->perm ? x->perm : x->kind == 'd' ? 0755 : 0644);
	archive_entry_set_uid(e, x->uid);
	archive_entry_set_gid(e, x->gid);
	archive_entry_set_mtime(e, x->mtime ? x->mtime : 1000000000, 0);
	archive_entry_set_size(e, (la_int64_t)len);
	if (x->kind == 'l')
		archive_entry_set_symlink(e, x->arg);
	if (x->kind == 'h')
		archive_entry_set_hardlink(e, x->arg);
	if (x->kind == 'c')
		archive_entry_set_rdev(e, makedev(1, 3));
	if (x->kind == 'b')
		archive_entry_set_rdev(e, makedev(7, 200));
	if (x->xattr) {
		const char *eq = strchr(x->xattr, '=');
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)(eq - x->xattr), x->xattr);
		archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
	}
	CHECK_INT(archive_write_header(a, e), ==, ARCHIVE_OK);
	if (len)
		CHECK_INT(archive_write_data(a, x->arg, len), ==, (la_ssize_t)len);
	archive_entry_free(e);
}

static void write_layer(const char *path, enum filter filter, const struct ent *ents, size_t n)
{
	struct archive *a = archive_write_new();

	CHECK(a != NULL);
	CHECK_INT(archive_write_set_format_pax(a), ==, ARCHIVE_OK);
	if (filter == GZIP)
		CHECK_INT(archive_write_add_filter_gzip(a), ==, ARCHIVE_OK);
	if (filter == ZSTD)
		CHECK_INT(archive_write_add_filter_zstd(a), ==, ARCHIVE_OK);
	CHECK_INT(archive_write_open_filename(a, path), ==, ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		add_entry(a, &ents[i]);
	CHECK_INT(archive_write_close(a), ==, ARCHIVE_OK);
	archive_write_free(a);
}

static int apply(const struct fx *f, enum filter filter, const struct ent *ents, size_t n,
		 mv_error_t *err)
{
	write_layer(f->layer, filter, ents, n);
	return layer_apply(f->root, f->layer, err);
}

#define APPLY(f, filter, ents, err) apply(f, filter, ents, N_ELEMENTS(ents), err)

/* The layer must fail with errnum and a message that contains want. */
#define CHECK_FAILS(f, ents, errnum, want)                                                         \
	do {                                                                                       \
		mv_error_t e_ = {0};                                                               \
		CHECK_INT(APPLY(f, TAR, ents, &e_), ==, -1);                                       \
		CHECK_INT(e_.err, ==, errnum);                                                     \
		CHECK(e_.msg &&strstr(e_.msg, want));                                              \
		mv_error_release(&e_);                                                             \
	} while (0)

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static mode_t type_of(const char *path)
{
	struct stat st;

	CHECK_INT(lstat(path, &st), ==, 0);
	return st.st_mode & S_IFMT;
}

static void check_content(const char *path, const char *want)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(n >= 0);
	buf[n] = '\0';
	CHECK_STR(buf, want);
}

static void write_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CHECK(fd >= 0);
	CHECK_INT(write(fd, content, strlen(content)), ==, (ssize_t)strlen(content));
	close(fd);
}

/* ---- every kind of entry ---- */

static void check_all_kinds(enum filter filter)
{
	const struct ent ents[] = {
	    {.path = "./", .kind = 'd', .perm = 0755},
	    {.path = "./etc/",
	     .kind = 'd',
	     .perm = 02750,
	     .uid = 1000,
	     .gid = 1001,
	     .mtime = 1234567},
	    {.path = "./etc/passwd",
	     .kind = 'f',
	     .arg = "root:x:0:0::/root:/bin/sh\n",
	     .perm = 0644,
	     .uid = 0,
	     .gid = 0,
	     .mtime = 7654321},
	    {.path = "./bin/", .kind = 'd'},
	    {.path = "./bin/su",
	     .kind = 'f',
	     .arg = "#!/bin/sh\n",
	     .perm = 04755,
	     .uid = 0,
	     .gid = 5,
	     .mtime = 2000000,
	     .xattr = "user.origin=test"},
	    {.path = "./bin/sh",
	     .kind = 'l',
	     .arg = "su",
	     .perm = 0777,
	     .uid = 1000,
	     .gid = 1000,
	     .mtime = 3000000},
	    {.path = "./bin/su2", .kind = 'h', .arg = "bin/su"},
	    {.path = "./dev/", .kind = 'd'},
	    {.path = "./dev/null", .kind = 'c', .perm = 0666},
	    {.path = "./dev/loop200", .kind = 'b', .perm = 0660, .uid = 0, .gid = 6},
	    {.path = "./dev/fifo", .kind = 'p', .perm = 0620, .uid = 1000, .gid = 1000},
	    {.path = "./tmp/", .kind = 'd', .perm = 01777},
	};
	struct fx f;
	mv_error_t err = {0};
	struct stat st, st2;
	char value[32];
	int before = unit_count_fds();

	fx_init(&f);
	CHECK_INT(APPLY(&f, filter, ents, &err), ==, 0);
	CHECK_INT(unit_count_fds(), ==, before);

	/* directory: mode with setgid, owner, and its mtime although
	 * passwd was written into it afterwards */
	CHECK_INT(stat(in(&f, "etc"), &st), ==, 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, ==, 02750);
	CHECK_INT(st.st_uid, ==, 1000);
	CHECK_INT(st.st_gid, ==, 1001);
	CHECK_INT(st.st_mtime, ==, 1234567);
	CHECK_INT(st.st_atime, ==, 1234567);
	check_content(in(&f, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
	CHECK_INT(stat(in(&f, "etc/passwd"), &st), ==, 0);
	CHECK_INT(st.st_mtime, ==, 7654321);

	/* setuid survives the chown; the xattr came along */
	CHECK_INT(stat(in(&f, "bin/su"), &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 04755);
	CHECK_INT(st.st_gid, ==, 5);
	CHECK_INT(st.st_nlink, ==, 2);
	CHECK_INT(getxattr(in(&f, "bin/su"), "user.origin", value, sizeof(value)), ==, 4);
	CHECK(memcmp(value, "test", 4) == 0);

	/* the symlink itself got the owner and time */
	CHECK_INT(lstat(in(&f, "bin/sh"), &st), ==, 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK_INT(st.st_uid, ==, 1000);
	CHECK_INT(st.st_mtime, ==, 3000000);
	CHECK_INT(readlink(in(&f, "bin/sh"), value, sizeof(value)), ==, 2);

	/* the hardlink is the same file */
	CHECK_INT(stat(in(&f, "bin/su2"), &st2), ==, 0);
	CHECK_INT(stat(in(&f, "bin/su"), &st), ==, 0);
	CHECK_INT(st.st_ino, ==, st2.st_ino);

	CHECK_INT(lstat(in(&f, "dev/null"), &st), ==, 0);
	CHECK(S_ISCHR(st.st_mode));
	CHECK_INT(st.st_rdev, ==, makedev(1, 3));
	CHECK_INT(st.st_mode & 07777, ==, 0666);
	CHECK_INT(lstat(in(&f, "dev/loop200"), &st), ==, 0);
	CHECK(S_ISBLK(st.st_mode));
	CHECK_INT(st.st_rdev, ==, makedev(7, 200));
	CHECK_INT(st.st_gid, ==, 6);
	CHECK_INT(lstat(in(&f, "dev/fifo"), &st), ==, 0);
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_INT(st.st_mode & 07777, ==, 0620);
	CHECK_INT(stat(in(&f, "tmp"), &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 01777);
	fx_release(&f);
}

TEST(layer_all_kinds_tar)
{
	check_all_kinds(TAR);
}

TEST(layer_all_kinds_gzip)
{
	check_all_kinds(GZIP);
}

TEST(layer_all_kinds_zstd)
{
	check_all_kinds(ZSTD);
}

TEST(layer_missing_parents_are_made)
{
	const struct ent ents[] = {{.path = "a/b/c/file", .kind = 'f', .arg = "x"}};
	struct fx f;
	mv_error_t err = {0};
	struct stat st;
	mode_t old = umask(077);

	fx_init(&f);
	CHECK_INT(APPLY(&f, TAR, ents, &err), ==, 0);
	umask(old);
	check_content(in(&f, "a/b/c/file"), "x");
	CHECK_INT(stat(in(&f, "a/b"), &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0755);
	fx_release(&f);
}

/* "./" is the rootfs itself; aufs' own .wh..wh.* names are not written. */
TEST(layer_root_entry_and_aufs_names)
{
	const struct ent ents[] = {
	    {.path = "./", .kind = 'd', .perm = 0711, .uid = 7, .gid = 8, .mtime = 5555},
	    {.path = "./.wh..wh.plnk/", .kind = 'd'},
	    {.path = "./.wh..wh.plnk/1.2", .kind = 'f', .arg = "x"},
	    {.path = "./file", .kind = 'f', .arg = "x"},
	};
	const struct ent root_file[] = {{.path = ".", .kind = 'f', .arg = "x"}};
	struct fx f;
	mv_error_t err = {0};
	struct stat st;

	fx_init(&f);
	CHECK_INT(APPLY(&f, TAR, ents, &err), ==, 0);
	CHECK_INT(stat(f.root, &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0711);
	CHECK_INT(st.st_uid, ==, 7);
	CHECK_INT(st.st_gid, ==, 8);
	CHECK_INT(st.st_mtime, ==, 5555);
	CHECK(!exists(in(&f, ".wh..wh.plnk")));
	check_content(in(&f, "file"), "x");
	CHECK_FAILS(&f, root_file, EINVAL, "the root must be a directory");
	fx_release(&f);
}

/* ---- layers on layers ---- */

TEST(layer_replaces_what_is_there)
{
	const struct ent lower[] = {
	    {.path = "x", .kind = 'f', .arg = "file"},
	    {.path = "d/", .kind = 'd', .perm = 0700},
	    {.path = "d/inner", .kind = 'f', .arg = "in"},
	    {.path = "s/", .kind = 'd'},
	    {.path = "s/old", .kind = 'f', .arg = "old"},
	    {.path = "f", .kind = 'f', .arg = "f"},
	    {.path = "l", .kind = 'l', .arg = "nowhere"},
	};
	const struct ent upper[] = {
	    {.path = "x/", .kind = 'd'},			/* file -> directory */
	    {.path = "d", .kind = 'f', .arg = "now a file"},	/* directory -> file, recursively */
	    {.path = "s/", .kind = 'd', .perm = 0711},		/* directory stays, mode updated */
	    {.path = "f", .kind = 'l', .arg = "x"},		/* file -> symlink */
	    {.path = "l", .kind = 'f', .arg = "was a symlink"}, /* symlink -> file */
	};
	struct fx f;
	mv_error_t err = {0};
	struct stat st;

	fx_init(&f);
	CHECK_INT(APPLY(&f, TAR, lower, &err), ==, 0);
	CHECK_INT(APPLY(&f, GZIP, upper, &err), ==, 0);
	CHECK_INT(type_of(in(&f, "x")), ==, S_IFDIR);
	check_content(in(&f, "d"), "now a file");
	check_content(in(&f, "s/old"), "old");
	CHECK_INT(stat(in(&f, "s"), &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0711);
	CHECK_INT(type_of(in(&f, "f")), ==, S_IFLNK);
	check_content(in(&f, "l"), "was a symlink");
	fx_release(&f);
}

TEST(layer_whiteout_file_and_dir)
{
	const struct ent lower[] = {
	    {.path = "a/", .kind = 'd'},
	    {.path = "a/file", .kind = 'f', .arg = "1"},
	    {.path = "a/dir/sub/x", .kind = 'f', .arg = "2"},
	    {.path = "a/keep", .kind = 'f', .arg = "3"},
	    {.path = "top", .kind = 'f', .arg = "4"},
	};
	const struct ent upper[] = {
	    {.path = "a/.wh.file", .kind = 'f'},
	    {.path = "a/.wh.dir", .kind = 'f'},
	    {.path = ".wh.top", .kind = 'f'},
	    {.path = "a/.wh.missing", .kind = 'f'},
	};
	struct fx f;
	mv_error_t err = {0};

	fx_init(&f);
	CHECK_INT(APPLY(&f, TAR, lower, &err), ==, 0);
	CHECK_INT(APPLY(&f, ZSTD, upper, &err), ==, 0);
	CHECK(!exists(in(&f, "a/file")));
	CHECK(!exists(in(&f, "a/dir")));
	CHECK(!exists(in(&f, "top")));
	check_content(in(&f, "a/keep"), "3");
	/* the markers are not written */
	CHECK(!exists(in(&f, "a/.wh.file")));
	CHECK(!exists(in(&f, ".wh.top")));
	fx_release(&f);
}

/* A whiteout hides lower layers only: what this same layer wrote stays,
 * before or after the marker. */
TEST(layer_whiteout_keeps_this_layer)
{
	const struct ent lower[] = {{.path = "a/x", .kind = 'f', .arg = "lower"},
				    {.path = "a/y/old", .kind = 'f', .arg = "lower"}};
	const struct ent upper[] = {
	    {.path = "a/x", .kind = 'f', .arg = "upper"},
	    {.path = "a/.wh.x", .kind = 'f'},
	    {.path = "a/y/new", .kind = 'f', .arg = "upper"},
	    {.path = "a/.wh.y", .kind = 'f'},
	};
	struct fx f;
	mv_error_t err = {0};

	fx_init(&f);
	CHECK_INT(APPLY(&f, TAR, lower, &err), ==, 0);
	CHECK_INT(APPLY(&f, TAR, upper, &err), ==, 0);
	check_content(in(&f, "a/x"), "upper");
	check_content(in(&f, "a/y/new"), "upper");
	CHECK(!exists(in(&f, "a/y/old")));
	fx_release(&f);
}

static void check_opaque(const struct ent *upper, size_t n)
{
	const struct ent lower[] = {
	    {.path = "o/", .kind = 'd'},
	    {.path = "o/old", .kind = 'f', .arg = "old"},
	    {.path = "o/sub/old2", .kind = 'f', .arg = "old"},
	    {.path = "o/sub/deep/x", .kind = 'f'},
	    {.path = "o/linkdir", .kind = 'l', .arg = "/o/sub"},
	    {.path = "other/kept", .kind = 'f', .arg = "kept"},
	};
	struct fx f;
	mv_error_t err = {0};

	fx_init(&f);
	CHECK_INT(APPLY(&f, TAR, lower, &err), ==, 0);
	CHECK_INT(apply(&f, GZIP, upper, n, &err), ==, 0);
	CHECK(!exists(in(&f, "o/old")));
	CHECK(!exists(in(&f, "o/sub/old2")));
	CHECK(!exists(in(&f, "o/sub/deep")));
	CHECK(!exists(in(&f, "o/linkdir")));
	CHECK(!exists(in(&f, "o/.wh..wh..opq")));
	check_content(in(&f, "o/new"), "new");
	check_content(in(&f, "o/sub/new2"), "new");
	check_content(in(&f, "o/via/link"), "through");
	check_content(in(&f, "other/kept"), "kept");
	fx_release(&f);
}

TEST(layer_opaque_marker_first)
{
	const struct ent upper[] = {
	    {.path = "o/", .kind = 'd'},
	    {.path = "o/.wh..wh..opq", .kind = 'f'},
	    {.path = "o/new", .kind = 'f', .arg = "new"},
	    {.path = "o/sub/new2", .kind = 'f', .arg = "new"},
	    {.path = "alias", .kind = 'l', .arg = "o"},
	    {.path = "alias/via/link", .kind = 'f', .arg = "through"},
	};

	check_opaque(upper, N_ELEMENTS(upper));
}

TEST(layer_opaque_marker_last)
{
	const struct ent upper[] = {
	    {.path = "o/", .kind = 'd'},
	    {.path = "o/new", .kind = 'f', .arg = "new"},
	    {.path = "o/sub/new2", .kind = 'f', .arg = "new"},
	    {.path = "alias", .kind = 'l', .arg = "o"},
	    /* written through a symlink: still known as o/via/link */
	    {.path = "alias/via/link", .kind = 'f', .arg = "through"},
	    {.path = "o/.wh..wh..opq", .kind = 'f'},
	};

	check_opaque(upper, N_ELEMENTS(upper));
}

/* ---- links ---- */

TEST(layer_symlink_chains_resolve_in_root)
{
	const struct ent ents[] = {
	    {.path = "usr/lib/", .kind = 'd'},
	    {.path = "lib", .kind = 'l', .arg = "usr/lib"},
	    {.path = "a", .kind = 'l', .arg = "b"},
	    {.path = "b", .kind = 'l', .arg = "/c"},
	    {.path = "c", .kind = 'l', .arg = "lib/../lib"},
	    {.path = "a/libc.so", .kind = 'f', .arg = "libc"},
	    {.path = "lib/ld.so", .kind = 'f', .arg = "ld"},
	    {.path = "lib/ld2.so", .kind = 'h', .arg = "a/ld.so"},
	};
	struct fx f;
	mv_error_t err = {0};
	struct stat st;

	fx_init(&f);
	CHECK_INT(APPLY(&f, TAR, ents, &err), ==, 0);
	check_content(in(&f, "usr/lib/libc.so"), "libc");
	check_content(in(&f, "usr/lib/ld.so"), "ld");
	CHECK_INT(stat(in(&f, "usr/lib/ld2.so"), &st), ==, 0);
	CHECK_INT(st.st_nlink, ==, 2);
	CHECK_INT(type_of(in(&f, "lib")), ==, S_IFLNK);
	fx_release(&f);
}

TEST(layer_hardlink_rules)
{
	const struct ent dir[] = {{.path = "d/", .kind = 'd'},
				  {.path = "l", .kind = 'h', .arg = "d"}};
	const struct ent abs[] = {{.path = "l", .kind = 'h', .arg = "/etc/passwd"}};
	const struct ent up[] = {{.path = "l", .kind = 'h', .arg = "../sentinel/secret"}};
	const struct ent via[] = {{.path = "evil", .kind = 'l', .arg = "/"},
				  {.path = "l", .kind = 'h', .arg = "evil/../sentinel/secret"}};
	const struct ent via2[] = {{.path = "up", .kind = 'l', .arg = "../sentinel"},
				   {.path = "l", .kind = 'h', .arg = "up/secret"}};
	const struct ent missing[] = {{.path = "l", .kind = 'h', .arg = "nothere"}};
	struct fx f;
	struct stat st;
	char target[256];

	fx_init(&f);
	write_file(in(&f, "../sentinel/secret"), "secret");
	/* the host path of the secret, through a symlink to "/" */
	snprintf(target, sizeof(target), "evil%s/secret", f.sentinel);
	{
		const struct ent via3[] = {{.path = "evil", .kind = 'l', .arg = "/"},
					   {.path = "l", .kind = 'h', .arg = target}};

		CHECK_FAILS(&f, via3, ENOENT, target);
	}
	CHECK_FAILS(&f, dir, EINVAL, "is a directory");
	CHECK_FAILS(&f, abs, EINVAL, "/etc/passwd");
	CHECK_FAILS(&f, up, EINVAL, "../sentinel/secret");
	CHECK_FAILS(&f, via, EINVAL, "evil/../sentinel/secret");
	CHECK_FAILS(&f, via2, ENOENT, "up/secret");
	CHECK_FAILS(&f, missing, ENOENT, "nothere");
	CHECK_INT(stat(in(&f, "../sentinel/secret"), &st), ==, 0);
	CHECK_INT(st.st_nlink, ==, 1);
	CHECK(!exists(in(&f, "l")));
	fx_release(&f);
}

/* ---- hostile names ---- */

TEST(layer_refuses_escaping_names)
{
	const char *names[] = {"../x", "/etc/x", "a/../../x", "./../x", "a/..", "//x", "..", "/"};
	struct fx f;

	fx_init(&f);
	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		const struct ent ents[] = {{.path = names[i], .kind = 'f', .arg = "pwned"}};
		char want[64];

		snprintf(want, sizeof(want), "entry `%s`", names[i]);
		CHECK_FAILS(&f, ents, EINVAL, want);
	}
	CHECK(!exists(in(&f, "../x")));
	fx_release(&f);
}

/* Symlinks in the image that point out of it are followed as if the
 * rootfs were "/": what is written through them lands inside. */
TEST(layer_symlinks_stay_inside)
{
	struct fx f;
	mv_error_t err = {0};
	char abs1[256], abs2[256], inside[256];

	fx_init(&f);
	/* the sentinel's host path, as a symlink to "/" would reach it */
	snprintf(abs1, sizeof(abs1), "evil%s/pwned1", f.sentinel);
	snprintf(abs2, sizeof(abs2), "evil2%s/pwned2", f.sentinel);
	snprintf(inside, sizeof(inside), "%s", f.sentinel + 1);
	{
		const struct ent ents[] = {
		    {.path = "evil", .kind = 'l', .arg = "/"},
		    {.path = abs1, .kind = 'f', .arg = "1"},
		    {.path = "evil2", .kind = 'l', .arg = "../../../../.."},
		    {.path = abs2, .kind = 'f', .arg = "2"},
		    {.path = "sentinel/", .kind = 'd'},
		    {.path = "up", .kind = 'l', .arg = "../sentinel"},
		    {.path = "up/pwned3", .kind = 'f', .arg = "3"},
		    {.path = "dirlink", .kind = 'l', .arg = "../sentinel"},
		    {.path = "dirlink/", .kind = 'd'},
		    {.path = "dirlink/pwned4", .kind = 'f', .arg = "4"},
		};
		/* through a symlink that dangles inside: refused, not followed out */
		const struct ent dangling[] = {
		    {.path = "dangle", .kind = 'l', .arg = "../sentinel/sub"},
		    {.path = "dangle/pwned5", .kind = 'f', .arg = "5"},
		};

		CHECK_INT(APPLY(&f, TAR, ents, &err), ==, 0);
		CHECK_FAILS(&f, dangling, ENOENT, "dangle/pwned5");
	}
	CHECK(!exists(in(&f, "../sentinel/pwned1")));
	CHECK(!exists(in(&f, "../sentinel/pwned2")));
	CHECK(!exists(in(&f, "../sentinel/pwned3")));
	CHECK(!exists(in(&f, "../sentinel/pwned4")));
	CHECK(!exists(in(&f, "../sentinel/sub")));
	CHECK(!exists(in(&f, "../sentinel/pwned5")));
	check_content(in(&f, strcat(strcpy(abs1, inside), "/pwned1")), "1");
	check_content(in(&f, strcat(strcpy(abs2, inside), "/pwned2")), "2");
	check_content(in(&f, "sentinel/pwned3"), "3");
	/* the symlink was replaced by the directory entry */
	CHECK_INT(type_of(in(&f, "dirlink")), ==, S_IFDIR);
	check_content(in(&f, "dirlink/pwned4"), "4");
	fx_release(&f);
}

/* A file entry over a symlink to a file outside replaces the symlink: the
 * target is not written. */
TEST(layer_file_over_symlink_replaces_it)
{
	struct fx f;
	mv_error_t err = {0};
	char target[256];

	fx_init(&f);
	write_file(in(&f, "../sentinel/secret"), "secret");
	snprintf(target, sizeof(target), "%s/secret", f.sentinel);
	{
		const struct ent ents[] = {
		    {.path = "f", .kind = 'l', .arg = target},
		    {.path = "f", .kind = 'f', .arg = "replaced"},
		    {.path = "g", .kind = 'l', .arg = "../sentinel/secret"},
		    {.path = "g", .kind = 'p'},
		    {.path = "h", .kind = 'l', .arg = target},
		    {.path = "h", .kind = 'h', .arg = "f"},
		};

		CHECK_INT(APPLY(&f, TAR, ents, &err), ==, 0);
	}
	check_content(in(&f, "../sentinel/secret"), "secret");
	check_content(in(&f, "f"), "replaced");
	check_content(in(&f, "h"), "replaced");
	CHECK_INT(type_of(in(&f, "g")), ==, S_IFIFO);
	fx_release(&f);
}

TEST(layer_whiteouts_cannot_escape)
{
	const struct ent dotdot[] = {{.path = "a/.wh...", .kind = 'f'}};
	const struct ent dot[] = {{.path = ".wh..", .kind = 'f'}};
	const struct ent empty[] = {{.path = "a/.wh.", .kind = 'f'}};
	const struct ent via[] = {
	    {.path = "evil", .kind = 'l', .arg = "../.."},
	    {.path = "evil/.wh.sentinel", .kind = 'f'},
	    {.path = "evil/.wh..wh..opq", .kind = 'f'},
	    {.path = "up", .kind = 'l', .arg = "../sentinel"},
	    {.path = "up/.wh.secret", .kind = 'f'},
	    {.path = "up/.wh..wh..opq", .kind = 'f'},
	};
	struct fx f;
	mv_error_t err = {0};

	fx_init(&f);
	write_file(in(&f, "../sentinel/secret"), "secret");
	write_file(in(&f, "../x"), "x");
	CHECK_FAILS(&f, dotdot, EINVAL, "invalid whiteout");
	CHECK_FAILS(&f, dot, EINVAL, "invalid whiteout");
	CHECK_FAILS(&f, empty, EINVAL, "invalid whiteout");
	CHECK_INT(APPLY(&f, TAR, via, &err), ==, 0);
	check_content(in(&f, "../sentinel/secret"), "secret");
	check_content(in(&f, "../x"), "x");
	fx_release(&f);
}

/* ---- broken archives ---- */

/* A layer big enough that half of it, compressed, is a torn stream. */
static void write_big_layer(const char *path, enum filter filter)
{
	static char data[256 * 1024];
	const struct ent ents[] = {{.path = "big", .kind = 'f', .arg = data},
				   {.path = "after", .kind = 'f', .arg = "x"}};
	unsigned seed = 1;

	for (size_t i = 0; i < sizeof(data) - 1; i++)
		data[i] = (char)('a' + (rand_r(&seed) % 26));
	data[sizeof(data) - 1] = '\0';
	write_layer(path, filter, ents, N_ELEMENTS(ents));
}

static void check_truncated(enum filter filter)
{
	struct fx f;
	mv_error_t err = {0};
	struct stat st;

	fx_init(&f);
	write_big_layer(f.layer, filter);
	CHECK_INT(stat(f.layer, &st), ==, 0);
	CHECK_INT(truncate(f.layer, st.st_size / 2), ==, 0);
	CHECK_INT(layer_apply(f.root, f.layer, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK(strstr(err.msg, f.layer) != NULL);
	CHECK(!exists(in(&f, "after")));
	mv_error_release(&err);
	fx_release(&f);
}

TEST(layer_truncated_tar)
{
	check_truncated(TAR);
}

TEST(layer_truncated_gzip)
{
	check_truncated(GZIP);
}

TEST(layer_truncated_zstd)
{
	check_truncated(ZSTD);
}

static void check_bad_file(const char *content, size_t len, int errnum, const char *want)
{
	struct fx f;
	mv_error_t err = {0};
	int before = unit_count_fds();

	fx_init(&f);
	if (content) {
		int fd = open(f.layer, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		CHECK(fd >= 0);
		CHECK_INT(write(fd, content, len), ==, (ssize_t)len);
		close(fd);
	}
	CHECK_INT(layer_apply(f.root, f.layer, &err), ==, -1);
	CHECK_INT(err.err, ==, errnum);
	CHECK(strstr(err.msg, f.layer) != NULL);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK_INT(unit_count_fds(), ==, before);
	mv_error_release(&err);
	fx_release(&f);
}

TEST(layer_garbage)
{
	static char junk[4096];

	memset(junk, 'Z', sizeof(junk));
	check_bad_file(junk, sizeof(junk), EINVAL, "invalid archive");
	/* a gzip header, then junk */
	memcpy(junk, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
	check_bad_file(junk, sizeof(junk), EINVAL, "invalid archive");
}

TEST(layer_corrupt_in_the_middle)
{
	struct fx f;
	mv_error_t err = {0};
	int fd;

	fx_init(&f);
	write_big_layer(f.layer, GZIP);
	fd = open(f.layer, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_INT(pwrite(fd, "\xde\xad\xbe\xef\xde\xad\xbe\xef", 8, 4096), ==, 8);
	close(fd);
	CHECK_INT(layer_apply(f.root, f.layer, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	fx_release(&f);
}

TEST(layer_empty_file)
{
	check_bad_file("", 0, EINVAL, "not an archive");
}

TEST(layer_missing_file)
{
	check_bad_file(NULL, 0, ENOENT, "open");
}

TEST(layer_empty_tar_is_an_empty_layer)
{
	struct fx f;
	mv_error_t err = {0};

	fx_init(&f);
	write_layer(f.layer, GZIP, NULL, 0);
	CHECK_INT(layer_apply(f.root, f.layer, &err), ==, 0);
	fx_release(&f);
}

/* ---- plain archives ---- */

TEST(layer_extract_plain_files_and_dirs)
{
	const struct ent ents[] = {
	    {.path = "./", .kind = 'd', .perm = 0700},
	    {.path = "blobs/sha256/", .kind = 'd', .perm = 0700, .uid = 1000, .gid = 1000},
	    {.path = "blobs/sha256/abc",
	     .kind = 'f',
	     .arg = "blob",
	     .perm = 0600,
	     .uid = 1000,
	     .gid = 1000},
	    {.path = "index.json", .kind = 'f', .arg = "{}", .perm = 04755},
	    {.path = "oci-layout", .kind = 'f', .arg = "{}"},
	};
	struct fx f;
	mv_error_t err = {0};
	struct stat st;

	fx_init(&f);
	write_layer(f.layer, TAR, ents, N_ELEMENTS(ents));
	CHECK_INT(layer_extract_plain(f.layer, f.root, &err), ==, 0);
	check_content(in(&f, "blobs/sha256/abc"), "blob");
	CHECK_INT(stat(in(&f, "blobs/sha256/abc"), &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0644);
	CHECK_INT(st.st_uid, ==, getuid());
	CHECK_INT(stat(in(&f, "blobs/sha256"), &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0755);
	CHECK_INT(stat(in(&f, "index.json"), &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0755);
	CHECK_INT(stat(f.root, &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0755);
	fx_release(&f);
}

TEST(layer_extract_plain_refuses_the_rest)
{
	/* each case: its last entry is refused */
	const struct ent cases[][2] = {
	    {{.path = "s", .kind = 'l', .arg = "/"}},
	    {{.path = "a", .kind = 'f', .arg = "a"}, {.path = "b", .kind = 'h', .arg = "a"}},
	    {{.path = "null", .kind = 'c'}},
	    {{.path = "p", .kind = 'p'}},
	    {{.path = "../x", .kind = 'f', .arg = "x"}},
	    {{.path = "/x", .kind = 'f', .arg = "x"}},
	    {{.path = "d/", .kind = 'd'}, {.path = "d/../../x", .kind = 'f'}},
	};
	struct fx f;

	fx_init(&f);
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		mv_error_t err = {0};

		write_layer(f.layer, TAR, cases[i], cases[i][1].path ? 2 : 1);
		CHECK_INT(layer_extract_plain(f.layer, f.root, &err), ==, -1);
		CHECK_INT(err.err, ==, EINVAL);
		CHECK(strstr(err.msg, f.layer) != NULL);
		mv_error_release(&err);
	}
	CHECK(!exists(in(&f, "../x")));
	CHECK(!exists(in(&f, "s")));
	fx_release(&f);
}

/* An old `docker save` links a layer two images share. */
TEST(layer_extract_plain_symlinks_inside)
{
	const struct ent ents[] = {
	    {.path = "aaa/layer.tar", .kind = 'f', .arg = "layer"},
	    {.path = "bbb/layer.tar", .kind = 'l', .arg = "../aaa/layer.tar"},
	    {.path = "bbb/c/d", .kind = 'l', .arg = "./../../aaa//layer.tar"},
	    {.path = "top", .kind = 'l', .arg = "aaa"},
	};
	struct fx f;
	mv_error_t err = {0};
	struct stat st, want;
	char target[64];
	ssize_t n;

	fx_init(&f);
	write_layer(f.layer, TAR, ents, N_ELEMENTS(ents));
	CHECK_INT(layer_extract_plain(f.layer, f.root, &err), ==, 0);
	CHECK_INT(type_of(in(&f, "bbb/layer.tar")), ==, S_IFLNK);
	n = readlink(in(&f, "bbb/layer.tar"), target, sizeof(target) - 1);
	CHECK(n > 0);
	target[n] = '\0';
	CHECK_STR(target, "../aaa/layer.tar");
	CHECK_INT(stat(in(&f, "aaa/layer.tar"), &want), ==, 0);
	CHECK_INT(stat(in(&f, "bbb/c/d"), &st), ==, 0);
	CHECK_INT(st.st_ino, ==, want.st_ino);
	check_content(in(&f, "top/layer.tar"), "layer");
	fx_release(&f);
}

TEST(layer_extract_plain_refuses_symlinks_out)
{
	/* each case: its last entry is refused */
	const struct ent cases[][2] = {
	    {{.path = "l", .kind = 'l', .arg = ".."}},
	    {{.path = "a/l", .kind = 'l', .arg = "../.."}},
	    {{.path = "a/l", .kind = 'l', .arg = "../../sentinel/x"}},
	    {{.path = "a/l", .kind = 'l', .arg = "/etc/passwd"}},
	    {{.path = "a/l", .kind = 'l', .arg = "x/../../.."}},
	    /* `..` after a name: the name may be a link to ".", so refused */
	    {{.path = "a/l", .kind = 'l', .arg = "b/../x"}},
	    {{.path = "l", .kind = 'l', .arg = ""}},
	    /* nothing goes through a symlink, not even one of the archive's */
	    {{.path = "s", .kind = 'l', .arg = "."}, {.path = "s/x", .kind = 'f', .arg = "x"}},
	};
	struct fx f;

	fx_init(&f);
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		mv_error_t err = {0};

		write_layer(f.layer, TAR, cases[i], cases[i][1].path ? 2 : 1);
		CHECK_INT(layer_extract_plain(f.layer, f.root, &err), ==, -1);
		CHECK(err.err != 0);
		CHECK(strstr(err.msg, f.layer) != NULL);
		mv_error_release(&err);
		CHECK(!exists(in(&f, "l")));
		CHECK(!exists(in(&f, "a/l")));
	}
	CHECK(!exists(in(&f, "x")));
	fx_release(&f);
}
