/* Container images as tools write them: an OCI image layout (index.json,
 * blobs/sha256/...) or a docker-archive (`docker save`/`podman save`:
 * manifest.json), both read from a directory the archive was unpacked into.
 * Every blob is checked against its digest before it is used. */
#ifndef MV_OCI_IMAGE_H
#define MV_OCI_IMAGE_H

#include <stddef.h>

#include "oci/config.h"
#include "runtime/error.h"

struct oci_image_layer {
	char *path;   /* the blob file, absolute; a tar, tar+gzip or tar+zstd */
	char *digest; /* "sha256:<64 hex>" the blob was verified against (in a
		       * docker-archive: the config's diff_id, the tar's own) */
};

/* What the image config says about running it (all may be empty/NULL). */
struct oci_image {
	struct oci_image_layer *layers; /* lowest first */
	size_t n_layers;
	struct oci_strv entrypoint, cmd, env;
	char *working_dir;
	char *user;		 /* "", "name", "uid", "uid:gid", "name:group" */
	struct oci_map labels;	 /* become annotations */
	char *os, *architecture; /* from the image config */
};

/* Which image of a layout that holds several: ref matches
 * org.opencontainers.image.ref.name or io.containerd.image.name (OCI; an
 * index passes its ref on to what it lists) or a RepoTags entry (docker);
 * platform is "os/arch" (default "linux/amd64").  NULL: the only one. */
struct oci_image_select {
	const char *ref;
	const char *platform;
};

/* Read the image in dir (absolute).  EINVAL for a malformed document (the
 * message names the file and the JSON path), a digest or size mismatch, an
 * unknown media type, a file that leads outside dir, a choice that matches
 * none or several (the message lists what there is), or an image config
 * whose os/architecture is not the platform asked for. */
int oci_image_open(const char *dir, const struct oci_image_select *sel, struct oci_image **out,
		   mv_error_t *err);
void oci_image_free(struct oci_image *img);

/* The ids an image's User resolves to, looked up in the unpacked rootfs's
 * /etc/passwd and /etc/group (names) or taken as numbers; without a group,
 * the gid is the user's passwd entry's (0 for a uid that has none).  A name
 * that is not there is an error (ENOENT naming it). */
int oci_image_user(const struct oci_image *img, const char *rootfs, uint32_t *uid, uint32_t *gid,
		   mv_error_t *err);

/* config.json text for the image: `mvrun spec`'s defaults with
 * process.args = Entrypoint + Cmd, env (image env over the defaults' PATH
 * and TERM), cwd (WorkingDir or "/"), user uid/gid, annotations from the
 * labels.  Caller frees. */
int oci_image_config_json(const struct oci_image *img, uint32_t uid, uint32_t gid, char **json,
			  mv_error_t *err);

#endif
