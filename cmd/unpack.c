/* mvrun unpack: make a bundle from an image archive. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>

#include "cmd/mvrun.h"
#include "runtime/unpack.h"

enum { OPT_CONFIG_ONLY = 256, OPT_REF, OPT_PLATFORM };

static const struct option unpack_options[] = {
    {"config-only", no_argument, NULL, OPT_CONFIG_ONLY},
    {"ref", required_argument, NULL, OPT_REF},
    {"platform", required_argument, NULL, OPT_PLATFORM},
    {NULL, 0, NULL, 0},
};

static int unpack_main(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	struct unpack_opts o = {0};
	int c;

	while ((c = getopt_long(argc, argv, "+", unpack_options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG_ONLY:
			o.config_only = true;
			break;
		case OPT_REF:
			o.ref = optarg;
			break;
		case OPT_PLATFORM:
			o.platform = optarg;
			break;
		default:
			return mv_error(err, 0, "unknown option: see `mvrun unpack --help`");
		}
	}
	if (argc - optind != 2)
		return mv_error(err, 0,
				"unpack: give ARCHIVE and BUNDLE-DIR: see `mvrun unpack --help`");
	o.archive = argv[optind];
	o.bundle = argv[optind + 1];
	return unpack_image(&o, err);
}

const struct mv_command cmd_unpack = {
    .name = "unpack",
    .run = unpack_main,
    .summary = "make a bundle from an image archive (OCI layout or docker-archive, a "
	       "directory or a tar of one)",
    .usage = "mvrun unpack [--config-only] [--ref REF] [--platform OS/ARCH] ARCHIVE BUNDLE-DIR",
};
