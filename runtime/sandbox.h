/* Defence in depth for the VMM process: before it builds the VM it moves
 * into a mount namespace of its own whose root is an empty read-only tmpfs
 * holding only what the VMM needs at their usual paths: /dev/kvm, the guest
 * kernel and initramfs, the directories it shares with the guest, its
 * socket directory and its own /proc/self/fd.  A guest that subverted the
 * VMM would see no other host path.  (crun does the same for libkrun by
 * pivoting into the container's root.) */
#ifndef MV_SANDBOX_H
#define MV_SANDBOX_H

#include <stdbool.h>

#include "runtime/error.h"

struct sandbox_path {
	const char *path; /* absolute; a directory or a file */
	bool writable;
};

/* `scratch` is an existing directory of ours where the new root is built,
 * as scratch/sandbox (an empty directory on the host: the mounts are in the
 * new namespace only; the caller removes it).  When scratch is one of the
 * paths, it stays reachable at its path.
 * Must be called while the process has a single thread, as root. */
int sandbox_enter(const char *scratch, const struct sandbox_path *paths, unsigned n,
		  mv_error_t *err);

#endif
