/* The host <-> agent protocol over virtio-vsock, shared by both sides.
 * Documented in docs/protocol.md; bump MV_PROTOCOL_VERSION on any change.
 *
 * Connections:
 * - READY: once the agent listens, it connects to the host (CID 2) port
 *   MV_PORT_READY and sends one MV_MSG_READY; the host then knows the guest
 *   is up without polling.
 * - The agent listens on MV_PORT_AGENT.  Every connection the host opens
 *   there starts with MV_MSG_HELLO naming its kind; the agent answers
 *   MV_MSG_OK or MV_MSG_ERROR.  A CONTROL connection then carries messages;
 *   a STDIN/STDOUT/STDERR connection is a raw byte stream of one process,
 *   end-of-file (shutdown) included.
 *
 * Every message is a struct mv_msg_hdr followed by hdr.len payload bytes.
 * Integers are little-endian (both sides are x86-64).
 *
 * On a CONTROL connection (docs/protocol.md has the sequences):
 * - each request gets exactly one answer, in order: RUN, EXEC -> CREATED
 *   or ERROR; MOUNT, CONTAINER, SIGNAL, START, RESIZE -> OK or ERROR;
 *   anything else -> ERROR.  POWEROFF gets none: the connection (and the
 *   VM) ending is its answer.
 * - for each process: CREATED; with MV_EXEC_DEFER, PREPARED once it is set
 *   up and waits for START; STARTED once the streams asked for are
 *   connected (and START came) and exec succeeded; EXITED once it was
 *   reaped and its stdout/stderr streams ended.  A process that could not
 *   start gets, instead of PREPARED or STARTED, an ERROR immediately
 *   followed by its EXITED (exit code MV_EXIT_NOT_FOUND or
 *   MV_EXIT_CANNOT_RUN).
 * - between CREATED and that PREPARED/STARTED-or-ERROR, and between a
 *   START and its process's STARTED-or-ERROR, the host sends no other
 *   request on the connection, so an ERROR is never ambiguous.
 * - closing a CONTROL connection SIGKILLs the processes it ran. */
#ifndef MV_PROTOCOL_H
#define MV_PROTOCOL_H

#include <stdint.h>

#define MV_PROTOCOL_VERSION 2
#define MV_PORT_READY	    1024       /* host side: the agent says it is up */
#define MV_PORT_AGENT	    1025       /* guest side: the agent listens */
#define MV_MSG_MAX	    (1u << 20) /* largest payload either side accepts */

enum mv_msg_type {
	MV_MSG_READY = 1,     /* agent -> host on MV_PORT_READY: struct mv_msg_ready */
	MV_MSG_HELLO = 2,     /* host -> agent, first on a connection: struct mv_msg_hello */
	MV_MSG_OK = 3,	      /* agent -> host: the HELLO or request was accepted, no payload */
	MV_MSG_ERROR = 4,     /* agent -> host: struct mv_msg_error + message text */
	MV_MSG_RUN = 5,	      /* host -> agent: struct mv_msg_run + strings */
	MV_MSG_CREATED = 6,   /* agent -> host: struct mv_msg_proc; connect the streams now */
	MV_MSG_STARTED = 7,   /* agent -> host: struct mv_msg_started */
	MV_MSG_SIGNAL = 8,    /* host -> agent: struct mv_msg_signal */
	MV_MSG_EXITED = 9,    /* agent -> host: struct mv_msg_exited */
	MV_MSG_POWEROFF = 10, /* host -> agent: sync and power the VM off */
	MV_MSG_MOUNT = 11,    /* host -> agent: struct mv_msg_mount + strings; OK or ERROR (v1) */
	/* v2: OCI containers */
	MV_MSG_CONTAINER = 12, /* host -> agent: the config JSON; OK or ERROR */
	MV_MSG_EXEC = 13,      /* host -> agent: struct mv_msg_exec + process JSON; CREATED */
	MV_MSG_PREPARED = 14,  /* agent -> host: struct mv_msg_started; waits for START */
	MV_MSG_START = 15,     /* host -> agent: struct mv_msg_proc; OK or ERROR */
	MV_MSG_RESIZE = 16,    /* host -> agent: struct mv_msg_resize; OK or ERROR */
};

struct mv_msg_hdr {
	uint32_t type;
	uint32_t len; /* payload bytes that follow, at most MV_MSG_MAX */
};

struct mv_msg_ready {
	uint32_t version;
};

enum mv_conn_kind {
	MV_CONN_CONTROL = 1,
	MV_CONN_STDIN = 2,  /* host writes, the process reads; shutdown = EOF */
	MV_CONN_STDOUT = 3, /* the process writes, the host reads */
	MV_CONN_STDERR = 4,
};

struct mv_msg_hello {
	uint32_t version;
	uint32_t kind;	  /* enum mv_conn_kind */
	uint64_t proc_id; /* for the stream kinds: from MV_MSG_CREATED */
};

struct mv_msg_error {
	int32_t err; /* errno */
		     /* followed by the message text, not NUL-terminated */
};

/* Which streams the process gets; one without a stream reads /dev/null or
 * writes to /dev/null. */
#define MV_RUN_STDIN  (1u << 0)
#define MV_RUN_STDOUT (1u << 1)
#define MV_RUN_STDERR (1u << 2)
/* v1: a `root` string follows `cwd`; the process runs with that directory as
 * its root (chroot) and cwd relative to it. */
#define MV_RUN_ROOT (1u << 3)

struct mv_msg_run {
	uint32_t flags; /* MV_RUN_* */
	uint32_t uid;
	uint32_t gid;
	uint32_t argc; /* at least 1 */
	uint32_t envc;
	/* followed by NUL-terminated strings: cwd, [root,] argv[0..argc), env[0..envc) */
};

/* v1: mount(2) in the guest.  The agent creates a missing target first:
 * a directory, or with MV_MOUNT_FILE an empty file (for bind-mounting one
 * file).  Strings may be empty (no source, no data). */
#define MV_MOUNT_FILE (1u << 0)

struct mv_msg_mount {
	uint64_t flags;	  /* MS_* flags for mount(2): MS_RDONLY, MS_BIND, MS_REC, MS_NOSUID... */
	uint32_t options; /* MV_MOUNT_* */
	uint32_t reserved;
	/* followed by NUL-terminated strings: source, target, fstype, data */
};

/* CONTAINER's config carries, as annotations the guest takes out again, what
 * only the host knows: the container's id and bundle, for the state that
 * in-guest hooks read. */
#define MV_ANNOTATION_ID     "run.mvrun.id"
#define MV_ANNOTATION_BUNDLE "run.mvrun.bundle"

/* v2: EXEC runs a process of the container (CONTAINER first) from an OCI
 * process object (JSON, the rest of the payload).  flags: the MV_RUN_*
 * streams (with process.terminal: STDIN and STDOUT are the pty, STDOUT is
 * required and STDERR refused) and: */
#define MV_EXEC_INIT  (1u << 4) /* the container's first process: namespaces, rootfs */
#define MV_EXEC_DEFER (1u << 5) /* set up, PREPARED, exec only on START */

struct mv_msg_exec {
	uint32_t flags; /* MV_RUN_STDIN/STDOUT/STDERR, MV_EXEC_* */
	uint32_t reserved;
	/* followed by the process JSON, not NUL-terminated, at least 1 byte */
};

struct mv_msg_proc {
	uint64_t proc_id;
};

/* v2: the window size of a process's terminal; the kernel sends SIGWINCH. */
struct mv_msg_resize {
	uint64_t proc_id;
	uint16_t rows;
	uint16_t cols;
	uint32_t reserved;
};

struct mv_msg_started {
	uint64_t proc_id;
	uint32_t pid; /* in the guest */
	uint32_t reserved;
};

/* v2: SIGNAL flags.  MV_SIGNAL_ALL: every process of the container
 * (proc_id is ignored), as `kill --all`. */
#define MV_SIGNAL_ALL (1u << 0)

struct mv_msg_signal {
	uint64_t proc_id;
	uint32_t signo;
	uint32_t flags; /* v2: MV_SIGNAL_*; was reserved (0) in v1 */
};

struct mv_msg_exited {
	uint64_t proc_id;
	int32_t status; /* the wait status: WIFEXITED/WEXITSTATUS, WIFSIGNALED/WTERMSIG */
	uint32_t reserved;
};

/* Exit codes in the EXITED that follows a start failure, as a shell uses
 * them: the program was not found (exec failed with ENOENT), or it could
 * not be run (any other exec error, or chdir, setuid... failed). */
#define MV_EXIT_NOT_FOUND  127
#define MV_EXIT_CANNOT_RUN 126

#endif
