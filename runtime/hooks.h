/* OCI hooks (prestart, createRuntime, poststop...) run on the host by the
 * runtime, with the container's state JSON on stdin. */
#ifndef MV_HOOKS_H
#define MV_HOOKS_H

#include <stddef.h>

#include "oci/config.h"
#include "runtime/error.h"

/* Longest part of a failed hook's output quoted in its error. */
#define HOOKS_MSG_MAX 200

/* Run the hooks of one stage in order, as the runtime spec says: each with
 * its path, its args (args[0] is argv[0]; none: argv is {path}), its env
 * exactly as given (none: an empty environment), state_json on stdin (NULL:
 * empty), and its timeout (seconds, enforced with SIGKILL).  The hook keeps
 * our cwd and fds 0-2 only, with default signal dispositions and an empty
 * signal mask.  Its stdout and stderr are collected, never forwarded: they
 * only feed the error message.  stage names the stage in errors
 * ("prestart").  Returns 0, or -1 with err at the first hook that cannot be
 * started, exits non-zero, is killed or times out:
 *   "`prestart` hook `/path`: exit status 3: <its stderr, cleaned, cut>"
 *   "`prestart` hook `/path`: timed out after 5 s"
 *   "`prestart` hook `/path`: killed by signal 9"
 * Safe to call from a program with threads and with its own SIGCHLD handler
 * as long as that handler does not reap children it did not start. */
int hooks_run(const struct oci_hook *hooks, size_t n, const char *stage, const char *state_json,
	      mv_error_t *err);

#endif
