/* MOUNT: mount(2) in the guest for the host, e.g. the virtio-fs shares the
 * VMM serves, bind mounts of them, tmpfs.  A missing target is created
 * first.  mount(2) runs on the agent's one thread: a mount that hangs
 * (a virtio-fs server that does not answer) stops the agent with it.
 *
 * In the test mode the agent runs on the host, as root: it enters a
 * private mount namespace at start, and refuses MOUNT when it could not,
 * so a test never changes the host's mounts. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/mount_flags.h"
#include "agent/mount_msg.h"

int mount_private_namespace(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return errno;
	return 0;
}

/* mkdir -p: path and each directory above it that is missing. */
static int make_dirs(const char *path, mv_error_t *err)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return mv_error(err, ENAMETOOLONG, "mkdir `%s`", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p[-1] != '/') { /* not for "//" or a trailing "/" */
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return mv_error(err, errno, "mkdir `%s`", buf);
			*p = c;
		}
		if (*p == '\0')
			return 0;
	}
}

/* An empty regular file at path, its directories first. */
static int make_file(const char *path, mv_error_t *err)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd;

	if (slash > path) {
		if ((size_t)(slash - path) >= sizeof(dir))
			return mv_error(err, ENAMETOOLONG, "create `%s`", path);
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		if (make_dirs(dir, err) < 0)
			return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EEXIST)
		return mv_error(err, errno, "create `%s`", path);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int make_target(const struct mount_msg *m, mv_error_t *err)
{
	struct stat st;

	if (stat(m->target, &st) == 0)
		return 0; /* whatever it is, mount(2) judges it */
	if (m->options & MV_MOUNT_FILE)
		return make_file(m->target, err);
	return make_dirs(m->target, err);
}

static const char *or_null(const char *s)
{
	return s[0] ? s : NULL;
}

static int mount_error(const struct mount_msg *m, unsigned long flags, mv_error_t *err)
{
	if (flags & MS_REMOUNT)
		return mv_error(err, errno, "remount `%s`", m->target);
	if (flags & MS_BIND)
		return mv_error(err, errno, "bind `%s` on `%s`", m->source, m->target);
	return mv_error(err, errno, "mount `%s` on `%s`", m->fstype, m->target);
}

/* Undo the mount made for a request that then failed: an ERROR leaves
 * nothing behind that the host did not ask for (a writable bind). */
static int mount_undo(const char *target)
{
	umount2(target, MNT_DETACH);
	return -1;
}

static int mount_apply(const struct mount_msg *m, mv_error_t *err)
{
	unsigned long prop = m->flags & PROPAGATION_FLAGS;
	unsigned long flags = m->flags & ~(unsigned long)PROPAGATION_FLAGS;
	unsigned long per_mount = flags & PER_MOUNT_FLAGS;
	bool new_bind = (flags & MS_BIND) && !(flags & MS_REMOUNT);
	/* MS_REC|MS_PRIVATE and nothing else: only the propagation changes */
	bool mount_it =
	    prop == 0 || (flags & ~(unsigned long)MS_REC) || m->source[0] || m->fstype[0];

	if (make_target(m, err) < 0)
		return -1;
	if (mount_it &&
	    mount(or_null(m->source), m->target, or_null(m->fstype), flags, or_null(m->data)) < 0)
		return mount_error(m, flags, err);
	/* Linux ignores MS_RDONLY (and the other per-mount flags) on a new
	 * bind mount; only the top mount gets them, not those under an MS_REC */
	if (new_bind && per_mount &&
	    mount(NULL, m->target, NULL, MS_REMOUNT | MS_BIND | per_mount, NULL) < 0) {
		mv_error(err, errno, "remount `%s`%s", m->target,
			 (per_mount & MS_RDONLY) ? " read-only" : "");
		return mount_undo(m->target);
	}
	if (prop && mount(NULL, m->target, NULL, prop | (flags & MS_REC), NULL) < 0) {
		mv_error(err, errno, "change the propagation of `%s`", m->target);
		return mount_it ? mount_undo(m->target) : -1;
	}
	return 0;
}

void mount_request(struct agent *a, struct conn *ctl, const void *payload, uint32_t len)
{
	struct mount_msg m;
	mv_error_t err = {0};
	int ret = mount_msg_decode(payload, len, &m, &err);

	if (ret == 0 && a->test_mode && a->mount_ns_err)
		ret = mv_error(&err, a->mount_ns_err,
			       "MOUNT: the test mode has no private mount namespace");
	if (ret == 0)
		ret = mount_apply(&m, &err);
	if (ret == 0)
		conn_send(a, ctl, MV_MSG_OK, NULL, 0);
	else
		conn_send_mv_error(a, ctl, &err);
	mv_error_release(&err);
}
