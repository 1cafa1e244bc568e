/* mvrun pause and resume: stop and restart the container's vCPUs. */
#include <stddef.h>

#include "cmd/mvrun.h"
#include "runtime/container.h"

static int pause_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	const char *id = cmd_container_id(argv[0], argc, argv, 1, err);

	if (id == NULL || runtime_pause(g->root, id, argv[0][0] == 'p', err) < 0)
		return -1;
	return 0;
}

const struct mv_command cmd_pause = {
    .name = "pause",
    .run = pause_run,
    .summary = "pause the container: its microVM's vCPUs stop",
    .usage = "mvrun pause ID",
};

const struct mv_command cmd_resume = {
    .name = "resume",
    .run = pause_run,
    .summary = "resume a paused container",
    .usage = "mvrun resume ID",
};
