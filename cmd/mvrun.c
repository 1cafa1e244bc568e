/* mvrun: an OCI runtime that runs each container in its own KVM microVM.
 * This file parses the global options and dispatches to one command per file. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/mvrun.h"
#include "config.h"
#include "runtime/cleanup.h"

/* One command per line. */
/* clang-format off */
static const struct mv_command *const commands[] = {
	&cmd_version,
	&cmd_create,
	&cmd_start,
	&cmd_run,
	&cmd_exec,
	&cmd_kill,
	&cmd_delete,
	&cmd_state,
	&cmd_list,
	&cmd_spec,
	&cmd_features,
	&cmd_checkpoint,
	&cmd_restore,
	&cmd_ps,
	&cmd_pause,
	&cmd_resume,
	&cmd_update,
	&cmd_vm,
	&cmd_unpack,
};
/* clang-format on */

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: mvrun [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
		     "Run OCI containers, each in its own KVM microVM.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out,
		"\nGlobal options:\n"
		"  --root DIR            state directory (default /run/mvrun, or\n"
		"                        $XDG_RUNTIME_DIR/mvrun when not root)\n"
		"  --log FILE            also write errors to FILE\n"
		"  --log-format FORMAT   text or json\n"
		"  --log-level LEVEL     error, warning, info or debug\n"
		"  --debug               same as --log-level debug\n"
		"  --systemd-cgroup      cgroupsPath is systemd's slice:prefix:name\n"
		"  --version, -v         print the version\n"
		"  --help, -h            print this help; `mvrun COMMAND --help` for a command\n");
}

void cmd_usage(const struct mv_command *c)
{
	printf("usage: %s\n\n%s\n", c->usage, c->summary);
}

static const struct mv_command *command_find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static int parse_log_level(const char *s)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	if (strcmp(s, "warn") == 0)
		return 1;
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* runc's rule, which podman relies on since it never passes --root. */
static const char *default_root(void)
{
	static char buf[4096];
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0 || xdg == NULL || *xdg == '\0')
		return "/run/mvrun";
	snprintf(buf, sizeof(buf), "%s/mvrun", xdg);
	return buf;
}

/* Does a command's argument list ask for help before its first operand? */
static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

enum {
	OPT_ROOT = 256,
	OPT_LOG,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
	OPT_DEBUG,
	OPT_SYSTEMD_CGROUP,
	OPT_IGNORED_ARG,
	OPT_IGNORED,
};

static const struct option global_options[] = {
    {"root", required_argument, NULL, OPT_ROOT},
    {"log", required_argument, NULL, OPT_LOG},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP},
    /* runc options that have no meaning here; callers pass them anyway */
    {"rootless", required_argument, NULL, OPT_IGNORED_ARG},
    {"criu", required_argument, NULL, OPT_IGNORED_ARG},
    {"cgroup-manager", required_argument, NULL, OPT_IGNORED_ARG},
    {"version", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns the index of the command name in argv, 0 when the caller must
 * exit with *status. */
static int parse_global(struct mv_global *g, int argc, char **argv, int *status)
{
	int c, level;

	while ((c = getopt_long(argc, argv, "+vh", global_options, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			g->root = optarg;
			break;
		case OPT_LOG:
			g->log = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") == 0)
				g->log_format = MV_LOG_JSON;
			else if (strcmp(optarg, "text") == 0)
				g->log_format = MV_LOG_TEXT;
			else {
				fprintf(stderr,
					"mvrun: unknown log format `%s`: use text or json\n",
					optarg);
				*status = 1;
				return 0;
			}
			break;
		case OPT_LOG_LEVEL:
			level = parse_log_level(optarg);
			if (level < 0) {
				fprintf(stderr, "mvrun: unknown log level `%s`\n", optarg);
				*status = 1;
				return 0;
			}
			g->log_level = level;
			break;
		case OPT_DEBUG:
			g->log_level = 3;
			break;
		case OPT_SYSTEMD_CGROUP:
			g->systemd_cgroup = true;
			break;
		case OPT_IGNORED_ARG:
		case OPT_IGNORED:
			break;
		case 'v':
			cmd_version.run(g, 0, NULL, NULL);
			*status = 0;
			return 0;
		case 'h':
			usage(stdout);
			*status = 0;
			return 0;
		default:
			usage(stderr);
			*status = 1;
			return 0;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		*status = 1;
		return 0;
	}
	return optind;
}

/* Errors whose text is runc's own, which callers match exactly. */
static bool is_runc_phrase(const char *msg)
{
	static const char *const phrases[] = {
	    "container does not exist",
	    "container with given ID already exists",
	};

	for (size_t i = 0; msg && i < sizeof(phrases) / sizeof(phrases[0]); i++) {
		size_t n = strlen(msg), p = strlen(phrases[i]);
		if (n >= p && strcmp(msg + n - p, phrases[i]) == 0)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	struct mv_global g = {.log_format = MV_LOG_TEXT, .argv0 = argv[0]};
	mv_error_t err = {0};
	const struct mv_command *cmd;
	int first, status = 1, ret;

	first = parse_global(&g, argc, argv, &status);
	if (first == 0)
		return status;
	if (g.root == NULL)
		g.root = default_root();

	if (strcmp(argv[first], "help") == 0) {
		usage(stdout);
		return 0;
	}
	cmd = command_find(argv[first]);
	if (cmd == NULL) {
		cleanup_free char *msg = NULL;
		if (asprintf(&msg, "unknown command `%s`: see `mvrun --help`", argv[first]) >= 0)
			mv_log_error(&g, msg);
		return 1;
	}
	if (wants_help(argc - first, argv + first)) {
		cmd_usage(cmd);
		return 0;
	}
	optind = 0; /* reset getopt for the command's own options */
	ret = cmd->run(&g, argc - first, argv + first, &err);
	if (ret < 0 && is_runc_phrase(err.msg))
		err.err = 0; /* callers match runc's words: no strerror after them */
	if (ret < 0) {
		cleanup_free char *msg = mv_error_string(&err);
		mv_log_error(&g, msg ? msg : "out of memory");
		mv_error_release(&err);
		return 1;
	}
	return ret;
}
