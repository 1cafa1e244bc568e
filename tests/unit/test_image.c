/* oci/image.c and oci/image_config.c: image directories that the tests
 * write themselves (OCI layouts and docker-archives, good and hostile),
 * read back and refused with the messages users see. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/config.h"
#include "oci/image.h"
#include "oci/sha256.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX    "application/vnd.oci.image.index.v1+json"
#define OCI_CONFIG   "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER    "application/vnd.oci.image.layer.v1.tar+gzip"

/* ---- writing image directories ---- */

/* The JSON in these tests is written with ' for " to stay readable. */
static void quote(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
}

static char *make_dir(void)
{
	char *dir = strdup("/tmp/mvrun-image-XXXXXX");

	CHECK(dir != NULL && mkdtemp(dir) != NULL);
	return dir;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdirs(const char *dir, const char *rel)
{
	cleanup_free char *path = unit_fmt("%s/%s", dir, rel);

	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
}

static void write_file(const char *dir, const char *rel, const char *data, size_t len)
{
	cleanup_free char *path = unit_fmt("%s/%s", dir, rel);
	cleanup_close int fd = -1;

	mkdirs(dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, data, len), ==, len);
}

static void write_json(const char *dir, const char *rel, const char *text)
{
	cleanup_free char *s = strdup(text);

	CHECK(s != NULL);
	quote(s);
	write_file(dir, rel, s, strlen(s));
}

static void digest_of(const char *data, size_t len, char out[72])
{
	uint8_t d[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE];

	sha256_buf(data, len, d);
	sha256_hex(d, hex);
	snprintf(out, 72, "sha256:%s", hex);
}

struct blob {
	char digest[72];
	size_t size;
	char *rel; /* blobs/sha256/<hex> */
};

static void blob_release(struct blob *b)
{
	free(b->rel);
}

/* A blob of text (with ' for " when json) in blobs/sha256/. */
static struct blob put_blob(const char *dir, const char *text, bool json)
{
	cleanup_free char *s = strdup(text);
	struct blob b;

	CHECK(s != NULL);
	if (json)
		quote(s);
	b.size = strlen(s);
	digest_of(s, b.size, b.digest);
	b.rel = unit_fmt("blobs/sha256/%s", b.digest + 7);
	write_file(dir, b.rel, s, b.size);
	return b;
}

/* A descriptor of b, with extra members (",'platform':{...}"). */
static char *desc(const struct blob *b, const char *media_type, const char *extra)
{
	return unit_fmt("{'mediaType':'%s','digest':'%s','size':%zu%s}", media_type, b->digest,
			b->size, extra);
}

static char *config_text(const char *arch, const char *cmd)
{
	return unit_fmt("{'os':'linux','architecture':'%s','config':{'Entrypoint':['/bin/sh','-c'],"
			"'Cmd':['%s'],'Env':['PATH=/usr/bin','FOO=bar'],'WorkingDir':'/srv',"
			"'User':'app','Labels':{'org.example':'yes'}},"
			"'rootfs':{'type':'layers','diff_ids':[]}}",
			arch, cmd);
}

/* An image (a config for arch running cmd, one layer) and its manifest;
 * returns the manifest's blob. */
static struct blob put_image(const char *dir, const char *arch, const char *cmd)
{
	cleanup_free char *config = config_text(arch, cmd);
	cleanup_free char *layer_text = unit_fmt("layer of %s %s", arch, cmd);
	struct blob c = put_blob(dir, config, true), l = put_blob(dir, layer_text, false);
	cleanup_free char *cd = desc(&c, OCI_CONFIG, "");
	cleanup_free char *ld = desc(&l, OCI_LAYER, "");
	cleanup_free char *m = unit_fmt("{'schemaVersion':2,'mediaType':'" OCI_MANIFEST "',"
					"'config':%s,'layers':[%s]}",
					cd, ld);

	blob_release(&c);
	blob_release(&l);
	return put_blob(dir, m, true);
}

static void put_index(const char *dir, const char *entries)
{
	cleanup_free char *index = unit_fmt("{'schemaVersion':2,'manifests':[%s]}", entries);

	write_json(dir, "oci-layout", "{'imageLayoutVersion':'1.0.0'}");
	write_json(dir, "index.json", index);
}

/* A layout of one amd64 image whose manifest index.json lists with extra. */
static struct blob put_one_image(const char *dir, const char *extra)
{
	struct blob m = put_image(dir, "amd64", "echo hi");
	cleanup_free char *d = desc(&m, OCI_MANIFEST, extra);

	put_index(dir, d);
	return m;
}

/* ---- reading them back ---- */

static struct oci_image *open_ok(const char *dir, const char *ref, const char *platform)
{
	struct oci_image_select sel = {ref, platform};
	struct oci_image *img = NULL;
	mv_error_t err = {0};

	if (oci_image_open(dir, &sel, &img, &err) < 0)
		unit_fail(__FILE__, __LINE__, "open: %s", err.msg);
	CHECK(img != NULL);
	return img;
}

/* Opening fails with errnum and a message that starts with prefix. */
static void check_refused(const char *dir, const char *ref, const char *platform, int errnum,
			  const char *prefix)
{
	struct oci_image_select sel = {ref, platform};
	struct oci_image *img = NULL;
	mv_error_t err = {0};
	int fds = unit_count_fds();

	CHECK_INT(oci_image_open(dir, &sel, &img, &err), ==, -1);
	CHECK(img == NULL);
	CHECK_INT(unit_count_fds(), ==, fds);
	if (err.err != errnum || err.msg == NULL || strncmp(err.msg, prefix, strlen(prefix)) != 0)
		unit_fail(__FILE__, __LINE__, "expected %d `%s...`, got %d `%s`", errnum, prefix,
			  err.err, err.msg ? err.msg : "(null)");
	mv_error_release(&err);
}

static void check_layer(const struct oci_image *img, size_t i, const char *dir,
			const char *layer_text)
{
	char digest[72];
	cleanup_free char *path = NULL;

	digest_of(layer_text, strlen(layer_text), digest);
	path = unit_fmt("%s/blobs/sha256/%s", dir, digest + 7);
	CHECK_STR(img->layers[i].path, path);
	CHECK_STR(img->layers[i].digest, digest);
}

TEST(image_oci_one)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_one_image(dir, "");
	int fds = unit_count_fds();
	struct oci_image *img = open_ok(dir, NULL, NULL);

	CHECK_INT(unit_count_fds(), ==, fds);
	CHECK_INT(img->n_layers, ==, 1);
	check_layer(img, 0, dir, "layer of amd64 echo hi");
	CHECK_INT(img->entrypoint.n, ==, 2);
	CHECK_STR(img->entrypoint.v[1], "-c");
	CHECK_INT(img->cmd.n, ==, 1);
	CHECK_STR(img->cmd.v[0], "echo hi");
	CHECK_INT(img->env.n, ==, 2);
	CHECK_STR(img->env.v[1], "FOO=bar");
	CHECK_STR(img->working_dir, "/srv");
	CHECK_STR(img->user, "app");
	CHECK_INT(img->labels.n, ==, 1);
	CHECK_STR(img->labels.keys[0], "org.example");
	CHECK_STR(img->labels.values[0], "yes");
	CHECK_STR(img->os, "linux");
	CHECK_STR(img->architecture, "amd64");
	oci_image_free(img);
	blob_release(&m);
	rm_rf(dir);
}

/* A config without "config" (a base image with nothing to run) is fine. */
TEST(image_oci_config_without_config)
{
	cleanup_free char *dir = make_dir();
	struct blob c = put_blob(dir, "{'os':'linux','architecture':'amd64'}", true);
	cleanup_free char *cd = desc(&c, OCI_CONFIG, "");
	cleanup_free char *mt = unit_fmt("{'schemaVersion':2,'config':%s,'layers':[]}", cd);
	struct blob m = put_blob(dir, mt, true);
	cleanup_free char *md = desc(&m, OCI_MANIFEST, "");
	struct oci_image *img;

	put_index(dir, md);
	img = open_ok(dir, NULL, NULL);
	CHECK_INT(img->n_layers, ==, 0);
	CHECK_INT(img->entrypoint.n + img->cmd.n + img->env.n + img->labels.n, ==, 0);
	CHECK(img->working_dir == NULL && img->user == NULL);
	oci_image_free(img);
	blob_release(&c);
	blob_release(&m);
	rm_rf(dir);
}

/* Two platforms of one image: amd64 by default, the other when asked. */
static void put_two_platforms(const char *dir, char **entries)
{
	struct blob a = put_image(dir, "amd64", "on amd64");
	struct blob b = put_image(dir, "arm64", "on arm64");
	cleanup_free char *da =
	    desc(&a, OCI_MANIFEST, ",'platform':{'os':'linux','architecture':'amd64'}");
	cleanup_free char *db = desc(
	    &b, OCI_MANIFEST, ",'platform':{'os':'linux','architecture':'arm64','variant':'v8'}");

	*entries = unit_fmt("%s,%s", da, db);
	blob_release(&a);
	blob_release(&b);
}

TEST(image_oci_index_of_two_platforms)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *entries = NULL;
	struct oci_image *img;

	put_two_platforms(dir, &entries);
	put_index(dir, entries);
	img = open_ok(dir, NULL, NULL);
	CHECK_STR(img->cmd.v[0], "on amd64");
	check_layer(img, 0, dir, "layer of amd64 on amd64");
	oci_image_free(img);
	img = open_ok(dir, NULL, "linux/arm64");
	CHECK_STR(img->cmd.v[0], "on arm64");
	CHECK_STR(img->architecture, "arm64");
	oci_image_free(img);
	img = open_ok(dir, NULL, "linux/arm64/v8");
	CHECK_STR(img->cmd.v[0], "on arm64");
	oci_image_free(img);
	check_refused(dir, NULL, "linux/arm64/v7", EINVAL,
		      "no image in `index.json` for ref `(any)` and platform `linux/arm64/v7`: "
		      "`(no ref)` linux/amd64 (sha256:");
	check_refused(dir, NULL, "linux/s390x", EINVAL, "no image in `index.json`");
	check_refused(dir, NULL, "linux", EINVAL,
		      "platform `linux` is not os/arch or os/arch/variant");
	check_refused(dir, NULL, "linux/amd64/v1/x", EINVAL, "platform `linux/amd64/v1/x`");
	rm_rf(dir);
}

static void put_two_refs(const char *dir)
{
	struct blob a = put_image(dir, "amd64", "v1 cmd");
	struct blob b = put_image(dir, "amd64", "v2 cmd");
	cleanup_free char *da =
	    desc(&a, OCI_MANIFEST, ",'annotations':{'org.opencontainers.image.ref.name':'v1'}");
	cleanup_free char *db = desc(&b, OCI_MANIFEST,
				     ",'annotations':{'org.opencontainers.image.ref.name':'v2',"
				     "'io.containerd.image.name':'docker.io/library/x:v2'}");
	cleanup_free char *entries = unit_fmt("%s,%s", da, db);

	put_index(dir, entries);
	blob_release(&a);
	blob_release(&b);
}

TEST(image_oci_choice_by_ref)
{
	cleanup_free char *dir = make_dir();
	struct oci_image *img;

	put_two_refs(dir);
	img = open_ok(dir, "v2", NULL);
	CHECK_STR(img->cmd.v[0], "v2 cmd");
	oci_image_free(img);
	img = open_ok(dir, "v1", NULL);
	CHECK_STR(img->cmd.v[0], "v1 cmd");
	oci_image_free(img);
	/* docker save names images this way beside the short ref. */
	img = open_ok(dir, "docker.io/library/x:v2", NULL);
	CHECK_STR(img->cmd.v[0], "v2 cmd");
	oci_image_free(img);
	check_refused(dir, NULL, NULL, EINVAL,
		      "several images in `index.json` for ref `(any)` and platform `linux/amd64`: "
		      "`v1` (no platform) (sha256:");
	check_refused(dir, "v3", NULL, EINVAL,
		      "no image in `index.json` for ref `v3` and platform `linux/amd64`: `v1`");
	rm_rf(dir);
}

/* index.json -> an index (with the ref) -> a manifest per platform. */
TEST(image_oci_nested_index)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *entries = NULL, *inner = NULL, *d = NULL;
	struct blob idx;
	struct oci_image *img;

	put_two_platforms(dir, &entries);
	inner =
	    unit_fmt("{'schemaVersion':2,'mediaType':'" OCI_INDEX "','manifests':[%s]}", entries);
	idx = put_blob(dir, inner, true);
	d = desc(&idx, OCI_INDEX, ",'annotations':{'org.opencontainers.image.ref.name':'latest'}");
	put_index(dir, d);
	img = open_ok(dir, "latest", NULL);
	CHECK_STR(img->cmd.v[0], "on amd64");
	oci_image_free(img);
	img = open_ok(dir, NULL, "linux/arm64");
	CHECK_STR(img->cmd.v[0], "on arm64");
	oci_image_free(img);
	check_refused(dir, "other", NULL, EINVAL, "no image in `index.json` for ref `other`");

	/* The nested index is a blob like any other: checked. */
	write_file(dir, idx.rel, "{}", 2);
	check_refused(dir, NULL, NULL, EINVAL, "size mismatch for `blobs/sha256/");
	blob_release(&idx);
	rm_rf(dir);
}

/* Signatures, SBOMs and other artifacts an index may list are passed over. */
TEST(image_oci_other_entries_skipped)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_image(dir, "amd64", "the image");
	struct blob a = put_blob(dir, "an sbom", false);
	cleanup_free char *da = desc(&a, "application/vnd.example.sbom+json", "");
	cleanup_free char *dm = desc(&m, OCI_MANIFEST, "");
	cleanup_free char *entries = unit_fmt("%s,%s", da, dm);
	struct oci_image *img;

	put_index(dir, entries);
	img = open_ok(dir, NULL, NULL);
	CHECK_STR(img->cmd.v[0], "the image");
	oci_image_free(img);
	blob_release(&m);
	blob_release(&a);
	rm_rf(dir);
}

/* Indexes nested without end (each a new blob) stop at a depth. */
TEST(image_oci_index_depth_limit)
{
	cleanup_free char *dir = make_dir();
	struct blob b = put_image(dir, "amd64", "deep");
	cleanup_free char *d = desc(&b, OCI_MANIFEST, "");

	for (int i = 0; i < 9; i++) {
		cleanup_free char *text = unit_fmt("{'schemaVersion':2,'manifests':[%s]}", d);

		blob_release(&b);
		b = put_blob(dir, text, true);
		free(d);
		d = desc(&b, OCI_INDEX, "");
	}
	put_index(dir, d);
	check_refused(dir, NULL, NULL, EINVAL, "indexes nested deeper than 8 levels (at `sha256:");
	blob_release(&b);
	rm_rf(dir);
}

/* ---- every blob is checked ---- */

/* Replace a blob's content with as many other bytes. */
static void tamper(const char *dir, const char *rel)
{
	cleanup_free char *path = unit_fmt("%s/%s", dir, rel);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK_INT(pwrite(fd, "X", 1, 0), ==, 1);
}

TEST(image_oci_digest_mismatch_layer)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_one_image(dir, "");
	char digest[72];
	cleanup_free char *rel = NULL, *msg = NULL;

	digest_of("layer of amd64 echo hi", 22, digest);
	rel = unit_fmt("blobs/sha256/%s", digest + 7);
	tamper(dir, rel);
	msg = unit_fmt("digest mismatch for `%s`: its content is sha256:", rel);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&m);
	rm_rf(dir);
}

TEST(image_oci_digest_mismatch_config)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_one_image(dir, "");
	cleanup_free char *config = config_text("amd64", "echo hi");
	struct blob c = put_blob(dir, config, true);
	cleanup_free char *msg = unit_fmt("digest mismatch for `%s`", c.rel);

	tamper(dir, c.rel);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&m);
	blob_release(&c);
	rm_rf(dir);
}

TEST(image_oci_digest_mismatch_manifest)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_one_image(dir, "");
	cleanup_free char *msg = unit_fmt("digest mismatch for `%s`", m.rel);

	tamper(dir, m.rel);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&m);
	rm_rf(dir);
}

TEST(image_oci_size_mismatch)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_image(dir, "amd64", "x");
	cleanup_free char *entry = unit_fmt(
	    "{'mediaType':'" OCI_MANIFEST "','digest':'%s','size':%zu}", m.digest, m.size + 1);
	cleanup_free char *msg = NULL;

	put_index(dir, entry);
	msg =
	    unit_fmt("size mismatch for `%s`: %zu bytes, %zu expected", m.rel, m.size, m.size + 1);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&m);
	rm_rf(dir);
}

/* A layer whose size the manifest gets wrong, found before hashing it. */
TEST(image_oci_layer_size_mismatch)
{
	cleanup_free char *dir = make_dir();
	struct blob c = put_blob(dir, "{}", true), l = put_blob(dir, "twelve bytes", false);
	cleanup_free char *cd = desc(&c, OCI_CONFIG, "");
	cleanup_free char *mt =
	    unit_fmt("{'schemaVersion':2,'config':%s,'layers':[{'mediaType':'" OCI_LAYER
		     "','digest':'%s','size':13}]}",
		     cd, l.digest);
	struct blob m = put_blob(dir, mt, true);
	cleanup_free char *md = desc(&m, OCI_MANIFEST, "");
	cleanup_free char *msg = unit_fmt("size mismatch for `%s`: 12 bytes, 13 expected", l.rel);

	put_index(dir, md);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&c);
	blob_release(&l);
	blob_release(&m);
	rm_rf(dir);
}

/* A digest becomes a path only after its form is checked. */
static void check_bad_digest(const char *digest)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *entry =
	    unit_fmt("{'mediaType':'" OCI_MANIFEST "','digest':'%s','size':10}", digest);
	cleanup_free char *msg =
	    unit_fmt("`index.json`: manifests[0].digest: `%.64s` is not a sha256 digest", digest);

	put_index(dir, entry);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	rm_rf(dir);
}

TEST(image_oci_bad_digest_strings)
{
	check_bad_digest("sha256:../../etc/passwd");
	check_bad_digest("sha256:../../../../../../../../../../../../../../../../../../../../etc");
	check_bad_digest("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855");
	check_bad_digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85");
	check_bad_digest(
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555");
	check_bad_digest("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_bad_digest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_bad_digest("");
}

/* A blob that is a symlink out of the directory is not followed there. */
TEST(image_oci_blob_symlink_outside)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_one_image(dir, "");
	cleanup_free char *path = unit_fmt("%s/%s", dir, m.rel);
	cleanup_free char *msg = unit_fmt("`%s` leads outside the image directory", m.rel);

	CHECK(unlink(path) == 0);
	CHECK(symlink("/etc/passwd", path) == 0);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	CHECK(unlink(path) == 0);
	CHECK(symlink("../../../../../../../../etc/passwd", path) == 0);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&m);
	rm_rf(dir);
}

/* A fifo in place of a blob must not hang the reader. */
TEST(image_oci_blob_not_regular)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_one_image(dir, "");
	cleanup_free char *path = unit_fmt("%s/%s", dir, m.rel);
	cleanup_free char *msg = unit_fmt("`%s` is not a regular file", m.rel);

	CHECK(unlink(path) == 0);
	CHECK(mkfifo(path, 0600) == 0);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&m);
	rm_rf(dir);
}

TEST(image_missing_documents)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *msg = unit_fmt("`%s` holds neither index.json", dir);

	check_refused(dir, NULL, NULL, ENOENT, msg);
	write_json(dir, "oci-layout", "{'imageLayoutVersion':'1.0.0'}");
	check_refused(dir, NULL, NULL, ENOENT, "open `index.json`");
	check_refused("relative/dir", NULL, NULL, EINVAL,
		      "image directory `relative/dir` is not an absolute path");
	write_json(dir, "oci-layout", "{'imageLayoutVersion':'2.0.0'}");
	check_refused(dir, NULL, NULL, EINVAL,
		      "`oci-layout`: imageLayoutVersion: `2.0.0` is not a 1.x version");
	write_json(dir, "oci-layout", "{'imageLayoutVersion':'1.0.0'}");
	free(msg);
	msg = unit_fmt("%s/index.json", dir);
	CHECK(symlink("/etc/passwd", msg) == 0);
	check_refused(dir, NULL, NULL, EINVAL, "`index.json` leads outside the image directory");
	rm_rf(dir);
}

TEST(image_oci_malformed_json)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_one_image(dir, "");

	write_file(dir, "index.json", "{\"manifests\": [", 15);
	check_refused(dir, NULL, NULL, EINVAL, "`index.json`: invalid JSON: ");
	write_json(dir, "index.json", "{'schemaVersion':2,'manifests':[{'mediaType':7}]}");
	check_refused(dir, NULL, NULL, EINVAL,
		      "`index.json`: manifests[0].mediaType: expected a string");
	write_json(dir, "index.json", "{'schemaVersion':1,'manifests':[]}");
	check_refused(dir, NULL, NULL, EINVAL, "`index.json`: schemaVersion: `1` is not 2");
	write_json(dir, "index.json", "{'schemaVersion':2}");
	check_refused(dir, NULL, NULL, EINVAL, "`index.json`: manifests: is required");
	write_json(dir, "index.json", "[]");
	check_refused(dir, NULL, NULL, EINVAL, "`index.json`: expected an object");
	write_json(dir, "index.json", "{'schemaVersion':2,'manifests':[]}");
	check_refused(dir, NULL, NULL, EINVAL,
		      "no image in `index.json` for ref `(any)` and platform `linux/amd64`: "
		      "no images");
	blob_release(&m);
	rm_rf(dir);
}

/* A manifest whose blob is fine but whose media types are wrong. */
static void check_manifest_refused(const char *manifest_type, const char *config_type,
				   const char *layer_type, const char *msg_after_name)
{
	cleanup_free char *dir = make_dir();
	struct blob c = put_blob(dir, "{}", true), l = put_blob(dir, "layer", false);
	cleanup_free char *cd = desc(&c, config_type, ""), *ld = desc(&l, layer_type, "");
	cleanup_free char *text =
	    unit_fmt("{'schemaVersion':2,'mediaType':'%s','config':%s,'layers':[%s]}",
		     manifest_type, cd, ld);
	struct blob m = put_blob(dir, text, true);
	cleanup_free char *md = desc(&m, OCI_MANIFEST, "");
	cleanup_free char *msg = unit_fmt("`%s`: %s", m.rel, msg_after_name);

	put_index(dir, md);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&c);
	blob_release(&l);
	blob_release(&m);
	rm_rf(dir);
}

TEST(image_oci_layer_media_types)
{
	check_manifest_refused(OCI_MANIFEST, OCI_CONFIG,
			       "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
			       "layers[0].mediaType: `application/vnd.oci.image.layer.v1.tar+gzip+"
			       "encrypted`: encrypted layers are not supported");
	check_manifest_refused(
	    OCI_MANIFEST, OCI_CONFIG, "application/x-rar",
	    "layers[0].mediaType: `application/x-rar` is not a layer media type");
	check_manifest_refused(OCI_MANIFEST, "text/plain", OCI_LAYER,
			       "config.mediaType: `text/plain` is not an image config media type");
	check_manifest_refused(OCI_INDEX, OCI_CONFIG, OCI_LAYER,
			       "mediaType: `" OCI_INDEX "` is not an image manifest");
}

/* The accepted kinds, docker's among them, read back in order. */
TEST(image_oci_layer_media_types_accepted)
{
	static const char *const types[] = {
	    "application/vnd.oci.image.layer.v1.tar",
	    "application/vnd.oci.image.layer.v1.tar+zstd",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	    "application/vnd.docker.image.rootfs.diff.tar.gzip",
	};
	cleanup_free char *dir = make_dir();
	struct blob c = put_blob(dir, "{}", true);
	cleanup_free char *cd = desc(&c, "application/vnd.docker.container.image.v1+json", "");
	cleanup_free char *layers = strdup("");
	cleanup_free char *mt = NULL, *md = NULL;
	struct blob m;
	struct oci_image *img;

	for (size_t i = 0; i < N_ELEMENTS(types); i++) {
		cleanup_free char *text = unit_fmt("layer %zu", i);
		struct blob l = put_blob(dir, text, false);
		cleanup_free char *ld = desc(&l, types[i], "");
		char *more = unit_fmt("%s%s%s", layers, i ? "," : "", ld);

		free(layers);
		layers = more;
		blob_release(&l);
	}
	mt = unit_fmt(
	    "{'schemaVersion':2,'mediaType':'application/vnd.docker.distribution.manifest.v2+"
	    "json','config':%s,'layers':[%s]}",
	    cd, layers);
	m = put_blob(dir, mt, true);
	md = desc(&m, "application/vnd.docker.distribution.manifest.v2+json", "");
	put_index(dir, md);
	img = open_ok(dir, NULL, NULL);
	CHECK_INT(img->n_layers, ==, N_ELEMENTS(types));
	check_layer(img, 0, dir, "layer 0");
	check_layer(img, 3, dir, "layer 3");
	oci_image_free(img);
	blob_release(&c);
	blob_release(&m);
	rm_rf(dir);
}

/* No platform in the index: the config says it is for another machine. */
TEST(image_oci_config_platform_checked)
{
	cleanup_free char *dir = make_dir();
	struct blob m = put_image(dir, "arm64", "x");
	cleanup_free char *md = desc(&m, OCI_MANIFEST, "");
	cleanup_free char *config = config_text("arm64", "x");
	struct blob c = put_blob(dir, config, true);
	cleanup_free char *msg =
	    unit_fmt("`%s`: the image is for `linux/arm64`, not `linux/amd64`", c.rel);
	struct oci_image *img;

	put_index(dir, md);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	img = open_ok(dir, NULL, "linux/arm64");
	oci_image_free(img);
	blob_release(&m);
	blob_release(&c);
	rm_rf(dir);
}

TEST(image_oversized_document)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;

	put_index(dir, "");
	path = unit_fmt("%s/index.json", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0 && ftruncate(fd, (5 << 20)) == 0);
	check_refused(dir, NULL, NULL, EINVAL, "`index.json`: larger than 4 MiB");
	rm_rf(dir);
}

/* ---- docker-archive ---- */

/* A docker-archive of two layers: config <hex>.json, layers in <dir>/layer.tar. */
static void put_docker(const char *dir, const char *tag, const char *cmd, char **entry,
		       char **config_rel)
{
	cleanup_free char *l1 = unit_fmt("%s one", tag), *l2 = unit_fmt("%s two", tag);
	char d1[72], d2[72], cd[72];
	cleanup_free char *config = NULL, *rel1 = NULL, *rel2 = NULL, *crel = NULL;

	digest_of(l1, strlen(l1), d1);
	digest_of(l2, strlen(l2), d2);
	rel1 = unit_fmt("%.12s/layer.tar", d1 + 7);
	rel2 = unit_fmt("%.12s.tar", d2 + 7);
	write_file(dir, rel1, l1, strlen(l1));
	write_file(dir, rel2, l2, strlen(l2));
	config =
	    unit_fmt("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"%s\"],"
		     "\"Entrypoint\":null,\"Labels\":null},"
		     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]}}",
		     cmd, d1, d2);
	digest_of(config, strlen(config), cd);
	crel = unit_fmt("%s.json", cd + 7);
	write_file(dir, crel, config, strlen(config));
	*entry = unit_fmt("{'Config':'%s','RepoTags':['%s'],'Layers':['%s','%s']}", crel, tag, rel1,
			  rel2);
	if (config_rel)
		*config_rel = steal_ptr(&crel);
}

static void put_docker_manifest(const char *dir, const char *entries)
{
	cleanup_free char *text = unit_fmt("[%s]", entries);

	write_json(dir, "manifest.json", text);
}

TEST(image_docker_archive)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *entry = NULL, *p1 = NULL, *p2 = NULL;
	char d1[72], d2[72];
	struct oci_image *img;

	put_docker(dir, "localhost/a:latest", "run a", &entry, NULL);
	put_docker_manifest(dir, entry);
	img = open_ok(dir, NULL, NULL);
	CHECK_INT(img->n_layers, ==, 2);
	digest_of("localhost/a:latest one", 22, d1);
	digest_of("localhost/a:latest two", 22, d2);
	p1 = unit_fmt("%s/%.12s/layer.tar", dir, d1 + 7);
	p2 = unit_fmt("%s/%.12s.tar", dir, d2 + 7);
	CHECK_STR(img->layers[0].path, p1);
	CHECK_STR(img->layers[0].digest, d1);
	CHECK_STR(img->layers[1].path, p2);
	CHECK_STR(img->layers[1].digest, d2);
	CHECK_STR(img->cmd.v[0], "run a");
	CHECK_INT(img->entrypoint.n, ==, 0);
	oci_image_free(img);
	img = open_ok(dir, "localhost/a:latest", NULL);
	oci_image_free(img);
	check_refused(dir, "localhost/b:latest", NULL, EINVAL,
		      "no image in `manifest.json` for ref `localhost/b:latest`: "
		      "`localhost/a:latest`");
	rm_rf(dir);
}

TEST(image_docker_choice_by_tag)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *a = NULL, *b = NULL, *entries = NULL;
	struct oci_image *img;

	put_docker(dir, "a:1", "run a", &a, NULL);
	put_docker(dir, "b:2", "run b", &b, NULL);
	entries = unit_fmt("%s,%s", a, b);
	put_docker_manifest(dir, entries);
	img = open_ok(dir, "b:2", NULL);
	CHECK_STR(img->cmd.v[0], "run b");
	oci_image_free(img);
	check_refused(dir, NULL, NULL, EINVAL,
		      "several images in `manifest.json` for ref `(any)`: `a:1`, `b:2`");
	rm_rf(dir);
}

TEST(image_docker_digest_mismatch)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *entry = NULL, *rel = NULL, *msg = NULL;
	char d[72];

	put_docker(dir, "t", "x", &entry, NULL);
	put_docker_manifest(dir, entry);
	digest_of("t two", 5, d);
	rel = unit_fmt("%.12s.tar", d + 7);
	tamper(dir, rel);
	msg = unit_fmt("digest mismatch for `%s`", rel);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	rm_rf(dir);
}

/* A config named by its digest is checked against the name. */
TEST(image_docker_config_name_checked)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *entry = NULL, *crel = NULL, *msg = NULL;

	put_docker(dir, "t", "x", &entry, &crel);
	put_docker_manifest(dir, entry);
	tamper(dir, crel);
	msg = unit_fmt("digest mismatch for `%s`", crel);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	rm_rf(dir);
}

/* docker save (25 and later) keeps the config in blobs/sha256/<hex>. */
TEST(image_docker_config_in_blobs_checked)
{
	cleanup_free char *dir = make_dir();
	struct blob c = put_blob(dir, "{'rootfs':{'diff_ids':[]},'config':{'Cmd':['x']}}", true);
	cleanup_free char *entry = unit_fmt("{'Config':'%s','Layers':[]}", c.rel);
	cleanup_free char *msg = unit_fmt("digest mismatch for `%s`", c.rel);
	struct oci_image *img;

	put_docker_manifest(dir, entry);
	img = open_ok(dir, NULL, NULL);
	CHECK_STR(img->cmd.v[0], "x");
	CHECK_INT(img->n_layers, ==, 0);
	oci_image_free(img);
	tamper(dir, c.rel);
	check_refused(dir, NULL, NULL, EINVAL, msg);
	blob_release(&c);
	rm_rf(dir);
}

/* Paths in manifest.json stay inside the directory. */
TEST(image_docker_hostile_paths)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *outside = make_dir();
	cleanup_free char *link = unit_fmt("%s/link", dir);

	put_docker_manifest(dir, "{'Config':'c.json','Layers':['../x.tar']}");
	check_refused(dir, NULL, NULL, EINVAL,
		      "`manifest.json`: [0].Layers[0]: `../x.tar` is not a relative path inside "
		      "the archive");
	put_docker_manifest(dir, "{'Config':'c.json','Layers':['a.tar','a/../../x.tar']}");
	check_refused(dir, NULL, NULL, EINVAL,
		      "`manifest.json`: [0].Layers[1]: `a/../../x.tar` is not a relative path");
	put_docker_manifest(dir, "{'Config':'c.json','Layers':['/etc/passwd']}");
	check_refused(dir, NULL, NULL, EINVAL, "`manifest.json`: [0].Layers[0]: `/etc/passwd`");
	put_docker_manifest(dir, "{'Config':'sub/..','Layers':[]}");
	check_refused(dir, NULL, NULL, EINVAL, "`manifest.json`: [0].Config: `sub/..`");
	put_docker_manifest(dir, "{'Config':'','Layers':[]}");
	check_refused(dir, NULL, NULL, EINVAL, "`manifest.json`: [0].Config: `` is not");

	/* Through a symlink: link -> a directory outside. */
	write_file(outside, "layer.tar", "x", 1);
	write_file(outside, "c.json", "{}", 2);
	CHECK(symlink(outside, link) == 0);
	put_docker_manifest(dir, "{'Config':'link/c.json','Layers':[]}");
	check_refused(dir, NULL, NULL, EINVAL, "`link/c.json` leads outside the image directory");
	write_json(dir, "c.json",
		   "{'rootfs':{'diff_ids':['sha256:"
		   "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881']}}");
	put_docker_manifest(dir, "{'Config':'c.json','Layers':['link/layer.tar']}");
	check_refused(dir, NULL, NULL, EINVAL,
		      "`link/layer.tar` leads outside the image directory");
	rm_rf(dir);
	rm_rf(outside);
}

TEST(image_docker_malformed)
{
	cleanup_free char *dir = make_dir();

	put_docker_manifest(dir, "{'Config':'c.json','Layers':['a','b',7]}");
	check_refused(dir, NULL, NULL, EINVAL, "`manifest.json`: [0].Layers[2]: expected a string");
	write_json(dir, "manifest.json", "{}");
	check_refused(dir, NULL, NULL, EINVAL, "`manifest.json`: expected an array");
	put_docker_manifest(dir, "{'Layers':[]}");
	check_refused(dir, NULL, NULL, EINVAL, "`manifest.json`: [0].Config: is required");
	put_docker_manifest(dir, "{'Config':'c.json','Layers':['a.tar']}");
	check_refused(dir, NULL, NULL, ENOENT, "open `c.json`");
	write_json(dir, "c.json", "{'rootfs':{'diff_ids':[]}}");
	check_refused(
	    dir, NULL, NULL, EINVAL,
	    "`c.json`: rootfs.diff_ids: 0 entries for the 1 layers `manifest.json` lists");
	write_json(dir, "c.json", "{'rootfs':{'diff_ids':['sha256:../../x']}}");
	check_refused(dir, NULL, NULL, EINVAL,
		      "`c.json`: rootfs.diff_ids[0]: `sha256:../../x` is not a sha256 digest");
	write_json(dir, "c.json", "{'config':{'Env':'PATH=/'}}");
	check_refused(dir, NULL, NULL, EINVAL, "`c.json`: config.Env: expected an array");
	write_json(dir, "c.json", "{}");
	check_refused(dir, NULL, NULL, EINVAL, "`c.json`: rootfs: is required");
	rm_rf(dir);
}

/* ---- oci_image_user ---- */

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "# a comment line\n"
			     "short:x\n"
			     "app:x:1000:1001::/home/app:/bin/sh\n"
			     "svc:x:200:300::/:/sbin/nologin";
static const char group[] = "root:x:0:\nstaff:x:50:app\napp:x:1001:\n";

static char *make_rootfs(void)
{
	char *root = make_dir();

	write_file(root, "etc/passwd", passwd, strlen(passwd));
	write_file(root, "etc/group", group, strlen(group));
	return root;
}

static void check_user(const char *rootfs, const char *user, uint32_t uid, uint32_t gid)
{
	struct oci_image img = {.user = (char *)user};
	uint32_t u = 99, g = 99;
	mv_error_t err = {0};

	if (oci_image_user(&img, rootfs, &u, &g, &err) < 0)
		unit_fail(__FILE__, __LINE__, "user `%s`: %s", user ? user : "(null)", err.msg);
	CHECK_INT(u, ==, uid);
	CHECK_INT(g, ==, gid);
}

static void check_user_refused(const char *rootfs, const char *user, int errnum, const char *msg)
{
	struct oci_image img = {.user = (char *)user};
	uint32_t u, g;
	mv_error_t err = {0};

	CHECK_INT(oci_image_user(&img, rootfs, &u, &g, &err), ==, -1);
	CHECK_INT(err.err, ==, errnum);
	CHECK_STR(err.msg, msg);
	mv_error_release(&err);
}

TEST(image_user_names_and_numbers)
{
	cleanup_free char *root = make_rootfs();

	check_user(root, NULL, 0, 0);
	check_user(root, "", 0, 0);
	check_user(root, "app", 1000, 1001);
	check_user(root, "svc", 200, 300);
	check_user(root, "app:staff", 1000, 50);
	check_user(root, "app:77", 1000, 77);
	check_user(root, "1000", 1000, 1001); /* the passwd entry's group */
	check_user(root, "4242", 4242, 0);    /* not in passwd: group 0 */
	check_user(root, "4242:staff", 4242, 50);
	check_user(root, "0:0", 0, 0);
	check_user(root, "5:6", 5, 6);
	rm_rf(root);
}

TEST(image_user_missing_names)
{
	cleanup_free char *root = make_rootfs();

	check_user_refused(root, "nobody", ENOENT,
			   "user `nobody` is not in `/etc/passwd` of the image");
	check_user_refused(root, "app:wheel", ENOENT,
			   "group `wheel` is not in `/etc/group` of the image");
	check_user_refused(root, "short", ENOENT,
			   "user `short` is not in `/etc/passwd` of the image");
	check_user_refused(root, ":staff", EINVAL, "image user `:staff` is not user[:group]");
	check_user_refused(root, "app:", EINVAL, "image user `app:` is not user[:group]");
	/* -1 is no uid: taken as a name, which is not there. */
	check_user_refused(root, "4294967295", ENOENT,
			   "user `4294967295` is not in `/etc/passwd` of the image");
	rm_rf(root);
}

TEST(image_user_without_files)
{
	cleanup_free char *root = make_dir();
	cleanup_free char *path = NULL;

	check_user(root, "1000:1000", 1000, 1000);
	check_user(root, "1000", 1000, 0);
	check_user_refused(root, "app", ENOENT, "user `app` is not in `/etc/passwd` of the image");
	check_user_refused("/nonexistent-rootfs", "app", ENOENT, "open `/nonexistent-rootfs`");
	/* A fifo must not hang the lookup. */
	write_file(root, "etc/group", "", 0);
	path = unit_fmt("%s/etc/passwd", root);
	CHECK(mkfifo(path, 0600) == 0);
	check_user_refused(root, "app", EINVAL, "`/etc/passwd` of the image is not a regular file");
	check_user_refused(root, "1", EINVAL, "`/etc/passwd` of the image is not a regular file");
	rm_rf(root);
}

/* /etc/passwd a symlink that would lead out of the rootfs: read inside it. */
TEST(image_user_symlink_stays_in_rootfs)
{
	cleanup_free char *top = make_dir();
	cleanup_free char *root = unit_fmt("%s/rootfs", top);
	cleanup_free char *link = NULL;
	static const char evil[] = "evil:x:666:666::/:/bin/sh\n";
	static const char good[] = "good:x:5:6::/:/bin/sh\n";

	write_file(top, "etc/users", evil, strlen(evil));
	CHECK(mkdir(root, 0755) == 0);
	write_file(root, "etc/users", good, strlen(good));
	link = unit_fmt("%s/etc/passwd", root);
	CHECK(symlink("../../etc/users", link) == 0);
	check_user(root, "good", 5, 6);
	check_user_refused(root, "evil", ENOENT,
			   "user `evil` is not in `/etc/passwd` of the image");
	CHECK(unlink(link) == 0);
	CHECK(symlink("/etc/users", link) == 0);
	check_user(root, "good", 5, 6);
	rm_rf(top);
}

/* ---- oci_image_config_json ---- */

static struct oci_config *config_of(const struct oci_image *img, uint32_t uid, uint32_t gid)
{
	cleanup_free char *json = NULL;
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	if (oci_image_config_json(img, uid, gid, &json, &err) < 0)
		unit_fail(__FILE__, __LINE__, "config: %s", err.msg);
	if (oci_config_parse(json, strlen(json), "config.json", &c, &err) < 0)
		unit_fail(__FILE__, __LINE__, "parse: %s", err.msg);
	return c;
}

TEST(image_config_json_from_image)
{
	struct oci_image img = {
	    .entrypoint = STRV("/bin/sh", "-c"),
	    .cmd = STRV("echo hi"),
	    .env = STRV("PATH=/opt/bin", "FOO=a=b"),
	    .working_dir = "/srv",
	    .labels = {(char *[]){"org.example", "b"}, (char *[]){"yes", "2"}, 2},
	};
	struct oci_config *c = config_of(&img, 1000, 50);
	struct oci_process *p = c->process;

	CHECK_INT(p->args.n, ==, 3);
	CHECK_STR(p->args.v[0], "/bin/sh");
	CHECK_STR(p->args.v[1], "-c");
	CHECK_STR(p->args.v[2], "echo hi");
	CHECK_INT(p->env.n, ==, 3);
	CHECK_STR(p->env.v[0], "PATH=/opt/bin");
	CHECK_STR(p->env.v[1], "TERM=xterm");
	CHECK_STR(p->env.v[2], "FOO=a=b");
	CHECK_STR(p->cwd, "/srv");
	CHECK_INT(p->user.uid, ==, 1000);
	CHECK_INT(p->user.gid, ==, 50);
	CHECK(!p->terminal);
	CHECK_INT(c->annotations.n, ==, 2);
	CHECK_STR(c->annotations.keys[0], "org.example");
	CHECK_STR(c->annotations.values[0], "yes");
	CHECK_STR(c->annotations.values[1], "2");
	/* The rest is `mvrun spec`'s. */
	CHECK(c->root != NULL);
	CHECK_STR(c->root->path, "rootfs");
	CHECK(c->n_mounts > 0);
	oci_config_free(c);
}

TEST(image_config_json_defaults)
{
	struct oci_image img = {.cmd = STRV("/app")};
	struct oci_config *c = config_of(&img, 0, 0);

	CHECK_INT(c->process->args.n, ==, 1);
	CHECK_STR(c->process->args.v[0], "/app");
	CHECK_STR(c->process->cwd, "/");
	CHECK_INT(c->process->env.n, ==, 2);
	CHECK_INT(c->annotations.n, ==, 0);
	oci_config_free(c);

	img.working_dir = "work/dir";
	img.entrypoint = STRV("/entry");
	img.cmd = (struct oci_strv){0};
	c = config_of(&img, 0, 0);
	CHECK_STR(c->process->cwd, "/work/dir");
	CHECK_INT(c->process->args.n, ==, 1);
	CHECK_STR(c->process->args.v[0], "/entry");
	oci_config_free(c);
}

TEST(image_config_json_refused)
{
	struct oci_image img = {0};
	char *json = NULL;
	mv_error_t err = {0};

	CHECK_INT(oci_image_config_json(&img, 0, 0, &json, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, "image has no Entrypoint or Cmd");
	CHECK(json == NULL);
	mv_error_release(&err);
	img.cmd = STRV("x");
	img.env = STRV("NOEQUALS");
	CHECK_INT(oci_image_config_json(&img, 0, 0, &json, &err), ==, -1);
	CHECK_STR(err.msg, "image Env entry `NOEQUALS` is not NAME=value");
	mv_error_release(&err);
}

/* From an image directory to config.json, as `mvrun unpack` goes. */
TEST(image_config_json_end_to_end)
{
	cleanup_free char *dir = make_dir();
	cleanup_free char *root = make_rootfs();
	struct blob m = put_one_image(dir, "");
	struct oci_image *img = open_ok(dir, NULL, NULL);
	struct oci_config *c;
	mv_error_t err = {0};
	uint32_t uid, gid;

	CHECK_INT(oci_image_user(img, root, &uid, &gid, &err), ==, 0);
	c = config_of(img, uid, gid);
	CHECK_INT(c->process->user.uid, ==, 1000);
	CHECK_INT(c->process->user.gid, ==, 1001);
	CHECK_STR(c->process->env.v[0], "PATH=/usr/bin");
	CHECK_STR(c->process->env.v[2], "FOO=bar");
	CHECK_STR(c->process->args.v[2], "echo hi");
	oci_config_free(c);
	oci_image_free(img);
	blob_release(&m);
	rm_rf(dir);
	rm_rf(root);
}
