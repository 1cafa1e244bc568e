/* mvrun ps: the host processes of a container (its monitor and each
 * exec's host process), as runc's `ps` lists a container's processes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/mvrun.h"
#include "runtime/cleanup.h"
#include "runtime/exec.h"

static const struct option ps_options[] = {
    {"format", required_argument, NULL, 'f'},
    {NULL, 0, NULL, 0},
};

static void print_json(const pid_t *pids, size_t n)
{
	printf("[");
	for (size_t i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", (int)pids[i]);
	printf("]\n");
}

/* The table is ps(1)'s, for those pids (runc runs `ps -ef` and filters). */
static int print_table(const pid_t *pids, size_t n, char **ps_args)
{
	char list[4096] = "";
	size_t len = 0;
	pid_t child;
	int status;

	for (size_t i = 0; i < n && len < sizeof(list) - 16; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d", i ? "," : "",
					(int)pids[i]);
	fflush(stdout);
	child = fork();
	if (child == 0) {
		char *argv[16] = {"ps", "-f", "-p", list};
		int k = 4;
		for (; ps_args && *ps_args && k < 15; ps_args++)
			argv[k++] = *ps_args;
		execvp("ps", argv);
		_exit(127);
	}
	if (child < 0 || waitpid(child, &status, 0) < 0)
		return 1;
	return 0;
}

static int ps_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	cleanup_free pid_t *pids = NULL;
	const char *format = "table";
	size_t n;
	int c;

	while ((c = getopt_long(argc, argv, "+f:", ps_options, NULL)) != -1) {
		if (c != 'f')
			return mv_error(err, 0, "unknown option: see `mvrun ps --help`");
		format = optarg;
	}
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		return mv_error(err, 0, "invalid format `%s`: use table or json", format);
	if (optind >= argc)
		return mv_error(err, 0, "ps: a container id is required: see `mvrun ps --help`");
	if (runtime_ps(g->root, argv[optind], &pids, &n, err) < 0)
		return -1;
	if (strcmp(format, "json") == 0) {
		print_json(pids, n);
		return 0;
	}
	return print_table(pids, n, argv + optind + 1);
}

const struct mv_command cmd_ps = {
    .name = "ps",
    .run = ps_run,
    .summary = "list the container's host processes",
    .usage = "mvrun ps [--format|-f table|json] ID [PS-ARGS...]",
};
