/* config.json and process.json out of the structs, for oci_*_parse to read
 * back: what is absent in the struct (NULL, has_* false, n == 0, a false
 * boolean) is left out, everything else is written. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "oci/config.h"

/* The generator and its first failure: the helpers do nothing after one, so
 * callers check once at the end. */
struct gen {
	yajl_gen g;
	yajl_gen_status status;
};

static void check(struct gen *g, yajl_gen_status status)
{
	if (g->status == yajl_gen_status_ok)
		g->status = status;
}

static void str(struct gen *g, const char *s)
{
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_string(g->g, (const unsigned char *)s, strlen(s)));
}

static void key(struct gen *g, const char *k)
{
	str(g, k);
}

static void open_map(struct gen *g)
{
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_map_open(g->g));
}

static void close_map(struct gen *g)
{
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_map_close(g->g));
}

static void open_array(struct gen *g)
{
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_array_open(g->g));
}

static void close_array(struct gen *g)
{
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_array_close(g->g));
}

/* "k": { — closed by close_map */
static void open_object(struct gen *g, const char *k)
{
	key(g, k);
	open_map(g);
}

/* Numbers as text: yajl_gen_integer takes a long long, too small for a
 * uint64 such as RLIM_INFINITY. */
static void number(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void number(struct gen *g, const char *fmt, ...)
{
	char buf[32];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_number(g->g, buf, (size_t)n));
}

static void u64(struct gen *g, const char *k, uint64_t v)
{
	key(g, k);
	number(g, "%" PRIu64, v);
}

static void i64(struct gen *g, const char *k, int64_t v)
{
	key(g, k);
	number(g, "%" PRId64, v);
}

static void boolean(struct gen *g, const char *k, bool v)
{
	key(g, k);
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_bool(g->g, v));
}

/* The optional kinds: written only when present. */
static void opt_str(struct gen *g, const char *k, const char *v)
{
	if (v == NULL)
		return;
	key(g, k);
	str(g, v);
}

static void opt_true(struct gen *g, const char *k, bool v)
{
	if (v)
		boolean(g, k, true);
}

static void opt_u64(struct gen *g, const char *k, bool has, uint64_t v)
{
	if (has)
		u64(g, k, v);
}

static void opt_i64(struct gen *g, const char *k, bool has, int64_t v)
{
	if (has)
		i64(g, k, v);
}

static void strv(struct gen *g, const char *k, const struct oci_strv *s)
{
	if (s->n == 0)
		return;
	key(g, k);
	open_array(g);
	for (size_t i = 0; i < s->n; i++)
		str(g, s->v[i]);
	close_array(g);
}

static void map(struct gen *g, const char *k, const struct oci_map *m)
{
	if (m->n == 0)
		return;
	open_object(g, k);
	for (size_t i = 0; i < m->n; i++) {
		key(g, m->keys[i]);
		str(g, m->values[i]);
	}
	close_map(g);
}

/* "k": [{...}, ...] for the n items of size bytes at items, fields writing
 * each one's members; nothing when n is 0. */
static void objects(struct gen *g, const char *k, const void *items, size_t n, size_t size,
		    void (*fields)(struct gen *, const void *))
{
	if (n == 0)
		return;
	key(g, k);
	open_array(g);
	for (size_t i = 0; i < n; i++) {
		open_map(g);
		fields(g, (const char *)items + i * size);
		close_map(g);
	}
	close_array(g);
}

/* ---- process ---- */

static void gen_user(struct gen *g, const struct oci_user *u)
{
	open_object(g, "user");
	u64(g, "uid", u->uid);
	u64(g, "gid", u->gid);
	opt_u64(g, "umask", u->has_umask, u->umask);
	if (u->n_additional_gids) {
		key(g, "additionalGids");
		open_array(g);
		for (size_t i = 0; i < u->n_additional_gids; i++)
			number(g, "%" PRIu32, u->additional_gids[i]);
		close_array(g);
	}
	opt_str(g, "username", u->username);
	close_map(g);
}

static void gen_capabilities(struct gen *g, const struct oci_process *p)
{
	const struct oci_capabilities *c = &p->capabilities;

	if (!p->has_capabilities)
		return;
	open_object(g, "capabilities");
	strv(g, "bounding", &c->bounding);
	strv(g, "effective", &c->effective);
	strv(g, "inheritable", &c->inheritable);
	strv(g, "permitted", &c->permitted);
	strv(g, "ambient", &c->ambient);
	close_map(g);
}

static void rlimit_fields(struct gen *g, const void *item)
{
	const struct oci_rlimit *r = item;

	opt_str(g, "type", r->type);
	u64(g, "soft", r->soft);
	u64(g, "hard", r->hard);
}

static void gen_process(struct gen *g, const struct oci_process *p)
{
	open_map(g);
	opt_true(g, "terminal", p->terminal);
	if (p->has_console_size) {
		open_object(g, "consoleSize");
		u64(g, "height", p->console_height);
		u64(g, "width", p->console_width);
		close_map(g);
	}
	gen_user(g, &p->user);
	strv(g, "args", &p->args);
	strv(g, "env", &p->env);
	opt_str(g, "cwd", p->cwd);
	gen_capabilities(g, p);
	objects(g, "rlimits", p->rlimits, p->n_rlimits, sizeof(*p->rlimits), rlimit_fields);
	opt_true(g, "noNewPrivileges", p->no_new_privileges);
	opt_i64(g, "oomScoreAdj", p->has_oom_score_adj, p->oom_score_adj);
	opt_str(g, "apparmorProfile", p->apparmor_profile);
	opt_str(g, "selinuxLabel", p->selinux_label);
	close_map(g);
}

/* ---- root, mounts, hooks ---- */

static void gen_root(struct gen *g, const struct oci_root *r)
{
	if (r == NULL)
		return;
	open_object(g, "root");
	opt_str(g, "path", r->path);
	opt_true(g, "readonly", r->readonly);
	close_map(g);
}

static void mount_fields(struct gen *g, const void *item)
{
	const struct oci_mount *m = item;

	opt_str(g, "destination", m->destination);
	opt_str(g, "type", m->type);
	opt_str(g, "source", m->source);
	strv(g, "options", &m->options);
}

static void hook_fields(struct gen *g, const void *item)
{
	const struct oci_hook *h = item;

	opt_str(g, "path", h->path);
	strv(g, "args", &h->args);
	strv(g, "env", &h->env);
	opt_i64(g, "timeout", h->has_timeout, h->timeout);
}

static void gen_hook_list(struct gen *g, const char *k, const struct oci_hook *h, size_t n)
{
	objects(g, k, h, n, sizeof(*h), hook_fields);
}

static void gen_hooks(struct gen *g, const struct oci_hooks *h)
{
	size_t n = h->n_prestart + h->n_create_runtime + h->n_create_container +
		   h->n_start_container + h->n_poststart + h->n_poststop;

	if (n == 0)
		return;
	open_object(g, "hooks");
	gen_hook_list(g, "prestart", h->prestart, h->n_prestart);
	gen_hook_list(g, "createRuntime", h->create_runtime, h->n_create_runtime);
	gen_hook_list(g, "createContainer", h->create_container, h->n_create_container);
	gen_hook_list(g, "startContainer", h->start_container, h->n_start_container);
	gen_hook_list(g, "poststart", h->poststart, h->n_poststart);
	gen_hook_list(g, "poststop", h->poststop, h->n_poststop);
	close_map(g);
}

/* ---- linux ---- */

static void namespace_fields(struct gen *g, const void *item)
{
	const struct oci_namespace *ns = item;

	opt_str(g, "type", ns->type);
	opt_str(g, "path", ns->path);
}

static void id_mapping_fields(struct gen *g, const void *item)
{
	const struct oci_id_mapping *m = item;

	u64(g, "containerID", m->container_id);
	u64(g, "hostID", m->host_id);
	u64(g, "size", m->size);
}

static void device_fields(struct gen *g, const void *item)
{
	const struct oci_device *d = item;

	opt_str(g, "path", d->path);
	opt_str(g, "type", d->type);
	i64(g, "major", d->major);
	i64(g, "minor", d->minor);
	opt_u64(g, "fileMode", d->has_file_mode, d->file_mode);
	opt_u64(g, "uid", d->has_uid, d->uid);
	opt_u64(g, "gid", d->has_gid, d->gid);
}

static void device_cgroup_fields(struct gen *g, const void *item)
{
	const struct oci_device_cgroup *d = item;

	boolean(g, "allow", d->allow);
	opt_str(g, "type", d->type);
	opt_i64(g, "major", d->major != -1, d->major);
	opt_i64(g, "minor", d->minor != -1, d->minor);
	opt_str(g, "access", d->access);
}

static void gen_resources(struct gen *g, const struct oci_linux *l)
{
	const struct oci_resources *r = &l->resources;

	if (!l->has_resources)
		return;
	open_object(g, "resources");
	objects(g, "devices", r->devices, r->n_devices, sizeof(*r->devices), device_cgroup_fields);
	open_object(g, "memory");
	opt_i64(g, "limit", r->has_memory_limit, r->memory_limit);
	opt_i64(g, "reservation", r->has_memory_reservation, r->memory_reservation);
	opt_i64(g, "swap", r->has_memory_swap, r->memory_swap);
	close_map(g);
	open_object(g, "cpu");
	opt_u64(g, "shares", r->has_cpu_shares, r->cpu_shares);
	opt_i64(g, "quota", r->has_cpu_quota, r->cpu_quota);
	opt_u64(g, "period", r->has_cpu_period, r->cpu_period);
	opt_str(g, "cpus", r->cpu_cpus);
	opt_str(g, "mems", r->cpu_mems);
	close_map(g);
	open_object(g, "pids");
	opt_i64(g, "limit", r->has_pids_limit, r->pids_limit);
	close_map(g);
	close_map(g);
}

static void syscall_arg_fields(struct gen *g, const void *item)
{
	const struct oci_seccomp_arg *arg = item;

	u64(g, "index", arg->index);
	u64(g, "value", arg->value);
	u64(g, "valueTwo", arg->value_two);
	opt_str(g, "op", arg->op);
}

static void syscall_fields(struct gen *g, const void *item)
{
	const struct oci_seccomp_syscall *sc = item;

	strv(g, "names", &sc->names);
	opt_str(g, "action", sc->action);
	opt_u64(g, "errnoRet", sc->has_errno_ret, sc->errno_ret);
	objects(g, "args", sc->args, sc->n_args, sizeof(*sc->args), syscall_arg_fields);
}

static void gen_seccomp(struct gen *g, const struct oci_seccomp *s)
{
	if (s == NULL)
		return;
	open_object(g, "seccomp");
	opt_str(g, "defaultAction", s->default_action);
	opt_u64(g, "defaultErrnoRet", s->has_default_errno_ret, s->default_errno_ret);
	strv(g, "architectures", &s->architectures);
	strv(g, "flags", &s->flags);
	opt_str(g, "listenerPath", s->listener_path);
	objects(g, "syscalls", s->syscalls, s->n_syscalls, sizeof(*s->syscalls), syscall_fields);
	close_map(g);
}

static void gen_linux(struct gen *g, const struct oci_linux *l)
{
	if (l == NULL)
		return;
	open_object(g, "linux");
	objects(g, "namespaces", l->namespaces, l->n_namespaces, sizeof(*l->namespaces),
		namespace_fields);
	objects(g, "uidMappings", l->uid_mappings, l->n_uid_mappings, sizeof(*l->uid_mappings),
		id_mapping_fields);
	objects(g, "gidMappings", l->gid_mappings, l->n_gid_mappings, sizeof(*l->gid_mappings),
		id_mapping_fields);
	objects(g, "devices", l->devices, l->n_devices, sizeof(*l->devices), device_fields);
	gen_resources(g, l);
	opt_str(g, "cgroupsPath", l->cgroups_path);
	map(g, "sysctl", &l->sysctl);
	gen_seccomp(g, l->seccomp);
	opt_str(g, "rootfsPropagation", l->rootfs_propagation);
	strv(g, "maskedPaths", &l->masked_paths);
	strv(g, "readonlyPaths", &l->readonly_paths);
	opt_str(g, "mountLabel", l->mount_label);
	close_map(g);
}

/* ---- the documents ---- */

static void gen_config(struct gen *g, const struct oci_config *c)
{
	open_map(g);
	opt_str(g, "ociVersion", c->oci_version);
	if (c->process) {
		key(g, "process");
		gen_process(g, c->process);
	}
	gen_root(g, c->root);
	opt_str(g, "hostname", c->hostname);
	opt_str(g, "domainname", c->domainname);
	objects(g, "mounts", c->mounts, c->n_mounts, sizeof(*c->mounts), mount_fields);
	gen_hooks(g, &c->hooks);
	map(g, "annotations", &c->annotations);
	gen_linux(g, c->linux_);
	close_map(g);
}

/* Run write over a fresh generator and copy out its text. */
static int generate(const void *what, void (*write)(struct gen *, const void *), char **json,
		    size_t *len, mv_error_t *err)
{
	struct gen g = {.g = yajl_gen_alloc(NULL), .status = yajl_gen_status_ok};
	const unsigned char *buf;
	size_t n;

	if (g.g == NULL)
		return mv_error(err, ENOMEM, "generate JSON");
	/* Strings that are not UTF-8 would make a document no parser takes. */
	yajl_gen_config(g.g, yajl_gen_validate_utf8, 1);
	write(&g, what);
	if (g.status == yajl_gen_status_ok)
		g.status = yajl_gen_get_buf(g.g, &buf, &n);
	if (g.status != yajl_gen_status_ok) {
		yajl_gen_free(g.g);
		if (g.status == yajl_gen_invalid_string)
			return mv_error(err, EINVAL, "generate JSON: a string is not UTF-8");
		return mv_error(err, EINVAL, "generate JSON: yajl status %d", (int)g.status);
	}
	*json = malloc(n + 1);
	if (*json == NULL) {
		yajl_gen_free(g.g);
		return mv_error(err, ENOMEM, "generate JSON");
	}
	memcpy(*json, buf, n);
	(*json)[n] = '\0';
	*len = n;
	yajl_gen_free(g.g);
	return 0;
}

static void write_config(struct gen *g, const void *c)
{
	gen_config(g, c);
}

static void write_process(struct gen *g, const void *p)
{
	gen_process(g, p);
}

int oci_config_to_json(const struct oci_config *c, char **json, size_t *len, mv_error_t *err)
{
	return generate(c, write_config, json, len, err);
}

int oci_process_to_json(const struct oci_process *p, char **json, size_t *len, mv_error_t *err)
{
	return generate(p, write_process, json, len, err);
}
