/* PID 1's setup of the guest before it serves the host: the kernel's
 * filesystems, the console, /dev links, the hostname and loopback. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/layout.h"

#define HOSTNAME "mvrun"

struct mount_entry {
	const char *source, *target, *type;
	unsigned long flags;
	const char *data;
};

/* /dev first: the console is on it */
static const struct mount_entry mounts[] = {
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
    {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
};

struct link_entry {
	const char *target, *path;
};

static const struct link_entry links[] = {
    {"/proc/self/fd", "/dev/fd"},
    {"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"},
    {"/proc/self/fd/2", "/dev/stderr"},
};

static int mount_one(const struct mount_entry *m, mv_error_t *err)
{
	if (mkdir(m->target, 0755) < 0 && errno != EEXIST)
		return mv_error(err, errno, "mkdir `%s`", m->target);
	/* EBUSY: the kernel mounted it already (CONFIG_DEVTMPFS_MOUNT) */
	if (mount(m->source, m->target, m->type, m->flags, m->data) < 0 && errno != EBUSY)
		return mv_error(err, errno, "mount %s on `%s`", m->type, m->target);
	return 0;
}

int system_mount_all(mv_error_t *err)
{
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
		if (mount_one(&mounts[i], err) < 0)
			return -1;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i].target, links[i].path) < 0 && errno != EEXIST)
			return mv_error(err, errno, "symlink `%s`", links[i].path);
	return 0;
}

/* fds 0-2 on /dev/console: where the agent reports, and what keeps every
 * other fd it opens above 2. */
int system_console(mv_error_t *err)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd < 0)
		return mv_error(err, errno, "open `/dev/console`");
	for (int i = 0; i < 3; i++) {
		if (fd != i && dup2(fd, i) < 0) {
			close(fd);
			return mv_error(err, errno, "dup2 /dev/console");
		}
	}
	if (fd > 2)
		close(fd);
	return 0;
}

static int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

/* Neither is worth stopping the guest for. */
void system_hostname_and_loopback(void)
{
	if (sethostname(HOSTNAME, strlen(HOSTNAME)) < 0)
		agent_log("sethostname: %s", strerror(errno));
	if (loopback_up() < 0)
		agent_log("bring up `lo`: %s", strerror(errno));
}

/* One byte on an I/O port the VMM watches, as Firecracker's boot timer
 * does: the cheapest signal there is, before any device is set up.  Under
 * another VMM the port is absent and the write goes nowhere. */
void system_boot_mark(void)
{
	if (ioperm(MV_PORT_BOOT_EVENT, 1, 1) < 0)
		return;
	outb(1, MV_PORT_BOOT_EVENT);
	ioperm(MV_PORT_BOOT_EVENT, 1, 0);
}
