#include "runtime/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What is kept of each of a hook's stdout and stderr: the message quotes
 * HOOKS_MSG_MAX bytes of it, the rest is read and dropped so the hook never
 * blocks on a full pipe. */
#define CAPTURE_MAX 1024
/* Reads done after the hook exited: a child it left behind may keep
 * writing, and must not keep us here. */
#define FINAL_READS 16
/* Without a pidfd (kernel < 5.3) the exit is noticed by polling this often. */
#define EXIT_POLL_MS 10

struct capture {
	char buf[CAPTURE_MAX];
	size_t len;
};

/* One hook being run: its process and our ends of its stdio pipes. */
struct hook_run {
	const struct oci_hook *hook;
	pid_t pid;
	int pidfd;	   /* -1 without pidfd_open */
	int in, out, errs; /* -1 once closed */
	const char *state;
	size_t state_len, written;
	struct capture out_cap, err_cap;
	int status;
	bool exited, timed_out;
};

/* The fds the child gets, and what it needs, all prepared before fork: the
 * child of a threaded program may only make async-signal-safe calls. */
struct spawn {
	const char *path;
	char *const *argv, *const *envp;
	int in, out, errs; /* the child's ends, become 0, 1, 2 */
	int report;	   /* exec's errno is written here (O_CLOEXEC) */
	int max_fd;	   /* for closing fds without close_range */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- the child ---- */

/* close_range(2) is Linux 5.9; before it, close every possible number. */
static void close_fds_from(int first, unsigned last, int max_fd)
{
	if ((unsigned)first > last)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, last, 0) == 0)
		return;
#endif
	for (int fd = first; fd <= max_fd && (unsigned)fd <= last; fd++)
		close(fd);
}

/* Moves fd to a number above 2 (keeping it open), so that the dup2()s onto
 * 0-2 cannot clobber it when the caller runs with 0-2 closed. */
static int move_up(int fd)
{
	return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void reset_signals(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	/* Ignored signals stay ignored across exec: undo the caller's. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	/* glibc refuses sigaction() on the two it keeps for itself (32, 33),
	 * yet an ignored disposition of them is inherited all the same (make
	 * check under CI had them so): the system call resets them. */
	for (int sig = 32; sig < SIGRTMIN; sig++) {
		struct {
			void *handler;
			unsigned long flags;
			void *restorer;
			uint64_t mask;
		} kdfl = {SIG_DFL, 0, NULL, 0};
		syscall(SYS_rt_sigaction, sig, &kdfl, NULL, sizeof(kdfl.mask));
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static __attribute__((noreturn)) void child_exec(const struct spawn *s)
{
	int in = move_up(s->in), out = move_up(s->out), errs = move_up(s->errs);
	int report = move_up(s->report), e;

	reset_signals();
	if (in < 0 || out < 0 || errs < 0 || report < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(errs, 2) < 0)
		goto fail;
	close_fds_from(3, (unsigned)report - 1, s->max_fd);
	close_fds_from(report + 1, ~0U, s->max_fd);
	execve(s->path, s->argv, s->envp);
fail:
	e = errno;
	if (report >= 0 && write(report, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/* ---- starting ---- */

static int pipe_pair(int fds[2], mv_error_t *err)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return mv_error(err, errno, "pipe");
	return 0;
}

static int set_nonblock(int fd, mv_error_t *err)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return mv_error(err, errno, "fcntl O_NONBLOCK");
	return 0;
}

static int max_fd(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > INT32_MAX)
		return 65535;
	return (int)rl.rlim_cur - 1;
}

/* fork with every signal blocked, so that none of the caller's handlers
 * runs in the child before reset_signals(). */
static pid_t fork_child(const struct spawn *s)
{
	sigset_t all, old;
	pid_t pid;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child_exec(s);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return pid;
}

/* 0 when the child reached execve, else its errno (the child is reaped). */
static int exec_result(pid_t pid, int report)
{
	int e = 0;
	ssize_t n;

	do
		n = read(report, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return e ? e : EIO;
	}
	return 0;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0); /* always O_CLOEXEC */
#else
	return -1;
#endif
}

/* Our ends of the three pipes are r->in, r->out, r->errs; the child's are
 * closed here whatever happens. */
static int hook_start(struct hook_run *r, mv_error_t *err)
{
	static char *const no_env[] = {NULL};
	char *const self_argv[] = {r->hook->path, NULL};
	int in[2], out[2] = {-1, -1}, errs[2] = {-1, -1}, report[2] = {-1, -1};
	struct spawn s = {.path = r->hook->path, .max_fd = max_fd()};
	int ret = -1, e;

	if (pipe_pair(in, err) < 0)
		return -1;
	r->in = in[1];
	if (pipe_pair(out, err) < 0 || pipe_pair(errs, err) < 0 || pipe_pair(report, err) < 0)
		goto out;
	r->out = out[0];
	r->errs = errs[0];
	if (set_nonblock(r->in, err) < 0 || set_nonblock(r->out, err) < 0 ||
	    set_nonblock(r->errs, err) < 0)
		goto out;
	s.argv = r->hook->args.n > 0 ? r->hook->args.v : self_argv;
	s.envp = r->hook->env.n > 0 ? r->hook->env.v : no_env;
	s.in = in[0];
	s.out = out[1];
	s.errs = errs[1];
	s.report = report[1];
	r->pid = fork_child(&s);
	if (r->pid < 0) {
		mv_error(err, errno, "fork");
		goto out;
	}
	close_fd(&report[1]);
	e = exec_result(r->pid, report[0]);
	if (e) {
		r->pid = -1;
		mv_error(err, e, "exec");
		goto out;
	}
	r->pidfd = open_pidfd(r->pid);
	ret = 0;
out:
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errs[1]);
	close_fd(&report[0]);
	close_fd(&report[1]);
	return ret;
}

/* ---- supervising ---- */

/* write() that cannot raise SIGPIPE in this thread whatever the caller's
 * disposition: the signal is blocked for the call and, if the write raised
 * it, taken off the pending set again. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec zero = {0, 0};
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t n;
	int e;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	n = write(fd, buf, len);
	e = errno;
	if (n < 0 && e == EPIPE && !was_pending)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return n;
}

/* Feed the state; a hook that exits or closes stdin without reading it
 * all is not an error (the runtime spec does not oblige it to read). */
static void feed_stdin(struct hook_run *r)
{
	while (r->in >= 0 && r->written < r->state_len) {
		ssize_t n =
		    write_nosigpipe(r->in, r->state + r->written, r->state_len - r->written);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			close_fd(&r->in);
			return;
		}
		r->written += (size_t)n;
	}
	close_fd(&r->in); /* all written: EOF for the hook */
}

/* Read what is there (up to max_reads reads); close at end of file. */
static void drain(int *fd, struct capture *cap, int max_reads)
{
	char scratch[4096];

	for (int i = 0; *fd >= 0 && i < max_reads; i++) {
		ssize_t n = read(*fd, scratch, sizeof(scratch));
		size_t keep;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_fd(fd);
			return;
		}
		keep = sizeof(cap->buf) - cap->len;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(cap->buf + cap->len, scratch, keep);
		cap->len += keep;
	}
}

static void reap(struct hook_run *r, int flags)
{
	pid_t ret;

	do
		ret = waitpid(r->pid, &r->status, flags);
	while (ret < 0 && errno == EINTR);
	if (ret == r->pid || (ret < 0 && errno == ECHILD)) {
		/* ECHILD: reaped behind our back (SIGCHLD ignored): status lost */
		if (ret < 0)
			r->status = -1;
		r->exited = true;
	}
}

static int poll_timeout(const struct hook_run *r, uint64_t deadline)
{
	int ms = -1;

	if (deadline) {
		uint64_t now = now_ms();

		ms = now >= deadline
			 ? 0
			 : (int)(deadline - now > INT32_MAX ? INT32_MAX : deadline - now);
	}
	if (r->pidfd < 0 && (ms < 0 || ms > EXIT_POLL_MS))
		ms = EXIT_POLL_MS;
	return ms;
}

static void add_fd(struct pollfd *p, int *n, int fd, short events)
{
	if (fd >= 0)
		p[(*n)++] = (struct pollfd){.fd = fd, .events = events};
}

/* Until the hook exits or its deadline passes (0: none). */
static int supervise(struct hook_run *r, uint64_t deadline, mv_error_t *err)
{
	feed_stdin(r);
	while (!r->exited) {
		struct pollfd p[4];
		int n = 0;

		add_fd(p, &n, r->pidfd, POLLIN);
		add_fd(p, &n, r->in, POLLOUT);
		add_fd(p, &n, r->out, POLLIN);
		add_fd(p, &n, r->errs, POLLIN);
		if (poll(p, (nfds_t)n, poll_timeout(r, deadline)) < 0 && errno != EINTR) {
			int e = errno;

			kill(r->pid, SIGKILL);
			reap(r, 0);
			return mv_error(err, e, "poll");
		}
		feed_stdin(r);
		drain(&r->out, &r->out_cap, FINAL_READS);
		drain(&r->errs, &r->err_cap, FINAL_READS);
		reap(r, WNOHANG);
		if (!r->exited && deadline && now_ms() >= deadline) {
			kill(r->pid, SIGKILL);
			reap(r, 0);
			r->timed_out = true;
		}
	}
	/* What it wrote before exiting; a child it left holding the pipes is
	 * not waited for. */
	drain(&r->out, &r->out_cap, FINAL_READS);
	drain(&r->errs, &r->err_cap, FINAL_READS);
	return 0;
}

/* ---- reporting ---- */

/* n, or less to drop a UTF-8 sequence that a cut at n left incomplete. */
static size_t utf8_boundary(const char *s, size_t n)
{
	size_t start = n, need;
	unsigned char lead;

	while (start > 0 && n - start < 3 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
		start--;
	if (start == 0)
		return n;
	lead = (unsigned char)s[start - 1];
	if (lead < 0xc0)
		return n;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	return n - (start - 1) < need ? start - 1 : n;
}

/* The start of a hook's output as one line for a message: runs of control
 * characters become one space, at most HOOKS_MSG_MAX bytes. */
static void clean_output(const struct capture *cap, char *out, size_t size)
{
	size_t o = 0, max = size - 4; /* room for "..." and NUL */
	bool space = false, cut = false;

	for (size_t i = 0; i < cap->len; i++) {
		unsigned char c = (unsigned char)cap->buf[i];

		if (c < 0x20 || c == 0x7f) {
			space = o > 0;
			continue;
		}
		if (o + space + 1 > max) {
			cut = true;
			break;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		out[o++] = (char)c;
	}
	if (cut)
		o = utf8_boundary(out, o);
	out[o] = '\0';
	if (cut)
		strcat(out, "...");
}

static int hook_failed(const struct hook_run *r, const char *stage, mv_error_t *err)
{
	char what[64], text[HOOKS_MSG_MAX + 4];
	const struct capture *cap = r->err_cap.len > 0 ? &r->err_cap : &r->out_cap;

	if (r->timed_out)
		snprintf(what, sizeof(what), "timed out after %d s", r->hook->timeout);
	else if (r->status == -1)
		snprintf(what, sizeof(what), "exit status unknown (was SIGCHLD ignored?)");
	else if (WIFSIGNALED(r->status))
		snprintf(what, sizeof(what), "killed by signal %d", WTERMSIG(r->status));
	else
		snprintf(what, sizeof(what), "exit status %d", WEXITSTATUS(r->status));
	clean_output(cap, text, sizeof(text));
	return mv_error(err, 0, "`%s` hook `%s`: %s%s%s", stage, r->hook->path, what,
			text[0] ? ": " : "", text);
}

static int hook_run(const struct oci_hook *hook, const char *stage, const char *state,
		    mv_error_t *err)
{
	struct hook_run r = {.hook = hook,
			     .pid = -1,
			     .pidfd = -1,
			     .in = -1,
			     .out = -1,
			     .errs = -1,
			     .state = state ? state : "",
			     .state_len = state ? strlen(state) : 0};
	uint64_t deadline = 0;
	int ret;

	if (hook->path == NULL || hook->path[0] != '/')
		return mv_error(err, EINVAL, "`%s` hook `%s`: the path must be absolute", stage,
				hook->path ? hook->path : "");
	if (hook->has_timeout && hook->timeout > 0)
		deadline = now_ms() + (uint64_t)hook->timeout * 1000;
	ret = hook_start(&r, err);
	if (ret == 0)
		ret = supervise(&r, deadline, err);
	close_fd(&r.in);
	close_fd(&r.out);
	close_fd(&r.errs);
	close_fd(&r.pidfd);
	if (ret < 0)
		return mv_error_wrap(err, "`%s` hook `%s`", stage, hook->path);
	if (r.timed_out || r.status != 0)
		return hook_failed(&r, stage, err);
	return 0;
}

int hooks_run(const struct oci_hook *hooks, size_t n, const char *stage, const char *state_json,
	      mv_error_t *err)
{
	for (size_t i = 0; i < n; i++)
		if (hook_run(&hooks[i], stage, state_json, err) < 0)
			return -1;
	return 0;
}
