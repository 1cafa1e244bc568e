/* mvrun kill: send a signal to the container's process. */
#include <getopt.h>
#include <stddef.h>
#include <signal.h>

#include "cmd/mvrun.h"
#include "runtime/container.h"
#include "runtime/signal.h"

static const struct option kill_options[] = {
    {"all", no_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

static int kill_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	bool all = false;
	int c, signo = SIGTERM;

	while ((c = getopt_long(argc, argv, "+a", kill_options, NULL)) != -1) {
		if (c != 'a')
			return mv_error(err, 0, "unknown option: see `mvrun kill --help`");
		all = true;
	}
	if (optind >= argc)
		return mv_error(err, 0,
				"kill: a container id is required: see `mvrun kill --help`");
	if (argc - optind > 2)
		return mv_error(err, 0, "kill: too many arguments: see `mvrun kill --help`");
	if (argc - optind == 2 && signal_parse(argv[optind + 1], &signo, err) < 0)
		return -1;
	return runtime_kill(g->root, argv[optind], signo, all, err) < 0 ? -1 : 0;
}

const struct mv_command cmd_kill = {
    .name = "kill",
    .run = kill_run,
    .summary = "send a signal to the container's process (--all: to every process)",
    .usage = "mvrun kill [--all] ID [SIGNAL]",
};
