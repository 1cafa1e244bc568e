/* The host's side of the agent protocol (agent/protocol.h,
 * docs/protocol.md): connections to the agent, framing, and the requests.
 *
 * All fds are blocking and O_CLOEXEC; call agent_recv*() when poll() says
 * the fd is readable.  What the agent sends is untrusted: every message is
 * checked (sizes, the MV_MSG_MAX limit), and its error texts are cleaned
 * of control characters before they reach an mv_error. */
#ifndef MV_AGENT_CLIENT_H
#define MV_AGENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/protocol.h"
#include "runtime/error.h"

/* Where the agent is: the VMM's hybrid vsock Unix socket (hybrid: write
 * "CONNECT <port>\n", read "OK <n>\n", then a byte stream to that guest
 * port), or a plain Unix socket the agent listens on (its test mode). */
struct agent_addr {
	const char *uds_path;
	bool hybrid;
};

/* A connected stream to the guest's port (the hybrid handshake done); no
 * HELLO.  Returns the fd.  A guest port nobody listens on fails with
 * ECONNREFUSED. */
int agent_dial(const struct agent_addr *a, uint32_t port, mv_error_t *err);

/* A connection on MV_PORT_AGENT that said HELLO (kind: MV_CONN_*, proc_id
 * for the stream kinds) and got OK.  Returns the fd; after a stream's OK
 * it carries that stream's raw bytes. */
int agent_connect(const struct agent_addr *a, uint32_t kind, uint64_t proc_id, mv_error_t *err);

/* One message.  Refuses len > MV_MSG_MAX (EMSGSIZE). */
int agent_send(int fd, uint32_t type, const void *payload, uint32_t len, mv_error_t *err);

/* One message: returns 1 with *payload malloc'ed (NULL when hdr->len is
 * 0), 0 at end of file before a message began, -1 on error.  A header
 * with len > MV_MSG_MAX fails with EMSGSIZE and leaves the connection
 * unusable. */
int agent_recv(int fd, struct mv_msg_hdr *hdr, void **payload, mv_error_t *err);

/* A message from a CONTROL connection, checked and decoded. */
struct agent_event {
	uint32_t type;	  /* MV_MSG_OK, ERROR, CREATED, PREPARED, STARTED, EXITED */
	uint64_t proc_id; /* CREATED, PREPARED, STARTED, EXITED */
	uint32_t pid;	  /* PREPARED, STARTED: in the guest */
	int status;	  /* EXITED: the wait status */
	mv_error_t error; /* ERROR: the agent's errno and message */
};

/* Returns 1 with *ev filled, 0 when the agent closed the connection, -1 on
 * error (a malformed or unexpected message: EPROTO).  Release ev with
 * agent_event_release(). */
int agent_recv_event(int ctl, struct agent_event *ev, mv_error_t *err);
void agent_event_release(struct agent_event *ev);

/* The exit status a shell would report for a wait status: the exit code,
 * or 128 + the signal number. */
int agent_exit_code(int status);

struct agent_run_req {
	uint32_t flags; /* MV_RUN_STDIN/STDOUT/STDERR: the streams to connect */
	uint32_t uid, gid;
	const char *cwd;	 /* NULL or "": "/"; inside root when there is one */
	const char *root;	 /* NULL or "": none; else the process's root (MV_RUN_ROOT) */
	const char *const *argv; /* NULL-terminated, at least one */
	const char *const *env;	 /* NULL-terminated; NULL for none */
};

/* The RUN payload for req: *payload malloc'ed.  MV_RUN_ROOT is set from
 * root.  Fails with E2BIG over MV_MSG_MAX, EINVAL without argv[0] or with
 * MV_RUN_ROOT in flags but no root. */
int agent_encode_run(const struct agent_run_req *req, void **payload, uint32_t *len,
		     mv_error_t *err);

/* RUN, then wait for CREATED: *proc_id.  An ERROR answer becomes err.
 * Then connect each stream asked for (agent_connect with its kind and
 * proc_id) and call agent_wait_started().  For a control connection where
 * no other process runs: any other message fails with EPROTO. */
int agent_run(int ctl, const struct agent_run_req *req, uint64_t *proc_id, mv_error_t *err);

/* Wait for the process to start: 0 with *pid, or -1 with err: the agent's
 * ERROR when the process could not start (its EXITED, exit code 127 or
 * 126, follows on ctl), or a connection failure. */
int agent_wait_started(int ctl, uint64_t proc_id, uint32_t *pid, mv_error_t *err);

/* The MOUNT payload: *payload malloc'ed.  NULL strings are sent empty.
 * Fails with EINVAL without a target, E2BIG over MV_MSG_MAX. */
int agent_encode_mount(uint64_t flags, uint32_t options, const char *source, const char *target,
		       const char *fstype, const char *data, void **payload, uint32_t *len,
		       mv_error_t *err);

/* MOUNT in the guest, then wait for the answer: mount(2) with flags (MS_*),
 * after the agent created a missing target (a directory, or an empty file
 * with options MV_MOUNT_FILE); a bind mount gets its MS_RDONLY and the
 * other per-mount flags with a remount.  source, fstype, data may be NULL.
 * An ERROR answer becomes err (the agent's errno and text, e.g.
 * "mount `virtiofs` on `/run/mvrun/root`").  As agent_run(): for a control
 * connection where no process is starting or running. */
int agent_mount(int ctl, uint64_t flags, uint32_t options, const char *source, const char *target,
		const char *fstype, const char *data, mv_error_t *err);

/* Requests whose answer comes later through agent_recv_event(): SIGNAL is
 * answered with OK or ERROR; POWEROFF with the end of the connection. */
int agent_signal(int ctl, uint64_t proc_id, int signo, mv_error_t *err);
int agent_poweroff(int ctl, mv_error_t *err);

/* ---- v2: the OCI container ---- */

/* CONTAINER, then wait for OK: json (len bytes, oci_config_to_json's
 * text) with root.path and each bind mount's source rewritten to where
 * the host has MOUNTed them in the guest.  An ERROR becomes err: EINVAL
 * with the parser's text, EEXIST when the VM has a container already.
 * As agent_mount(): for a control connection where no process is
 * starting or running. */
int agent_container(int ctl, const char *json, size_t len, mv_error_t *err);

/* The EXEC payload: *payload malloc'ed.  EINVAL for unknown flags or an
 * empty json, E2BIG over MV_MSG_MAX. */
int agent_encode_exec(uint32_t flags, const char *json, size_t len, void **payload,
		      uint32_t *payload_len, mv_error_t *err);

/* EXEC (process JSON from oci_process_to_json), then wait for CREATED:
 * *proc_id.  flags: MV_RUN_STDIN/STDOUT/STDERR (with process.terminal,
 * STDOUT is required and STDERR refused: the pty is all of them),
 * MV_EXEC_INIT for the container's first process, MV_EXEC_DEFER to have
 * it wait for agent_start().  An ERROR becomes err (ENOENT: no container;
 * ESRCH: its init has exited or not started; EBUSY: a second init;
 * EINVAL: a bad process).  Then connect the streams, as after agent_run(),
 * and call agent_wait_prepared() (DEFER) or agent_wait_started(). */
int agent_exec(int ctl, uint32_t flags, const char *json, size_t len, uint64_t *proc_id,
	       mv_error_t *err);

/* Wait for PREPARED: 0 with *pid (in the guest), or -1 with err: the
 * agent's ERROR when the process could not be set up (its EXITED, exit
 * code 127 for a program not found, 126 otherwise, follows on ctl), or a
 * connection failure. */
int agent_wait_prepared(int ctl, uint64_t proc_id, uint32_t *pid, mv_error_t *err);

/* START a PREPARED process, then wait for OK (ESRCH: no such deferred
 * process, or started already).  ctl may be another control connection
 * than the EXEC's; STARTED, or ERROR and EXITED (a startContainer hook or
 * the exec failed), come on the EXEC's connection: agent_wait_started()
 * there.  On the EXEC's own connection: send nothing else between START
 * and that STARTED. */
int agent_start(int ctl, uint64_t proc_id, mv_error_t *err);

/* RESIZE the process's terminal (rows, cols: 1..65535); the answer, OK or
 * ERROR (ENOTTY: no terminal, ESRCH: not running), comes through
 * agent_recv_event() like SIGNAL's. */
int agent_resize(int ctl, uint64_t proc_id, unsigned rows, unsigned cols, mv_error_t *err);

/* SIGNAL every process of the container (MV_SIGNAL_ALL), as `kill --all`;
 * answered like agent_signal(): ESRCH when the container does not run. */
int agent_signal_all(int ctl, int signo, mv_error_t *err);

/* A listening Unix socket at path (for the READY connection: with hybrid
 * vsock the VMM connects to "<uds_path>_1024" for guest port 1024). */
int agent_listen_unix(const char *path, mv_error_t *err);

/* Accept the agent's READY connection on listen_fd, read its READY and
 * check the version (EPROTONOSUPPORT when it differs).  The connection is
 * closed again. */
int agent_accept_ready(int listen_fd, mv_error_t *err);

#endif
