/* A docker-archive (`docker save`, `podman save`): manifest.json lists the
 * images, each with its config file and its layer tars; the config's
 * rootfs.diff_ids are the digests the layers are checked against. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config_internal.h"
#include "oci/image_internal.h"
#include "oci/json.h"
#include "oci/sha256.h"
#include "runtime/cleanup.h"

struct docker_entry {
	char *config;
	struct oci_strv repo_tags;
	struct oci_strv layers;
};

/* Relative, without `..`: checked here to name the JSON path; the open
 * beneath the directory still catches a symlink that leads out. */
static bool rel_path_valid(const char *p)
{
	const char *s = p;

	if (p[0] == '\0' || p[0] == '/')
		return false;
	for (;;) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return false;
		if (s[n] == '\0')
			return true;
		s += n + 1;
	}
}

static int check_rel_path(struct json_walk *w, const char *p)
{
	if (!rel_path_valid(p))
		return json_fail(w, "`%.*s` is not a relative path inside the archive", JSON_SHOWN,
				 p);
	return 0;
}

static int read_rel_path(struct json_walk *w, const struct json_node *v, void *out)
{
	if (json_read_string(w, v, out) < 0)
		return -1;
	return check_rel_path(w, *(char **)out);
}

static int read_rel_paths(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_strv *s = out;

	if (oci_read_strv(w, v, s) < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		size_t mark = json_walk_index(w, i);

		if (check_rel_path(w, s->v[i]) < 0)
			return -1;
		json_walk_pop(w, mark);
	}
	return 0;
}

static int read_docker_entry(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("Config", read_rel_path, struct docker_entry, config),
	    JSON_FIELD("RepoTags", oci_read_strv, struct docker_entry, repo_tags),
	    JSON_REQUIRED("Layers", read_rel_paths, struct docker_entry, layers),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

struct docker_manifest {
	struct docker_entry *entries;
	size_t n_entries;
};

OCI_ARRAY_READER(read_docker_entries, struct docker_manifest, entries, read_docker_entry)

static void docker_manifest_release(struct docker_manifest *m)
{
	for (size_t i = 0; i < m->n_entries; i++) {
		free(m->entries[i].config);
		oci_strv_free(&m->entries[i].repo_tags);
		oci_strv_free(&m->entries[i].layers);
	}
	free(m->entries);
}

static bool docker_entry_matches(const struct docker_entry *e, const char *ref)
{
	if (ref == NULL)
		return true;
	for (size_t i = 0; i < e->repo_tags.n; i++)
		if (strcmp(e->repo_tags.v[i], ref) == 0)
			return true;
	return false;
}

static char *describe_docker_entries(const struct docker_manifest *m)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < m->n_entries && i < IMAGE_LIST_MAX; i++) {
		const struct docker_entry *e = &m->entries[i];

		fprintf(f, "%s`%.*s`", i ? ", " : "", JSON_SHOWN,
			e->repo_tags.n ? e->repo_tags.v[0] : e->config);
	}
	if (m->n_entries > IMAGE_LIST_MAX)
		fprintf(f, " and %zu more", m->n_entries - IMAGE_LIST_MAX);
	if (m->n_entries == 0)
		fputs("no images", f);
	fclose(f);
	return text;
}

static int choose_docker(const struct docker_manifest *m, const char *ref,
			 const struct docker_entry **out, mv_error_t *err)
{
	cleanup_free char *list = NULL;
	size_t matches = 0;

	for (size_t i = 0; i < m->n_entries; i++)
		if (docker_entry_matches(&m->entries[i], ref)) {
			*out = &m->entries[i];
			matches++;
		}
	if (matches == 1)
		return 0;
	list = describe_docker_entries(m);
	return mv_error(err, EINVAL, "%s in `manifest.json` for ref `%.*s`: %s",
			matches ? "several images" : "no image", JSON_SHOWN, ref ? ref : "(any)",
			list ? list : "");
}

/* The digest a docker-archive's config file name holds: "<hex>.json"
 * (docker save before 25, podman save) or "blobs/sha256/<hex>". */
static bool digest_from_name(const char *rel, char digest[DIGEST_PREFIX_LEN + 65])
{
	static const char blobs[] = "blobs/sha256/";
	size_t len = strlen(rel), n = sizeof(blobs) - 1;
	const char *hex;

	if (len == 64 + 5 && strcmp(rel + 64, ".json") == 0)
		hex = rel;
	else if (len == n + 64 && strncmp(rel, blobs, n) == 0)
		hex = rel + n;
	else
		return false;
	if (!image_is_hex64(hex, 64))
		return false;
	snprintf(digest, DIGEST_PREFIX_LEN + 65, DIGEST_PREFIX "%.64s", hex);
	return true;
}

static int read_diff_ids(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_strv *s = out;

	if (oci_read_strv(w, v, s) < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		size_t mark = json_walk_index(w, i);

		if (!image_digest_valid(s->v[i]))
			return json_fail(w, "`%.*s` is not a sha256 digest", JSON_SHOWN, s->v[i]);
		json_walk_pop(w, mark);
	}
	return 0;
}

/* A docker-archive's config: what oci_image holds, and rootfs.diff_ids,
 * the digests of its (uncompressed) layer files. */
struct docker_config {
	struct oci_image *img;
	struct oci_strv diff_ids;
};

static int read_rootfs(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("diff_ids", read_diff_ids, struct docker_config, diff_ids),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static int read_docker_config(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED_WHOLE("rootfs", read_rootfs),
	};
	struct docker_config *dc = out;

	if (image_read_config(w, v, dc->img) < 0)
		return -1;
	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static int load_docker_config(int dirfd, const struct docker_entry *e, const struct wanted *want,
			      struct docker_config *dc, mv_error_t *err)
{
	char digest[DIGEST_PREFIX_LEN + 65];
	uint8_t got[SHA256_DIGEST_SIZE];
	cleanup_free char *buf = NULL;
	size_t len = 0;

	if (image_read_doc(dirfd, e->config, &buf, &len, err) < 0)
		return -1;
	if (digest_from_name(e->config, digest)) {
		sha256_buf(buf, len, got);
		if (image_check_digest(e->config, got, digest, err) < 0)
			return -1;
	}
	if (image_parse_doc(e->config, buf, len, read_docker_config, dc, err) < 0)
		return -1;
	if (dc->diff_ids.n != e->layers.n)
		return mv_error(err, EINVAL,
				"`%s`: rootfs.diff_ids: %zu entries for the %zu layers "
				"`manifest.json` lists",
				e->config, dc->diff_ids.n, e->layers.n);
	return image_check_platform(e->config, dc->img, want, err);
}

/* The layers are uncompressed tars, so each file's digest is its diff_id. */
static int load_docker_layers(int dirfd, const char *dir, const struct docker_entry *e,
			      const struct oci_strv *diff_ids, struct oci_image *img,
			      mv_error_t *err)
{
	if (e->layers.n == 0)
		return 0;
	img->layers = calloc(e->layers.n, sizeof(*img->layers));
	if (img->layers == NULL)
		return mv_error(err, ENOMEM, "`manifest.json`: layers");
	for (size_t i = 0; i < e->layers.n; i++) {
		if (image_verify_file(dirfd, e->layers.v[i], NULL, diff_ids->v[i], err) < 0)
			return -1;
		if (image_add_layer(img, dir, e->layers.v[i], diff_ids->v[i], err) < 0)
			return -1;
	}
	return 0;
}

int image_open_docker(int dirfd, const char *dir, const struct wanted *want, struct oci_image *img,
		      mv_error_t *err)
{
	cleanup_free char *buf = NULL;
	struct docker_manifest m = {0};
	struct docker_config dc = {.img = img};
	const struct docker_entry *e = NULL;
	size_t len = 0;
	int ret = image_read_doc(dirfd, "manifest.json", &buf, &len, err);

	ret = ret ?: image_parse_doc("manifest.json", buf, len, read_docker_entries, &m, err);
	ret = ret ?: choose_docker(&m, want->ref, &e, err);
	ret = ret ?: load_docker_config(dirfd, e, want, &dc, err);
	ret = ret ?: load_docker_layers(dirfd, dir, e, &dc.diff_ids, img, err);
	oci_strv_free(&dc.diff_ids);
	docker_manifest_release(&m);
	return ret;
}
