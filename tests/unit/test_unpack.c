/* runtime/unpack.c: image archives that the tests build themselves (OCI
 * layouts and docker-archives, as directories and as tars) unpacked into
 * bundles; failures must leave neither the bundle nor a temporary dir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "oci/config.h"
#include "oci/sha256.h"
#include "runtime/cleanup.h"
#include "runtime/container.h"
#include "runtime/image_cache.h"
#include "runtime/state.h"
#include "runtime/unpack.h"
#include "tests/unit/unit.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG   "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER_GZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_LAYER    "application/vnd.oci.image.layer.v1.tar"

/* ---- files ---- */

/* The JSON here is written with ' for " to stay readable. */
static char *json(const char *text)
{
	char *s = strdup(text);

	CHECK(s != NULL);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

static void mkdirs(const char *path)
{
	cleanup_free char *p = strdup(path);

	CHECK(p != NULL);
	for (char *s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		CHECK(mkdir(p, 0755) == 0 || errno == EEXIST);
		*s = '/';
	}
}

static void write_file(const char *path, const void *data, size_t len)
{
	cleanup_close int fd = -1;

	mkdirs(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, data, len), ==, len);
}

static char *read_text(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(n >= 0);
	buf[n] = '\0';
	return strdup(buf);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- a test's directory ---- */

struct fx {
	char base[64];
	char image[128];  /* the image directory */
	char bundle[128]; /* where it is unpacked */
	char tar[128];	  /* the image as a tar */
};

static void fx_init(struct fx *f)
{
	strcpy(f->base, "/tmp/mvrun-unpack.XXXXXX");
	CHECK(mkdtemp(f->base) != NULL);
	snprintf(f->image, sizeof(f->image), "%s/image", f->base);
	snprintf(f->bundle, sizeof(f->bundle), "%s/bundle", f->base);
	snprintf(f->tar, sizeof(f->tar), "%s/image.tar", f->base);
	CHECK_INT(mkdir(f->image, 0755), ==, 0);
}

static void fx_release(struct fx *f)
{
	rm_rf(f->base);
}

/* f->bundle/rel */
static char *in_bundle(const struct fx *f, const char *rel)
{
	return unit_fmt("%s/%s", f->bundle, rel);
}

/* What is in base besides the image and its tar: the bundle and nothing
 * else after a success, nothing at all after a failure. */
static int leftovers(const struct fx *f)
{
	cleanup_dir DIR *d = opendir(f->base);
	struct dirent *de;
	int n = 0;

	CHECK(d != NULL);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "image") && strcmp(de->d_name, "image.tar") &&
		    strcmp(de->d_name, "sentinel"))
			n++;
	return n;
}

/* ---- layers and blobs ---- */

/* One layer entry.  kind: 'd' dir, 'f' file (arg: content), 'l' symlink
 * (arg: target), 'h' hardlink (arg: target). */
struct ent {
	const char *path;
	char kind;
	const char *arg;
	mode_t perm; /* 0: 0755 for dirs, 0644 else */
};

static void add_entry(struct archive *a, const struct ent *x)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = x->kind == 'f' && x->arg ? strlen(x->arg) : 0;

	CHECK(e != NULL);
	archive_entry_set_pathname(e, x->path);
	archive_entry_set_filetype(e, x->kind == 'd'   ? AE_IFDIR
				      : x->kind == 'l' ? AE_IFLNK
						       : AE_IFREG);
	archive_entry_set_perm(e, x->perm ? x->perm : x->kind == 'd' ? 0755 : 0644);
	archive_entry_set_mtime(e, 1000000000, 0);
	archive_entry_set_size(e, (la_int64_t)len);
	if (x->kind == 'l')
		archive_entry_set_symlink(e, x->arg);
	if (x->kind == 'h')
		archive_entry_set_hardlink(e, x->arg);
	CHECK_INT(archive_write_header(a, e), ==, ARCHIVE_OK);
	if (len)
		CHECK_INT(archive_write_data(a, x->arg, len), ==, (la_ssize_t)len);
	archive_entry_free(e);
}

/* A tar (gzip'd when asked) of ents, in memory; *len its size. */
static char *make_tar(const struct ent *ents, size_t n, bool gzip, size_t *len)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	struct archive *a = archive_write_new();

	CHECK(buf != NULL && a != NULL);
	CHECK_INT(archive_write_set_format_pax_restricted(a), ==, ARCHIVE_OK);
	if (gzip)
		CHECK_INT(archive_write_add_filter_gzip(a), ==, ARCHIVE_OK);
	CHECK_INT(archive_write_open_memory(a, buf, cap, len), ==, ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		add_entry(a, &ents[i]);
	CHECK_INT(archive_write_close(a), ==, ARCHIVE_OK);
	archive_write_free(a);
	return buf;
}

struct blob {
	char digest[72]; /* sha256:<hex> */
	size_t size;
};

static struct blob digest_of(const void *data, size_t len)
{
	uint8_t d[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE];
	struct sha256 s;
	struct blob b = {.size = len};

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, d);
	sha256_hex(d, hex);
	snprintf(b.digest, sizeof(b.digest), "sha256:%s", hex);
	return b;
}

static struct blob put_blob(const char *dir, const void *data, size_t len)
{
	struct blob b = digest_of(data, len);
	cleanup_free char *path = unit_fmt("%s/blobs/sha256/%s", dir, b.digest + 7);

	write_file(path, data, len);
	return b;
}

static struct blob put_json_blob(const char *dir, const char *text)
{
	cleanup_free char *s = json(text);

	return put_blob(dir, s, strlen(s));
}

static struct blob put_layer(const char *dir, const struct ent *ents, size_t n)
{
	size_t len;
	cleanup_free char *tar = make_tar(ents, n, true, &len);

	return put_blob(dir, tar, len);
}

#define IMAGE_CONFIG                                                                               \
	"{'os':'linux','architecture':'amd64','config':{'Entrypoint':['/bin/sh','-c'],"            \
	"'Cmd':['echo hi'],'Env':['PATH=/usr/bin:/bin','FOO=bar'],'WorkingDir':'/srv',"            \
	"'User':'app','Labels':{'org.example':'yes'}},"                                            \
	"'rootfs':{'type':'layers','diff_ids':[]}}"

/* An OCI layout in dir: the config above and layers (lowest first). */
static void put_oci(const char *dir, const struct blob *layers, size_t n)
{
	struct blob c = put_json_blob(dir, IMAGE_CONFIG), m;
	cleanup_free char *list = strdup(""), *manifest = NULL, *index = NULL, *layout = NULL;

	for (size_t i = 0; i < n; i++) {
		char *longer =
		    unit_fmt("%s%s{'mediaType':'" OCI_LAYER_GZ "','digest':'%s','size':%zu}", list,
			     i ? "," : "", layers[i].digest, layers[i].size);
		free(list);
		list = longer;
	}
	manifest = unit_fmt("{'schemaVersion':2,'mediaType':'" OCI_MANIFEST
			    "','config':{'mediaType':'" OCI_CONFIG
			    "','digest':'%s','size':%zu},'layers':[%s]}",
			    c.digest, c.size, list);
	m = put_json_blob(dir, manifest);
	index = unit_fmt("{'schemaVersion':2,'manifests':[{'mediaType':'" OCI_MANIFEST
			 "','digest':'%s','size':%zu,'annotations':"
			 "{'org.opencontainers.image.ref.name':'latest'}}]}",
			 m.digest, m.size);
	free(manifest);
	manifest = json(index);
	layout = unit_fmt("%s/index.json", dir);
	write_file(layout, manifest, strlen(manifest));
	free(layout);
	layout = unit_fmt("%s/oci-layout", dir);
	write_file(layout, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
}

/* The base image of most tests: a shell, a user `app` (1000:1001), /srv,
 * a symlink and a hardlink. */
static const struct ent base_layer[] = {
    {.path = "bin/", .kind = 'd'},
    {.path = "bin/sh", .kind = 'f', .arg = "#!shell", .perm = 0755},
    {.path = "bin/ash", .kind = 'h', .arg = "bin/sh"},
    {.path = "etc/passwd",
     .kind = 'f',
     .arg = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/srv:/bin/sh\n"},
    {.path = "srv/", .kind = 'd', .perm = 0750},
    {.path = "lib", .kind = 'l', .arg = "usr/lib"},
    {.path = "usr/lib/libc.so", .kind = 'f', .arg = "libc"},
};

static void put_base_image(const struct fx *f)
{
	struct blob l = put_layer(f->image, base_layer, N_ELEMENTS(base_layer));

	put_oci(f->image, &l, 1);
}

/* dir as a tar (gzip'd when asked) at path, with its symlinks as they are. */
static struct archive *tar_out;
static size_t tar_skip;

static int tar_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct archive_entry *e = archive_entry_new();
	const char *rel = path + tar_skip;
	char target[256];

	CHECK(e != NULL);
	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, *rel ? rel + 1 : ".");
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		CHECK(n > 0);
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	if (!S_ISREG(st->st_mode))
		archive_entry_set_size(e, 0);
	CHECK_INT(archive_write_header(tar_out, e), ==, ARCHIVE_OK);
	if (S_ISREG(st->st_mode) && st->st_size > 0) {
		cleanup_free char *data = malloc((size_t)st->st_size);
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		CHECK(data != NULL && fd >= 0);
		CHECK_INT(read(fd, data, (size_t)st->st_size), ==, st->st_size);
		close(fd);
		CHECK_INT(archive_write_data(tar_out, data, (size_t)st->st_size), ==, st->st_size);
	}
	archive_entry_free(e);
	return 0;
}

static void tar_dir(const char *dir, const char *path, bool gzip)
{
	tar_out = archive_write_new();
	tar_skip = strlen(dir);
	CHECK(tar_out != NULL);
	CHECK_INT(archive_write_set_format_pax_restricted(tar_out), ==, ARCHIVE_OK);
	if (gzip)
		CHECK_INT(archive_write_add_filter_gzip(tar_out), ==, ARCHIVE_OK);
	CHECK_INT(archive_write_open_filename(tar_out, path), ==, ARCHIVE_OK);
	CHECK_INT(nftw(dir, tar_one, 16, FTW_PHYS), ==, 0);
	CHECK_INT(archive_write_close(tar_out), ==, ARCHIVE_OK);
	archive_write_free(tar_out);
}

/* ---- unpacking ---- */

static void unpack_ok(const struct fx *f, const char *archive)
{
	struct unpack_opts o = {.archive = archive, .bundle = f->bundle};
	mv_error_t err = {0};

	if (unpack_image(&o, &err) < 0)
		unit_fail(__FILE__, __LINE__, "unpack: %s", err.msg);
}

/* Unpacking fails with errnum and a message holding want, and leaves
 * nothing behind. */
static void unpack_fails(const struct fx *f, const char *archive, int errnum, const char *want)
{
	struct unpack_opts o = {.archive = archive, .bundle = f->bundle};
	mv_error_t err = {0};
	cleanup_free char *prefix = unit_fmt("unpack `%s`: ", archive);

	CHECK_INT(unpack_image(&o, &err), ==, -1);
	CHECK_INT(err.err, ==, errnum);
	if (err.msg == NULL || strstr(err.msg, want) == NULL ||
	    strncmp(err.msg, prefix, strlen(prefix)) != 0)
		unit_fail(__FILE__, __LINE__, "message `%s` lacks `%s`", err.msg, want);
	mv_error_release(&err);
	CHECK(!exists(f->bundle));
	CHECK_INT(leftovers(f), ==, 0);
}

static struct oci_config *load_config(const struct fx *f)
{
	cleanup_free char *path = in_bundle(f, "config.json");
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	if (oci_config_load(path, &c, &err) < 0)
		unit_fail(__FILE__, __LINE__, "config.json: %s", err.msg);
	return c;
}

static bool has_env(const struct oci_strv *env, const char *entry)
{
	for (size_t i = 0; i < env->n; i++)
		if (strcmp(env->v[i], entry) == 0)
			return true;
	return false;
}

/* The base image's rootfs and config.json. */
static void check_base_bundle(const struct fx *f)
{
	cleanup_free char *sh = in_bundle(f, "rootfs/bin/sh"),
			  *ash = in_bundle(f, "rootfs/bin/ash");
	cleanup_free char *lib = in_bundle(f, "rootfs/lib"), *srv = in_bundle(f, "rootfs/srv");
	cleanup_free char *image = in_bundle(f, ".image"), *text = read_text(sh);
	cleanup_free char *libc = in_bundle(f, "rootfs/lib/libc.so"), *libc_text = NULL;
	struct oci_config *c = load_config(f);
	struct stat st, st2;
	char target[64];
	ssize_t n;

	CHECK_STR(text, "#!shell");
	CHECK_INT(lstat(sh, &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0755);
	CHECK_INT(lstat(ash, &st2), ==, 0);
	CHECK_INT(st.st_ino, ==, st2.st_ino);
	n = readlink(lib, target, sizeof(target) - 1);
	CHECK_INT(n, ==, 7);
	target[n] = '\0';
	CHECK_STR(target, "usr/lib");
	libc_text = read_text(libc);
	CHECK_STR(libc_text, "libc");
	CHECK_INT(lstat(srv, &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0750);
	CHECK(!exists(image));
	CHECK_INT(stat(f->bundle, &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0755);

	CHECK_INT(c->process->args.n, ==, 3);
	CHECK_STR(c->process->args.v[0], "/bin/sh");
	CHECK_STR(c->process->args.v[2], "echo hi");
	CHECK(has_env(&c->process->env, "FOO=bar"));
	CHECK(has_env(&c->process->env, "PATH=/usr/bin:/bin"));
	CHECK_STR(c->process->cwd, "/srv");
	CHECK_INT(c->process->user.uid, ==, 1000);
	CHECK_INT(c->process->user.gid, ==, 1001);
	CHECK_STR(c->root->path, "rootfs");
	CHECK(!c->root->readonly);
	CHECK_INT(c->annotations.n, ==, 1);
	CHECK_STR(c->annotations.keys[0], "org.example");
	CHECK_STR(c->annotations.values[0], "yes");
	CHECK_INT(c->hooks.n_poststop, ==, 0);
	oci_config_free(c);
	CHECK_INT(leftovers(f), ==, 1);
}

TEST(unpack_oci_directory)
{
	struct fx f;

	fx_init(&f);
	put_base_image(&f);
	unpack_ok(&f, f.image);
	check_base_bundle(&f);
	fx_release(&f);
}

TEST(unpack_oci_tar_and_tar_gz)
{
	struct fx f;

	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	unpack_ok(&f, f.tar);
	check_base_bundle(&f);
	rm_rf(f.bundle);
	tar_dir(f.image, f.tar, true);
	unpack_ok(&f, f.tar);
	check_base_bundle(&f);
	fx_release(&f);
}

/* A trailing slash on the bundle: the temporary dir still goes beside it. */
TEST(unpack_bundle_with_trailing_slash)
{
	struct fx f;
	cleanup_free char *slashed = NULL;
	struct unpack_opts o = {0};
	mv_error_t err = {0};

	fx_init(&f);
	put_base_image(&f);
	slashed = unit_fmt("%s//", f.bundle);
	o = (struct unpack_opts){.archive = f.image, .bundle = slashed};
	CHECK_INT(unpack_image(&o, &err), ==, 0);
	check_base_bundle(&f);
	fx_release(&f);
}

/* docker save: <hex>.json, <id>/layer.tar, and an older docker's symlink
 * for a layer two images share. */
TEST(unpack_docker_archive_tar)
{
	const struct ent one[] = {
	    {.path = "bin/sh", .kind = 'f', .arg = "#!shell", .perm = 0755},
	    {.path = "etc/passwd", .kind = 'f', .arg = "app:x:7:8::/:/bin/sh\n"},
	};
	const struct ent two[] = {{.path = "etc/motd", .kind = 'f', .arg = "hello"}};
	struct fx f;
	size_t len1, len2;
	cleanup_free char *t1 = make_tar(one, N_ELEMENTS(one), false, &len1);
	cleanup_free char *t2 = make_tar(two, N_ELEMENTS(two), false, &len2);
	struct blob d1 = digest_of(t1, len1), d2 = digest_of(t2, len2), cd;
	cleanup_free char *config = NULL, *path = NULL, *manifest = NULL;
	cleanup_free char *motd = NULL, *text = NULL;
	struct oci_config *c;

	fx_init(&f);
	path = unit_fmt("%s/aaa/layer.tar", f.image);
	write_file(path, t1, len1);
	free(path);
	path = unit_fmt("%s/bbb/layer.tar", f.image);
	write_file(path, t2, len2);
	free(path);
	path = unit_fmt("%s/ccc/layer.tar", f.image);
	mkdirs(path);
	CHECK_INT(symlink("../aaa/layer.tar", path), ==, 0);
	config =
	    unit_fmt("{'architecture':'amd64','os':'linux','config':{'Cmd':['sh'],'User':'app'},"
		     "'rootfs':{'type':'layers','diff_ids':['%s','%s','%s']}}",
		     d1.digest, d2.digest, d1.digest);
	free(path);
	path = json(config);
	cd = digest_of(path, strlen(path));
	free(config);
	config = unit_fmt("%s/%s.json", f.image, cd.digest + 7);
	write_file(config, path, strlen(path));
	manifest = unit_fmt("[{'Config':'%s.json','RepoTags':['x:1'],"
			    "'Layers':['aaa/layer.tar','bbb/layer.tar','ccc/layer.tar']}]",
			    cd.digest + 7);
	free(path);
	path = json(manifest);
	free(manifest);
	manifest = unit_fmt("%s/manifest.json", f.image);
	write_file(manifest, path, strlen(path));
	tar_dir(f.image, f.tar, false);

	unpack_ok(&f, f.tar);
	motd = in_bundle(&f, "rootfs/etc/motd");
	text = read_text(motd);
	CHECK_STR(text, "hello");
	c = load_config(&f);
	CHECK_INT(c->process->user.uid, ==, 7);
	CHECK_INT(c->process->user.gid, ==, 8);
	CHECK_STR(c->process->args.v[0], "sh");
	oci_config_free(c);
	CHECK_INT(leftovers(&f), ==, 1);
	fx_release(&f);
}

TEST(unpack_layers_whiteout_and_opaque)
{
	const struct ent lower[] = {
	    {.path = "a/x", .kind = 'f', .arg = "x"},
	    {.path = "a/y", .kind = 'f', .arg = "y"},
	    {.path = "d/old", .kind = 'f', .arg = "old"},
	    {.path = "d/sub/deep", .kind = 'f', .arg = "deep"},
	    {.path = "keep/k", .kind = 'f', .arg = "k"},
	    {.path = "etc/passwd", .kind = 'f', .arg = "app:x:1:2::/:/bin/sh\n"},
	};
	const struct ent upper[] = {
	    {.path = "a/.wh.x", .kind = 'f'},
	    {.path = "d/.wh..wh..opq", .kind = 'f'},
	    {.path = "d/new", .kind = 'f', .arg = "new"},
	    {.path = "keep/k", .kind = 'f', .arg = "k2"},
	};
	struct fx f;
	struct blob l[2];
	const char *gone[] = {"rootfs/a/x", "rootfs/d/old", "rootfs/d/sub", "rootfs/a/.wh.x",
			      "rootfs/d/.wh..wh..opq"};
	cleanup_free char *y = NULL, *dnew = NULL, *k = NULL, *py = NULL, *pn = NULL, *pk = NULL;

	fx_init(&f);
	l[0] = put_layer(f.image, lower, N_ELEMENTS(lower));
	l[1] = put_layer(f.image, upper, N_ELEMENTS(upper));
	put_oci(f.image, l, 2);
	unpack_ok(&f, f.image);
	for (size_t i = 0; i < N_ELEMENTS(gone); i++) {
		cleanup_free char *p = in_bundle(&f, gone[i]);
		if (exists(p))
			unit_fail(__FILE__, __LINE__, "`%s` is still there", gone[i]);
	}
	py = in_bundle(&f, "rootfs/a/y");
	pn = in_bundle(&f, "rootfs/d/new");
	pk = in_bundle(&f, "rootfs/keep/k");
	y = read_text(py);
	dnew = read_text(pn);
	k = read_text(pk);
	CHECK_STR(y, "y");
	CHECK_STR(dnew, "new");
	CHECK_STR(k, "k2");
	fx_release(&f);
}

/* ---- failures leave nothing ---- */

TEST(unpack_digest_mismatch)
{
	struct fx f;
	struct blob l;
	cleanup_free char *path = NULL;

	fx_init(&f);
	l = put_layer(f.image, base_layer, N_ELEMENTS(base_layer));
	put_oci(f.image, &l, 1);
	path = unit_fmt("%s/blobs/sha256/%s", f.image, l.digest + 7);
	{
		/* one bit flipped: the size is right, the content is not */
		int fd = open(path, O_RDWR | O_CLOEXEC);
		char c;

		CHECK(fd >= 0);
		CHECK_INT(pread(fd, &c, 1, 100), ==, 1);
		c ^= 1;
		CHECK_INT(pwrite(fd, &c, 1, 100), ==, 1);
		close(fd);
	}
	unpack_fails(&f, f.image, EINVAL, "digest");
	fx_release(&f);
}

/* Its digest is right, its content is no archive. */
TEST(unpack_corrupt_layer)
{
	struct fx f;
	size_t len;
	cleanup_free char *tar = make_tar(base_layer, N_ELEMENTS(base_layer), true, &len);
	struct blob l[2];

	fx_init(&f);
	l[0] = put_layer(f.image, base_layer, N_ELEMENTS(base_layer));
	l[1] = put_blob(f.image, tar, len / 2);
	put_oci(f.image, l, 2);
	unpack_fails(&f, f.image, EINVAL, "apply layer");
	fx_release(&f);
}

/* The rootfs of the failed unpack held a symlink to a directory outside:
 * removing it must not follow it. */
TEST(unpack_failure_never_follows_symlinks)
{
	struct fx f;
	cleanup_free char *sentinel = NULL, *canary = NULL, *layer = NULL;
	struct ent ents[] = {
	    {.path = "out", .kind = 'l', .arg = NULL},
	    {.path = "bin/sh", .kind = 'f', .arg = "sh"},
	};
	size_t len;
	cleanup_free char *bad = NULL;
	struct blob l[2];

	fx_init(&f);
	sentinel = unit_fmt("%s/sentinel", f.base);
	canary = unit_fmt("%s/sentinel/canary", f.base);
	write_file(canary, "alive", 5);
	ents[0].arg = sentinel; /* an absolute symlink to it, as images have */
	l[0] = put_layer(f.image, ents, N_ELEMENTS(ents));
	bad = make_tar(ents, N_ELEMENTS(ents), true, &len);
	l[1] = put_blob(f.image, bad, len - 20);
	put_oci(f.image, l, 2);
	unpack_fails(&f, f.image, EINVAL, "apply layer");
	CHECK(exists(canary));
	layer = read_text(canary);
	CHECK_STR(layer, "alive");
	fx_release(&f);
}

TEST(unpack_hostile_layer_entry)
{
	const struct ent evil[] = {{.path = "../../escaped", .kind = 'f', .arg = "x"}};
	struct fx f;
	struct blob l;
	cleanup_free char *escaped = NULL;

	fx_init(&f);
	l = put_layer(f.image, evil, N_ELEMENTS(evil));
	put_oci(f.image, &l, 1);
	unpack_fails(&f, f.image, EINVAL, "leaves the root");
	escaped = unit_fmt("%s/escaped", f.base);
	CHECK(!exists(escaped));
	fx_release(&f);
}

TEST(unpack_truncated_outer_tar)
{
	struct fx f;
	struct stat st;

	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	CHECK_INT(stat(f.tar, &st), ==, 0);
	CHECK_INT(truncate(f.tar, st.st_size / 2), ==, 0);
	unpack_fails(&f, f.tar, EINVAL, "invalid archive");
	fx_release(&f);
}

TEST(unpack_garbage_and_missing_archive)
{
	struct fx f;
	cleanup_free char *missing = NULL;

	fx_init(&f);
	write_file(f.tar, "garbage garbage garbage", 23);
	unpack_fails(&f, f.tar, EINVAL, "invalid archive");
	missing = unit_fmt("%s/missing.tar", f.base);
	unpack_fails(&f, missing, ENOENT, "open");
	/* a directory that is no image */
	unpack_fails(&f, f.image, ENOENT, "index.json");
	fx_release(&f);
}

TEST(unpack_refuses_existing_bundle)
{
	struct fx f;
	struct unpack_opts o = {0};
	mv_error_t err = {0};
	cleanup_free char *marker = NULL, *want = NULL;

	fx_init(&f);
	put_base_image(&f);
	marker = in_bundle(&f, "mine");
	write_file(marker, "x", 1);
	o = (struct unpack_opts){.archive = f.image, .bundle = f.bundle};
	CHECK_INT(unpack_image(&o, &err), ==, -1);
	CHECK_INT(err.err, ==, EEXIST);
	want = unit_fmt("unpack `%s`: bundle `%s` exists", f.image, f.bundle);
	CHECK_STR(err.msg, want);
	mv_error_release(&err);
	CHECK(exists(marker));
	CHECK_INT(leftovers(&f), ==, 1);
	/* a dangling symlink is there too */
	rm_rf(f.bundle);
	CHECK_INT(symlink("/nonexistent", f.bundle), ==, 0);
	CHECK_INT(unpack_image(&o, &err), ==, -1);
	CHECK_INT(err.err, ==, EEXIST);
	mv_error_release(&err);
	fx_release(&f);
}

TEST(unpack_config_only)
{
	struct fx f;
	struct unpack_opts o = {0};
	mv_error_t err = {0};
	cleanup_free char *passwd = NULL, *marker = NULL, *config = NULL;
	struct oci_config *c;

	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, true);
	o = (struct unpack_opts){.archive = f.tar, .bundle = f.bundle, .config_only = true};
	/* no bundle, then no rootfs */
	CHECK_INT(unpack_image(&o, &err), ==, -1);
	CHECK_INT(err.err, ==, ENOENT);
	mv_error_release(&err);
	CHECK_INT(mkdir(f.bundle, 0755), ==, 0);
	CHECK_INT(unpack_image(&o, &err), ==, -1);
	CHECK(strstr(err.msg, "rootfs") != NULL);
	mv_error_release(&err);

	passwd = in_bundle(&f, "rootfs/etc/passwd");
	write_file(passwd, "app:x:2000:3000::/:/bin/sh\n", 27);
	marker = in_bundle(&f, "rootfs/marker");
	write_file(marker, "kept", 4);
	config = in_bundle(&f, "config.json");
	write_file(config, "old", 3);
	if (unpack_image(&o, &err) < 0)
		unit_fail(__FILE__, __LINE__, "config-only: %s", err.msg);
	c = load_config(&f);
	CHECK_INT(c->process->user.uid, ==, 2000);
	CHECK_INT(c->process->user.gid, ==, 3000);
	CHECK(!c->root->readonly);
	oci_config_free(c);
	CHECK(exists(marker));
	CHECK_INT(leftovers(&f), ==, 1);
	fx_release(&f);
}

/* ---- removing trees ---- */

/* Deeper than the fds a process may have open. */
TEST(unpack_remove_tree_deep_and_hostile)
{
	struct fx f;
	cleanup_free char *top = NULL, *sentinel = NULL, *canary = NULL;
	struct rlimit rl = {64, 64};
	mv_error_t err = {0};
	int fd;

	fx_init(&f);
	top = unit_fmt("%s/tree", f.base);
	sentinel = unit_fmt("%s/sentinel", f.base);
	canary = unit_fmt("%s/sentinel/canary", f.base);
	write_file(canary, "alive", 5);
	CHECK_INT(mkdir(top, 0755), ==, 0);
	fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	for (int i = 0; i < 300; i++) {
		int next;

		CHECK_INT(symlinkat(sentinel, fd, "link"), ==, 0);
		CHECK_INT(symlinkat("..", fd, "up"), ==, 0);
		CHECK_INT(mkdirat(fd, "d", i % 7 == 0 ? 0 : 0755), ==, 0);
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(next >= 0);
		close(fd);
		fd = next;
	}
	CHECK_INT(mkfifoat(fd, "fifo", 0600), ==, 0);
	close(fd);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &rl), ==, 0);
	if (unpack_remove_tree(top, &err) < 0)
		unit_fail(__FILE__, __LINE__, "remove: %s", err.msg);
	CHECK(!exists(top));
	CHECK(exists(canary));
	/* nothing there, a file, a symlink: removed or no error */
	CHECK_INT(unpack_remove_tree(top, &err), ==, 0);
	write_file(top, "x", 1);
	CHECK_INT(unpack_remove_tree(top, &err), ==, 0);
	CHECK(!exists(top));
	CHECK_INT(symlink(sentinel, top), ==, 0);
	CHECK_INT(unpack_remove_tree(top, &err), ==, 0);
	CHECK(!exists(top));
	CHECK(exists(canary));
	fx_release(&f);
}

/* A mount point inside: refused by name, what it holds stays. */
TEST(unpack_remove_tree_stops_at_mounts)
{
	struct fx f;
	cleanup_free char *top = NULL, *mnt = NULL, *inside = NULL;
	mv_error_t err = {0};

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return; /* not root: nothing to test */
	fx_init(&f);
	top = unit_fmt("%s/tree", f.base);
	mnt = unit_fmt("%s/tree/a/mnt", f.base);
	inside = unit_fmt("%s/tree/a/mnt/file", f.base);
	mkdirs(inside);
	CHECK_INT(mount("tmpfs", mnt, "tmpfs", 0, NULL), ==, 0);
	write_file(inside, "x", 1);
	CHECK_INT(unpack_remove_tree(top, &err), ==, -1);
	CHECK_INT(err.err, ==, EBUSY);
	CHECK(strstr(err.msg, "tree/a/mnt") != NULL);
	mv_error_release(&err);
	CHECK(exists(inside));
	CHECK_INT(umount(mnt), ==, 0);
	CHECK_INT(unpack_remove_tree(top, &err), ==, 0);
	CHECK(!exists(top));
	fx_release(&f);
}

/* ---- the image cache ---- */

/* The hex sha256 of what path holds. */
static void file_hex(const char *path, char hex[SHA256_HEX_SIZE])
{
	uint8_t d[SHA256_DIGEST_SIZE];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK_INT(sha256_fd(fd, path, d, NULL, NULL), ==, 0);
	close(fd);
	sha256_hex(d, hex);
}

static void copy_file(const char *from, const char *to)
{
	struct stat st;
	cleanup_free char *data = NULL;
	int fd = open(from, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	data = malloc((size_t)st.st_size);
	CHECK(data != NULL);
	CHECK_INT(read(fd, data, (size_t)st.st_size), ==, st.st_size);
	close(fd);
	write_file(to, data, (size_t)st.st_size);
}

/* The names in dir, sorted, joined by spaces. */
static char *names_in(const char *dir)
{
	struct dirent **v = NULL;
	int n = scandir(dir, &v, NULL, alphasort);
	char *all = strdup("");

	CHECK(n >= 0 && all != NULL);
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, "..")) {
			char *longer = unit_fmt("%s%s%s", all, *all ? " " : "", v[i]->d_name);
			free(all);
			all = longer;
		}
		free(v[i]);
	}
	free(v);
	return all;
}

static void check_names(const char *dir, const char *want)
{
	cleanup_free char *got = names_in(dir);

	CHECK_STR(got, want);
}

/* Whether path is a mount point here (/proc/self/mountinfo's 5th field). */
static bool mounted(const char *path)
{
	cleanup_file FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], point[4096];
	bool found = false;

	CHECK(f != NULL);
	while (!found && fgets(line, sizeof(line), f))
		found =
		    sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 && strcmp(point, path) == 0;
	return found;
}

/* A mount namespace of the test's own: mounts die with it.  False when
 * that is not allowed (not root): the test has nothing to check then. */
static bool private_mounts(void)
{
	return unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

static void cache_env_clear(void)
{
	unsetenv(IMAGE_CACHE_ENV);
	unsetenv(UNPACK_NO_OVERLAY_ENV);
}

TEST(image_cache_key_names_the_archive_and_the_choice)
{
	struct fx f;
	char tar[IMAGE_CACHE_KEY_MAX], copy[IMAGE_CACHE_KEY_MAX], gz[IMAGE_CACHE_KEY_MAX];
	char dir[IMAGE_CACHE_KEY_MAX], ref[IMAGE_CACHE_KEY_MAX], other[IMAGE_CACHE_KEY_MAX];
	char plat[IMAGE_CACHE_KEY_MAX], hex[SHA256_HEX_SIZE];
	cleanup_free char *copy_path = NULL, *gz_path = NULL, *index = NULL, *empty = NULL;
	mv_error_t err = {0};

	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	copy_path = unit_fmt("%s/copy.tar", f.base);
	copy_file(f.tar, copy_path);
	gz_path = unit_fmt("%s/image.tar.gz", f.base);
	tar_dir(f.image, gz_path, true);

	CHECK_INT(image_cache_key(f.tar, NULL, NULL, tar, &err), ==, 0);
	file_hex(f.tar, hex);
	CHECK_STR(tar, hex);
	CHECK_INT(image_cache_key(copy_path, NULL, NULL, copy, &err), ==, 0);
	CHECK_STR(copy, tar); /* the bytes, not the name */
	CHECK_INT(image_cache_key(gz_path, NULL, NULL, gz, &err), ==, 0);
	CHECK(strcmp(gz, tar) != 0);
	/* a directory: its index.json */
	CHECK_INT(image_cache_key(f.image, NULL, NULL, dir, &err), ==, 0);
	index = unit_fmt("%s/index.json", f.image);
	file_hex(index, hex);
	CHECK_STR(dir, hex);

	/* a choice: another key, the archive's hash still its start */
	CHECK_INT(image_cache_key(f.tar, "latest", NULL, ref, &err), ==, 0);
	CHECK_INT(strlen(ref), ==, 64 + 1 + 16);
	CHECK(strncmp(ref, tar, 64) == 0 && ref[64] == '-');
	CHECK_INT(strspn(ref + 65, "0123456789abcdef"), ==, 16);
	CHECK_INT(image_cache_key(f.tar, "other", NULL, other, &err), ==, 0);
	CHECK(strcmp(other, ref) != 0);
	CHECK_INT(image_cache_key(f.tar, NULL, "latest", plat, &err), ==, 0);
	CHECK(strcmp(plat, ref) != 0); /* the same text as a platform */
	CHECK_INT(image_cache_key(f.tar, "latest", NULL, other, &err), ==, 0);
	CHECK_STR(other, ref);

	/* nothing to hash */
	CHECK_INT(image_cache_key("/nonexistent/image.tar", NULL, NULL, tar, &err), ==, -1);
	CHECK_INT(err.err, ==, ENOENT);
	mv_error_release(&err);
	empty = unit_fmt("%s/empty", f.base);
	CHECK_INT(mkdir(empty, 0755), ==, 0);
	CHECK_INT(image_cache_key(empty, NULL, NULL, tar, &err), ==, -1);
	CHECK_INT(err.err, ==, ENOENT);
	CHECK_STR(err.msg, "neither index.json nor manifest.json in it");
	mv_error_release(&err);
	fx_release(&f);
}

TEST(image_cache_unpacks_an_image_once)
{
	struct fx f;
	struct unpack_opts o = {0};
	cleanup_free char *cache = NULL, *real = NULL, *want = NULL, *b1 = NULL, *b2 = NULL;
	cleanup_free char *sh = NULL, *text = NULL, *lock = NULL, *garbage = NULL, *cache2 = NULL;
	char key[IMAGE_CACHE_KEY_MAX];
	mv_error_t err = {0};
	struct stat st1, st2;
	bool hit = true;

	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	o.archive = f.tar;
	cache = unit_fmt("%s/a/cache", f.base); /* made with its parents */
	if (image_cache_get(cache, &o, &b1, &hit, &err) < 0)
		unit_fail(__FILE__, __LINE__, "cache: %s", err.msg);
	CHECK(!hit);
	CHECK_INT(image_cache_key(f.tar, NULL, NULL, key, &err), ==, 0);
	real = realpath(cache, NULL);
	want = unit_fmt("%s/%s", real, key);
	CHECK_STR(b1, want);
	sh = unit_fmt("%s/rootfs/bin/sh", b1);
	text = read_text(sh);
	CHECK_STR(text, "#!shell");
	CHECK_INT(stat(b1, &st1), ==, 0);

	/* again: the same entry, not made again */
	if (image_cache_get(cache, &o, &b2, &hit, &err) < 0)
		unit_fail(__FILE__, __LINE__, "cache: %s", err.msg);
	CHECK(hit);
	CHECK_STR(b2, b1);
	CHECK_INT(stat(b2, &st2), ==, 0);
	CHECK_INT(st2.st_ino, ==, st1.st_ino);
	lock = unit_fmt("%s %s.lock", key, key);
	check_names(real, lock);

	/* a failure leaves the cache as it was */
	garbage = unit_fmt("%s/garbage.tar", f.base);
	write_file(garbage, "not a tar at all, not even close", 32);
	o.archive = garbage;
	CHECK_INT(image_cache_get(cache, &o, &b2, &hit, &err), ==, -1);
	CHECK(strstr(err.msg, garbage) != NULL);
	mv_error_release(&err);
	check_names(real, lock);
	cache2 = unit_fmt("%s/cache2", f.base);
	CHECK_INT(image_cache_get(cache2, &o, &b2, &hit, &err), ==, -1);
	mv_error_release(&err);
	CHECK(!exists(cache2));
	o.archive = f.tar;
	o.ref = "nope";
	CHECK_INT(image_cache_get(cache, &o, &b2, &hit, &err), ==, -1);
	mv_error_release(&err);
	check_names(real, lock);
	fx_release(&f);
}

/* Runs of one image at once: each gets the entry, which is made once. */
TEST(image_cache_concurrent_runs)
{
	struct fx f;
	struct unpack_opts o = {0};
	cleanup_free char *cache = NULL, *want = NULL;
	char key[IMAGE_CACHE_KEY_MAX];
	mv_error_t err = {0};
	pid_t pids[4];
	int made = 0;

	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	o.archive = f.tar;
	cache = unit_fmt("%s/cache", f.base);
	for (size_t i = 0; i < N_ELEMENTS(pids); i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0) {
			char *bundle = NULL;
			bool hit = true;

			if (image_cache_get(cache, &o, &bundle, &hit, &err) < 0)
				_exit(2);
			_exit(hit ? 0 : 1);
		}
	}
	for (size_t i = 0; i < N_ELEMENTS(pids); i++) {
		int status;

		CHECK_INT(waitpid(pids[i], &status, 0), ==, pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) < 2);
		made += WEXITSTATUS(status);
	}
	CHECK_INT(made, ==, 1);
	CHECK_INT(image_cache_key(f.tar, NULL, NULL, key, &err), ==, 0);
	want = unit_fmt("%s %s.lock", key, key);
	check_names(cache, want);
	fx_release(&f);
}

/* ---- run --image ---- */

/* A container's bundle made from f's image tar (the test fails unless it
 * is made). */
static void container_ok(const char *root, const char *id, const char *archive,
			 struct unpack_container *c)
{
	struct unpack_opts o = {.archive = archive};
	mv_error_t err = {0};

	if (unpack_container_bundle(root, id, &o, c, &err) < 0)
		unit_fail(__FILE__, __LINE__, "run --image %s: %s", id, err.msg);
}

static void container_fails(const char *root, const char *id, const char *archive, int errnum,
			    const char *want)
{
	struct unpack_opts o = {.archive = archive};
	struct unpack_container c;
	mv_error_t err = {0};

	CHECK_INT(unpack_container_bundle(root, id, &o, &c, &err), ==, -1);
	CHECK_INT(err.err, ==, errnum);
	if (err.msg == NULL || strstr(err.msg, want) == NULL)
		unit_fail(__FILE__, __LINE__, "message `%s` lacks `%s`", err.msg, want);
	mv_error_release(&err);
	unpack_container_free(&c);
}

static void release_ok(const char *root, const char *id, const char *bundle)
{
	mv_error_t err = {0};

	if (unpack_container_release(root, id, bundle, &err) < 0)
		unit_fail(__FILE__, __LINE__, "release %s: %s", id, err.msg);
}

/* in(dir, rel) */
static char *in(const char *dir, const char *rel)
{
	return unit_fmt("%s/%s", dir, rel);
}

static void check_container_config(const char *bundle)
{
	cleanup_free char *path = in(bundle, "config.json");
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	if (oci_config_load(path, &c, &err) < 0)
		unit_fail(__FILE__, __LINE__, "config.json: %s", err.msg);
	CHECK_STR(c->root->path, "rootfs");
	CHECK(!c->root->readonly);
	CHECK_STR(c->process->args.v[2], "echo hi");
	CHECK_INT(c->process->user.uid, ==, 1000);
	CHECK_INT(c->hooks.n_poststop, ==, 0);
	oci_config_free(c);
}

TEST(unpack_container_overlay_on_the_cache)
{
	struct fx f;
	struct unpack_container c1, c2;
	cleanup_free char *root = NULL, *real = NULL, *want = NULL, *rootfs = NULL, *file = NULL;
	cleanup_free char *upper = NULL, *cached = NULL, *sh = NULL, *text = NULL;
	struct stat st, lower;
	int fds;

	if (!private_mounts())
		return;
	cache_env_clear();
	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	root = unit_fmt("%s/root", f.base);
	fds = unit_count_fds();
	container_ok(root, "c1", f.tar, &c1);
	CHECK_INT(unit_count_fds(), ==, fds);
	real = realpath(root, NULL);
	want = unit_fmt("%s/c1.image", real);
	CHECK_STR(c1.bundle, want);
	CHECK(c1.overlay && !c1.cache_hit);
	CHECK(strncmp(c1.image, real, strlen(real)) == 0);
	CHECK(strncmp(c1.image + strlen(real), "/images/", 8) == 0);
	rootfs = in(c1.bundle, "rootfs");
	CHECK(mounted(rootfs));
	check_container_config(c1.bundle);
	check_names(c1.bundle, "config.json rootfs upper work");
	/* the overlay's root looks like the image's */
	cached = in(c1.image, "rootfs");
	CHECK_INT(stat(cached, &lower), ==, 0);
	CHECK_INT(stat(rootfs, &st), ==, 0);
	CHECK_INT(st.st_mode, ==, lower.st_mode);
	CHECK_INT(st.st_uid, ==, lower.st_uid);

	/* the container's writes land in upper/, the cache stays as it was */
	file = in(rootfs, "new");
	write_file(file, "x", 1);
	upper = in(c1.bundle, "upper/new");
	CHECK(exists(upper));
	free(file);
	file = in(cached, "new");
	CHECK(!exists(file));
	free(file);
	file = in(rootfs, "bin/sh");
	CHECK_INT(unlink(file), ==, 0);
	sh = in(cached, "bin/sh");
	CHECK(exists(sh));

	/* a second container: the same cache entry, not unpacked again */
	CHECK_INT(stat(c1.image, &lower), ==, 0);
	container_ok(root, "c2", f.tar, &c2);
	CHECK(c2.overlay && c2.cache_hit);
	CHECK_STR(c2.image, c1.image);
	CHECK_INT(stat(c2.image, &st), ==, 0);
	CHECK_INT(st.st_ino, ==, lower.st_ino);
	free(file);
	file = in(c2.bundle, "rootfs/bin/sh");
	text = read_text(file);
	CHECK_STR(text, "#!shell");
	check_names(real, "c1.image c2.image images");

	/* release: unmounted and gone; the cache stays */
	release_ok(root, "c1", c1.bundle);
	CHECK(!mounted(rootfs));
	CHECK(!exists(c1.bundle));
	CHECK(exists(sh));
	release_ok(root, "c1", c1.bundle); /* gone already: fine */
	/* a container whose bundle is another: its c2.image is not its own */
	release_ok(root, "c2", "/some/other/bundle");
	release_ok(root, "c2", NULL);
	CHECK(exists(c2.bundle));
	release_ok(root, "c2", c2.bundle);
	CHECK(!exists(c2.bundle));
	check_names(real, "images");
	CHECK_INT(unit_count_fds(), ==, fds);
	unpack_container_free(&c1);
	unpack_container_free(&c2);
	fx_release(&f);
}

TEST(unpack_container_refusals_leave_the_root_alone)
{
	struct fx f;
	cleanup_free char *root = NULL, *taken = NULL, *leftover = NULL, *mine = NULL, *text = NULL;
	cleanup_free char *garbage = NULL;

	cache_env_clear();
	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	root = unit_fmt("%s/root", f.base);
	container_fails(root, "../x", f.tar, EINVAL, "invalid container id");
	container_fails(root, "", f.tar, EINVAL, "invalid container id");
	taken = unit_fmt("%s/c1", root);
	mkdirs(taken);
	CHECK_INT(mkdir(taken, 0700), ==, 0);
	container_fails(root, "c1", f.tar, EEXIST, "already exists");
	check_names(root, "c1"); /* nothing unpacked, not even into the cache */
	/* a bundle left by a run that was killed: not taken over */
	leftover = unit_fmt("%s/c2.image", root);
	mine = unit_fmt("%s/c2.image/mine", root);
	write_file(mine, "mine", 4);
	container_fails(root, "c2", f.tar, EEXIST, "c2.image` exists");
	text = read_text(mine);
	CHECK_STR(text, "mine");
	check_names(root, "c1 c2.image");
	/* a bad archive: nothing in the root, no cache either */
	garbage = unit_fmt("%s/garbage.tar", f.base);
	write_file(garbage, "garbage garbage garbage garbage", 31);
	container_fails(root, "c3", garbage, EINVAL, "invalid archive");
	check_names(root, "c1 c2.image");
	/* release of what is not there, or not a run --image bundle */
	release_ok(root, "c3", "/whatever");
	release_ok(root, "../c2", leftover);
	release_ok("/nonexistent/root", "c2", "/nonexistent/root/c2.image");
	CHECK(exists(mine));
	fx_release(&f);
}

/* The fallback: the image unpacked into the bundle, no mount. */
static void check_copy(const struct unpack_container *c)
{
	cleanup_free char *rootfs = in(c->bundle, "rootfs"), *sh = in(c->bundle, "rootfs/bin/sh");
	cleanup_free char *text = read_text(sh), *file = in(rootfs, "new");
	cleanup_free char *cached = in(c->image, "rootfs/new");

	CHECK(!c->overlay);
	CHECK(!mounted(rootfs));
	CHECK_STR(text, "#!shell");
	check_names(c->bundle, "config.json rootfs");
	check_container_config(c->bundle);
	write_file(file, "x", 1);
	CHECK(!exists(cached));
}

TEST(unpack_container_copy_when_asked)
{
	struct fx f;
	struct unpack_container c;
	cleanup_free char *root = NULL, *cache = NULL, *real = NULL;

	private_mounts(); /* a mistaken mount must not outlive the test */
	cache_env_clear();
	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	root = unit_fmt("%s/root", f.base);
	cache = unit_fmt("%s/elsewhere", f.base);
	setenv(UNPACK_NO_OVERLAY_ENV, "1", 1);
	setenv(IMAGE_CACHE_ENV, cache, 1);
	container_ok(root, "c1", f.tar, &c);
	check_copy(&c);
	CHECK_INT(c.overlay_errno, ==, 0);
	real = realpath(cache, NULL);
	CHECK(real != NULL && strncmp(c.image, real, strlen(real)) == 0);
	release_ok(root, "c1", c.bundle);
	check_names(root, "");
	unpack_container_free(&c);
	/* "0" is no request */
	setenv(UNPACK_NO_OVERLAY_ENV, "0", 1);
	container_ok(root, "c2", f.tar, &c);
	CHECK_INT(c.overlay, ==, geteuid() == 0);
	release_ok(root, "c2", c.bundle);
	check_names(root, "");
	unpack_container_free(&c);
	fx_release(&f);
}

/* A root on an overlay, which cannot hold an overlay's upper layer: the
 * mount fails and the image is unpacked into the bundle instead. */
TEST(unpack_container_copy_when_the_overlay_fails)
{
	struct fx f;
	struct unpack_container c;
	cleanup_free char *lower = NULL, *upper = NULL, *work = NULL, *over = NULL, *opts = NULL;
	cleanup_free char *root = NULL;

	if (!private_mounts())
		return;
	cache_env_clear();
	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	lower = unit_fmt("%s/lower", f.base);
	upper = unit_fmt("%s/upper", f.base);
	work = unit_fmt("%s/work", f.base);
	over = unit_fmt("%s/over", f.base);
	CHECK(mkdir(lower, 0755) == 0 && mkdir(upper, 0755) == 0 && mkdir(work, 0755) == 0 &&
	      mkdir(over, 0755) == 0);
	opts = unit_fmt("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	CHECK_INT(mount("overlay", over, "overlay", 0, opts), ==, 0);
	root = unit_fmt("%s/root", over);
	container_ok(root, "c1", f.tar, &c);
	check_copy(&c);
	CHECK(c.overlay_errno != 0);
	release_ok(root, "c1", c.bundle);
	check_names(root, "images");
	unpack_container_free(&c);
	CHECK_INT(umount(over), ==, 0);
	fx_release(&f);
}

/* A stopped container whose bundle is `bundle`, its monitor gone (as
 * after a SIGKILL). */
static void fake_container(const char *root, const char *id, const char *bundle)
{
	char status[] = "stopped", created[] = "2026-01-01T00:00:00Z", owner[] = "root";
	struct container_state s = {
	    .id = (char *)id,
	    .bundle = (char *)bundle,
	    .rootfs = (char *)bundle,
	    .status = status,
	    .created = created,
	    .owner = owner,
	};
	mv_error_t err = {0};
	int rootfd = state_open_root(root, true, &err), fd;

	CHECK(rootfd >= 0);
	fd = state_create(rootfd, id, &err);
	CHECK(fd >= 0);
	CHECK_INT(state_write(fd, &s, &err), ==, 0);
	close(fd);
	close(rootfd);
}

/* `mvrun delete` releases ROOT/ID.image, and only a bundle that is it. */
TEST(unpack_container_delete_releases_its_bundle)
{
	struct fx f;
	struct unpack_container c;
	cleanup_free char *root = NULL, *real = NULL, *rootfs = NULL, *mine = NULL;
	mv_error_t err = {0};

	if (!private_mounts())
		return;
	cache_env_clear();
	fx_init(&f);
	put_base_image(&f);
	tar_dir(f.image, f.tar, false);
	root = unit_fmt("%s/root", f.base);
	container_ok(root, "c1", f.tar, &c);
	fake_container(root, "c1", c.bundle);
	rootfs = in(c.bundle, "rootfs");
	CHECK(mounted(rootfs));
	if (runtime_delete(root, "c1", false, &err) < 0)
		unit_fail(__FILE__, __LINE__, "delete: %s", err.msg);
	CHECK(!mounted(rootfs));
	real = realpath(root, NULL);
	check_names(real, "images");
	/* c2 has a bundle of its own: c2.image is someone else's */
	mine = unit_fmt("%s/c2.image/mine", root);
	write_file(mine, "mine", 4);
	fake_container(root, "c2", f.image);
	CHECK_INT(runtime_delete(root, "c2", false, &err), ==, 0);
	CHECK(exists(mine));
	check_names(real, "c2.image images");
	unpack_container_free(&c);
	fx_release(&f);
}
