/* The monitor: one process per container, forked by `mvrun create`.  It is
 * the container's pid for callers, owns the microVM, proxies the
 * container's stdio (the fds it inherited, or a pty handed out over the
 * console socket), forwards the signals it receives to the container
 * process, answers commands on its control socket, and exits with the
 * container's status (the code, or 128+N for signal N). */
#ifndef MV_MONITOR_H
#define MV_MONITOR_H

#include <stdbool.h>

#include "oci/config.h"
#include "runtime/error.h"

/* The control socket in the state directory (SOCK_SEQPACKET).  Requests are
 * one text line each: "start", "signal N", "signal-all N", "pause",
 * "resume"; the answer is "ok" or "error ERRNO MESSAGE". */
#define MONITOR_SOCKET	"ctl"
#define MONITOR_MSG_MAX 4096

struct monitor_opts {
	const char *id;
	const char *bundle;    /* absolute, for the guest's hooks */
	const char *state_dir; /* ROOT/ID, absolute */
	int state_fd;	       /* ROOT/ID (O_DIRECTORY), for state.json */
	const char *rootfs;    /* absolute host path */
	struct oci_config *config;
	const char *console_socket; /* process.terminal: where the pty master goes */
	bool own_terminal;	    /* or, without one, the caller's terminal (attached run) */
	bool verbose;		    /* a kernel that talks on the console */
	const char *cgroup;	    /* the host cgroup to enter (runtime/cgroup.h), or NULL */
	int sync_fd; /* the monitor writes "ok" or "error ERRNO MESSAGE" here once created */
};

/* Run the monitor in the (forked, single-threaded) calling process; never
 * returns: exits with the container's status, or 1 (125 before the
 * container existed) on an error that was reported through sync_fd. */
__attribute__((noreturn)) void monitor_main(const struct monitor_opts *o);

/* Send one request to the monitor of the container in state_dir and wait
 * for its answer; an "error" answer becomes err. */
int monitor_request(int state_fd, const char *request, mv_error_t *err);

/* Encode and decode the sync / answer lines. */
void monitor_format_error(char *buf, size_t size, const mv_error_t *err);
int monitor_parse_answer(const char *buf, size_t len, mv_error_t *err);

#endif
