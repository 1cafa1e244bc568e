/* The forked child: from the agent's copy to the host's program.  Any
 * failure is written to the exec report pipe (CLOEXEC, so a successful exec
 * closes it with nothing written) and the child exits. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

__attribute__((noreturn)) static void child_fail(int report_fd, enum exec_stage stage)
{
	struct exec_failure f = {.err = errno, .stage = stage};
	int code = stage == STAGE_EXEC && f.err == ENOENT ? MV_EXIT_NOT_FOUND : MV_EXIT_CANNOT_RUN;

	if (write(report_fd, &f, sizeof(f)) < 0) {
		/* the agent then sees EOF and the exit status says the rest */
	}
	_exit(code);
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
