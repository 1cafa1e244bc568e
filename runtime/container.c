#include "runtime/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci/config.h"
#include "oci/state.h"
#include "runtime/cgroup.h"
#include "runtime/cleanup.h"
#include "runtime/hooks.h"
#include "runtime/monitor.h"
#include "runtime/pidfile.h"
#include "runtime/resources.h"
#include "runtime/state.h"
#include "runtime/unpack.h"

#define CONFIG_COPY	     "config.json" /* in the state dir: hooks after the bundle may be gone */
#define MONITOR_EXIT_WAIT_MS 10000

static void state_release(struct container_state **s)
{
	if (*s)
		state_free(*s);
}
#define cleanup_state __attribute__((cleanup(state_release)))

static void config_release(struct oci_config **c)
{
	if (*c)
		oci_config_free(*c);
}
#define cleanup_config __attribute__((cleanup(config_release)))

static char *state_dir_path(const char *root, const char *id)
{
	char *path = NULL;

	if (asprintf(&path, "%s/%s", root, id) < 0)
		return NULL;
	return path;
}

/* The bundle's config, with what create needs checked. */
static int load_bundle(const char *bundle, struct oci_config **out, char **rootfs, mv_error_t *err)
{
	cleanup_config struct oci_config *c = NULL;
	cleanup_free char *path = NULL, *root = NULL;
	struct stat st;

	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return mv_error(err, ENOMEM, "config.json");
	if (oci_config_load(path, &c, err) < 0)
		return -1;
	if (c->process == NULL)
		return mv_error(err, EINVAL, "`config.json`: process is required");
	if (c->root == NULL)
		return mv_error(err, EINVAL, "`config.json`: root is required");
	if (c->root->path[0] == '/')
		root = strdup(c->root->path);
	else if (asprintf(&root, "%s/%s", bundle, c->root->path) < 0)
		root = NULL;
	if (root == NULL)
		return mv_error(err, ENOMEM, "rootfs");
	*rootfs = realpath(root, NULL);
	if (*rootfs == NULL)
		return mv_error(err, errno, "rootfs `%s`", root);
	if (stat(*rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(*rootfs);
		*rootfs = NULL;
		return mv_error(err, ENOTDIR, "rootfs `%s`", root);
	}
	*out = steal_ptr(&c);
	return 0;
}

/* The state JSON a hook gets on stdin. */
static int run_hooks(const struct oci_hook *hooks, size_t n, const char *stage,
		     const struct container_state *s, const char *status, mv_error_t *err)
{
	cleanup_free char *json = NULL;

	if (n == 0)
		return 0;
	if (oci_state_json(s->id, status, strcmp(status, "stopped") == 0 ? 0 : s->pid, s->bundle,
			   &s->annotations, &json, err) < 0)
		return -1;
	return hooks_run(hooks, n, stage, json, err);
}

static int save_config(int dirfd, const struct oci_config *c, mv_error_t *err)
{
	cleanup_free char *json = NULL;
	cleanup_close int fd = -1;
	size_t len;

	if (oci_config_to_json(c, &json, &len, err) < 0)
		return -1;
	fd = openat(dirfd, CONFIG_COPY, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, json, len) != (ssize_t)len)
		return mv_error(err, errno ? errno : EIO, "write `%s`", CONFIG_COPY);
	return 0;
}

static int load_saved_config(const char *root, const char *id, struct oci_config **c,
			     mv_error_t *err)
{
	cleanup_free char *path = NULL;

	if (asprintf(&path, "%s/%s/%s", root, id, CONFIG_COPY) < 0)
		return mv_error(err, ENOMEM, "config");
	return oci_config_load(path, c, err);
}

/* ---- the monitor's start ---- */

/* In the forked monitor: only stdio, the sync pipe and a state dir fd of
 * its own (a new open file description, so that create's flock is not
 * shared) stay open. */
static int monitor_fds(const char *state_dir, int sync_fd)
{
	cleanup_dir DIR *d = opendir("/proc/self/fd");
	int state_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;

	if (d == NULL || state_fd < 0)
		return -1;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd > 2 && fd != sync_fd && fd != state_fd &&
		    fd != dirfd(d))
			close(fd);
	}
	return state_fd;
}

/* Wait for the monitor's "ok" (the container exists) or its error. */
static int wait_created(int sync_fd, pid_t pid, mv_error_t *err)
{
	char buf[MONITOR_MSG_MAX];
	size_t got = 0;
	ssize_t n;

	while ((n = read(sync_fd, buf + got, sizeof(buf) - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mv_error(err, errno, "read from the monitor");
		got += (size_t)n;
		if (got == sizeof(buf))
			break;
	}
	if (got == 0) {
		int status = 0;
		waitpid(pid, &status, 0);
		return mv_error(err, EIO, "the container's monitor ended during create (status %d)",
				status);
	}
	if (monitor_parse_answer(buf, got, err) < 0) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	return 0;
}

/* The monitor's host cgroup, relative to /sys/fs/cgroup, in *rel: NULL
 * where there is none to make: a cgroup v1 host, or a caller that is not
 * root (runc without systemd does no better rootless). */
static int container_cgroup(const struct container_opts *o, const struct oci_config *c, char **rel,
			    mv_error_t *err)
{
	struct cgroup_root root = {.mount = CGROUP_DEFAULT_MOUNT};

	*rel = NULL;
	if (geteuid() != 0 || !cgroup_available(&root))
		return 0;
	return cgroup_path(c->linux_ ? c->linux_->cgroups_path : NULL, o->systemd_cgroup, o->id,
			   rel, err);
}

static int remove_cgroup(const char *rel, mv_error_t *err)
{
	struct cgroup_root root = {.mount = CGROUP_DEFAULT_MOUNT};

	if (rel == NULL)
		return 0;
	return cgroup_remove(&root, rel, err);
}

/* Fork the monitor; returns the read end of its sync pipe (for
 * wait_created), or -1. */
static int fork_monitor(const struct container_opts *o, struct oci_config *c, const char *bundle,
			const char *rootfs, const char *state_dir, const char *cgroup, pid_t *pid,
			mv_error_t *err)
{
	int sync[2];

	if (pipe2(sync, O_CLOEXEC) < 0)
		return mv_error(err, errno, "pipe");
	*pid = fork();
	if (*pid < 0) {
		close(sync[0]);
		close(sync[1]);
		return mv_error(err, errno, "fork");
	}
	if (*pid == 0) {
		struct monitor_opts mo = {
		    .id = o->id,
		    .bundle = bundle,
		    .state_dir = state_dir,
		    .rootfs = rootfs,
		    .config = c,
		    .console_socket = o->console_socket,
		    .own_terminal = o->own_terminal,
		    .verbose = o->verbose,
		    .cgroup = cgroup,
		    .sync_fd = sync[1],
		};
		mo.state_fd = monitor_fds(state_dir, sync[1]);
		if (mo.state_fd < 0)
			_exit(125);
		monitor_main(&mo);
	}
	close(sync[1]);
	return sync[0];
}

/* ---- create ---- */

static struct container_state *new_state(const struct container_opts *o, const char *bundle,
					 const char *rootfs, const struct oci_config *c)
{
	struct container_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->id = strdup(o->id);
	s->bundle = strdup(bundle);
	s->rootfs = strdup(rootfs);
	s->status = strdup("creating");
	s->created = state_time_now();
	s->owner = state_user_name(getuid());
	s->oci_version = strdup(c->oci_version);
	s->annotations = c->annotations; /* borrowed: cleared before state_free */
	if (s->id && s->bundle && s->rootfs && s->status && s->created && s->owner)
		return s;
	s->annotations = (struct oci_map){0};
	state_free(s);
	return NULL;
}

static void kill_monitor(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* After the monitor said "created": record it, run the host's create hooks,
 * write the pid file. */
static int finish_create(const struct container_opts *o, int dirfd, struct container_state *s,
			 const struct oci_config *c, mv_error_t *err)
{
	free(s->status);
	s->status = strdup("created");
	s->pid_start = state_proc_start_time(s->pid);
	if (s->status == NULL || state_write(dirfd, s, err) < 0)
		return -1;
	if (run_hooks(c->hooks.create_runtime, c->hooks.n_create_runtime, "createRuntime", s,
		      "created", err) < 0 ||
	    run_hooks(c->hooks.prestart, c->hooks.n_prestart, "prestart", s, "created", err) < 0)
		return -1;
	if (o->pid_file && pidfile_write(o->pid_file, s->pid, err) < 0)
		return -1;
	return 0;
}

static int create_locked(const struct container_opts *o, int rootfd, int dirfd,
			 struct oci_config *c, const char *bundle, const char *rootfs, pid_t *pid,
			 mv_error_t *err)
{
	cleanup_free char *state_dir = state_dir_path(o->root, o->id);
	struct container_state *s = new_state(o, bundle, rootfs, c);
	cleanup_close int sync_fd = -1;
	int ret = -1;

	if (state_dir == NULL || s == NULL) {
		mv_error(err, ENOMEM, "create");
		goto out;
	}
	/* Recorded before the monitor makes it, so that delete finds it. */
	if (container_cgroup(o, c, &s->cgroup, err) < 0 || state_write(dirfd, s, err) < 0 ||
	    save_config(dirfd, c, err) < 0)
		goto out;
	sync_fd = fork_monitor(o, c, bundle, rootfs, state_dir, s->cgroup, &s->pid, err);
	if (sync_fd < 0)
		goto out;
	/* The monitor's pid is known at once: should this process die while
	 * the VM boots, `delete --force` still finds the monitor to kill. */
	s->pid_start = state_proc_start_time(s->pid);
	if (state_write(dirfd, s, err) < 0) {
		kill_monitor(s->pid);
		goto out;
	}
	if (wait_created(sync_fd, s->pid, err) < 0) /* it reaped the monitor */
		goto out;
	ret = finish_create(o, dirfd, s, c, err);
	if (ret < 0)
		kill_monitor(s->pid);
	else
		*pid = s->pid;
out:
	if (ret < 0 && s)
		remove_cgroup(s->cgroup, NULL);
	if (s) {
		s->annotations = (struct oci_map){0};
		state_free(s);
	}
	if (ret < 0)
		state_remove(rootfd, o->id, dirfd, NULL);
	return ret;
}

int runtime_create(const struct container_opts *o, pid_t *pid, mv_error_t *err)
{
	cleanup_config struct oci_config *c = NULL;
	cleanup_free char *bundle = NULL, *rootfs = NULL;
	cleanup_close int rootfd = -1, dirfd = -1;

	if (state_check_id(o->id, err) < 0)
		return -1;
	bundle = realpath(o->bundle ? o->bundle : ".", NULL);
	if (bundle == NULL)
		return mv_error(err, errno, "bundle `%s`", o->bundle ? o->bundle : ".");
	if (load_bundle(bundle, &c, &rootfs, err) < 0)
		return -1;
	if (c->process->terminal && o->console_socket == NULL &&
	    !(o->own_terminal && isatty(STDIN_FILENO)))
		return mv_error(err, EINVAL,
				"cannot allocate tty if mvrun will detach without setting "
				"console socket");
	rootfd = state_open_root(o->root, true, err);
	if (rootfd < 0)
		return -1;
	dirfd = state_create(rootfd, o->id, err);
	if (dirfd < 0)
		return -1;
	return create_locked(o, rootfd, dirfd, c, bundle, rootfs, pid, err);
}

/* The container's locked state directory and its state: the dir fd, or -1. */
static int open_state(const char *root, const char *id, bool shared, struct container_state **s,
		      mv_error_t *err)
{
	int dirfd = state_open_container(root, id, shared, err);

	if (dirfd >= 0 && state_read(dirfd, s, err) < 0) {
		close(dirfd);
		return -1;
	}
	return dirfd;
}

/* ---- start, kill ---- */

int runtime_start(const char *root, const char *id, mv_error_t *err)
{
	cleanup_config struct oci_config *c = NULL;
	cleanup_state struct container_state *s = NULL;
	cleanup_close int dirfd = -1;
	const char *status;

	dirfd = open_state(root, id, false, &s, err);
	if (dirfd < 0)
		return -1;
	status = state_status(s);
	if (strcmp(status, "stopped") == 0)
		return mv_error(err, 0, "cannot start a container that has stopped");
	if (strcmp(status, "created") != 0)
		return mv_error(err, 0, "cannot start an already running container");
	if (monitor_request(dirfd, "start", err) < 0)
		return -1;
	free(s->status);
	s->status = strdup("running");
	if (s->status == NULL || state_write(dirfd, s, err) < 0)
		return -1;
	flock(dirfd, LOCK_UN);
	/* poststart hooks: a failure is only a warning (runtime spec) */
	if (load_saved_config(root, id, &c, NULL) == 0)
		run_hooks(c->hooks.poststart, c->hooks.n_poststart, "poststart", s, "running",
			  NULL);
	return 0;
}

int runtime_kill(const char *root, const char *id, int signo, bool all, mv_error_t *err)
{
	cleanup_state struct container_state *s = NULL;
	cleanup_close int dirfd = -1;
	char request[64];

	dirfd = open_state(root, id, true, &s, err);
	if (dirfd < 0)
		return -1;
	if (strcmp(state_status(s), "stopped") == 0)
		return mv_error(err, 0, "container not running");
	snprintf(request, sizeof(request), "%s %d", all ? "signal-all" : "signal", signo);
	return monitor_request(dirfd, request, err);
}

/* ---- delete ---- */

/* The monitor is not our child: wait for its /proc entry to go. */
static void wait_gone(const struct container_state *s)
{
	int pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);

	if (pidfd >= 0) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		poll(&p, 1, MONITOR_EXIT_WAIT_MS);
		close(pidfd);
	}
	for (int i = 0; i < MONITOR_EXIT_WAIT_MS / 20 && state_monitor_alive(s); i++)
		usleep(20000);
}

int runtime_delete(const char *root, const char *id, bool force, mv_error_t *err)
{
	cleanup_config struct oci_config *c = NULL;
	cleanup_state struct container_state *s = NULL;
	cleanup_close int rootfd = -1, dirfd = -1;
	const char *status;

	if (state_check_id(id, err) < 0)
		return -1;
	rootfd = state_open_root(root, false, err);
	if (rootfd < 0 && err->err == ENOENT) {
		mv_error_release(err);
		mv_error(err, ENOENT, "container does not exist");
	} else if (rootfd >= 0) {
		dirfd = state_open(rootfd, id, err);
	}
	if (dirfd < 0) {
		if (force && err->err == ENOENT) {
			mv_error_release(err);
			return 0;
		}
		return -1;
	}
	if (state_read(dirfd, &s, err) < 0)
		return -1;
	status = state_status(s);
	if (!force && strcmp(status, "stopped") != 0 && strcmp(status, "created") != 0)
		return mv_error(err, 0, "cannot delete container %s that is not stopped: %s", id,
				status);
	if (state_monitor_alive(s)) {
		kill(s->pid, SIGKILL);
		wait_gone(s);
	}
	if (load_saved_config(root, id, &c, NULL) == 0)
		run_hooks(c->hooks.poststop, c->hooks.n_poststop, "poststop", s, "stopped", NULL);
	/* `run --image`'s bundle (ROOT/ID.image, runtime/unpack.h) goes with
	 * its container: before the state, whose ROOT/ID keeps a new `run
	 * --image ID` from claiming the name meanwhile.  A failure keeps the
	 * container for another delete. */
	if (unpack_container_release(root, id, s->bundle, err) < 0 ||
	    remove_cgroup(s->cgroup, err) < 0)
		return -1;
	return state_remove(rootfd, id, dirfd, err);
}

/* ---- run ---- */

/* Forward the signals `mvrun run` gets to the container until the monitor,
 * our child, exits; its status is the container's. */
static int wait_monitor(const char *root, const char *id, pid_t pid, int *status, mv_error_t *err)
{
	sigset_t set;
	int sfd, ws;

	sigfillset(&set);
	sigdelset(&set, SIGKILL);
	sigdelset(&set, SIGSTOP);
	sigprocmask(SIG_SETMASK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return mv_error(err, errno, "signalfd");
	for (;;) {
		struct signalfd_siginfo si;
		pid_t r = waitpid(pid, &ws, WNOHANG);

		if (r == pid)
			break;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD && si.ssi_signo != SIGPIPE)
			runtime_kill(root, id, (int)si.ssi_signo, false, NULL);
	}
	close(sfd);
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return 0;
}

int runtime_run(const struct container_opts *o, bool detach, bool keep, int *status,
		mv_error_t *err)
{
	sigset_t set, old;
	pid_t pid;
	int ret;

	struct container_opts attached = *o;

	/* attached, a terminal without a console socket is the caller's */
	attached.own_terminal = !detach;
	o = &attached;
	/* SIGCHLD must be queued for wait_monitor, not lost before it runs */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	*status = 0;
	if (runtime_create(o, &pid, err) < 0)
		return -1;
	if (runtime_start(o->root, o->id, err) < 0) {
		runtime_delete(o->root, o->id, true, NULL);
		return -1;
	}
	if (detach) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 0;
	}
	ret = wait_monitor(o->root, o->id, pid, status, err);
	if (!keep)
		runtime_delete(o->root, o->id, true, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* ---- pause, resume ---- */

int runtime_pause(const char *root, const char *id, bool pause, mv_error_t *err)
{
	cleanup_state struct container_state *s = NULL;
	cleanup_close int dirfd = -1;
	const char *status, *want = pause ? "running" : "paused";

	dirfd = open_state(root, id, false, &s, err);
	if (dirfd < 0)
		return -1;
	status = state_status(s);
	if (strcmp(status, want) != 0)
		return mv_error(err, EINVAL,
				pause ? "container not running" : "container not paused");
	if (monitor_request(dirfd, pause ? "pause" : "resume", err) < 0)
		return -1;
	free(s->status);
	s->status = strdup(pause ? "paused" : "running");
	if (s->status == NULL)
		return mv_error(err, ENOMEM, "pause");
	return state_write(dirfd, s, err);
}

/* ---- update ---- */

int runtime_update(const char *root, const char *id, const struct oci_resources *res,
		   mv_error_t *err)
{
	cleanup_config struct oci_config *c = NULL;
	cleanup_state struct container_state *s = NULL;
	cleanup_close int dirfd = -1;
	struct oci_resources none = {0}, *old;
	struct cgroup_root cg = {.mount = CGROUP_DEFAULT_MOUNT};
	struct vm_size size;

	dirfd = open_state(root, id, false, &s, err);
	if (dirfd < 0)
		return -1;
	if (strcmp(state_status(s), "stopped") == 0)
		return mv_error(err, 0, "container not running");
	if (load_saved_config(root, id, &c, err) < 0)
		return -1;
	old = c->linux_ && c->linux_->has_resources ? &c->linux_->resources : &none;
	if (resources_check_update(old, res, err) < 0)
		return -1;
	if (res->has_pids_limit)
		return mv_error(
		    err, ENOTSUP,
		    "cannot change linux.resources.pids.limit of a running microVM yet");
	/* What the VM's size allows (CPU time, weight, cpuset, the unified
	 * files) goes to the monitor's cgroup, which holds the whole VM. */
	if (s->cgroup == NULL)
		return 0;
	if (resources_vm_size(old, &size, err) < 0)
		return -1;
	return cgroup_apply(&cg, s->cgroup, res, size.memory_mib, err);
}
