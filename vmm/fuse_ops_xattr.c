/* FUSE extended attribute handlers.  f*xattr refuse O_PATH fds, so regular
 * files and directories are reopened read-only for each request.  Symlinks
 * and special files cannot be opened safely (a FIFO blocks, a device node
 * is the host's device): they show no attributes and take none, a known
 * limitation.
 *
 * The guest may use user.*, security.* and the POSIX ACLs; trusted.* is the
 * host's (overlayfs keeps its state there) and is EPERM, other namespaces
 * are EOPNOTSUPP, and LISTXATTR shows only what the guest may use. */
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "runtime/cleanup.h"
#include "vmm/fuse_internal.h"

#define XATTR_LIST_TRIES 4 /* the list may grow between sizing and reading it */

/* 0 when the guest may use an attribute of this name, else an errno. */
static int name_allowed(const char *name)
{
	if (strncmp(name, "trusted.", strlen("trusted.")) == 0)
		return EPERM;
	if (strncmp(name, "user.", strlen("user.")) == 0 ||
	    strncmp(name, "security.", strlen("security.")) == 0 ||
	    strcmp(name, "system.posix_acl_access") == 0 ||
	    strcmp(name, "system.posix_acl_default") == 0)
		return 0;
	return EOPNOTSUPP;
}

static bool has_xattrs(const struct fuse_inode *node)
{
	return node->type == S_IFREG || node->type == S_IFDIR;
}

/* The attribute name at *off in the arguments. */
static int arg_xattr_name(const struct fuse_req *r, size_t *off, const char **name)
{
	int ret = fuse_arg_string(r, off, XATTR_NAME_MAX + 1, name);

	if (ret)
		return ret;
	return (*name)[0] ? 0 : ERANGE; /* as setxattr(2) says of "" */
}

int fuse_op_setxattr(struct fuse_req *r, struct fuse_inode *node)
{
	uint32_t size, flags;
	size_t off = FUSE_COMPAT_SETXATTR_IN_SIZE; /* FUSE_SETXATTR_EXT is not offered */
	cleanup_close int fd = -1;
	const char *name;
	int ret;

	memcpy(&size, (const uint8_t *)fuse_arg(r) + offsetof(struct fuse_setxattr_in, size),
	       sizeof(size));
	memcpy(&flags, (const uint8_t *)fuse_arg(r) + offsetof(struct fuse_setxattr_in, flags),
	       sizeof(flags));
	ret = arg_xattr_name(r, &off, &name);
	if (ret)
		return ret;
	if (size > FUSE_XATTR_SIZE_MAX)
		return E2BIG;
	if (size > r->arg_len - off)
		return EINVAL;
	if (flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return EINVAL;
	ret = name_allowed(name);
	if (ret)
		return ret;
	if (!has_xattrs(node) || fuse_dir_locked(r->srv, node))
		return EPERM; /* and a single-file share's root is not the guest's */

	fd = fuse_reopen(r->srv, node, O_RDONLY);
	if (fd < 0)
		return -fd;
	if (fsetxattr(fd, name, r->arg + off, size, (int)flags) < 0)
		return errno;
	return fuse_reply(r, NULL, 0);
}

int fuse_op_getxattr(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_getxattr_in in;
	struct fuse_getxattr_out out = {0};
	size_t off = sizeof(in), cap;
	cleanup_close int fd = -1;
	cleanup_free char *value = NULL;
	const char *name;
	ssize_t n;
	int ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	ret = arg_xattr_name(r, &off, &name);
	if (ret)
		return ret;
	ret = name_allowed(name);
	if (ret)
		return ret;
	if (!has_xattrs(node))
		return ENODATA;

	fd = fuse_reopen(r->srv, node, O_RDONLY);
	if (fd < 0)
		return -fd;
	if (in.size == 0) {
		n = fgetxattr(fd, name, NULL, 0);
		if (n < 0)
			return errno;
		out.size = (uint32_t)n;
		return fuse_reply(r, &out, sizeof(out));
	}

	cap = in.size;
	if (cap > FUSE_XATTR_SIZE_MAX)
		cap = FUSE_XATTR_SIZE_MAX;
	if (cap > fuse_out_room(r))
		cap = fuse_out_room(r);
	value = malloc(cap ? cap : 1);
	if (value == NULL)
		return ENOMEM;
	n = fgetxattr(fd, name, value, cap);
	if (n < 0)
		return errno;
	return fuse_reply(r, value, (size_t)n);
}

/* The names on fd the guest may see, in *list (*len bytes).  0 or an errno. */
static int list_names(int fd, char **list, size_t *len)
{
	cleanup_free char *buf = NULL;
	ssize_t n = -1;
	size_t kept = 0;

	for (int i = 0; i < XATTR_LIST_TRIES; i++) {
		ssize_t want = flistxattr(fd, NULL, 0);

		if (want < 0)
			return errno;
		free(buf);
		buf = malloc(want ? (size_t)want : 1);
		if (buf == NULL)
			return ENOMEM;
		n = flistxattr(fd, buf, (size_t)want);
		if (n >= 0 || errno != ERANGE)
			break;
	}
	if (n < 0)
		return errno;

	/* keep what the guest may use, in place */
	for (size_t at = 0; at < (size_t)n;) {
		size_t one = strnlen(buf + at, (size_t)n - at);

		if (at + one == (size_t)n) /* unterminated: cannot be */
			break;
		if (one && name_allowed(buf + at) == 0) {
			memmove(buf + kept, buf + at, one + 1);
			kept += one + 1;
		}
		at += one + 1;
	}
	*list = steal_ptr(&buf);
	*len = kept;
	return 0;
}

int fuse_op_listxattr(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_getxattr_in in;
	struct fuse_getxattr_out out = {0};
	cleanup_close int fd = -1;
	cleanup_free char *list = NULL;
	size_t len = 0;
	int ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	if (has_xattrs(node)) {
		fd = fuse_reopen(r->srv, node, O_RDONLY);
		if (fd < 0)
			return -fd;
		ret = list_names(fd, &list, &len);
		if (ret)
			return ret;
	}
	if (in.size == 0) {
		out.size = (uint32_t)len;
		return fuse_reply(r, &out, sizeof(out));
	}
	if (len > in.size || len > fuse_out_room(r))
		return ERANGE;
	return fuse_reply(r, list, len);
}

int fuse_op_removexattr(struct fuse_req *r, struct fuse_inode *node)
{
	size_t off = 0;
	cleanup_close int fd = -1;
	const char *name;
	int ret;

	ret = arg_xattr_name(r, &off, &name);
	if (ret)
		return ret;
	ret = name_allowed(name);
	if (ret)
		return ret;
	if (!has_xattrs(node) || fuse_dir_locked(r->srv, node))
		return EPERM; /* and a single-file share's root is not the guest's */

	fd = fuse_reopen(r->srv, node, O_RDONLY);
	if (fd < 0)
		return -fd;
	if (fremovexattr(fd, name) < 0)
		return errno;
	return fuse_reply(r, NULL, 0);
}
