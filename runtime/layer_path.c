/* Paths inside the root of a layer: entry names cleaned, directories
 * opened with openat2(RESOLVE_IN_ROOT) so that the image's symlinks are
 * followed as if the root were "/", and canonical paths for bookkeeping. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "runtime/cleanup.h"
#include "runtime/layer_internal.h"

/* openat2 answers EAGAIN when a rename raced the lookup; nothing else
 * should be renaming in the rootfs, so a few tries are plenty. */
#define OPENAT2_TRIES 8

char *layer_clean_path(const char *path)
{
	char *out, *o;

	if (path[0] == '/') {
		errno = EINVAL;
		return NULL;
	}
	out = malloc(strlen(path) + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (const char *p = path; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, p, n);
			o += n;
		}
		p = *end ? end + 1 : end;
	}
	*o = '\0';
	return out;
}

int layer_open_in_root(const struct layer_ctx *ctx, const char *rel, uint64_t resolve)
{
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
	};
	int fd = -1;

	/* layer_extract_plain's entries never pass through a symlink, not
	 * even one of its own: its check of symlink targets relies on it. */
	if (ctx->plain)
		how.resolve |= RESOLVE_NO_SYMLINKS;
	for (int i = 0; i < OPENAT2_TRIES; i++) {
		fd = (int)syscall(SYS_openat2, ctx->rootfd, *rel ? rel : ".", &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd;
}

/* Tars need not list the parents of an entry: make them, one component at
 * a time, each looked up from the root again so that a symlink among them
 * is followed inside the root like any other. */
static int make_dirs(const struct layer_ctx *ctx, const char *rel)
{
	cleanup_free char *buf = strdup(rel);
	cleanup_close int parent = -1;
	char *p;

	if (buf == NULL)
		return -1;
	parent = layer_open_in_root(ctx, "", 0);
	if (parent < 0)
		return -1;
	for (p = buf;;) {
		char *slash = strchr(p, '/');
		int fd;

		if (slash)
			*slash = '\0';
		fd = layer_open_in_root(ctx, buf, 0);
		if (fd < 0 && errno == ENOENT) {
			/* 0755 whatever the umask */
			if (mkdirat(parent, p, 0755) == 0) {
				if (fchmodat(parent, p, 0755, AT_SYMLINK_NOFOLLOW) < 0)
					return -1;
			} else if (errno != EEXIST) {
				return -1;
			}
			fd = layer_open_in_root(ctx, buf, 0);
		}
		if (fd < 0 || slash == NULL)
			return fd;
		close(parent);
		parent = fd;
		*slash = '/';
		p = slash + 1;
	}
}

int layer_open_dir(const struct layer_ctx *ctx, const char *rel, bool create)
{
	int fd = layer_open_in_root(ctx, rel, 0);

	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	return make_dirs(ctx, rel);
}

char *layer_fd_path(int fd)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf));
	if (n < 0)
		return NULL;
	if ((size_t)n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	buf[n] = '\0';
	return strdup(buf);
}

char *layer_real_path(const struct layer_ctx *ctx, int dirfd, const char *name)
{
	cleanup_free char *dir = layer_fd_path(dirfd);
	size_t n = strlen(ctx->root_real);
	const char *rest;
	char *out = NULL;

	if (dir == NULL)
		return NULL;
	if (strcmp(ctx->root_real, "/") == 0)
		n = 0;
	if (strncmp(dir, ctx->root_real, n) != 0 || (dir[n] != '/' && dir[n] != '\0')) {
		errno = EXDEV; /* cannot happen: openat2 stayed inside */
		return NULL;
	}
	for (rest = dir + n; *rest == '/';)
		rest++;
	if (strcmp(name, ".") == 0)
		return strdup(rest);
	if (asprintf(&out, "%s%s%s", rest, *rest ? "/" : "", name) < 0)
		return NULL;
	return out;
}
