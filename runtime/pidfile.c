#include "runtime/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "runtime/io.h"

/* "<dir>/.<name>.XXXXXX": hidden, in path's directory so rename() stays
 * within one file system. */
static char *temp_template(const char *path)
{
	cleanup_free char *dir_copy = strdup(path), *base_copy = strdup(path);
	char *tmpl = NULL;

	if (dir_copy == NULL || base_copy == NULL)
		return NULL;
	if (asprintf(&tmpl, "%s/.%s.XXXXXX", dirname(dir_copy), basename(base_copy)) < 0)
		return NULL;
	return tmpl;
}

static int fill_temp(int fd, pid_t pid)
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%d", (int)pid);

	/* mkostemp makes it 0600; the pid is no secret and readers (a
	 * monitor under another uid) expect what runc writes. */
	if (fchmod(fd, 0644) < 0 || io_write_all(fd, digits, (size_t)len) < 0)
		return -1;
	return 0;
}

int pidfile_write(const char *path, pid_t pid, mv_error_t *err)
{
	cleanup_free char *tmp = NULL;
	int fd, ret, e;

	if (pid <= 0)
		return mv_error(err, EINVAL, "pid file `%s`: invalid pid %d", path, (int)pid);
	if (path[0] == '\0' || path[strlen(path) - 1] == '/')
		return mv_error(err, EINVAL, "pid file `%s`: not a file name", path);
	tmp = temp_template(path);
	if (tmp == NULL)
		return mv_error(err, ENOMEM, "pid file `%s`", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return mv_error(err, errno, "create pid file `%s`", path);
	ret = fill_temp(fd, pid);
	e = errno;
	if (close(fd) < 0 && ret == 0) {
		ret = -1;
		e = errno;
	}
	if (ret < 0) {
		unlink(tmp);
		return mv_error(err, e, "write pid file `%s`", path);
	}
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		return mv_error(err, e, "write pid file `%s`", path);
	}
	return 0;
}
