/* FUSE handlers for names and inodes: lookup, attributes, links, creation,
 * removal and renaming (handler contract: vmm/fuse_internal.h).
 *
 * Everything goes through the O_PATH fds of the inode table: a name is
 * always one component below a directory fd, opened with O_NOFOLLOW, so
 * the guest never makes us walk a path or follow a symlink.  Where a call
 * has no fd form that works on O_PATH fds (chmod, utimes, access, link
 * without CAP_DAC_READ_SEARCH) it goes through /proc/self/fd/<n>, a magic
 * link to the very inode, never opened for I/O.
 *
 * New objects: when the VMM runs as root they are chowned to the caller
 * (the parent's group under a setgid directory), then given exactly the
 * mode the guest asked for, which already has the guest's umask applied
 * and which the host's umask or chown's clearing of suid bits would
 * otherwise change. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "vmm/fuse_internal.h"

#define MODE_BITS 07777

/* The name of fd below /proc/self/fd. */
static const char *proc_name(char buf[16], int fd)
{
	snprintf(buf, 16, "%d", fd);
	return buf;
}

/* ---- lookup and attributes ---------------------------------------------------------- */

int fuse_op_lookup(struct fuse_req *r, struct fuse_inode *dir)
{
	struct fuse_entry_out e;
	const char *name;
	size_t off = 0;
	int ret;

	ret = fuse_arg_name(r, &off, &name);
	if (ret)
		return ret;
	ret = fuse_lookup_entry(r->srv, dir, name, &e); /* ENOENT for hidden names too */
	if (ret)
		return ret;
	return fuse_reply(r, &e, sizeof(e));
}

static int reply_attr(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_attr_out out = {.attr_valid = FUSE_TIMEOUT_S};
	struct stat st;
	int ret;

	ret = fuse_fstat(node->fd, &st);
	if (ret)
		return ret;
	fuse_fill_attr(&out.attr, &st);
	return fuse_reply(r, &out, sizeof(out));
}

int fuse_op_getattr(struct fuse_req *r, struct fuse_inode *node)
{
	/* GETATTR_FH names an open file of this same inode: its O_PATH fd will do */
	return reply_attr(r, node);
}

static int set_size(struct fuse_req *r, struct fuse_inode *node, const struct fuse_setattr_in *in)
{
	cleanup_close int fd = -1;
	struct fuse_handle *h;
	int ret = 0;

	if (node->type == S_IFDIR)
		return EISDIR;
	if (node->type != S_IFREG)
		return EINVAL;
	if (in->size > (uint64_t)INT64_MAX)
		return EFBIG;
	if (in->valid & FATTR_FH) {
		h = fuse_handle_get(r->srv, in->fh, false);
		if (h == NULL)
			return EBADF;
		if (h->nodeid != node->nodeid) { /* a handle of another file */
			fuse_handle_put(r->srv, h);
			return EBADF;
		}
		if (ftruncate(h->fd, (off_t)in->size) < 0)
			ret = errno;
		fuse_handle_put(r->srv, h);
		return ret;
	}
	fd = fuse_reopen(r->srv, node, O_WRONLY);
	if (fd < 0)
		return -fd;
	if (ftruncate(fd, (off_t)in->size) < 0)
		return errno;
	return 0;
}

static int time_spec(uint32_t valid, uint32_t set, uint32_t now, uint64_t sec, uint32_t nsec,
		     struct timespec *ts)
{
	ts->tv_sec = 0;
	if (valid & now) {
		ts->tv_nsec = UTIME_NOW;
	} else if (valid & set) {
		if (nsec >= 1000000000)
			return EINVAL;
		ts->tv_sec = (time_t)sec; /* two's complement: times before 1970 */
		ts->tv_nsec = nsec;
	} else {
		ts->tv_nsec = UTIME_OMIT;
	}
	return 0;
}

static int set_times(struct fuse_server *s, struct fuse_inode *node,
		     const struct fuse_setattr_in *in)
{
	struct timespec ts[2];
	char name[16];
	int ret;

	ret = time_spec(in->valid, FATTR_ATIME, FATTR_ATIME_NOW, in->atime, in->atimensec, &ts[0]);
	if (ret == 0)
		ret = time_spec(in->valid, FATTR_MTIME, FATTR_MTIME_NOW, in->mtime, in->mtimensec,
				&ts[1]);
	if (ret)
		return ret;
	/* the magic link would be followed to a symlink's target; a symlink
	 * needs AT_EMPTY_PATH, which older kernels refuse here */
	if (node->type == S_IFLNK)
		ret = utimensat(node->fd, "", ts, AT_EMPTY_PATH);
	else
		ret = utimensat(s->proc_fd, proc_name(name, node->fd), ts, 0);
	return ret < 0 ? errno : 0;
}

/* chmod through the magic link rather than fchmod on a reopened fd: no
 * open (no read permission needed, no opening of FIFOs or devices), and it
 * works for every type.  A symlink's mode cannot change. */
static int set_mode(struct fuse_server *s, int fd, mode_t type, mode_t mode)
{
	char name[16];

	if (type == S_IFLNK)
		return EOPNOTSUPP;
	if (fchmodat(s->proc_fd, proc_name(name, fd), mode & MODE_BITS, 0) < 0)
		return errno;
	return 0;
}

int fuse_op_setattr(struct fuse_req *r, struct fuse_inode *node)
{
	const struct fuse_setattr_in *in = fuse_arg(r);
	uint32_t valid = in->valid;
	int ret;

	if (fuse_dir_locked(r->srv, node))
		return EPERM;
	/* chown before mode and size: it clears suid bits a mode may set again */
	if (valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = valid & FATTR_UID ? in->uid : (uid_t)-1;
		gid_t gid = valid & FATTR_GID ? in->gid : (gid_t)-1;

		if (fchownat(node->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return errno;
	}
	if (valid & FATTR_SIZE) {
		ret = set_size(r, node, in);
		if (ret)
			return ret;
	}
	if (valid & FATTR_MODE) {
		ret = set_mode(r->srv, node->fd, node->type, in->mode);
		if (ret)
			return ret;
	}
	/* last, so that a truncate does not move the mtime just set */
	if (valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) {
		ret = set_times(r->srv, node, in);
		if (ret)
			return ret;
	}
	return reply_attr(r, node);
}

int fuse_op_readlink(struct fuse_req *r, struct fuse_inode *node)
{
	char buf[FUSE_SYMLINK_MAX];
	ssize_t n;

	if (node->type != S_IFLNK)
		return EINVAL;
	n = readlinkat(node->fd, "", buf, sizeof(buf));
	if (n < 0)
		return errno;
	if ((size_t)n == sizeof(buf))
		return ENAMETOOLONG;
	return fuse_reply(r, buf, (size_t)n);
}

int fuse_op_statfs(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_statfs_out out = {0};
	struct statfs sf;

	if (fstatfs(node->fd, &sf) < 0)
		return errno;
	out.st.blocks = sf.f_blocks;
	out.st.bfree = sf.f_bfree;
	out.st.bavail = sf.f_bavail;
	out.st.files = sf.f_files;
	out.st.ffree = sf.f_ffree;
	out.st.bsize = (uint32_t)sf.f_bsize;
	out.st.namelen = (uint32_t)sf.f_namelen;
	out.st.frsize = (uint32_t)sf.f_frsize;
	return fuse_reply(r, &out, sizeof(out));
}

/* The host's answer, for the VMM's credentials: the guest checks its own
 * users' permissions (this is asked only without default_permissions). */
int fuse_op_access(struct fuse_req *r, struct fuse_inode *node)
{
	const struct fuse_access_in *in = fuse_arg(r);
	char name[16];

	if (in->mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return EINVAL;
	if ((in->mask & W_OK) && r->srv->readonly)
		return EROFS;
	if (faccessat(r->srv->proc_fd, proc_name(name, node->fd), (int)in->mask, AT_EACCESS) < 0)
		return errno;
	return fuse_reply(r, NULL, 0);
}

/* ---- creation ---------------------------------------------------------------------------- */

/* Give the new object at fd (O_PATH) the caller as owner and exactly mode
 * (see the top of the file).  parent: the directory's stat from before. */
static int own_new(struct fuse_req *r, const struct stat *parent, int fd, mode_t mode)
{
	mode_t want = mode & MODE_BITS;
	struct stat st;
	int ret;

	if (geteuid() == 0) {
		gid_t gid = parent->st_mode & S_ISGID ? parent->st_gid : r->in.gid;

		if (fchownat(fd, "", r->in.uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return errno;
	}
	ret = fuse_fstat(fd, &st);
	if (ret)
		return ret;
	if (S_ISLNK(st.st_mode))
		return 0;
	if (S_ISDIR(st.st_mode) && (parent->st_mode & S_ISGID))
		want |= S_ISGID;
	if ((st.st_mode & MODE_BITS) == want)
		return 0;
	return set_mode(r->srv, fd, st.st_mode & S_IFMT, want);
}

/* After mknod, mkdir or symlink made name below dir: own it and reply with
 * its entry; on failure remove it again, since the guest will not know it. */
static int finish_new(struct fuse_req *r, struct fuse_inode *dir, const struct stat *parent,
		      const char *name, mode_t mode, int unlink_flags)
{
	int fd, ret;

	fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno; /* gone already */
	ret = own_new(r, parent, fd, mode);
	if (ret)
		close(fd);
	else
		ret = fuse_reply_entry(r, fd);
	if (ret)
		unlinkat(dir->fd, name, unlink_flags);
	return ret;
}

/* The name after the fixed argument, in a directory the guest may change. */
static int new_name(struct fuse_req *r, struct fuse_inode *dir, size_t *off, const char **name,
		    struct stat *parent)
{
	int ret;

	ret = fuse_arg_name(r, off, name);
	if (ret)
		return ret;
	if (fuse_dir_locked(r->srv, dir))
		return EACCES;
	return fuse_fstat(dir->fd, parent);
}

/* The guest encodes rdev the kernel's "new" way, 32 bits. */
static dev_t decode_dev(uint32_t dev)
{
	return makedev((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
}

int fuse_op_mknod(struct fuse_req *r, struct fuse_inode *dir)
{
	const struct fuse_mknod_in *in = fuse_arg(r);
	mode_t type = in->mode & S_IFMT;
	size_t off = sizeof(*in);
	struct stat parent;
	const char *name;
	dev_t dev = 0;
	int ret;

	ret = new_name(r, dir, &off, &name, &parent);
	if (ret)
		return ret;
	switch (type) {
	case S_IFCHR:
	case S_IFBLK:
		/* created, never opened by us (fuse_reopen refuses them) */
		dev = decode_dev(in->rdev);
		break;
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFDIR:
		return EPERM;
	default:
		return EINVAL;
	}
	if (mknodat(dir->fd, name, type | (in->mode & MODE_BITS), dev) < 0)
		return errno;
	return finish_new(r, dir, &parent, name, in->mode, 0);
}

int fuse_op_mkdir(struct fuse_req *r, struct fuse_inode *dir)
{
	const struct fuse_mkdir_in *in = fuse_arg(r);
	size_t off = sizeof(*in);
	struct stat parent;
	const char *name;
	int ret;

	ret = new_name(r, dir, &off, &name, &parent);
	if (ret)
		return ret;
	if (mkdirat(dir->fd, name, in->mode & MODE_BITS) < 0)
		return errno;
	return finish_new(r, dir, &parent, name, in->mode, AT_REMOVEDIR);
}

int fuse_op_symlink(struct fuse_req *r, struct fuse_inode *dir)
{
	const char *name, *target;
	struct stat parent;
	size_t off = 0;
	int ret;

	ret = new_name(r, dir, &off, &name, &parent);
	if (ret)
		return ret;
	/* stored verbatim; the server itself never follows it */
	ret = fuse_arg_string(r, &off, FUSE_SYMLINK_MAX, &target);
	if (ret)
		return ret;
	if (symlinkat(target, dir->fd, name) < 0)
		return errno;
	return finish_new(r, dir, &parent, name, 0, 0);
}

/* Link old's inode as name below dir.  AT_EMPTY_PATH needs
 * CAP_DAC_READ_SEARCH (else ENOENT); the magic link, followed, is the same
 * inode without it. */
static int link_inode(struct fuse_server *s, struct fuse_inode *old, struct fuse_inode *dir,
		      const char *name)
{
	char proc[16];

	if (linkat(old->fd, "", dir->fd, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOENT)
		return errno;
	if (linkat(s->proc_fd, proc_name(proc, old->fd), dir->fd, name, AT_SYMLINK_FOLLOW) < 0)
		return errno;
	return 0;
}

int fuse_op_link(struct fuse_req *r, struct fuse_inode *dir)
{
	const struct fuse_link_in *in = fuse_arg(r);
	struct fuse_server *s = r->srv;
	size_t off = sizeof(*in);
	struct fuse_inode *old;
	const char *name;
	int fd, ret;

	ret = fuse_arg_name(r, &off, &name);
	if (ret)
		return ret;
	if (fuse_dir_locked(s, dir))
		return EACCES;
	old = fuse_inode_get(s, in->oldnodeid);
	if (old == NULL)
		return ESTALE;
	if (old->type == S_IFDIR) {
		ret = EPERM;
	} else {
		ret = link_inode(s, old, dir, name);
		if (ret == 0) {
			/* the entry is old's inode itself, not whatever the name holds now */
			fd = fcntl(old->fd, F_DUPFD_CLOEXEC, 0);
			ret = fd < 0 ? errno : fuse_reply_entry(r, fd);
		}
	}
	fuse_inode_put(s, old);
	return ret;
}

/* ---- removal and renaming ---------------------------------------------------------------- */

static int remove_name(struct fuse_req *r, struct fuse_inode *dir, int flags)
{
	const char *name;
	size_t off = 0;
	int ret;

	ret = fuse_arg_name(r, &off, &name);
	if (ret)
		return ret;
	if (fuse_dir_locked(r->srv, dir))
		return EACCES;
	if (unlinkat(dir->fd, name, flags) < 0)
		return errno;
	return fuse_reply(r, NULL, 0);
}

int fuse_op_unlink(struct fuse_req *r, struct fuse_inode *dir)
{
	return remove_name(r, dir, 0);
}

int fuse_op_rmdir(struct fuse_req *r, struct fuse_inode *dir)
{
	return remove_name(r, dir, AT_REMOVEDIR);
}

static int do_rename(struct fuse_req *r, struct fuse_inode *dir, uint64_t newdir_id, size_t off,
		     uint32_t flags)
{
	struct fuse_server *s = r->srv;
	const char *oldname, *newname;
	struct fuse_inode *newdir;
	int ret;

	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return EINVAL;
	ret = fuse_arg_name(r, &off, &oldname);
	if (ret == 0)
		ret = fuse_arg_name(r, &off, &newname);
	if (ret)
		return ret;
	newdir = fuse_inode_get(s, newdir_id);
	if (newdir == NULL)
		return ESTALE;
	if (fuse_dir_locked(s, dir) || fuse_dir_locked(s, newdir))
		ret = EACCES;
	else if (renameat2(dir->fd, oldname, newdir->fd, newname, flags) < 0)
		ret = errno;
	else
		ret = fuse_reply(r, NULL, 0);
	fuse_inode_put(s, newdir);
	return ret;
}

int fuse_op_rename(struct fuse_req *r, struct fuse_inode *dir)
{
	const struct fuse_rename_in *in = fuse_arg(r);

	return do_rename(r, dir, in->newdir, sizeof(*in), 0);
}

int fuse_op_rename2(struct fuse_req *r, struct fuse_inode *dir)
{
	const struct fuse_rename2_in *in = fuse_arg(r);

	return do_rename(r, dir, in->newdir, sizeof(*in), in->flags);
}

/* ---- create and tmpfile: a new inode and an open handle ------------------------------- */

/* Open flags the guest may ask for; O_DIRECT is dropped because the
 * guest's buffers need not meet the host's alignment. */
static int open_flags(uint32_t flags)
{
	return (int)(flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC));
}

/* Register the open regular file io (taken over) and reply with its entry
 * and handle.  created: chown it as new first. */
static int reply_created(struct fuse_req *r, const struct stat *parent, int io, bool created,
			 mode_t mode)
{
	struct fuse_server *s = r->srv;
	cleanup_close int fd = io, path = -1;
	struct {
		struct fuse_entry_out entry;
		struct fuse_open_out open;
	} out = {0};
	struct stat st;
	char name[16];
	uint64_t nodeid;
	int ret;

	/* the O_PATH fd of exactly the inode we opened, whatever its name holds now */
	path = openat(s->proc_fd, proc_name(name, fd), O_PATH | O_CLOEXEC);
	if (path < 0)
		return errno;
	if (created) {
		ret = own_new(r, parent, path, mode);
		if (ret)
			return ret;
	}
	ret = fuse_fstat(path, &st);
	if (ret)
		return ret;
	ret = fuse_inode_add(s, steal_fd(&path), &st, &nodeid);
	if (ret)
		return ret;
	ret = fuse_handle_add(s, steal_fd(&fd), nodeid, false, &out.open.fh);
	if (ret) {
		fuse_inode_forget(s, nodeid, 1);
		return ret;
	}
	fuse_fill_entry(&out.entry, nodeid, &st);
	return fuse_reply(r, &out, sizeof(out));
}

int fuse_op_create(struct fuse_req *r, struct fuse_inode *dir)
{
	const struct fuse_create_in *in = fuse_arg(r);
	struct fuse_server *s = r->srv;
	int flags = open_flags(in->flags);
	cleanup_close int path = -1;
	size_t off = sizeof(*in);
	struct stat parent, st;
	const char *name;
	char proc[16];
	int fd, ret;

	ret = new_name(r, dir, &off, &name, &parent);
	if (ret)
		return ret;
	/* O_EXCL always: an existing FIFO or device must not be opened here */
	fd = openat(dir->fd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    in->mode & MODE_BITS);
	if (fd >= 0) {
		ret = reply_created(r, &parent, fd, true, in->mode);
		if (ret)
			unlinkat(dir->fd, name, 0);
		return ret;
	}
	if (errno != EEXIST || (in->flags & O_EXCL))
		return errno;

	/* open what is there, if it is a regular file */
	path = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path < 0)
		return errno;
	ret = fuse_fstat(path, &st);
	if (ret)
		return ret;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (S_ISLNK(st.st_mode))
		return ELOOP;
	if (!S_ISREG(st.st_mode))
		return EACCES;
	fd = openat(s->proc_fd, proc_name(proc, path), flags | O_CLOEXEC);
	if (fd < 0)
		return errno;
	return reply_created(r, &parent, fd, false, 0);
}

int fuse_op_tmpfile(struct fuse_req *r, struct fuse_inode *dir)
{
	const struct fuse_create_in *in = fuse_arg(r);
	struct stat parent;
	int fd, ret;

	/* the name the guest sends is a placeholder ("/"): not read */
	if (fuse_dir_locked(r->srv, dir))
		return EACCES;
	ret = fuse_fstat(dir->fd, &parent);
	if (ret)
		return ret;
	fd = openat(dir->fd, ".", open_flags(in->flags) | O_TMPFILE | O_CLOEXEC,
		    in->mode & MODE_BITS);
	if (fd < 0)
		return errno;
	return reply_created(r, &parent, fd, true, in->mode);
}
