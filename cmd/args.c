/* Argument helpers shared by the commands. */
#include <errno.h>
#include <stdio.h>

#include "cmd/mvrun.h"

const char *cmd_container_id(const char *cmd, int argc, char **argv, int first, mv_error_t *err)
{
	if (first >= argc) {
		mv_error(err, EINVAL, "%s: a container id is required: see `mvrun %s --help`", cmd,
			 cmd);
		return NULL;
	}
	if (first + 1 < argc) {
		mv_error(err, EINVAL, "%s: one container id only, not `%s`", cmd, argv[first + 1]);
		return NULL;
	}
	return argv[first];
}
