/* Signal names and numbers as `kill` takes them.  The numbers are those of
 * the guest, an x86-64 Linux, whatever libc the container uses: RTMIN is 34,
 * glibc's and Docker's, and RTMAX 64. */
#ifndef MV_SIGNAL_H
#define MV_SIGNAL_H

#include "runtime/error.h"

#define SIGNAL_MAX   64
#define SIGNAL_RTMIN 34

/* "9", "KILL", "SIGKILL", "kill", "SigKill", "RTMIN", "RTMIN+3", "SIGRTMAX-2":
 * *signo in 1..64; anything else (0, a sign, spaces, an unknown name) is
 * EINVAL "invalid signal `X`". */
int signal_parse(const char *s, int *signo, mv_error_t *err);

/* "SIGTERM", "SIGRTMIN+2", "SIGRTMAX"; NULL for a number without a name
 * (0, 32, 33, out of range). */
const char *signal_name(int signo);

/* For a process that passes every signal on (the monitor, an exec's host
 * side): block all but SIGKILL, SIGSTOP, SIGCHLD and the faults, ignore
 * SIGPIPE, and return a signalfd (O_NONBLOCK) that reads them. */
int signal_take_all(mv_error_t *err);

#endif
