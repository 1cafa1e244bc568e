/* mvrun state ID: the container's state as runc prints it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "cmd/mvrun.h"
#include "runtime/cleanup.h"
#include "runtime/state.h"

static const struct option state_options[] = {
    {NULL, 0, NULL, 0},
};

/* Pretty-printed with two spaces, as runc's MarshalIndent does. */
static int print_state(const struct container_state *s, mv_error_t *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int ret = 0;

	if (g == NULL)
		return mv_error(err, 0, "out of memory");
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "  ");
	if (state_gen_runc_json(g, s) < 0 || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		ret = mv_error(err, 0, "state `%s`: cannot encode it", s->id);
	else
		fwrite(buf, 1, len, stdout);
	yajl_gen_free(g);
	return ret;
}

static int state_main(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	cleanup_close int fd = -1;
	struct container_state *s;
	int ret;

	if (getopt_long(argc, argv, "+", state_options, NULL) != -1)
		return mv_error(err, 0, "state: unknown option: see `mvrun state --help`");
	if (argc - optind != 1)
		return mv_error(err, 0, "state: give exactly one container id");
	fd = state_open_container(g->root, argv[optind], true, err);
	if (fd < 0 && (err->err == ENOENT || err->err == EINVAL))
		err->err = 0; /* "container does not exist" says it all, as runc's does */
	if (fd < 0 || state_read(fd, &s, err) < 0)
		return -1;
	ret = print_state(s, err);
	state_free(s);
	return ret;
}

const struct mv_command cmd_state = {
    .name = "state",
    .run = state_main,
    .summary = "output the state of a container",
    .usage = "mvrun state CONTAINER-ID\n\n"
	     "Prints the container's state as JSON: ociVersion, id, pid, status,\n"
	     "bundle, rootfs, created, annotations and owner.  A container whose\n"
	     "monitor is gone is \"stopped\", with pid 0.",
};
