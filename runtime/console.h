/* The terminal of a container whose process.terminal is true: a pty pair on
 * the host whose master is handed to the caller over --console-socket (as
 * runc does) while the slave carries the bytes to and from the guest's own
 * terminal. */
#ifndef MV_CONSOLE_H
#define MV_CONSOLE_H

#include "runtime/error.h"

/* Longest name sent with the fd; runc's receivers read at most 4096 bytes. */
#define CONSOLE_NAME_MAX 4095

/* A new pty pair: *master (O_CLOEXEC, O_NOCTTY), *slave (O_CLOEXEC,
 * O_NOCTTY) in raw mode -- the guest's terminal does the line discipline,
 * a second one here would echo and translate twice -- and *name the slave's
 * path ("/dev/pts/N", the caller frees it).  The window size is set when
 * rows and cols are both non-zero. */
int console_open(int *master, int *slave, char **name, unsigned rows, unsigned cols,
		 mv_error_t *err);

/* Send fd to the Unix socket at socket_path as runc does: connect
 * (SOCK_STREAM), then one sendmsg with fd in SCM_RIGHTS and name (without
 * its NUL) as the data.  runc sends the master with the name "/dev/ptmx".
 * A path longer than sun_path is reached through its directory.  Errors
 * name the path: "connect to console socket `P`". */
int console_send(const char *socket_path, int fd, const char *name, mv_error_t *err);

/* Receive what console_send sent, from a connected socket: exactly one fd
 * (O_CLOEXEC) and its name (the caller frees it). */
int console_recv(int sock, int *fd, char **name, mv_error_t *err);

int console_get_size(int fd, unsigned *rows, unsigned *cols, mv_error_t *err);
int console_set_size(int fd, unsigned rows, unsigned cols, mv_error_t *err);

#endif
