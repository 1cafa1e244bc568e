/* The runtime spec's state of a container (runtime.md, "State"): what
 * `state` reports in the spec's own shape and what hooks read on stdin. */
#ifndef MV_OCI_STATE_H
#define MV_OCI_STATE_H

#include <sys/types.h>

#include "oci/config.h"
#include "runtime/error.h"

#define OCI_STATE_VERSION "1.0.2"

/* {"ociVersion","id","status","pid","bundle","annotations"}: compact JSON,
 * NUL-terminated, caller frees.  pid is written as given (0 when stopped);
 * annotations are left out when there are none (NULL or n == 0), as the
 * spec's Go types do. */
int oci_state_json(const char *id, const char *status, pid_t pid, const char *bundle,
		   const struct oci_map *annotations, char **json, mv_error_t *err);

#endif
