/* The container's root, built by its init's child in its new mount
 * namespace, from the OCI config: the root bound on itself, the config's
 * mounts in order, /dev, createContainer hooks, pivot_root, then the
 * hostname, sysctl, read-only and masked paths and a read-only root.
 *
 * Mount destinations are resolved inside the root with openat2(2)'s
 * RESOLVE_IN_ROOT, and mounted on through /proc/self/fd: a symlink in the
 * image ("/proc -> /") cannot send a mount outside the container's root. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "agent/mount_flags.h"
#include "runtime/cleanup.h"

#define MOUNT_DATA_MAX 4096

/* ---- paths inside the root ---- */

static int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};

	while (*path == '/')
		path++;
	return (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
}

/* One missing component `name` in the directory `parent` (a path in the
 * root): a directory, or an empty file when it is the last and file. */
static int make_component(int rootfd, const char *parent, const char *name, bool file)
{
	cleanup_close int dir = open_in_root(rootfd, parent, O_PATH | O_DIRECTORY);
	int fd;

	if (dir < 0)
		return -1;
	if (!file)
		return mkdirat(dir, name, 0755) < 0 && errno != EEXIST ? -1 : 0;
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	return 0;
}

/* An O_PATH fd of path inside the root, creating what is missing: the
 * directories on the way, and path itself as a directory or (file) an
 * empty file. */
static int make_in_root(int rootfd, const char *path, bool file, mv_error_t *err)
{
	char buf[PATH_MAX];
	int fd;

	if (path[0] != '/')
		return mv_error(err, EINVAL, "`%s` is not an absolute path", path);
	fd = open_in_root(rootfd, path, O_PATH);

	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : mv_error(err, errno, "open `%s` in the container", path);
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return mv_error(err, ENAMETOOLONG, "`%s`", path);
	for (char *p = buf + 1;; p++) {
		char saved = *p, *slash;

		if (*p != '/' && *p != '\0')
			continue;
		*p = '\0';
		slash = strrchr(buf, '/');
		*slash = '\0';
		if (slash[1] && make_component(rootfd, buf[0] ? buf : "/", slash + 1,
					       file && saved == '\0') < 0)
			return mv_error(err, errno, "create `%s` in the container", path);
		*slash = '/';
		*p = saved;
		if (saved == '\0')
			break;
	}
	fd = open_in_root(rootfd, path, O_PATH);
	return fd >= 0 ? fd : mv_error(err, errno, "open `%s` in the container", path);
}

static void fd_path(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/* ---- mount options ---- */

struct mount_opts {
	unsigned long flags, clear, propagation;
	char data[MOUNT_DATA_MAX];
};

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} option_flags[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
};

static const struct {
	const char *name;
	unsigned long flags;
} option_propagation[] = {
    {"private", MS_PRIVATE},	   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},	   {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},	   {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static bool option_flag(const char *o, struct mount_opts *m)
{
	for (size_t i = 0; i < sizeof(option_flags) / sizeof(option_flags[0]); i++) {
		if (strcmp(o, option_flags[i].name) != 0)
			continue;
		if (option_flags[i].clear) {
			m->flags &= ~option_flags[i].flag;
			m->clear |= option_flags[i].flag;
		} else {
			m->flags |= option_flags[i].flag;
		}
		return true;
	}
	for (size_t i = 0; i < sizeof(option_propagation) / sizeof(option_propagation[0]); i++) {
		if (strcmp(o, option_propagation[i].name) == 0) {
			m->propagation = option_propagation[i].flags;
			return true;
		}
	}
	return false;
}

/* Flags and propagation from the options; the rest ("mode=755",
 * "size=65536k", "newinstance") is the filesystem's data.  Options for
 * other tools (x-*) and tmpcopyup (a runc feature) are dropped. */
static int parse_options(const struct oci_mount *mnt, struct mount_opts *m, mv_error_t *err)
{
	size_t used = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < mnt->options.n; i++) {
		const char *o = mnt->options.v[i];
		size_t n = strlen(o);

		if (option_flag(o, m) || strncmp(o, "x-", 2) == 0 || strcmp(o, "tmpcopyup") == 0)
			continue;
		if (used + n + 2 > sizeof(m->data))
			return mv_error(err, E2BIG, "mount `%s`: options too long",
					mnt->destination);
		if (used)
			m->data[used++] = ',';
		memcpy(m->data + used, o, n + 1);
		used += n;
	}
	if (mnt->type && strcmp(mnt->type, "bind") == 0)
		m->flags |= MS_BIND;
	return 0;
}

/* ---- mounting ---- */

/* The flags of the mount at path that a remount must keep: in a user
 * namespace the kernel refuses to clear nosuid, nodev, noexec, atime
 * flags that came locked from outside. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs st;
	unsigned long f = 0;

	if (statvfs(path, &st) < 0)
		return 0;
	if (st.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (st.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (st.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (st.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (st.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (st.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* A bind mount's per-mount flags take a remount. */
static int remount_bind(const char *path, unsigned long flags)
{
	flags &= PER_MOUNT_FLAGS;
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags | locked_flags(path), NULL);
}

static bool source_is_file(const char *source)
{
	struct stat st;

	return source && stat(source, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* The guest has cgroup v2 only: a "cgroup" mount is its unified tree. */
static const char *mount_type(const struct oci_mount *mnt, const struct mount_opts *o)
{
	if (o->flags & MS_BIND)
		return NULL;
	if (mnt->type && strcmp(mnt->type, "cgroup") == 0)
		return "cgroup2";
	return mnt->type;
}

static int mount_one(int rootfd, const struct oci_mount *mnt, mv_error_t *err)
{
	bool bind;
	struct mount_opts o;
	char target[64];
	const char *type;
	cleanup_close int fd = -1;

	if (parse_options(mnt, &o, err) < 0)
		return -1;
	bind = o.flags & MS_BIND;
	type = mount_type(mnt, &o);
	fd = make_in_root(rootfd, mnt->destination, bind && source_is_file(mnt->source), err);
	if (fd < 0)
		return -1;
	fd_path(target, sizeof(target), fd);
	if (mount(mnt->source, target, type, bind ? o.flags & (MS_BIND | MS_REC) : o.flags,
		  o.data[0] ? o.data : NULL) < 0)
		return mv_error(err, errno, "mount `%s` on `%s`", mnt->source ? mnt->source : "",
				mnt->destination);
	close(fd);
	fd = open_in_root(rootfd, mnt->destination, O_PATH); /* the new mount */
	if (fd < 0)
		return mv_error(err, errno, "open `%s` in the container", mnt->destination);
	fd_path(target, sizeof(target), fd);
	if (bind && (o.flags & PER_MOUNT_FLAGS) && remount_bind(target, o.flags) < 0)
		return mv_error(err, errno, "remount `%s`", mnt->destination);
	if (o.propagation && mount(NULL, target, NULL, o.propagation, NULL) < 0)
		return mv_error(err, errno, "set the propagation of `%s`", mnt->destination);
	return 0;
}

/* ---- /dev ---- */

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},	   {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static bool config_has_device(const struct oci_config *cfg, const char *path)
{
	for (size_t i = 0; cfg->linux_ && i < cfg->linux_->n_devices; i++)
		if (strcmp(cfg->linux_->devices[i].path, path) == 0)
			return true;
	return false;
}

/* A device node at path in the root; where mknod is not allowed (a user
 * namespace) a bind mount of the guest's node of the same path. */
static int make_device(int rootfd, const char *path, mode_t mode, dev_t dev, uid_t uid, gid_t gid,
		       mv_error_t *err)
{
	cleanup_close int fd = -1, parent = -1;
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], target[64];

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return mv_error(err, EINVAL, "device `%s`", path);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	parent = make_in_root(rootfd, dir[0] ? dir : "/", false, err);
	if (parent < 0)
		return -1;
	unlinkat(parent, slash + 1, 0); /* the image's placeholder, if any */
	if (mknodat(parent, slash + 1, mode, dev) == 0) {
		if (fchownat(parent, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return mv_error(err, errno, "chown `%s`", path);
		return 0;
	}
	if (errno != EPERM)
		return mv_error(err, errno, "mknod `%s`", path);
	fd = make_in_root(rootfd, path, true, err);
	if (fd < 0)
		return -1;
	fd_path(target, sizeof(target), fd);
	if (mount(path, target, NULL, MS_BIND, NULL) < 0)
		return mv_error(err, errno, "bind `%s`", path);
	return 0;
}

static int config_device(int rootfd, const struct oci_device *d, mv_error_t *err)
{
	mode_t type;

	switch (d->type[0]) {
	case 'c':
	case 'u':
		type = S_IFCHR;
		break;
	case 'b':
		type = S_IFBLK;
		break;
	case 'p':
		type = S_IFIFO;
		break;
	default:
		return mv_error(err, EINVAL, "device `%s`: type `%s`", d->path, d->type);
	}
	return make_device(rootfd, d->path, type | (d->has_file_mode ? d->file_mode & 07777 : 0666),
			   makedev((unsigned)d->major, (unsigned)d->minor), d->has_uid ? d->uid : 0,
			   d->has_gid ? d->gid : 0, err);
}

static const char *const dev_links[][2] = {
    {"/dev/fd", "/proc/self/fd"},	{"/dev/stdin", "/proc/self/fd/0"},
    {"/dev/stdout", "/proc/self/fd/1"}, {"/dev/stderr", "/proc/self/fd/2"},
    {"/dev/ptmx", "pts/ptmx"},
};

static int dev_links_setup(int rootfd, mv_error_t *err)
{
	cleanup_close int dev = make_in_root(rootfd, "/dev", false, err);

	if (dev < 0)
		return -1;
	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
		const char *name = dev_links[i][0] + 5;

		if (strcmp(name, "ptmx") == 0)
			unlinkat(dev, name, 0); /* the devpts instance's, not the guest's */
		if (symlinkat(dev_links[i][1], dev, name) < 0 && errno != EEXIST)
			return mv_error(err, errno, "symlink `%s`", dev_links[i][0]);
	}
	return 0;
}

/* The process's terminal as /dev/console, as runc does.  By its path: the
 * fd's mount belongs to the namespace the agent opened it in, and a bind
 * from another namespace's mount is refused. */
static int dev_console(int rootfd, int tty_slave, mv_error_t *err)
{
	char link[64], source[PATH_MAX], target[64];
	cleanup_close int fd = make_in_root(rootfd, "/dev/console", true, err);
	ssize_t n;

	if (fd < 0)
		return -1;
	fd_path(link, sizeof(link), tty_slave);
	n = readlink(link, source, sizeof(source) - 1);
	if (n < 0)
		return mv_error(err, errno, "readlink `%s`", link);
	source[n] = '\0';
	fd_path(target, sizeof(target), fd);
	if (mount(source, target, NULL, MS_BIND, NULL) < 0)
		return mv_error(err, errno, "bind the terminal on `/dev/console`");
	return 0;
}

static int dev_setup(int rootfd, const struct oci_config *cfg, int tty_slave, mv_error_t *err)
{
	for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		const char *path = default_devices[i].path;

		if (!config_has_device(cfg, path) &&
		    make_device(rootfd, path, S_IFCHR | 0666,
				makedev(default_devices[i].major, default_devices[i].minor), 0, 0,
				err) < 0)
			return -1;
	}
	for (size_t i = 0; cfg->linux_ && i < cfg->linux_->n_devices; i++)
		if (config_device(rootfd, &cfg->linux_->devices[i], err) < 0)
			return -1;
	if (dev_links_setup(rootfd, err) < 0)
		return -1;
	return tty_slave >= 0 ? dev_console(rootfd, tty_slave, err) : 0;
}

/* ---- pivot_root ---- */

/* pivot_root(".", "."): the old root ends up on top of the new one and is
 * detached.  The guest's own root is the initramfs, which pivot_root
 * refuses (EINVAL): there the root moves over "/" and the process chroots
 * into it, as runc's --no-pivot does. */
static int pivot(const char *root, mv_error_t *err)
{
	cleanup_close int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	if (old < 0 || chdir(root) < 0)
		return mv_error(err, errno, "chdir `%s`", root);
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (fchdir(old) < 0 || mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
		    umount2(".", MNT_DETACH) < 0)
			return mv_error(err, errno, "detach the old root");
		return chdir("/") < 0 ? mv_error(err, errno, "chdir `/`") : 0;
	}
	if (errno != EINVAL)
		return mv_error(err, errno, "pivot_root `%s`", root);
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return mv_error(err, errno, "move `%s` to `/`", root);
	return 0;
}

/* ---- after pivot_root ---- */

static int mask_paths(const struct oci_strv *paths, mv_error_t *err)
{
	for (size_t i = 0; i < paths->n; i++) {
		const char *p = paths->v[i];
		struct stat st;
		int ret;

		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return mv_error(err, errno, "mask `%s`", p);
		}
		if (S_ISDIR(st.st_mode))
			ret = mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0");
		else
			ret = mount("/dev/null", p, NULL, MS_BIND, NULL);
		if (ret < 0)
			return mv_error(err, errno, "mask `%s`", p);
	}
	return 0;
}

static int readonly_paths(const struct oci_strv *paths, mv_error_t *err)
{
	for (size_t i = 0; i < paths->n; i++) {
		const char *p = paths->v[i];

		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return mv_error(err, errno, "bind `%s`", p);
		}
		if (remount_bind(p, MS_RDONLY | locked_flags(p)) < 0)
			return mv_error(err, errno, "remount `%s` read-only", p);
	}
	return 0;
}

/* "net.ipv4.ip_forward" -> /proc/sys/net/ipv4/ip_forward */
static int write_sysctl(const char *key, const char *value, mv_error_t *err)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	size_t n = strlen(value);

	if (key[0] == '\0' || strstr(key, "..") || strchr(key, '/') || key[0] == '.' ||
	    snprintf(path, sizeof(path), "/proc/sys/%s", key) >= (int)sizeof(path))
		return mv_error(err, EINVAL, "sysctl `%s`", key);
	for (char *p = path + strlen("/proc/sys/"); *p; p++)
		if (*p == '.')
			*p = '/';
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write(fd, value, n) != (ssize_t)n)
		return mv_error(err, errno, "sysctl `%s`", key);
	return 0;
}

static int names_and_sysctl(const struct oci_config *cfg, mv_error_t *err)
{
	if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
		return mv_error(err, errno, "set the hostname `%s`", cfg->hostname);
	if (cfg->domainname && setdomainname(cfg->domainname, strlen(cfg->domainname)) < 0)
		return mv_error(err, errno, "set the domain name `%s`", cfg->domainname);
	for (size_t i = 0; cfg->linux_ && i < cfg->linux_->sysctl.n; i++)
		if (write_sysctl(cfg->linux_->sysctl.keys[i], cfg->linux_->sysctl.values[i], err) <
		    0)
			return -1;
	return 0;
}

static int finish_root(const struct oci_config *cfg, mv_error_t *err)
{
	const struct oci_linux *l = cfg->linux_;

	if (names_and_sysctl(cfg, err) < 0)
		return -1;
	if (l &&
	    (readonly_paths(&l->readonly_paths, err) < 0 || mask_paths(&l->masked_paths, err) < 0))
		return -1;
	if (cfg->root->readonly && remount_bind("/", MS_RDONLY | locked_flags("/")) < 0)
		return mv_error(err, errno, "remount the root read-only");
	return 0;
}

/* ---- the whole ---- */

static unsigned long propagation(const struct oci_config *cfg)
{
	const char *p = cfg->linux_ ? cfg->linux_->rootfs_propagation : NULL;

	for (size_t i = 0; p && i < sizeof(option_propagation) / sizeof(option_propagation[0]); i++)
		if (strcmp(p, option_propagation[i].name) == 0)
			return option_propagation[i].flags | MS_REC;
	return 0;
}

/* Nothing of the container's may propagate back to the guest, and
 * pivot_root refuses shared mounts: rslave (or private) first; a shared
 * rootfsPropagation is set on the new root after the pivot. */
static int prepare_root(const struct oci_config *cfg, mv_error_t *err)
{
	const char *root = cfg->root->path;
	unsigned long prop = propagation(cfg);

	if (!(prop & (MS_PRIVATE | MS_SLAVE)))
		prop = MS_SLAVE | MS_REC;
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return mv_error(err, errno, "set the propagation of `/`");
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return mv_error(err, errno, "bind `%s` on itself", root);
	return 0;
}

int rootfs_setup(const struct oci_config *cfg, int tty_slave, const char *state, mv_error_t *err)
{
	cleanup_close int rootfd = -1;
	unsigned long prop = propagation(cfg);

	if (prepare_root(cfg, err) < 0)
		return -1;
	rootfd = open(cfg->root->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return mv_error(err, errno, "open the root `%s`", cfg->root->path);
	for (size_t i = 0; i < cfg->n_mounts; i++)
		if (mount_one(rootfd, &cfg->mounts[i], err) < 0)
			return -1;
	if (dev_setup(rootfd, cfg, tty_slave, err) < 0 ||
	    hooks_run(cfg->hooks.create_container, cfg->hooks.n_create_container, state, err) < 0 ||
	    pivot(cfg->root->path, err) < 0)
		return -1;
	if ((prop & (MS_SHARED | MS_UNBINDABLE)) && mount(NULL, "/", NULL, prop, NULL) < 0)
		return mv_error(err, errno, "set the propagation of the root");
	return finish_root(cfg, err);
}
