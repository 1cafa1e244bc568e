/* runc's example spec (runc spec), field for field and in its order, with
 * mvrun as the hostname.  A table per list, so a change is one line. */
#include "oci/spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const capabilities[] = {
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
};

static const char *const env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
};

struct spec_mount {
	const char *destination, *type, *source;
	const char *options[8]; /* NULL-terminated */
};

static const struct spec_mount mounts[] = {
    {"/proc", "proc", "proc", {NULL}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
    {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
};

/* Rootless: sysfs cannot be mounted without owning the network namespace. */
static const struct spec_mount rootless_sys = {
    "/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};

/* The guest kernel has cgroup v2, so a cgroup namespace always. */
static const char *const namespaces[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};

static const char *const masked_paths[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/tpm",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* ---- generating ---- */

static int str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static int kv(yajl_gen g, const char *key, const char *value)
{
	return str(g, key) || str(g, value);
}

static int kint(yajl_gen g, const char *key, long long value)
{
	return str(g, key) || yajl_gen_integer(g, value);
}

static int kbool(yajl_gen g, const char *key, bool value)
{
	return str(g, key) || yajl_gen_bool(g, value);
}

static int kstrv(yajl_gen g, const char *key, const char *const *v, size_t n)
{
	int bad = str(g, key) || yajl_gen_array_open(g);

	for (size_t i = 0; i < n && !bad; i++)
		bad = str(g, v[i]);
	return bad || yajl_gen_array_close(g);
}

static int gen_process(yajl_gen g)
{
	static const char *const args[] = {"sh"};
	int bad = str(g, "process") || yajl_gen_map_open(g);

	bad = bad || kbool(g, "terminal", true);
	bad = bad || str(g, "user") || yajl_gen_map_open(g);
	bad = bad || kint(g, "uid", 0) || kint(g, "gid", 0) || yajl_gen_map_close(g);
	bad = bad || kstrv(g, "args", args, N(args)) || kstrv(g, "env", env, N(env));
	bad = bad || kv(g, "cwd", "/");
	bad = bad || str(g, "capabilities") || yajl_gen_map_open(g);
	bad = bad || kstrv(g, "bounding", capabilities, N(capabilities));
	bad = bad || kstrv(g, "effective", capabilities, N(capabilities));
	bad = bad || kstrv(g, "permitted", capabilities, N(capabilities));
	bad = bad || yajl_gen_map_close(g);
	bad = bad || str(g, "rlimits") || yajl_gen_array_open(g) || yajl_gen_map_open(g);
	bad = bad || kv(g, "type", "RLIMIT_NOFILE") || kint(g, "hard", 1024);
	bad = bad || kint(g, "soft", 1024) || yajl_gen_map_close(g) || yajl_gen_array_close(g);
	bad = bad || kbool(g, "noNewPrivileges", true);
	return bad || yajl_gen_map_close(g);
}

static bool keep_option(const char *opt, bool rootless)
{
	/* Rootless: no single-id mapping can satisfy a fixed uid= or gid=. */
	return !rootless || (strncmp(opt, "uid=", 4) != 0 && strncmp(opt, "gid=", 4) != 0);
}

static int gen_mount(yajl_gen g, const struct spec_mount *m, bool rootless)
{
	int bad = yajl_gen_map_open(g);

	bad = bad || kv(g, "destination", m->destination) || kv(g, "type", m->type);
	bad = bad || kv(g, "source", m->source);
	if (m->options[0]) {
		bad = bad || str(g, "options") || yajl_gen_array_open(g);
		for (size_t i = 0; i < N(m->options) && m->options[i] && !bad; i++)
			if (keep_option(m->options[i], rootless))
				bad = str(g, m->options[i]);
		bad = bad || yajl_gen_array_close(g);
	}
	return bad || yajl_gen_map_close(g);
}

static int gen_mounts(yajl_gen g, bool rootless)
{
	int bad = str(g, "mounts") || yajl_gen_array_open(g);

	for (size_t i = 0; i < N(mounts) && !bad; i++) {
		const struct spec_mount *m = &mounts[i];

		if (rootless && strcmp(m->destination, "/sys") == 0)
			m = &rootless_sys;
		bad = gen_mount(g, m, rootless);
	}
	return bad || yajl_gen_array_close(g);
}

static int gen_id_mapping(yajl_gen g, const char *key, uint32_t host_id)
{
	int bad = str(g, key) || yajl_gen_array_open(g) || yajl_gen_map_open(g);

	bad = bad || kint(g, "containerID", 0) || kint(g, "hostID", host_id);
	bad = bad || kint(g, "size", 1);
	return bad || yajl_gen_map_close(g) || yajl_gen_array_close(g);
}

static int gen_namespaces(yajl_gen g, bool rootless)
{
	int bad = str(g, "namespaces") || yajl_gen_array_open(g);

	for (size_t i = 0; i < N(namespaces) && !bad; i++) {
		/* Rootless: a network namespace without a user's device is useless. */
		if (rootless && strcmp(namespaces[i], "network") == 0)
			continue;
		bad = yajl_gen_map_open(g) || kv(g, "type", namespaces[i]) || yajl_gen_map_close(g);
	}
	if (rootless)
		bad = bad || yajl_gen_map_open(g) || kv(g, "type", "user") || yajl_gen_map_close(g);
	return bad || yajl_gen_array_close(g);
}

static int gen_linux(yajl_gen g, const struct oci_spec_opts *o)
{
	int bad = str(g, "linux") || yajl_gen_map_open(g);

	if (o->rootless) {
		bad = bad || gen_id_mapping(g, "uidMappings", o->uid);
		bad = bad || gen_id_mapping(g, "gidMappings", o->gid);
	} else {
		/* Rootless leaves cgroups alone: no device rules. */
		bad = bad || str(g, "resources") || yajl_gen_map_open(g);
		bad = bad || str(g, "devices") || yajl_gen_array_open(g) || yajl_gen_map_open(g);
		bad = bad || kbool(g, "allow", false) || kv(g, "access", "rwm");
		bad = bad || yajl_gen_map_close(g) || yajl_gen_array_close(g);
		bad = bad || yajl_gen_map_close(g);
	}
	bad = bad || gen_namespaces(g, o->rootless);
	bad = bad || kstrv(g, "maskedPaths", masked_paths, N(masked_paths));
	bad = bad || kstrv(g, "readonlyPaths", readonly_paths, N(readonly_paths));
	return bad || yajl_gen_map_close(g);
}

static int gen_spec(yajl_gen g, const struct oci_spec_opts *o)
{
	int bad = yajl_gen_map_open(g);

	bad = bad || kv(g, "ociVersion", OCI_SPEC_VERSION) || gen_process(g);
	bad = bad || str(g, "root") || yajl_gen_map_open(g) || kv(g, "path", "rootfs");
	bad = bad || kbool(g, "readonly", true) || yajl_gen_map_close(g);
	bad = bad || kv(g, "hostname", "mvrun") || gen_mounts(g, o->rootless);
	bad = bad || gen_linux(g, o);
	return bad || yajl_gen_map_close(g);
}

int oci_spec_json(const struct oci_spec_opts *o, char **json, mv_error_t *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int ret = 0;

	*json = NULL;
	if (g == NULL)
		return mv_error(err, ENOMEM, "the example config.json");
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "\t");
	if (gen_spec(g, o) || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		ret = mv_error(err, EINVAL, "the example config.json: cannot encode it");
	else if ((*json = strndup((const char *)buf, len)) == NULL)
		ret = mv_error(err, ENOMEM, "the example config.json");
	yajl_gen_free(g);
	return ret;
}
