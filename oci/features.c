/* What a KVM microVM runtime recognizes: the container runs on the guest's
 * own kernel (x86-64), where the agent applies namespaces, capabilities,
 * seccomp and mounts; the host side has the monitor's cgroup.  Security
 * modules of the host do not reach into the guest: apparmor and selinux
 * settings are accepted and ignored, so they are reported disabled. */
#include "oci/features.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const hooks[] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static const char *const mount_options[] = {
    "async",	     "atime",	    "bind",	   "defaults",	"dev",
    "diratime",	     "dirsync",	    "exec",	   "iversion",	"lazytime",
    "loud",	     "mand",	    "noatime",	   "nodev",	"nodiratime",
    "noexec",	     "noiversion",  "nolazytime",  "nomand",	"norelatime",
    "nostrictatime", "nosuid",	    "nosymfollow", "private",	"rbind",
    "relatime",	     "remount",	    "ro",	   "rprivate",	"rshared",
    "rslave",	     "runbindable", "rw",	   "shared",	"silent",
    "slave",	     "strictatime", "suid",	   "symfollow", "sync",
    "unbindable",
};

static const char *const namespaces[] = {
    "cgroup", "ipc", "mount", "network", "pid", "user", "uts",
};

/* The guest kernel is recent: every capability up to CAP_CHECKPOINT_RESTORE. */
static const char *const capabilities[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

struct feature_flag {
	const char *name;
	bool value;
};

/* The monitor joins a cgroup v2 path; --systemd-cgroup names it systemd's way. */
static const struct feature_flag cgroup[] = {
    {"v1", false}, {"v2", true}, {"systemd", true}, {"systemdUser", false}, {"rdma", false},
};

/* No SCMP_ACT_NOTIFY: the filter lives in the guest, and its listener fd
 * cannot be handed to a host process. */
static const char *const seccomp_actions[] = {
    "SCMP_ACT_ALLOW",	    "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",	"SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",   "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
};

static const char *const seccomp_operators[] = {
    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",	"SCMP_CMP_LE",
    "SCMP_CMP_LT", "SCMP_CMP_NE", "SCMP_CMP_MASKED_EQ",
};

/* What an x86-64 guest kernel runs. */
static const char *const seccomp_archs[] = {
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
};

static const char *const seccomp_flags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
};

/* Annotations: what mvrun is, for callers that adapt to it; and
 * "io.github.mvrun.version", the version given. */
static const char *const annotations[][2] = {
    {"io.github.mvrun.vm", "kvm"},
};

/* ---- generating ---- */

static int str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static int kstrv(yajl_gen g, const char *key, const char *const *v, size_t n)
{
	int bad = str(g, key) || yajl_gen_array_open(g);

	for (size_t i = 0; i < n && !bad; i++)
		bad = str(g, v[i]);
	return bad || yajl_gen_array_close(g);
}

/* "key": {"enabled": value} */
static int kenabled(yajl_gen g, const char *key, bool value)
{
	return str(g, key) || yajl_gen_map_open(g) || str(g, "enabled") ||
	       yajl_gen_bool(g, value) || yajl_gen_map_close(g);
}

static int gen_cgroup(yajl_gen g)
{
	int bad = str(g, "cgroup") || yajl_gen_map_open(g);

	for (size_t i = 0; i < N(cgroup) && !bad; i++)
		bad = str(g, cgroup[i].name) || yajl_gen_bool(g, cgroup[i].value);
	return bad || yajl_gen_map_close(g);
}

static int gen_seccomp(yajl_gen g)
{
	int bad = str(g, "seccomp") || yajl_gen_map_open(g);

	bad = bad || str(g, "enabled") || yajl_gen_bool(g, true);
	bad = bad || kstrv(g, "actions", seccomp_actions, N(seccomp_actions));
	bad = bad || kstrv(g, "operators", seccomp_operators, N(seccomp_operators));
	bad = bad || kstrv(g, "archs", seccomp_archs, N(seccomp_archs));
	bad = bad || kstrv(g, "knownFlags", seccomp_flags, N(seccomp_flags));
	bad = bad || kstrv(g, "supportedFlags", seccomp_flags, N(seccomp_flags));
	return bad || yajl_gen_map_close(g);
}

static int gen_linux(yajl_gen g)
{
	int bad = str(g, "linux") || yajl_gen_map_open(g);

	bad = bad || kstrv(g, "namespaces", namespaces, N(namespaces));
	bad = bad || kstrv(g, "capabilities", capabilities, N(capabilities));
	bad = bad || gen_cgroup(g) || gen_seccomp(g);
	bad = bad || kenabled(g, "apparmor", false) || kenabled(g, "selinux", false);
	bad = bad || kenabled(g, "intelRdt", false);
	bad = bad || str(g, "mountExtensions") || yajl_gen_map_open(g);
	bad = bad || kenabled(g, "idmap", false) || yajl_gen_map_close(g);
	return bad || yajl_gen_map_close(g);
}

static int gen_features(yajl_gen g, const char *version)
{
	int bad = yajl_gen_map_open(g);

	bad = bad || str(g, "ociVersionMin") || str(g, OCI_VERSION_MIN);
	bad = bad || str(g, "ociVersionMax") || str(g, OCI_VERSION_MAX);
	bad = bad || kstrv(g, "hooks", hooks, N(hooks));
	bad = bad || kstrv(g, "mountOptions", mount_options, N(mount_options));
	bad = bad || gen_linux(g);
	bad = bad || str(g, "annotations") || yajl_gen_map_open(g);
	bad = bad || str(g, "io.github.mvrun.version") || str(g, version);
	for (size_t i = 0; i < N(annotations) && !bad; i++)
		bad = str(g, annotations[i][0]) || str(g, annotations[i][1]);
	bad = bad || yajl_gen_map_close(g);
	return bad || yajl_gen_map_close(g);
}

int oci_features_json(const char *version, char **json, mv_error_t *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int ret = 0;

	*json = NULL;
	if (g == NULL)
		return mv_error(err, ENOMEM, "the features");
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "    ");
	if (gen_features(g, version) || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		ret = mv_error(err, EINVAL, "the features: cannot encode them");
	else if ((*json = strndup((const char *)buf, len)) == NULL)
		ret = mv_error(err, ENOMEM, "the features");
	yajl_gen_free(g);
	return ret;
}
