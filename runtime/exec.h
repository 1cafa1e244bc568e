/* `mvrun exec`: another process in a running container.  Its host side is
 * a process of its own (this one, or with detach a forked one): it talks
 * to the guest's agent directly through the VM's vsock socket in the state
 * directory, proxies the process's stdio, tty and signals, and exits with
 * its status.  When it dies, the agent kills the process (its control
 * connection closed). */
#ifndef MV_EXEC_H
#define MV_EXEC_H

#include <stdbool.h>
#include <sys/types.h>

#include "oci/config.h"
#include "runtime/error.h"

/* ROOT/ID/EXEC_DIR/PID for each exec's host process, for `ps`. */
#define EXEC_DIR "exec"

struct exec_opts {
	const char *root, *id;
	const char *process_file; /* --process: the whole process, or NULL */
	char **args;		  /* without --process: the command, NULL-terminated */
	char **env;		  /* --env: added to the container's, NULL-terminated or NULL */
	const char *cwd;	  /* --cwd or NULL */
	bool has_user;
	uint32_t uid, gid; /* --user */
	bool tty;	   /* --tty (only without --process) */
	const char *console_socket;
	const char *pid_file;
	bool detach;
};

/* Returns 0 with *status the process's exit status (0 when detached), or
 * -1 with err; a process that could not start sets *status to 127 or 126
 * as well. */
int runtime_exec(const struct exec_opts *o, int *status, mv_error_t *err);

/* The host pids of the container's processes: the monitor, then each
 * exec's host process.  *pids malloc'ed. */
int runtime_ps(const char *root, const char *id, pid_t **pids, size_t *n, mv_error_t *err);

#endif
