/* mvrun features: the runtime spec's Features structure. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/mvrun.h"
#include "config.h"
#include "oci/features.h"
#include "runtime/cleanup.h"

static const struct option features_options[] = {
    {NULL, 0, NULL, 0},
};

static int features_main(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	cleanup_free char *json = NULL;

	(void)g;
	if (getopt_long(argc, argv, "+", features_options, NULL) != -1)
		return mv_error(err, 0, "features: unknown option: see `mvrun features --help`");
	if (optind != argc)
		return mv_error(err, 0, "features: takes no arguments");
	if (oci_features_json(PACKAGE_VERSION, &json, err) < 0)
		return -1;
	fputs(json, stdout);
	return 0;
}

const struct mv_command cmd_features = {
    .name = "features",
    .run = features_main,
    .summary = "show the enabled features",
    .usage = "mvrun features\n\n"
	     "Prints the runtime spec's Features structure as JSON: the spec\n"
	     "versions, hooks, mount options, namespaces, capabilities and\n"
	     "seccomp support mvrun recognizes.",
};
