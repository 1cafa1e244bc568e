/* runtime/pidfile.c: the file's content, its atomic replacement, and the
 * errors, in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "runtime/pidfile.h"
#include "tests/unit/unit.h"

static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	CHECK(fd >= 0);
	n = read(fd, buf, size - 1);
	CHECK(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* The names in dir, space-separated, "." and ".." left out. */
static void list_dir(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	CHECK(d != NULL);
	out[0] = '\0';
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			snprintf(out + strlen(out), size - strlen(out), "%s ", e->d_name);
	closedir(d);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	CHECK(d != NULL);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	CHECK_INT(rmdir(dir), ==, 0);
}

TEST(pidfile_content_and_no_temp_left)
{
	char dir[] = "/tmp/mvrun-pidfile.XXXXXX", names[256], buf[64];
	cleanup_free char *path = NULL;
	mv_error_t err = {0};
	struct stat st;
	int before = unit_count_fds();

	CHECK(mkdtemp(dir) != NULL);
	CHECK(asprintf(&path, "%s/pid", dir) > 0);
	CHECK_INT(pidfile_write(path, 1234, &err), ==, 0);
	read_file(path, buf, sizeof(buf));
	CHECK_STR(buf, "1234");
	CHECK_INT(stat(path, &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0644);
	list_dir(dir, names, sizeof(names));
	CHECK_STR(names, "pid ");

	/* replaced whole */
	CHECK_INT(pidfile_write(path, 7, &err), ==, 0);
	read_file(path, buf, sizeof(buf));
	CHECK_STR(buf, "7");
	list_dir(dir, names, sizeof(names));
	CHECK_STR(names, "pid ");
	CHECK_INT(unit_count_fds(), ==, before);
	remove_dir(dir);
}

/* rename, not rewrite: a reader holding the old file keeps the old text. */
TEST(pidfile_is_replaced_by_rename)
{
	char dir[] = "/tmp/mvrun-pidfile.XXXXXX", buf[64];
	cleanup_free char *path = NULL;
	cleanup_close int old = -1;
	mv_error_t err = {0};
	struct stat before, after;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(asprintf(&path, "%s/pid", dir) > 0);
	CHECK_INT(pidfile_write(path, 111, &err), ==, 0);
	old = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(old >= 0);
	CHECK_INT(fstat(old, &before), ==, 0);
	CHECK_INT(pidfile_write(path, 2222, &err), ==, 0);
	CHECK_INT(stat(path, &after), ==, 0);
	CHECK(before.st_ino != after.st_ino);
	CHECK_INT(pread(old, buf, sizeof(buf), 0), ==, 3);
	read_file(path, buf, sizeof(buf));
	CHECK_STR(buf, "2222");
	remove_dir(dir);
}

TEST(pidfile_relative_to_the_cwd)
{
	char dir[] = "/tmp/mvrun-pidfile.XXXXXX", buf[64], names[256];
	mv_error_t err = {0};

	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(chdir(dir), ==, 0);
	CHECK_INT(pidfile_write("rel.pid", 42, &err), ==, 0);
	CHECK_INT(chdir("/"), ==, 0);
	list_dir(dir, names, sizeof(names));
	CHECK_STR(names, "rel.pid ");
	CHECK_INT(chdir(dir), ==, 0);
	read_file("rel.pid", buf, sizeof(buf));
	CHECK_STR(buf, "42");
	CHECK_INT(chdir("/"), ==, 0);
	remove_dir(dir);
}

TEST(pidfile_errors_name_the_path)
{
	char dir[] = "/tmp/mvrun-pidfile.XXXXXX", names[256];
	cleanup_free char *sub = NULL;
	mv_error_t err = {0};

	CHECK_INT(pidfile_write("/nonexistent/dir/pid", 1, &err), ==, -1);
	CHECK_INT(err.err, ==, ENOENT);
	CHECK_STR(err.msg, "create pid file `/nonexistent/dir/pid`");
	mv_error_release(&err);

	CHECK_INT(pidfile_write("/dev/null/pid", 1, &err), ==, -1);
	CHECK_INT(err.err, ==, ENOTDIR);
	CHECK(strstr(err.msg, "`/dev/null/pid`") != NULL);
	mv_error_release(&err);

	/* a directory in the way: refused, and no temp left behind */
	CHECK(mkdtemp(dir) != NULL);
	CHECK(asprintf(&sub, "%s/taken", dir) > 0);
	CHECK_INT(mkdir(sub, 0700), ==, 0);
	CHECK_INT(pidfile_write(sub, 1, &err), ==, -1);
	CHECK(strstr(err.msg, sub) != NULL);
	mv_error_release(&err);
	list_dir(dir, names, sizeof(names));
	CHECK_STR(names, "taken ");

	CHECK_INT(pidfile_write(sub, 0, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	CHECK_INT(pidfile_write("", 1, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	CHECK_INT(rmdir(sub), ==, 0);
	remove_dir(dir);
}
