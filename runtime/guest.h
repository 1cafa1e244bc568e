/* The guest side of a microVM: where the default kernel and initramfs are,
 * and the kernel command line. */
#ifndef MV_GUEST_H
#define MV_GUEST_H

#include <stdbool.h>

#include "runtime/error.h"

/* The default kernel and initramfs: $MVRUN_KERNEL and $MVRUN_INITRD when
 * set, else guest/ beside the mvrun binary (a build tree), else the
 * installed ones in $(pkglibdir).  The strings belong to the caller. */
int guest_default_paths(char **kernel, char **initrd, mv_error_t *err);

/* The kernel command line: what the guest needs, tuned for a fast boot,
 * quiet unless verbose, then `extra` (may be NULL).  Caller frees. */
char *guest_cmdline(bool verbose, const char *extra);

#endif
