#include <stdio.h>

#include "cmd/mvrun.h"
#include "config.h"

static int version_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	(void)g;
	(void)argc;
	(void)argv;
	(void)err;
	printf("mvrun version %s\nspec: 1.1.0\n", PACKAGE_VERSION);
	return 0;
}

const struct mv_command cmd_version = {
    .name = "version",
    .run = version_run,
    .summary = "print the version",
    .usage = "mvrun version",
};
