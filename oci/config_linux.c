/* config.json's "linux" object: namespaces, id mappings, devices,
 * resources, seccomp and the rest (config-linux.md of the runtime spec). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config_internal.h"

static int fail_enomem(struct json_walk *w)
{
	return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
}

/* ---- namespaces and id mappings ---- */

static const char *const namespace_types[] = {
    "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
};

static int read_namespace_type(struct json_walk *w, const struct json_node *v, void *out)
{
	int i = json_read_choice(w, v, out, namespace_types, JSON_ARRAY_SIZE(namespace_types),
				 "a namespace type (pid, network, mount, ipc, uts, user, cgroup, "
				 "time)");

	return i < 0 ? -1 : 0;
}

static int read_namespace(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("type", read_namespace_type, struct oci_namespace, type),
	    JSON_FIELD("path", oci_read_abs_path, struct oci_namespace, path),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static size_t namespace_index(const char *type)
{
	size_t i = 0;

	while (strcmp(namespace_types[i], type) != 0)
		i++;
	return i;
}

/* "If a namespace type is specified more than once, the runtime MUST
 * generate an error." */
static int read_namespaces(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_linux *l = out;
	uint32_t seen = 0;

	if (json_read_array(w, v, sizeof(*l->namespaces), read_namespace, (void **)&l->namespaces,
			    &l->n_namespaces) < 0)
		return -1;
	for (size_t i = 0; i < l->n_namespaces; i++) {
		uint32_t bit = 1u << namespace_index(l->namespaces[i].type);

		if (seen & bit) {
			json_walk_index(w, i);
			json_walk_key(w, "type");
			return json_fail(w, "duplicate `%.*s`", JSON_SHOWN, l->namespaces[i].type);
		}
		seen |= bit;
	}
	return 0;
}

static int read_id_mapping(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("containerID", json_read_u32, struct oci_id_mapping, container_id),
	    JSON_REQUIRED("hostID", json_read_u32, struct oci_id_mapping, host_id),
	    JSON_REQUIRED("size", json_read_u32, struct oci_id_mapping, size),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

OCI_ARRAY_READER(read_uid_mappings, struct oci_linux, uid_mappings, read_id_mapping)
OCI_ARRAY_READER(read_gid_mappings, struct oci_linux, gid_mappings, read_id_mapping)

/* ---- devices ---- */

static const char *const device_types[] = {"c", "b", "u", "p"};

static int read_device_type(struct json_walk *w, const struct json_node *v, void *out)
{
	int i = json_read_choice(w, v, out, device_types, JSON_ARRAY_SIZE(device_types),
				 "a device type (c, b, u, p)");

	return i < 0 ? -1 : 0;
}

/* major and minor are REQUIRED except for a FIFO. */
static int check_device_numbers(struct json_walk *w, const struct json_node *v,
				const struct oci_device *d)
{
	static const char *const keys[] = {"major", "minor"};

	if (strcmp(d->type, "p") == 0)
		return 0;
	for (size_t i = 0; i < JSON_ARRAY_SIZE(keys); i++) {
		const struct json_node *n = json_member(v, keys[i]);

		if (n == NULL || n->type == JSON_NULL) {
			json_walk_key(w, keys[i]);
			return json_fail(w, "is required for type `%s`", d->type);
		}
	}
	return 0;
}

static int read_device(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("path", oci_read_abs_path, struct oci_device, path),
	    JSON_REQUIRED("type", read_device_type, struct oci_device, type),
	    JSON_FIELD("major", json_read_i64, struct oci_device, major),
	    JSON_FIELD("minor", json_read_i64, struct oci_device, minor),
	    JSON_OPTIONAL("fileMode", json_read_u32, struct oci_device, file_mode, has_file_mode),
	    JSON_OPTIONAL("uid", json_read_u32, struct oci_device, uid, has_uid),
	    JSON_OPTIONAL("gid", json_read_u32, struct oci_device, gid, has_gid),
	};

	if (json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields)) < 0)
		return -1;
	return check_device_numbers(w, v, out);
}

OCI_ARRAY_READER(read_devices, struct oci_linux, devices, read_device)

/* ---- resources ---- */

static const char *const cgroup_device_types[] = {"a", "c", "b"};

static int read_cgroup_device_type(struct json_walk *w, const struct json_node *v, void *out)
{
	int i = json_read_choice(w, v, out, cgroup_device_types,
				 JSON_ARRAY_SIZE(cgroup_device_types), "a device type (a, c, b)");

	return i < 0 ? -1 : 0;
}

static int read_cgroup_access(struct json_walk *w, const struct json_node *v, void *out)
{
	char **access = out;

	if (json_read_string(w, v, access) < 0)
		return -1;
	if ((*access)[strspn(*access, "rwm")] != '\0')
		return json_fail(w, "`%.*s` is not made of r, w and m", JSON_SHOWN, *access);
	return 0;
}

static int read_cgroup_number(struct json_walk *w, const struct json_node *v, void *out)
{
	return json_read_int(w, v, -1, INT64_MAX, out);
}

static int read_device_cgroup(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("allow", json_read_bool, struct oci_device_cgroup, allow),
	    JSON_FIELD("type", read_cgroup_device_type, struct oci_device_cgroup, type),
	    JSON_FIELD("major", read_cgroup_number, struct oci_device_cgroup, major),
	    JSON_FIELD("minor", read_cgroup_number, struct oci_device_cgroup, minor),
	    JSON_FIELD("access", read_cgroup_access, struct oci_device_cgroup, access),
	};
	struct oci_device_cgroup *d = out;

	d->major = d->minor = -1; /* absent: any */
	return json_read_fields(w, v, d, fields, JSON_ARRAY_SIZE(fields));
}

OCI_ARRAY_READER(read_cgroup_devices, struct oci_resources, devices, read_device_cgroup)

#define RES(key, read, member) JSON_OPTIONAL(key, read, struct oci_resources, member, has_##member)

static int read_memory(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    RES("limit", json_read_i64, memory_limit),
	    RES("reservation", json_read_i64, memory_reservation),
	    RES("swap", json_read_i64, memory_swap),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static int read_cpu(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    RES("shares", json_read_u64, cpu_shares),
	    RES("quota", json_read_i64, cpu_quota),
	    RES("period", json_read_u64, cpu_period),
	    JSON_FIELD("cpus", json_read_string, struct oci_resources, cpu_cpus),
	    JSON_FIELD("mems", json_read_string, struct oci_resources, cpu_mems),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static int read_pids(struct json_walk *w, const struct json_node *v, void *out)
{
	/* REQUIRED in spec 1.0, optional since 1.2.1: absent means no limit. */
	static const struct json_field fields[] = {
	    RES("limit", json_read_i64, pids_limit),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

static int read_resources(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_WHOLE("devices", read_cgroup_devices),
	    JSON_WHOLE("memory", read_memory),
	    JSON_WHOLE("cpu", read_cpu),
	    JSON_WHOLE("pids", read_pids),
	    JSON_FIELD("unified", oci_read_map, struct oci_resources, unified),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

/* ---- seccomp ---- */

/* libseccomp's actions and operators as the spec lists them. */
static const char *const seccomp_actions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",	       "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",	       "SCMP_ACT_NOTIFY",
};

static const char *const seccomp_operators[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",	"SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

static int read_action(struct json_walk *w, const struct json_node *v, void *out)
{
	int i = json_read_choice(w, v, out, seccomp_actions, JSON_ARRAY_SIZE(seccomp_actions),
				 "a seccomp action (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO...)");

	return i < 0 ? -1 : 0;
}

static int read_operator(struct json_walk *w, const struct json_node *v, void *out)
{
	int i = json_read_choice(w, v, out, seccomp_operators, JSON_ARRAY_SIZE(seccomp_operators),
				 "a seccomp operator (SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ...)");

	return i < 0 ? -1 : 0;
}

/* A system call has six arguments. */
static int read_arg_index(struct json_walk *w, const struct json_node *v, void *out)
{
	uint64_t u;

	if (json_read_uint(w, v, 5, &u) < 0)
		return -1;
	*(uint32_t *)out = (uint32_t)u;
	return 0;
}

static int read_seccomp_arg(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("index", read_arg_index, struct oci_seccomp_arg, index),
	    JSON_REQUIRED("value", json_read_u64, struct oci_seccomp_arg, value),
	    JSON_FIELD("valueTwo", json_read_u64, struct oci_seccomp_arg, value_two),
	    JSON_REQUIRED("op", read_operator, struct oci_seccomp_arg, op),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

OCI_ARRAY_READER(read_seccomp_args, struct oci_seccomp_syscall, args, read_seccomp_arg)

static int read_syscall_names(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_strv *names = out;

	if (oci_read_strv(w, v, names) < 0)
		return -1;
	if (names->n == 0)
		return json_fail(w, "must have at least one entry");
	return 0;
}

static int read_syscall(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("names", read_syscall_names, struct oci_seccomp_syscall, names),
	    JSON_REQUIRED("action", read_action, struct oci_seccomp_syscall, action),
	    JSON_OPTIONAL("errnoRet", json_read_u32, struct oci_seccomp_syscall, errno_ret,
			  has_errno_ret),
	    JSON_WHOLE("args", read_seccomp_args),
	};

	return json_read_fields(w, v, out, fields, JSON_ARRAY_SIZE(fields));
}

OCI_ARRAY_READER(read_syscalls, struct oci_seccomp, syscalls, read_syscall)

static int read_seccomp(struct json_walk *w, const struct json_node *v, void *out)
{
	static const struct json_field fields[] = {
	    JSON_REQUIRED("defaultAction", read_action, struct oci_seccomp, default_action),
	    JSON_OPTIONAL("defaultErrnoRet", json_read_u32, struct oci_seccomp, default_errno_ret,
			  has_default_errno_ret),
	    JSON_FIELD("architectures", oci_read_strv, struct oci_seccomp, architectures),
	    JSON_FIELD("flags", oci_read_strv, struct oci_seccomp, flags),
	    JSON_FIELD("listenerPath", json_read_string, struct oci_seccomp, listener_path),
	    JSON_WHOLE("syscalls", read_syscalls),
	};
	struct oci_seccomp **s = out;

	*s = calloc(1, sizeof(**s));
	if (*s == NULL)
		return fail_enomem(w);
	return json_read_fields(w, v, *s, fields, JSON_ARRAY_SIZE(fields));
}

static void seccomp_free(struct oci_seccomp *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_syscalls; i++) {
		struct oci_seccomp_syscall *sc = &s->syscalls[i];

		oci_strv_free(&sc->names);
		free(sc->action);
		for (size_t j = 0; j < sc->n_args; j++)
			free(sc->args[j].op);
		free(sc->args);
	}
	free(s->syscalls);
	free(s->default_action);
	oci_strv_free(&s->architectures);
	oci_strv_free(&s->flags);
	free(s->listener_path);
	free(s);
}

/* ---- the linux object ---- */

/* runc and crun take the recursive forms too. */
static const char *const propagations[] = {
    "private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", "runbindable",
};

static int read_propagation(struct json_walk *w, const struct json_node *v, void *out)
{
	int i = json_read_choice(w, v, out, propagations, JSON_ARRAY_SIZE(propagations),
				 "a propagation (private, shared, slave, unbindable)");

	return i < 0 ? -1 : 0;
}

static const struct json_field linux_fields[] = {
    JSON_WHOLE("namespaces", read_namespaces),
    JSON_WHOLE("uidMappings", read_uid_mappings),
    JSON_WHOLE("gidMappings", read_gid_mappings),
    JSON_WHOLE("devices", read_devices),
    JSON_OPTIONAL("resources", read_resources, struct oci_linux, resources, has_resources),
    JSON_FIELD("cgroupsPath", json_read_string, struct oci_linux, cgroups_path),
    JSON_FIELD("sysctl", oci_read_map, struct oci_linux, sysctl),
    JSON_FIELD("seccomp", read_seccomp, struct oci_linux, seccomp),
    JSON_FIELD("rootfsPropagation", read_propagation, struct oci_linux, rootfs_propagation),
    JSON_FIELD("maskedPaths", oci_read_strv, struct oci_linux, masked_paths),
    JSON_FIELD("readonlyPaths", oci_read_strv, struct oci_linux, readonly_paths),
    JSON_FIELD("mountLabel", json_read_string, struct oci_linux, mount_label),
};

int oci_read_linux(struct json_walk *w, const struct json_node *v, void *out)
{
	struct oci_linux **l = out;

	*l = calloc(1, sizeof(**l));
	if (*l == NULL)
		return fail_enomem(w);
	return json_read_fields(w, v, *l, linux_fields, JSON_ARRAY_SIZE(linux_fields));
}

static void resources_free(struct oci_resources *r)
{
	free(r->cpu_cpus);
	free(r->cpu_mems);
	for (size_t i = 0; i < r->n_devices; i++) {
		free(r->devices[i].type);
		free(r->devices[i].access);
	}
	free(r->devices);
	oci_map_free(&r->unified);
}

void oci_linux_free(struct oci_linux *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_namespaces; i++) {
		free(l->namespaces[i].type);
		free(l->namespaces[i].path);
	}
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++) {
		free(l->devices[i].path);
		free(l->devices[i].type);
	}
	free(l->devices);
	resources_free(&l->resources);
	free(l->cgroups_path);
	oci_map_free(&l->sysctl);
	seccomp_free(l->seccomp);
	free(l->rootfs_propagation);
	oci_strv_free(&l->masked_paths);
	oci_strv_free(&l->readonly_paths);
	free(l->mount_label);
	free(l);
}
