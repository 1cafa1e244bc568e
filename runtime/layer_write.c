/* Creating one layer entry in the directory runtime/layer.c resolved for
 * it.  The last component is never followed: what was there is removed
 * first (a directory stays for a directory entry), the new object is made
 * with O_EXCL / mkdirat / symlinkat / mknodat / linkat, and its metadata
 * is set with *at() calls given AT_SYMLINK_NOFOLLOW. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "runtime/layer_internal.h"

bool layer_entry_times(struct archive_entry *e, struct timespec ts[2])
{
	bool mtime = archive_entry_mtime_is_set(e), atime = archive_entry_atime_is_set(e);

	if (!mtime && !atime)
		return false;
	if (mtime)
		ts[1] = (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
	else
		ts[1] = (struct timespec){.tv_nsec = UTIME_OMIT};
	/* tars mostly carry the mtime only; atime follows it */
	if (atime)
		ts[0] = (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)};
	else
		ts[0] = ts[1];
	return true;
}

/* Make room for the entry at t: an existing directory stays when the
 * entry is one (1), anything else goes (0).  -1 with errno set. */
static int make_room(const struct layer_target *t, bool dir)
{
	struct stat st;

	if (fstatat(t->dirfd, t->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode))
		return dir ? 1 : layer_remove_all(t->dirfd, t->name);
	return unlinkat(t->dirfd, t->name, 0);
}

/* ---- metadata ---- */

static int set_owner(const struct layer_target *t, struct archive_entry *e, mv_error_t *err)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

	/* (uid_t)-1 would mean "leave as is" to fchownat */
	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return mv_error(err, EINVAL, "entry `%s`: invalid owner %lld:%lld", t->entry,
				(long long)uid, (long long)gid);
	if (fchownat(t->dirfd, t->name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0)
		return mv_error(err, errno, "entry `%s`: set the owner", t->entry);
	return 0;
}

/* After set_owner: chown clears the setuid and setgid bits. */
static int set_mode(const struct layer_ctx *ctx, const struct layer_target *t,
		    struct archive_entry *e, mv_error_t *err)
{
	mode_t mode = archive_entry_perm(e) & 07777;

	if (ctx->plain)
		mode = archive_entry_filetype(e) == AE_IFDIR || (mode & 0111) ? 0755 : 0644;
	if (fchmodat(t->dirfd, t->name, mode, AT_SYMLINK_NOFOLLOW) < 0)
		return mv_error(err, errno, "entry `%s`: set the mode", t->entry);
	return 0;
}

/* A file system without a namespace (EOPNOTSUPP) loses those attributes
 * quietly, as tar does; any other failure is an error. */
static int set_xattrs(const struct layer_target *t, struct archive_entry *e, mv_error_t *err)
{
	char path[PATH_MAX];
	const char *name;
	const void *value;
	size_t size;

	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	/* the directory's magic link, then the name, not followed */
	if (snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", t->dirfd, t->name) >=
	    (int)sizeof(path))
		return mv_error(err, ENAMETOOLONG, "entry `%s`", t->entry);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (name == NULL)
			continue;
		if (lsetxattr(path, name, value, size, 0) < 0 && errno != EOPNOTSUPP)
			return mv_error(err, errno, "entry `%s`: set xattr `%s`", t->entry, name);
	}
	return 0;
}

/* Owner first, then the mode (see set_mode), then xattrs (chown drops
 * security.capability), then the times; a directory's times are set by
 * the caller once the layer is written. */
static int set_metadata(const struct layer_ctx *ctx, const struct layer_target *t,
			struct archive_entry *e, mv_error_t *err)
{
	mode_t type = archive_entry_filetype(e);
	struct timespec ts[2];

	if (!ctx->plain && set_owner(t, e, err) < 0)
		return -1;
	if (type != AE_IFLNK && set_mode(ctx, t, e, err) < 0)
		return -1;
	if (ctx->plain)
		return 0;
	if (set_xattrs(t, e, err) < 0)
		return -1;
	if (type != AE_IFDIR && layer_entry_times(e, ts) &&
	    utimensat(t->dirfd, t->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return mv_error(err, errno, "entry `%s`: set the times", t->entry);
	return 0;
}

/* ---- one kind each ---- */

static int write_dir(const struct layer_target *t, mv_error_t *err)
{
	int kept = make_room(t, true);

	if (kept < 0)
		return mv_error(err, errno, "entry `%s`: replace what is there", t->entry);
	if (!kept && mkdirat(t->dirfd, t->name, 0700) < 0)
		return mv_error(err, errno, "entry `%s`: create", t->entry);
	return 0;
}

static int pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* The data blocks at their offsets (a sparse file keeps its holes), then
 * the size, for a hole at the end. */
static int copy_data(const struct layer_ctx *ctx, const struct layer_target *t, int fd,
		     struct archive_entry *e, mv_error_t *err)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int ret;

	while ((ret = archive_read_data_block(ctx->archive, &buf, &len, &off)) >= ARCHIVE_WARN &&
	       ret != ARCHIVE_EOF)
		if (pwrite_all(fd, buf, len, (off_t)off) < 0)
			return mv_error(err, errno, "entry `%s`: write", t->entry);
	if (ret != ARCHIVE_EOF) {
		const char *msg = archive_error_string(ctx->archive);

		return mv_error(err, EINVAL, "entry `%s`: invalid archive: %s", t->entry,
				msg ? msg : "read failed");
	}
	if (ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
		return mv_error(err, errno, "entry `%s`: write", t->entry);
	return 0;
}

static int write_file(const struct layer_ctx *ctx, const struct layer_target *t,
		      struct archive_entry *e, mv_error_t *err)
{
	cleanup_close int fd = -1;

	if (make_room(t, false) < 0)
		return mv_error(err, errno, "entry `%s`: replace what is there", t->entry);
	fd = openat(t->dirfd, t->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mv_error(err, errno, "entry `%s`: create", t->entry);
	return copy_data(ctx, t, fd, e, err);
}

static int write_symlink(const struct layer_target *t, struct archive_entry *e, mv_error_t *err)
{
	const char *target = archive_entry_symlink(e);

	/* the target is stored as it is: it is only ever followed inside
	 * the root (openat2 here, the VM's root at run time) */
	if (target == NULL || *target == '\0')
		return mv_error(err, EINVAL, "entry `%s`: symlink without a target", t->entry);
	if (make_room(t, false) < 0)
		return mv_error(err, errno, "entry `%s`: replace what is there", t->entry);
	if (symlinkat(target, t->dirfd, t->name) < 0)
		return mv_error(err, errno, "entry `%s`: create", t->entry);
	return 0;
}

static int write_node(const struct layer_target *t, struct archive_entry *e, mv_error_t *err)
{
	mode_t type = archive_entry_filetype(e);

	if (make_room(t, false) < 0)
		return mv_error(err, errno, "entry `%s`: replace what is there", t->entry);
	if (mknodat(t->dirfd, t->name, type | 0600, type == AE_IFIFO ? 0 : archive_entry_rdev(e)) <
	    0)
		return mv_error(err, errno, "entry `%s`: create", t->entry);
	return 0;
}

/* The target is looked up like an entry's own name, inside the root, and
 * its last component is not followed (a link to a symlink is a link to
 * the symlink).  Directories cannot be linked. */
static int write_hardlink(const struct layer_ctx *ctx, const struct layer_target *t,
			  struct archive_entry *e, mv_error_t *err)
{
	const char *target = archive_entry_hardlink(e);
	cleanup_free char *rel = layer_clean_path(target);
	cleanup_close int tdir = -1;
	struct stat st, here;
	char *slash;
	const char *tname;

	if (rel == NULL || *rel == '\0')
		return mv_error(err, rel || errno == EINVAL ? EINVAL : errno,
				"entry `%s`: invalid link target `%s`", t->entry, target);
	slash = strrchr(rel, '/');
	tname = slash ? slash + 1 : rel;
	if (slash)
		*slash = '\0';
	tdir = layer_open_dir(ctx, slash ? rel : "", false);
	if (tdir < 0 || fstatat(tdir, tname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return mv_error(err, errno, "entry `%s`: link target `%s`", t->entry, target);
	if (S_ISDIR(st.st_mode))
		return mv_error(err, EINVAL, "entry `%s`: link target `%s` is a directory",
				t->entry, target);
	/* a link to itself: already done */
	if (fstatat(t->dirfd, t->name, &here, AT_SYMLINK_NOFOLLOW) == 0 &&
	    here.st_dev == st.st_dev && here.st_ino == st.st_ino)
		return 0;
	if (make_room(t, false) < 0)
		return mv_error(err, errno, "entry `%s`: replace what is there", t->entry);
	if (linkat(tdir, tname, t->dirfd, t->name, 0) < 0)
		return mv_error(err, errno, "entry `%s`: link to `%s`", t->entry, target);
	return 0;
}

int layer_write_entry(struct layer_ctx *ctx, struct archive_entry *e, const struct layer_target *t,
		      mv_error_t *err)
{
	int ret;

	if (archive_entry_hardlink(e))
		return write_hardlink(ctx, t, e, err);
	switch (archive_entry_filetype(e)) {
	case AE_IFDIR:
		ret = write_dir(t, err);
		break;
	case AE_IFREG:
		ret = write_file(ctx, t, e, err);
		break;
	case AE_IFLNK:
		ret = write_symlink(t, e, err);
		break;
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		ret = write_node(t, e, err);
		break;
	case AE_IFSOCK:
		return 0; /* a socket means nothing once its process is gone */
	default:
		return mv_error(err, EINVAL, "entry `%s`: unknown file type %#o", t->entry,
				(unsigned)archive_entry_filetype(e));
	}
	if (ret < 0)
		return -1;
	return set_metadata(ctx, t, e, err);
}
