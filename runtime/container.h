/* The OCI lifecycle on the host: create, start, kill, delete, run.  Each
 * takes the container's lock (runtime/state.h) for what it changes; the
 * container itself lives in its monitor process (runtime/monitor.h). */
#ifndef MV_CONTAINER_H
#define MV_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "runtime/error.h"

struct container_opts {
	const char *root; /* the state root (--root) */
	const char *id;
	const char *bundle;	    /* NULL: the current directory */
	const char *console_socket; /* or NULL */
	const char *pid_file;	    /* or NULL */
	unsigned preserve_fds;	    /* accepted; fds cannot cross into a VM */
	bool verbose;		    /* a kernel that talks on the console (--debug) */
	bool own_terminal;	    /* attached run: a terminal without a console socket is ours */
	bool systemd_cgroup;	    /* linux.cgroupsPath is systemd's slice:prefix:name */
};

/* Boot the container's VM and prepare its process, which waits for start.
 * *pid: the monitor's pid (the container's pid for callers). */
int runtime_create(const struct container_opts *o, pid_t *pid, mv_error_t *err);

int runtime_start(const char *root, const char *id, mv_error_t *err);

/* Signal the container process (all: every process in the container). */
int runtime_kill(const char *root, const char *id, int signo, bool all, mv_error_t *err);

/* Remove a created or stopped container (force: any, killing it first; an
 * unknown id is then no error). */
int runtime_delete(const char *root, const char *id, bool force, mv_error_t *err);

/* create + start; unless detach, wait for the container to end, forwarding
 * signals, and set *status to its exit status (then delete it unless keep). */
int runtime_run(const struct container_opts *o, bool detach, bool keep, int *status,
		mv_error_t *err);

/* Stop (pause) or restart the container's vCPUs. */
int runtime_pause(const char *root, const char *id, bool pause, mv_error_t *err);

/* What `update` may change: nothing that sizes the VM (runtime/resources.h);
 * an update that would change its size is refused. */
struct oci_resources;
int runtime_update(const char *root, const char *id, const struct oci_resources *res,
		   mv_error_t *err);

#endif
