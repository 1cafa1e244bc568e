/* The forked child: from the agent's copy to the host's program.  Any
 * failure is written to the exec report pipe (CLOEXEC, so a successful exec
 * closes it with nothing written) and the child exits. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/oci_apply.h"
#include "agent/pty.h"
#include "oci/state.h"
#include "runtime/cleanup.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void child_report_failure(int report_fd, enum exec_stage stage, const mv_error_t *err)
{
	char buf[sizeof(struct exec_failure) + REPORT_TEXT_MAX];
	struct exec_failure f = {.kind = REPORT_FAILED, .err = err->err, .stage = stage};
	size_t n = err->msg ? strnlen(err->msg, REPORT_TEXT_MAX) : 0;
	int code = stage == STAGE_EXEC && f.err == ENOENT ? MV_EXIT_NOT_FOUND : MV_EXIT_CANNOT_RUN;

	f.len = (uint32_t)n;
	memcpy(buf, &f, sizeof(f));
	if (n)
		memcpy(buf + sizeof(f), err->msg, n);
	/* one write of at most PIPE_BUF bytes: the agent reads it whole */
	if (write(report_fd, buf, sizeof(f) + n) < 0) {
		/* the agent then sees EOF and the exit status says the rest */
	}
	_exit(code);
}

/* RUN: the agent words the message from the stage. */
__attribute__((noreturn)) static void child_fail(int report_fd, enum exec_stage stage)
{
	mv_error_t err = {.err = errno};

	child_report_failure(report_fd, stage, &err);
}

/* The agent blocks SIGCHLD for its signalfd and ignores SIGPIPE; both
 * would be inherited across exec. */
static void reset_signals(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	for (int sig = 1; sig < _NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* fds 0, 1, 2: the pipes, or /dev/null for streams not asked for.  The
 * agent keeps 0-2 open, so the pipes are all above 2. */
static int setup_stdio(const int stdio[3])
{
	for (int i = 0; i < 3; i++) {
		int fd = stdio[i];

		if (fd < 0) {
			fd = open("/dev/null", O_RDWR);
			if (fd < 0)
				return -1;
		}
		if (fd != i && dup2(fd, i) < 0)
			return -1;
		if (fd != i && stdio[i] < 0)
			close(fd);
	}
	/* only 0-2 cross exec: everything else the agent has is CLOEXEC
	 * already; this catches anything that is not (kernels >= 5.11) */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	return 0;
}

/* execvpe() searches the PATH of the caller: make it the one in env. */
static const char *env_path(char *const *env)
{
	for (; *env; env++)
		if (strncmp(*env, "PATH=", 5) == 0)
			return *env + 5;
	return DEFAULT_PATH;
}

void child_exec(const struct run_msg *run, const int stdio[3], int report_fd)
{
	reset_signals();
	if (setup_stdio(stdio) < 0)
		child_fail(report_fd, STAGE_STDIO);
	if (setsid() < 0)
		child_fail(report_fd, STAGE_SETSID);
	/* Still root: enter the process's root before the ids are dropped.
	 * chroot is a stand-in: the container work replaces it with mount
	 * namespaces and pivot_root.  cwd is then relative to the new root,
	 * and so is execvpe()'s PATH search. */
	if (run->root && (chdir(run->root) < 0 || chroot(".") < 0))
		child_fail(report_fd, STAGE_CHROOT);
	/* the test mode runs unprivileged: there only our own ids work */
	if (geteuid() == 0 && setgroups(0, NULL) < 0)
		child_fail(report_fd, STAGE_SETGROUPS);
	if (setgid(run->gid) < 0)
		child_fail(report_fd, STAGE_SETGID);
	if (setuid(run->uid) < 0)
		child_fail(report_fd, STAGE_SETUID);
	if (chdir(run->cwd) < 0)
		child_fail(report_fd, STAGE_CHDIR);
	if (setenv("PATH", env_path(run->env), 1) < 0)
		child_fail(report_fd, STAGE_EXEC);
	execvpe(run->argv[0], run->argv, run->env);
	child_fail(report_fd, STAGE_EXEC);
}

char *exec_failure_message(const struct proc *p)
{
	const struct run_msg *r = &p->run;
	char *s = NULL;
	int n;

	switch (p->failure.stage) {
	case STAGE_EXEC:
		n = asprintf(&s, "exec `%s`", r->argv[0]);
		break;
	case STAGE_CHDIR:
		n = asprintf(&s, "chdir `%s`", r->cwd);
		break;
	case STAGE_CHROOT:
		n = asprintf(&s, "chroot `%s`", r->root);
		break;
	case STAGE_SETUID:
		n = asprintf(&s, "setuid %u", r->uid);
		break;
	case STAGE_SETGID:
		n = asprintf(&s, "setgid %u", r->gid);
		break;
	case STAGE_SETGROUPS:
		n = asprintf(&s, "setgroups");
		break;
	case STAGE_SETSID:
		n = asprintf(&s, "setsid");
		break;
	default:
		n = asprintf(&s, "set up stdin, stdout and stderr");
	}
	return n < 0 ? NULL : s;
}

/* ---- EXEC: a process of the container ---- */

/* Join the namespaces of the init: user first (the others belong to it),
 * mount last (it changes the root and cwd); pid was the agent's part. */
static int join_namespaces(pid_t init, mv_error_t *err)
{
	static const char *const order[] = {"user", "ipc", "uts", "net", "cgroup", "mnt"};
	int fds[6];
	int ret = 0;

	for (int i = 0; i < 6; i++) {
		char path[64], own[64];
		struct stat a, b;

		fds[i] = -1;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)init, order[i]);
		snprintf(own, sizeof(own), "/proc/self/ns/%s", order[i]);
		if (stat(path, &a) < 0 || stat(own, &b) < 0)
			continue; /* a kernel without that kind */
		if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			fds[i] = open(path, O_RDONLY | O_CLOEXEC);
	}
	for (int i = 0; i < 6; i++) {
		if (fds[i] < 0)
			continue;
		if (ret == 0 && setns(fds[i], 0) < 0)
			ret = mv_error(err, errno, "join the container's %s namespace", order[i]);
		close(fds[i]);
	}
	return ret;
}

/* The config's namespaces with a path (the new ones came with clone);
 * pid was the agent's part. */
static int enter_ns_paths(const struct oci_config *c, mv_error_t *err)
{
	static const char *const order[] = {"user", "ipc", "uts", "network", "cgroup", "mount"};

	for (size_t k = 0; k < 6; k++) {
		for (size_t i = 0; c->linux_ && i < c->linux_->n_namespaces; i++) {
			const struct oci_namespace *ns = &c->linux_->namespaces[i];
			cleanup_close int fd = -1;

			if (ns->path == NULL || strcmp(ns->type, order[k]) != 0)
				continue;
			fd = open(ns->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, 0) < 0)
				return mv_error(err, errno, "enter the namespace `%s`", ns->path);
		}
	}
	return 0;
}

static int wait_byte(int fd)
{
	char b;
	ssize_t n;

	while ((n = read(fd, &b, 1)) < 0 && errno == EINTR)
		;
	return n == 1 ? 0 : -1;
}

static int container_stdio(const struct child_args *c, mv_error_t *err)
{
	if (c->tty_slave < 0) {
		if (setup_stdio(c->stdio) < 0 || setsid() < 0)
			return mv_error(err, errno, "set up stdin, stdout and stderr");
		return 0;
	}
	if (setsid() < 0)
		return mv_error(err, errno, "setsid");
	if (pty_attach(c->tty_slave, err) < 0)
		return -1;
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	return 0;
}

static const char *annotation(const struct oci_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->annotations.n; i++)
		if (strcmp(cfg->annotations.keys[i], key) == 0)
			return cfg->annotations.values[i];
	return "";
}

static bool is_ours(const char *key)
{
	return strcmp(key, MV_ANNOTATION_ID) == 0 || strcmp(key, MV_ANNOTATION_BUNDLE) == 0;
}

/* The state a hook reads on its stdin: the id and bundle the host put in
 * the config as annotations, and the user's annotations without them.
 * Returns NULL when out of memory (the hook then reads nothing). */
static char *hook_state(const struct oci_config *cfg, const char *status)
{
	const struct oci_map *a = &cfg->annotations;
	cleanup_free char **keys = calloc(a->n + 1, sizeof(*keys));
	cleanup_free char **values = calloc(a->n + 1, sizeof(*values));
	struct oci_map user = {.keys = keys, .values = values};
	mv_error_t err = {0};
	char *json = NULL;

	if (keys == NULL || values == NULL)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		if (is_ours(a->keys[i]))
			continue;
		keys[user.n] = a->keys[i];
		values[user.n++] = a->values[i];
	}
	if (oci_state_json(annotation(cfg, MV_ANNOTATION_ID), status, getpid(),
			   annotation(cfg, MV_ANNOTATION_BUNDLE), &user, &json, &err) < 0)
		mv_error_release(&err);
	return json;
}

static int init_setup(const struct child_args *c, mv_error_t *err)
{
	cleanup_free char *state = hook_state(c->config, "creating");

	if (enter_ns_paths(c->config, err) < 0 ||
	    rootfs_setup(c->config, c->tty_slave >= 0 ? STDIN_FILENO : -1, state ? state : "",
			 err) < 0)
		return -1;
	return 0;
}

/* cwd: the init creates it when missing, as runc does. */
static int enter_cwd(const struct child_args *c, mv_error_t *err)
{
	const char *cwd = c->process->cwd ? c->process->cwd : "/";

	if (c->init && chdir(cwd) < 0 && errno == ENOENT) {
		char buf[4096];

		snprintf(buf, sizeof(buf), "%s", cwd);
		for (char *p = buf + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
		mkdir(buf, 0755);
	}
	if (chdir(cwd) < 0)
		return mv_error(err, errno, "chdir `%s`", cwd);
	return 0;
}

/* MV_EXEC_DEFER: tell the agent, then wait for its START byte. */
static void wait_for_start(const struct child_args *c)
{
	struct exec_failure f = {.kind = REPORT_PREPARED};
	mv_error_t err = {0};

	if (write(c->report_fd, &f, sizeof(f)) != (ssize_t)sizeof(f) ||
	    wait_byte(c->start_fd) < 0) {
		mv_error(&err, ECANCELED, "the agent did not start the process");
		child_report_failure(c->report_fd, STAGE_CONTAINER, &err);
	}
	close(c->start_fd);
}

void child_container(const struct child_args *c)
{
	const struct oci_process *op = c->process;
	const struct oci_seccomp *seccomp = c->config->linux_ ? c->config->linux_->seccomp : NULL;
	static char *const no_env[] = {NULL};
	mv_error_t err = {0};
	char *state = NULL; /* for startContainer; exec leaves it behind */
	char *path;

	reset_signals();
	if (c->sync_fd >= 0 && wait_byte(c->sync_fd) < 0)
		_exit(MV_EXIT_CANNOT_RUN); /* the agent failed, and says so */
	if (container_stdio(c, &err) < 0)
		child_report_failure(c->report_fd, STAGE_STDIO, &err);
	if ((c->init ? init_setup(c, &err) : join_namespaces(c->init_pid, &err)) < 0)
		child_report_failure(c->report_fd, STAGE_CONTAINER, &err);
	if (enter_cwd(c, &err) < 0)
		child_report_failure(c->report_fd, STAGE_CHDIR, &err);
	path = oci_find_executable(op->args.v[0], &op->env, &err);
	if (path == NULL)
		child_report_failure(c->report_fd, STAGE_EXEC, &err);
	if (c->init)
		state =
		    hook_state(c->config, "created"); /* before seccomp may forbid malloc's calls */
	if (oci_apply_process(op, seccomp, &err) < 0)
		child_report_failure(c->report_fd, STAGE_CONTAINER, &err);
	if (c->start_fd >= 0)
		wait_for_start(c);
	if (c->init && hooks_run(c->config->hooks.start_container,
				 c->config->hooks.n_start_container, state ? state : "", &err) < 0)
		child_report_failure(c->report_fd, STAGE_CONTAINER, &err);
	execve(path, op->args.v, op->env.n ? op->env.v : no_env);
	mv_error(&err, errno, "exec `%s`", op->args.v[0]);
	child_report_failure(c->report_fd, STAGE_EXEC, &err);
}
