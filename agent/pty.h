/* A pseudo-terminal in the guest for process.terminal: the agent keeps the
 * master and copies it to and from the host; the process gets the slave as
 * its controlling terminal and its stdin, stdout and stderr. */
#ifndef MV_AGENT_PTY_H
#define MV_AGENT_PTY_H

#include "runtime/error.h"

/* A new pair, both ends O_CLOEXEC and O_NOCTTY, the window rows x cols
 * (0 x 0: unknown, as the kernel starts it).  Needs /dev/ptmx and a devpts
 * mounted on /dev/pts. */
int pty_open(int *master, int *slave, unsigned rows, unsigned cols, mv_error_t *err);

/* The slave's path ("/dev/pts/3"), malloc'ed: to bind it on the
 * container's /dev/console. */
char *pty_slave_name(int master, mv_error_t *err);

/* In the child, after the caller's setsid(): slave becomes the controlling
 * terminal and fds 0, 1 and 2; slave itself is closed when above 2. */
int pty_attach(int slave, mv_error_t *err);

/* Set the window size; the kernel sends SIGWINCH to the foreground group. */
int pty_resize(int master, unsigned rows, unsigned cols, mv_error_t *err);

#endif
