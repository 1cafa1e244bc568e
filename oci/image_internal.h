/* Shared by oci/image.c (media types, digests, files inside the image
 * directory, descriptors, the image config, oci_image_open),
 * oci/image_layout.c (an OCI image layout) and oci/image_docker.c (a
 * docker-archive). */
#ifndef MV_OCI_IMAGE_INTERNAL_H
#define MV_OCI_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oci/config.h"
#include "oci/image.h"
#include "oci/json.h"
#include "oci/sha256.h"
#include "runtime/error.h"

/* How many images an error message lists. */
#define IMAGE_LIST_MAX 16

#define DIGEST_PREFIX	  "sha256:"
#define DIGEST_PREFIX_LEN 7

/* ---- media types ---- */

/* An image index (OCI or docker manifest list), an image manifest. */
bool image_is_index_type(const char *media_type);
bool image_is_manifest_type(const char *media_type);

/* ---- digests ---- */

/* len is 64 and s is that many lowercase hex digits. */
bool image_is_hex64(const char *s, size_t len);
/* Exactly "sha256:" and 64 lowercase hex digits. */
bool image_digest_valid(const char *d);
/* EINVAL naming rel unless got is the digest want (a valid one) names. */
int image_check_digest(const char *rel, const uint8_t got[SHA256_DIGEST_SIZE], const char *want,
		       mv_error_t *err);

/* ---- files inside the image directory ---- */

/* The regular file at rel beneath dirfd, read whole (bounded in size). */
int image_read_doc(int dirfd, const char *rel, char **buf, size_t *len, mv_error_t *err);
/* Parse a document and read it with `read` into out; name names it in errors. */
int image_parse_doc(const char *name, const char *buf, size_t len, json_reader read, void *out,
		    mv_error_t *err);

/* ---- descriptors ---- */

struct platform {
	char *os, *architecture, *variant;
};

struct descriptor {
	char *media_type;
	char *digest; /* checked by read_digest */
	bool has_size;
	uint64_t size;
	bool has_platform;
	struct platform platform;
	struct oci_map annotations;
};

/* Readers of a struct descriptor: any, an image config's, a layer's (one
 * mvrun can unpack). */
int image_read_descriptor(struct json_walk *w, const struct json_node *v, void *out);
int image_read_config_descriptor(struct json_walk *w, const struct json_node *v, void *out);
int image_read_layer_descriptor(struct json_walk *w, const struct json_node *v, void *out);
void image_descriptor_release(struct descriptor *d);
void image_descriptors_free(struct descriptor *d, size_t n);
/* The value of d's annotation key (the last when it repeats), or NULL. */
const char *image_annotation(const struct descriptor *d, const char *key);

/* "blobs/sha256/<hex>" of a valid digest; NULL without memory. */
char *image_blob_path(const char *digest);
/* The blob d names, read whole and checked; *rel is its path (for errors). */
int image_load_blob_doc(int dirfd, const struct descriptor *d, char **buf, size_t *len, char **rel,
			mv_error_t *err);
/* Hash the file at rel (beneath dirfd) and compare with want, and its size
 * with d's when d is not NULL. */
int image_verify_file(int dirfd, const char *rel, const struct descriptor *d, const char *want,
		      mv_error_t *err);

/* ---- the result ---- */

/* Append dir/rel with its digest to img->layers, allocated big enough. */
int image_add_layer(struct oci_image *img, const char *dir, const char *rel, const char *digest,
		    mv_error_t *err);

/* ---- the image config ---- */

/* What a selection asks for: os/arch[/variant]. */
struct wanted {
	const char *ref;
	char os[64], arch[64], variant[64];
};

/* Reader of an image config into a struct oci_image. */
int image_read_config(struct json_walk *w, const struct json_node *v, void *out);
/* An image config that says it is for another platform cannot run. */
int image_check_platform(const char *doc, const struct oci_image *img, const struct wanted *want,
			 mv_error_t *err);
/* Parse the image config doc in buf into img and check its platform. */
int image_load_config(const char *doc, const char *buf, size_t len, const struct wanted *want,
		      struct oci_image *img, mv_error_t *err);

/* ---- the two formats, for oci_image_open ---- */

int image_open_layout(int dirfd, const char *dir, const struct wanted *want, struct oci_image *img,
		      mv_error_t *err);
int image_open_docker(int dirfd, const char *dir, const struct wanted *want, struct oci_image *img,
		      mv_error_t *err);

#endif
