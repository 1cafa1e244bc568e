/* The FUSE server's front: the server's life, request parsing and dispatch,
 * the session (INIT, DESTROY, FORGET), reply helpers and the helpers the
 * handlers share.
 *
 * A request is checked before any handler sees it: the header's len equals
 * the bytes the guest supplied, the arguments (but WRITE's data) are copied
 * into a private buffer so the guest cannot change them under us, the
 * opcode's fixed argument is there, the reply room holds the opcode's fixed
 * reply (so no handler creates something it cannot report), the node id is
 * known, and a readonly share refuses every modifying opcode. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "vmm/fuse_internal.h"

#define FUSE_FD_MARGIN	   64  /* fds left to the rest of the VMM, at least */
#define FUSE_MAX_MAX_PAGES 256 /* the kernel's own cap on max_pages */
#define FUSE_ARG_STACK	   512 /* arguments up to this size stay on the stack */
#define FUSE_ARG_PAD	   128 /* zeroes after the arguments: > any fixed argument */
#define FUSE_PAGE_SIZE	   4096

/* What the server asks for at INIT, of what the guest offers.  Not
 * HANDLE_KILLPRIV: as root the host keeps suid bits on write (CAP_FSETID),
 * so the guest must clear them itself. */
#define FUSE_WANTED_FLAGS                                                                          \
	(FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_ATOMIC_O_TRUNC | FUSE_DO_READDIRPLUS |           \
	 FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES)

/* ---- the dispatch table --------------------------------------------------------- */

enum {
	OP_NODE = 1 << 0,   /* r->in.nodeid must be a known inode (else ESTALE) */
	OP_WRITES = 1 << 1, /* EROFS on a readonly share */
};

struct fuse_op {
	fuse_op_fn *fn;
	uint16_t arg_size;   /* fixed argument at the start */
	uint16_t reply_size; /* room the fixed reply needs */
	uint8_t flags;
};

#define ENTRY_OUT sizeof(struct fuse_entry_out)
#define OPEN_OUT  sizeof(struct fuse_open_out)

static const struct fuse_op fuse_ops[] = {
    [FUSE_LOOKUP] = {fuse_op_lookup, 0, ENTRY_OUT, OP_NODE},
    [FUSE_GETATTR] = {fuse_op_getattr, sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out),
		      OP_NODE},
    [FUSE_SETATTR] = {fuse_op_setattr, sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out),
		      OP_NODE | OP_WRITES},
    [FUSE_READLINK] = {fuse_op_readlink, 0, 0, OP_NODE},
    [FUSE_SYMLINK] = {fuse_op_symlink, 0, ENTRY_OUT, OP_NODE | OP_WRITES},
    [FUSE_MKNOD] = {fuse_op_mknod, sizeof(struct fuse_mknod_in), ENTRY_OUT, OP_NODE | OP_WRITES},
    [FUSE_MKDIR] = {fuse_op_mkdir, sizeof(struct fuse_mkdir_in), ENTRY_OUT, OP_NODE | OP_WRITES},
    [FUSE_UNLINK] = {fuse_op_unlink, 0, 0, OP_NODE | OP_WRITES},
    [FUSE_RMDIR] = {fuse_op_rmdir, 0, 0, OP_NODE | OP_WRITES},
    [FUSE_RENAME] = {fuse_op_rename, sizeof(struct fuse_rename_in), 0, OP_NODE | OP_WRITES},
    [FUSE_LINK] = {fuse_op_link, sizeof(struct fuse_link_in), ENTRY_OUT, OP_NODE | OP_WRITES},
    [FUSE_OPEN] = {fuse_op_open, sizeof(struct fuse_open_in), OPEN_OUT, OP_NODE},
    [FUSE_READ] = {fuse_op_read, sizeof(struct fuse_read_in), 0, OP_NODE},
    [FUSE_WRITE] = {fuse_op_write, sizeof(struct fuse_write_in), sizeof(struct fuse_write_out),
		    OP_NODE | OP_WRITES},
    [FUSE_STATFS] = {fuse_op_statfs, 0, sizeof(struct fuse_statfs_out), OP_NODE},
    [FUSE_RELEASE] = {fuse_op_release, sizeof(struct fuse_release_in), 0, 0},
    [FUSE_FSYNC] = {fuse_op_fsync, sizeof(struct fuse_fsync_in), 0, OP_NODE},
    /* without FUSE_SETXATTR_EXT the kernel sends the 8-byte form */
    [FUSE_SETXATTR] = {fuse_op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE, 0, OP_NODE | OP_WRITES},
    [FUSE_GETXATTR] = {fuse_op_getxattr, sizeof(struct fuse_getxattr_in), 0, OP_NODE},
    [FUSE_LISTXATTR] = {fuse_op_listxattr, sizeof(struct fuse_getxattr_in), 0, OP_NODE},
    [FUSE_REMOVEXATTR] = {fuse_op_removexattr, 0, 0, OP_NODE | OP_WRITES},
    [FUSE_FLUSH] = {fuse_op_flush, sizeof(struct fuse_flush_in), 0, OP_NODE},
    [FUSE_OPENDIR] = {fuse_op_opendir, sizeof(struct fuse_open_in), OPEN_OUT, OP_NODE},
    [FUSE_READDIR] = {fuse_op_readdir, sizeof(struct fuse_read_in), 0, OP_NODE},
    [FUSE_RELEASEDIR] = {fuse_op_releasedir, sizeof(struct fuse_release_in), 0, 0},
    [FUSE_FSYNCDIR] = {fuse_op_fsyncdir, sizeof(struct fuse_fsync_in), 0, OP_NODE},
    [FUSE_ACCESS] = {fuse_op_access, sizeof(struct fuse_access_in), 0, OP_NODE},
    [FUSE_CREATE] = {fuse_op_create, sizeof(struct fuse_create_in), ENTRY_OUT + OPEN_OUT,
		     OP_NODE | OP_WRITES},
    [FUSE_FALLOCATE] = {fuse_op_fallocate, sizeof(struct fuse_fallocate_in), 0,
			OP_NODE | OP_WRITES},
    [FUSE_READDIRPLUS] = {fuse_op_readdirplus, sizeof(struct fuse_read_in), 0, OP_NODE},
    [FUSE_RENAME2] = {fuse_op_rename2, sizeof(struct fuse_rename2_in), 0, OP_NODE | OP_WRITES},
    [FUSE_LSEEK] = {fuse_op_lseek, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out),
		    OP_NODE},
    [FUSE_COPY_FILE_RANGE] = {fuse_op_copy_file_range, sizeof(struct fuse_copy_file_range_in),
			      sizeof(struct fuse_write_out), OP_NODE | OP_WRITES},
    [FUSE_SYNCFS] = {fuse_op_syncfs, sizeof(struct fuse_syncfs_in), 0, OP_NODE},
    [FUSE_TMPFILE] = {fuse_op_tmpfile, sizeof(struct fuse_create_in), ENTRY_OUT + OPEN_OUT,
		      OP_NODE | OP_WRITES},
};

/* ---- iovecs --------------------------------------------------------------------- */

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t total = 0;

	for (int k = 0; k < n; k++) {
		if (iov[k].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[k].iov_len;
	}
	return total;
}

/* Copy len bytes at offset off of the iovecs into dst; the bytes copied. */
static size_t iov_read(const struct iovec *iov, int n, size_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (int k = 0; k < n && done < len; k++) {
		size_t chunk;

		if (off >= iov[k].iov_len) {
			off -= iov[k].iov_len;
			continue;
		}
		chunk = iov[k].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)iov[k].iov_base + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

static size_t iov_write(const struct iovec *iov, int n, size_t off, const void *src, size_t len)
{
	size_t done = 0;

	for (int k = 0; k < n && done < len; k++) {
		size_t chunk;

		if (off >= iov[k].iov_len) {
			off -= iov[k].iov_len;
			continue;
		}
		chunk = iov[k].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((uint8_t *)iov[k].iov_base + off, (const uint8_t *)src + done, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

/* iovecs over iov[] from off, len bytes at most.  With max iovecs used up:
 * -1 when strict, else the count so far. */
static int iov_slice(const struct iovec *iov, int n, size_t off, size_t len, struct iovec *out,
		     int max, bool strict)
{
	int count = 0;

	for (int k = 0; k < n && len > 0; k++) {
		size_t chunk;

		if (off >= iov[k].iov_len) {
			off -= iov[k].iov_len;
			continue;
		}
		if (count == max)
			return strict ? -1 : count;
		chunk = iov[k].iov_len - off;
		if (chunk > len)
			chunk = len;
		out[count].iov_base = (uint8_t *)iov[k].iov_base + off;
		out[count].iov_len = chunk;
		count++;
		len -= chunk;
		off = 0;
	}
	return count;
}

int fuse_out_iov(const struct fuse_req *r, size_t len, struct iovec *iov, int max)
{
	if (len > fuse_out_room(r))
		len = fuse_out_room(r);
	return iov_slice(r->iov_out, r->n_out, sizeof(struct fuse_out_header), len, iov, max,
			 false);
}

/* off counts from the start of the request, its fuse_in_header included. */
int fuse_in_iov(const struct fuse_req *r, size_t off, size_t len, struct iovec *iov, int max)
{
	int count;

	if (off > r->in.len || len > r->in.len - off)
		return -EINVAL;
	count = iov_slice(r->iov_in, r->n_in, off, len, iov, max, true);
	return count < 0 ? -E2BIG : count;
}

/* ---- replies ---------------------------------------------------------------------- */

static void reply_header(struct fuse_req *r, int error, size_t payload)
{
	struct fuse_out_header h = {
	    .len = (uint32_t)(sizeof(h) + payload),
	    .error = -error,
	    .unique = r->in.unique,
	};

	iov_write(r->iov_out, r->n_out, 0, &h, sizeof(h));
	r->written = sizeof(h) + payload;
}

static void reply_error(struct fuse_req *r, int error)
{
	reply_header(r, error, 0);
}

int fuse_reply(struct fuse_req *r, const void *arg, size_t len)
{
	if (len > fuse_out_room(r)) {
		reply_error(r, ERANGE);
		return 0;
	}
	if (len)
		iov_write(r->iov_out, r->n_out, sizeof(struct fuse_out_header), arg, len);
	reply_header(r, 0, len);
	return 0;
}

int fuse_reply_after_data(struct fuse_req *r, size_t data_len)
{
	if (data_len > fuse_out_room(r)) {
		reply_error(r, ERANGE);
		return 0;
	}
	reply_header(r, 0, data_len);
	return 0;
}

/* ---- arguments -------------------------------------------------------------------- */

int fuse_arg_string(const struct fuse_req *r, size_t *off, size_t max, const char **str)
{
	const char *s = (const char *)r->arg + *off;
	size_t left, len;

	if (*off >= r->arg_len)
		return EINVAL;
	left = r->arg_len - *off;
	len = strnlen(s, left);
	if (len == left)
		return EINVAL; /* no NUL inside the arguments */
	if (len + 1 > max)
		return ENAMETOOLONG;
	*str = s;
	*off += len + 1;
	return 0;
}

int fuse_arg_name(const struct fuse_req *r, size_t *off, const char **name)
{
	size_t pos = *off;
	const char *n;
	int ret;

	ret = fuse_arg_string(r, &pos, FUSE_NAME_MAX + 1, &n);
	if (ret)
		return ret;
	if (n[0] == '\0' || strchr(n, '/') || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		return EINVAL;
	*name = n;
	*off = pos;
	return 0;
}

/* ---- shared helpers ----------------------------------------------------------------- */

int fuse_fstat(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return errno;
	return 0;
}

/* The kernel's "new" dev_t encoding, which FUSE carries in 32 bits. */
static uint32_t encode_dev(dev_t dev)
{
	unsigned ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & ~0xffU) << 12);
}

void fuse_fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = encode_dev(st->st_rdev);
	a->blksize = (uint32_t)st->st_blksize;
}

void fuse_fill_entry(struct fuse_entry_out *e, uint64_t nodeid, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	e->entry_valid = FUSE_TIMEOUT_S;
	e->attr_valid = FUSE_TIMEOUT_S;
	fuse_fill_attr(&e->attr, st);
}

int fuse_reopen(struct fuse_server *s, const struct fuse_inode *i, int flags)
{
	char name[16];
	int fd;

	if (i->type != S_IFREG && i->type != S_IFDIR)
		return -EACCES; /* never open devices, FIFOs or sockets on the host */
	/* the magic link is itself a symlink (O_NOFOLLOW would refuse it) and
	 * it names an existing inode: nothing to create */
	flags &= ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | (O_TMPFILE & ~O_DIRECTORY));
	if (i->type == S_IFDIR)
		flags |= O_DIRECTORY;
	snprintf(name, sizeof(name), "%d", i->fd);
	fd = openat(s->proc_fd, name, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

bool fuse_name_hidden(const struct fuse_server *s, const struct fuse_inode *parent,
		      const char *name)
{
	return s->single && parent == s->root && strcmp(name, s->single) != 0;
}

bool fuse_dir_locked(const struct fuse_server *s, const struct fuse_inode *dir)
{
	return s->single && dir == s->root;
}

int fuse_lookup_entry(struct fuse_server *s, struct fuse_inode *parent, const char *name,
		      struct fuse_entry_out *e)
{
	struct stat st;
	uint64_t nodeid;
	int fd, ret;

	/* callers pass checked names or ones from readdir: never step out */
	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return EINVAL;
	if (fuse_name_hidden(s, parent, name))
		return ENOENT;
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	ret = fuse_fstat(fd, &st);
	if (ret) {
		close(fd);
		return ret;
	}
	ret = fuse_inode_add(s, fd, &st, &nodeid);
	if (ret)
		return ret;
	fuse_fill_entry(e, nodeid, &st);
	return 0;
}

int fuse_reply_entry(struct fuse_req *r, int fd)
{
	struct fuse_entry_out e;
	struct stat st;
	uint64_t nodeid;
	int ret;

	if (fuse_out_room(r) < sizeof(e)) {
		close(fd);
		return ERANGE; /* the guest could not learn of the lookup it holds */
	}
	ret = fuse_fstat(fd, &st);
	if (ret) {
		close(fd);
		return ret;
	}
	ret = fuse_inode_add(r->srv, fd, &st, &nodeid);
	if (ret)
		return ret;
	fuse_fill_entry(&e, nodeid, &st);
	return fuse_reply(r, &e, sizeof(e));
}

/* ---- the session --------------------------------------------------------------------- */

static unsigned clamp_pages(unsigned pages)
{
	if (pages == 0)
		return FUSE_DEFAULT_PAGES;
	return pages > FUSE_MAX_MAX_PAGES ? FUSE_MAX_MAX_PAGES : pages;
}

static void do_init(struct fuse_req *r)
{
	struct fuse_server *s = r->srv;
	const struct fuse_init_in *in = fuse_arg(r);
	struct fuse_init_out out = {.major = FUSE_KERNEL_VERSION};

	if (in->major > FUSE_KERNEL_VERSION) {
		/* the guest retries INIT with our major */
		out.minor = FUSE_KERNEL_MINOR_VERSION;
		fuse_reply(r, &out, FUSE_COMPAT_INIT_OUT_SIZE);
		return;
	}
	if (in->major < FUSE_KERNEL_VERSION || in->minor < FUSE_MIN_MINOR) {
		reply_error(r, EPROTO);
		return;
	}
	out.minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
	out.max_readahead = in->max_readahead;
	out.flags = in->flags & FUSE_WANTED_FLAGS;
	out.time_gran = 1;

	pthread_mutex_lock(&s->lock);
	if (s->initialized) {
		pthread_mutex_unlock(&s->lock);
		reply_error(r, EIO); /* a second INIT without DESTROY or reset */
		return;
	}
	out.max_pages = (uint16_t)clamp_pages(s->max_pages_config);
	out.max_write = out.max_pages * FUSE_PAGE_SIZE;
	s->max_write = out.max_write;
	s->minor = out.minor;
	s->initialized = true;
	pthread_mutex_unlock(&s->lock);
	fuse_reply(r, &out, sizeof(out));
}

static void do_batch_forget(struct fuse_req *r)
{
	const struct fuse_batch_forget_in *in = fuse_arg(r);
	size_t room = (r->arg_len - sizeof(*in)) / sizeof(struct fuse_forget_one);
	size_t count = in->count < room ? in->count : room;

	for (size_t k = 0; k < count; k++) {
		struct fuse_forget_one one;

		memcpy(&one, r->arg + sizeof(*in) + k * sizeof(one), sizeof(one));
		fuse_inode_forget(r->srv, one.nodeid, one.nlookup);
	}
}

/* Requests the session itself answers (or silently takes); false when the
 * opcode is a handler's. */
static bool do_session(struct fuse_req *r, bool initialized)
{
	switch (r->in.opcode) {
	case FUSE_INIT:
		do_init(r);
		return true;
	case FUSE_FORGET:
		if (initialized)
			fuse_inode_forget(r->srv, r->in.nodeid,
					  ((const struct fuse_forget_in *)fuse_arg(r))->nlookup);
		return true;
	case FUSE_BATCH_FORGET:
		if (initialized)
			do_batch_forget(r);
		return true;
	case FUSE_INTERRUPT:
		return true; /* requests run to completion; nothing to interrupt */
	case FUSE_DESTROY:
		if (!initialized) {
			reply_error(r, EIO);
			return true;
		}
		/* the guest unmounted: drop its lookups and handles, expect INIT */
		fuse_tables_clear(r->srv);
		pthread_mutex_lock(&r->srv->lock);
		r->srv->initialized = false;
		pthread_mutex_unlock(&r->srv->lock);
		fuse_reply(r, NULL, 0);
		return true;
	}
	return false;
}

/* Fixed argument sizes of the session's opcodes. */
static size_t session_arg_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_INIT:
		return offsetof(struct fuse_init_in, flags2); /* before 7.36 */
	case FUSE_FORGET:
		return sizeof(struct fuse_forget_in);
	case FUSE_BATCH_FORGET:
		return sizeof(struct fuse_batch_forget_in);
	case FUSE_INTERRUPT:
		return sizeof(struct fuse_interrupt_in);
	}
	return 0;
}

static bool session_opcode(uint32_t opcode)
{
	return opcode == FUSE_INIT || opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET ||
	       opcode == FUSE_INTERRUPT || opcode == FUSE_DESTROY;
}

static bool no_reply(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET || opcode == FUSE_INTERRUPT;
}

/* ---- requests ------------------------------------------------------------------------ */

/* Run the handler of an opcode whose arguments are in place. */
static void dispatch(struct fuse_req *r, const struct fuse_op *op)
{
	struct fuse_server *s = r->srv;
	struct fuse_inode *node = NULL;
	int ret;

	if (op->flags & OP_NODE) {
		node = fuse_inode_get(s, r->in.nodeid);
		if (node == NULL) {
			reply_error(r, ESTALE);
			return;
		}
	}
	ret = op->fn(r, node);
	fuse_inode_put(s, node);
	if (ret < 0)
		ret = -ret;
	if (ret == 0 && r->written == 0)
		ret = EIO; /* a handler that forgot to reply */
	if (ret)
		reply_error(r, ret);
}

size_t fuse_server_handle(struct fuse_server *s, const struct iovec *in, int nin,
			  const struct iovec *out, int nout)
{
	struct fuse_req r = {.srv = s, .iov_in = in, .n_in = nin, .iov_out = out, .n_out = nout};
	uint8_t stack_buf[FUSE_ARG_STACK + FUSE_ARG_PAD] __attribute__((aligned(16)));
	cleanup_free uint8_t *heap_buf = NULL;
	const struct fuse_op *op = NULL;
	size_t total, arg_len, fixed, copy_len, ext;
	uint32_t opcode, max_write;
	bool initialized;

	if (iov_read(in, nin, 0, &r.in, sizeof(r.in)) < sizeof(r.in))
		return 0; /* nothing to answer to */
	opcode = r.in.opcode;
	total = iov_total(out, nout);
	r.out_len = total > UINT32_MAX ? UINT32_MAX : total;
	if (r.out_len < sizeof(struct fuse_out_header) && !no_reply(opcode))
		return 0;

	if (r.in.len != iov_total(in, nin) || r.in.len < sizeof(r.in)) {
		if (!no_reply(opcode))
			reply_error(&r, EINVAL);
		return r.written;
	}
	arg_len = r.in.len - sizeof(r.in);
	/* extensions (security context, groups) come only when negotiated: never */
	ext = (size_t)r.in.total_extlen * 8;
	if (ext > arg_len) {
		if (!no_reply(opcode))
			reply_error(&r, EINVAL);
		return r.written;
	}
	arg_len -= ext;

	if (session_opcode(opcode)) {
		fixed = session_arg_size(opcode);
	} else if (opcode < sizeof(fuse_ops) / sizeof(fuse_ops[0]) && fuse_ops[opcode].fn) {
		op = &fuse_ops[opcode];
		fixed = op->arg_size;
	} else {
		fixed = 0;
	}
	if (arg_len < fixed) {
		if (!no_reply(opcode))
			reply_error(&r, EINVAL);
		return r.written;
	}

	/* WRITE's data stays where it is: only its fuse_write_in is copied */
	copy_len = opcode == FUSE_WRITE ? fixed : arg_len;
	if (copy_len > FUSE_ARGS_MAX) {
		if (!no_reply(opcode))
			reply_error(&r, E2BIG);
		return r.written;
	}
	if (copy_len <= FUSE_ARG_STACK) {
		r.arg = stack_buf;
	} else {
		heap_buf = malloc(copy_len + FUSE_ARG_PAD);
		if (heap_buf == NULL) {
			if (!no_reply(opcode))
				reply_error(&r, ENOMEM);
			return r.written;
		}
		r.arg = heap_buf;
	}
	/* zeroes after the arguments: a NUL ends any string, a short struct reads 0 */
	iov_read(in, nin, sizeof(r.in), (uint8_t *)r.arg, copy_len);
	memset((uint8_t *)r.arg + copy_len, 0, FUSE_ARG_PAD);
	r.arg_len = copy_len;

	pthread_mutex_lock(&s->lock);
	initialized = s->initialized;
	max_write = s->max_write;
	pthread_mutex_unlock(&s->lock);

	if (session_opcode(opcode)) {
		do_session(&r, initialized);
		return r.written;
	}
	if (!initialized) {
		reply_error(&r, EIO);
		return r.written;
	}
	if (op == NULL) {
		reply_error(&r, ENOSYS);
		return r.written;
	}
	if (opcode == FUSE_WRITE) {
		const struct fuse_write_in *w = fuse_arg(&r);

		if (w->size != arg_len - fixed || w->size > max_write) {
			reply_error(&r, EINVAL);
			return r.written;
		}
	}
	if ((op->flags & OP_WRITES) && s->readonly) {
		reply_error(&r, EROFS);
		return r.written;
	}
	if (fuse_out_room(&r) < op->reply_size) {
		reply_error(&r, ERANGE);
		return r.written;
	}
	dispatch(&r, op);
	return r.written;
}

/* ---- the server ------------------------------------------------------------------------ */

static size_t fd_budget(void)
{
	struct rlimit rl;
	rlim_t cur;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return FUSE_MAX_FDS;
	cur = rl.rlim_cur;
	/* leave the VMM its own fds: an eighth, and never fewer than the margin */
	if (cur <= 2 * FUSE_FD_MARGIN)
		return (size_t)(cur / 2);
	cur -= cur / 8 > FUSE_FD_MARGIN ? cur / 8 : FUSE_FD_MARGIN;
	return cur > FUSE_MAX_FDS ? FUSE_MAX_FDS : (size_t)cur;
}

/* The share's root: the directory itself, or for a regular file its parent
 * directory, with the file's name in *single. */
static int open_root(const char *path, int *root_fd, struct stat *root_st, char **single,
		     mv_error_t *err)
{
	cleanup_close int fd = -1, dir_fd = -1;
	cleanup_free char *real = NULL;
	struct stat st, named;
	char *slash;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return mv_error(err, errno, "open `%s`", path);
	if (fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat `%s`", path);
	if (S_ISDIR(st.st_mode)) {
		*root_fd = steal_fd(&fd);
		*root_st = st;
		*single = NULL;
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return mv_error(err, 0, "share `%s`: not a directory or a regular file", path);

	/* the file's real name, so that a symlink to it shares its target */
	real = realpath(path, NULL);
	if (real == NULL)
		return mv_error(err, errno, "resolve `%s`", path);
	slash = strrchr(real, '/');
	if (slash == NULL || slash[1] == '\0')
		return mv_error(err, EINVAL, "share `%s`", path);
	*slash = '\0';
	dir_fd = open(slash == real ? "/" : real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return mv_error(err, errno, "open the directory of `%s`", path);
	if (fstatat(dir_fd, slash + 1, &named, AT_SYMLINK_NOFOLLOW) < 0)
		return mv_error(err, errno, "stat `%s`", path);
	if (named.st_dev != st.st_dev || named.st_ino != st.st_ino)
		return mv_error(err, EAGAIN, "share `%s`: replaced while opened", path);
	*single = strdup(slash + 1);
	if (*single == NULL)
		return mv_error(err, ENOMEM, "share `%s`", path);
	if (fstat(dir_fd, root_st) < 0) {
		free(steal_ptr(single));
		return mv_error(err, errno, "stat the directory of `%s`", path);
	}
	*root_fd = steal_fd(&dir_fd);
	return 0;
}

int fuse_server_create(struct fuse_server **out, const char *path, bool readonly, mv_error_t *err)
{
	struct fuse_server *s;
	struct stat st;
	int root_fd = -1, ret;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mv_error(err, ENOMEM, "share `%s`", path);
	s->proc_fd = -1;
	if (open_root(path, &root_fd, &st, &s->single, err) < 0) {
		free(s);
		return -1;
	}
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0) {
		ret = mv_error(err, errno, "open `/proc/self/fd`: is /proc mounted?");
		close(root_fd);
		free(s->single);
		free(s);
		return ret;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->readonly = readonly;
	s->max_pages_config = FUSE_DEFAULT_PAGES;
	s->max_fds = fd_budget();
	ret = fuse_tables_init(s, root_fd, &st);
	if (ret) {
		close(root_fd);
		fuse_server_destroy(s);
		return mv_error(err, ret, "share `%s`", path);
	}
	*out = s;
	return 0;
}

void fuse_server_destroy(struct fuse_server *s)
{
	if (s == NULL)
		return;
	fuse_tables_release(s);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->single);
	free(s);
}

void fuse_server_set_max_pages(struct fuse_server *s, unsigned pages)
{
	pthread_mutex_lock(&s->lock);
	s->max_pages_config = clamp_pages(pages);
	pthread_mutex_unlock(&s->lock);
}

void fuse_server_reset(struct fuse_server *s)
{
	fuse_tables_clear(s);
	pthread_mutex_lock(&s->lock);
	s->initialized = false;
	s->max_write = 0;
	pthread_mutex_unlock(&s->lock);
}
