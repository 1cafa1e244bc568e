/* `mvrun unpack`: an image archive made into a bundle.  Everything is
 * built in BUNDLE.tmp-XXXXXX beside the bundle (the same file system, so
 * that the final rename is atomic) and removed again on any failure; the
 * rootfs there is an image's, full of whatever symlinks it chose, so the
 * removal never follows one (unpack_remove_tree).  `run --image` gives
 * each container ROOT/ID.image: an overlay on the image's rootfs in the
 * cache (runtime/image_cache.h), removed by `delete`. */
#include "runtime/unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "oci/config.h"
#include "oci/image.h"
#include "runtime/cleanup.h"
#include "runtime/image_cache.h"
#include "runtime/io.h"
#include "runtime/layer.h"
#include "runtime/state.h"

#define IMAGE_SUBDIR  ".image" /* in the temporary dir: the archive's files */
#define ROOTFS_SUBDIR "rootfs"
#define CONFIG_FILE   "config.json"
#define BUNDLE_SUFFIX ".image" /* ROOT/ID.image for `run --image` */
#define UPPER_SUBDIR  "upper"  /* in it: the container's writes */
#define WORK_SUBDIR   "work"   /* in it: overlayfs's own scratch dir */
#define UNMOUNT_MAX   8	       /* mounts stacked on its rootfs that release takes off */

/* ---- removing a tree ---- */

/* The names from the top of the walk down to the directory it is in: one
 * fd is held at a time, since a hostile image can nest directories far
 * deeper than a process has fds. */
struct walk {
	char **names;
	size_t n, cap;
};

static void walk_release(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->names);
}

static int walk_push(struct walk *w, char *name)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 32;
		char **names = reallocarray(w->names, cap, sizeof(*names));

		if (names == NULL)
			return -1;
		w->names = names;
		w->cap = cap;
	}
	w->names[w->n++] = name;
	return 0;
}

/* "a/b/c" of the walk, for messages. */
static char *walk_path(const struct walk *w, const char *top)
{
	char *path = strdup(top);

	for (size_t i = 0; path && i < w->n; i++) {
		char *longer = NULL;

		if (asprintf(&longer, "%s/%s", path, w->names[i]) < 0)
			longer = NULL;
		free(path);
		path = longer;
	}
	return path;
}

/* Unlink what in fd is no directory; *sub: the name of a subdirectory
 * (malloc'd), NULL once there is none.  -1 with errno set. */
static int scan_dir(int fd, char **sub)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	cleanup_dir DIR *dir = copy >= 0 ? fdopendir(copy) : NULL;
	struct dirent *de;

	*sub = NULL;
	if (dir == NULL) {
		if (copy >= 0)
			close(copy);
		return -1;
	}
	rewinddir(dir); /* the dup shares the offset of an earlier pass */
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type != DT_DIR && unlinkat(fd, de->d_name, 0) == 0)
			continue;
		if (de->d_type != DT_DIR && errno == ENOENT)
			continue;
		if (de->d_type != DT_DIR && errno != EISDIR)
			return -1;
		*sub = strdup(de->d_name);
		return *sub ? 0 : -1;
	}
	return errno ? -1 : 0;
}

/* A subdirectory, never through a symlink or into another mount (EXDEV). */
static int open_subdir(int fd, const char *name)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, fd, name, &how, sizeof(how));
}

/* Back up from the emptied directory fd to its parent, removing it there:
 * the parent's fd, or -1.  The name must still be fd itself. */
static int remove_and_up(int fd, const char *name)
{
	cleanup_close int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat here, named;

	if (parent < 0 || fstat(fd, &here) < 0 ||
	    fstatat(parent, name, &named, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (here.st_dev != named.st_dev || here.st_ino != named.st_ino) {
		errno = ESTALE; /* moved while we removed it */
		return -1;
	}
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
		return -1;
	return steal_fd(&parent);
}

static int walk_fail(const struct walk *w, const char *top, mv_error_t *err)
{
	int errnum = errno;
	cleanup_free char *where = walk_path(w, top);

	if (errnum == EXDEV)
		return mv_error(err, EBUSY, "remove `%s`: a mount point", where ? where : top);
	return mv_error(err, errnum, "remove `%s`", where ? where : top);
}

/* Empty fd's tree, closing fd (and whatever it opens on the way). */
static int remove_below(int fd, struct walk *w, const char *top, mv_error_t *err)
{
	int ret = 0;

	for (;;) {
		cleanup_free char *sub = NULL;
		int next;

		if (scan_dir(fd, &sub) < 0) {
			ret = walk_fail(w, top, err);
			break;
		}
		if (sub == NULL && w->n == 0)
			break;
		if (sub) {
			next = open_subdir(fd, sub);
			if (walk_push(w, sub) < 0) {
				ret = mv_error(err, ENOMEM, "remove `%s`", top);
				if (next >= 0)
					close(next);
				break;
			}
			sub = NULL;
		} else {
			next = remove_and_up(fd, w->names[w->n - 1]);
			if (next >= 0)
				free(w->names[--w->n]);
		}
		if (next < 0) {
			ret = walk_fail(w, top, err);
			break;
		}
		close(fd);
		fd = next;
	}
	close(fd);
	return ret;
}

int unpack_remove_tree(const char *path, mv_error_t *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct walk w = {0};
	int ret;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return mv_error(err, errno, "remove `%s`", path);
		return 0;
	}
	if (fd < 0)
		return mv_error(err, errno, "remove `%s`", path);
	ret = remove_below(fd, &w, path, err);
	walk_release(&w);
	if (ret < 0)
		return -1;
	if (rmdir(path) < 0 && errno != ENOENT)
		return mv_error(err, errno, "remove `%s`", path);
	return 0;
}

/* ---- config.json ---- */

/* The image's config.json with a writable root. */
static int image_config(const struct oci_image *img, uint32_t uid, uint32_t gid, char **json,
			mv_error_t *err)
{
	cleanup_free char *base = NULL;
	struct oci_config *c = NULL;
	size_t len;
	int ret;

	if (oci_image_config_json(img, uid, gid, &base, err) < 0)
		return -1;
	if (oci_config_parse(base, strlen(base), CONFIG_FILE, &c, err) < 0)
		return -1;
	c->root->readonly = false;
	ret = oci_config_to_json(c, json, &len, err);
	oci_config_free(c);
	return ret;
}

/* dir/config.json replaced atomically: a config-only rewrite never leaves
 * a bundle without one, nor writes through a symlink put there. */
static int write_config(const char *dir, const char *json, mv_error_t *err)
{
	cleanup_free char *tmp = NULL, *path = NULL;
	cleanup_close int fd = -1;

	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, CONFIG_FILE) < 0 ||
	    asprintf(&path, "%s/%s", dir, CONFIG_FILE) < 0)
		return mv_error(err, ENOMEM, "write `%s`", CONFIG_FILE);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return mv_error(err, errno, "create `%s`", tmp);
	if (fchmod(fd, 0644) < 0 || io_write_all(fd, json, strlen(json)) < 0 || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		int errnum = errno;

		unlink(tmp);
		return mv_error(err, errnum, "write `%s`", path);
	}
	return 0;
}

/* ---- the image ---- */

/* The image directory: the archive itself when it is one, else the tar
 * unpacked into scratch/.image.  *named: the error names the archive. */
static int image_dir(const char *archive, const char *scratch, char **dir, bool *named,
		     mv_error_t *err)
{
	cleanup_free char *path = NULL;
	struct stat st;

	if (stat(archive, &st) < 0)
		return mv_error(err, errno, "open");
	if (S_ISDIR(st.st_mode)) {
		*dir = realpath(archive, NULL);
		return *dir ? 0 : mv_error(err, errno, "open");
	}
	if (asprintf(&path, "%s/%s", scratch, IMAGE_SUBDIR) < 0)
		return mv_error(err, ENOMEM, "open");
	if (mkdir(path, 0700) < 0)
		return mv_error(err, errno, "create `%s`", path);
	if (layer_extract_plain(archive, path, err) < 0) {
		*named = true;
		return -1;
	}
	*dir = steal_ptr(&path);
	return 0;
}

static int open_image(const struct unpack_opts *o, const char *scratch, struct oci_image **img,
		      bool *named, mv_error_t *err)
{
	struct oci_image_select sel = {.ref = o->ref, .platform = o->platform};
	cleanup_free char *dir = NULL;

	if (image_dir(o->archive, scratch, &dir, named, err) < 0)
		return -1;
	return oci_image_open(dir, &sel, img, err);
}

static void image_release(struct oci_image **img)
{
	if (*img)
		oci_image_free(*img);
}
#define cleanup_image __attribute__((cleanup(image_release)))

static int apply_layers(const struct oci_image *img, const char *rootfs, mv_error_t *err)
{
	if (mkdir(rootfs, 0755) < 0 || chmod(rootfs, 0755) < 0)
		return mv_error(err, errno, "create `%s`", rootfs);
	for (size_t i = 0; i < img->n_layers; i++)
		if (layer_apply(rootfs, img->layers[i].path, err) < 0)
			return -1;
	return 0;
}

/* config.json in dir for the image, its User looked up in rootfs. */
static int make_config(const struct unpack_opts *o, const struct oci_image *img, const char *dir,
		       const char *rootfs, mv_error_t *err)
{
	cleanup_free char *json = NULL;
	uint32_t uid, gid;

	if (oci_image_user(img, rootfs, &uid, &gid, err) < 0 ||
	    image_config(img, uid, gid, &json, err) < 0)
		return -1;
	return write_config(dir, json, err);
}

/* ---- the bundle ---- */

/* BUNDLE.tmp-XXXXXX beside the bundle, absolute. */
static char *make_scratch(const char *bundle, mv_error_t *err)
{
	cleanup_free char *tmp = NULL;
	char *abs;

	if (asprintf(&tmp, "%s.tmp-XXXXXX", bundle) < 0) {
		mv_error(err, ENOMEM, "create a temporary directory");
		return NULL;
	}
	if (mkdtemp(tmp) == NULL) {
		mv_error(err, errno, "create `%s`", tmp);
		return NULL;
	}
	abs = realpath(tmp, NULL);
	if (abs == NULL) {
		mv_error(err, errno, "resolve `%s`", tmp);
		rmdir(tmp);
	}
	return abs;
}

/* The finished bundle takes its name only if nothing has it.  Some file
 * systems (9p, older FUSE ones) refuse RENAME_NOREPLACE with EINVAL; there
 * a plain rename, which fails onto a directory that is not empty, and a
 * check before it have to do. */
static int rename_into_place(const char *scratch, const char *bundle, mv_error_t *err)
{
	struct stat st;

	if (renameat2(AT_FDCWD, scratch, AT_FDCWD, bundle, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL) {
		if (lstat(bundle, &st) == 0)
			errno = EEXIST;
		else if (errno == ENOENT && rename(scratch, bundle) == 0)
			return 0;
	}
	if (errno == EEXIST || errno == ENOTEMPTY)
		return mv_error(err, EEXIST, "bundle `%s` exists", bundle);
	return mv_error(err, errno, "rename `%s` to `%s`", scratch, bundle);
}

/* Everything in scratch, then the rename that makes it the bundle. */
static int fill_bundle(const struct unpack_opts *o, const char *scratch, bool *named,
		       mv_error_t *err)
{
	cleanup_image struct oci_image *img = NULL;
	cleanup_free char *rootfs = NULL, *image = NULL;

	if (asprintf(&rootfs, "%s/%s", scratch, ROOTFS_SUBDIR) < 0 ||
	    asprintf(&image, "%s/%s", scratch, IMAGE_SUBDIR) < 0)
		return mv_error(err, ENOMEM, "unpack");
	if (open_image(o, scratch, &img, named, err) < 0 || apply_layers(img, rootfs, err) < 0 ||
	    make_config(o, img, scratch, rootfs, err) < 0 || unpack_remove_tree(image, err) < 0)
		return -1;
	/* mkdtemp made it 0700: a bundle is readable as `mvrun spec`'s is */
	if (chmod(scratch, 0755) < 0)
		return mv_error(err, errno, "chmod `%s`", scratch);
	return rename_into_place(scratch, o->bundle, err);
}

/* config.json only, for a bundle whose rootfs is there already. */
static int rewrite_config(const struct unpack_opts *o, const char *scratch, bool *named,
			  mv_error_t *err)
{
	cleanup_image struct oci_image *img = NULL;
	cleanup_free char *rootfs = NULL;

	if (asprintf(&rootfs, "%s/%s", o->bundle, ROOTFS_SUBDIR) < 0)
		return mv_error(err, ENOMEM, "unpack");
	if (open_image(o, scratch, &img, named, err) < 0)
		return -1;
	return make_config(o, img, o->bundle, rootfs, err);
}

static int check_bundle(const struct unpack_opts *o, mv_error_t *err)
{
	cleanup_free char *rootfs = NULL;
	struct stat st;

	if (!o->config_only) {
		if (lstat(o->bundle, &st) == 0)
			return mv_error(err, EEXIST, "bundle `%s` exists", o->bundle);
		return errno == ENOENT ? 0 : mv_error(err, errno, "bundle `%s`", o->bundle);
	}
	if (asprintf(&rootfs, "%s/%s", o->bundle, ROOTFS_SUBDIR) < 0)
		return mv_error(err, ENOMEM, "bundle `%s`", o->bundle);
	if (stat(rootfs, &st) < 0)
		return mv_error(err, errno, "bundle `%s`: its rootfs/", o->bundle);
	if (!S_ISDIR(st.st_mode))
		return mv_error(err, ENOTDIR, "bundle `%s`: its rootfs/", o->bundle);
	return 0;
}

/* The bundle without trailing slashes: "out/" would put the scratch dir
 * inside it. */
static char *bundle_name(const char *bundle)
{
	size_t n = strlen(bundle);

	while (n > 1 && bundle[n - 1] == '/')
		n--;
	return strndup(bundle, n);
}

int unpack_image(const struct unpack_opts *opts, mv_error_t *err)
{
	cleanup_free char *bundle = NULL, *scratch = NULL;
	struct unpack_opts o = *opts;
	bool named = false;
	int ret;

	bundle = bundle_name(opts->bundle);
	if (bundle == NULL)
		return mv_error(err, ENOMEM, "unpack `%s`", opts->archive);
	o.bundle = bundle;
	if (*bundle == '\0')
		ret = mv_error(err, EINVAL, "an empty bundle path");
	else
		ret = check_bundle(&o, err);
	scratch = ret < 0 ? NULL : make_scratch(bundle, err);
	if (ret == 0 && scratch == NULL)
		ret = -1;
	if (scratch) {
		ret = o.config_only ? rewrite_config(&o, scratch, &named, err)
				    : fill_bundle(&o, scratch, &named, err);
		/* after a failure, the error that caused it is the one to show */
		if (unpack_remove_tree(scratch, ret < 0 ? NULL : err) < 0)
			ret = -1;
	}
	if (ret < 0 && !named)
		return mv_error_wrap(err, "unpack `%s`", opts->archive);
	return ret;
}

/* ---- mvrun run --image ---- */

static int check_no_container(int rootfd, const char *id, mv_error_t *err)
{
	struct stat st;

	if (fstatat(rootfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return mv_error(err, EEXIST, "container with given ID already exists");
	return 0;
}

/* Unmount what is mounted on bundle/rootfs, then remove the bundle; a
 * mount left there (another's) stops unpack_remove_tree with EBUSY. */
static int remove_container_bundle(const char *bundle, mv_error_t *err)
{
	cleanup_free char *rootfs = NULL;
	int i;

	if (asprintf(&rootfs, "%s/%s", bundle, ROOTFS_SUBDIR) < 0)
		return mv_error(err, ENOMEM, "remove `%s`", bundle);
	for (i = 0; i < UNMOUNT_MAX; i++)
		if (umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			break;
	/* EINVAL: no mount point (any more); EPERM: we could not have
	 * mounted it either */
	if (i < UNMOUNT_MAX && errno != EINVAL && errno != ENOENT && errno != EPERM)
		return mv_error(err, errno, "unmount `%s`", rootfs);
	return unpack_remove_tree(bundle, err);
}

/* The overlay's root directory is upper/'s: it gets the image rootfs's
 * owner and mode. */
static int make_overlay_dirs(int bundlefd, const char *lower)
{
	cleanup_close int upper = -1;
	struct stat st;

	if (stat(lower, &st) < 0 || mkdirat(bundlefd, UPPER_SUBDIR, 0700) < 0 ||
	    mkdirat(bundlefd, WORK_SUBDIR, 0700) < 0 || mkdirat(bundlefd, ROOTFS_SUBDIR, 0755) < 0)
		return -1;
	upper = openat(bundlefd, UPPER_SUBDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0 || fchown(upper, st.st_uid, st.st_gid) < 0 ||
	    fchmod(upper, st.st_mode & 07777) < 0)
		return -1;
	return 0;
}

static int open_path(int dirfd, const char *name)
{
	return openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The directories named by /proc/self/fd/N: no option string to escape
 * (a path may hold ',' or ':'), no symlink swapped in after the checks.
 * nodev, nosuid: the host itself never uses the image's device nodes or
 * set-id programs (the guest sees them through virtio-fs all the same). */
static int mount_overlay(int bundlefd, const char *lower)
{
	cleanup_close int lowerfd = open_path(AT_FDCWD, lower);
	cleanup_close int upperfd = open_path(bundlefd, UPPER_SUBDIR);
	cleanup_close int workfd = open_path(bundlefd, WORK_SUBDIR);
	cleanup_close int target = open_path(bundlefd, ROOTFS_SUBDIR);
	char opts[128], where[32];

	if (lowerfd < 0 || upperfd < 0 || workfd < 0 || target < 0)
		return -1;
	snprintf(opts, sizeof(opts),
		 "lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d",
		 lowerfd, upperfd, workfd);
	snprintf(where, sizeof(where), "/proc/self/fd/%d", target);
	return mount("overlay", where, "overlay", MS_NODEV | MS_NOSUID, opts);
}

/* The image's config.json, its root.path the bundle's rootfs. */
static int copy_config(const char *image, const char *bundle, mv_error_t *err)
{
	cleanup_free char *path = NULL, *json = NULL;
	struct oci_config *c = NULL;
	size_t len;
	int ret = -1;

	if (asprintf(&path, "%s/%s", image, CONFIG_FILE) < 0)
		return mv_error(err, ENOMEM, "copy `%s`", CONFIG_FILE);
	if (oci_config_load(path, &c, err) < 0)
		return -1;
	if (c->root == NULL) {
		mv_error(err, EINVAL, "`%s`: no root", path);
	} else {
		free(c->root->path);
		c->root->path = strdup(ROOTFS_SUBDIR);
		ret = c->root->path ? oci_config_to_json(c, &json, &len, err)
				    : mv_error(err, ENOMEM, "copy `%s`", path);
	}
	oci_config_free(c);
	return ret < 0 ? -1 : write_config(bundle, json, err);
}

/* bundle/rootfs as an overlay on the image's rootfs: -1 with errno set
 * (what is made is left for the caller to remove). */
static int overlay_bundle(const struct unpack_container *c)
{
	cleanup_free char *lower = NULL;
	cleanup_close int bundlefd = -1;
	mv_error_t err = {0};
	int ret, errnum;

	if (asprintf(&lower, "%s/%s", c->image, ROOTFS_SUBDIR) < 0)
		return -1;
	bundlefd = open(c->bundle, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bundlefd < 0 || make_overlay_dirs(bundlefd, lower) < 0)
		return -1;
	ret = copy_config(c->image, c->bundle, &err);
	errnum = err.err ? err.err : EIO;
	mv_error_release(&err);
	if (ret < 0) {
		errno = errnum;
		return -1;
	}
	return mount_overlay(bundlefd, lower);
}

static bool no_overlay_asked(void)
{
	const char *v = getenv(UNPACK_NO_OVERLAY_ENV);

	return v && *v && strcmp(v, "0") != 0;
}

/* c->bundle was made by us, empty: an overlay there, else the image
 * unpacked there afresh (unpack_image wants no bundle: removed first). */
static int overlay_or_copy(const struct unpack_opts *o, struct unpack_container *c, mv_error_t *err)
{
	struct unpack_opts uo = *o;

	if (!no_overlay_asked()) {
		if (overlay_bundle(c) == 0) {
			c->overlay = true;
			return 0;
		}
		c->overlay_errno = errno;
	}
	if (remove_container_bundle(c->bundle, err) < 0)
		return -1;
	uo.bundle = c->bundle;
	uo.config_only = false;
	return unpack_image(&uo, err);
}

/* c->bundle (ROOT/ID.image) and the cache directory, from the real root. */
static int container_paths(const char *root, const char *id, struct unpack_container *c,
			   char **cache, mv_error_t *err)
{
	cleanup_free char *real = realpath(root, NULL);

	if (real == NULL)
		return mv_error(err, errno, "root `%s`", root);
	if (asprintf(&c->bundle, "%s/%s%s", real, id, BUNDLE_SUFFIX) < 0) {
		c->bundle = NULL;
		return mv_error(err, ENOMEM, "bundle of `%s`", id);
	}
	*cache = image_cache_dir(real);
	return *cache ? 0 : mv_error(err, ENOMEM, "image cache");
}

#define BUNDLE_EXISTS "bundle `%s` exists (remove it if no `run --image` is making it now)"

static int claim_bundle(const char *bundle, mv_error_t *err)
{
	if (mkdir(bundle, 0755) == 0)
		return 0;
	if (errno == EEXIST)
		return mv_error(err, EEXIST, BUNDLE_EXISTS, bundle);
	return mv_error(err, errno, "create `%s`", bundle);
}

int unpack_container_bundle(const char *root, const char *id, const struct unpack_opts *o,
			    struct unpack_container *c, mv_error_t *err)
{
	cleanup_free char *cache = NULL;
	cleanup_close int rootfd = -1;
	struct stat st;

	*c = (struct unpack_container){0};
	if (state_check_id(id, err) < 0)
		return -1;
	rootfd = state_open_root(root, true, err);
	if (rootfd < 0 || check_no_container(rootfd, id, err) < 0 ||
	    container_paths(root, id, c, &cache, err) < 0)
		return -1;
	/* early, before a long unpack: claim_bundle is the check that counts */
	if (lstat(c->bundle, &st) == 0)
		return mv_error(err, EEXIST, BUNDLE_EXISTS, c->bundle);
	if (image_cache_get(cache, o, &c->image, &c->cache_hit, err) < 0 ||
	    claim_bundle(c->bundle, err) < 0)
		return -1;
	/* a failure removed what it made (or failed to: that error is shown) */
	return overlay_or_copy(o, c, err);
}

void unpack_container_free(struct unpack_container *c)
{
	free(c->bundle);
	free(c->image);
	*c = (struct unpack_container){0};
}

int unpack_container_release(const char *root, const char *id, const char *bundle, mv_error_t *err)
{
	cleanup_free char *real = NULL, *ours = NULL;

	if (bundle == NULL || state_check_id(id, NULL) < 0)
		return 0;
	real = realpath(root, NULL);
	if (real == NULL)
		return 0; /* no root: no ROOT/ID.image either */
	if (asprintf(&ours, "%s/%s%s", real, id, BUNDLE_SUFFIX) < 0)
		return mv_error(err, ENOMEM, "release `%s`", bundle);
	/* `ID.image` is a valid id too: never another container's directory */
	if (strcmp(ours, bundle) != 0)
		return 0;
	return remove_container_bundle(ours, err);
}

static bool container_uses(const char *root, const char *id, const char *bundle)
{
	struct container_state *s = NULL;
	int fd = state_open_container(root, id, true, NULL);
	bool uses = false;

	if (fd >= 0 && state_read(fd, &s, NULL) == 0) {
		uses = s->bundle && strcmp(s->bundle, bundle) == 0;
		state_free(s);
	}
	if (fd >= 0)
		close(fd);
	return uses;
}

void unpack_container_release_unused(const char *root, const char *id, const char *bundle)
{
	if (bundle && !container_uses(root, id, bundle))
		unpack_container_release(root, id, bundle, NULL);
}
