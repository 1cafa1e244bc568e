/* The OCI process attributes applied in the guest, in the forked child
 * right before exec, after its namespaces and root are set up: rlimits,
 * oomScoreAdj, user, umask, capabilities, noNewPrivileges and seccomp, in
 * runc's order and with runc's semantics.  Also execvp's PATH search, done
 * before exec so that "not found" has runc's wording. */
#ifndef MV_AGENT_OCI_APPLY_H
#define MV_AGENT_OCI_APPLY_H

#include "oci/config.h"
#include "runtime/error.h"

#define OCI_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Applies, in this order (runc's):
 *   - rlimits (setrlimit; an unknown RLIMIT_ name fails before anything
 *     changes);
 *   - oomScoreAdj, when given (/proc/self/oom_score_adj);
 *   - noNewPrivileges (PR_SET_NO_NEW_PRIVS);
 *   - seccomp, when noNewPrivileges is false: loading needs CAP_SYS_ADMIN
 *     then, so it comes before the ids and capabilities drop;
 *   - the bounding set: every capability not listed is dropped (skipped,
 *     as runc does, when the caller lacks CAP_SETPCAP);
 *   - additionalGids, gid, uid (setgroups, setgid, setuid) with
 *     PR_SET_KEEPCAPS, so the configured sets survive the uid change;
 *   - umask (0022 when none is given, as runc);
 *   - effective, permitted, inheritable (capset), then ambient (cleared,
 *     then each listed one raised);
 *   - seccomp, when noNewPrivileges is true: last, so that as few of our
 *     own syscalls as possible run under the container's filter.
 * An absent process.capabilities means empty sets, as in runc: the
 * process runs without capabilities.  Capability names are checked before
 * anything changes ("unknown capability `CAP_X`", EINVAL); capabilities
 * above the running kernel's last one are skipped.  The seccomp filter is
 * built before anything changes too.  seccomp may be NULL.
 * Returns 0, or -1 with err naming what failed ("setuid 1000", "capset"). */
int oci_apply_process(const struct oci_process *p, const struct oci_seccomp *seccomp,
		      mv_error_t *err);

/* execvp's search in the current root, with PATH from env (the last
 * PATH= entry; OCI_DEFAULT_PATH when there is none): a malloc'ed path to an
 * executable regular file; a name with a '/' is checked as it is.
 * Not found: ENOENT, "exec: \"NAME\": executable file not found in $PATH";
 * found but not executable: EACCES, "exec: \"NAME\": permission denied"
 * (runc's wording; callers match it). */
char *oci_find_executable(const char *name, const struct oci_strv *env, mv_error_t *err);

#endif
