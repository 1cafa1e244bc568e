/* mvrun run: create and start a container; attached, wait for it and exit
 * with its status. */
#include <getopt.h>
#include <stddef.h>

#include "cmd/mvrun.h"
#include "runtime/container.h"

static int run_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	struct container_opts o = {.root = g->root, .verbose = g->log_level >= 3};
	bool detach = false, keep = false;
	int c, status;

	while ((c = getopt_long(argc, argv, "+b:dk", cmd_create_options, NULL)) != -1) {
		int ret = cmd_create_option(c, &o, err);
		if (ret < 0)
			return -1;
		detach |= ret == 'd';
		keep |= ret == 'k';
	}
	o.id = cmd_container_id("run", argc, argv, optind, err);
	if (o.id == NULL || runtime_run(&o, detach, keep, &status, err) < 0)
		return -1;
	return status;
}

const struct mv_command cmd_run = {
    .name = "run",
    .run = run_run,
    .summary = "create and start a container; attached, wait and exit with its status",
    .usage = "mvrun run [--bundle DIR] [--console-socket PATH] [--pid-file FILE]\n"
	     "                 [--detach|-d] [--keep] [--no-pivot] [--no-new-keyring] ID",
};
