/* Removing a container's host cgroup (runtime/cgroup.h): its processes
 * killed, its child cgroups and itself removed. */
#include "runtime/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup_internal.h"
#include "runtime/cleanup.h"

/* How long remove waits for killed processes to go, in 10 ms steps. */
#define REMOVE_STEPS 100
/* Child cgroups below a container's, which remove goes into. */
#define REMOVE_DEPTH 16

/* The pids in cgroup.procs: *n of them, *self set when one is ours. */
static int read_pids(int dirfd, const char *rel, size_t *n, bool *self, pid_t *first,
		     mv_error_t *err)
{
	cleanup_free char *procs = NULL;
	char *p, *end;

	*n = 0;
	*self = false;
	if (cgroup_read_at(dirfd, "cgroup.procs", &procs) < 0)
		return mv_error(err, errno, "read `cgroup.procs` of cgroup `%s`", rel);
	for (p = procs; *p; p = end + (*end == '\n')) {
		long pid = strtol(p, &end, 10);

		if (end == p || pid <= 0 || pid > INT32_MAX || (*end && *end != '\n'))
			return mv_error(err, EIO,
					"unexpected content in `cgroup.procs` of cgroup `%s`", rel);
		*self |= pid == getpid();
		if ((*n)++ == 0)
			*first = (pid_t)pid;
	}
	return 0;
}

/* SIGKILL to each process of cgroup.procs: kernels before 5.14 have no
 * cgroup.kill.  A process forked meanwhile is caught on the next round. */
static int kill_each(int dirfd, const char *rel, mv_error_t *err)
{
	cleanup_free char *procs = NULL;

	if (cgroup_read_at(dirfd, "cgroup.procs", &procs) < 0)
		return mv_error(err, errno, "read `cgroup.procs` of cgroup `%s`", rel);
	for (char *p = procs, *end; *p; p = end + (*end == '\n')) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0 && kill((pid_t)pid, SIGKILL) < 0 && errno != ESRCH)
			return mv_error(err, errno, "kill process %ld of cgroup `%s`", pid, rel);
	}
	return 0;
}

static void sleep_step(void)
{
	struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

/* Kill what is left in the cgroup at dirfd and wait until it is empty. */
static int empty_cgroup(const struct cgroup_root *root, int dirfd, const char *rel, mv_error_t *err)
{
	for (int step = 0;; step++) {
		size_t n;
		bool self;
		pid_t first = 0;

		if (read_pids(dirfd, rel, &n, &self, &first, err) < 0)
			return -1;
		if (n == 0)
			return 0;
		if (self)
			return mv_error(err, EBUSY, "cgroup `%s` holds this process (%d)", rel,
					(int)getpid());
		if (step == REMOVE_STEPS)
			return mv_error(err, EBUSY,
					"cgroup `%s` still holds %zu processes (pid %d) a second "
					"after they were killed",
					rel, n, (int)first);
		if (cgroup_write_at(root, dirfd, "cgroup.kill", "1") < 0) {
			if (errno != ENOENT)
				return mv_error(err, errno, "kill the processes of cgroup `%s`",
						rel);
			if (kill_each(dirfd, rel, err) < 0)
				return -1;
		}
		sleep_step();
	}
}

/* A listing of dirfd from its start, leaving dirfd open; NULL with errno. */
static DIR *list_dir(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return NULL;
	}
	/* the dup shares dirfd's offset, which another listing moved */
	rewinddir(d);
	return d;
}

/* A fake cgroup's files are plain files, which rmdir would not remove. */
static void unlink_fake_files(int dirfd)
{
	cleanup_dir DIR *d = list_dir(dirfd);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)))
		if (e->d_type == DT_REG)
			unlinkat(dirfd, e->d_name, 0);
}

static int remove_tree(const struct cgroup_root *root, int parent, const char *name,
		       const char *rel, int depth, mv_error_t *err);

static int remove_children(const struct cgroup_root *root, int dirfd, const char *rel, int depth,
			   mv_error_t *err)
{
	cleanup_dir DIR *d = list_dir(dirfd);
	struct dirent *e;

	if (d == NULL)
		return mv_error(err, errno, "list cgroup `%s`", rel);
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0 &&
		    remove_tree(root, dirfd, e->d_name, rel, depth + 1, err) < 0)
			return -1;
	return 0;
}

static int remove_tree(const struct cgroup_root *root, int parent, const char *name,
		       const char *rel, int depth, mv_error_t *err)
{
	cleanup_close int fd =
	    openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return mv_error(err, errno, "open cgroup `%s`", rel);
	if (depth > REMOVE_DEPTH)
		return mv_error(err, ELOOP, "cgroup `%s` has child cgroups nested too deep", rel);
	if (remove_children(root, fd, rel, depth, err) < 0 || empty_cgroup(root, fd, rel, err) < 0)
		return -1;
	if (root->fake)
		unlink_fake_files(fd);
	/* a process just killed can keep the cgroup busy for a moment */
	for (int step = 0; unlinkat(parent, name, AT_REMOVEDIR) < 0; step++) {
		if (errno == ENOENT)
			return 0;
		if (errno != EBUSY || step == REMOVE_STEPS)
			return mv_error(err, errno, "remove cgroup `%s`", rel);
		sleep_step();
	}
	return 0;
}

int cgroup_remove(const struct cgroup_root *root, const char *rel, mv_error_t *err)
{
	const char *slash, *name;
	cleanup_close int parent = -1;

	if (cgroup_check_rel(rel, err) < 0)
		return -1;
	slash = strrchr(rel, '/');
	name = slash ? slash + 1 : rel;
	parent = cgroup_walk(root, rel, slash ? (size_t)(slash - rel) : 0, 0, false, false, err);
	if (parent < 0 && err && err->err == ENOENT) {
		mv_error_release(err);
		return 0;
	}
	if (parent < 0)
		return -1;
	return remove_tree(root, parent, name, rel, 0, err);
}
