/* process.{rlimits,oomScoreAdj,user,capabilities,noNewPrivileges} and
 * linux.seccomp, applied to the calling process.  capget/capset are the
 * raw syscalls: the agent is static and links no libcap. */
#include "agent/oci_apply.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/seccomp.h"
#include "runtime/cleanup.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define CAP_BIT(c)    (UINT64_C(1) << (c))
#define DEFAULT_UMASK 0022

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "additionalGids are passed as gid_t");

/* ---- rlimits ---- */

#define RLIMIT_ENTRY(n)                                                                            \
	{                                                                                          \
		"RLIMIT_" #n, RLIMIT_##n                                                           \
	}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    RLIMIT_ENTRY(AS),	  RLIMIT_ENTRY(CORE),	RLIMIT_ENTRY(CPU),	  RLIMIT_ENTRY(DATA),
    RLIMIT_ENTRY(FSIZE),  RLIMIT_ENTRY(LOCKS),	RLIMIT_ENTRY(MEMLOCK),	  RLIMIT_ENTRY(MSGQUEUE),
    RLIMIT_ENTRY(NICE),	  RLIMIT_ENTRY(NOFILE), RLIMIT_ENTRY(NPROC),	  RLIMIT_ENTRY(RSS),
    RLIMIT_ENTRY(RTPRIO), RLIMIT_ENTRY(RTTIME), RLIMIT_ENTRY(SIGPENDING), RLIMIT_ENTRY(STACK),
};

static int rlimit_resource(const char *name)
{
	for (size_t i = 0; name && i < N_ELEMENTS(rlimit_names); i++)
		if (strcmp(name, rlimit_names[i].name) == 0)
			return rlimit_names[i].resource;
	return -1;
}

static int check_rlimits(const struct oci_process *p, mv_error_t *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++)
		if (rlimit_resource(p->rlimits[i].type) < 0)
			return mv_error(err, EINVAL, "unknown rlimit `%s`",
					p->rlimits[i].type ? p->rlimits[i].type : "");
	return 0;
}

static int apply_rlimits(const struct oci_process *p, mv_error_t *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct oci_rlimit *r = &p->rlimits[i];
		struct rlimit lim = {.rlim_cur = r->soft, .rlim_max = r->hard};

		if (setrlimit(rlimit_resource(r->type), &lim) < 0)
			return mv_error(err, errno, "setrlimit `%s`", r->type);
	}
	return 0;
}

/* ---- oomScoreAdj ---- */

static int apply_oom_score_adj(int value, mv_error_t *err)
{
	static const char path[] = "/proc/self/oom_score_adj";
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	char buf[16];
	int n;

	if (fd < 0)
		return mv_error(err, errno, "open `%s`", path);
	n = snprintf(buf, sizeof(buf), "%d", value);
	if (write(fd, buf, (size_t)n) != n)
		return mv_error(err, errno, "write %d to `%s`", value, path);
	return 0;
}

/* ---- capabilities ---- */

#define CAP_ENTRY(n) [CAP_##n] = "CAP_" #n

static const char *const cap_names[] = {
    CAP_ENTRY(CHOWN),
    CAP_ENTRY(DAC_OVERRIDE),
    CAP_ENTRY(DAC_READ_SEARCH),
    CAP_ENTRY(FOWNER),
    CAP_ENTRY(FSETID),
    CAP_ENTRY(KILL),
    CAP_ENTRY(SETGID),
    CAP_ENTRY(SETUID),
    CAP_ENTRY(SETPCAP),
    CAP_ENTRY(LINUX_IMMUTABLE),
    CAP_ENTRY(NET_BIND_SERVICE),
    CAP_ENTRY(NET_BROADCAST),
    CAP_ENTRY(NET_ADMIN),
    CAP_ENTRY(NET_RAW),
    CAP_ENTRY(IPC_LOCK),
    CAP_ENTRY(IPC_OWNER),
    CAP_ENTRY(SYS_MODULE),
    CAP_ENTRY(SYS_RAWIO),
    CAP_ENTRY(SYS_CHROOT),
    CAP_ENTRY(SYS_PTRACE),
    CAP_ENTRY(SYS_PACCT),
    CAP_ENTRY(SYS_ADMIN),
    CAP_ENTRY(SYS_BOOT),
    CAP_ENTRY(SYS_NICE),
    CAP_ENTRY(SYS_RESOURCE),
    CAP_ENTRY(SYS_TIME),
    CAP_ENTRY(SYS_TTY_CONFIG),
    CAP_ENTRY(MKNOD),
    CAP_ENTRY(LEASE),
    CAP_ENTRY(AUDIT_WRITE),
    CAP_ENTRY(AUDIT_CONTROL),
    CAP_ENTRY(SETFCAP),
    CAP_ENTRY(MAC_OVERRIDE),
    CAP_ENTRY(MAC_ADMIN),
    CAP_ENTRY(SYSLOG),
    CAP_ENTRY(WAKE_ALARM),
    CAP_ENTRY(BLOCK_SUSPEND),
    CAP_ENTRY(AUDIT_READ),
    CAP_ENTRY(PERFMON),
    CAP_ENTRY(BPF),
    CAP_ENTRY(CHECKPOINT_RESTORE),
};

struct cap_sets {
	uint64_t bounding, effective, inheritable, permitted, ambient;
};

/* The running kernel's last capability: PR_CAPBSET_READ fails with EINVAL
 * past it.  Asked of prctl rather than /proc/sys/kernel/cap_last_cap: the
 * container's root may have no /proc. */
static int last_cap(void)
{
	int c = 0;

	while (c < 63 && prctl(PR_CAPBSET_READ, (unsigned long)(c + 1), 0, 0, 0) >= 0)
		c++;
	return c;
}

static const char *cap_name(int c)
{
	return c < (int)N_ELEMENTS(cap_names) && cap_names[c] ? cap_names[c] : "CAP_?";
}

static int cap_mask(const struct oci_strv *names, int last, uint64_t *mask, mv_error_t *err)
{
	*mask = 0;
	for (size_t i = 0; i < names->n; i++) {
		int c = 0;

		while (c < (int)N_ELEMENTS(cap_names) && strcmp(names->v[i], cap_names[c]) != 0)
			c++;
		if (c == (int)N_ELEMENTS(cap_names))
			return mv_error(err, EINVAL, "unknown capability `%s`", names->v[i]);
		if (c <= last) /* one this kernel lacks is skipped, as runc does */
			*mask |= CAP_BIT(c);
	}
	return 0;
}

static int resolve_caps(const struct oci_process *p, struct cap_sets *out, mv_error_t *err)
{
	const struct oci_capabilities *c = &p->capabilities;
	int last = last_cap();

	*out = (struct cap_sets){0};
	if (!p->has_capabilities)
		return 0; /* runc: no capabilities object, no capabilities */
	if (cap_mask(&c->bounding, last, &out->bounding, err) < 0 ||
	    cap_mask(&c->effective, last, &out->effective, err) < 0 ||
	    cap_mask(&c->inheritable, last, &out->inheritable, err) < 0 ||
	    cap_mask(&c->permitted, last, &out->permitted, err) < 0 ||
	    cap_mask(&c->ambient, last, &out->ambient, err) < 0)
		return -1;
	return 0;
}

static bool has_effective_cap(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return data[cap / 32].effective & (1U << (cap % 32));
}

/* Drop from the bounding set what is not listed.  Without CAP_SETPCAP
 * nothing can be dropped: runc then leaves the set as it is. */
static int apply_bounding(uint64_t keep, mv_error_t *err)
{
	int last = last_cap();

	if (!has_effective_cap(CAP_SETPCAP))
		return 0;
	for (int c = 0; c <= last; c++) {
		if (keep & CAP_BIT(c))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0 && errno != EINVAL)
			return mv_error(err, errno, "drop bounding capability `%s`", cap_name(c));
	}
	return 0;
}

static int apply_ambient(uint64_t ambient, mv_error_t *err)
{
	/* EINVAL: a kernel before 4.3 has no ambient set; nothing to do */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return mv_error(err, errno, "clear the ambient capabilities");
	for (int c = 0; c < 64; c++) {
		if (!(ambient & CAP_BIT(c)))
			continue;
		/* EPERM: not both permitted and inheritable, as configured */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)c, 0, 0) < 0 &&
		    errno != EINVAL)
			return mv_error(err, errno, "raise ambient capability `%s`", cap_name(c));
	}
	return 0;
}

static int apply_caps(const struct cap_sets *s, mv_error_t *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(s->effective >> (32 * i));
		data[i].permitted = (uint32_t)(s->permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(s->inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return mv_error(err, errno, "capset");
	return apply_ambient(s->ambient, err);
}

/* ---- user ---- */

/* setuid() away from root clears the permitted set unless KEEPCAPS is on;
 * capset then trims what was kept to the configured sets. */
static int apply_user(const struct oci_user *u, mv_error_t *err)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return mv_error(err, errno, "keep capabilities across setuid");
	if (setgroups(u->n_additional_gids, (const gid_t *)u->additional_gids) < 0)
		return mv_error(err, errno, "setgroups");
	if (setgid(u->gid) < 0)
		return mv_error(err, errno, "setgid %u", u->gid);
	if (setuid(u->uid) < 0)
		return mv_error(err, errno, "setuid %u", u->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return mv_error(err, errno, "clear keep capabilities");
	return 0;
}

/* ---- all of it ---- */

static int load_filter(void *filter, bool now, mv_error_t *err)
{
	return filter && now ? seccomp_load_built(filter, err) : 0;
}

static int apply_all(const struct oci_process *p, const struct cap_sets *caps, void *filter,
		     mv_error_t *err)
{
	bool nnp = p->no_new_privileges;

	if (apply_rlimits(p, err) < 0)
		return -1;
	if (p->has_oom_score_adj && apply_oom_score_adj(p->oom_score_adj, err) < 0)
		return -1;
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return mv_error(err, errno, "set no_new_privs");
	/* without no_new_privs loading needs CAP_SYS_ADMIN: while we have it */
	if (load_filter(filter, !nnp, err) < 0)
		return -1;
	/* PR_CAPBSET_DROP needs CAP_SETPCAP, which a non-root uid has lost */
	if (apply_bounding(caps->bounding, err) < 0)
		return -1;
	if (apply_user(&p->user, err) < 0)
		return -1;
	umask(p->user.has_umask ? (mode_t)p->user.umask : DEFAULT_UMASK);
	if (apply_caps(caps, err) < 0)
		return -1;
	return load_filter(filter, nnp, err);
}

int oci_apply_process(const struct oci_process *p, const struct oci_seccomp *seccomp,
		      mv_error_t *err)
{
	struct cap_sets caps;
	void *filter = NULL;
	int ret;

	/* everything that can be refused is refused before anything changes */
	if (check_rlimits(p, err) < 0 || resolve_caps(p, &caps, err) < 0)
		return -1;
	if (seccomp) {
		filter = seccomp_build_oci(seccomp, err);
		if (filter == NULL)
			return -1;
	}
	ret = apply_all(p, &caps, filter, err);
	seccomp_free_oci(filter);
	return ret;
}

/* ---- the PATH search ---- */

static const char *env_path(const struct oci_strv *env)
{
	const char *path = OCI_DEFAULT_PATH;

	/* the last one: runc sets the variables in order, a later one wins */
	for (size_t i = 0; env && i < env->n; i++)
		if (strncmp(env->v[i], "PATH=", 5) == 0)
			path = env->v[i] + 5;
	return path;
}

/* 0 when path is a regular file we may execute, else the errno execve
 * would give. */
static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EACCES;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
		return errno;
	return 0;
}

static char *check_as_is(const char *name, mv_error_t *err)
{
	int e = executable(name);
	char *copy;

	if (e == EACCES)
		mv_error(err, EACCES, "exec: \"%s\": permission denied", name);
	else if (e)
		mv_error(err, e, "exec: \"%s\": stat %s", name, name);
	if (e)
		return NULL;
	copy = strdup(name);
	if (copy == NULL)
		mv_error(err, ENOMEM, "exec: \"%s\"", name);
	return copy;
}

/* The PATH entry at dir joined with name; an empty entry is the working
 * directory, as for execvp. */
static char *join_entry(const char *dir, size_t len, const char *name)
{
	char *path = NULL;

	if (len == 0 && asprintf(&path, "./%s", name) < 0)
		return NULL;
	if (len > 0 && asprintf(&path, "%.*s/%s", (int)len, dir, name) < 0)
		return NULL;
	return path;
}

static char *not_found(const char *name, bool denied, mv_error_t *err)
{
	if (denied)
		mv_error(err, EACCES, "exec: \"%s\": permission denied", name);
	else
		mv_error(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
	return NULL;
}

char *oci_find_executable(const char *name, const struct oci_strv *env, mv_error_t *err)
{
	const char *entry = env_path(env);
	bool denied = false;

	if (strchr(name, '/'))
		return check_as_is(name, err);
	/* Go's LookPath, as runc: an empty PATH searches nothing */
	if (name[0] == '\0' || entry[0] == '\0')
		return not_found(name, false, err);
	for (;;) {
		size_t len = strcspn(entry, ":");
		char *candidate = join_entry(entry, len, name);
		int e;

		if (candidate == NULL) {
			mv_error(err, ENOMEM, "exec: \"%s\"", name);
			return NULL;
		}
		e = executable(candidate);
		if (e == 0)
			return candidate;
		free(candidate);
		denied |= e == EACCES;
		if (entry[len] == '\0')
			return not_found(name, denied, err);
		entry += len + 1;
	}
}
