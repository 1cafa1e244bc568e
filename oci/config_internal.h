/* Shared by oci/config.c and oci/config_linux.c: readers of the spec's
 * common shapes, and the "linux" object's reader and free. */
#ifndef MV_OCI_CONFIG_INTERNAL_H
#define MV_OCI_CONFIG_INTERNAL_H

#include "oci/config.h"
#include "oci/json.h"

int oci_read_strv(struct json_walk *w, const struct json_node *v, void *out); /* oci_strv */
int oci_read_map(struct json_walk *w, const struct json_node *v, void *out);  /* oci_map */
/* A string that starts with '/'. */
int oci_read_abs_path(struct json_walk *w, const struct json_node *v, void *out);
void oci_strv_free(struct oci_strv *s);
void oci_map_free(struct oci_map *m);

int oci_read_linux(struct json_walk *w, const struct json_node *v, void *out); /* oci_linux * */
void oci_linux_free(struct oci_linux *l);

/* A reader of the array `member` (with its count n_member) of `type`, whose
 * elements elem_read reads. */
#define OCI_ARRAY_READER(fn, type, member, elem_read)                                              \
	static int fn(struct json_walk *w, const struct json_node *v, void *out)                   \
	{                                                                                          \
		type *s = out;                                                                     \
		return json_read_array(w, v, sizeof(*s->member), elem_read, (void **)&s->member,   \
				       &s->n_##member);                                            \
	}

#endif
