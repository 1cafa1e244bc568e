/* mvrun update: change a running container's resources, where a microVM
 * can: its size (memory, vCPUs) is fixed at boot. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/mvrun.h"
#include "oci/config.h"
#include "runtime/cleanup.h"
#include "runtime/container.h"

enum {
	OPT_RESOURCES = 256,
	OPT_MEMORY,
	OPT_CPU_QUOTA,
	OPT_CPU_PERIOD,
	OPT_CPUSET_CPUS,
	OPT_PIDS_LIMIT,
	OPT_IGNORED_ARG,
};

static const struct option update_options[] = {
    {"resources", required_argument, NULL, 'r'},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
    {"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
    {"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
    {"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
    /* runc's that a microVM has no use for: accepted, no effect */
    {"blkio-weight", required_argument, NULL, OPT_IGNORED_ARG},
    {"cpu-share", required_argument, NULL, OPT_IGNORED_ARG},
    {"cpu-rt-period", required_argument, NULL, OPT_IGNORED_ARG},
    {"cpu-rt-runtime", required_argument, NULL, OPT_IGNORED_ARG},
    {"cpuset-mems", required_argument, NULL, OPT_IGNORED_ARG},
    {"kernel-memory", required_argument, NULL, OPT_IGNORED_ARG},
    {"kernel-memory-tcp", required_argument, NULL, OPT_IGNORED_ARG},
    {"memory-reservation", required_argument, NULL, OPT_IGNORED_ARG},
    {"memory-swap", required_argument, NULL, OPT_IGNORED_ARG},
    {"l3-cache-schema", required_argument, NULL, OPT_IGNORED_ARG},
    {"mem-bw-schema", required_argument, NULL, OPT_IGNORED_ARG},
    {NULL, 0, NULL, 0},
};

static int parse_int(const char *s, const char *what, long long *out, mv_error_t *err)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return mv_error(err, EINVAL, "%s `%s`: give a number", what, s);
	return 0;
}

/* --resources FILE: a linux.resources object, read through the config
 * parser so that its errors name the field. */
static int load_resources(const char *path, struct oci_config **c, mv_error_t *err)
{
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_free char *doc = NULL, *body = NULL;
	size_t len = 0;
	ssize_t n;

	if (f == NULL)
		return mv_error(err, errno, "open `%s`", path);
	body = malloc(OCI_CONFIG_MAX_SIZE);
	if (body == NULL)
		return mv_error(err, ENOMEM, "read `%s`", path);
	len = fread(body, 1, OCI_CONFIG_MAX_SIZE - 64, f);
	n = asprintf(&doc, "{\"ociVersion\":\"1.0.2\",\"linux\":{\"resources\":%.*s}}", (int)len,
		     body);
	if (n < 0)
		return mv_error(err, ENOMEM, "read `%s`", path);
	if (oci_config_parse(doc, (size_t)n, path, c, err) < 0)
		return -1;
	if ((*c)->linux_ == NULL || !(*c)->linux_->has_resources)
		return mv_error(err, EINVAL, "`%s`: not a resources object", path);
	return 0;
}

static int update_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	struct oci_config *c = NULL;
	struct oci_resources flags = {0}, *res = &flags;
	long long v;
	int c_, ret;

	while ((c_ = getopt_long(argc, argv, "+r:", update_options, NULL)) != -1) {
		switch (c_) {
		case 'r':
			if (c == NULL && load_resources(optarg, &c, err) < 0)
				goto fail;
			res = &c->linux_->resources;
			break;
		case OPT_MEMORY:
			if (parse_int(optarg, "--memory", &v, err) < 0)
				goto fail;
			flags.has_memory_limit = true;
			flags.memory_limit = v;
			break;
		case OPT_CPU_QUOTA:
			if (parse_int(optarg, "--cpu-quota", &v, err) < 0)
				goto fail;
			flags.has_cpu_quota = true;
			flags.cpu_quota = v;
			break;
		case OPT_CPU_PERIOD:
			if (parse_int(optarg, "--cpu-period", &v, err) < 0)
				goto fail;
			flags.has_cpu_period = true;
			flags.cpu_period = (uint64_t)v;
			break;
		case OPT_CPUSET_CPUS:
			flags.cpu_cpus = optarg;
			break;
		case OPT_PIDS_LIMIT:
			if (parse_int(optarg, "--pids-limit", &v, err) < 0)
				goto fail;
			flags.has_pids_limit = true;
			flags.pids_limit = v;
			break;
		case OPT_IGNORED_ARG:
			break;
		default:
			mv_error(err, 0, "unknown option: see `mvrun update --help`");
			goto fail;
		}
	}
	if (optind != argc - 1) {
		mv_error(err, 0, "update: one container id is required: see `mvrun update --help`");
		goto fail;
	}
	ret = runtime_update(g->root, argv[optind], res, err);
	if (c)
		oci_config_free(c);
	return ret < 0 ? -1 : 0;
fail:
	if (c)
		oci_config_free(c);
	return -1;
}

const struct mv_command cmd_update = {
    .name = "update",
    .run = update_run,
    .summary = "update a container's resources (its VM's size is fixed at boot)",
    .usage = "mvrun update [--resources|-r FILE] [--memory BYTES] [--cpu-quota N]\n"
	     "                    [--cpu-period N] [--cpuset-cpus LIST] [--pids-limit N] ID",
};
