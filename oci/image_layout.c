/* An OCI image layout: index.json (and the indexes it lists) walked for
 * the manifests it offers, one chosen by ref and platform, its config and
 * layers read from blobs/sha256/ and checked against their digests. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/config_internal.h"
#include "oci/image_internal.h"
#include "oci/json.h"
#include "runtime/cleanup.h"

/* An index inside an index inside...: tools write two levels at most. */
#define IMAGE_INDEX_MAX_DEPTH 8

#define ANNOTATION_REF	"org.opencontainers.image.ref.name"
#define ANNOTATION_NAME "io.containerd.image.name"

struct image_index {
	uint32_t schema_version;
	char *media_type;
	struct descriptor *manifests;
	size_t n_manifests;
};

struct manifest {
	uint32_t schema_version;
	char *media_type;
	struct descriptor config;
	struct descriptor *layers;
	size_t n_layers;
};

/* schemaVersion 2 is the only one; docker's schema 1 is another format. */
static int read_schema_version(struct json_walk *w, const struct json_node *v, void *out)
{
	if (json_read_u32(w, v, out) < 0)
		return -1;
	if (*(uint32_t *)out != 2)
		return json_fail(w, "`%.*s` is not 2", JSON_SHOWN, v->text);
	return 0;
}

OCI_ARRAY_READER(read_manifests, struct image_index, manifests, image_read_descriptor)
OCI_ARRAY_READER(read_layers, struct manifest, layers, image_read_layer_descriptor)

/* A document's own mediaType, when it gives one, must be the kind that
 * pointed at it. */
static int read_index_type(struct json_walk *w, const struct json_node *v, void *out)
{
	char **s = out;

	if (json_read_string(w, v, s) < 0)
		return -1;
	if (!image_is_index_type(*s))
		return json_fail(w, "`%.*s` is not an image index", JSON_SHOWN, *s);
	return 0;
}

static int read_manifest_type(struct json_walk *w, const struct json_node *v, void *out)
{
	char **s = out;

	if (json_read_string(w, v, s) < 0)
		return -1;
	if (!image_is_manifest_type(*s))
		return json_fail(w, "`%.*s` is not an image manifest", JSON_SHOWN, *s);
	return 0;
}

static int read_index(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("schemaVersion", read_schema_version, struct image_index, schema_version),
	    JSON_FIELD("mediaType", read_index_type, struct image_index, media_type),
	    JSON_REQUIRED_WHOLE("manifests", read_manifests),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static void index_release(struct image_index *idx)
{
	free(idx->media_type);
	image_descriptors_free(idx->manifests, idx->n_manifests);
}

static int read_manifest(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("schemaVersion", read_schema_version, struct manifest, schema_version),
	    JSON_FIELD("mediaType", read_manifest_type, struct manifest, media_type),
	    JSON_REQUIRED("config", image_read_config_descriptor, struct manifest, config),
	    JSON_REQUIRED_WHOLE("layers", read_layers),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static void manifest_release(struct manifest *m)
{
	free(m->media_type);
	image_descriptor_release(&m->config);
	image_descriptors_free(m->layers, m->n_layers);
}

/* A manifest some index lists, with the ref it goes by. */
struct candidate {
	struct descriptor desc;
	char *ref;  /* org.opencontainers.image.ref.name, its own or its index's */
	char *name; /* io.containerd.image.name (docker save), the same way */
};

struct candidates {
	struct candidate *v;
	size_t n, cap;
};

static void candidates_release(struct candidates *c)
{
	for (size_t i = 0; i < c->n; i++) {
		image_descriptor_release(&c->v[i].desc);
		free(c->v[i].ref);
		free(c->v[i].name);
	}
	free(c->v);
}

/* Take d out of its index (which is freed before the choice is made). */
static int add_candidate(struct candidates *c, struct descriptor *d, const char *ref,
			 const char *name, mv_error_t *err)
{
	struct candidate *cand;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		struct candidate *v = realloc(c->v, cap * sizeof(*v));

		if (v == NULL)
			return mv_error(err, ENOMEM, "list images");
		c->v = v;
		c->cap = cap;
	}
	cand = &c->v[c->n++];
	cand->desc = *d;
	memset(d, 0, sizeof(*d));
	cand->ref = ref ? strdup(ref) : NULL;
	cand->name = name ? strdup(name) : NULL;
	if ((ref && cand->ref == NULL) || (name && cand->name == NULL))
		return mv_error(err, ENOMEM, "list images");
	return 0;
}

static int walk_index(int dirfd, const char *doc, const char *buf, size_t len, const char *ref,
		      const char *name, unsigned depth, struct candidates *c, mv_error_t *err);

/* An index the index lists: read, checked, and walked in turn. */
static int walk_child_index(int dirfd, const struct descriptor *d, const char *ref,
			    const char *name, unsigned depth, struct candidates *c, mv_error_t *err)
{
	cleanup_free char *buf = NULL, *rel = NULL;
	size_t len = 0;

	if (depth >= IMAGE_INDEX_MAX_DEPTH)
		return mv_error(err, EINVAL, "indexes nested deeper than %d levels (at `%s`)",
				IMAGE_INDEX_MAX_DEPTH, d->digest);
	if (image_load_blob_doc(dirfd, d, &buf, &len, &rel, err) < 0)
		return -1;
	return walk_index(dirfd, rel, buf, len, ref, name, depth + 1, c, err);
}

/* Every manifest reachable from the index in buf; entries of other types
 * (signatures, SBOMs and such artifacts) are passed over. */
static int walk_index(int dirfd, const char *doc, const char *buf, size_t len, const char *ref,
		      const char *name, unsigned depth, struct candidates *c, mv_error_t *err)
{
	struct image_index idx = {0};
	int ret = image_parse_doc(doc, buf, len, read_index, &idx, err);

	for (size_t i = 0; ret == 0 && i < idx.n_manifests; i++) {
		struct descriptor *d = &idx.manifests[i];
		const char *r = image_annotation(d, ANNOTATION_REF) ?: ref;
		const char *n = image_annotation(d, ANNOTATION_NAME) ?: name;

		if (image_is_index_type(d->media_type))
			ret = walk_child_index(dirfd, d, r, n, depth, c, err);
		else if (image_is_manifest_type(d->media_type))
			ret = add_candidate(c, d, r, n, err);
	}
	index_release(&idx);
	return ret;
}

static bool candidate_matches(const struct candidate *c, const struct wanted *want)
{
	const struct platform *p = &c->desc.platform;

	if (want->ref && !(c->ref && strcmp(c->ref, want->ref) == 0) &&
	    !(c->name && strcmp(c->name, want->ref) == 0))
		return false;
	/* No platform in the index: the config's os/architecture decide later. */
	if (!c->desc.has_platform)
		return true;
	if (strcmp(p->os, want->os) != 0 || strcmp(p->architecture, want->arch) != 0)
		return false;
	return want->variant[0] == '\0' || (p->variant && strcmp(p->variant, want->variant) == 0);
}

static void describe_candidate(FILE *f, const struct candidate *c)
{
	const struct platform *p = &c->desc.platform;

	fprintf(f, "`%.*s` ", JSON_SHOWN, c->ref ? c->ref : c->name ? c->name : "(no ref)");
	if (c->desc.has_platform)
		fprintf(f, "%.*s/%.*s%s%.*s", JSON_SHOWN, p->os, JSON_SHOWN, p->architecture,
			p->variant ? "/" : "", JSON_SHOWN, p->variant ? p->variant : "");
	else
		fputs("(no platform)", f);
	fprintf(f, " (%.19s)", c->desc.digest);
}

/* "`latest` linux/amd64 (sha256:0123456789ab), ..." */
static char *describe_candidates(const struct candidates *c)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < c->n && i < IMAGE_LIST_MAX; i++) {
		fputs(i ? ", " : "", f);
		describe_candidate(f, &c->v[i]);
	}
	if (c->n > IMAGE_LIST_MAX)
		fprintf(f, " and %zu more", c->n - IMAGE_LIST_MAX);
	if (c->n == 0)
		fputs("no images", f);
	fclose(f);
	return text;
}

static int choice_error(const char *doc, const struct candidates *c, const struct wanted *want,
			size_t matches, mv_error_t *err)
{
	cleanup_free char *list = describe_candidates(c);

	return mv_error(err, EINVAL, "%s in `%s` for ref `%.*s` and platform `%s/%s%s%s`: %s",
			matches ? "several images" : "no image", doc, JSON_SHOWN,
			want->ref ? want->ref : "(any)", want->os, want->arch,
			want->variant[0] ? "/" : "", want->variant, list ? list : "");
}

static int choose(const char *doc, const struct candidates *c, const struct wanted *want,
		  const struct candidate **out, mv_error_t *err)
{
	size_t matches = 0;

	for (size_t i = 0; i < c->n; i++)
		if (candidate_matches(&c->v[i], want)) {
			*out = &c->v[i];
			matches++;
		}
	if (matches != 1)
		return choice_error(doc, c, want, matches, err);
	return 0;
}

static int read_layout_version(struct json_walk *w, const struct json_node *v, void *out)
{
	char **version = out;

	if (json_read_string(w, v, version) < 0)
		return -1;
	if (strncmp(*version, "1.", 2) != 0)
		return json_fail(w, "`%.*s` is not a 1.x version", JSON_SHOWN, *version);
	return 0;
}

static int read_layout(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED_WHOLE("imageLayoutVersion", read_layout_version),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

/* oci-layout is optional here (docker save writes index.json beside
 * manifest.json without always being asked for a layout) but, if present,
 * must be a version this reader knows. */
static int check_layout_file(int dirfd, mv_error_t *err)
{
	cleanup_free char *buf = NULL, *version = NULL;
	size_t len = 0;

	if (faccessat(dirfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (image_read_doc(dirfd, "oci-layout", &buf, &len, err) < 0)
		return -1;
	return image_parse_doc("oci-layout", buf, len, read_layout, &version, err);
}

static int load_layers(int dirfd, const char *dir, const struct manifest *m, struct oci_image *img,
		       mv_error_t *err)
{
	if (m->n_layers == 0)
		return 0;
	img->layers = calloc(m->n_layers, sizeof(*img->layers));
	if (img->layers == NULL)
		return mv_error(err, ENOMEM, "read layers");
	for (size_t i = 0; i < m->n_layers; i++) {
		const struct descriptor *l = &m->layers[i];
		cleanup_free char *rel = image_blob_path(l->digest);

		if (rel == NULL)
			return mv_error(err, ENOMEM, "read layers");
		if (image_verify_file(dirfd, rel, l, l->digest, err) < 0)
			return -1;
		if (image_add_layer(img, dir, rel, l->digest, err) < 0)
			return -1;
	}
	return 0;
}

/* The manifest chosen: its config into img, its layers checked. */
static int load_manifest(int dirfd, const char *dir, const struct descriptor *d,
			 const struct wanted *want, struct oci_image *img, mv_error_t *err)
{
	cleanup_free char *buf = NULL, *rel = NULL, *cbuf = NULL, *crel = NULL;
	struct manifest m = {0};
	size_t len = 0, clen = 0;
	int ret = image_load_blob_doc(dirfd, d, &buf, &len, &rel, err);

	ret = ret ?: image_parse_doc(rel, buf, len, read_manifest, &m, err);
	ret = ret ?: image_load_blob_doc(dirfd, &m.config, &cbuf, &clen, &crel, err);
	ret = ret ?: image_load_config(crel, cbuf, clen, want, img, err);
	ret = ret ?: load_layers(dirfd, dir, &m, img, err);
	manifest_release(&m);
	return ret;
}

int image_open_layout(int dirfd, const char *dir, const struct wanted *want, struct oci_image *img,
		      mv_error_t *err)
{
	cleanup_free char *buf = NULL;
	struct candidates c = {0};
	const struct candidate *chosen = NULL;
	size_t len = 0;
	int ret = check_layout_file(dirfd, err);

	ret = ret ?: image_read_doc(dirfd, "index.json", &buf, &len, err);
	ret = ret ?: walk_index(dirfd, "index.json", buf, len, NULL, NULL, 0, &c, err);
	ret = ret ?: choose("index.json", &c, want, &chosen, err);
	ret = ret ?: load_manifest(dirfd, dir, &chosen->desc, want, img, err);
	candidates_release(&c);
	return ret;
}
