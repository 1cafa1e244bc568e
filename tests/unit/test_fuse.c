/* The FUSE server (vmm/fuse_server.h) with hand-built requests in plain
 * buffers, each test against its own directory tree under /tmp: the
 * protocol (INIT, lookups, files, directories, xattrs), the share's walls
 * (names, symlinks, special files, stale ids, read-only and single-file
 * shares), broken requests and short reply buffers (buffers are allocated
 * to the byte, so ASan sees an overflow), and fd leaks.  The last tests go
 * through the virtio-fs device (vmm/virtio_fs.c) with the test driver, with
 * and without worker threads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <linux/fuse.h>
#include <linux/virtio_config.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tests/unit/virtio_driver.h"
#include "vmm/devices.h"
#include "vmm/fuse_server.h"

#define ROOT	 FUSE_ROOT_ID
#define OUT_HDR	 sizeof(struct fuse_out_header)
#define IN_HDR	 sizeof(struct fuse_in_header)
#define BAD_NODE 0x7fffffff12345ULL
#define BAD_FH	 0x7fffffff54321ULL
#define NDIRENTS 3000

struct fsrv {
	struct fuse_server *s;
	char dir[64];
	uint64_t unique;
	uint32_t flags; /* negotiated at INIT */
};

/* Request arguments built piece by piece. */
struct args {
	uint8_t b[8192];
	size_t len;
};

static void put(struct args *a, const void *p, size_t n)
{
	CHECK(a->len + n <= sizeof(a->b));
	memcpy(a->b + a->len, p, n);
	a->len += n;
}

static void put_str(struct args *a, const char *s)
{
	put(a, s, strlen(s) + 1);
}

/* ---- host side ------------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Trees left by a failed check go at exit (each test is its own process). */
static char made_dirs[4][64];
static int nmade;

static void rm_made(void)
{
	for (int i = 0; i < nmade; i++)
		rm_tree(made_dirs[i]);
}

static void make_tmpdir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/mvrun-fuse-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	if (nmade == 0)
		atexit(rm_made);
	if (nmade < 4)
		snprintf(made_dirs[nmade++], sizeof(made_dirs[0]), "%s", dir);
}

static const char *host_path(const struct fsrv *f, const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", f->dir, name);
	return p;
}

static void host_write(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CHECK(fd >= 0);
	CHECK_INT(write(fd, data, strlen(data)), ==, strlen(data));
	close(fd);
}

/* The file's contents, NUL-terminated, in a static buffer. */
static const char *host_read(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	CHECK(n >= 0);
	buf[n] = 0;
	close(fd);
	return buf;
}

static bool host_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* ---- requests ----------------------------------------------------------- */

/* Send one request in exactly sized buffers; returns what handle() did. */
static size_t send_raw(struct fsrv *f, const void *req, size_t len, void *out, size_t room)
{
	uint8_t *in_copy = malloc(len ? len : 1);
	uint8_t *out_buf = malloc(room ? room : 1);
	struct iovec in = {in_copy, len}, o = {out_buf, room};
	size_t n;

	CHECK(in_copy && out_buf);
	memcpy(in_copy, req, len);
	n = fuse_server_handle(f->s, &in, 1, &o, 1);
	CHECK_INT(n, <=, room);
	if (out)
		memcpy(out, out_buf, n);
	free(in_copy);
	free(out_buf);
	return n;
}

static size_t build(struct fsrv *f, uint8_t *req, size_t size, uint32_t op, uint64_t node,
		    const void *arg, size_t arg_len)
{
	struct fuse_in_header h = {
	    .len = (uint32_t)(IN_HDR + arg_len),
	    .opcode = op,
	    .unique = ++f->unique,
	    .nodeid = node,
	    .uid = getuid(),
	    .gid = getgid(),
	    .pid = (uint32_t)getpid(),
	};

	CHECK(IN_HDR + arg_len <= size);
	memcpy(req, &h, IN_HDR);
	if (arg_len)
		memcpy(req + IN_HDR, arg, arg_len);
	return IN_HDR + arg_len;
}

/* Check a reply's header; returns its error. */
static int check_reply(struct fsrv *f, const uint8_t *out, size_t n, int line)
{
	struct fuse_out_header oh;

	if (n < OUT_HDR)
		unit_fail(__FILE__, line, "no reply (%zu bytes)", n);
	memcpy(&oh, out, OUT_HDR);
	if (oh.len != n || oh.unique != f->unique)
		unit_fail(__FILE__, line, "reply header: len %u of %zu, unique %llu of %llu",
			  oh.len, n, (unsigned long long)oh.unique, (unsigned long long)f->unique);
	if (oh.error > 0 || oh.error < -4095 || (oh.error && n != OUT_HDR))
		unit_fail(__FILE__, line, "reply error %d with %zu bytes", oh.error, n);
	return oh.error;
}

/* A request with a reply: its error (0 or -errno); the payload (at most
 * room bytes) goes to reply and its size to *got. */
static int call_at(struct fsrv *f, uint32_t op, uint64_t node, const void *arg, size_t arg_len,
		   void *reply, size_t room, size_t *got, int line)
{
	size_t len = IN_HDR + arg_len, n;
	uint8_t *req = malloc(len), *out = malloc(OUT_HDR + room);
	int err;

	CHECK(req && out);
	build(f, req, len, op, node, arg, arg_len);
	n = send_raw(f, req, len, out, OUT_HDR + room);
	err = check_reply(f, out, n, line);
	if (reply && n > OUT_HDR)
		memcpy(reply, out + OUT_HDR, n - OUT_HDR);
	if (got)
		*got = n - OUT_HDR;
	free(req);
	free(out);
	return err;
}

#define call(f, op, node, arg, arg_len, reply, room, got)                                          \
	call_at(f, op, node, arg, arg_len, reply, room, got, __LINE__)

/* A request that must not be answered (FORGET, INTERRUPT). */
static void call_noreply(struct fsrv *f, uint32_t op, uint64_t node, const void *arg,
			 size_t arg_len)
{
	uint8_t req[IN_HDR + 4096];
	size_t len = build(f, req, sizeof(req), op, node, arg, arg_len);

	CHECK_INT(send_raw(f, req, len, NULL, 4096), ==, 0);
}

/* Payload size of a successful reply must be exactly `want`. */
static int call_fixed_at(struct fsrv *f, uint32_t op, uint64_t node, const void *arg,
			 size_t arg_len, void *reply, size_t want, int line)
{
	size_t got = 0;
	int err = call_at(f, op, node, arg, arg_len, reply, want, &got, line);

	if (err == 0 && got != want)
		unit_fail(__FILE__, line, "reply of %zu bytes, expected %zu", got, want);
	return err;
}

#define call_fixed(f, op, node, arg, arg_len, reply, want)                                         \
	call_fixed_at(f, op, node, arg, arg_len, reply, want, __LINE__)

static void fs_init_flags(struct fsrv *f, uint32_t flags, struct fuse_init_out *out)
{
	struct fuse_init_in in = {
	    .major = FUSE_KERNEL_VERSION,
	    .minor = FUSE_KERNEL_MINOR_VERSION,
	    .max_readahead = 128 * 1024,
	    .flags = flags,
	};
	struct fuse_init_out o;
	size_t got;

	CHECK_INT(call(f, FUSE_INIT, 0, &in, sizeof(in), &o, sizeof(o), &got), ==, 0);
	CHECK_INT(got, >=, FUSE_COMPAT_22_INIT_OUT_SIZE);
	CHECK_INT(o.major, ==, FUSE_KERNEL_VERSION);
	CHECK_INT(o.minor, >=, 27);
	CHECK_INT(o.minor, <=, FUSE_KERNEL_MINOR_VERSION);
	CHECK_INT(o.max_write, >=, 4096);
	/* the server may only take up what was offered */
	CHECK_INT(o.flags & ~flags, ==, 0);
	f->flags = o.flags;
	if (out)
		*out = o;
}

#define LINUX_INIT_FLAGS                                                                           \
	(FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |         \
	 FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_SETXATTR_EXT | FUSE_ATOMIC_O_TRUNC |         \
	 FUSE_AUTO_INVAL_DATA | FUSE_HANDLE_KILLPRIV | FUSE_DONT_MASK)

static void fs_init(struct fsrv *f)
{
	fs_init_flags(f, LINUX_INIT_FLAGS, NULL);
}

static void fsrv_open_path(struct fsrv *f, const char *path, bool readonly)
{
	mv_error_t err = {0};

	CHECK_INT(fuse_server_create(&f->s, path, readonly, &err), ==, 0);
	CHECK(f->s != NULL);
}

/* A fresh tree (filled by the test) and, unless later, a server for it. */
static void fsrv_tree(struct fsrv *f)
{
	memset(f, 0, sizeof(*f));
	make_tmpdir(f->dir, sizeof(f->dir));
}

static void fsrv_open(struct fsrv *f, bool readonly)
{
	fsrv_open_path(f, f->dir, readonly);
	fs_init(f);
}

static void fsrv_close(struct fsrv *f)
{
	if (f->s)
		fuse_server_destroy(f->s);
	f->s = NULL;
	rm_tree(f->dir);
}

static int lookup(struct fsrv *f, uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	struct fuse_entry_out dummy;
	struct args a = {0};

	put_str(&a, name);
	return call_fixed(f, FUSE_LOOKUP, parent, a.b, a.len, e ? e : &dummy, sizeof(*e));
}

/* Look a name up that must exist; its node id. */
static uint64_t node_of(struct fsrv *f, uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	CHECK_INT(lookup(f, parent, name, &e), ==, 0);
	CHECK(e.nodeid != 0);
	return e.nodeid;
}

static void forget(struct fsrv *f, uint64_t node, uint64_t n)
{
	struct fuse_forget_in in = {.nlookup = n};
	call_noreply(f, FUSE_FORGET, node, &in, sizeof(in));
}

static int getattr(struct fsrv *f, uint64_t node, struct fuse_attr_out *out)
{
	struct fuse_getattr_in in = {0};
	struct fuse_attr_out dummy;

	return call_fixed(f, FUSE_GETATTR, node, &in, sizeof(in), out ? out : &dummy, sizeof(*out));
}

static int do_mkdir(struct fsrv *f, uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = {.mode = 0755, .umask = 022};
	struct fuse_entry_out dummy;
	struct args a = {0};

	put(&a, &in, sizeof(in));
	put_str(&a, name);
	return call_fixed(f, FUSE_MKDIR, parent, a.b, a.len, e ? e : &dummy, sizeof(*e));
}

struct create_out {
	struct fuse_entry_out e;
	struct fuse_open_out o;
};

static int do_create(struct fsrv *f, uint64_t parent, const char *name, uint32_t flags,
		     struct create_out *out)
{
	struct fuse_create_in in = {.flags = flags, .mode = S_IFREG | 0644, .umask = 022};
	struct create_out dummy;
	struct args a = {0};

	put(&a, &in, sizeof(in));
	put_str(&a, name);
	return call_fixed(f, FUSE_CREATE, parent, a.b, a.len, out ? out : &dummy, sizeof(*out));
}

static int do_open(struct fsrv *f, uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in = {.flags = flags};
	struct fuse_open_out o;
	int err = call_fixed(f, FUSE_OPEN, node, &in, sizeof(in), &o, sizeof(o));

	if (fh)
		*fh = err == 0 ? o.fh : 0;
	return err;
}

static int do_opendir(struct fsrv *f, uint64_t node, uint64_t *fh)
{
	struct fuse_open_in in = {.flags = O_RDONLY | O_DIRECTORY};
	struct fuse_open_out o;
	int err = call_fixed(f, FUSE_OPENDIR, node, &in, sizeof(in), &o, sizeof(o));

	if (fh)
		*fh = err == 0 ? o.fh : 0;
	return err;
}

static int do_release(struct fsrv *f, uint32_t op, uint64_t node, uint64_t fh)
{
	struct fuse_release_in in = {.fh = fh};
	return call(f, op, node, &in, sizeof(in), NULL, 0, NULL);
}

static int do_write(struct fsrv *f, uint64_t node, uint64_t fh, uint64_t off, const void *data,
		    uint32_t len, uint32_t *written)
{
	struct fuse_write_in in = {.fh = fh, .offset = off, .size = len};
	uint8_t *a = malloc(sizeof(in) + len);
	struct fuse_write_out o = {0};
	int err;

	CHECK(a != NULL);
	memcpy(a, &in, sizeof(in));
	memcpy(a + sizeof(in), data, len);
	err = call_fixed(f, FUSE_WRITE, node, a, sizeof(in) + len, &o, sizeof(o));
	free(a);
	if (written)
		*written = o.size;
	return err;
}

static int do_read(struct fsrv *f, uint64_t node, uint64_t fh, uint64_t off, uint32_t size,
		   void *buf, size_t *got)
{
	struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
	return call(f, FUSE_READ, node, &in, sizeof(in), buf, size, got);
}

static int name_op(struct fsrv *f, uint32_t op, uint64_t parent, const char *name)
{
	struct args a = {0};

	put_str(&a, name);
	return call(f, op, parent, a.b, a.len, NULL, 0, NULL);
}

static int do_rename(struct fsrv *f, uint64_t dir, const char *old, uint64_t newdir,
		     const char *new)
{
	struct fuse_rename_in in = {.newdir = newdir};
	struct args a = {0};

	put(&a, &in, sizeof(in));
	put_str(&a, old);
	put_str(&a, new);
	return call(f, FUSE_RENAME, dir, a.b, a.len, NULL, 0, NULL);
}

static int do_link(struct fsrv *f, uint64_t old, uint64_t newparent, const char *name)
{
	struct fuse_link_in in = {.oldnodeid = old};
	struct fuse_entry_out e;
	struct args a = {0};

	put(&a, &in, sizeof(in));
	put_str(&a, name);
	return call_fixed(f, FUSE_LINK, newparent, a.b, a.len, &e, sizeof(e));
}

static int do_symlink(struct fsrv *f, uint64_t parent, const char *name, const char *target)
{
	struct fuse_entry_out e;
	struct args a = {0};

	put_str(&a, name);
	put_str(&a, target);
	return call_fixed(f, FUSE_SYMLINK, parent, a.b, a.len, &e, sizeof(e));
}

static int do_mknod(struct fsrv *f, uint64_t parent, const char *name, uint32_t mode, uint32_t rdev)
{
	struct fuse_mknod_in in = {.mode = mode, .rdev = rdev, .umask = 022};
	struct fuse_entry_out e;
	struct args a = {0};

	put(&a, &in, sizeof(in));
	put_str(&a, name);
	return call_fixed(f, FUSE_MKNOD, parent, a.b, a.len, &e, sizeof(e));
}

static int do_setattr(struct fsrv *f, uint64_t node, const struct fuse_setattr_in *in,
		      struct fuse_attr_out *out)
{
	struct fuse_attr_out dummy;
	return call_fixed(f, FUSE_SETATTR, node, in, sizeof(*in), out ? out : &dummy, sizeof(*out));
}

static int do_setxattr(struct fsrv *f, uint64_t node, const char *name, const void *value,
		       uint32_t size)
{
	struct fuse_setxattr_in in = {.size = size};
	struct args a = {0};

	/* the short form unless the server took the extended one at INIT */
	put(&a, &in, (f->flags & FUSE_SETXATTR_EXT) ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE);
	put_str(&a, name);
	put(&a, value, size);
	return call(f, FUSE_SETXATTR, node, a.b, a.len, NULL, 0, NULL);
}

/* ---- directory listings ------------------------------------------------- */

struct listing {
	unsigned char seen[NDIRENTS];
	int dots, others, total, calls;
	uint64_t nodeids[2048]; /* readdirplus: entries of the last call, to forget */
	int nnodeids;
};

static void list_name(struct listing *l, const char *name, size_t len)
{
	unsigned i;
	char tmp[300];

	CHECK(len > 0 && len < sizeof(tmp));
	memcpy(tmp, name, len);
	tmp[len] = 0;
	CHECK(memchr(tmp, '/', len) == NULL);
	l->total++;
	if (!strcmp(tmp, ".") || !strcmp(tmp, "..")) {
		l->dots++;
		return;
	}
	if (sscanf(tmp, "n%u", &i) == 1 && i < NDIRENTS) {
		if (l->seen[i])
			unit_fail(__FILE__, __LINE__, "`%s` listed twice", tmp);
		l->seen[i] = 1;
		return;
	}
	l->others++;
}

/* Parse one READDIR(PLUS) reply; the offset to continue from, 0 if empty. */
static uint64_t parse_dirents(struct listing *l, const uint8_t *buf, size_t len, bool plus,
			      uint64_t prev)
{
	size_t pos = 0;
	uint64_t next = 0;

	l->nnodeids = 0;
	while (pos < len) {
		struct fuse_entry_out e = {0};
		struct fuse_dirent d;
		size_t head = plus ? sizeof(e) : 0, reclen;

		CHECK(len - pos >= head + FUSE_NAME_OFFSET);
		if (plus)
			memcpy(&e, buf + pos, sizeof(e));
		memcpy(&d, buf + pos + head, FUSE_NAME_OFFSET);
		CHECK(d.namelen > 0 && d.namelen <= 255);
		reclen = FUSE_DIRENT_ALIGN(head + FUSE_NAME_OFFSET + d.namelen);
		CHECK(reclen <= len - pos);
		CHECK(d.off != 0 && d.off != prev);
		list_name(l, (const char *)buf + pos + head + FUSE_NAME_OFFSET, d.namelen);
		if (plus && e.nodeid != 0) {
			const char *nm = (const char *)buf + pos + head + FUSE_NAME_OFFSET;
			bool dot = (d.namelen == 1 && nm[0] == '.') ||
				   (d.namelen == 2 && nm[0] == '.' && nm[1] == '.');

			CHECK(e.attr.mode != 0);
			if (!dot && e.nodeid != ROOT && l->nnodeids < 2048)
				l->nodeids[l->nnodeids++] = e.nodeid;
		}
		next = d.off;
		pos += reclen;
	}
	return next;
}

/* List a directory with `size`-byte READDIR(PLUS) calls until the end. */
static void list_dir(struct fsrv *f, uint64_t node, bool plus, uint32_t size, struct listing *l)
{
	uint8_t *buf = malloc(size);
	uint64_t fh, off = 0;

	CHECK(buf != NULL);
	memset(l, 0, sizeof(*l));
	CHECK_INT(do_opendir(f, node, &fh), ==, 0);
	for (;;) {
		struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
		size_t got;

		CHECK_INT(l->calls++, <, 10 * NDIRENTS);
		CHECK_INT(call(f, plus ? FUSE_READDIRPLUS : FUSE_READDIR, node, &in, sizeof(in),
			       buf, size, &got),
			  ==, 0);
		if (got == 0)
			break;
		off = parse_dirents(l, buf, got, plus, off);
		/* as the kernel does: drop the lookups readdirplus counted */
		for (int i = 0; i < l->nnodeids; i++)
			forget(f, l->nodeids[i], 1);
	}
	CHECK_INT(do_release(f, FUSE_RELEASEDIR, node, fh), ==, 0);
	free(buf);
}

/* ---- protocol ------------------------------------------------------------- */

TEST(fuse_init_first)
{
	struct fuse_init_in old = {.major = 6, .minor = 0};
	struct fuse_init_out o;
	struct fsrv f;

	fsrv_tree(&f);
	host_write(host_path(&f, "f"), "x");
	fsrv_open_path(&f, f.dir, false);
	/* nothing is served before INIT */
	CHECK(getattr(&f, ROOT, NULL) < 0);
	CHECK(lookup(&f, ROOT, "f", NULL) < 0);
	/* a protocol we do not speak */
	CHECK(call(&f, FUSE_INIT, 0, &old, sizeof(old), NULL, 0, NULL) < 0);
	/* a short INIT */
	CHECK(call(&f, FUSE_INIT, 0, &old, 4, NULL, 0, NULL) < 0);

	fuse_server_set_max_pages(f.s, 16);
	fs_init_flags(&f, LINUX_INIT_FLAGS, &o);
	if (o.flags & FUSE_MAX_PAGES) {
		CHECK_INT(o.max_pages, >=, 1);
		CHECK_INT(o.max_pages, <=, 16);
	}
	CHECK_INT(o.max_write, <=, 16 * 4096);
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	CHECK_INT(lookup(&f, ROOT, "f", NULL), ==, 0);

	/* DESTROY (an unmount) drops the guest's nodes and wants a new INIT */
	{
		uint64_t n = node_of(&f, ROOT, "f");

		CHECK_INT(call_fixed(&f, FUSE_DESTROY, 0, NULL, 0, NULL, 0), ==, 0);
		CHECK(getattr(&f, ROOT, NULL) < 0);
		CHECK(call(&f, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL) < 0);
		fs_init(&f);
		CHECK_INT(getattr(&f, n, NULL), ==, -ESTALE);
		CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	}

	/* a reset wants a new INIT */
	fuse_server_reset(f.s);
	CHECK(getattr(&f, ROOT, NULL) < 0);
	fs_init(&f);
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	fsrv_close(&f);
}

TEST(fuse_init_newer_major)
{
	struct fuse_init_in in = {.major = FUSE_KERNEL_VERSION + 1, .minor = 0};
	struct fuse_init_out o;
	struct fsrv f;
	size_t got;
	int err;

	fsrv_tree(&f);
	fsrv_open_path(&f, f.dir, false);
	/* the server answers with its major for the kernel to retry, or refuses */
	err = call(&f, FUSE_INIT, 0, &in, sizeof(in), &o, sizeof(o), &got);
	if (err == 0) {
		CHECK_INT(got, >=, 8);
		CHECK_INT(o.major, ==, FUSE_KERNEL_VERSION);
	}
	fsrv_close(&f);
}

TEST(fuse_lookup_getattr)
{
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct fsrv f;
	uint64_t d;

	fsrv_tree(&f);
	host_write(host_path(&f, "f"), "hello");
	CHECK_INT(mkdir(host_path(&f, "d"), 0755), ==, 0);
	host_write(host_path(&f, "d/g"), "12345678");
	fsrv_open(&f, false);

	CHECK_INT(getattr(&f, ROOT, &a), ==, 0);
	CHECK(S_ISDIR(a.attr.mode));

	CHECK_INT(lookup(&f, ROOT, "f", &e), ==, 0);
	CHECK(e.nodeid != 0 && e.nodeid != ROOT);
	CHECK(S_ISREG(e.attr.mode));
	CHECK_INT(e.attr.size, ==, 5);
	CHECK_INT(e.attr.ino, !=, 0);
	CHECK_INT(getattr(&f, e.nodeid, &a), ==, 0);
	CHECK_INT(a.attr.size, ==, 5);
	CHECK_INT(a.attr.ino, ==, e.attr.ino);

	d = node_of(&f, ROOT, "d");
	CHECK_INT(lookup(&f, d, "g", &e), ==, 0);
	CHECK_INT(e.attr.size, ==, 8);
	/* the same inode twice is the same node */
	CHECK_INT(node_of(&f, ROOT, "d"), ==, d);

	CHECK_INT(lookup(&f, ROOT, "missing", NULL), ==, -ENOENT);
	CHECK_INT(lookup(&f, d, "f", NULL), ==, -ENOENT);
	fsrv_close(&f);
}

TEST(fuse_file_round_trip)
{
	static const char data[] = "written through FUSE";
	struct fuse_setattr_in sa = {0};
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct create_out c;
	char buf[256];
	struct fsrv f;
	uint32_t written;
	uint64_t fh;
	size_t got;

	fsrv_tree(&f);
	fsrv_open(&f, false);

	CHECK_INT(do_mkdir(&f, ROOT, "d", &e), ==, 0);
	CHECK(S_ISDIR(e.attr.mode));
	CHECK(host_exists(host_path(&f, "d")));
	CHECK_INT(do_create(&f, e.nodeid, "x", O_RDWR, &c), ==, 0);
	CHECK(S_ISREG(c.e.attr.mode));
	CHECK_INT(do_write(&f, c.e.nodeid, c.o.fh, 0, data, sizeof(data) - 1, &written), ==, 0);
	CHECK_INT(written, ==, sizeof(data) - 1);
	CHECK_INT(do_write(&f, c.e.nodeid, c.o.fh, 100, "tail", 4, &written), ==, 0);
	CHECK_INT(do_release(&f, FUSE_RELEASE, c.e.nodeid, c.o.fh), ==, 0);
	CHECK_STR(host_read(host_path(&f, "d/x")), data);
	CHECK_INT(getattr(&f, c.e.nodeid, &a), ==, 0);
	CHECK_INT(a.attr.size, ==, 104);

	/* the host's changes are seen */
	host_write(host_path(&f, "d/x"), "from the host");
	CHECK_INT(do_open(&f, c.e.nodeid, O_RDONLY, &fh), ==, 0);
	CHECK_INT(do_read(&f, c.e.nodeid, fh, 0, sizeof(buf), buf, &got), ==, 0);
	CHECK_INT(got, ==, 13);
	CHECK(memcmp(buf, "from the host", 13) == 0);
	CHECK_INT(do_read(&f, c.e.nodeid, fh, 5, 3, buf, &got), ==, 0);
	CHECK_INT(got, ==, 3);
	CHECK(memcmp(buf, "the", 3) == 0);
	CHECK_INT(do_read(&f, c.e.nodeid, fh, 1000, 10, buf, &got), ==, 0);
	CHECK_INT(got, ==, 0);
	/* a read-only handle does not write */
	CHECK(do_write(&f, c.e.nodeid, fh, 0, "no", 2, NULL) < 0);
	CHECK_INT(do_release(&f, FUSE_RELEASE, c.e.nodeid, fh), ==, 0);
	/* a released handle is gone */
	CHECK_INT(do_read(&f, c.e.nodeid, fh, 0, 10, buf, &got), ==, -EBADF);

	sa.valid = FATTR_SIZE;
	sa.size = 4;
	CHECK_INT(do_setattr(&f, c.e.nodeid, &sa, &a), ==, 0);
	CHECK_INT(a.attr.size, ==, 4);
	CHECK_STR(host_read(host_path(&f, "d/x")), "from");

	CHECK_INT(do_rename(&f, e.nodeid, "x", ROOT, "y"), ==, 0);
	CHECK(!host_exists(host_path(&f, "d/x")));
	CHECK_STR(host_read(host_path(&f, "y")), "from");
	CHECK_INT(name_op(&f, FUSE_RMDIR, ROOT, "d"), ==, 0);
	CHECK(!host_exists(host_path(&f, "d")));
	CHECK_INT(name_op(&f, FUSE_UNLINK, ROOT, "y"), ==, 0);
	CHECK(!host_exists(host_path(&f, "y")));
	/* the unlinked file's node still answers from its fd */
	CHECK_INT(getattr(&f, c.e.nodeid, NULL), ==, 0);
	fsrv_close(&f);
}

TEST(fuse_readdir_many)
{
	struct listing *l = calloc(1, sizeof(*l));
	struct fsrv f;
	int before;

	CHECK(l != NULL);
	fsrv_tree(&f);
	for (int i = 0; i < NDIRENTS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%04d", i);
		host_write(host_path(&f, name), "");
	}
	fsrv_open(&f, false);
	before = unit_count_fds();

	for (int plus = 0; plus < 2; plus++) {
		for (uint32_t size = 4096; size <= 65536; size *= 16) {
			list_dir(&f, ROOT, plus, size, l);
			for (int i = 0; i < NDIRENTS; i++)
				if (!l->seen[i])
					unit_fail(__FILE__, __LINE__, "n%04d missing (plus %d)", i,
						  plus);
			CHECK_INT(l->others, ==, 0);
			CHECK_INT(l->dots, <=, 2);
			CHECK_INT(l->calls, >, 2);
		}
	}
	/* every lookup readdirplus counted was forgotten */
	CHECK_INT(unit_count_fds(), ==, before);
	free(l);
	fsrv_close(&f);
}

/* Names created on the host while the guest lists a directory must not
 * make it see another name twice: on tmpfs a seek to an offset counts
 * entries, so the server must not seek back between READDIRs. */
TEST(fuse_readdir_while_creating)
{
	struct listing *l = calloc(1, sizeof(*l));
	uint8_t buf[4096];
	uint64_t fh, off = 0;
	struct fsrv f;
	int extra = 0;

	CHECK(l != NULL);
	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/dev/shm/mvrun-fuse-XXXXXX"); /* tmpfs */
	if (mkdtemp(f.dir) == NULL)
		make_tmpdir(f.dir, sizeof(f.dir));
	for (int i = 0; i < 300; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%04d", i);
		host_write(host_path(&f, name), "");
	}
	fsrv_open(&f, false);
	CHECK_INT(do_opendir(&f, ROOT, &fh), ==, 0);
	for (;;) {
		struct fuse_read_in in = {.fh = fh, .offset = off, .size = sizeof(buf)};
		size_t got;
		char name[32];

		CHECK_INT(l->calls++, <, 100);
		CHECK_INT(call(&f, FUSE_READDIR, ROOT, &in, sizeof(in), buf, sizeof(buf), &got), ==,
			  0);
		if (got == 0)
			break;
		off = parse_dirents(l, buf, got, false, off); /* fails on a name seen twice */
		for (int i = 0; i < 5; i++, extra++) {
			snprintf(name, sizeof(name), "x%04d", extra);
			host_write(host_path(&f, name), "");
		}
	}
	CHECK_INT(do_release(&f, FUSE_RELEASEDIR, ROOT, fh), ==, 0);
	for (int i = 0; i < 300; i++)
		if (!l->seen[i])
			unit_fail(__FILE__, __LINE__, "n%04d missing", i);
	CHECK_INT(l->calls, >, 2);
	fsrv_close(&f);
	rm_tree(f.dir);
	free(l);
}

TEST(fuse_readdir_hostile_offsets)
{
	struct fsrv f;
	uint8_t buf[4096];
	uint64_t fh, fh_file;
	size_t got;

	fsrv_tree(&f);
	for (int i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%04d", i);
		host_write(host_path(&f, name), "");
	}
	fsrv_open(&f, false);
	CHECK_INT(do_opendir(&f, ROOT, &fh), ==, 0);
	/* offsets the server never gave out */
	for (int i = 0; i < 4; i++) {
		uint64_t offs[] = {~0ULL, 1ULL << 63, 12345678, 3};
		struct fuse_read_in in = {.fh = fh, .offset = offs[i], .size = sizeof(buf)};
		int err = call(&f, FUSE_READDIR, ROOT, &in, sizeof(in), buf, sizeof(buf), &got);

		CHECK(err <= 0);
	}
	/* a directory handle is not a file handle and the other way round */
	{
		struct fuse_read_in in = {.fh = fh, .size = 100};
		CHECK_INT(call(&f, FUSE_READ, ROOT, &in, sizeof(in), buf, 100, &got), ==, -EBADF);
	}
	CHECK_INT(do_open(&f, node_of(&f, ROOT, "n0001"), O_RDONLY, &fh_file), ==, 0);
	{
		struct fuse_read_in in = {.fh = fh_file, .size = sizeof(buf)};
		CHECK_INT(call(&f, FUSE_READDIR, ROOT, &in, sizeof(in), buf, sizeof(buf), &got), ==,
			  -EBADF);
	}
	/* a zero-sized read */
	{
		struct fuse_read_in in = {.fh = fh, .size = 0};
		CHECK(call(&f, FUSE_READDIR, ROOT, &in, sizeof(in), buf, 0, &got) <= 0);
	}
	CHECK_INT(do_release(&f, FUSE_RELEASEDIR, ROOT, fh), ==, 0);
	fsrv_close(&f);
}

/* ---- the share's walls ---------------------------------------------------- */

TEST(fuse_bad_names)
{
	static const char *bad[] = {"..", ".", "a/b", "", "/", "a/", "/etc"};
	char longname[300];
	struct fsrv f;
	uint64_t a;

	fsrv_tree(&f);
	CHECK_INT(mkdir(host_path(&f, "a"), 0755), ==, 0);
	host_write(host_path(&f, "a/b"), "b");
	fsrv_open(&f, false);
	a = node_of(&f, ROOT, "a");
	memset(longname, 'x', 256);
	longname[256] = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(lookup(&f, ROOT, bad[i], NULL) < 0);
		CHECK(lookup(&f, a, bad[i], NULL) < 0);
		CHECK(do_mkdir(&f, ROOT, bad[i], NULL) < 0);
		CHECK(do_create(&f, a, bad[i], O_RDWR, NULL) < 0);
		CHECK(name_op(&f, FUSE_UNLINK, a, bad[i]) < 0);
		CHECK(name_op(&f, FUSE_RMDIR, a, bad[i]) < 0);
		CHECK(do_rename(&f, a, "b", ROOT, bad[i]) < 0);
		CHECK(do_symlink(&f, ROOT, bad[i], "x") < 0);
	}
	CHECK(host_exists(host_path(&f, "a/b")));
	CHECK(lookup(&f, ROOT, longname, NULL) < 0);
	CHECK(do_mkdir(&f, ROOT, longname, NULL) < 0);
	CHECK(do_create(&f, ROOT, longname, O_RDWR, NULL) < 0);
	/* 255 bytes is a name */
	longname[255] = 0;
	CHECK_INT(lookup(&f, ROOT, longname, NULL), ==, -ENOENT);

	/* a name without its NUL, and a NUL inside the argument */
	{
		struct args x = {0};
		put(&x, "a", 1);
		CHECK(call(&f, FUSE_LOOKUP, ROOT, x.b, x.len, NULL, sizeof(struct fuse_entry_out),
			   NULL) < 0);
	}
	{
		struct args x = {0};
		put(&x, "a\0b", 4);
		/* "a" then junk: either "a" or an error, never "a/b" */
		struct fuse_entry_out e;
		int err = call(&f, FUSE_LOOKUP, ROOT, x.b, x.len, &e, sizeof(e), NULL);
		if (err == 0)
			CHECK(S_ISDIR(e.attr.mode));
	}
	fsrv_close(&f);
}

TEST(fuse_symlinks_not_followed)
{
	char outside[64], target[128];
	struct fuse_entry_out e;
	struct fsrv f;
	char buf[4096];
	uint64_t up, root_link, rel, fh;
	size_t got;

	make_tmpdir(outside, sizeof(outside));
	host_write(strcat(strcpy(target, outside), "/secret"), "secret");
	fsrv_tree(&f);
	CHECK_INT(symlink("/", host_path(&f, "root")), ==, 0);
	CHECK_INT(symlink("../../..", host_path(&f, "up")), ==, 0);
	CHECK_INT(symlink(outside, host_path(&f, "out")), ==, 0);
	snprintf(target, sizeof(target), "../%s", outside + 5);
	CHECK_INT(symlink(target, host_path(&f, "rel")), ==, 0);
	fsrv_open(&f, false);

	CHECK_INT(lookup(&f, ROOT, "root", &e), ==, 0);
	CHECK(S_ISLNK(e.attr.mode));
	root_link = e.nodeid;
	up = node_of(&f, ROOT, "up");
	rel = node_of(&f, ROOT, "rel");
	uint64_t out = node_of(&f, ROOT, "out");

	/* the symlinks' targets come back verbatim */
	CHECK_INT(call(&f, FUSE_READLINK, root_link, NULL, 0, buf, sizeof(buf), &got), ==, 0);
	CHECK_INT(got, ==, 1);
	CHECK(buf[0] == '/');
	CHECK_INT(call(&f, FUSE_READLINK, up, NULL, 0, buf, sizeof(buf), &got), ==, 0);
	CHECK_INT(got, ==, 8);
	CHECK(memcmp(buf, "../../..", 8) == 0);
	/* READLINK of something that is not a symlink */
	CHECK(call(&f, FUSE_READLINK, ROOT, NULL, 0, buf, sizeof(buf), &got) < 0);

	/* a symlink is never a directory to look in or create in */
	uint64_t links[] = {root_link, up, rel, out};
	for (int i = 0; i < 4; i++) {
		uint64_t l = links[i];
		struct fuse_entry_out ee;

		CHECK(lookup(&f, l, "etc", &ee) < 0);
		CHECK(lookup(&f, l, "secret", &ee) < 0);
		CHECK(lookup(&f, l, "tmp", &ee) < 0);
		CHECK(do_mkdir(&f, l, "pwned", NULL) < 0);
		CHECK(do_create(&f, l, "pwned-file", O_RDWR, NULL) < 0);
		CHECK(do_symlink(&f, l, "pwned-link", "x") < 0);
		CHECK(name_op(&f, FUSE_UNLINK, l, "secret") < 0);
		CHECK(do_opendir(&f, l, &fh) < 0);
		CHECK(do_open(&f, l, O_RDONLY, &fh) < 0);
		CHECK(do_open(&f, l, O_WRONLY, &fh) < 0);
		CHECK(do_open(&f, l, O_RDONLY | O_NOFOLLOW, &fh) < 0);
	}
	/* nothing came through */
	CHECK(!host_exists("/pwned") && !host_exists("/pwned-file"));
	snprintf(target, sizeof(target), "%s/pwned", outside);
	CHECK(!host_exists(target));
	snprintf(target, sizeof(target), "%s/pwned-file", outside);
	CHECK(!host_exists(target));
	snprintf(target, sizeof(target), "%s/secret", outside);
	CHECK_STR(host_read(target), "secret");

	/* a symlink made by the guest is stored verbatim and not followed */
	CHECK_INT(do_symlink(&f, ROOT, "made", "../../../etc"), ==, 0);
	CHECK_INT(readlink(host_path(&f, "made"), buf, sizeof(buf)), ==, 12);
	CHECK(memcmp(buf, "../../../etc", 12) == 0);
	CHECK(lookup(&f, node_of(&f, ROOT, "made"), "passwd", NULL) < 0);

	/* renaming into a symlink "directory" */
	host_write(host_path(&f, "victim"), "v");
	CHECK(do_rename(&f, ROOT, "victim", out, "moved") < 0);
	CHECK(host_exists(host_path(&f, "victim")));
	snprintf(target, sizeof(target), "%s/moved", outside);
	CHECK(!host_exists(target));
	/* linking into one */
	CHECK(do_link(&f, node_of(&f, ROOT, "victim"), out, "linked") < 0);
	snprintf(target, sizeof(target), "%s/linked", outside);
	CHECK(!host_exists(target));
	fsrv_close(&f);
	rm_tree(outside);
}

TEST(fuse_symlink_targets_untouched)
{
	char outside[64], secret[128], missing[128], val[16];
	struct fuse_setattr_in sa = {0};
	struct fuse_getxattr_in gx = {.size = 64};
	struct stat before, after;
	struct fsrv f;
	struct args a;
	bool xattrs;
	uint64_t link;
	size_t got;

	make_tmpdir(outside, sizeof(outside));
	snprintf(secret, sizeof(secret), "%s/secret", outside);
	snprintf(missing, sizeof(missing), "%s/created", outside);
	host_write(secret, "secret");
	xattrs = setxattr(secret, "user.secret", "hidden", 6, 0) == 0;
	CHECK_INT(lstat(secret, &before), ==, 0);
	fsrv_tree(&f);
	CHECK_INT(symlink(secret, host_path(&f, "to-secret")), ==, 0);
	CHECK_INT(symlink(missing, host_path(&f, "dangling")), ==, 0);
	fsrv_open(&f, false);

	/* CREATE on a symlink's name neither follows it nor truncates its target */
	CHECK(do_create(&f, ROOT, "dangling", O_RDWR, NULL) < 0);
	CHECK(do_create(&f, ROOT, "dangling", O_WRONLY | O_TRUNC, NULL) < 0);
	CHECK(do_create(&f, ROOT, "to-secret", O_RDWR | O_TRUNC, NULL) < 0);
	CHECK(do_create(&f, ROOT, "to-secret", O_WRONLY | O_APPEND, NULL) < 0);
	CHECK(!host_exists(missing));

	/* attributes of a symlink node are the link's, never the target's */
	link = node_of(&f, ROOT, "to-secret");
	sa.valid = FATTR_SIZE;
	do_setattr(&f, link, &sa, NULL);
	sa.valid = FATTR_MODE;
	sa.mode = 0777;
	do_setattr(&f, link, &sa, NULL);
	sa.valid = FATTR_MTIME | FATTR_ATIME;
	sa.mtime = sa.atime = 1;
	do_setattr(&f, link, &sa, NULL);
	if (geteuid() == 0) {
		sa.valid = FATTR_UID | FATTR_GID;
		sa.uid = sa.gid = 4242;
		do_setattr(&f, link, &sa, NULL);
	}
	CHECK(do_setxattr(&f, link, "user.pwned", "1", 1) < 0);
	memset(&a, 0, sizeof(a));
	put(&a, &gx, sizeof(gx));
	put_str(&a, "user.secret");
	CHECK(call(&f, FUSE_GETXATTR, link, a.b, a.len, val, sizeof(val), &got) < 0);
	if (xattrs) {
		char list[256];
		int err = call(&f, FUSE_LISTXATTR, link, &gx, sizeof(gx), list, sizeof(list), &got);

		CHECK(err < 0 || memmem(list, got, "user.secret", 11) == NULL);
		CHECK(getxattr(secret, "user.pwned", val, sizeof(val)) < 0);
		CHECK(name_op(&f, FUSE_REMOVEXATTR, link, "user.secret") < 0);
		CHECK_INT(getxattr(secret, "user.secret", val, sizeof(val)), ==, 6);
	}
	/* a hard link of a symlink node links the symlink, never its target */
	if (do_link(&f, link, ROOT, "hl") == 0) {
		struct stat hl;

		CHECK_INT(lstat(host_path(&f, "hl"), &hl), ==, 0);
		CHECK(S_ISLNK(hl.st_mode));
		CHECK(hl.st_ino != before.st_ino);
	}
	CHECK_INT(lstat(secret, &after), ==, 0);
	CHECK_INT(after.st_nlink, ==, before.st_nlink);
	CHECK_STR(host_read(secret), "secret");
	CHECK_INT(after.st_mode, ==, before.st_mode);
	CHECK_INT(after.st_uid, ==, before.st_uid);
	CHECK_INT(after.st_mtime, ==, before.st_mtime);
	CHECK(!host_exists(missing));
	fsrv_close(&f);
	rm_tree(outside);
}

TEST(fuse_special_files_not_opened)
{
	struct fuse_entry_out e;
	struct fsrv f;
	uint64_t fifo, fh;

	alarm(20); /* an open of the FIFO would block: fail, not hang */
	fsrv_tree(&f);
	CHECK_INT(mkfifo(host_path(&f, "fifo"), 0666), ==, 0);
	if (geteuid() == 0)
		CHECK_INT(mknod(host_path(&f, "null"), S_IFCHR | 0666, makedev(1, 3)), ==, 0);
	fsrv_open(&f, false);

	CHECK_INT(lookup(&f, ROOT, "fifo", &e), ==, 0);
	CHECK(S_ISFIFO(e.attr.mode));
	fifo = e.nodeid;
	CHECK(do_open(&f, fifo, O_RDONLY, &fh) < 0);
	CHECK(do_open(&f, fifo, O_WRONLY, &fh) < 0);
	CHECK(do_open(&f, fifo, O_RDWR, &fh) < 0);
	CHECK(do_open(&f, fifo, O_RDONLY | O_NONBLOCK, &fh) < 0);
	CHECK(do_opendir(&f, fifo, &fh) < 0);
	/* nor created and opened in one go */
	CHECK_INT(mkfifo(host_path(&f, "fifo2"), 0666), ==, 0);
	CHECK(do_create(&f, ROOT, "fifo2", O_RDWR, NULL) < 0);
	CHECK(lookup(&f, fifo, "x", NULL) < 0);

	if (geteuid() == 0) {
		uint64_t dev;

		CHECK_INT(lookup(&f, ROOT, "null", &e), ==, 0);
		CHECK(S_ISCHR(e.attr.mode));
		dev = e.nodeid;
		CHECK(do_open(&f, dev, O_RDONLY, &fh) < 0);
		CHECK(do_open(&f, dev, O_WRONLY, &fh) < 0);
		CHECK(do_open(&f, dev, O_RDWR, &fh) < 0);
	}
	/* the root is a directory, not a file to open */
	CHECK(do_open(&f, ROOT, O_RDWR, &fh) < 0);
	fsrv_close(&f);
}

TEST(fuse_stale_ids)
{
	struct fuse_entry_out e;
	char buf[64];
	struct fsrv f;
	uint64_t n1, n2, d, fh;
	size_t got;

	fsrv_tree(&f);
	host_write(host_path(&f, "f"), "data");
	host_write(host_path(&f, "other"), "other data");
	CHECK_INT(mkdir(host_path(&f, "d"), 0755), ==, 0);
	fsrv_open(&f, false);

	CHECK_INT(getattr(&f, BAD_NODE, NULL), ==, -ESTALE);
	CHECK_INT(getattr(&f, 0, NULL), <, 0);
	CHECK(lookup(&f, BAD_NODE, "f", NULL) < 0);
	CHECK(do_mkdir(&f, BAD_NODE, "x", NULL) < 0);
	CHECK(do_open(&f, BAD_NODE, O_RDONLY, &fh) < 0);
	CHECK(do_opendir(&f, BAD_NODE, &fh) < 0);
	CHECK(name_op(&f, FUSE_UNLINK, BAD_NODE, "f") < 0);

	/* LINK and RENAME to or from nodes that do not exist */
	n1 = node_of(&f, ROOT, "f");
	d = node_of(&f, ROOT, "d");
	CHECK(do_link(&f, BAD_NODE, ROOT, "l") < 0);
	CHECK(!host_exists(host_path(&f, "l")));
	CHECK(do_link(&f, n1, BAD_NODE, "l") < 0);
	CHECK(do_rename(&f, ROOT, "d", BAD_NODE, "d2") < 0);
	CHECK(do_rename(&f, ROOT, "d", 0, "d2") < 0);
	CHECK(do_rename(&f, BAD_NODE, "d", ROOT, "d2") < 0);
	/* into a file, and into itself */
	CHECK(do_rename(&f, ROOT, "d", n1, "d2") < 0);
	CHECK(do_rename(&f, ROOT, "d", d, "d2") < 0);
	CHECK(host_exists(host_path(&f, "d")));
	CHECK(!host_exists(host_path(&f, "d/d2")));
	/* a hard link works within the share, and a directory has none */
	CHECK_INT(do_link(&f, n1, d, "hard"), ==, 0);
	forget(&f, n1, 1); /* LINK's entry counts as a lookup of the same node */
	CHECK_STR(host_read(host_path(&f, "d/hard")), "data");
	CHECK(do_link(&f, d, ROOT, "dirlink") < 0);

	/* handles that were never given out */
	CHECK_INT(do_read(&f, n1, BAD_FH, 0, 10, buf, &got), ==, -EBADF);
	CHECK_INT(do_write(&f, n1, BAD_FH, 0, "x", 1, NULL), ==, -EBADF);
	{
		struct fuse_read_in in = {.fh = BAD_FH, .size = 100};
		CHECK_INT(call(&f, FUSE_READDIR, ROOT, &in, sizeof(in), buf, sizeof(buf), &got), ==,
			  -EBADF);
	}
	CHECK(do_release(&f, FUSE_RELEASE, n1, BAD_FH) <= 0);

	/* every handle-taking operation checks the handle */
	{
		struct fuse_fsync_in fs = {.fh = BAD_FH};
		struct fuse_fallocate_in fa = {.fh = BAD_FH, .length = 4096};
		struct fuse_lseek_in ls = {.fh = BAD_FH, .whence = SEEK_DATA};
		struct fuse_copy_file_range_in cf = {
		    .fh_in = BAD_FH, .nodeid_out = n1, .fh_out = BAD_FH, .len = 4096};
		struct fuse_setattr_in sa = {.valid = FATTR_FH | FATTR_SIZE, .fh = BAD_FH};
		uint64_t good;

		CHECK(call(&f, FUSE_FSYNC, n1, &fs, sizeof(fs), NULL, 0, NULL) < 0);
		CHECK(call(&f, FUSE_FSYNCDIR, ROOT, &fs, sizeof(fs), NULL, 0, NULL) < 0);
		CHECK(call(&f, FUSE_FALLOCATE, n1, &fa, sizeof(fa), NULL, 0, NULL) < 0);
		CHECK(call(&f, FUSE_LSEEK, n1, &ls, sizeof(ls), buf, sizeof(buf), &got) < 0);
		CHECK(call(&f, FUSE_COPY_FILE_RANGE, n1, &cf, sizeof(cf), buf, sizeof(buf), &got) <
		      0);
		do_setattr(&f, n1, &sa, NULL);
		/* a handle of another node is not this node's */
		{
			uint64_t other = node_of(&f, ROOT, "other"), ofh;

			CHECK_INT(do_open(&f, other, O_RDWR, &ofh), ==, 0);
			sa.fh = ofh;
			sa.size = 0;
			sa.valid = FATTR_FH | FATTR_SIZE;
			CHECK(do_setattr(&f, n1, &sa, NULL) < 0);
			CHECK_STR(host_read(host_path(&f, "other")), "other data");
			CHECK_INT(do_release(&f, FUSE_RELEASE, other, ofh), ==, 0);
			forget(&f, other, 1);
		}
		/* one good handle and one bad, both ways */
		CHECK_INT(do_open(&f, n1, O_RDWR, &good), ==, 0);
		cf.fh_in = good;
		CHECK(call(&f, FUSE_COPY_FILE_RANGE, n1, &cf, sizeof(cf), buf, sizeof(buf), &got) <
		      0);
		cf.fh_in = BAD_FH;
		cf.fh_out = good;
		CHECK(call(&f, FUSE_COPY_FILE_RANGE, n1, &cf, sizeof(cf), buf, sizeof(buf), &got) <
		      0);
		cf.fh_in = good;
		cf.nodeid_out = BAD_NODE;
		call(&f, FUSE_COPY_FILE_RANGE, n1, &cf, sizeof(cf), buf, sizeof(buf), &got);
		CHECK_INT(do_release(&f, FUSE_RELEASE, n1, good), ==, 0);
		CHECK_STR(host_read(host_path(&f, "f")), "data");
	}
	{
		struct fuse_flush_in in = {.fh = BAD_FH};
		CHECK(call(&f, FUSE_FLUSH, n1, &in, sizeof(in), NULL, 0, NULL) < 0);
	}

	/* forget, then use */
	n2 = node_of(&f, ROOT, "f");
	CHECK_INT(n2, ==, n1);
	forget(&f, n1, 1);
	CHECK_INT(getattr(&f, n1, NULL), ==, 0); /* one lookup left */
	forget(&f, n1, 1);
	CHECK_INT(getattr(&f, n1, NULL), ==, -ESTALE);
	CHECK(lookup(&f, n1, "x", NULL) < 0);
	CHECK(do_open(&f, n1, O_RDONLY, &fh) < 0);
	/* forgetting more than was looked up, twice, and the root */
	forget(&f, n1, 5);
	forget(&f, ROOT, 1000);
	forget(&f, BAD_NODE, 1);
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	/* a new lookup gets a new id */
	CHECK_INT(lookup(&f, ROOT, "f", &e), ==, 0);
	CHECK(e.nodeid != n1);

	/* an open handle keeps working after its node was forgotten */
	CHECK_INT(do_open(&f, e.nodeid, O_RDONLY, &fh), ==, 0);
	forget(&f, e.nodeid, 1);
	CHECK_INT(do_read(&f, e.nodeid, fh, 0, sizeof(buf), buf, &got), <=, 0);
	do_release(&f, FUSE_RELEASE, e.nodeid, fh);

	/* nodes from before a reset are gone after it */
	n1 = node_of(&f, ROOT, "f");
	fuse_server_reset(f.s);
	fs_init(&f);
	CHECK_INT(getattr(&f, n1, NULL), ==, -ESTALE);
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	fsrv_close(&f);
}

TEST(fuse_batch_forget)
{
	struct {
		struct fuse_batch_forget_in h;
		struct fuse_forget_one one[3];
	} bf = {0};
	struct fsrv f;
	uint64_t a, b;

	fsrv_tree(&f);
	host_write(host_path(&f, "a"), "");
	host_write(host_path(&f, "b"), "");
	fsrv_open(&f, false);
	a = node_of(&f, ROOT, "a");
	b = node_of(&f, ROOT, "b");
	bf.h.count = 3;
	bf.one[0] = (struct fuse_forget_one){a, 1};
	bf.one[1] = (struct fuse_forget_one){BAD_NODE, 1};
	bf.one[2] = (struct fuse_forget_one){b, 1};
	call_noreply(&f, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	CHECK_INT(getattr(&f, a, NULL), ==, -ESTALE);
	CHECK_INT(getattr(&f, b, NULL), ==, -ESTALE);
	/* a count larger than the entries that came */
	a = node_of(&f, ROOT, "a");
	bf.h.count = 1000000;
	bf.one[0] = (struct fuse_forget_one){a, 1};
	call_noreply(&f, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf.h) + sizeof(bf.one[0]));
	bf.h.count = UINT32_MAX;
	call_noreply(&f, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	/* INTERRUPT has no reply either */
	{
		struct fuse_interrupt_in in = {.unique = 12345};
		call_noreply(&f, FUSE_INTERRUPT, 0, &in, sizeof(in));
	}
	fsrv_close(&f);
}

/* ---- broken requests ------------------------------------------------------ */

TEST(fuse_unknown_opcode)
{
	struct fsrv f;

	fsrv_tree(&f);
	fsrv_open(&f, false);
	CHECK_INT(call(&f, 9999, ROOT, NULL, 0, NULL, 0, NULL), ==, -ENOSYS);
	CHECK_INT(call(&f, 0, ROOT, NULL, 0, NULL, 0, NULL), ==, -ENOSYS);
	CHECK_INT(call(&f, UINT32_MAX, ROOT, "abc", 4, NULL, 0, NULL), ==, -ENOSYS);
	CHECK_INT(call(&f, CUSE_INIT, ROOT, NULL, 0, NULL, 0, NULL), ==, -ENOSYS);
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	fsrv_close(&f);
}

/* Send raw bytes; a reply, if any, must be an error. */
static void send_broken(struct fsrv *f, const void *req, size_t len, int line)
{
	uint8_t out[4096];
	size_t n = send_raw(f, req, len, out, sizeof(out));
	struct fuse_out_header oh;

	if (n == 0)
		return;
	if (n < OUT_HDR)
		unit_fail(__FILE__, line, "a partial reply of %zu bytes", n);
	memcpy(&oh, out, OUT_HDR);
	if (oh.error >= 0 || oh.len != n)
		unit_fail(__FILE__, line, "a broken request got error %d, %u of %zu bytes",
			  oh.error, oh.len, n);
}

/* A request whose header says `hlen` and whose args are `arg_len` bytes. */
static void send_truncated(struct fsrv *f, uint32_t op, uint64_t node, uint32_t hlen,
			   const void *arg, size_t arg_len, int line)
{
	uint8_t req[IN_HDR + 256];
	size_t len = build(f, req, sizeof(req), op, node, arg, arg_len);

	memcpy(req, &hlen, 4);
	send_broken(f, req, len, line);
}

TEST(fuse_truncated_requests)
{
	static const uint32_t ops[] = {
	    FUSE_LOOKUP,    FUSE_GETATTR,     FUSE_SETATTR,    FUSE_MKNOD,
	    FUSE_MKDIR,	    FUSE_SYMLINK,     FUSE_RENAME,     FUSE_RENAME2,
	    FUSE_LINK,	    FUSE_OPEN,	      FUSE_READ,       FUSE_WRITE,
	    FUSE_RELEASE,   FUSE_FSYNC,	      FUSE_SETXATTR,   FUSE_GETXATTR,
	    FUSE_LISTXATTR, FUSE_REMOVEXATTR, FUSE_FLUSH,      FUSE_INIT,
	    FUSE_OPENDIR,   FUSE_READDIR,     FUSE_RELEASEDIR, FUSE_FSYNCDIR,
	    FUSE_ACCESS,    FUSE_CREATE,      FUSE_INTERRUPT,  FUSE_BATCH_FORGET,
	    FUSE_FALLOCATE, FUSE_READDIRPLUS, FUSE_LSEEK,      FUSE_COPY_FILE_RANGE,
	    FUSE_FORGET,    FUSE_UNLINK,      FUSE_RMDIR,      FUSE_STATFS,
	    FUSE_TMPFILE,   FUSE_SYNCFS,      FUSE_READLINK,
	};
	uint8_t junk[64], req[IN_HDR + 64];
	struct fsrv f;
	uint64_t file;

	fsrv_tree(&f);
	host_write(host_path(&f, "f"), "unchanged");
	fsrv_open(&f, false);
	file = node_of(&f, ROOT, "f");
	memset(junk, 0xff, sizeof(junk));

	/* shorter than a header, and nothing at all */
	build(&f, req, sizeof(req), FUSE_GETATTR, ROOT, NULL, 0);
	for (size_t len = 0; len < IN_HDR; len += 7)
		send_broken(&f, req, len, __LINE__);
	/* the header's length: too small, beyond the buffer, huge */
	send_truncated(&f, FUSE_GETATTR, ROOT, 0, junk, 16, __LINE__);
	send_truncated(&f, FUSE_GETATTR, ROOT, IN_HDR - 1, junk, 16, __LINE__);
	send_truncated(&f, FUSE_GETATTR, ROOT, IN_HDR + 17, junk, 16, __LINE__);
	send_truncated(&f, FUSE_GETATTR, ROOT, 1000, junk, 16, __LINE__);
	send_truncated(&f, FUSE_GETATTR, ROOT, UINT32_MAX, junk, 16, __LINE__);

	/* every opcode with arguments shorter than its struct (and junk in them) */
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (size_t n = 0; n < 4; n++) {
			uint64_t node = (i + n) % 2 ? file : ROOT;
			size_t len = build(&f, req, sizeof(req), ops[i], node, junk, n);
			uint8_t out[4096];
			size_t got = send_raw(&f, req, len, out, sizeof(out));
			struct fuse_out_header oh;

			if (got == 0)
				continue;
			memcpy(&oh, out, OUT_HDR);
			/* a few take no arguments (READLINK, STATFS, SYNCFS's 8 bytes...) */
			if (oh.error == 0 && (ops[i] == FUSE_READLINK || ops[i] == FUSE_STATFS ||
					      ops[i] == FUSE_GETATTR))
				continue;
			if (oh.error >= 0)
				unit_fail(__FILE__, __LINE__, "op %u with %zu argument bytes: %d",
					  ops[i], n, oh.error);
		}
	}

	/* WRITE whose size is more than the data that came */
	{
		struct fuse_write_in w = {.size = 4096};
		uint64_t fh;
		uint8_t a[sizeof(w) + 10];

		CHECK_INT(do_open(&f, file, O_RDWR, &fh), ==, 0);
		w.fh = fh;
		memcpy(a, &w, sizeof(w));
		memset(a + sizeof(w), 'Z', 10);
		CHECK(call(&f, FUSE_WRITE, file, a, sizeof(a), NULL, sizeof(struct fuse_write_out),
			   NULL) < 0);
		/* and a huge size */
		w.size = UINT32_MAX;
		memcpy(a, &w, sizeof(w));
		CHECK(call(&f, FUSE_WRITE, file, a, sizeof(a), NULL, sizeof(struct fuse_write_out),
			   NULL) < 0);
		w.offset = UINT64_MAX - 2;
		w.size = 10;
		memcpy(a, &w, sizeof(w));
		CHECK(call(&f, FUSE_WRITE, file, a, sizeof(a), NULL, sizeof(struct fuse_write_out),
			   NULL) < 0);
		do_release(&f, FUSE_RELEASE, file, fh);
		CHECK_STR(host_read(host_path(&f, "f")), "unchanged");
	}
	/* READ asking for more than the server's maximum */
	{
		uint64_t fh;
		struct fuse_read_in r = {.size = UINT32_MAX};
		uint8_t buf[64];
		size_t got;
		int err;

		CHECK_INT(do_open(&f, file, O_RDONLY, &fh), ==, 0);
		r.fh = fh;
		err = call(&f, FUSE_READ, file, &r, sizeof(r), buf, sizeof(buf), &got);
		CHECK(err <= 0);
		do_release(&f, FUSE_RELEASE, file, fh);
	}
	/* after all that, still serving */
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	CHECK_INT(lookup(&f, ROOT, "f", NULL), ==, 0);
	fsrv_close(&f);
}

TEST(fuse_split_iovecs)
{
	struct fuse_entry_out e, e2;
	uint8_t req[IN_HDR + 16], out[OUT_HDR + sizeof(e)];
	struct iovec in[IN_HDR + 16], o[sizeof(out)];
	struct fuse_out_header oh;
	struct fsrv f;
	size_t len, n;

	fsrv_tree(&f);
	host_write(host_path(&f, "file"), "abc");
	fsrv_open(&f, false);
	CHECK_INT(lookup(&f, ROOT, "file", &e), ==, 0);

	/* the request a byte per iovec, the reply in 3-byte pieces */
	len = build(&f, req, sizeof(req), FUSE_LOOKUP, ROOT, "file", 5);
	for (size_t i = 0; i < len; i++)
		in[i] = (struct iovec){req + i, 1};
	for (size_t i = 0; i < sizeof(out); i += 3)
		o[i / 3] = (struct iovec){out + i, sizeof(out) - i < 3 ? sizeof(out) - i : 3};
	n = fuse_server_handle(f.s, in, (int)len, o, (int)((sizeof(out) + 2) / 3));
	CHECK_INT(n, ==, sizeof(out));
	memcpy(&oh, out, OUT_HDR);
	memcpy(&e2, out + OUT_HDR, sizeof(e2));
	CHECK_INT(oh.error, ==, 0);
	CHECK_INT(oh.unique, ==, f.unique);
	CHECK_INT(e2.nodeid, ==, e.nodeid);
	CHECK_INT(e2.attr.size, ==, 3);

	/* empty iovecs in between, and none at all */
	len = build(&f, req, sizeof(req), FUSE_LOOKUP, ROOT, "file", 5);
	in[0] = (struct iovec){req, 10};
	in[1] = (struct iovec){NULL, 0};
	in[2] = (struct iovec){req + 10, len - 10};
	o[0] = (struct iovec){NULL, 0};
	o[1] = (struct iovec){out, sizeof(out)};
	CHECK_INT(fuse_server_handle(f.s, in, 3, o, 2), ==, sizeof(out));
	CHECK_INT(fuse_server_handle(f.s, in, 0, o, 2), ==, 0);
	CHECK_INT(fuse_server_handle(f.s, in, 3, o, 0), ==, 0);
	forget(&f, e.nodeid, 3);
	fsrv_close(&f);
}

TEST(fuse_reply_room_too_small)
{
	struct fsrv f;
	uint8_t req[IN_HDR + 64], out[8192];
	uint64_t file, fh, dfh, link;
	size_t len;

	fsrv_tree(&f);
	host_write(host_path(&f, "file"), "0123456789abcdefghijklmnopqrstuvwxyz");
	CHECK_INT(symlink("a-rather-long-symlink-target-for-the-test", host_path(&f, "link")), ==,
		  0);
	fsrv_open(&f, false);
	file = node_of(&f, ROOT, "file");
	link = node_of(&f, ROOT, "link");
	CHECK_INT(do_open(&f, file, O_RDONLY, &fh), ==, 0);
	CHECK_INT(do_opendir(&f, ROOT, &dfh), ==, 0);

	for (size_t room = 0; room <= OUT_HDR + 24; room++) {
		struct fuse_read_in rd = {.fh = fh, .size = 4096};
		struct fuse_read_in rdd = {.fh = dfh, .size = 4096};
		struct fuse_getxattr_in gx = {.size = 4096};
		struct fuse_getattr_in ga = {0};
		struct {
			uint32_t op;
			uint64_t node;
			const void *arg;
			size_t len;
		} reqs[] = {
		    {FUSE_LOOKUP, ROOT, "file", 5},
		    {FUSE_GETATTR, file, &ga, sizeof(ga)},
		    {FUSE_READ, file, &rd, sizeof(rd)},
		    {FUSE_READDIR, ROOT, &rdd, sizeof(rdd)},
		    {FUSE_READDIRPLUS, ROOT, &rdd, sizeof(rdd)},
		    {FUSE_READLINK, link, NULL, 0},
		    {FUSE_LISTXATTR, file, &gx, sizeof(gx)},
		    {FUSE_STATFS, ROOT, NULL, 0},
		};

		for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
			size_t n;

			len = build(&f, req, sizeof(req), reqs[i].op, reqs[i].node, reqs[i].arg,
				    reqs[i].len);
			n = send_raw(&f, req, len, out, room);
			if (room < OUT_HDR) {
				CHECK_INT(n, ==, 0);
				continue;
			}
			if (n) {
				struct fuse_out_header oh;

				memcpy(&oh, out, OUT_HDR);
				CHECK_INT(oh.len, ==, n);
				CHECK_INT(oh.unique, ==, f.unique);
			}
		}
		/* readdirplus may have counted lookups; the kernel would forget them */
	}
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	do_release(&f, FUSE_RELEASE, file, fh);
	do_release(&f, FUSE_RELEASEDIR, ROOT, dfh);
	fsrv_close(&f);
}

/* ---- share kinds ---------------------------------------------------------- */

TEST(fuse_readonly)
{
	struct fuse_setattr_in sa = {0};
	struct fsrv f;
	uint64_t file, d, fh;
	char buf[64];
	size_t got;

	fsrv_tree(&f);
	host_write(host_path(&f, "f"), "read only");
	CHECK_INT(mkdir(host_path(&f, "d"), 0755), ==, 0);
	fsrv_open(&f, true);
	file = node_of(&f, ROOT, "f");
	d = node_of(&f, ROOT, "d");

	CHECK_INT(do_mkdir(&f, ROOT, "new", NULL), ==, -EROFS);
	CHECK_INT(do_create(&f, ROOT, "new", O_RDWR, NULL), ==, -EROFS);
	CHECK_INT(do_create(&f, ROOT, "f", O_RDONLY, NULL), ==, -EROFS);
	CHECK_INT(do_open(&f, file, O_WRONLY, &fh), ==, -EROFS);
	CHECK_INT(do_open(&f, file, O_RDWR, &fh), ==, -EROFS);
	CHECK(do_open(&f, file, O_RDONLY | O_TRUNC, &fh) < 0);
	CHECK(do_open(&f, file, O_WRONLY | O_APPEND, &fh) < 0);
	sa.valid = FATTR_SIZE;
	CHECK_INT(do_setattr(&f, file, &sa, NULL), ==, -EROFS);
	sa.valid = FATTR_MODE;
	sa.mode = 0777;
	CHECK_INT(do_setattr(&f, file, &sa, NULL), ==, -EROFS);
	sa.valid = FATTR_MTIME;
	CHECK_INT(do_setattr(&f, d, &sa, NULL), ==, -EROFS);
	CHECK_INT(name_op(&f, FUSE_UNLINK, ROOT, "f"), ==, -EROFS);
	CHECK_INT(name_op(&f, FUSE_RMDIR, ROOT, "d"), ==, -EROFS);
	CHECK(do_rename(&f, ROOT, "f", d, "g") < 0);
	CHECK(do_link(&f, file, d, "g") < 0);
	CHECK(do_symlink(&f, ROOT, "s", "f") < 0);
	CHECK(do_mknod(&f, ROOT, "p", S_IFIFO | 0644, 0) < 0);
	CHECK(do_setxattr(&f, file, "user.mvrun", "v", 1) < 0);
	CHECK(name_op(&f, FUSE_REMOVEXATTR, file, "user.mvrun") < 0);

	CHECK_STR(host_read(host_path(&f, "f")), "read only");
	CHECK(host_exists(host_path(&f, "d")));
	CHECK(!host_exists(host_path(&f, "new")) && !host_exists(host_path(&f, "s")));
	CHECK(!host_exists(host_path(&f, "d/g")) && !host_exists(host_path(&f, "p")));

	/* reading works */
	CHECK_INT(do_open(&f, file, O_RDONLY, &fh), ==, 0);
	CHECK(do_write(&f, file, fh, 0, "x", 1, NULL) < 0);
	CHECK_INT(do_read(&f, file, fh, 0, sizeof(buf), buf, &got), ==, 0);
	CHECK_INT(got, ==, 9);
	CHECK_INT(do_release(&f, FUSE_RELEASE, file, fh), ==, 0);
	CHECK_STR(host_read(host_path(&f, "f")), "read only");
	fsrv_close(&f);
}

TEST(fuse_single_file)
{
	struct listing *l = calloc(1, sizeof(*l));
	char path[128], buf[64];
	struct fuse_entry_out e;
	struct fsrv f;
	uint64_t hosts, fh;
	uint32_t written;
	size_t got;

	CHECK(l != NULL);
	fsrv_tree(&f);
	host_write(host_path(&f, "hosts"), "127.0.0.1 localhost\n");
	host_write(host_path(&f, "other"), "not shared");
	CHECK_INT(mkdir(host_path(&f, "sub"), 0755), ==, 0);
	snprintf(path, sizeof(path), "%s/hosts", f.dir);
	fsrv_open_path(&f, path, false);
	fs_init(&f);

	CHECK_INT(lookup(&f, ROOT, "hosts", &e), ==, 0);
	CHECK(S_ISREG(e.attr.mode));
	hosts = e.nodeid;
	CHECK_INT(lookup(&f, ROOT, "other", NULL), ==, -ENOENT);
	CHECK_INT(lookup(&f, ROOT, "sub", NULL), ==, -ENOENT);
	CHECK(do_create(&f, ROOT, "new", O_RDWR, NULL) < 0);
	CHECK(do_create(&f, ROOT, "other", O_RDWR, NULL) < 0);
	CHECK(do_mkdir(&f, ROOT, "newdir", NULL) < 0);
	CHECK(do_symlink(&f, ROOT, "s", "hosts") < 0);
	CHECK(do_mknod(&f, ROOT, "p", S_IFIFO | 0644, 0) < 0);
	CHECK(do_link(&f, hosts, ROOT, "h2") < 0);
	CHECK(name_op(&f, FUSE_UNLINK, ROOT, "hosts") < 0);
	CHECK(name_op(&f, FUSE_UNLINK, ROOT, "other") < 0);
	CHECK(name_op(&f, FUSE_RMDIR, ROOT, "sub") < 0);
	CHECK(do_rename(&f, ROOT, "hosts", ROOT, "h3") < 0);
	CHECK(do_rename(&f, ROOT, "other", ROOT, "hosts") < 0);
	CHECK(!host_exists(host_path(&f, "new")) && !host_exists(host_path(&f, "newdir")));
	CHECK(!host_exists(host_path(&f, "s")) && !host_exists(host_path(&f, "h2")));
	CHECK(!host_exists(host_path(&f, "h3")) && !host_exists(host_path(&f, "p")));
	CHECK_STR(host_read(host_path(&f, "other")), "not shared");
	CHECK(host_exists(host_path(&f, "sub")));

	list_dir(&f, ROOT, false, 4096, l);
	CHECK_INT(l->total - l->dots, ==, 1);
	list_dir(&f, ROOT, true, 4096, l);
	CHECK_INT(l->total - l->dots, ==, 1);

	/* the file itself is writable */
	CHECK_INT(do_open(&f, hosts, O_RDWR, &fh), ==, 0);
	CHECK_INT(do_write(&f, hosts, fh, 0, "::1", 3, &written), ==, 0);
	CHECK_INT(do_read(&f, hosts, fh, 0, sizeof(buf), buf, &got), ==, 0);
	CHECK_INT(got, ==, 20);
	CHECK_INT(do_release(&f, FUSE_RELEASE, hosts, fh), ==, 0);
	CHECK_STR(host_read(host_path(&f, "hosts")), "::1.0.0.1 localhost\n");
	CHECK(lookup(&f, hosts, "x", NULL) < 0);

	/* the root is the host's directory of the file: its attributes and
	 * extended attributes are not the guest's to change */
	{
		struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = 0777};
		struct stat before, after;
		char val[16];

		CHECK_INT(stat(f.dir, &before), ==, 0);
		CHECK(do_setattr(&f, ROOT, &sa, NULL) < 0);
		sa.valid = FATTR_MTIME;
		sa.mtime = 1;
		CHECK(do_setattr(&f, ROOT, &sa, NULL) < 0);
		CHECK_INT(stat(f.dir, &after), ==, 0);
		CHECK_INT(after.st_mode, ==, before.st_mode);
		CHECK_INT(after.st_mtime, ==, before.st_mtime);
		if (setxattr(f.dir, "user.host", "h", 1, 0) == 0) {
			CHECK(do_setxattr(&f, ROOT, "user.pwned", "1", 1) < 0);
			CHECK(getxattr(f.dir, "user.pwned", val, sizeof(val)) < 0);
			CHECK(name_op(&f, FUSE_REMOVEXATTR, ROOT, "user.host") < 0);
			CHECK_INT(getxattr(f.dir, "user.host", val, sizeof(val)), ==, 1);
		}
	}
	free(l);
	fsrv_close(&f);
}

TEST(fuse_single_file_readonly)
{
	char path[128];
	struct fsrv f;
	uint64_t hosts, fh;

	fsrv_tree(&f);
	host_write(host_path(&f, "hosts"), "x");
	snprintf(path, sizeof(path), "%s/hosts", f.dir);
	fsrv_open_path(&f, path, true);
	fs_init(&f);
	hosts = node_of(&f, ROOT, "hosts");
	CHECK_INT(do_open(&f, hosts, O_RDWR, &fh), ==, -EROFS);
	CHECK_INT(do_open(&f, hosts, O_RDONLY, &fh), ==, 0);
	CHECK_INT(do_release(&f, FUSE_RELEASE, hosts, fh), ==, 0);
	fsrv_close(&f);
}

TEST(fuse_create_refused_paths)
{
	mv_error_t err = {0};
	struct fuse_server *s = NULL;
	char path[128];
	struct fsrv f;

	fsrv_tree(&f);
	snprintf(path, sizeof(path), "%s/missing", f.dir);
	CHECK(fuse_server_create(&s, path, false, &err) < 0);
	mv_error_release(&err);
	CHECK_INT(mkfifo(host_path(&f, "fifo"), 0666), ==, 0);
	snprintf(path, sizeof(path), "%s/fifo", f.dir);
	alarm(20);
	CHECK(fuse_server_create(&s, path, false, &err) < 0);
	mv_error_release(&err);
	fsrv_close(&f);
}

/* ---- xattrs ------------------------------------------------------------- */

TEST(fuse_xattr_user)
{
	struct fuse_getxattr_in gx = {0};
	struct fuse_getxattr_out go;
	struct args a;
	char buf[256], val[64];
	struct fsrv f;
	uint64_t file;
	size_t got;

	fsrv_tree(&f);
	host_write(host_path(&f, "f"), "x");
	if (setxattr(host_path(&f, "f"), "user.probe", "1", 1, 0) < 0) {
		printf("# skip: %s has no user xattrs (%s)\n", f.dir, strerror(errno));
		rm_tree(f.dir);
		return;
	}
	removexattr(host_path(&f, "f"), "user.probe");
	fsrv_open(&f, false);
	file = node_of(&f, ROOT, "f");

	CHECK_INT(do_setxattr(&f, file, "user.mvrun", "value-1", 7), ==, 0);
	CHECK_INT(getxattr(host_path(&f, "f"), "user.mvrun", val, sizeof(val)), ==, 7);
	CHECK(memcmp(val, "value-1", 7) == 0);

	/* size 0: the value's size */
	memset(&a, 0, sizeof(a));
	gx.size = 0;
	put(&a, &gx, sizeof(gx));
	put_str(&a, "user.mvrun");
	CHECK_INT(call_fixed(&f, FUSE_GETXATTR, file, a.b, a.len, &go, sizeof(go)), ==, 0);
	CHECK_INT(go.size, ==, 7);
	/* the value */
	memset(&a, 0, sizeof(a));
	gx.size = sizeof(buf);
	put(&a, &gx, sizeof(gx));
	put_str(&a, "user.mvrun");
	CHECK_INT(call(&f, FUSE_GETXATTR, file, a.b, a.len, buf, sizeof(buf), &got), ==, 0);
	CHECK_INT(got, ==, 7);
	CHECK(memcmp(buf, "value-1", 7) == 0);
	/* too small */
	memset(&a, 0, sizeof(a));
	gx.size = 3;
	put(&a, &gx, sizeof(gx));
	put_str(&a, "user.mvrun");
	CHECK_INT(call(&f, FUSE_GETXATTR, file, a.b, a.len, buf, sizeof(buf), &got), ==, -ERANGE);
	/* missing */
	memset(&a, 0, sizeof(a));
	gx.size = sizeof(buf);
	put(&a, &gx, sizeof(gx));
	put_str(&a, "user.none");
	CHECK_INT(call(&f, FUSE_GETXATTR, file, a.b, a.len, buf, sizeof(buf), &got), ==, -ENODATA);

	/* the list */
	gx.size = 0;
	CHECK_INT(call_fixed(&f, FUSE_LISTXATTR, file, &gx, sizeof(gx), &go, sizeof(go)), ==, 0);
	CHECK_INT(go.size, >=, sizeof("user.mvrun"));
	gx.size = sizeof(buf);
	CHECK_INT(call(&f, FUSE_LISTXATTR, file, &gx, sizeof(gx), buf, sizeof(buf), &got), ==, 0);
	CHECK_INT(got, ==, go.size);
	CHECK(memmem(buf, got, "user.mvrun", sizeof("user.mvrun")) != NULL);

	/* XATTR_CREATE on an existing name, a value over the limit */
	{
		struct fuse_setxattr_in in = {.size = 1, .flags = XATTR_CREATE};
		memset(&a, 0, sizeof(a));
		put(&a, &in,
		    (f.flags & FUSE_SETXATTR_EXT) ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE);
		put_str(&a, "user.mvrun");
		put(&a, "z", 1);
		CHECK_INT(call(&f, FUSE_SETXATTR, file, a.b, a.len, NULL, 0, NULL), ==, -EEXIST);
	}
	{
		struct fuse_setxattr_in in = {.size = 1000};
		memset(&a, 0, sizeof(a));
		put(&a, &in,
		    (f.flags & FUSE_SETXATTR_EXT) ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE);
		put_str(&a, "user.short");
		put(&a, "z", 1); /* 1 byte came of the 1000 announced */
		CHECK(call(&f, FUSE_SETXATTR, file, a.b, a.len, NULL, 0, NULL) < 0);
	}

	CHECK_INT(name_op(&f, FUSE_REMOVEXATTR, file, "user.mvrun"), ==, 0);
	CHECK(getxattr(host_path(&f, "f"), "user.mvrun", val, sizeof(val)) < 0);
	CHECK_INT(name_op(&f, FUSE_REMOVEXATTR, file, "user.mvrun"), ==, -ENODATA);
	/* a name without its NUL */
	memset(&a, 0, sizeof(a));
	put(&a, "user.x", 6);
	CHECK(call(&f, FUSE_REMOVEXATTR, file, a.b, a.len, NULL, 0, NULL) < 0);
	fsrv_close(&f);
}

/* ---- resources ------------------------------------------------------------ */

TEST(fuse_no_fd_leaks)
{
	struct fsrv f;
	int before, live;

	before = unit_count_fds();
	fsrv_tree(&f);
	CHECK_INT(mkdir(host_path(&f, "d"), 0755), ==, 0);
	for (int i = 0; i < 100; i++) {
		char name[32];

		snprintf(name, sizeof(name), "d/f%d", i);
		host_write(host_path(&f, name), "data");
	}
	fsrv_open(&f, false);
	live = unit_count_fds();

	for (int round = 0; round < 3; round++) {
		uint64_t d = node_of(&f, ROOT, "d");

		for (int i = 0; i < 100; i++) {
			char name[32];
			uint64_t n, fh;

			snprintf(name, sizeof(name), "f%d", i);
			n = node_of(&f, d, name);
			CHECK_INT(node_of(&f, d, name), ==, n);
			if (i % 10 == 0) {
				CHECK_INT(do_open(&f, n, O_RDONLY, &fh), ==, 0);
				CHECK_INT(do_release(&f, FUSE_RELEASE, n, fh), ==, 0);
			}
			forget(&f, n, 2);
		}
		{
			uint64_t fh;

			CHECK_INT(do_opendir(&f, d, &fh), ==, 0);
			CHECK_INT(do_release(&f, FUSE_RELEASEDIR, d, fh), ==, 0);
		}
		CHECK(lookup(&f, d, "missing", NULL) < 0);
		forget(&f, d, 1);
		CHECK_INT(unit_count_fds(), ==, live);
	}

	/* a handle released after its node was forgotten still closes: the
	 * guest's hiprio FORGET may overtake a RELEASE on a request queue */
	{
		uint64_t d = node_of(&f, ROOT, "d"), n, fh, dfh;

		n = node_of(&f, d, "f1");
		CHECK_INT(do_open(&f, n, O_RDONLY, &fh), ==, 0);
		CHECK_INT(do_opendir(&f, d, &dfh), ==, 0);
		forget(&f, n, 1);
		forget(&f, d, 1);
		CHECK_INT(do_release(&f, FUSE_RELEASE, n, fh), ==, 0);
		CHECK_INT(do_release(&f, FUSE_RELEASEDIR, d, dfh), ==, 0);
		CHECK_INT(unit_count_fds(), ==, live);
	}

	/* what the guest never gave back goes with the server */
	for (int i = 0; i < 20; i++) {
		char name[32];
		uint64_t fh;

		snprintf(name, sizeof(name), "f%d", i);
		CHECK_INT(do_open(&f, node_of(&f, node_of(&f, ROOT, "d"), name), O_RDONLY, &fh), ==,
			  0);
	}
	CHECK_INT(unit_count_fds(), >, live);
	fuse_server_reset(f.s);
	CHECK_INT(unit_count_fds(), ==, live);
	fs_init(&f);
	CHECK_INT(do_open(&f, node_of(&f, node_of(&f, ROOT, "d"), "f1"), O_RDONLY, NULL), ==, 0);
	fsrv_close(&f);
	CHECK_INT(unit_count_fds(), ==, before);
}

/* ---- concurrency ---------------------------------------------------------- */

#define CONC_THREADS 4
#define CONC_ROUNDS  400

struct conc {
	struct fuse_server *s;
	char dir[64];
	int id;
};

/* Lookups, I/O and forgets of the same few nodes from several threads, one
 * of them forgetting far more than it looked up: errors are fine, crashes
 * and ASan reports are not. */
static void *conc_thread(void *arg)
{
	struct conc *c = arg;
	struct fsrv f = {.s = c->s, .unique = (uint64_t)c->id << 40};
	char buf[64];

	for (int i = 0; i < CONC_ROUNDS; i++) {
		struct fuse_entry_out e;
		const char *name = (i & 1) ? "a" : "b";
		uint64_t fh, dfh;
		size_t got;

		if (lookup(&f, ROOT, name, &e) != 0)
			continue;
		getattr(&f, e.nodeid, NULL);
		if (do_open(&f, e.nodeid, O_RDWR, &fh) == 0) {
			do_write(&f, e.nodeid, fh, (uint64_t)c->id, "x", 1, NULL);
			do_read(&f, e.nodeid, fh, 0, sizeof(buf), buf, &got);
			do_release(&f, FUSE_RELEASE, e.nodeid, fh);
		}
		if (i % 16 == 0 && do_opendir(&f, ROOT, &dfh) == 0) {
			struct fuse_read_in in = {.fh = dfh, .size = 4096};
			uint8_t *d = malloc(4096);

			call(&f, FUSE_READDIR, ROOT, &in, sizeof(in), d, 4096, &got);
			do_release(&f, FUSE_RELEASEDIR, ROOT, dfh);
			free(d);
		}
		forget(&f, e.nodeid, c->id == 0 ? 1000 : 1);
		/* one thread unmounts and mounts again under the others' feet */
		if (c->id == 1 && i % 50 == 49) {
			struct fuse_init_in in = {.major = FUSE_KERNEL_VERSION,
						  .minor = FUSE_KERNEL_MINOR_VERSION};
			struct fuse_init_out o;

			call(&f, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL);
			CHECK_INT(call(&f, FUSE_INIT, 0, &in, sizeof(in), &o, sizeof(o), NULL), ==,
				  0);
		}
	}
	return NULL;
}

TEST(fuse_concurrent_requests)
{
	struct conc c[CONC_THREADS];
	pthread_t th[CONC_THREADS];
	struct fsrv f;
	int live;

	fsrv_tree(&f);
	host_write(host_path(&f, "a"), "aaaa");
	host_write(host_path(&f, "b"), "bbbb");
	fsrv_open(&f, false);
	live = unit_count_fds();
	for (int i = 0; i < CONC_THREADS; i++) {
		c[i] = (struct conc){.s = f.s, .id = i};
		CHECK_INT(pthread_create(&th[i], NULL, conc_thread, &c[i]), ==, 0);
	}
	for (int i = 0; i < CONC_THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_INT(getattr(&f, ROOT, NULL), ==, 0);
	/* a reset drops whatever the threads left behind */
	fuse_server_reset(f.s);
	CHECK_INT(unit_count_fds(), ==, live);
	fsrv_close(&f);
}

/* ---- through the virtio-fs device -------------------------------------- */

#define VQ_SIZE 64
#define NQUEUES 3 /* hiprio and two request queues */

struct vrig {
	struct test_vm t;
	struct ev_loop loop;
	bool with_loop;
	struct virtio_dev d;
	struct test_queue q[NQUEUES];
	struct fsrv f; /* the tree and unique counter; f.s unused */
	uint64_t bufs; /* guest memory for requests: 2 pages per slot */
};

static void vrig_init(struct vrig *r, bool with_loop)
{
	struct virtiofs_share share = {.tag = "mvtest"};
	mv_error_t err = {0};

	memset(r, 0, sizeof(*r));
	tvm_init(&r->t, 16);
	r->with_loop = with_loop;
	if (with_loop) {
		CHECK_INT(ev_loop_init(&r->loop, &err), ==, 0);
		tvm_dev_init_loop(&r->t, &r->d, &virtio_fs_ops, NULL, &r->loop);
	} else {
		tvm_dev_init(&r->t, &r->d, &virtio_fs_ops, NULL);
	}
	fsrv_tree(&r->f);
	host_write(host_path(&r->f, "f"), "through the queue");
	share.path = r->f.dir;
	CHECK_INT(virtiofs_create(&r->d, &share, &err), ==, 0);
	r->bufs = tvm_alloc(&r->t, 2 * 4096 * VQ_SIZE);
}

static void vrig_release(struct vrig *r)
{
	virtiofs_destroy(&r->d);
	virtio_dev_release(&r->d);
	if (r->with_loop)
		ev_loop_release(&r->loop);
	tvm_release(&r->t);
	rm_tree(r->f.dir);
}

static void vrig_setup(struct vrig *r)
{
	uint32_t st = tdrv_setup(&r->t, &r->d, r->q, NQUEUES, VQ_SIZE, 0);

	CHECK(st & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(!(st & VIRTIO_CONFIG_S_NEEDS_RESET));
}

/* Put a request into slot `slot` (request page, reply page) on queue qi. */
static uint16_t vpost(struct vrig *r, unsigned qi, unsigned slot, uint32_t op, uint64_t node,
		      const void *arg, size_t arg_len, uint32_t room)
{
	uint64_t req = r->bufs + slot * 8192, rep = req + 4096;
	size_t len = build(&r->f, tvm_ptr(&r->t, req), 4096, op, node, arg, arg_len);
	struct tdesc d[2] = {{req, (uint32_t)len, false}, {rep, room, true}};

	memset(tvm_ptr(&r->t, rep), 0, 4096);
	return tq_add(&r->q[qi], d, room ? 2 : 1);
}

static void vkick(struct vrig *r, unsigned qi)
{
	tq_kick(&r->d, qi);
	if (r->with_loop)
		CHECK_INT(ev_loop_run_once(&r->loop, 0), >=, 0);
}

/* The next used element of queue qi, waiting for the workers. */
static void vwait(struct vrig *r, unsigned qi, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 5000; i++) {
		struct timespec ts = {0, 1000000};

		if (tq_used(&r->q[qi], id, len))
			return;
		if (!r->with_loop)
			break;
		nanosleep(&ts, NULL);
	}
	unit_fail(__FILE__, __LINE__, "no used element on queue %u", qi);
}

static struct fuse_out_header vreply(struct vrig *r, unsigned slot, void *payload, size_t size)
{
	const uint8_t *rep = tvm_ptr(&r->t, r->bufs + slot * 8192 + 4096);
	struct fuse_out_header oh;

	memcpy(&oh, rep, OUT_HDR);
	if (payload)
		memcpy(payload, rep + OUT_HDR, size);
	return oh;
}

static void vinit(struct vrig *r)
{
	struct fuse_init_in in = {
	    .major = FUSE_KERNEL_VERSION,
	    .minor = FUSE_KERNEL_MINOR_VERSION,
	    .flags = FUSE_MAX_PAGES,
	};
	struct fuse_init_out o;
	struct fuse_out_header oh;
	uint32_t id, len;
	uint16_t head = vpost(r, 1, 0, FUSE_INIT, 0, &in, sizeof(in), 4096);

	vkick(r, 1);
	vwait(r, 1, &id, &len);
	CHECK_INT(id, ==, head);
	CHECK_INT(len, ==, OUT_HDR + sizeof(o));
	oh = vreply(r, 0, &o, sizeof(o));
	CHECK_INT(oh.error, ==, 0);
	CHECK_INT(oh.len, ==, len);
	CHECK_INT(o.major, ==, FUSE_KERNEL_VERSION);
	/* a request's pages fit the queue with its headers */
	CHECK_INT(o.max_write, <=, (VQ_SIZE - 4) * 4096);
	if (o.flags & FUSE_MAX_PAGES)
		CHECK_INT(o.max_pages, <=, VQ_SIZE - 4);
}

TEST(virtio_fs_device)
{
	struct fuse_entry_out e;
	struct fuse_out_header oh;
	struct fuse_virtio_cfg {
		char tag[36];
		uint32_t nrq;
	} cfg;
	struct vrig r;
	uint32_t id, len;
	uint16_t head;

	vrig_init(&r, false);
	CHECK_INT(tdev_read32(&r.d, VIRTIO_MMIO_DEVICE_ID), ==, VIRTIO_ID_FS);
	for (unsigned off = 0; off < sizeof(cfg); off += 4)
		virtio_mmio_read(&r.d, 0x100 + off, (uint8_t *)&cfg + off, 4);
	CHECK(memcmp(cfg.tag, "mvtest\0\0", 8) == 0);
	CHECK_INT(cfg.nrq, ==, NQUEUES - 1);
	vrig_setup(&r);

	/* before INIT: an error */
	head = vpost(&r, 1, 0, FUSE_GETATTR, ROOT, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, 4096);
	vkick(&r, 1);
	vwait(&r, 1, &id, &len);
	CHECK_INT(id, ==, head);
	CHECK_INT(len, ==, OUT_HDR);
	CHECK(vreply(&r, 0, NULL, 0).error < 0);

	vinit(&r);
	/* LOOKUP on the second request queue */
	head = vpost(&r, 2, 1, FUSE_LOOKUP, ROOT, "f", 2, 4096);
	vkick(&r, 2);
	vwait(&r, 2, &id, &len);
	CHECK_INT(id, ==, head);
	CHECK_INT(len, ==, OUT_HDR + sizeof(e));
	oh = vreply(&r, 1, &e, sizeof(e));
	CHECK_INT(oh.error, ==, 0);
	CHECK_INT(e.attr.size, ==, 17);
	/* FORGET on the hiprio queue: no reply, used length 0 */
	{
		struct fuse_forget_in fin = {.nlookup = 1};
		head = vpost(&r, 0, 2, FUSE_FORGET, e.nodeid, &fin, sizeof(fin), 0);
		vkick(&r, 0);
		vwait(&r, 0, &id, &len);
		CHECK_INT(id, ==, head);
		CHECK_INT(len, ==, 0);
	}
	/* a chain with nothing to read: given back empty */
	{
		struct tdesc dsc = {r.bufs + 3 * 8192 + 4096, 4096, true};
		head = tq_add(&r.q[1], &dsc, 1);
		vkick(&r, 1);
		vwait(&r, 1, &id, &len);
		CHECK_INT(id, ==, head);
		CHECK_INT(len, ==, 0);
	}
	/* a reply buffer too small for the reply */
	head = vpost(&r, 1, 4, FUSE_LOOKUP, ROOT, "f", 2, 20);
	vkick(&r, 1);
	vwait(&r, 1, &id, &len);
	CHECK_INT(id, ==, head);
	CHECK_INT(len, <=, 20);
	CHECK(!(tdev_read32(&r.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));

	/* a buffer outside guest RAM breaks the device */
	{
		struct tdesc dsc[2] = {{r.bufs, 64, false}, {r.t.mem.size + 4096, 4096, true}};
		tq_add(&r.q[1], dsc, 2);
		vkick(&r, 1);
		CHECK(tdev_read32(&r.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	}
	/* after a reset it works again, from INIT */
	vrig_setup(&r);
	head = vpost(&r, 1, 0, FUSE_GETATTR, ROOT, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, 4096);
	vkick(&r, 1);
	vwait(&r, 1, &id, &len);
	CHECK(vreply(&r, 0, NULL, 0).error < 0);
	vinit(&r);
	vrig_release(&r);
}

TEST(virtio_fs_workers)
{
	bool done[VQ_SIZE] = {0};
	struct vrig r;
	uint16_t heads[VQ_SIZE];
	uint32_t id, len;
	int before = unit_count_fds();

	vrig_init(&r, true);
	vrig_setup(&r);
	vinit(&r);

	/* a full queue of lookups at once, answered by the worker pool */
	for (unsigned i = 0; i < VQ_SIZE / 2; i++)
		heads[i] = vpost(&r, 1, i, FUSE_LOOKUP, ROOT, "f", 2, 4096);
	vkick(&r, 1);
	for (unsigned n = 0; n < VQ_SIZE / 2; n++) {
		unsigned i;

		vwait(&r, 1, &id, &len);
		for (i = 0; i < VQ_SIZE / 2 && (heads[i] != id || done[i]); i++)
			;
		CHECK_INT(i, <, VQ_SIZE / 2);
		done[i] = true;
		CHECK_INT(len, ==, OUT_HDR + sizeof(struct fuse_entry_out));
		CHECK_INT(vreply(&r, i, NULL, 0).error, ==, 0);
	}
	virtio_lock(&r.d); /* the workers count interrupts under it */
	CHECK(r.t.irqs > 0);
	virtio_unlock(&r.d);

	/* a hostile driver publishes one chain a queue's worth of times: each
	 * is served (into the same buffers), none is lost */
	{
		uint16_t head = vpost(&r, 1, 40, FUSE_LOOKUP, ROOT, "f", 2, 4096);

		for (unsigned i = 1; i < VQ_SIZE; i++)
			tq_publish(&r.q[1], head);
		vkick(&r, 1);
		for (unsigned i = 0; i < VQ_SIZE; i++) {
			vwait(&r, 1, &id, &len);
			CHECK_INT(id, ==, head);
		}
		CHECK(!(tdev_read32(&r.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
	}

	/* a reset with requests in flight waits for them, and a new driver
	 * starts from INIT */
	for (unsigned i = 0; i < VQ_SIZE / 2; i++)
		vpost(&r, 2, i, FUSE_LOOKUP, ROOT, "f", 2, 4096);
	vkick(&r, 2);
	tdev_write32(&r.d, VIRTIO_MMIO_STATUS, 0);
	vrig_setup(&r);
	vinit(&r);

	/* and the device goes away with requests still queued */
	for (unsigned i = 0; i < VQ_SIZE / 2; i++)
		vpost(&r, 1, i, FUSE_LOOKUP, ROOT, "f", 2, 4096);
	vkick(&r, 1);
	vrig_release(&r);
	CHECK_INT(unit_count_fds(), ==, before);
}

TEST(virtio_fs_create_checks)
{
	struct virtiofs_share share = {.tag = "", .path = "/tmp"};
	char longtag[64];
	mv_error_t err = {0};
	struct test_vm t;
	struct virtio_dev d;

	tvm_init(&t, 16);
	tvm_dev_init(&t, &d, &virtio_fs_ops, NULL);
	CHECK(virtiofs_create(&d, &share, &err) < 0);
	mv_error_release(&err);
	memset(longtag, 'a', 37);
	longtag[37] = 0;
	share.tag = longtag;
	CHECK(virtiofs_create(&d, &share, &err) < 0);
	mv_error_release(&err);
	share.tag = "ok";
	share.path = "/nonexistent/mvrun";
	CHECK(virtiofs_create(&d, &share, &err) < 0);
	mv_error_release(&err);
	CHECK(d.priv == NULL);
	/* a 36-byte tag fills the field without a NUL */
	longtag[36] = 0;
	share.tag = longtag;
	share.path = "/tmp";
	CHECK_INT(virtiofs_create(&d, &share, &err), ==, 0);
	virtiofs_destroy(&d);
	virtio_dev_release(&d);
	tvm_release(&t);
}
