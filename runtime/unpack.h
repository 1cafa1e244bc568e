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

/* `mvrun run --image`: the container's bundle ROOT/ID.image holds
 * config.json (the image's), and rootfs/: an overlay whose lower layer is
 * the image's rootfs in the cache (runtime/image_cache.h) and whose upper/
 * and work/ are beside it, so that the container's writes land in upper/
 * and the cache stays as it was.  Where the overlay cannot be mounted
 * (not root, a file system that cannot hold an upper layer) or
 * MVRUN_IMAGE_NO_OVERLAY=1 is set (a debug knob), the image is unpacked
 * into the bundle instead, a copy of its own. */
#define UNPACK_NO_OVERLAY_ENV "MVRUN_IMAGE_NO_OVERLAY"

struct unpack_container {
	char *bundle;	   /* ROOT/ID.image, absolute */
	char *image;	   /* the image's bundle in the cache, absolute */
	bool cache_hit;	   /* the image was in the cache already */
	bool overlay;	   /* rootfs/ is an overlay; else a copy */
	int overlay_errno; /* why not: the errno of the try (a mount's EINVAL...), 0: the knob */
};

/* Make the bundle for container id (its fields in *c: free them with
 * unpack_container_free, also after a failure).  An id that names an
 * existing container, or whose ROOT/ID.image exists, is refused before
 * anything is unpacked; a failure leaves no ROOT/ID.image (the cache
 * keeps an image it unpacked).  o->bundle and o->config_only are ignored. */
int unpack_container_bundle(const char *root, const char *id, const struct unpack_opts *o,
			    struct unpack_container *c, mv_error_t *err);
void unpack_container_free(struct unpack_container *c);

/* `mvrun delete` of container id, whose bundle is `bundle`: when that is
 * ROOT/ID.image (a container that `run --image` made), unmount its rootfs
 * (lazily: a VMM that still holds it keeps its own reference) and remove
 * the bundle with the container's writes.  Any other bundle is not ours to
 * remove: nothing happens.  A missing ROOT/ID.image is no error. */
int unpack_container_release(const char *root, const char *id, const char *bundle, mv_error_t *err);

/* After `mvrun run`: release the bundle unless container id exists and
 * was made from it (kept, or detached: its `delete` releases it). */
void unpack_container_release_unused(const char *root, const char *id, const char *bundle);

#endif
