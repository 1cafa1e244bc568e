/* Writing image layers and archives onto the host filesystem, treating
 * every entry as hostile: nothing is ever written outside the target. */
#ifndef MV_LAYER_H
#define MV_LAYER_H

#include "runtime/error.h"

/* Apply one layer (a tar, tar+gzip or tar+zstd file) onto the rootfs
 * directory: OCI whiteouts (.wh.NAME removes NAME, .wh..wh..opq hides
 * what lower layers put in its directory), regular files, directories,
 * symlinks, hardlinks, device nodes and fifos, with modes, ownership,
 * timestamps and xattrs.  Paths are resolved as if rootfs were "/": an
 * absolute path or `..` in an entry is refused (EINVAL naming the entry),
 * and a symlink met on the way is followed inside rootfs only.  A
 * truncated or corrupt archive is an error (EINVAL). */
int layer_apply(const char *rootfs, const char *layer, mv_error_t *err);

/* Unpack a plain archive (an image tar: regular files, directories, and
 * relative symlinks whose target stays inside dir, as an old `docker save`
 * writes for a shared layer; anything else is refused) into the existing
 * empty directory dir, with the same path rules, never through a symlink. */
int layer_extract_plain(const char *archive, const char *dir, mv_error_t *err);

#endif
