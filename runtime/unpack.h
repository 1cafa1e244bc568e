/* Making a bundle from an image archive: the layers of an OCI layout or a
 * docker-archive applied into BUNDLE/rootfs, and config.json made from the
 * image's config.  The bundle is built in a temporary directory beside it
 * and renamed into place at the end, so a failure leaves nothing behind. */
#ifndef MV_UNPACK_H
#define MV_UNPACK_H

#include <stdbool.h>

#include "runtime/error.h"

struct unpack_opts {
	const char *archive;  /* an image directory, or a tar (plain or gzip'd) of one */
	const char *bundle;   /* the bundle directory */
	const char *ref;      /* which image (oci/image.h); NULL: the only one */
	const char *platform; /* "os/arch"; NULL: linux/amd64 */
	/* The bundle exists with its rootfs/: only config.json is written
	 * (the image's User looked up in that rootfs). */
	bool config_only;
	/* config.json gets a poststop hook that removes the bundle: `mvrun
	 * delete` of the container made from it cleans up after it. */
	bool remove_on_delete;
};

/* Unpack o->archive into o->bundle, which must not exist (EEXIST "bundle
 * `X` exists"), or with config_only must exist with a rootfs/ directory.
 * config.json: oci_image_config_json's, with root.readonly false (an image
 * expects a writable root, as docker and podman give it).  Errors read
 * "unpack `ARCHIVE`: ...". */
int unpack_image(const struct unpack_opts *o, mv_error_t *err);

/* Remove path and everything below it without following a symlink and
 * without entering a mount point (EBUSY naming it; what it holds stays).
 * Holds one directory fd at a time, so that any depth can be removed.  A
 * missing path is no error. */
int unpack_remove_tree(const char *path, mv_error_t *err);

/* `mvrun run --image`: a fresh bundle for container id at ROOT/ID.image
 * (absolute, in *bundle; the caller frees), unpacked with
 * remove_on_delete.  o->bundle and o->config_only are ignored.  An id
 * that names an existing container is refused before anything is
 * unpacked. */
int unpack_container_bundle(const char *root, const char *id, const struct unpack_opts *o,
			    char **bundle, mv_error_t *err);

/* After `mvrun run`: remove the bundle unless container id exists and was
 * made from it (its `delete` removes it then, through the hook). */
void unpack_container_bundle_release(const char *root, const char *id, const char *bundle);

#endif
