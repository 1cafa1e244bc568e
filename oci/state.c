#include "oci/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

static int gen_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static int gen_kv(yajl_gen g, const char *key, const char *value)
{
	return gen_str(g, key) || gen_str(g, value ? value : "");
}

static int gen_state(yajl_gen g, const char *id, const char *status, pid_t pid, const char *bundle,
		     const struct oci_map *annotations)
{
	int bad = yajl_gen_map_open(g);

	bad = bad || gen_kv(g, "ociVersion", OCI_STATE_VERSION) || gen_kv(g, "id", id);
	bad = bad || gen_kv(g, "status", status);
	bad = bad || gen_str(g, "pid") || yajl_gen_integer(g, pid);
	bad = bad || gen_kv(g, "bundle", bundle);
	if (annotations && annotations->n > 0) {
		bad = bad || gen_str(g, "annotations") || yajl_gen_map_open(g);
		for (size_t i = 0; i < annotations->n && !bad; i++)
			bad = gen_kv(g, annotations->keys[i], annotations->values[i]);
		bad = bad || yajl_gen_map_close(g);
	}
	return bad || yajl_gen_map_close(g);
}

int oci_state_json(const char *id, const char *status, pid_t pid, const char *bundle,
		   const struct oci_map *annotations, char **json, mv_error_t *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int ret = 0;

	*json = NULL;
	if (g == NULL)
		return mv_error(err, ENOMEM, "the state of `%s`", id);
	if (gen_state(g, id, status, pid, bundle, annotations) ||
	    yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		ret = mv_error(err, EINVAL, "the state of `%s`: cannot encode it", id);
	else if ((*json = strndup((const char *)buf, len)) == NULL)
		ret = mv_error(err, ENOMEM, "the state of `%s`", id);
	yajl_gen_free(g);
	return ret;
}
