/* One microVM and the host's connection to its agent, shared by
 * `mvrun vm run` (runtime/vmrun.c) and the container monitor
 * (runtime/monitor.c): the sockets' directory, the sandbox, booting, the
 * agent's READY and the control connection, powering off. */
#ifndef MV_VMSESSION_H
#define MV_VMSESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/agent_client.h"
#include "runtime/error.h"
#include "runtime/vmrun.h"
#include "vmm/vm.h"

#define VM_SESSION_MAX_SHARES (1 + VM_RUN_MAX_VOLUMES)

/* Where the agent mounts the shares in the guest. */
#define GUEST_ROOT    "/run/mvrun/root"
#define GUEST_VOLUMES "/run/mvrun/volumes"

struct vm_session {
	const struct vm_run_opts *o;
	char dir[4096]; /* the directory of the sockets */
	bool own_dir;	/* dir was made here (and is removed at the end) */
	char vsock[128];
	char ready[140]; /* <vsock>_1024 */
	int dir_fd;	 /* dir (O_PATH): socket paths go through /proc/self/fd */
	int tmp_fd;	 /* own_dir: its parent (O_PATH), dir is removed through it */
	struct agent_addr addr;
	struct vm *vm;
	int console_fd, ready_fd, sig_fd, ctl;
	struct virtiofs_share shares[VM_SESSION_MAX_SHARES];
	char tags[VM_RUN_MAX_VOLUMES][16];
};

/* Fields to -1/empty; call before anything else. */
void vm_session_init(struct vm_session *s, const struct vm_run_opts *o);

/* The sockets' directory: a new one in $TMPDIR when dir is NULL, else dir
 * (which must exist; its socket names are short, and reached through
 * /proc/self/fd so that a long dir path does not matter). */
int vm_session_dir(struct vm_session *s, const char *dir, mv_error_t *err);

/* Build and start the VM in a sandbox (runtime/sandbox.h), wait for the
 * agent's READY (s->sig_fd, when >= 0, is watched: SIGINT, SIGTERM, SIGHUP
 * or SIGQUIT abort with 128+N as the return value), then open the control
 * connection s->ctl.  Returns 0, 128+N, or -1 with err. */
int vm_session_boot(struct vm_session *s, mv_error_t *err);

/* The error to report when the VM ended unexpectedly: a kernel panic, a
 * reset or power-off with the console's last line. */
int vm_session_ended_error(struct vm_session *s, const char *when, mv_error_t *err);

/* The next signal from s->sig_fd, 0 when none. */
int vm_session_signal(struct vm_session *s);

/* Ask the agent to power off and wait a little for the VM's end. */
void vm_session_power_off(struct vm_session *s);

/* Stop the VM, close everything, remove the sockets (and an own dir). */
void vm_session_release(struct vm_session *s);

#endif
