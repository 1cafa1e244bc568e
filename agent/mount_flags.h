/* mount(2) flags in groups, for MOUNT requests (mount.c) and the
 * container's mounts (rootfs.c). */
#ifndef MV_AGENT_MOUNT_FLAGS_H
#define MV_AGENT_MOUNT_FLAGS_H

#include <sys/mount.h>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256 /* Linux 5.10; older C libraries lack it */
#endif

/* Flags of the mount point rather than the filesystem: a new bind mount
 * ignores them, a remount of the bind sets them. */
#define PER_MOUNT_FLAGS                                                                            \
	(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW | MS_NOATIME |              \
	 MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)
/* Given any of these, mount(2) changes the propagation and ignores the rest. */
#define PROPAGATION_FLAGS (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

#endif
