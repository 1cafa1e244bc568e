/* What an image config means for running it: its User as ids, looked up in
 * the image's own /etc/passwd and /etc/group (never the host's: getpwnam
 * would read this machine's database), and config.json built from it. */
#include "oci/image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "oci/config_internal.h"
#include "oci/spec.h"
#include "runtime/cleanup.h"

/* /etc/passwd of a large system is some 100 KiB. */
#define IMAGE_DB_MAX_SIZE (4 << 20)

/* ---- User ---- */

/* A decimal id below 2^32 - 1, which chown and setresuid take as "leave
 * alone". */
static bool parse_id(const char *s, uint32_t *id)
{
	unsigned long long v;

	if (*s == '\0' || s[strspn(s, "0123456789")] != '\0')
		return false;
	errno = 0;
	v = strtoull(s, NULL, 10);
	if (errno == ERANGE || v >= UINT32_MAX)
		return false;
	*id = (uint32_t)v;
	return true;
}

/* rootfs/rel resolved as if rootfs were "/": an image whose /etc/passwd is
 * a symlink to /etc/shadow or ../../host/file still reads inside itself.
 * ENOENT is returned without an error recorded, for the caller to judge. */
static int open_in_root(const char *rootfs, const char *rel, FILE **out, mv_error_t *err)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = -1;
	struct stat st;

	if (root < 0)
		return mv_error(err, errno, "open `%s`", rootfs);
	fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0)
		return mv_error(err, errno, "open `/%s` of the image", rel);
	if (fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat `/%s` of the image", rel);
	if (!S_ISREG(st.st_mode))
		return mv_error(err, EINVAL, "`/%s` of the image is not a regular file", rel);
	if (st.st_size > IMAGE_DB_MAX_SIZE)
		return mv_error(err, EINVAL, "`/%s` of the image is larger than %d MiB", rel,
				IMAGE_DB_MAX_SIZE >> 20);
	*out = fdopen(fd, "r");
	if (*out == NULL)
		return mv_error(err, errno, "open `/%s` of the image", rel);
	steal_fd(&fd);
	return 0;
}

/* Split line at ':' in place; returns the number of fields (at most max). */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\n")] = '\0';
	while (n < max) {
		fields[n++] = line;
		line = strchr(line, ':');
		if (line == NULL)
			break;
		*line++ = '\0';
	}
	return n;
}

/* A lookup in passwd (ids: uid, gid in fields 2 and 3) or group (gid in
 * field 2): the first line whose name is `name`, or whose first id is *id. */
struct db_query {
	const char *rel; /* "etc/passwd" */
	const char *name;
	const uint32_t *id;
	size_t n_ids;
	uint32_t ids[2];
	bool found;
};

static bool line_matches(char **fields, const struct db_query *q)
{
	uint32_t id;

	if (q->name)
		return strcmp(fields[0], q->name) == 0;
	return parse_id(fields[2], &id) && id == *q->id;
}

static int db_scan(FILE *f, struct db_query *q, mv_error_t *err)
{
	cleanup_free char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, f) > 0) {
		char *fields[4];

		if (split_fields(line, fields, 2 + q->n_ids) < 2 + q->n_ids ||
		    !line_matches(fields, q))
			continue;
		for (size_t i = 0; i < q->n_ids; i++)
			if (!parse_id(fields[2 + i], &q->ids[i]))
				return mv_error(err, EINVAL,
						"`/%s` of the image: `%.64s` has a bad id", q->rel,
						fields[0]);
		q->found = true;
		return 0;
	}
	if (ferror(f))
		return mv_error(err, EIO, "read `/%s` of the image", q->rel);
	return 0;
}

/* A missing file finds nothing. */
static int db_lookup(const char *rootfs, struct db_query *q, mv_error_t *err)
{
	cleanup_file FILE *f = NULL;
	int ret = open_in_root(rootfs, q->rel, &f, err);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return -1;
	return db_scan(f, q, err);
}

/* The uid, and the gid the user's passwd entry gives (0 without one, as
 * runc does for a uid that is not in the file). */
static int resolve_user(const char *rootfs, const char *user, uint32_t *uid, uint32_t *gid,
			mv_error_t *err)
{
	struct db_query q = {.rel = "etc/passwd", .n_ids = 2};
	uint32_t id;

	if (parse_id(user, &id))
		q.id = &id;
	else
		q.name = user;
	if (db_lookup(rootfs, &q, err) < 0)
		return -1;
	if (q.name && !q.found)
		return mv_error(err, ENOENT, "user `%.64s` is not in `/etc/passwd` of the image",
				user);
	*uid = q.name ? q.ids[0] : id;
	*gid = q.found ? q.ids[1] : 0;
	return 0;
}

static int resolve_group(const char *rootfs, const char *group, uint32_t *gid, mv_error_t *err)
{
	struct db_query q = {.rel = "etc/group", .name = group, .n_ids = 1};

	if (parse_id(group, gid))
		return 0;
	if (db_lookup(rootfs, &q, err) < 0)
		return -1;
	if (!q.found)
		return mv_error(err, ENOENT, "group `%.64s` is not in `/etc/group` of the image",
				group);
	*gid = q.ids[0];
	return 0;
}

int oci_image_user(const struct oci_image *img, const char *rootfs, uint32_t *uid, uint32_t *gid,
		   mv_error_t *err)
{
	cleanup_free char *user = strdup(img->user ? img->user : "");
	char *group;

	if (user == NULL)
		return mv_error(err, ENOMEM, "image user");
	*uid = *gid = 0;
	if (user[0] == '\0')
		return 0;
	group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	if (user[0] == '\0' || (group && group[0] == '\0'))
		return mv_error(err, EINVAL, "image user `%.64s` is not user[:group]", img->user);
	if (resolve_user(rootfs, user, uid, gid, err) < 0)
		return -1;
	return group ? resolve_group(rootfs, group, gid, err) : 0;
}

/* ---- config.json ---- */

static int strv_append(struct oci_strv *s, const char *value)
{
	char **v = realloc(s->v, (s->n + 2) * sizeof(*v));

	if (v == NULL)
		return -1;
	s->v = v;
	v[s->n] = strdup(value);
	if (v[s->n] == NULL)
		return -1;
	v[++s->n] = NULL;
	return 0;
}

/* Entrypoint, then Cmd, as docker runs them. */
static int set_args(struct oci_process *p, const struct oci_image *img, mv_error_t *err)
{
	struct oci_strv args = {0};

	if (img->entrypoint.n + img->cmd.n == 0)
		return mv_error(err, EINVAL, "image has no Entrypoint or Cmd");
	for (size_t i = 0; i < img->entrypoint.n; i++)
		if (strv_append(&args, img->entrypoint.v[i]) < 0)
			goto nomem;
	for (size_t i = 0; i < img->cmd.n; i++)
		if (strv_append(&args, img->cmd.v[i]) < 0)
			goto nomem;
	oci_strv_free(&p->args);
	p->args = args;
	return 0;
nomem:
	oci_strv_free(&args);
	return mv_error(err, ENOMEM, "process.args");
}

/* Replace the entry of the same NAME, or add one. */
static int env_set(struct oci_strv *env, const char *entry, size_t name_len)
{
	for (size_t i = 0; i < env->n; i++) {
		char *copy;

		if (strncmp(env->v[i], entry, name_len + 1) != 0)
			continue;
		copy = strdup(entry);
		if (copy == NULL)
			return -1;
		free(env->v[i]);
		env->v[i] = copy;
		return 0;
	}
	return strv_append(env, entry);
}

static int set_env(struct oci_process *p, const struct oci_image *img, mv_error_t *err)
{
	for (size_t i = 0; i < img->env.n; i++) {
		const char *eq = strchr(img->env.v[i], '=');

		if (eq == NULL || eq == img->env.v[i])
			return mv_error(err, EINVAL, "image Env entry `%.64s` is not NAME=value",
					img->env.v[i]);
		if (env_set(&p->env, img->env.v[i], (size_t)(eq - img->env.v[i])) < 0)
			return mv_error(err, ENOMEM, "process.env");
	}
	return 0;
}

/* WorkingDir is relative to "/" when it is not absolute, as docker takes it. */
static int set_cwd(struct oci_process *p, const struct oci_image *img, mv_error_t *err)
{
	const char *wd = img->working_dir ? img->working_dir : "";
	char *cwd = NULL;

	if (asprintf(&cwd, "%s%s", wd[0] == '/' ? "" : "/", wd) < 0)
		return mv_error(err, ENOMEM, "process.cwd");
	free(p->cwd);
	p->cwd = cwd;
	return 0;
}

static int set_annotations(struct oci_config *c, const struct oci_map *labels, mv_error_t *err)
{
	struct oci_map m = {0};

	if (labels->n == 0)
		return 0;
	m.keys = calloc(labels->n, sizeof(*m.keys));
	m.values = calloc(labels->n, sizeof(*m.values));
	if (m.keys == NULL || m.values == NULL)
		goto nomem;
	for (; m.n < labels->n; m.n++) {
		m.keys[m.n] = strdup(labels->keys[m.n]);
		m.values[m.n] = strdup(labels->values[m.n]);
		if (m.keys[m.n] == NULL || m.values[m.n] == NULL) {
			m.n++;
			goto nomem;
		}
	}
	oci_map_free(&c->annotations);
	c->annotations = m;
	return 0;
nomem:
	oci_map_free(&m);
	return mv_error(err, ENOMEM, "annotations");
}

static int apply_image(struct oci_config *c, const struct oci_image *img, uint32_t uid,
		       uint32_t gid, mv_error_t *err)
{
	struct oci_process *p = c->process;

	/* The image gives no terminal: one is asked for when it is run. */
	p->terminal = false;
	p->user.uid = uid;
	p->user.gid = gid;
	if (set_args(p, img, err) < 0 || set_env(p, img, err) < 0 || set_cwd(p, img, err) < 0)
		return -1;
	return set_annotations(c, &img->labels, err);
}

int oci_image_config_json(const struct oci_image *img, uint32_t uid, uint32_t gid, char **json,
			  mv_error_t *err)
{
	struct oci_spec_opts opts = {0};
	cleanup_free char *spec = NULL;
	struct oci_config *c = NULL;
	size_t len = 0;
	int ret;

	if (oci_spec_json(&opts, &spec, err) < 0)
		return -1;
	if (oci_config_parse(spec, strlen(spec), "config.json", &c, err) < 0)
		return -1;
	ret = apply_image(c, img, uid, gid, err);
	ret = ret ?: oci_config_to_json(c, json, &len, err);
	oci_config_free(c);
	return ret;
}
