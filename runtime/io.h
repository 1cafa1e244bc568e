/* Small I/O helpers shared by the runtime and the CLI. */
#ifndef MV_IO_H
#define MV_IO_H

#include <stddef.h>

/* Write all len bytes of buf to fd, retrying short writes and EINTR.
 * Returns 0, or -1 with errno set. */
int io_write_all(int fd, const void *buf, size_t len);

#endif
