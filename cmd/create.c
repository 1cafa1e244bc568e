/* mvrun create: boot the container's microVM and prepare its process. */
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>

#include "cmd/mvrun.h"
#include "runtime/container.h"

enum { OPT_BUNDLE = 256, OPT_CONSOLE_SOCKET, OPT_PID_FILE, OPT_PRESERVE_FDS, OPT_IGNORED };

/* Shared with run: the options of create. */
static const struct option create_options[] = {
    {"bundle", required_argument, NULL, 'b'},
    {"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
    {"no-pivot", no_argument, NULL, OPT_IGNORED},
    {"no-new-keyring", no_argument, NULL, OPT_IGNORED},
    {"no-subreaper", no_argument, NULL, OPT_IGNORED},
    {"detach", no_argument, NULL, 'd'},
    {"keep", no_argument, NULL, 'k'},
    {NULL, 0, NULL, 0},
};
const struct option *const cmd_create_options = create_options;

/* Returns 0 for an option of create, 'd' or 'k' for run's own, -1 for an
 * unknown one. */
int cmd_create_option(int c, struct container_opts *o, mv_error_t *err)
{
	char *end;

	switch (c) {
	case 'b':
		o->bundle = optarg;
		return 0;
	case OPT_CONSOLE_SOCKET:
		o->console_socket = optarg;
		return 0;
	case OPT_PID_FILE:
		o->pid_file = optarg;
		return 0;
	case OPT_PRESERVE_FDS:
		o->preserve_fds = (unsigned)strtoul(optarg, &end, 10);
		if (*end || *optarg == '\0')
			return mv_error(err, 0, "--preserve-fds `%s`: give a number", optarg);
		return 0;
	case OPT_IGNORED:
		return 0;
	case 'd':
	case 'k':
		return c;
	default:
		return mv_error(err, 0, "unknown option: see `mvrun %s --help`", "create");
	}
}

static int create_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	struct container_opts o = {
	    .root = g->root, .verbose = g->log_level >= 3, .systemd_cgroup = g->systemd_cgroup};
	pid_t pid;
	int c;

	while ((c = getopt_long(argc, argv, "+b:", cmd_create_options, NULL)) != -1)
		if (cmd_create_option(c, &o, err) != 0)
			return -1;
	o.id = cmd_container_id("create", argc, argv, optind, err);
	if (o.id == NULL || runtime_create(&o, &pid, err) < 0)
		return -1;
	return 0;
}

const struct mv_command cmd_create = {
    .name = "create",
    .run = create_run,
    .summary = "create a container: boot its microVM and prepare its process",
    .usage = "mvrun create [--bundle DIR] [--console-socket PATH] [--pid-file FILE]\n"
	     "                    [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID",
};
