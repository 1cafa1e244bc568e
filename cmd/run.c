/* mvrun run: create and start a container; attached, wait for it and exit
 * with its status.  --image: from an image archive, through the image
 * cache into a bundle of the container's own (runtime/unpack.h). */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/mvrun.h"
#include "runtime/cleanup.h"
#include "runtime/container.h"
#include "runtime/unpack.h"

/* Above create's option values: the table below is create's and these. */
enum { OPT_IMAGE = 1024, OPT_REF, OPT_PLATFORM };

static const struct option image_options[] = {
    {"image", required_argument, NULL, OPT_IMAGE},
    {"ref", required_argument, NULL, OPT_REF},
    {"platform", required_argument, NULL, OPT_PLATFORM},
};

#define N_IMAGE_OPTIONS (sizeof(image_options) / sizeof(image_options[0]))

/* create's options followed by run's own, ending in the zero entry. */
static struct option *run_options(void)
{
	size_t n = 0;
	struct option *all;

	while (cmd_create_options[n].name)
		n++;
	all = calloc(n + N_IMAGE_OPTIONS + 1, sizeof(*all));
	if (all == NULL)
		return NULL;
	memcpy(all, cmd_create_options, n * sizeof(*all));
	memcpy(all + n, image_options, sizeof(image_options));
	return all;
}

static int image_option(int c, struct unpack_opts *image)
{
	if (c == OPT_IMAGE)
		image->archive = optarg;
	else if (c == OPT_REF)
		image->ref = optarg;
	else if (c == OPT_PLATFORM)
		image->platform = optarg;
	else
		return 0;
	return 1;
}

/* What happened to the image, for --debug. */
static void log_image(struct mv_global *g, const struct unpack_opts *image,
		      const struct unpack_container *c)
{
	mv_log_debug(g, "run --image: `%s` %s `%s`", image->archive,
		     c->cache_hit ? "found in the cache at" : "unpacked into the cache at",
		     c->image);
	if (c->overlay)
		mv_log_debug(g, "run --image: rootfs of `%s` is an overlay on it", c->bundle);
	else
		mv_log_debug(g, "run --image: no overlay (%s): the image unpacked again into `%s`",
			     c->overlay_errno ? strerror(c->overlay_errno)
					      : UNPACK_NO_OVERLAY_ENV " is set",
			     c->bundle);
}

/* Run the container made from the image, then release its bundle unless
 * the container stays (detached or kept: `mvrun delete` releases it). */
static int run_image(struct mv_global *g, struct container_opts *o, const struct unpack_opts *image,
		     bool detach, bool keep, int *status, mv_error_t *err)
{
	struct unpack_container c;
	int ret;

	if (o->bundle)
		return mv_error(err, 0, "run: give --bundle or --image, not both");
	ret = unpack_container_bundle(g->root, o->id, image, &c, err);
	if (ret == 0) {
		log_image(g, image, &c);
		o->bundle = c.bundle;
		ret = runtime_run(o, detach, keep, status, err);
		unpack_container_release_unused(g->root, o->id, c.bundle);
		o->bundle = NULL;
	}
	unpack_container_free(&c);
	return ret;
}

static int run_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	struct container_opts o = {
	    .root = g->root, .verbose = g->log_level >= 3, .systemd_cgroup = g->systemd_cgroup};
	cleanup_free struct option *options = run_options();
	struct unpack_opts image = {0};
	bool detach = false, keep = false;
	int c, status, ret;

	if (options == NULL)
		return mv_error(err, ENOMEM, "run");
	while ((c = getopt_long(argc, argv, "+b:dk", options, NULL)) != -1) {
		if (image_option(c, &image))
			continue;
		ret = cmd_create_option(c, &o, err);
		if (ret < 0)
			return -1;
		detach |= ret == 'd';
		keep |= ret == 'k';
	}
	o.id = cmd_container_id("run", argc, argv, optind, err);
	if (o.id == NULL)
		return -1;
	if (image.archive == NULL && (image.ref || image.platform))
		return mv_error(err, 0, "run: --ref and --platform choose from an --image");
	if (image.archive)
		ret = run_image(g, &o, &image, detach, keep, &status, err);
	else
		ret = runtime_run(&o, detach, keep, &status, err);
	return ret < 0 ? -1 : status;
}

const struct mv_command cmd_run = {
    .name = "run",
    .run = run_run,
    .summary = "create and start a container; attached, wait and exit with its status",
    .usage = "mvrun run [--bundle DIR | --image ARCHIVE [--ref REF] [--platform OS/ARCH]]\n"
	     "                 [--console-socket PATH] [--pid-file FILE]\n"
	     "                 [--detach|-d] [--keep] [--no-pivot] [--no-new-keyring] ID",
};
