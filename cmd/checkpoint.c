/* mvrun checkpoint / restore: refused.  The container's processes live in
 * a guest kernel, out of CRIU's reach; saying so beats a confusing
 * "unknown command" to callers that probe for it. */
#include "cmd/mvrun.h"

static int checkpoint_main(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	(void)g;
	(void)argc;
	(void)argv;
	return mv_error(err, 0,
			"checkpoint is not supported by mvrun (containers run in microVMs)");
}

static int restore_main(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	(void)g;
	(void)argc;
	(void)argv;
	return mv_error(err, 0, "restore is not supported by mvrun (containers run in microVMs)");
}

const struct mv_command cmd_checkpoint = {
    .name = "checkpoint",
    .run = checkpoint_main,
    .summary = "checkpoint a running container (not supported)",
    .usage = "mvrun checkpoint [OPTIONS] CONTAINER-ID\n\n"
	     "Not supported: containers run in microVMs.  Always fails.",
};

const struct mv_command cmd_restore = {
    .name = "restore",
    .run = restore_main,
    .summary = "restore a container from a checkpoint (not supported)",
    .usage = "mvrun restore [OPTIONS] CONTAINER-ID\n\n"
	     "Not supported: containers run in microVMs.  Always fails.",
};
