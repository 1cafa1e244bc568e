/* The image cache of `mvrun run --image`: each image archive unpacked once
 * into a bundle CACHE/KEY (rootfs/ and config.json, runtime/unpack.h),
 * which containers then share read-only as the lower layer of an overlay.
 * CACHE is $MVRUN_IMAGE_CACHE, else ROOT/images.  Entries are never
 * removed by mvrun: `rm -rf CACHE` when no container uses it. */
#ifndef MV_IMAGE_CACHE_H
#define MV_IMAGE_CACHE_H

#include "oci/sha256.h"
#include "runtime/error.h"
#include "runtime/unpack.h"

#define IMAGE_CACHE_ENV	   "MVRUN_IMAGE_CACHE"
#define IMAGE_CACHE_SUBDIR "images" /* in ROOT, without the variable */
/* 64 hex digits of the archive, "-" and 16 of the choice of image */
#define IMAGE_CACHE_KEY_MAX (SHA256_HEX_SIZE + 1 + 16)

/* The cache directory for the state root `root` (malloc'd; NULL: ENOMEM). */
char *image_cache_dir(const char *root);

/* An image's key: the sha256 of the archive's bytes (of a directory's
 * index.json, or its manifest.json when it has none: those name every
 * blob by digest or path), followed when ref or platform is given by "-"
 * and 16 hex digits that hash the two.  Errors do not name the archive
 * (the caller's context does: "unpack `ARCHIVE`: open: ..."). */
int image_cache_key(const char *archive, const char *ref, const char *platform,
		    char key[IMAGE_CACHE_KEY_MAX], mv_error_t *err);

/* The bundle of o->archive (o->ref, o->platform) in the cache directory
 * `cache` (created, with its parents, 0711), unpacked unless it is there:
 * its absolute path in *bundle (the caller frees).  Concurrent callers
 * serialise on the flock of CACHE/KEY.lock, so an image is unpacked once.
 * A failure leaves the cache as it was (no entry, no lock file; no CACHE
 * when this call made it).  o->bundle and o->config_only are ignored.
 * *hit (may be NULL): whether the bundle was there already. */
int image_cache_get(const char *cache, const struct unpack_opts *o, char **bundle, bool *hit,
		    mv_error_t *err);

#endif
