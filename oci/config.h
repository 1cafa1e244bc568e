/* The OCI runtime spec's config.json (and an exec's process.json) as typed
 * structs, parsed with yajl.  Built into mvrun and into the guest agent: the
 * host validates a bundle's config, the agent applies it in the guest.
 *
 * Parsing follows the runtime spec: unknown properties are ignored, a
 * property of the wrong type or with a value out of range is an error that
 * names its JSON path, e.g. "`config.json`: process.args[0]: expected a
 * string".  Absent optional values are NULL, 0 with the has_* flag false, or
 * an empty array (n == 0).  Every string is NUL-terminated and owned by the
 * struct; a JSON string with an embedded NUL is refused. */
#ifndef MV_OCI_CONFIG_H
#define MV_OCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/error.h"

/* A NULL-terminated array of strings with its length. */
struct oci_strv {
	char **v; /* v[n] == NULL; NULL when n == 0 */
	size_t n;
};

/* An object of string values (annotations, sysctl), in document order. */
struct oci_map {
	char **keys;
	char **values;
	size_t n;
};

struct oci_rlimit {
	char *type; /* "RLIMIT_NOFILE" */
	uint64_t hard, soft;
};

struct oci_user {
	uint32_t uid, gid;
	bool has_umask;
	uint32_t umask;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char *username; /* Windows only in the spec; kept, unused */
};

struct oci_capabilities {
	struct oci_strv bounding, effective, inheritable, permitted, ambient; /* "CAP_..." */
};

struct oci_process {
	bool terminal;
	bool has_console_size;
	uint32_t console_height, console_width;
	struct oci_user user;
	struct oci_strv args; /* required, n >= 1 */
	struct oci_strv env;  /* "NAME=value" */
	char *cwd;	      /* required, absolute */
	bool has_capabilities;
	struct oci_capabilities capabilities;
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	char *apparmor_profile; /* accepted, ignored */
	char *selinux_label;	/* accepted, ignored */
};

struct oci_root {
	char *path; /* required: relative to the bundle, or absolute */
	bool readonly;
};

struct oci_mount {
	char *destination; /* required, absolute in the container */
	char *type;	   /* NULL: none given (a bind mount by its options) */
	char *source;
	struct oci_strv options; /* "ro", "bind", "rbind", "nosuid", "mode=755"... */
};

struct oci_hook {
	char *path; /* required, absolute */
	struct oci_strv args;
	struct oci_strv env;
	bool has_timeout;
	int timeout; /* seconds, > 0 */
};

struct oci_hooks {
	struct oci_hook *prestart, *create_runtime, *create_container, *start_container, *poststart,
	    *poststop;
	size_t n_prestart, n_create_runtime, n_create_container, n_start_container, n_poststart,
	    n_poststop;
};

struct oci_namespace {
	char *type; /* "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time" */
	char *path; /* NULL: a new namespace */
};

struct oci_id_mapping {
	uint32_t container_id, host_id, size;
};

struct oci_device {
	char *path; /* required */
	char *type; /* required: "c", "b", "u", "p" */
	int64_t major, minor;
	bool has_file_mode;
	uint32_t file_mode;
	bool has_uid, has_gid;
	uint32_t uid, gid;
};

struct oci_device_cgroup {
	bool allow;
	char *type;	      /* "a", "c", "b" or NULL */
	int64_t major, minor; /* -1: any */
	char *access;	      /* "rwm" or NULL */
};

/* linux.resources: only what mvrun uses or must refuse is kept; has_* says
 * whether the value was given. */
struct oci_resources {
	bool has_memory_limit, has_memory_reservation, has_memory_swap;
	int64_t memory_limit, memory_reservation, memory_swap;
	bool has_cpu_shares, has_cpu_quota, has_cpu_period;
	uint64_t cpu_shares, cpu_period;
	int64_t cpu_quota;
	char *cpu_cpus; /* cpuset "0-3,5" or NULL */
	char *cpu_mems;
	bool has_pids_limit;
	int64_t pids_limit;
	struct oci_device_cgroup *devices;
	size_t n_devices;
	struct oci_map unified; /* cgroup v2 file -> value: "memory.high": "1G" */
};

struct oci_seccomp_arg {
	uint32_t index;
	uint64_t value, value_two;
	char *op; /* "SCMP_CMP_EQ"... */
};

struct oci_seccomp_syscall {
	struct oci_strv names;
	char *action; /* "SCMP_ACT_ERRNO"... */
	bool has_errno_ret;
	uint32_t errno_ret;
	struct oci_seccomp_arg *args;
	size_t n_args;
};

struct oci_seccomp {
	char *default_action;
	bool has_default_errno_ret;
	uint32_t default_errno_ret;
	struct oci_strv architectures; /* "SCMP_ARCH_X86_64"... */
	struct oci_strv flags;
	char *listener_path;
	struct oci_seccomp_syscall *syscalls;
	size_t n_syscalls;
};

struct oci_linux {
	struct oci_namespace *namespaces;
	size_t n_namespaces;
	struct oci_id_mapping *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct oci_device *devices;
	size_t n_devices;
	bool has_resources;
	struct oci_resources resources;
	char *cgroups_path;
	struct oci_map sysctl;
	struct oci_seccomp *seccomp; /* NULL: none */
	char *rootfs_propagation;    /* "private", "shared", "slave", "unbindable" or NULL */
	struct oci_strv masked_paths, readonly_paths;
	char *mount_label; /* accepted, ignored */
};

struct oci_config {
	char *oci_version;	     /* required: "1.x.y" */
	struct oci_process *process; /* NULL: none (create needs one) */
	struct oci_root *root;	     /* NULL: none (create needs one) */
	char *hostname, *domainname;
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_hooks hooks;
	struct oci_map annotations;
	struct oci_linux *linux_; /* NULL: no "linux" object */
};

/* The largest document read: config.json is a few KiB, a large seccomp
 * profile some 100 KiB. */
#define OCI_CONFIG_MAX_SIZE (4 << 20)

/* Parse a config.json held in buf (len bytes).  `name` names the document
 * in errors ("config.json").  Returns 0 and *out (release with
 * oci_config_free), or -1 with err: EINVAL for a malformed document or a
 * bad field (with its JSON path), EINVAL for an ociVersion that is not 1.x. */
int oci_config_parse(const char *buf, size_t len, const char *name, struct oci_config **out,
		     mv_error_t *err);

/* Read and parse the file at path (errors name the file). */
int oci_config_load(const char *path, struct oci_config **out, mv_error_t *err);

/* A process object alone, as `runc exec --process FILE` takes it. */
int oci_process_parse(const char *buf, size_t len, const char *name, struct oci_process **out,
		      mv_error_t *err);

void oci_config_free(struct oci_config *c);
void oci_process_free(struct oci_process *p);

/* JSON text (NUL-terminated, caller frees, *len without the NUL) of a config
 * or a process, which oci_*_parse reads back to an equal struct: the host
 * sends what it validated, with paths rewritten for the guest. */
int oci_config_to_json(const struct oci_config *c, char **json, size_t *len, mv_error_t *err);
int oci_process_to_json(const struct oci_process *p, char **json, size_t *len, mv_error_t *err);

#endif
