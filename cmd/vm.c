/* mvrun vm run: boot a microVM and run one command in it with the caller's
 * stdio; the low-level entry point for tests and benchmarks. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/mvrun.h"
#include "runtime/cleanup.h"
#include "runtime/vmrun.h"

extern char **environ;

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_CONSOLE,
	OPT_APPEND,
	OPT_CWD,
	OPT_VERBOSE,
	OPT_BOOT_TIMEOUT,
	OPT_BOOT_TIME,
	OPT_ROOTFS,
	OPT_USER,
};

static const struct option vm_run_options[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"console", required_argument, NULL, OPT_CONSOLE},
    {"append", required_argument, NULL, OPT_APPEND},
    {"cwd", required_argument, NULL, OPT_CWD},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT},
    {"boot-time", no_argument, NULL, OPT_BOOT_TIME},
    {"rootfs", required_argument, NULL, OPT_ROOTFS},
    {"user", required_argument, NULL, OPT_USER},
    {"volume", required_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

static int parse_uint(const char *s, const char *what, unsigned long long max,
		      unsigned long long *out, mv_error_t *err)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out == 0 || *out > max)
		return mv_error(err, 0, "%s `%s`: give a number from 1 to %llu", what, s, max);
	return 0;
}

/* The guest gets a plain environment, not the host's: a few basics only. */
static char *const guest_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "TERM=xterm",
    NULL,
};

/* UID[:GID], numbers: the guest has no view of the host's user names. */
static int parse_user(const char *arg, uint32_t *uid, uint32_t *gid, mv_error_t *err)
{
	char *end;
	unsigned long u, g;

	errno = 0;
	u = strtoul(arg, &end, 10);
	g = u;
	if (*end == ':')
		g = strtoul(end + 1, &end, 10);
	if (errno || *end || end == arg || *arg == '-' || u > UINT32_MAX - 1 || g > UINT32_MAX - 1)
		return mv_error(err, 0, "--user `%s`: give UID[:GID] as numbers", arg);
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}

/* HOST:GUEST[:ro|:rw], HOST made absolute. */
static int parse_volume(char *arg, struct vm_run_volume *v, mv_error_t *err)
{
	char *guest = strchr(arg, ':'), *mode;

	if (guest == NULL)
		return mv_error(err, 0, "--volume `%s`: give HOST:GUEST[:ro]", arg);
	*guest++ = '\0';
	mode = strchr(guest, ':');
	if (mode) {
		*mode++ = '\0';
		if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)
			return mv_error(err, 0, "--volume: mode `%s`: ro or rw", mode);
		v->readonly = strcmp(mode, "ro") == 0;
	}
	if (guest[0] != '/')
		return mv_error(err, 0, "--volume: `%s` is not an absolute path", guest);
	v->host_path = realpath(arg, NULL);
	if (v->host_path == NULL)
		return mv_error(err, errno, "--volume: `%s`", arg);
	v->guest_path = guest;
	return 0;
}

static double ms_since(uint64_t start, uint64_t t)
{
	return t ? (double)(t - start) / 1e6 : -1;
}

/* One line a script can read: the milestones in ms from the VMM's start. */
static void print_times(const struct vm_run_times *t)
{
	fprintf(stderr,
		"mvrun: boot time (ms from VMM start): vm-created %.1f first-vcpu-entry %.1f "
		"agent-start %.1f agent-ready %.1f command-started %.1f\n",
		ms_since(t->start, t->created), ms_since(t->start, t->first_entry),
		ms_since(t->start, t->agent_start), ms_since(t->start, t->ready),
		ms_since(t->start, t->started));
}

static int vm_run(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	struct vm_run_opts o = {
	    .cpus = 1,
	    .memory_mib = 256,
	    .cwd = "/",
	    .env = guest_env,
	    .verbose = g->log_level >= 3,
	};
	struct vm_run_times times;
	struct vm_run_volume volumes[VM_RUN_MAX_VOLUMES] = {{0}};
	cleanup_free char *rootfs = NULL;
	unsigned long long n;
	int c, status = 0, ret;

	while ((c = getopt_long(argc, argv, "+v:", vm_run_options, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			o.kernel = optarg;
			break;
		case OPT_INITRD:
			o.initrd = optarg;
			break;
		case OPT_CPUS:
			if (parse_uint(optarg, "--cpus", 64, &n, err) < 0)
				return -1;
			o.cpus = (unsigned)n;
			break;
		case OPT_MEMORY:
			if (parse_uint(optarg, "--memory (MiB)", 1 << 20, &n, err) < 0)
				return -1;
			o.memory_mib = n;
			break;
		case OPT_CONSOLE:
			o.console_log = optarg;
			break;
		case OPT_APPEND:
			o.append = optarg;
			break;
		case OPT_CWD:
			o.cwd = optarg;
			break;
		case OPT_VERBOSE:
			o.verbose = true;
			break;
		case OPT_ROOTFS:
			free(rootfs);
			rootfs = realpath(optarg, NULL);
			if (rootfs == NULL)
				return mv_error(err, errno, "--rootfs `%s`", optarg);
			o.rootfs = rootfs;
			break;
		case OPT_USER:
			if (parse_user(optarg, &o.uid, &o.gid, err) < 0)
				return -1;
			break;
		case 'v':
			if (o.nvolumes == VM_RUN_MAX_VOLUMES)
				return mv_error(err, 0, "at most %d volumes", VM_RUN_MAX_VOLUMES);
			if (parse_volume(optarg, &volumes[o.nvolumes], err) < 0)
				return -1;
			o.volumes = volumes;
			o.nvolumes++;
			break;
		case OPT_BOOT_TIME:
			o.times = &times;
			break;
		case OPT_BOOT_TIMEOUT:
			if (parse_uint(optarg, "--boot-timeout (seconds)", 86400, &n, err) < 0)
				return -1;
			o.boot_timeout_s = (unsigned)n;
			break;
		default:
			return mv_error(err, 0, "vm run: unknown option: see `mvrun vm --help`");
		}
	}
	if (optind >= argc)
		return mv_error(err, 0,
				"vm run: no command given: mvrun vm run [OPTIONS] -- CMD [ARG...]");
	if (o.nvolumes && o.rootfs == NULL)
		return mv_error(err, 0, "--volume needs --rootfs");
	o.argv = argv + optind;
	ret = runtime_vm_run(&o, &status, err);
	for (unsigned i = 0; i < o.nvolumes; i++)
		free((char *)volumes[i].host_path);
	if (o.times)
		print_times(o.times);
	if (ret == 0)
		return status;
	if (status == 0)
		return -1;
	/* The command could not start: say why, exit as a shell would. */
	cleanup_free char *msg = mv_error_string(err);
	mv_log_error(g, msg ? msg : "the command could not start");
	mv_error_release(err);
	return status;
}

static int vm_main(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	if (argc < 2)
		return mv_error(err, 0, "vm: say `mvrun vm run [OPTIONS] -- CMD [ARG...]`");
	if (strcmp(argv[1], "run") == 0)
		return vm_run(g, argc - 1, argv + 1, err);
	return mv_error(err, 0, "vm: unknown subcommand `%s`: see `mvrun vm --help`", argv[1]);
}

const struct mv_command cmd_vm = {
    .name = "vm",
    .run = vm_main,
    .summary = "boot a microVM and run one command in it (low level)",
    .usage = "mvrun vm run [--kernel FILE] [--initrd FILE] [--cpus N] [--memory MiB]\n"
	     "              [--console FILE] [--append KERNEL-ARGS] [--cwd DIR] [--verbose]\n"
	     "              [--boot-timeout SECONDS] [--boot-time]\n"
	     "              [--rootfs DIR [--volume HOST:GUEST[:ro]]...] [--user UID[:GID]]\n"
	     "              -- CMD [ARG...]\n\n"
	     "Boots the default guest kernel and initramfs (or the ones given) in a KVM\n"
	     "microVM, runs CMD as root in it with this process's stdin, stdout and\n"
	     "stderr, forwards signals to it, and exits with its status (128+N when a\n"
	     "signal N killed it).  --console writes the guest console to FILE;\n"
	     "--boot-timeout (default 120) bounds the wait for the guest's agent;\n"
	     "--boot-time reports the boot milestones on stderr.  With --rootfs, CMD\n"
	     "runs in DIR, shared with the guest over virtio-fs (writes land in DIR),\n"
	     "and each --volume (-v) shares a host directory or file at GUEST.",
};
