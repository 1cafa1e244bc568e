/* mvrun-agent internals.  One thread, one epoll set: every fd the agent
 * watches is a struct watch, and the loop takes one event per epoll_wait,
 * so a handler may free any object (its own included) without leaving a
 * stale pointer in a batch of pending events.
 *
 * Objects: the listener; connections before their HELLO and CONTROL
 * connections (conn.c); processes (process.c), each with up to three
 * streams that copy between a pipe and a stream connection (stream.c). */
#ifndef MV_AGENT_H
#define MV_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/protocol.h"
#include "agent/run_msg.h"
#include "oci/config.h"
#include "runtime/error.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct agent;

struct watch {
	int fd;		 /* -1: closed */
	uint32_t events; /* the interest registered in epoll; 0: not registered */
	void (*fn)(struct agent *a, struct watch *w, uint32_t events);
};

/* Register, change or drop (events 0) the interest in w->fd. */
int watch_set(struct agent *a, struct watch *w, uint32_t events);
/* Drop w from epoll and close its fd; nothing when it is closed already. */
void watch_close(struct agent *a, struct watch *w);

struct agent {
	int epfd;
	bool test_mode;		 /* --listen-unix: no guest setup, no poweroff */
	int mount_ns_err;	 /* test mode: why there is no private mount namespace */
	const char *listen_path; /* test mode: removed on exit */
	struct watch listener;
	struct watch signals; /* signalfd: SIGCHLD (and SIGTERM/SIGINT in test mode) */
	struct conn *conns;
	struct proc *procs;
	unsigned nprocs;
	uint64_t next_proc_id;
	struct container *container; /* CONTAINER: at most one per VM; NULL before */
};

/* agent.c */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Kill what is left and end: power off (PID 1) or exit 0 (test mode). */
__attribute__((noreturn)) void agent_poweroff(struct agent *a);
/* Report on the console and end the same way, with exit status 1 in test mode. */
__attribute__((noreturn, format(printf, 2, 3))) void agent_fatal(struct agent *a, const char *fmt,
								 ...);

/* system.c, modules.c: PID 1's setup of the guest */
int system_mount_all(mv_error_t *err);
int system_console(mv_error_t *err);
void system_hostname_and_loopback(void);
/* The boot timer's mark: tells the VMM that the guest's init runs now. */
void system_boot_mark(void);
int modules_load(const char *dir, mv_error_t *err);

/* mount.c: MOUNT requests */
void mount_request(struct agent *a, struct conn *ctl, const void *payload, uint32_t len);
/* Test mode: a private mount namespace for the agent and what it runs.
 * Returns 0 or the errno of the failure. */
int mount_private_namespace(void);

/* ---- connections: conn.c ---- */

/* A message being read: the header, then its payload. */
struct msg_in {
	struct mv_msg_hdr hdr;
	size_t got; /* bytes of header + payload read so far */
	char *payload;
};

/* Bytes queued for a connection. */
struct out_buf {
	char *data;
	size_t off, len, cap;
};

struct conn {
	struct watch w;
	uint32_t kind; /* 0 until its HELLO; then MV_CONN_CONTROL */
	struct msg_in in;
	struct out_buf out;
	bool closing; /* close once out is flushed */
	bool broken;  /* a message could not be queued: close it */
	struct conn *next;
};

void conn_accept(struct agent *a, struct watch *w, uint32_t events);
/* Queue a message; a connection that cannot take it is closed later. */
void conn_send(struct agent *a, struct conn *c, uint32_t type, const void *payload, uint32_t len);
void conn_send_error(struct agent *a, struct conn *c, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void conn_send_mv_error(struct agent *a, struct conn *c, const mv_error_t *err);
/* Answer a request: OK when err holds no error, else its ERROR; releases
 * err. */
void conn_answer(struct agent *a, struct conn *c, mv_error_t *err);

/* ---- streams: stream.c ---- */

#define STREAM_BUF (64 * 1024)

/* One of a process's stdin/stdout/stderr: bytes from a source to a sink
 * through a bounded buffer.  stdin: connection -> pipe; stdout, stderr:
 * pipe -> connection. */
struct stream {
	struct watch sock; /* the host's stream connection */
	struct watch pipe; /* the agent's end of the process's pipe */
	uint32_t kind;	   /* MV_CONN_STDIN/STDOUT/STDERR */
	struct proc *proc;
	char *buf;
	size_t off, len;
	bool src_eof;	   /* nothing more comes from the source */
	bool draining;	   /* the process was reaped: read only drain_left more */
	size_t drain_left; /* bytes in the pipe when the process was reaped */
	bool pty;	   /* pipe is a pty master: its end of file is EIO */
};

void stream_init(struct stream *s, struct proc *p, uint32_t kind);
/* Take over a connection that said HELLO for this stream. */
int stream_attach(struct agent *a, struct stream *s, int fd, mv_error_t *err);
/* The process runs: copy between pipe_fd (the agent's end) and the connection. */
void stream_start(struct agent *a, struct stream *s, int pipe_fd);
/* The process was reaped: stdin ends; stdout/stderr forward only what is
 * in their pipe now, then end. */
void stream_process_reaped(struct agent *a, struct stream *s);
bool stream_done(const struct stream *s);
void stream_release(struct agent *a, struct stream *s);

/* ---- processes: process.c, child.c ---- */

enum proc_state {
	PROC_CREATED, /* waiting for its streams */
	PROC_RUNNING, /* forked; exec_report open until exec succeeds or fails */
	PROC_REAPED,  /* waited for; forwarding the rest of its output */
};

/* What the child writes to exec_report: PREPARED (MV_EXEC_DEFER), or why
 * it cannot run the program, then exits.  A header and len bytes of text
 * (the error message; none: the agent words it from the stage), written
 * with one write(2) of at most PIPE_BUF bytes, so the agent never sees
 * half of one. */
struct exec_failure {
	uint32_t kind; /* REPORT_* */
	int32_t err;
	uint32_t stage; /* enum exec_stage */
	uint32_t len;	/* text bytes that follow, at most REPORT_TEXT_MAX */
};

#define REPORT_FAILED	1
#define REPORT_PREPARED 2
#define REPORT_TEXT_MAX 2048

enum exec_stage {
	STAGE_STDIO,
	STAGE_SETSID,
	STAGE_CHROOT,
	STAGE_SETGROUPS,
	STAGE_SETGID,
	STAGE_SETUID,
	STAGE_CHDIR,
	STAGE_EXEC,
	STAGE_CONTAINER, /* EXEC: namespaces, rootfs, hooks, the process's settings */
};

#define AGENT_MAX_PROCS 4096

struct proc {
	uint64_t id;
	enum proc_state state;
	pid_t pid;
	int status;		  /* wait status once reaped */
	struct conn *ctl;	  /* the CONTROL connection that ran it; NULL once closed */
	struct watch exec_report; /* CLOEXEC pipe from the child: EOF = exec succeeded */
	bool start_reported;	  /* STARTED sent, or the failure recorded */
	bool exec_failed;
	struct exec_failure failure;
	char *failure_text;	  /* from the child's report; NULL: word it from the stage */
	uint32_t flags;		  /* the streams (MV_RUN_STDIN...) and MV_EXEC_* */
	void *payload;		  /* RUN: the payload run points into */
	struct run_msg run;	  /* RUN */
	struct oci_process *oci;  /* EXEC: the process; NULL for RUN */
	bool in_container;	  /* EXEC: killed when the container's init ends */
	int start_fd;		  /* MV_EXEC_DEFER: write a byte to let it exec; else -1 */
	int pty_master;		  /* process.terminal: for RESIZE; else -1 */
	struct stream streams[3]; /* stdin, stdout, stderr */
	struct proc *next;
};

/* CONTROL requests */
void proc_run(struct agent *a, struct conn *ctl, void *payload, uint32_t len);
void proc_exec(struct agent *a, struct conn *ctl, const void *payload, uint32_t len);
void proc_signal(struct agent *a, struct conn *ctl, const void *payload, uint32_t len);
void proc_start_request(struct agent *a, struct conn *ctl, const void *payload, uint32_t len);
void proc_resize(struct agent *a, struct conn *ctl, const void *payload, uint32_t len);
/* HELLO for a stream: returns 0 once the connection belongs to the process
 * (after queueing OK on it), -1 with err when it does not. */
int proc_attach(struct agent *a, int fd, const struct mv_msg_hello *hello, mv_error_t *err);
/* The CONTROL connection closed: kill what it started. */
void proc_control_closed(struct agent *a, struct conn *ctl);
/* SIGCHLD: reap every child, ours and orphans. */
void proc_reap(struct agent *a);
/* A stream finished: the process may be done. */
void proc_check_done(struct agent *a, struct proc *p);
/* Poweroff: SIGKILL every process still running. */
void proc_kill_all(struct agent *a);
/* SIGKILL the process and its process group. */
void proc_kill(struct proc *p);

/* child.c: runs in the forked child, never returns. */
__attribute__((noreturn)) void child_exec(const struct run_msg *run, const int stdio[3],
					  int report_fd);
char *exec_failure_message(const struct proc *p);

/* What an EXEC's child needs: everything is the agent's copy, read-only. */
struct child_args {
	const struct oci_process *process;
	const struct oci_config *config;
	bool init;	/* MV_EXEC_INIT: namespaces from the config, the rootfs */
	pid_t init_pid; /* else: join the namespaces of this process */
	int stdio[3];	/* the pipes, -1 for /dev/null (no terminal) */
	int tty_slave;	/* process.terminal: the pty's slave; else -1 */
	int report_fd;	/* the exec report pipe */
	int start_fd;	/* MV_EXEC_DEFER: read a byte before exec; else -1 */
	int sync_fd;	/* a new user namespace: read a byte once it is mapped; else -1 */
	uint64_t proc_id;
};

/* The EXEC child, after the agent's clone(): never returns. */
__attribute__((noreturn)) void child_container(const struct child_args *c);
/* Report a failure on the exec report pipe and _exit (127 for ENOENT at
 * STAGE_EXEC, else 126). */
__attribute__((noreturn)) void child_report_failure(int report_fd, enum exec_stage stage,
						    const mv_error_t *err);

/* ---- the container: container.c, rootfs.c ---- */

struct container {
	struct oci_config *config;
	struct proc *init; /* the running init; NULL before and after */
	pid_t init_pid;	   /* 0 until the init was forked */
	bool init_ended;   /* the init was reaped (or failed to start) */
	bool own_pid_ns;   /* the init has a pid namespace of its own */
	dev_t pid_ns_dev;  /* that namespace, for MV_SIGNAL_ALL */
	ino_t pid_ns_ino;
};

/* CONTAINER request. */
void container_request(struct agent *a, struct conn *ctl, const void *payload, uint32_t len);
/* Can an EXEC with these flags run now?  0, or -1 with err. */
int container_check_exec(struct agent *a, uint32_t flags, mv_error_t *err);
/* Fork the EXEC's child into the container (new namespaces for the init,
 * the init's for the others).  Returns the pid in the agent's namespace. */
pid_t container_fork(struct agent *a, struct proc *p, struct child_args *c, mv_error_t *err);
/* The process p (an EXEC) was reaped. */
void container_proc_reaped(struct agent *a, struct proc *p);
/* SIGNAL with MV_SIGNAL_ALL. */
int container_signal_all(struct agent *a, int signo, mv_error_t *err);

/* rootfs.c, in the init's child: the mounts, /dev, pivot_root, masked
 * and read-only paths, sysctl, hostname; createContainer hooks run
 * before pivot_root with state on their stdin.  tty_slave: bound on
 * /dev/console when >= 0. */
int rootfs_setup(const struct oci_config *config, int tty_slave, const char *state,
		 mv_error_t *err);
/* Run hooks in order; the first that fails fails it all (its path in err). */
int hooks_run(const struct oci_hook *hooks, size_t n, const char *state, mv_error_t *err);

#endif
