/* Small I/O helpers shared by the runtime and the CLI. */
#ifndef MV_IO_H
#define MV_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Write all len bytes of buf to fd, retrying short writes and EINTR.
 * Returns 0, or -1 with errno set. */
int io_write_all(int fd, const void *buf, size_t len);

/* mkdir -p with mode for each directory it makes.  *made (may be NULL):
 * whether the last one was made here.  Returns 0, or -1 with errno set. */
int io_mkdir_p(const char *path, mode_t mode, bool *made);

#endif
