/* Helpers shared by runtime/cgroup.c and runtime/cgroup_remove.c. */
#ifndef MV_CGROUP_INTERNAL_H
#define MV_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/cgroup.h"

/* The whole of a small file of dirfd, NUL-terminated; -1 with errno. */
int cgroup_read_at(int dirfd, const char *name, char **out);

/* One write() of value to the file name of dirfd; -1 with errno. */
int cgroup_write_at(const struct cgroup_root *root, int dirfd, const char *name, const char *value);

/* The directory of the first len bytes of rel below the root, opened one
 * component at a time (O_NOFOLLOW); want: controllers to enable in each
 * ancestor on the way (required: one missing is an error); create: make
 * missing components.  Returns the fd, or -1 with err set. */
int cgroup_walk(const struct cgroup_root *root, const char *rel, size_t len, unsigned want,
		bool required, bool create, mv_error_t *err);

#endif
