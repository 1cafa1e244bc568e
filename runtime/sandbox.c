#include "runtime/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/cleanup.h"

/* mkdir -p of every component of `path` below `root` (already existing). */
static int make_dirs(const char *path, mv_error_t *err)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return mv_error(err, ENAMETOOLONG, "sandbox path `%s`", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return mv_error(err, errno, "sandbox: mkdir `%s`", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return mv_error(err, errno, "sandbox: mkdir `%s`", buf);
	return 0;
}

/* Bind `src` at `at` below `root`, read-only unless writable. */
static int bind_path(const char *root, const char *src, const char *at, bool writable,
		     unsigned long rec, mv_error_t *err)
{
	char dst[PATH_MAX], parent[PATH_MAX];
	struct stat st;
	char *slash;

	if (src[0] != '/' || stat(src, &st) < 0)
		return mv_error(err, src[0] != '/' ? EINVAL : errno, "sandbox: `%s`", src);
	if (snprintf(dst, sizeof(dst), "%s%s", root, at) >= (int)sizeof(dst))
		return mv_error(err, ENAMETOOLONG, "sandbox: `%s`", at);
	snprintf(parent, sizeof(parent), "%s", dst);
	slash = strrchr(parent, '/');
	*slash = '\0';
	if (make_dirs(parent, err) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return mv_error(err, errno, "sandbox: mkdir `%s`", dst);
	} else {
		int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			return mv_error(err, errno, "sandbox: create `%s`", dst);
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND | rec, NULL) < 0)
		return mv_error(err, errno, "sandbox: bind `%s`", src);
	if (!writable && mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return mv_error(err, errno, "sandbox: make `%s` read-only", src);
	return 0;
}

static int pivot(const char *root, mv_error_t *err)
{
	if (chdir(root) < 0)
		return mv_error(err, errno, "sandbox: chdir `%s`", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return mv_error(err, errno, "sandbox: pivot_root");
	/* The old root is stacked on the new one: detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return mv_error(err, errno, "sandbox: detach the old root");
	if (chdir("/") < 0)
		return mv_error(err, errno, "sandbox: chdir /");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return mv_error(err, errno, "sandbox: make the root read-only");
	return 0;
}

int sandbox_enter(const char *scratch, const struct sandbox_path *paths, unsigned n,
		  mv_error_t *err)
{
	char root[PATH_MAX], self_fd[64];

	if (snprintf(root, sizeof(root), "%s/sandbox", scratch) >= (int)sizeof(root))
		return mv_error(err, ENAMETOOLONG, "sandbox in `%s`", scratch);
	if (mkdir(root, 0700) < 0)
		return mv_error(err, errno, "sandbox: mkdir `%s`", root);
	if (unshare(CLONE_NEWNS) < 0)
		return mv_error(err, errno, "sandbox: unshare the mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return mv_error(err, errno, "sandbox: make mounts private");
	if (mount("mvrun-vmm", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0)
		return mv_error(err, errno, "sandbox: tmpfs on `%s`", root);
	/* Recursive binds, so that mounts below a share come along; but not of
	 * scratch, which holds the new root itself: its copy would keep
	 * scratch/sandbox busy, and the caller could not remove it. */
	for (unsigned i = 0; i < n; i++) {
		unsigned long rec = strcmp(paths[i].path, scratch) == 0 ? 0 : MS_REC;
		if (bind_path(root, paths[i].path, paths[i].path, paths[i].writable, rec, err) < 0)
			return -1;
	}
	/* The virtio-fs server reopens its O_PATH fds through /proc/self/fd:
	 * only that directory of procfs comes along. */
	snprintf(self_fd, sizeof(self_fd), "/proc/%d/fd", (int)getpid());
	if (bind_path(root, self_fd, "/proc/self/fd", false, 0, err) < 0)
		return -1;
	return pivot(root, err);
}
