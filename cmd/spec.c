/* mvrun spec: write an example config.json, as `runc spec` does. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/mvrun.h"
#include "oci/spec.h"
#include "runtime/cleanup.h"
#include "runtime/io.h"

enum { OPT_ROOTLESS = 256 };

static const struct option spec_options[] = {
    {"bundle", required_argument, NULL, 'b'},
    {"rootless", optional_argument, NULL, OPT_ROOTLESS},
    {NULL, 0, NULL, 0},
};

static int parse_bool(const char *s, bool *out, mv_error_t *err)
{
	if (s == NULL || strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return mv_error(err, 0, "--rootless `%s`: give true or false", s);
	return 0;
}

/* O_EXCL: never through an existing file, nor a dangling symlink. */
static int write_config(const char *bundle, const char *json, mv_error_t *err)
{
	cleanup_close int dirfd = -1, fd = -1;

	dirfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return mv_error(err, errno, "bundle `%s`", bundle);
	fd = openat(dirfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST)
		return mv_error(err, 0, "File config.json exists. Remove it first");
	if (fd < 0)
		return mv_error(err, errno, "create `%s/config.json`", bundle);
	if (io_write_all(fd, json, strlen(json)) < 0 || close(fd) < 0) {
		fd = -1;
		return mv_error(err, errno, "write `%s/config.json`", bundle);
	}
	fd = -1;
	return 0;
}

static int spec_main(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	struct oci_spec_opts o = {.uid = geteuid(), .gid = getegid()};
	cleanup_free char *json = NULL;
	const char *bundle = ".";
	int c;

	(void)g;
	while ((c = getopt_long(argc, argv, "+b:", spec_options, NULL)) != -1) {
		switch (c) {
		case 'b':
			bundle = optarg;
			break;
		case OPT_ROOTLESS:
			if (parse_bool(optarg, &o.rootless, err) < 0)
				return -1;
			break;
		default:
			return mv_error(err, 0, "spec: unknown option: see `mvrun spec --help`");
		}
	}
	if (optind != argc)
		return mv_error(err, 0, "spec: takes no arguments (the bundle is --bundle DIR)");
	if (oci_spec_json(&o, &json, err) < 0)
		return -1;
	return write_config(bundle, json, err);
}

const struct mv_command cmd_spec = {
    .name = "spec",
    .run = spec_main,
    .summary = "create a new specification file",
    .usage = "mvrun spec [--bundle DIR] [--rootless]\n\n"
	     "Writes an example config.json in DIR (default: the current directory)\n"
	     "for a root filesystem in DIR/rootfs that runs `sh` on a terminal.\n"
	     "Refuses to overwrite an existing config.json.  --rootless adds a user\n"
	     "namespace mapping the caller's uid and gid to root.",
};
