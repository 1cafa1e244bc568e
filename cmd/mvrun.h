/* The mvrun command line: global options and the command table. */
#ifndef MV_CMD_H
#define MV_CMD_H

#include <stdbool.h>

#include "runtime/error.h"

enum mv_log_format { MV_LOG_TEXT, MV_LOG_JSON };

struct mv_global {
	const char *root; /* --root: the state directory */
	const char *log;  /* --log: where errors (and debug lines) also go */
	enum mv_log_format log_format;
	int log_level; /* 0 error, 1 warning, 2 info, 3 debug */
	bool systemd_cgroup;
	const char *argv0;
};

struct mv_command {
	const char *name;
	int (*run)(struct mv_global *g, int argc, char **argv, mv_error_t *err);
	const char *summary;
	const char *usage; /* printed by `mvrun COMMAND --help` */
};

/* Report a failure the way runc does: one line on stderr, and one JSON or
 * text record in --log when given. */
void mv_log_error(const struct mv_global *g, const char *msg);
void mv_log_debug(const struct mv_global *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A command's --help text: the usage line and its summary. */
void cmd_usage(const struct mv_command *c);

/* Commands, one per file. */
extern const struct mv_command cmd_version;
extern const struct mv_command cmd_state;
extern const struct mv_command cmd_list;
extern const struct mv_command cmd_spec;
extern const struct mv_command cmd_features;
extern const struct mv_command cmd_checkpoint;
extern const struct mv_command cmd_restore;
extern const struct mv_command cmd_vm;
extern const struct mv_command cmd_create;
extern const struct mv_command cmd_start;
extern const struct mv_command cmd_run;
extern const struct mv_command cmd_kill;
extern const struct mv_command cmd_delete;
extern const struct mv_command cmd_exec;
extern const struct mv_command cmd_ps;
extern const struct mv_command cmd_pause;
extern const struct mv_command cmd_resume;
extern const struct mv_command cmd_update;
extern const struct mv_command cmd_unpack;

/* cmd/args.c: the one container id operand at argv[first]. */
const char *cmd_container_id(const char *cmd, int argc, char **argv, int first, mv_error_t *err);

/* cmd/create.c: create's options, shared with run. */
struct container_opts;
struct option;
extern const struct option *const cmd_create_options;
int cmd_create_option(int c, struct container_opts *o, mv_error_t *err);

#endif
