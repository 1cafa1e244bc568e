/* Kernel modules from the initramfs: DIR/load.list names the files in DIR,
 * one a line, in load order.  A missing or empty list loads nothing. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/cleanup.h"

#define LOAD_LIST_MAX (64 * 1024)

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4 /* Linux 6.4: the kernel decompresses */
#endif

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int module_load(const char *dir, const char *name, mv_error_t *err)
{
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;
	int flags = 0;

	if (strchr(name, '/') || asprintf(&path, "%s/%s", dir, name) < 0)
		return mv_error(err, EINVAL, "module `%s`", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_error(err, errno, "open `%s`", path);
	if (has_suffix(name, ".xz") || has_suffix(name, ".zst") || has_suffix(name, ".gz"))
		flags |= MODULE_INIT_COMPRESSED_FILE;
	if (syscall(SYS_finit_module, fd, "", flags) < 0 && errno != EEXIST)
		return mv_error(err, errno, "load module `%s`", path);
	return 0;
}

/* The whole list, NUL-terminated; an empty string when there is none. */
static char *read_list(const char *path, mv_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t got = 0;

	if (fd < 0 && errno != ENOENT) {
		mv_error(err, errno, "open `%s`", path);
		return NULL;
	}
	buf = calloc(1, LOAD_LIST_MAX + 1);
	if (buf == NULL) {
		mv_error(err, ENOMEM, "read `%s`", path);
		return NULL;
	}
	while (fd >= 0) {
		ssize_t n = read(fd, buf + got, LOAD_LIST_MAX - got);

		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (got += (size_t)n) == LOAD_LIST_MAX) {
			mv_error(err, n < 0 ? errno : EFBIG, "read `%s`", path);
			return NULL;
		}
	}
	return steal_ptr(&buf);
}

int modules_load(const char *dir, mv_error_t *err)
{
	cleanup_free char *list_path = NULL;
	cleanup_free char *list = NULL;
	char *save = NULL;

	if (asprintf(&list_path, "%s/load.list", dir) < 0)
		return mv_error(err, ENOMEM, "module list");
	list = read_list(list_path, err);
	if (list == NULL)
		return -1;
	for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		line[strcspn(line, " \t\r")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (module_load(dir, line, err) < 0)
			return -1;
	}
	return 0;
}
