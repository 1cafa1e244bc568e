/* mvrun delete: remove a container and everything it had on the host. */
#include <getopt.h>
#include <stddef.h>

#include "cmd/mvrun.h"
#include "runtime/container.h"

static const struct option delete_options[] = {
    {"force", no_argument, NULL, 'f'},
    {NULL, 0, NULL, 0},
};

static int delete_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	bool force = false;
	const char *id;
	int c;

	while ((c = getopt_long(argc, argv, "+f", delete_options, NULL)) != -1) {
		if (c != 'f')
			return mv_error(err, 0, "unknown option: see `mvrun delete --help`");
		force = true;
	}
	id = cmd_container_id("delete", argc, argv, optind, err);
	if (id == NULL || runtime_delete(g->root, id, force, err) < 0)
		return -1;
	return 0;
}

const struct mv_command cmd_delete = {
    .name = "delete",
    .run = delete_run,
    .summary = "delete a created or stopped container (--force: any)",
    .usage = "mvrun delete [--force|-f] ID",
};
