/* Host cgroups (cgroup v2) for a container's monitor: the process that
 * holds the microVM's guest RAM, vCPU threads and device threads.  podman
 * and containerd pass linux.cgroupsPath and read the container's usage
 * there (podman stats), so the monitor goes into that cgroup, with
 * linux.resources written there as the VM can honour them. */
#ifndef MV_CGROUP_H
#define MV_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oci/config.h"
#include "runtime/error.h"

#define CGROUP_DEFAULT_MOUNT "/sys/fs/cgroup"

/* The monitor's own memory besides the guest RAM, charged to the same
 * cgroup: a fixed part for the binary, thread stacks, the virtio-fs and
 * vsock buffers and KVM's per-vCPU state (a few MiB in practice, 64 to be
 * safe), and a part that grows with the guest: the host page tables and
 * KVM's EPT and rmap for the guest RAM take 8 bytes per 4 KiB page each,
 * about 1/170 of it together; 1/64 leaves room.  memory.max is the guest
 * RAM plus this, so the limit never OOM-kills a VM that stays within its
 * own RAM. */
#define CGROUP_VMM_OVERHEAD_MIB	  64
#define CGROUP_VMM_OVERHEAD_SHIFT 6 /* plus guest RAM >> 6 */

/* The tasks the monitor needs for itself: main thread, event loop, one
 * thread per vCPU (at most 64), virtio-fs workers and I/O proxies.  The
 * container's processes run in the guest, not in this cgroup, so
 * pids.limit is added to this rather than written as is: a limit of 10
 * must not stop an 8-vCPU VM from starting its threads. */
#define CGROUP_MONITOR_TASKS 128

/* Where cgroup2 is mounted.  fake: a plain directory that a test filled
 * with the files a cgroup would have (the statfs check is skipped, written
 * files are truncated first, and remove unlinks the plain files before
 * rmdir, which a real cgroup directory does not need). */
struct cgroup_root {
	const char *mount; /* CGROUP_DEFAULT_MOUNT */
	bool fake;
};

/* The cgroup directory for a container, relative to the root (no leading
 * '/'), in *rel (the caller frees it):
 * - cgroupfs (systemd false): "/a/b" and "a/b" -> "a/b" (a relative path
 *   is taken from the root, as crun does; runc takes it from the parent of
 *   its own cgroup, which depends on where the caller runs); "" ->
 *   "mvrun/<id>", as docker's cgroupfs driver uses "/docker/<id>" (runc's
 *   default, a sibling of the caller's own cgroup, would put VMs inside
 *   whatever service started mvrun);
 * - systemd (--systemd-cgroup): "slice:prefix:name" ->
 *   "<slice path>/<prefix>-<name>.scope", with "a-b.slice" expanded to
 *   "a.slice/a-b.slice", "" slice -> "system.slice" (runc's default as
 *   root), "-.slice" -> the root, "" prefix -> "<name>.scope", a name
 *   ending in ".slice" -> that slice itself (as runc); "" cgroupsPath ->
 *   "system.slice/mvrun-<id>.scope".  mvrun writes the cgroup directory
 *   itself; it does not ask systemd over D-Bus for the scope.
 * Refused, with an error naming linux.cgroupsPath: "." or ".." or empty
 * components, the root itself, a malformed systemd triple or slice name,
 * control characters, a component over 255 bytes or a path over 4095. */
int cgroup_path(const char *cgroups_path, bool systemd, const char *id, char **rel,
		mv_error_t *err);

/* Whether rel (read back from a container's state, say) is such a path;
 * the functions below check it too.  The error names linux.cgroupsPath. */
int cgroup_check_rel(const char *rel, mv_error_t *err);

/* Whether cgroup2 is usable at root->mount (statfs says cgroup2): on a
 * cgroup v1 or hybrid host mvrun goes on without host cgroups. */
bool cgroup_available(const struct cgroup_root *root);

/* Create the cgroup rel (mkdir -p below the root), enable in each
 * ancestor's cgroup.subtree_control those of cpu, cpuset, io, memory and
 * pids that it lists in cgroup.controllers (so usage is accounted even
 * with no limit set), and move pid into it (cgroup.procs).  The caller
 * then calls cgroup_apply. */
int cgroup_enter(const struct cgroup_root *root, const char *rel, pid_t pid, mv_error_t *err);

/* Write res (NULL: nothing) to the cgroup rel; what res does not give is
 * left as it is, so `mvrun update` passes only what changes.  The
 * controllers it needs are enabled first; one that the hierarchy does not
 * offer is an error naming the field.
 * - memory.limit > 0: memory.max = guest_memory_mib + the VMM overhead
 *   (above), in bytes; -1: "max"; 0: not written.  guest_memory_mib is the
 *   VM's RAM (resources_vm_size), required when a limit is given.
 * - memory.reservation: memory.low (-1: "max"); memory.swap (memory plus
 *   swap in OCI, as cgroup v1 had it): memory.swap.max = swap - limit, as
 *   runc converts it ("max" for -1, or when limit is -1 and swap unset);
 *   a missing memory.swap.max (no swap accounting) is ignored for "max"
 *   and 0.
 * - cpu.quota/period: cpu.max "<quota> <period>", "max <period>" for a
 *   quota of -1 or none, the period left out when not given; cpu.shares:
 *   cpu.weight = 1 + ((shares - 2) * 9999) / 262142 (runc's conversion,
 *   shares clamped to cgroup v1's 2..262144); cpu.cpus/mems: cpuset.cpus
 *   and cpuset.mems.
 * - pids.limit > 0: pids.max = limit + CGROUP_MONITOR_TASKS; <= 0: "max".
 * - unified: each key is a file of the cgroup, written last (it wins over
 *   the fields above), one write per line.  Refused: a key that is not a
 *   file name of the form CONTROLLER.PARAMETER, one of the cgroup.* files
 *   that place or kill processes (only cgroup.max.depth and
 *   cgroup.max.descendants are allowed), a file the cgroup does not have. */
int cgroup_apply(const struct cgroup_root *root, const char *rel, const struct oci_resources *res,
		 uint64_t guest_memory_mib, mv_error_t *err);

/* Remove the cgroup rel, and any child cgroups in it: processes still in
 * it are killed (cgroup.kill, or SIGKILL to each pid in cgroup.procs on
 * kernels before 5.14), waited for at most a second, then the directory is
 * removed.  Only rel's last component goes: its parents (a slice, the
 * "mvrun" directory) may hold other containers.  A cgroup that is already
 * gone is success (delete is idempotent); one that holds the calling
 * process is refused. */
int cgroup_remove(const struct cgroup_root *root, const char *rel, mv_error_t *err);

#endif
