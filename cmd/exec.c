/* mvrun exec: run another process in a running container. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/mvrun.h"
#include "runtime/cleanup.h"
#include "runtime/exec.h"

enum {
	OPT_PROCESS = 256,
	OPT_CONSOLE_SOCKET,
	OPT_PID_FILE,
	OPT_CWD,
	OPT_PRESERVE_FDS,
	OPT_IGNORED_ARG,
	OPT_IGNORED,
};

static const struct option exec_options[] = {
    {"process", required_argument, NULL, 'p'},
    {"tty", no_argument, NULL, 't'},
    {"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
    {"detach", no_argument, NULL, 'd'},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"env", required_argument, NULL, 'e'},
    {"cwd", required_argument, NULL, OPT_CWD},
    {"user", required_argument, NULL, 'u'},
    {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
    /* runc's, not meaningful in a microVM or taken from --process */
    {"cap", required_argument, NULL, 'c'},
    {"additional-gids", required_argument, NULL, 'g'},
    {"no-new-privs", no_argument, NULL, OPT_IGNORED},
    {"apparmor", required_argument, NULL, OPT_IGNORED_ARG},
    {"process-label", required_argument, NULL, OPT_IGNORED_ARG},
    {"cgroup", required_argument, NULL, OPT_IGNORED_ARG},
    {"ignore-paused", no_argument, NULL, OPT_IGNORED},
    {NULL, 0, NULL, 0},
};

static int parse_user(const char *s, struct exec_opts *o, mv_error_t *err)
{
	char *end;
	unsigned long uid = strtoul(s, &end, 10), gid = 0;

	if (end == s || (*end && *end != ':'))
		return mv_error(err, EINVAL, "--user `%s`: give UID[:GID] as numbers", s);
	if (*end == ':') {
		const char *g = end + 1;
		gid = strtoul(g, &end, 10);
		if (end == g || *end)
			return mv_error(err, EINVAL, "--user `%s`: give UID[:GID] as numbers", s);
	}
	if (uid > UINT32_MAX || gid > UINT32_MAX)
		return mv_error(err, EINVAL, "--user `%s`: out of range", s);
	o->has_user = true;
	o->uid = (uint32_t)uid;
	o->gid = (uint32_t)gid;
	return 0;
}

static int add_env(char ***env, size_t *n, const char *value, mv_error_t *err)
{
	char **grown = realloc(*env, (*n + 2) * sizeof(*grown));

	if (grown == NULL)
		return mv_error(err, ENOMEM, "--env");
	grown[(*n)++] = (char *)value;
	grown[*n] = NULL;
	*env = grown;
	return 0;
}

static int exec_option(int c, struct exec_opts *o, char ***env, size_t *nenv, mv_error_t *err)
{
	switch (c) {
	case 'p':
		o->process_file = optarg;
		return 0;
	case 't':
		o->tty = true;
		return 0;
	case OPT_CONSOLE_SOCKET:
		o->console_socket = optarg;
		return 0;
	case 'd':
		o->detach = true;
		return 0;
	case OPT_PID_FILE:
		o->pid_file = optarg;
		return 0;
	case 'e':
		if (strchr(optarg, '=') == NULL)
			return mv_error(err, EINVAL, "--env `%s`: give NAME=VALUE", optarg);
		return add_env(env, nenv, optarg, err);
	case OPT_CWD:
		o->cwd = optarg;
		return 0;
	case 'u':
		return parse_user(optarg, o, err);
	case 'c':
	case 'g':
	case OPT_PRESERVE_FDS:
	case OPT_IGNORED_ARG:
	case OPT_IGNORED:
		return 0;
	default:
		return mv_error(err, 0, "unknown option: see `mvrun exec --help`");
	}
}

static int exec_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	struct exec_opts o = {.root = g->root};
	cleanup_free char **env = NULL;
	size_t nenv = 0;
	int c, status;

	while ((c = getopt_long(argc, argv, "+p:tde:u:c:g:", exec_options, NULL)) != -1)
		if (exec_option(c, &o, &env, &nenv, err) < 0)
			return -1;
	if (optind >= argc)
		return mv_error(err, EINVAL,
				"exec: a container id is required: see `mvrun exec --help`");
	o.id = argv[optind];
	o.args = argv + optind + 1;
	o.env = env;
	if (o.process_file == NULL && o.args[0] == NULL)
		return mv_error(err, EINVAL, "exec: give a command or --process FILE");
	if (runtime_exec(&o, &status, err) < 0) {
		cleanup_free char *msg = NULL;
		if (status == 0)
			return -1;
		/* the process could not start: report it, exit 126 or 127 */
		msg = mv_error_string(err);
		mv_log_error(g, msg ? msg : "exec failed");
		mv_error_release(err);
	}
	return status;
}

const struct mv_command cmd_exec = {
    .name = "exec",
    .run = exec_run,
    .summary = "run another process in a container",
    .usage = "mvrun exec [--process FILE] [--tty|-t] [--console-socket PATH] [--detach|-d]\n"
	     "                  [--pid-file FILE] [--env|-e NAME=VALUE]... [--cwd DIR]\n"
	     "                  [--user|-u UID[:GID]] [--preserve-fds N] ID [COMMAND [ARG...]]",
};
