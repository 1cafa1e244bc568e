/* --pid-file: the pid a caller (containerd, podman's conmon) reads to
 * follow the container. */
#ifndef MV_PIDFILE_H
#define MV_PIDFILE_H

#include <sys/types.h>

#include "runtime/error.h"

/* Write pid as decimal digits (no newline, as runc) to path, relative to the
 * cwd unless absolute: through a temporary file in the same directory
 * renamed over path, so a reader sees the old file or the whole new one.
 * Errors name path. */
int pidfile_write(const char *path, pid_t pid, mv_error_t *err);

#endif
