/* The container: CONTAINER keeps its config; EXEC forks its processes
 * into it.  The init gets the namespaces the config asks for with
 * clone(2) (so the agent knows its pid in every namespace at once), the
 * others join the init's.  A pid namespace takes effect for children
 * only: the agent enters it for the fork (setns on its pid_for_children)
 * and goes back to its own, so the process is still the agent's child.
 *
 * When the init ends, the rest of the container is killed: by the kernel
 * with a pid namespace, by the agent otherwise. */
#include "agent/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cleanup.h"

#define HOOK_POLL_NS (10 * 1000 * 1000)

static const struct {
	const char *type; /* in config.json */
	const char *proc; /* in /proc/PID/ns */
	int flag;
} ns_kinds[] = {
    {"user", "user", CLONE_NEWUSER},  {"pid", "pid", CLONE_NEWPID},
    {"network", "net", CLONE_NEWNET}, {"ipc", "ipc", CLONE_NEWIPC},
    {"uts", "uts", CLONE_NEWUTS},     {"cgroup", "cgroup", CLONE_NEWCGROUP},
    {"mount", "mnt", CLONE_NEWNS},
};

#define N_NS_KINDS (sizeof(ns_kinds) / sizeof(ns_kinds[0]))

static int ns_flag(const char *type)
{
	for (size_t i = 0; i < N_NS_KINDS; i++)
		if (strcmp(type, ns_kinds[i].type) == 0)
			return ns_kinds[i].flag;
	return 0;
}

static const struct oci_namespace *config_ns(const struct oci_config *c, const char *type)
{
	for (size_t i = 0; c->linux_ && i < c->linux_->n_namespaces; i++)
		if (strcmp(c->linux_->namespaces[i].type, type) == 0)
			return &c->linux_->namespaces[i];
	return NULL;
}

/* ---- CONTAINER ---- */

static int check_namespaces(const struct oci_config *c, mv_error_t *err)
{
	int seen = 0;

	for (size_t i = 0; c->linux_ && i < c->linux_->n_namespaces; i++) {
		const struct oci_namespace *ns = &c->linux_->namespaces[i];
		int flag = ns_flag(ns->type);

		if (flag == 0)
			return mv_error(err, EINVAL, "CONTAINER: `%s` namespaces are not supported",
					ns->type);
		if (seen & flag)
			return mv_error(err, EINVAL, "CONTAINER: two `%s` namespaces", ns->type);
		if (ns->path && ns->path[0] != '/')
			return mv_error(err, EINVAL,
					"CONTAINER: namespace path `%s` is not absolute", ns->path);
		seen |= flag;
	}
	if (!(seen & CLONE_NEWNS))
		return mv_error(err, EINVAL, "CONTAINER: the container needs a mount namespace");
	if ((c->hostname || c->domainname) && !(seen & CLONE_NEWUTS))
		return mv_error(
		    err, EINVAL,
		    "CONTAINER: a hostname needs a uts namespace of the container's own");
	return 0;
}

static int check_config(const struct oci_config *c, mv_error_t *err)
{
	if (c->root == NULL || c->root->path == NULL || c->root->path[0] != '/')
		return mv_error(err, EINVAL, "CONTAINER: root.path must be an absolute guest path");
	for (size_t i = 0; i < c->n_mounts; i++)
		if (c->mounts[i].destination[0] != '/')
			return mv_error(err, EINVAL,
					"CONTAINER: mount destination `%s` is relative",
					c->mounts[i].destination);
	return check_namespaces(c, err);
}

void container_request(struct agent *a, struct conn *ctl, const void *payload, uint32_t len)
{
	struct oci_config *config = NULL;
	mv_error_t err = {0};

	if (a->container)
		mv_error(&err, EEXIST, "CONTAINER: the VM has a container already");
	else if (len == 0)
		mv_error(&err, EINVAL, "CONTAINER: no config JSON");
	else if (oci_config_parse(payload, len, "config.json", &config, &err) == 0 &&
		 check_config(config, &err) == 0 &&
		 (a->container = calloc(1, sizeof(*a->container))) == NULL)
		mv_error(&err, ENOMEM, "CONTAINER");
	if (err.msg) {
		oci_config_free(config);
		conn_send_mv_error(a, ctl, &err);
		mv_error_release(&err);
		return;
	}
	a->container->config = config;
	conn_send(a, ctl, MV_MSG_OK, NULL, 0);
}

int container_check_exec(struct agent *a, uint32_t flags, mv_error_t *err)
{
	struct container *c = a->container;

	if (c == NULL)
		return mv_error(err, ENOENT, "EXEC: no container: CONTAINER comes first");
	if (flags & MV_EXEC_INIT) {
		if (c->init || c->init_ended)
			return mv_error(err, EBUSY, "EXEC: the container has its init already");
		return 0;
	}
	if (c->init_ended)
		return mv_error(err, ESRCH, "EXEC: the container's init has exited");
	if (c->init == NULL || c->init_pid == 0)
		return mv_error(err, ESRCH, "EXEC: the container's init has not started");
	return 0;
}

/* ---- the fork ---- */

/* The agent's own pid namespace, to come back to after a fork into the
 * container's. */
static int own_pid_ns(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	return fd;
}

/* Enter the pid namespace at path for the next fork; false when there is
 * nothing to enter (the agent's own). */
static int enter_pid_ns(const char *path, bool *entered, mv_error_t *err)
{
	struct stat ours, theirs;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	*entered = false;
	if (fd < 0 || fstat(fd, &theirs) < 0)
		return mv_error(err, errno, "open `%s`", path);
	if (own_pid_ns() < 0 || fstat(own_pid_ns(), &ours) < 0)
		return mv_error(err, errno, "open `/proc/self/ns/pid`");
	if (ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
		return 0;
	if (setns(fd, CLONE_NEWPID) < 0)
		return mv_error(err, errno, "enter the pid namespace `%s`", path);
	*entered = true;
	return 0;
}

static void leave_pid_ns(bool entered)
{
	if (entered && setns(own_pid_ns(), CLONE_NEWPID) < 0)
		agent_log("back to the agent's pid namespace: %s", strerror(errno));
}

/* id mappings of a new user namespace, from the agent (root outside). */
static int write_map(pid_t pid, const char *file, const struct oci_id_mapping *m, size_t n,
		     mv_error_t *err)
{
	char path[64], buf[4096];
	size_t used = 0;
	cleanup_close int fd = -1;

	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + used, sizeof(buf) - used, "%u %u %u\n", m[i].container_id,
				 m[i].host_id, m[i].size);

		if (w < 0 || (size_t)w >= sizeof(buf) - used)
			return mv_error(err, E2BIG, "%s: too many mappings", file);
		used += (size_t)w;
	}
	if (used == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, used) != (ssize_t)used)
		return mv_error(err, errno, "write `%s`", path);
	return 0;
}

static int map_user_ns(pid_t pid, const struct oci_linux *l, mv_error_t *err)
{
	if (write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, err) < 0 ||
	    write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, err) < 0)
		return -1;
	return 0;
}

static int new_ns_flags(const struct oci_config *c)
{
	int flags = 0;

	for (size_t i = 0; c->linux_ && i < c->linux_->n_namespaces; i++)
		if (c->linux_->namespaces[i].path == NULL)
			flags |= ns_flag(c->linux_->namespaces[i].type);
	return flags;
}

/* fork(), with new namespaces; the child gets 0.  A raw clone without a
 * new stack behaves as fork(), and the agent has one thread. */
static pid_t clone_ns(int flags)
{
	return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* After clone, the parent: map the new user namespace, then let the
 * child go on. */
static int init_parent(pid_t pid, const struct oci_config *cfg, int sync_w, mv_error_t *err)
{
	char go = 1;

	if (sync_w < 0)
		return 0;
	if (map_user_ns(pid, cfg->linux_, err) < 0)
		return -1;
	if (write(sync_w, &go, 1) != 1)
		return mv_error(err, errno, "start the container's init");
	return 0;
}

static void record_pid_ns(struct container *ct, pid_t pid, bool own)
{
	char path[64];
	struct stat st;

	ct->init_pid = pid;
	ct->own_pid_ns = own;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (stat(path, &st) == 0) {
		ct->pid_ns_dev = st.st_dev;
		ct->pid_ns_ino = st.st_ino;
	}
}

static pid_t fork_init(struct agent *a, struct proc *p, struct child_args *c, mv_error_t *err)
{
	struct container *ct = a->container;
	const struct oci_namespace *pidns = config_ns(ct->config, "pid");
	int flags = new_ns_flags(ct->config), sync[2] = {-1, -1};
	bool entered = false;
	pid_t pid;

	if (pidns && pidns->path && enter_pid_ns(pidns->path, &entered, err) < 0)
		return -1;
	if ((flags & CLONE_NEWUSER) && pipe2(sync, O_CLOEXEC) < 0) {
		leave_pid_ns(entered);
		return mv_error(err, errno, "pipe");
	}
	c->sync_fd = sync[0];
	pid = clone_ns(flags);
	if (pid == 0)
		child_container(c);
	leave_pid_ns(entered);
	if (sync[0] >= 0)
		close(sync[0]);
	if (pid < 0) {
		if (sync[1] >= 0)
			close(sync[1]);
		return mv_error(err, errno, "clone the container's init");
	}
	if (init_parent(pid, ct->config, sync[1], err) < 0)
		kill(pid, SIGKILL); /* reaped as usual; its EXITED follows */
	if (sync[1] >= 0)
		close(sync[1]);
	record_pid_ns(ct, pid, pidns != NULL);
	return pid;
}

static pid_t fork_join(struct agent *a, struct child_args *c, mv_error_t *err)
{
	struct container *ct = a->container;
	char path[64];
	bool entered;
	pid_t pid;

	if (ct->init == NULL || ct->init_ended)
		return mv_error(err, ESRCH, "the container's init has exited");
	c->init_pid = ct->init_pid;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)ct->init_pid);
	if (enter_pid_ns(path, &entered, err) < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		child_container(c);
	leave_pid_ns(entered);
	if (pid < 0)
		return mv_error(err, errno, "fork");
	return pid;
}

pid_t container_fork(struct agent *a, struct proc *p, struct child_args *c, mv_error_t *err)
{
	return c->init ? fork_init(a, p, c, err) : fork_join(a, c, err);
}

/* ---- the end, signals ---- */

void container_proc_reaped(struct agent *a, struct proc *p)
{
	struct container *ct = a->container;

	if (ct == NULL || ct->init != p)
		return;
	ct->init = NULL;
	ct->init_ended = true;
	/* with a pid namespace the kernel has done this already */
	for (struct proc *q = a->procs; q; q = q->next)
		if (q != p && q->in_container && q->state == PROC_RUNNING)
			proc_kill(q);
}

static bool in_pid_ns(const struct container *ct, const char *pid)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/pid", pid);
	return stat(path, &st) == 0 && st.st_dev == ct->pid_ns_dev && st.st_ino == ct->pid_ns_ino;
}

/* Every process of the container's pid namespace (and those below it are
 * in other namespaces: they are not the container's to signal). */
static int signal_pid_ns(const struct container *ct, int signo, mv_error_t *err)
{
	cleanup_dir DIR *d = opendir("/proc");
	struct dirent *e;

	if (d == NULL)
		return mv_error(err, errno, "open `/proc`");
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !in_pid_ns(ct, e->d_name))
			continue;
		if (kill((pid_t)atoi(e->d_name), signo) < 0 && errno != ESRCH)
			return mv_error(err, errno, "kill %s", e->d_name);
	}
	return 0;
}

int container_signal_all(struct agent *a, int signo, mv_error_t *err)
{
	struct container *ct = a->container;

	if (ct == NULL)
		return mv_error(err, ESRCH, "SIGNAL: no container");
	if (ct->init == NULL || ct->init_pid == 0)
		return mv_error(err, ESRCH, "SIGNAL: the container does not run");
	if (ct->own_pid_ns)
		return signal_pid_ns(ct, signo, err);
	for (struct proc *p = a->procs; p; p = p->next) {
		if (!p->in_container || p->state != PROC_RUNNING)
			continue;
		kill(-p->pid, signo);
		kill(p->pid, signo);
	}
	return 0;
}

/* ---- hooks: in the container's child ---- */

__attribute__((noreturn)) static void hook_exec(const struct oci_hook *h, int state_r)
{
	static char *const no_env[] = {NULL};
	char *const argv0[] = {h->path, NULL};

	if (dup2(state_r, STDIN_FILENO) < 0)
		_exit(126);
	execve(h->path, h->args.n ? h->args.v : argv0, h->env.n ? h->env.v : no_env);
	_exit(errno == ENOENT ? 127 : 126);
}

/* Wait for the hook, killing it when its timeout has passed. */
static int hook_wait(const struct oci_hook *h, pid_t pid, mv_error_t *err)
{
	struct timespec pause = {0, HOOK_POLL_NS};
	long waited_ns = 0;
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, h->has_timeout ? WNOHANG : 0)) == 0 ||
	       (r < 0 && errno == EINTR)) {
		if (r == 0 && waited_ns / 1000000000L >= h->timeout) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return mv_error(err, ETIMEDOUT, "hook `%s` ran over its %d s", h->path,
					h->timeout);
		}
		nanosleep(&pause, NULL);
		waited_ns += HOOK_POLL_NS;
	}
	if (r < 0)
		return mv_error(err, errno, "wait for hook `%s`", h->path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return mv_error(err, 0, "hook `%s` exited with status %d", h->path,
				WEXITSTATUS(status));
	return mv_error(err, 0, "hook `%s` was killed by signal %d", h->path, WTERMSIG(status));
}

static int hook_run(const struct oci_hook *h, const char *state, mv_error_t *err)
{
	int fds[2];
	pid_t pid;
	size_t n = strlen(state);

	/* the state is a few hundred bytes: it fits in the pipe at once */
	if (pipe2(fds, O_CLOEXEC) < 0)
		return mv_error(err, errno, "pipe for hook `%s`", h->path);
	if (write(fds[1], state, n) != (ssize_t)n) {
		close(fds[0]);
		close(fds[1]);
		return mv_error(err, errno, "state for hook `%s`", h->path);
	}
	close(fds[1]);
	pid = fork();
	if (pid == 0)
		hook_exec(h, fds[0]);
	close(fds[0]);
	if (pid < 0)
		return mv_error(err, errno, "fork for hook `%s`", h->path);
	return hook_wait(h, pid, err);
}

int hooks_run(const struct oci_hook *hooks, size_t n, const char *state, mv_error_t *err)
{
	for (size_t i = 0; i < n; i++)
		if (hook_run(&hooks[i], state, err) < 0)
			return -1;
	return 0;
}
