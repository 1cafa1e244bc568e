/* linux.seccomp of an OCI config as a libseccomp filter, with runc's
 * semantics: the default action and each rule's action with its errnoRet
 * (ERRNO and TRACE default to EPERM), extra architectures, flags, argument
 * conditions.  Syscall names libseccomp does not know are skipped (profiles
 * list syscalls of newer kernels), and so is a rule whose action is the
 * default action (libseccomp refuses it).  SCMP_ACT_NOTIFY is refused: the
 * guest has no seccomp agent to hand the listener to.
 *
 * The filter never sets no_new_privs itself (process.noNewPrivileges says
 * that), so loading it needs CAP_SYS_ADMIN unless no_new_privs is set. */
#ifndef MV_AGENT_SECCOMP_H
#define MV_AGENT_SECCOMP_H

#include "oci/config.h"
#include "runtime/error.h"

/* Build the filter without loading it: returns the scmp_filter_ctx (release
 * with seccomp_free_oci), or NULL with err (EINVAL for a bad profile, with
 * "seccomp: " and what is wrong). */
void *seccomp_build_oci(const struct oci_seccomp *s, mv_error_t *err);

/* Load a filter seccomp_build_oci returned into the calling thread. */
int seccomp_load_built(void *filter, mv_error_t *err);

void seccomp_free_oci(void *filter);

/* Build and load: returns 0, or -1 with err. */
int seccomp_load_oci(const struct oci_seccomp *s, mv_error_t *err);

#endif
