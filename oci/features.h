/* The runtime spec's Features structure (features.md), printed by
 * `mvrun features`: what mvrun recognizes, fixed at build time.  One table
 * per list in oci/features.c. */
#ifndef MV_OCI_FEATURES_H
#define MV_OCI_FEATURES_H

#include "runtime/error.h"

#define OCI_VERSION_MIN "1.0.0"
#define OCI_VERSION_MAX "1.1.0"

/* Indented JSON text, NUL-terminated, caller frees; version is mvrun's,
 * reported as an annotation. */
int oci_features_json(const char *version, char **json, mv_error_t *err);

#endif
