/* The example config.json that `mvrun spec` writes, as `runc spec` does. */
#ifndef MV_OCI_SPEC_H
#define MV_OCI_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/error.h"

#define OCI_SPEC_VERSION "1.1.0" /* the runtime spec mvrun implements */

struct oci_spec_opts {
	bool rootless;	   /* runc's --rootless changes: a user namespace mapping uid/gid */
	uint32_t uid, gid; /* mapped to 0 when rootless (the caller's euid/egid) */
};

/* The JSON text, tab-indented like runc's, NUL-terminated, caller frees. */
int oci_spec_json(const struct oci_spec_opts *o, char **json, mv_error_t *err);

#endif
