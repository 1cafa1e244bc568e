/* config.json: the top level, the process, root, mounts and hooks; the
 * "linux" object is in oci/config_linux.c. */
#include "oci/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/config_internal.h"
#include "runtime/cleanup.h"

/* ---- common shapes ---- */

int oci_read_strv(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_strv *s = out;

	if (json_expect(w, v, JSON_ARRAY) < 0)
		return -1;
	if (v->n == 0)
		return 0;
	s->v = calloc(v->n + 1, sizeof(*s->v));
	if (s->v == NULL)
		return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
	s->n = v->n;
	for (size_t i = 0; i < v->n; i++) {
		size_t mark = json_walk_index(w, i);

		if (json_read_string(w, v->items[i], &s->v[i]) < 0)
			return -1;
		json_walk_pop(w, mark);
	}
	return 0;
}

/* A repeated key stays, in document order: whoever applies the map in
 * order gets encoding/json's last-one-wins. */
int oci_read_map(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_map *m = out;

	if (json_expect(w, v, JSON_OBJECT) < 0)
		return -1;
	if (v->n == 0)
		return 0;
	m->keys = calloc(v->n, sizeof(*m->keys));
	m->values = calloc(v->n, sizeof(*m->values));
	if (m->keys == NULL || m->values == NULL)
		return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
	m->n = v->n;
	for (size_t i = 0; i < v->n; i++) {
		size_t mark = json_walk_key(w, v->keys[i]);

		m->keys[i] = strdup(v->keys[i]);
		if (m->keys[i] == NULL)
			return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
		if (json_read_string(w, v->items[i], &m->values[i]) < 0)
			return -1;
		json_walk_pop(w, mark);
	}
	return 0;
}

int oci_read_abs_path(struct json_walk *w, const struct json_node *v, void *out)
{
	char **s = out;

	if (json_read_string(w, v, s) < 0)
		return -1;
	if ((*s)[0] != '/')
		return json_fail(w, "must be an absolute path");
	return 0;
}

static int read_nonempty_string(struct json_walk *w, const struct json_node *v, void *out)
{
	char **s = out;

	if (json_read_string(w, v, s) < 0)
		return -1;
	if ((*s)[0] == '\0')
		return json_fail(w, "must not be empty");
	return 0;
}

void oci_strv_free(struct oci_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

void oci_map_free(struct oci_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m->keys);
	free(m->values);
}

/* ---- process ---- */

static int read_args(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_strv *args = out;

	if (oci_read_strv(w, v, args) < 0)
		return -1;
	if (args->n == 0)
		return json_fail(w, "must have at least one entry");
	return 0;
}

static int read_console_size(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("height", json_read_u32, struct oci_process, console_height),
	    JSON_REQUIRED("width", json_read_u32, struct oci_process, console_width),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

OCI_ARRAY_READER(read_additional_gids, struct oci_user, additional_gids, json_read_u32)

static int read_user(struct json_walk *w, const struct json_node *v, void *out)
{
	/* The spec calls uid and gid REQUIRED, but runc and crun take a
	 * missing one as 0 and so do we: bundles out there rely on it. */
	static const struct json_field fields[] = {
	    JSON_FIELD("uid", json_read_u32, struct oci_user, uid),
	    JSON_FIELD("gid", json_read_u32, struct oci_user, gid),
	    JSON_OPTIONAL("umask", json_read_u32, struct oci_user, umask, has_umask),
	    JSON_WHOLE("additionalGids", read_additional_gids),
	    JSON_FIELD("username", json_read_string, struct oci_user, username),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static int read_capabilities(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_FIELD("bounding", oci_read_strv, struct oci_capabilities, bounding),
	    JSON_FIELD("effective", oci_read_strv, struct oci_capabilities, effective),
	    JSON_FIELD("inheritable", oci_read_strv, struct oci_capabilities, inheritable),
	    JSON_FIELD("permitted", oci_read_strv, struct oci_capabilities, permitted),
	    JSON_FIELD("ambient", oci_read_strv, struct oci_capabilities, ambient),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

/* getrlimit(2)'s resources: the spec wants an error for any other. */
static const char *const rlimit_types[] = {
    "RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",	   "RLIMIT_DATA",
    "RLIMIT_FSIZE",  "RLIMIT_LOCKS",  "RLIMIT_MEMLOCK",	   "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",   "RLIMIT_NOFILE", "RLIMIT_NPROC",	   "RLIMIT_RSS",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
};

static int read_rlimit_type(struct json_walk *w, const struct json_node *v, void *out)
{
	int i = json_read_choice(w, v, out, rlimit_types, JSON_ARRAY_SIZE(rlimit_types),
				 "an rlimit type (RLIMIT_NOFILE, RLIMIT_NPROC...)");

	return i < 0 ? -1 : 0;
}

static int read_rlimit(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("type", read_rlimit_type, struct oci_rlimit, type),
	    JSON_REQUIRED("soft", json_read_u64, struct oci_rlimit, soft),
	    JSON_REQUIRED("hard", json_read_u64, struct oci_rlimit, hard),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static size_t rlimit_index(const char *type)
{
	size_t i = 0;

	while (strcmp(rlimit_types[i], type) != 0)
		i++;
	return i;
}

/* "If the type is duplicated, the runtime MUST generate an error." */
static int read_rlimits(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_process *p = out;
	uint32_t seen = 0;

	if (json_read_array(w, v, sizeof(*p->rlimits), read_rlimit, (void **)&p->rlimits,
			    &p->n_rlimits) < 0)
		return -1;
	for (size_t i = 0; i < p->n_rlimits; i++) {
		uint32_t bit = 1u << rlimit_index(p->rlimits[i].type);

		if (seen & bit) {
			json_walk_index(w, i);
			json_walk_key(w, "type");
			return json_fail(w, "duplicate `%.*s`", JSON_SHOWN, p->rlimits[i].type);
		}
		seen |= bit;
	}
	return 0;
}

static int read_oom_score_adj(struct json_walk *w, const struct json_node *v, void *out)
{
	int64_t i;

	if (json_read_int(w, v, -1000, 1000, &i) < 0)
		return -1;
	*(int *)out = (int)i;
	return 0;
}

static int read_process_fields(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_FIELD("terminal", json_read_bool, struct oci_process, terminal),
	    /* Its two values live in the process struct itself. */
	    JSON_WHOLE_HAS("consoleSize", read_console_size, struct oci_process, has_console_size),
	    JSON_FIELD("user", read_user, struct oci_process, user),
	    JSON_REQUIRED("args", read_args, struct oci_process, args),
	    JSON_FIELD("env", oci_read_strv, struct oci_process, env),
	    JSON_REQUIRED("cwd", oci_read_abs_path, struct oci_process, cwd),
	    JSON_OPTIONAL("capabilities", read_capabilities, struct oci_process, capabilities,
			  has_capabilities),
	    JSON_WHOLE("rlimits", read_rlimits),
	    JSON_FIELD("noNewPrivileges", json_read_bool, struct oci_process, no_new_privileges),
	    JSON_OPTIONAL("oomScoreAdj", read_oom_score_adj, struct oci_process, oom_score_adj,
			  has_oom_score_adj),
	    JSON_FIELD("apparmorProfile", json_read_string, struct oci_process, apparmor_profile),
	    JSON_FIELD("selinuxLabel", json_read_string, struct oci_process, selinux_label),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

/* out: a struct oci_process *, allocated here. */
static int read_process(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_process **p = out;

	*p = calloc(1, sizeof(**p));
	if (*p == NULL)
		return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
	return read_process_fields(w, v, *p);
}

void oci_process_free(struct oci_process *p)
{
	if (p == NULL)
		return;
	free(p->user.additional_gids);
	free(p->user.username);
	oci_strv_free(&p->args);
	oci_strv_free(&p->env);
	free(p->cwd);
	oci_strv_free(&p->capabilities.bounding);
	oci_strv_free(&p->capabilities.effective);
	oci_strv_free(&p->capabilities.inheritable);
	oci_strv_free(&p->capabilities.permitted);
	oci_strv_free(&p->capabilities.ambient);
	for (size_t i = 0; i < p->n_rlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	free(p);
}

/* ---- root, mounts, hooks ---- */

static int read_root(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("path", read_nonempty_string, struct oci_root, path),
	    JSON_FIELD("readonly", json_read_bool, struct oci_root, readonly),
	};
	struct oci_root **root = out;

	*root = calloc(1, sizeof(**root));
	if (*root == NULL)
		return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
	return json_read_fields(w, v, *root, fields, JSON_ARRAY_SIZE(fields));
}

static int read_mount(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("destination", oci_read_abs_path, struct oci_mount, destination),
	    JSON_FIELD("type", json_read_string, struct oci_mount, type),
	    JSON_FIELD("source", json_read_string, struct oci_mount, source),
	    JSON_FIELD("options", oci_read_strv, struct oci_mount, options),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

OCI_ARRAY_READER(read_mounts, struct oci_config, mounts, read_mount)

static int read_hook_timeout(struct json_walk *w, const struct json_node *v, void *out)
{
	int64_t i;

	if (json_read_int(w, v, 1, INT32_MAX, &i) < 0)
		return -1;
	*(int *)out = (int)i;
	return 0;
}

static int read_hook(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("path", oci_read_abs_path, struct oci_hook, path),
	    JSON_FIELD("args", oci_read_strv, struct oci_hook, args),
	    JSON_FIELD("env", oci_read_strv, struct oci_hook, env),
	    JSON_OPTIONAL("timeout", read_hook_timeout, struct oci_hook, timeout, has_timeout),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

OCI_ARRAY_READER(read_prestart, struct oci_hooks, prestart, read_hook)
OCI_ARRAY_READER(read_create_runtime, struct oci_hooks, create_runtime, read_hook)
OCI_ARRAY_READER(read_create_container, struct oci_hooks, create_container, read_hook)
OCI_ARRAY_READER(read_start_container, struct oci_hooks, start_container, read_hook)
OCI_ARRAY_READER(read_poststart, struct oci_hooks, poststart, read_hook)
OCI_ARRAY_READER(read_poststop, struct oci_hooks, poststop, read_hook)

static int read_hooks(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_WHOLE("prestart", read_prestart),
	    JSON_WHOLE("createRuntime", read_create_runtime),
	    JSON_WHOLE("createContainer", read_create_container),
	    JSON_WHOLE("startContainer", read_start_container),
	    JSON_WHOLE("poststart", read_poststart),
	    JSON_WHOLE("poststop", read_poststop),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static void hooks_free(struct oci_hook *hooks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(hooks[i].path);
		oci_strv_free(&hooks[i].args);
		oci_strv_free(&hooks[i].env);
	}
	free(hooks);
}

/* ---- the document ---- */

/* Major version 1; SemVer leaves the rest to the bundle ("1.0.2-dev"). */
static int read_version(struct json_walk *w, const struct json_node *v, void *out)
{
	char **version = out;

	if (json_read_string(w, v, version) < 0)
		return -1;
	if (strncmp(*version, "1.", 2) != 0 || (*version)[2] < '0' || (*version)[2] > '9')
		return json_fail(w, "`%.*s` is not supported (1.x)", JSON_SHOWN, *version);
	return 0;
}

static const struct json_field config_fields[] = {
    JSON_REQUIRED("ociVersion", read_version, struct oci_config, oci_version),
    JSON_FIELD("process", read_process, struct oci_config, process),
    JSON_FIELD("root", read_root, struct oci_config, root),
    JSON_FIELD("hostname", json_read_string, struct oci_config, hostname),
    JSON_FIELD("domainname", json_read_string, struct oci_config, domainname),
    JSON_WHOLE("mounts", read_mounts),
    JSON_FIELD("hooks", read_hooks, struct oci_config, hooks),
    JSON_FIELD("annotations", oci_read_map, struct oci_config, annotations),
    JSON_FIELD("linux", oci_read_linux, struct oci_config, linux_),
};

/* Parse buf into a tree and hand it to read with a fresh walker. */
static int parse_document(const char *buf, size_t len, const char *name, json_reader read,
			  void *out, mv_error_t *err)
{
	struct json_walk w = {.doc = name, .err = err};
	struct json_node *root = NULL;
	int ret;

	if (len > OCI_CONFIG_MAX_SIZE)
		return mv_error(err, EINVAL, "`%s`: larger than %d MiB", name,
				OCI_CONFIG_MAX_SIZE >> 20);
	if (json_parse(buf, len, name, &root, err) < 0)
		return -1;
	ret = read(&w, root, out);
	json_free(root);
	return ret;
}

static int read_config(struct json_walk *w, const struct json_node *v, void *out)
{
	return json_read_fields(w, v, out, config_fields, JSON_ARRAY_SIZE(config_fields));
}

int oci_config_parse(const char *buf, size_t len, const char *name, struct oci_config **out,
		     mv_error_t *err)
{
	struct oci_config *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return mv_error(err, ENOMEM, "`%s`: parse", name);
	if (parse_document(buf, len, name, read_config, c, err) < 0) {
		oci_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int oci_process_parse(const char *buf, size_t len, const char *name, struct oci_process **out,
		      mv_error_t *err)
{
	struct oci_process *p = NULL;

	if (parse_document(buf, len, name, read_process, &p, err) < 0) {
		oci_process_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

/* The whole file, refusing one larger than OCI_CONFIG_MAX_SIZE without
 * reading all of it. */
static int read_file(const char *path, char **buf, size_t *len, mv_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	cleanup_free char *data = malloc(OCI_CONFIG_MAX_SIZE + 1);
	size_t got = 0;

	if (fd < 0)
		return mv_error(err, errno, "open `%s`", path);
	if (data == NULL)
		return mv_error(err, ENOMEM, "read `%s`", path);
	while (got <= OCI_CONFIG_MAX_SIZE) {
		ssize_t n = read(fd, data + got, OCI_CONFIG_MAX_SIZE + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mv_error(err, errno, "read `%s`", path);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > OCI_CONFIG_MAX_SIZE)
		return mv_error(err, EFBIG, "`%s`: larger than %d MiB", path,
				OCI_CONFIG_MAX_SIZE >> 20);
	*buf = steal_ptr(&data);
	*len = got;
	return 0;
}

int oci_config_load(const char *path, struct oci_config **out, mv_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;

	if (read_file(path, &buf, &len, err) < 0)
		return -1;
	return oci_config_parse(buf, len, path, out, err);
}

void oci_config_free(struct oci_config *c)
{
	struct oci_hooks *h;

	if (c == NULL)
		return;
	h = &c->hooks;
	free(c->oci_version);
	oci_process_free(c->process);
	if (c->root)
		free(c->root->path);
	free(c->root);
	free(c->hostname);
	free(c->domainname);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].destination);
		free(c->mounts[i].type);
		free(c->mounts[i].source);
		oci_strv_free(&c->mounts[i].options);
	}
	free(c->mounts);
	hooks_free(h->prestart, h->n_prestart);
	hooks_free(h->create_runtime, h->n_create_runtime);
	hooks_free(h->create_container, h->n_create_container);
	hooks_free(h->start_container, h->n_start_container);
	hooks_free(h->poststart, h->n_poststart);
	hooks_free(h->poststop, h->n_poststop);
	oci_map_free(&c->annotations);
	oci_linux_free(c->linux_);
	free(c);
}
