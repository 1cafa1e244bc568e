/* Applying an image layer: the archive is read with libarchive, and every
 * entry is placed by our own code, never by archive_write_disk, so that
 * the rules for hostile paths are ours and visible here:
 *
 * - an entry's name is cleaned, and an absolute one or one with `..` is
 *   refused;
 * - its parent directory is opened with openat2(RESOLVE_IN_ROOT), so the
 *   symlinks of the image are followed as if the rootfs were "/" (an
 *   image's `lib -> usr/lib` works, `evil -> /` stays inside;
 *   runtime/layer_path.c);
 * - the last component is created with *at() calls that never follow it
 *   (runtime/layer_write.c).
 *
 * OCI whiteouts only hide what lower layers wrote: the canonical path of
 * everything this layer writes is remembered, and a whiteout or an opaque
 * directory removes what is there except those, whichever order the
 * entries come in. */
#include "runtime/layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "runtime/cleanup.h"
#include "runtime/layer_internal.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define WHITEOUT_META	".wh..wh."

/* ---- what this layer wrote ---- */

static int compare_paths(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int mark_written(struct layer_ctx *ctx, char *rel)
{
	char **node = tsearch(rel, &ctx->written, compare_paths);

	if (node == NULL) {
		free(rel);
		errno = ENOMEM;
		return -1;
	}
	if (*node != rel)
		free(rel);
	return 0;
}

static bool was_written(const struct layer_ctx *ctx, const char *rel)
{
	return tfind(rel, &ctx->written, compare_paths) != NULL;
}

static int defer_dir_times(struct layer_ctx *ctx, const char *rel, struct archive_entry *e)
{
	struct layer_dir_times *d;

	if (ctx->n_dirs == ctx->cap_dirs) {
		size_t cap = ctx->cap_dirs ? 2 * ctx->cap_dirs : 64;

		d = reallocarray(ctx->dirs, cap, sizeof(*d));
		if (d == NULL)
			return -1;
		ctx->dirs = d;
		ctx->cap_dirs = cap;
	}
	d = &ctx->dirs[ctx->n_dirs];
	if (!layer_entry_times(e, d->times))
		return 0;
	d->rel = strdup(rel);
	if (d->rel == NULL)
		return -1;
	ctx->n_dirs++;
	return 0;
}

/* ---- removing ---- */

static int remove_children(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_dir DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (dir == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    layer_remove_all(dirfd(dir), de->d_name) < 0)
			return -1;
	return 0;
}

int layer_remove_all(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -1;
	if (remove_children(dirfd, name) < 0)
		return -1;
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int prune(const struct layer_ctx *ctx, int dirfd, const char *name, const char *rel);

/* prune() each child of dirfd/name; 1 when something was kept. */
static int prune_children(const struct layer_ctx *ctx, int parent, const char *name,
			  const char *rel)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_dir DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int kept = 0;

	if (dir == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir))) {
		cleanup_free char *child = NULL;
		int ret;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&child, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0)
			return -1;
		ret = prune(ctx, dirfd(dir), de->d_name, child);
		if (ret < 0)
			return -1;
		kept |= ret;
	}
	return kept;
}

/* Remove what lower layers put at dirfd/name (rel: its canonical path),
 * keeping what this layer wrote there and the directories that lead to
 * it.  1 when something was kept, 0 when all is gone, -1 on error. */
static int prune(const struct layer_ctx *ctx, int dirfd, const char *name, const char *rel)
{
	bool written = was_written(ctx, rel);
	struct stat st;
	int kept;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode)) {
		if (written)
			return 1;
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	}
	kept = prune_children(ctx, dirfd, name, rel);
	if (kept < 0)
		return -1;
	if (kept || written)
		return 1;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -1 : 0;
}

/* ---- whiteouts ---- */

static int apply_whiteout(struct layer_ctx *ctx, const char *parent, const char *base,
			  const char *entry, mv_error_t *err)
{
	const char *name = base + strlen(WHITEOUT_PREFIX);
	bool opaque = strcmp(base, WHITEOUT_OPAQUE) == 0;
	cleanup_close int dirfd = -1;
	cleanup_free char *rel = NULL;

	/* .wh..wh.plnk and the like: aufs bookkeeping, nothing to apply */
	if (!opaque && strncmp(base, WHITEOUT_META, strlen(WHITEOUT_META)) == 0)
		return 0;
	if (!opaque && (!*name || !strcmp(name, ".") || !strcmp(name, "..")))
		return mv_error(err, EINVAL, "entry `%s`: invalid whiteout", entry);
	dirfd = layer_open_dir(ctx, parent, false);
	if (dirfd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return 0; /* nothing below to hide */
	if (dirfd < 0)
		return mv_error(err, errno, "entry `%s`: open its directory", entry);
	rel = layer_real_path(ctx, dirfd, opaque ? "." : name);
	if (rel == NULL)
		return mv_error(err, errno, "entry `%s`", entry);
	if ((opaque ? prune_children(ctx, dirfd, ".", rel) : prune(ctx, dirfd, name, rel)) < 0)
		return mv_error(err, errno, "entry `%s`: remove `%s`", entry, rel);
	return 0;
}

/* ---- entries ---- */

/* A symlink of an image tar (an old `docker save` links a layer two
 * images share: `<id>/layer.tar -> ../<other>/layer.tar`) must be
 * relative, with all its `..` in front and no more of them than its
 * directory is deep.  A plain archive's entries never pass through a
 * symlink, so that depth is real, and the names after the `..` lead down
 * again, through links that obey the same rule: the target stays inside. */
static bool plain_link_inside(const char *rel, const char *target)
{
	size_t depth = 0, ups = 0;
	bool down = false;

	for (const char *p = rel; (p = strchr(p, '/')) != NULL; p++)
		depth++;
	if (*target == '\0' || *target == '/')
		return false;
	for (const char *p = target; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (down || ++ups > depth)
				return false;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			down = true;
		}
		p += n;
		p += *p == '/';
	}
	return true;
}

static int check_plain(struct archive_entry *e, const char *rel, const char *entry, mv_error_t *err)
{
	mode_t type = archive_entry_filetype(e);
	const char *target = archive_entry_symlink(e);

	if (archive_entry_hardlink(e) != NULL)
		return mv_error(err, EINVAL, "entry `%s`: no hardlinks are allowed here", entry);
	if (type == AE_IFREG || type == AE_IFDIR)
		return 0;
	if (type == AE_IFLNK && target && plain_link_inside(rel, target))
		return 0;
	if (type == AE_IFLNK)
		return mv_error(err, EINVAL, "entry `%s`: symlink target `%s` leaves the archive",
				entry, target ? target : "");
	return mv_error(err, EINVAL,
			"entry `%s`: only files, directories and symlinks are allowed here", entry);
}

/* After an entry is written: remember it, and its times if a directory. */
static int record_entry(struct layer_ctx *ctx, struct archive_entry *e,
			const struct layer_target *t, mv_error_t *err)
{
	char *rel;

	if (ctx->plain)
		return 0;
	rel = layer_real_path(ctx, t->dirfd, t->name);
	if (rel == NULL)
		return mv_error(err, errno, "entry `%s`", t->entry);
	if (archive_entry_hardlink(e) == NULL && archive_entry_filetype(e) == AE_IFDIR &&
	    defer_dir_times(ctx, rel, e) < 0) {
		free(rel);
		return mv_error(err, errno, "entry `%s`", t->entry);
	}
	if (mark_written(ctx, rel) < 0)
		return mv_error(err, errno, "entry `%s`", t->entry);
	return 0;
}

static int apply_entry(struct layer_ctx *ctx, struct archive_entry *e, mv_error_t *err)
{
	const char *entry = archive_entry_pathname(e);
	cleanup_free char *rel = NULL;
	cleanup_close int dirfd = -1;
	struct layer_target t = {.entry = entry};
	char *slash;

	if (entry == NULL)
		return mv_error(err, EINVAL, "an entry has no name");
	rel = layer_clean_path(entry);
	if (rel == NULL && errno == EINVAL)
		return mv_error(err, EINVAL, "entry `%s`: path leaves the root", entry);
	if (rel == NULL)
		return mv_error(err, errno, "entry `%s`", entry);
	if (ctx->plain && check_plain(e, rel, entry, err) < 0)
		return -1;
	if (ctx->plain && *rel == '\0')
		return 0; /* the caller's directory keeps its mode */
	/* aufs keeps its own files under /.wh..wh.*: not the image's */
	if (!ctx->plain && strncmp(rel, WHITEOUT_META, strlen(WHITEOUT_META)) == 0)
		return 0;
	slash = strrchr(rel, '/');
	t.name = slash ? slash + 1 : *rel ? rel : ".";
	if (slash)
		*slash = '\0';
	if (!ctx->plain && strncmp(t.name, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
		return apply_whiteout(ctx, slash ? rel : "", t.name, entry, err);
	if (!slash && !*rel && (archive_entry_hardlink(e) || archive_entry_filetype(e) != AE_IFDIR))
		return mv_error(err, EINVAL, "entry `%s`: the root must be a directory", entry);
	dirfd = layer_open_dir(ctx, slash ? rel : "", true);
	if (dirfd < 0)
		return mv_error(err, errno, "entry `%s`: open its directory", entry);
	t.dirfd = dirfd;
	if (layer_write_entry(ctx, e, &t, err) < 0)
		return -1;
	return record_entry(ctx, e, &t, err);
}

/* Directories' times, now that nothing will be written into them.  One a
 * later entry replaced (or made a symlink of) is skipped. */
static int finish_dirs(struct layer_ctx *ctx, mv_error_t *err)
{
	for (size_t i = 0; i < ctx->n_dirs; i++) {
		char *rel = ctx->dirs[i].rel, *slash = strrchr(rel, '/');
		const char *name = slash ? slash + 1 : *rel ? rel : ".";
		cleanup_close int dirfd = -1;
		struct stat st;

		if (slash)
			*slash = '\0';
		dirfd = layer_open_in_root(ctx, slash ? rel : "", RESOLVE_NO_SYMLINKS);
		if (slash)
			*slash = '/';
		if (dirfd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
			continue;
		if (dirfd < 0 || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return mv_error(err, errno, "directory `%s`", rel);
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		if (utimensat(dirfd, name, ctx->dirs[i].times, AT_SYMLINK_NOFOLLOW) < 0)
			return mv_error(err, errno, "set the times of `%s`", rel);
	}
	return 0;
}

/* ---- the archive ---- */

static int read_error(struct layer_ctx *ctx, mv_error_t *err)
{
	const char *msg = archive_error_string(ctx->archive);

	/* whatever libarchive says, the input is what is wrong */
	return mv_error(err, EINVAL, "invalid archive: %s", msg ? msg : "read failed");
}

/* gzip and zstd only: the media types OCI and docker use.  Not
 * archive_read_support_filter_all, which may run external programs
 * (lrzip, lzop...) on untrusted input. */
static int open_archive(struct layer_ctx *ctx, int fd, mv_error_t *err)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return mv_error(err, ENOMEM, "libarchive");
	ctx->archive = a;
	if (archive_read_support_filter_gzip(a) < ARCHIVE_WARN ||
	    archive_read_support_filter_zstd(a) < ARCHIVE_WARN ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK)
		return mv_error(err, ENOTSUP, "libarchive: %s", archive_error_string(a));
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
		return read_error(ctx, err);
	return 0;
}

static int open_file(const char *path, mv_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return mv_error(err, errno, "open");
	if (fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat");
	if (!S_ISREG(st.st_mode))
		return mv_error(err, EINVAL, "not a regular file");
	/* a tar has at least its end blocks: nothing at all is no layer */
	if (st.st_size == 0)
		return mv_error(err, EINVAL, "empty file: not an archive");
	return steal_fd(&fd);
}

static int open_root(struct layer_ctx *ctx, const char *dir, mv_error_t *err)
{
	ctx->rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd < 0)
		return mv_error(err, errno, "open `%s`", dir);
	ctx->root_real = layer_fd_path(ctx->rootfd);
	if (ctx->root_real == NULL)
		return mv_error(err, errno, "resolve `%s`", dir);
	return 0;
}

static int apply_all(struct layer_ctx *ctx, mv_error_t *err)
{
	struct archive_entry *e;
	int ret;

	while ((ret = archive_read_next_header(ctx->archive, &e)) != ARCHIVE_EOF) {
		if (ret < ARCHIVE_WARN)
			return read_error(ctx, err);
		if (apply_entry(ctx, e, err) < 0)
			return -1;
	}
	return finish_dirs(ctx, err);
}

static void ctx_release(struct layer_ctx *ctx)
{
	if (ctx->archive)
		archive_read_free(ctx->archive);
	if (ctx->rootfd >= 0)
		close(ctx->rootfd);
	free(ctx->root_real);
	tdestroy(ctx->written, free);
	for (size_t i = 0; i < ctx->n_dirs; i++)
		free(ctx->dirs[i].rel);
	free(ctx->dirs);
}

static int unpack(const char *archive, const char *dir, bool plain, mv_error_t *err)
{
	struct layer_ctx ctx = {.layer = archive, .rootfd = -1, .plain = plain};
	cleanup_close int fd = open_file(archive, err);
	int ret = -1;

	if (fd >= 0 && open_root(&ctx, dir, err) == 0 && open_archive(&ctx, fd, err) == 0)
		ret = apply_all(&ctx, err);
	ctx_release(&ctx);
	return ret;
}

int layer_apply(const char *rootfs, const char *layer, mv_error_t *err)
{
	if (unpack(layer, rootfs, false, err) < 0)
		return mv_error_wrap(err, "apply layer `%s`", layer);
	return 0;
}

int layer_extract_plain(const char *archive, const char *dir, mv_error_t *err)
{
	if (unpack(archive, dir, true, err) < 0)
		return mv_error_wrap(err, "unpack `%s`", archive);
	return 0;
}
