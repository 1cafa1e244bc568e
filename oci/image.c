/* Finding an image's config and layers in an unpacked image archive, and
 * checking each against the digest that names it.
 *
 * Everything in the directory is hostile input: a digest is checked for its
 * form before it becomes part of a path, every file is opened with
 * openat2(RESOLVE_BENEATH) so that neither `..` nor a symlink leads out of
 * the directory, and documents are read only up to a bounded size.
 *
 * This file holds what both formats use; oci/image_layout.c reads an OCI
 * image layout, oci/image_docker.c a docker-archive. */
#include "oci/image.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "oci/config_internal.h"
#include "oci/image_internal.h"
#include "oci/json.h"
#include "oci/sha256.h"
#include "runtime/cleanup.h"

/* index.json, manifests and configs are a few KiB; a config with a long
 * history some 100 KiB. */
#define IMAGE_DOC_MAX_SIZE OCI_CONFIG_MAX_SIZE
#define DEFAULT_PLATFORM   "linux/amd64"

/* ---- media types ---- */

static const char *const index_types[] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
};

static const char *const manifest_types[] = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
};

static const char *const config_types[] = {
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
};

/* Nondistributable layers are ordinary tars that registries may not push;
 * here the blob is either in the directory or missing (an error). */
static const char *const layer_types[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

static bool is_one_of(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

bool image_is_index_type(const char *media_type)
{
	return is_one_of(media_type, index_types, JSON_ARRAY_SIZE(index_types));
}

bool image_is_manifest_type(const char *media_type)
{
	return is_one_of(media_type, manifest_types, JSON_ARRAY_SIZE(manifest_types));
}

/* ---- digests ---- */

bool image_is_hex64(const char *s, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Exactly "sha256:" and 64 lowercase hex digits: the hex part becomes a
 * path component, so nothing else may pass. */
bool image_digest_valid(const char *d)
{
	return strncmp(d, DIGEST_PREFIX, DIGEST_PREFIX_LEN) == 0 &&
	       image_is_hex64(d + DIGEST_PREFIX_LEN, strlen(d + DIGEST_PREFIX_LEN));
}

static int read_digest(struct json_walk *w, const struct json_node *v, void *out)
{
	char **s = out;

	if (json_read_string(w, v, s) < 0)
		return -1;
	if (!image_digest_valid(*s))
		return json_fail(w, "`%.*s` is not a sha256 digest (sha256: and 64 lowercase hex)",
				 JSON_SHOWN, *s);
	return 0;
}

int image_check_digest(const char *rel, const uint8_t got[SHA256_DIGEST_SIZE], const char *want,
		       mv_error_t *err)
{
	char hex[SHA256_HEX_SIZE];

	sha256_hex(got, hex);
	if (strcmp(hex, want + DIGEST_PREFIX_LEN) != 0)
		return mv_error(err, EINVAL, "digest mismatch for `%s`: its content is sha256:%s",
				rel, hex);
	return 0;
}

/* ---- files inside the image directory ---- */

/* A regular file at rel, resolved beneath dirfd: `..`, an absolute path or
 * a symlink that leads out is refused by the kernel (EXDEV).  O_NONBLOCK:
 * a fifo planted as a blob must not hang the open. */
static int open_beneath(int dirfd, const char *rel, mv_error_t *err)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	cleanup_close int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	struct stat st;

	if (fd < 0 && errno == EXDEV)
		return mv_error(err, EINVAL, "`%s` leads outside the image directory", rel);
	if (fd < 0)
		return mv_error(err, errno, "open `%s`", rel);
	if (fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat `%s`", rel);
	if (!S_ISREG(st.st_mode))
		return mv_error(err, EINVAL, "`%s` is not a regular file", rel);
	return steal_fd(&fd);
}

/* The whole file, refusing one over IMAGE_DOC_MAX_SIZE. */
static int read_all(int fd, const char *rel, char **buf, size_t *len, mv_error_t *err)
{
	cleanup_free char *data = NULL;
	struct stat st;
	size_t cap, got = 0;

	if (fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat `%s`", rel);
	if (st.st_size > IMAGE_DOC_MAX_SIZE)
		return mv_error(err, EINVAL, "`%s`: larger than %d MiB", rel,
				IMAGE_DOC_MAX_SIZE >> 20);
	cap = (size_t)st.st_size + 1; /* room to see that it grew */
	data = malloc(cap);
	if (data == NULL)
		return mv_error(err, ENOMEM, "read `%s`", rel);
	while (got < cap) {
		ssize_t n = read(fd, data + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mv_error(err, errno, "read `%s`", rel);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got == cap)
		return mv_error(err, EINVAL, "`%s` changed while it was read", rel);
	*buf = steal_ptr(&data);
	*len = got;
	return 0;
}

int image_read_doc(int dirfd, const char *rel, char **buf, size_t *len, mv_error_t *err)
{
	cleanup_close int fd = open_beneath(dirfd, rel, err);

	if (fd < 0)
		return -1;
	return read_all(fd, rel, buf, len, err);
}

/* Parse a document and read it with `read` into out. */
int image_parse_doc(const char *name, const char *buf, size_t len, json_reader read, void *out,
		    mv_error_t *err)
{
	struct json_walk w = {.doc = name, .err = err};
	struct json_node *root = NULL;
	int ret;

	if (json_parse(buf, len, name, &root, err) < 0)
		return -1;
	ret = read(&w, root, out);
	json_free(root);
	return ret;
}

/* ---- descriptors ---- */

static int read_platform(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("os", json_read_string, struct platform, os),
	    JSON_REQUIRED("architecture", json_read_string, struct platform, architecture),
	    JSON_FIELD("variant", json_read_string, struct platform, variant),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

int image_read_descriptor(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("mediaType", json_read_string, struct descriptor, media_type),
	    JSON_REQUIRED("digest", read_digest, struct descriptor, digest),
	    JSON_OPTIONAL("size", json_read_u64, struct descriptor, size, has_size),
	    JSON_OPTIONAL("platform", read_platform, struct descriptor, platform, has_platform),
	    JSON_FIELD("annotations", oci_read_map, struct descriptor, annotations),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

void image_descriptor_release(struct descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	free(d->platform.os);
	free(d->platform.architecture);
	free(d->platform.variant);
	oci_map_free(&d->annotations);
	memset(d, 0, sizeof(*d));
}

void image_descriptors_free(struct descriptor *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		image_descriptor_release(&d[i]);
	free(d);
}

const char *image_annotation(const struct descriptor *d, const char *key)
{
	for (size_t i = d->annotations.n; i-- > 0;)
		if (strcmp(d->annotations.keys[i], key) == 0)
			return d->annotations.values[i];
	return NULL;
}

/* A descriptor whose mediaType must be one of list: `what` names the kind. */
static int check_media_type(struct json_walk *w, const struct descriptor *d,
			    const char *const *list, size_t n, const char *what)
{
	size_t mark = json_walk_key(w, "mediaType");

	if (!is_one_of(d->media_type, list, n))
		return json_fail(w, "`%.*s` is not %s", JSON_SHOWN, d->media_type, what);
	json_walk_pop(w, mark);
	return 0;
}

int image_read_config_descriptor(struct json_walk *w, const struct json_node *v, void *out)
{
	if (image_read_descriptor(w, v, out) < 0)
		return -1;
	return check_media_type(w, out, config_types, JSON_ARRAY_SIZE(config_types),
				"an image config media type");
}

int image_read_layer_descriptor(struct json_walk *w, const struct json_node *v, void *out)
{
	struct descriptor *d = out;
	size_t mark;

	if (image_read_descriptor(w, v, out) < 0)
		return -1;
	/* Decrypting needs keys mvrun does not have: say so rather than "unknown". */
	mark = json_walk_key(w, "mediaType");
	if (strstr(d->media_type, "+encrypted"))
		return json_fail(w, "`%.*s`: encrypted layers are not supported", JSON_SHOWN,
				 d->media_type);
	json_walk_pop(w, mark);
	return check_media_type(w, d, layer_types, JSON_ARRAY_SIZE(layer_types),
				"a layer media type mvrun can unpack");
}

/* "blobs/sha256/<hex>" of a digest read_digest accepted. */
char *image_blob_path(const char *digest)
{
	char *rel = NULL;

	if (asprintf(&rel, "blobs/sha256/%s", digest + DIGEST_PREFIX_LEN) < 0)
		return NULL;
	return rel;
}

static int check_size(const char *rel, uint64_t size, const struct descriptor *d, mv_error_t *err)
{
	if (d->has_size && size != d->size)
		return mv_error(err, EINVAL,
				"size mismatch for `%s`: %" PRIu64 " bytes, %" PRIu64 " expected",
				rel, size, d->size);
	return 0;
}

/* The blob d names, read whole and checked; *rel is its path (for errors). */
int image_load_blob_doc(int dirfd, const struct descriptor *d, char **buf, size_t *len, char **rel,
			mv_error_t *err)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	cleanup_free char *path = image_blob_path(d->digest);
	cleanup_free char *data = NULL;

	if (path == NULL)
		return mv_error(err, ENOMEM, "read `%s`", d->digest);
	if (d->has_size && d->size > IMAGE_DOC_MAX_SIZE)
		return mv_error(err, EINVAL, "`%s`: larger than %d MiB", path,
				IMAGE_DOC_MAX_SIZE >> 20);
	if (image_read_doc(dirfd, path, &data, len, err) < 0)
		return -1;
	if (check_size(path, *len, d, err) < 0)
		return -1;
	sha256_buf(data, *len, digest);
	if (image_check_digest(path, digest, d->digest, err) < 0)
		return -1;
	*buf = steal_ptr(&data);
	*rel = steal_ptr(&path);
	return 0;
}

/* Hash the file at rel (beneath dirfd) and compare with want; a layer may
 * be large, so it is streamed. */
int image_verify_file(int dirfd, const char *rel, const struct descriptor *d, const char *want,
		      mv_error_t *err)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	cleanup_close int fd = open_beneath(dirfd, rel, err);
	struct stat st;
	uint64_t size;

	if (fd < 0)
		return -1;
	/* A wrong size is known before hashing gigabytes. */
	if (d && fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat `%s`", rel);
	if (d && check_size(rel, (uint64_t)st.st_size, d, err) < 0)
		return -1;
	if (sha256_fd(fd, rel, digest, &size, err) < 0)
		return -1;
	if (d && check_size(rel, size, d, err) < 0)
		return -1;
	return image_check_digest(rel, digest, want, err);
}

/* ---- the result ---- */

void oci_image_free(struct oci_image *img)
{
	if (img == NULL)
		return;
	for (size_t i = 0; i < img->n_layers; i++) {
		free(img->layers[i].path);
		free(img->layers[i].digest);
	}
	free(img->layers);
	oci_strv_free(&img->entrypoint);
	oci_strv_free(&img->cmd);
	oci_strv_free(&img->env);
	free(img->working_dir);
	free(img->user);
	oci_map_free(&img->labels);
	free(img->os);
	free(img->architecture);
	free(img);
}

static void image_freep(struct oci_image **img)
{
	oci_image_free(*img);
}

#define cleanup_image __attribute__((cleanup(image_freep)))

int image_add_layer(struct oci_image *img, const char *dir, const char *rel, const char *digest,
		    mv_error_t *err)
{
	struct oci_image_layer *l = &img->layers[img->n_layers];
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (asprintf(&l->path, "%.*s/%s", (int)n, dir, rel) < 0) {
		l->path = NULL;
		return mv_error(err, ENOMEM, "layer `%s`", rel);
	}
	l->digest = strdup(digest);
	img->n_layers++; /* counted now: oci_image_free frees what is there */
	if (l->digest == NULL)
		return mv_error(err, ENOMEM, "layer `%s`", rel);
	return 0;
}

/* ---- the image config ---- */

static int read_run_config(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_FIELD("Entrypoint", oci_read_strv, struct oci_image, entrypoint),
	    JSON_FIELD("Cmd", oci_read_strv, struct oci_image, cmd),
	    JSON_FIELD("Env", oci_read_strv, struct oci_image, env),
	    JSON_FIELD("WorkingDir", json_read_string, struct oci_image, working_dir),
	    JSON_FIELD("User", json_read_string, struct oci_image, user),
	    JSON_FIELD("Labels", oci_read_map, struct oci_image, labels),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

int image_read_config(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_FIELD("os", json_read_string, struct oci_image, os),
	    JSON_FIELD("architecture", json_read_string, struct oci_image, architecture),
	    JSON_WHOLE("config", read_run_config),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static int parse_wanted(const struct oci_image_select *sel, struct wanted *want, mv_error_t *err)
{
	const char *p = sel && sel->platform ? sel->platform : DEFAULT_PLATFORM;
	int used = 0;

	want->ref = sel ? sel->ref : NULL;
	want->variant[0] = '\0';
	if (sscanf(p, "%63[^/]/%63[^/]%n/%63[^/]%n", want->os, want->arch, &used, want->variant,
		   &used) < 2 ||
	    p[used] != '\0')
		return mv_error(err, EINVAL, "platform `%s` is not os/arch or os/arch/variant", p);
	return 0;
}

/* An image config that says it is for another platform cannot run. */
int image_check_platform(const char *doc, const struct oci_image *img, const struct wanted *want,
			 mv_error_t *err)
{
	if (img->os == NULL || img->architecture == NULL)
		return 0;
	if (strcmp(img->os, want->os) == 0 && strcmp(img->architecture, want->arch) == 0)
		return 0;
	return mv_error(err, EINVAL, "`%s`: the image is for `%.*s/%.*s`, not `%s/%s`", doc,
			JSON_SHOWN, img->os, JSON_SHOWN, img->architecture, want->os, want->arch);
}

int image_load_config(const char *doc, const char *buf, size_t len, const struct wanted *want,
		      struct oci_image *img, mv_error_t *err)
{
	if (image_parse_doc(doc, buf, len, image_read_config, img, err) < 0)
		return -1;
	return image_check_platform(doc, img, want, err);
}

/* ---- opening ---- */

static bool has_entry(int dirfd, const char *name)
{
	return faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int oci_image_open(const char *dir, const struct oci_image_select *sel, struct oci_image **out,
		   mv_error_t *err)
{
	cleanup_image struct oci_image *img = NULL;
	cleanup_close int dirfd = -1;
	struct wanted want;
	int ret;

	if (dir[0] != '/')
		return mv_error(err, EINVAL, "image directory `%s` is not an absolute path", dir);
	if (parse_wanted(sel, &want, err) < 0)
		return -1;
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return mv_error(err, errno, "open `%s`", dir);
	img = calloc(1, sizeof(*img));
	if (img == NULL)
		return mv_error(err, ENOMEM, "image `%s`", dir);
	/* docker save (25 and later) writes both: the layout is the richer. */
	if (has_entry(dirfd, "index.json") || has_entry(dirfd, "oci-layout"))
		ret = image_open_layout(dirfd, dir, &want, img, err);
	else if (has_entry(dirfd, "manifest.json"))
		ret = image_open_docker(dirfd, dir, &want, img, err);
	else
		ret = mv_error(err, ENOENT,
			       "`%s` holds neither index.json (an OCI image layout) nor "
			       "manifest.json (a docker-archive)",
			       dir);
	if (ret < 0)
		return ret;
	*out = steal_ptr(&img);
	return 0;
}
