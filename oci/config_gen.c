/* config.json and process.json out of the structs, for oci_*_parse to read
 * back: what is absent in the struct (NULL, has_* false, n == 0, a false
 * boolean) is left out, everything else is written. */
#include <errno.h>
#include <inttypes.h>
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

/* Numbers as text: yajl_gen_integer takes a long long, too small for a
 * uint64 such as RLIM_INFINITY. */
static void u64(struct gen *g, const char *k, uint64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

	key(g, k);
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_number(g->g, buf, (size_t)n));
}

static void i64(struct gen *g, const char *k, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

	key(g, k);
	if (g->status == yajl_gen_status_ok)
		check(g, yajl_gen_number(g->g, buf, (size_t)n));
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
	key(g, k);
	open_map(g);
	for (size_t i = 0; i < m->n; i++) {
		key(g, m->keys[i]);
		str(g, m->values[i]);
	}
	close_map(g);
}

/* ---- process ---- */

static void gen_user(struct gen *g, const struct oci_user *u)
{
	key(g, "user");
	open_map(g);
	u64(g, "uid", u->uid);
	u64(g, "gid", u->gid);
	opt_u64(g, "umask", u->has_umask, u->umask);
	if (u->n_additional_gids) {
		key(g, "additionalGids");
		open_array(g);
		for (size_t i = 0; i < u->n_additional_gids; i++) {
			char buf[16];
			int n = snprintf(buf, sizeof(buf), "%" PRIu32, u->additional_gids[i]);

			if (g->status == yajl_gen_status_ok)
				check(g, yajl_gen_number(g->g, buf, (size_t)n));
		}
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
	key(g, "capabilities");
	open_map(g);
	strv(g, "bounding", &c->bounding);
	strv(g, "effective", &c->effective);
	strv(g, "inheritable", &c->inheritable);
	strv(g, "permitted", &c->permitted);
	strv(g, "ambient", &c->ambient);
	close_map(g);
}

static void gen_rlimits(struct gen *g, const struct oci_process *p)
{
	if (p->n_rlimits == 0)
		return;
	key(g, "rlimits");
	open_array(g);
	for (size_t i = 0; i < p->n_rlimits; i++) {
		open_map(g);
		opt_str(g, "type", p->rlimits[i].type);
		u64(g, "soft", p->rlimits[i].soft);
		u64(g, "hard", p->rlimits[i].hard);
		close_map(g);
	}
	close_array(g);
}

static void gen_process(struct gen *g, const struct oci_process *p)
{
	open_map(g);
	opt_true(g, "terminal", p->terminal);
	if (p->has_console_size) {
		key(g, "consoleSize");
		open_map(g);
		u64(g, "height", p->console_height);
		u64(g, "width", p->console_width);
		close_map(g);
	}
	gen_user(g, &p->user);
	strv(g, "args", &p->args);
	strv(g, "env", &p->env);
	opt_str(g, "cwd", p->cwd);
	gen_capabilities(g, p);
	gen_rlimits(g, p);
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
	key(g, "root");
	open_map(g);
	opt_str(g, "path", r->path);
	opt_true(g, "readonly", r->readonly);
	close_map(g);
}

static void gen_mounts(struct gen *g, const struct oci_mount *m, size_t n)
{
	if (n == 0)
		return;
	key(g, "mounts");
	open_array(g);
	for (size_t i = 0; i < n; i++) {
		open_map(g);
		opt_str(g, "destination", m[i].destination);
		opt_str(g, "type", m[i].type);
		opt_str(g, "source", m[i].source);
		strv(g, "options", &m[i].options);
		close_map(g);
	}
	close_array(g);
}

static void gen_hook_list(struct gen *g, const char *k, const struct oci_hook *h, size_t n)
{
	if (n == 0)
		return;
	key(g, k);
	open_array(g);
	for (size_t i = 0; i < n; i++) {
		open_map(g);
		opt_str(g, "path", h[i].path);
		strv(g, "args", &h[i].args);
		strv(g, "env", &h[i].env);
		opt_i64(g, "timeout", h[i].has_timeout, h[i].timeout);
		close_map(g);
	}
	close_array(g);
}

static void gen_hooks(struct gen *g, const struct oci_hooks *h)
{
	size_t n = h->n_prestart + h->n_create_runtime + h->n_create_container +
		   h->n_start_container + h->n_poststart + h->n_poststop;

	if (n == 0)
		return;
	key(g, "hooks");
	open_map(g);
	gen_hook_list(g, "prestart", h->prestart, h->n_prestart);
	gen_hook_list(g, "createRuntime", h->create_runtime, h->n_create_runtime);
	gen_hook_list(g, "createContainer", h->create_container, h->n_create_container);
	gen_hook_list(g, "startContainer", h->start_container, h->n_start_container);
	gen_hook_list(g, "poststart", h->poststart, h->n_poststart);
	gen_hook_list(g, "poststop", h->poststop, h->n_poststop);
	close_map(g);
}

/* ---- linux ---- */

static void gen_namespaces(struct gen *g, const struct oci_linux *l)
{
	if (l->n_namespaces == 0)
		return;
	key(g, "namespaces");
	open_array(g);
	for (size_t i = 0; i < l->n_namespaces; i++) {
		open_map(g);
		opt_str(g, "type", l->namespaces[i].type);
		opt_str(g, "path", l->namespaces[i].path);
		close_map(g);
	}
	close_array(g);
}

static void gen_id_mappings(struct gen *g, const char *k, const struct oci_id_mapping *m, size_t n)
{
	if (n == 0)
		return;
	key(g, k);
	open_array(g);
	for (size_t i = 0; i < n; i++) {
		open_map(g);
		u64(g, "containerID", m[i].container_id);
		u64(g, "hostID", m[i].host_id);
		u64(g, "size", m[i].size);
		close_map(g);
	}
	close_array(g);
}

static void gen_devices(struct gen *g, const struct oci_linux *l)
{
	if (l->n_devices == 0)
		return;
	key(g, "devices");
	open_array(g);
	for (size_t i = 0; i < l->n_devices; i++) {
		const struct oci_device *d = &l->devices[i];

		open_map(g);
		opt_str(g, "path", d->path);
		opt_str(g, "type", d->type);
		i64(g, "major", d->major);
		i64(g, "minor", d->minor);
		opt_u64(g, "fileMode", d->has_file_mode, d->file_mode);
		opt_u64(g, "uid", d->has_uid, d->uid);
		opt_u64(g, "gid", d->has_gid, d->gid);
		close_map(g);
	}
	close_array(g);
}

static void gen_device_cgroups(struct gen *g, const struct oci_resources *r)
{
	if (r->n_devices == 0)
		return;
	key(g, "devices");
	open_array(g);
	for (size_t i = 0; i < r->n_devices; i++) {
		const struct oci_device_cgroup *d = &r->devices[i];

		open_map(g);
		boolean(g, "allow", d->allow);
		opt_str(g, "type", d->type);
		opt_i64(g, "major", d->major != -1, d->major);
		opt_i64(g, "minor", d->minor != -1, d->minor);
		opt_str(g, "access", d->access);
		close_map(g);
	}
	close_array(g);
}

static void gen_resources(struct gen *g, const struct oci_linux *l)
{
	const struct oci_resources *r = &l->resources;

	if (!l->has_resources)
		return;
	key(g, "resources");
	open_map(g);
	gen_device_cgroups(g, r);
	key(g, "memory");
	open_map(g);
	opt_i64(g, "limit", r->has_memory_limit, r->memory_limit);
	opt_i64(g, "reservation", r->has_memory_reservation, r->memory_reservation);
	opt_i64(g, "swap", r->has_memory_swap, r->memory_swap);
	close_map(g);
	key(g, "cpu");
	open_map(g);
	opt_u64(g, "shares", r->has_cpu_shares, r->cpu_shares);
	opt_i64(g, "quota", r->has_cpu_quota, r->cpu_quota);
	opt_u64(g, "period", r->has_cpu_period, r->cpu_period);
	opt_str(g, "cpus", r->cpu_cpus);
	opt_str(g, "mems", r->cpu_mems);
	close_map(g);
	key(g, "pids");
	open_map(g);
	opt_i64(g, "limit", r->has_pids_limit, r->pids_limit);
	close_map(g);
	close_map(g);
}

static void gen_syscall(struct gen *g, const struct oci_seccomp_syscall *sc)
{
	open_map(g);
	strv(g, "names", &sc->names);
	opt_str(g, "action", sc->action);
	opt_u64(g, "errnoRet", sc->has_errno_ret, sc->errno_ret);
	if (sc->n_args) {
		key(g, "args");
		open_array(g);
		for (size_t i = 0; i < sc->n_args; i++) {
			open_map(g);
			u64(g, "index", sc->args[i].index);
			u64(g, "value", sc->args[i].value);
			u64(g, "valueTwo", sc->args[i].value_two);
			opt_str(g, "op", sc->args[i].op);
			close_map(g);
		}
		close_array(g);
	}
	close_map(g);
}

static void gen_seccomp(struct gen *g, const struct oci_seccomp *s)
{
	if (s == NULL)
		return;
	key(g, "seccomp");
	open_map(g);
	opt_str(g, "defaultAction", s->default_action);
	opt_u64(g, "defaultErrnoRet", s->has_default_errno_ret, s->default_errno_ret);
	strv(g, "architectures", &s->architectures);
	strv(g, "flags", &s->flags);
	opt_str(g, "listenerPath", s->listener_path);
	if (s->n_syscalls) {
		key(g, "syscalls");
		open_array(g);
		for (size_t i = 0; i < s->n_syscalls; i++)
			gen_syscall(g, &s->syscalls[i]);
		close_array(g);
	}
	close_map(g);
}

static void gen_linux(struct gen *g, const struct oci_linux *l)
{
	if (l == NULL)
		return;
	key(g, "linux");
	open_map(g);
	gen_namespaces(g, l);
	gen_id_mappings(g, "uidMappings", l->uid_mappings, l->n_uid_mappings);
	gen_id_mappings(g, "gidMappings", l->gid_mappings, l->n_gid_mappings);
	gen_devices(g, l);
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
	gen_mounts(g, c->mounts, c->n_mounts);
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
