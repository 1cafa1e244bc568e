/* FUSE file handlers: OPEN and what the guest does with an open regular
 * file.  A handle is an fd opened through /proc/self/fd from the inode's
 * O_PATH fd; it belongs to the node it was opened on, and a request naming a
 * handle of another node is EBADF.  Data moves with preadv/pwritev straight
 * between the host file and the guest's buffers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "vmm/fuse_internal.h"

/* What a guest's open flags may ask of the host file.  O_DIRECT is dropped:
 * the guest's buffers need not meet the host's alignment rules, and the
 * guest keeps its own page cache either way.  O_CREAT, O_EXCL, O_NOFOLLOW,
 * O_PATH and the like make no sense when reopening a known inode. */
#define OPEN_FLAGS_KEPT (O_ACCMODE | O_APPEND | O_TRUNC | O_NONBLOCK | O_SYNC | O_DSYNC | O_NOATIME)

#define FALLOCATE_MODES                                                                            \
	(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE |                   \
	 FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE)

/* Where WRITE's data starts in the request. */
#define WRITE_DATA_OFF (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))

int fuse_handle_of(struct fuse_req *r, uint64_t fh, uint64_t nodeid, bool dir,
		   struct fuse_handle **out)
{
	struct fuse_handle *h = fuse_handle_get(r->srv, fh, dir);

	if (h && h->nodeid != nodeid) {
		fuse_handle_put(r->srv, h);
		h = NULL;
	}
	*out = h;
	return h ? 0 : EBADF;
}

static struct fuse_handle *file_handle(struct fuse_req *r, uint64_t fh, uint64_t nodeid)
{
	struct fuse_handle *h;

	fuse_handle_of(r, fh, nodeid, false, &h);
	return h;
}

/* The largest READ or WRITE this session agreed on. */
static size_t io_max(struct fuse_server *s)
{
	size_t max;

	pthread_mutex_lock(&s->lock);
	max = s->max_write;
	pthread_mutex_unlock(&s->lock);
	return max;
}

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/* preadv or pwritev until all of iov moved, end of file or an error: the
 * bytes moved, or -errno when none did.  iov is consumed. */
static ssize_t io_all(int fd, struct iovec *iov, int n, off_t off, bool write)
{
	size_t done = 0;
	int i = 0;

	while (i < n) {
		int batch = n - i < IOV_MAX ? n - i : IOV_MAX;
		ssize_t got = write ? pwritev(fd, iov + i, batch, off + (off_t)done)
				    : preadv(fd, iov + i, batch, off + (off_t)done);
		size_t left;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (done)
				break;
			return -errno;
		}
		if (got == 0)
			break;
		done += (size_t)got;
		for (left = (size_t)got; i < n && left >= iov[i].iov_len; i++)
			left -= iov[i].iov_len;
		if (left) {
			iov[i].iov_base = (char *)iov[i].iov_base + left;
			iov[i].iov_len -= left;
		}
	}
	return (ssize_t)done;
}

/* FUSE_WRITE_KILL_SUIDGID, FUSE_OPEN_KILL_SUIDGID: drop setuid, and setgid
 * where it means "run as group" (group-exec set), as the kernel does when an
 * unprivileged caller writes.  0 or an errno. */
static int kill_suidgid(int fd, uint32_t uid)
{
	struct stat st;
	mode_t kill = S_ISUID;

	if (uid == 0)
		return 0;
	if (fstat(fd, &st) < 0)
		return errno;
	if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		kill |= S_ISGID;
	if ((st.st_mode & kill) == 0)
		return 0;
	if (fchmod(fd, st.st_mode & 07777 & ~kill) < 0)
		return errno;
	return 0;
}

int fuse_op_open(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_open_in in;
	struct fuse_open_out out = {0};
	cleanup_close int fd = -1;
	int flags, ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	flags = (int)in.flags & OPEN_FLAGS_KEPT;
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return EINVAL;
	if (node->type == S_IFDIR)
		return EISDIR;
	if (node->type != S_IFREG) /* the guest opens special files itself */
		return EACCES;
	if (r->srv->readonly && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return EROFS;

	fd = fuse_reopen(r->srv, node, flags);
	if (fd == -EPERM && (flags & O_NOATIME)) /* only the owner may ask for it */
		fd = fuse_reopen(r->srv, node, flags & ~O_NOATIME);
	if (fd < 0)
		return -fd;
	if ((flags & O_TRUNC) && (in.open_flags & FUSE_OPEN_KILL_SUIDGID)) {
		ret = kill_suidgid(fd, r->in.uid);
		if (ret)
			return ret;
	}
	ret = fuse_handle_add(r->srv, steal_fd(&fd), node->nodeid, false, &out.fh);
	if (ret)
		return ret;
	return fuse_reply(r, &out, sizeof(out));
}

static int read_handle(struct fuse_req *r, struct fuse_handle *h, off_t off, size_t len)
{
	cleanup_free struct iovec *iov = NULL;
	ssize_t got;
	int n;

	iov = calloc((size_t)r->n_out + 1, sizeof(*iov));
	if (iov == NULL)
		return ENOMEM;
	n = fuse_out_iov(r, len, iov, r->n_out + 1);
	got = io_all(h->fd, iov, n, off, false);
	if (got < 0)
		return (int)-got;
	return fuse_reply_after_data(r, (size_t)got);
}

int fuse_op_read(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_read_in in;
	struct fuse_handle *h;
	size_t len, max;
	int ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	len = in.size;
	max = io_max(r->srv);
	if (max && len > max)
		len = max;
	if (len > fuse_out_room(r))
		len = fuse_out_room(r);
	if (in.offset > (uint64_t)INT64_MAX - len)
		return EINVAL;
	h = file_handle(r, in.fh, node->nodeid);
	if (h == NULL)
		return EBADF;
	ret = read_handle(r, h, (off_t)in.offset, len);
	fuse_handle_put(r->srv, h);
	return ret;
}

static int write_handle(struct fuse_req *r, struct fuse_handle *h, const struct fuse_write_in *in)
{
	cleanup_free struct iovec *iov = NULL;
	struct fuse_write_out out = {0};
	ssize_t done;
	int n, ret;

	iov = calloc((size_t)r->n_in + 1, sizeof(*iov));
	if (iov == NULL)
		return ENOMEM;
	n = fuse_in_iov(r, WRITE_DATA_OFF, in->size, iov, r->n_in + 1);
	if (n < 0 || iov_total(iov, n) != in->size)
		return EINVAL;
	if (in->write_flags & FUSE_WRITE_KILL_SUIDGID) {
		ret = kill_suidgid(h->fd, r->in.uid);
		if (ret)
			return ret;
	}
	done = io_all(h->fd, iov, n, (off_t)in->offset, true);
	if (done < 0)
		return (int)-done;
	out.size = (uint32_t)done;
	return fuse_reply(r, &out, sizeof(out));
}

int fuse_op_write(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_write_in in;
	struct fuse_handle *h;
	size_t carried = iov_total(r->iov_in, r->n_in);
	int ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	if (carried > r->in.len)
		carried = r->in.len;
	/* the data must be in the request, as much as it says */
	if (carried < WRITE_DATA_OFF || in.size > carried - WRITE_DATA_OFF)
		return EINVAL;
	if (in.offset > (uint64_t)INT64_MAX - in.size)
		return EFBIG;
	h = file_handle(r, in.fh, node->nodeid);
	if (h == NULL)
		return EBADF;
	ret = write_handle(r, h, &in);
	fuse_handle_put(r->srv, h);
	return ret;
}

int fuse_release_common(struct fuse_req *r, bool dir)
{
	struct fuse_release_in in;
	struct fuse_handle *h;
	int ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	/* by r->in.nodeid: the guest may have forgotten the node already */
	ret = fuse_handle_of(r, in.fh, r->in.nodeid, dir, &h);
	if (ret)
		return ret;
	fuse_handle_put(r->srv, h);
	/* the fd closes here, or when the last request using it ends */
	ret = fuse_handle_release(r->srv, in.fh, dir);
	if (ret)
		return ret;
	return fuse_reply(r, NULL, 0);
}

int fuse_op_release(struct fuse_req *r, struct fuse_inode *node)
{
	return fuse_release_common(r, false);
}

/* Nothing is buffered here: the close that matters happens at RELEASE. */
int fuse_op_flush(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_flush_in in;
	struct fuse_handle *h;

	memcpy(&in, fuse_arg(r), sizeof(in));
	h = file_handle(r, in.fh, node->nodeid);
	if (h == NULL)
		return EBADF;
	fuse_handle_put(r->srv, h);
	return fuse_reply(r, NULL, 0);
}

int fuse_fsync_common(struct fuse_req *r, struct fuse_inode *node, bool dir)
{
	struct fuse_fsync_in in;
	struct fuse_handle *h;
	int ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	ret = fuse_handle_of(r, in.fh, node->nodeid, dir, &h);
	if (ret)
		return ret;
	ret = (in.fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(h->fd) : fsync(h->fd);
	ret = ret < 0 ? errno : 0;
	fuse_handle_put(r->srv, h);
	if (ret)
		return ret;
	return fuse_reply(r, NULL, 0);
}

int fuse_op_fsync(struct fuse_req *r, struct fuse_inode *node)
{
	return fuse_fsync_common(r, node, false);
}

int fuse_op_fallocate(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_fallocate_in in;
	struct fuse_handle *h;
	int ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	if (in.mode & ~(uint32_t)FALLOCATE_MODES)
		return EOPNOTSUPP;
	if (in.offset > INT64_MAX || in.length > INT64_MAX)
		return EINVAL;
	h = file_handle(r, in.fh, node->nodeid);
	if (h == NULL)
		return EBADF;
	ret = fallocate(h->fd, (int)in.mode, (off_t)in.offset, (off_t)in.length) < 0 ? errno : 0;
	fuse_handle_put(r->srv, h);
	if (ret)
		return ret;
	return fuse_reply(r, NULL, 0);
}

/* The guest's kernel keeps file positions itself and asks only for
 * SEEK_DATA and SEEK_HOLE; the fd's own position is used by nothing else. */
int fuse_op_lseek(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_lseek_in in;
	struct fuse_lseek_out out = {0};
	struct fuse_handle *h;
	off_t pos;
	int ret = 0;

	memcpy(&in, fuse_arg(r), sizeof(in));
	switch (in.whence) {
	case SEEK_SET:
	case SEEK_CUR:
	case SEEK_END:
	case SEEK_DATA:
	case SEEK_HOLE:
		break;
	default:
		return EINVAL;
	}
	h = file_handle(r, in.fh, node->nodeid);
	if (h == NULL)
		return EBADF;
	pos = lseek(h->fd, (off_t)in.offset, (int)in.whence);
	if (pos < 0)
		ret = errno;
	fuse_handle_put(r->srv, h);
	if (ret)
		return ret;
	out.offset = (uint64_t)pos;
	return fuse_reply(r, &out, sizeof(out));
}

int fuse_op_copy_file_range(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_copy_file_range_in in;
	struct fuse_write_out out = {0};
	struct fuse_handle *from = NULL, *to = NULL;
	loff_t off_in, off_out;
	size_t len;
	ssize_t done;
	int ret = 0;

	memcpy(&in, fuse_arg(r), sizeof(in));
	if (in.flags != 0)
		return EINVAL;
	if (in.off_in > INT64_MAX || in.off_out > INT64_MAX)
		return EINVAL;
	len = in.len < FUSE_COPY_MAX ? (size_t)in.len : FUSE_COPY_MAX;
	off_in = (loff_t)in.off_in;
	off_out = (loff_t)in.off_out;

	from = file_handle(r, in.fh_in, node->nodeid);
	to = file_handle(r, in.fh_out, in.nodeid_out);
	if (from == NULL || to == NULL) {
		ret = EBADF;
		goto out;
	}
	do
		done = copy_file_range(from->fd, &off_in, to->fd, &off_out, len, 0);
	while (done < 0 && errno == EINTR);
	if (done < 0)
		ret = errno;
	else
		out.size = (uint32_t)done;
out:
	fuse_handle_put(r->srv, from);
	fuse_handle_put(r->srv, to);
	if (ret)
		return ret;
	return fuse_reply(r, &out, sizeof(out));
}

/* syncfs(2) refuses O_PATH fds: reopen the root. */
int fuse_op_syncfs(struct fuse_req *r, struct fuse_inode *node)
{
	cleanup_close int fd = fuse_reopen(r->srv, r->srv->root, O_RDONLY);

	if (fd < 0)
		return -fd;
	if (syncfs(fd) < 0)
		return errno;
	return fuse_reply(r, NULL, 0);
}
