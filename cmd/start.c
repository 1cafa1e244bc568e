/* mvrun start: run the created container's process. */
#include <stddef.h>

#include "cmd/mvrun.h"
#include "runtime/container.h"

static int start_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	const char *id = cmd_container_id("start", argc, argv, 1, err);

	if (id == NULL || runtime_start(g->root, id, err) < 0)
		return -1;
	return 0;
}

const struct mv_command cmd_start = {
    .name = "start",
    .run = start_run,
    .summary = "start the process of a created container",
    .usage = "mvrun start ID",
};
