/* mvrun-agent: PID 1 of every mvrun microVM, a static binary at /init of
 * the initramfs.  It sets the guest up (mounts, console, modules, hostname,
 * loopback), listens on vsock port MV_PORT_AGENT, tells the host it is
 * ready, and then serves the host's connections from one epoll loop
 * (agent.h).  As PID 1 it reaps every child, orphans included.
 *
 * Test mode, `mvrun-agent --listen-unix PATH [--ready-unix PATH]`, runs
 * the same loop on the host: a Unix socket instead of vsock, no guest
 * setup, a private mount namespace (so that MOUNT changes nothing on the
 * host), and POWEROFF (or SIGTERM, SIGINT) ends the agent with status 0. */
#include "agent/agent.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define READY_TRIES    5
#define READY_PAUSE_US 200000
#define LISTEN_BACKLOG 64
#define MODULES_DIR    "/lib/modules"

struct options {
	const char *listen_unix; /* test mode */
	const char *ready_unix;
};

static struct agent agent;

void agent_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mvrun-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static __attribute__((noreturn)) void agent_end(struct agent *a, int test_status)
{
	proc_kill_all(a);
	if (a->test_mode) {
		if (a->listen_path)
			unlink(a->listen_path);
		exit(test_status);
	}
	kill(-1, SIGKILL); /* everything but PID 1 */
	sync();
	reboot(RB_POWER_OFF);
	agent_log("power off: %s", strerror(errno));
	_exit(1); /* PID 1 exiting panics the kernel: the VM still ends */
}

void agent_poweroff(struct agent *a)
{
	agent_end(a, 0);
}

void agent_fatal(struct agent *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mvrun-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(a->test_mode ? "\n" : ": powering off\n", stderr);
	va_end(ap);
	agent_end(a, 1);
}

static __attribute__((noreturn)) void agent_fatal_error(struct agent *a, mv_error_t *err)
{
	char *s = mv_error_string(err);

	agent_fatal(a, "%s", s ? s : "out of memory");
}

/* ---- epoll ---- */

int watch_set(struct agent *a, struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	int op = events == 0 ? EPOLL_CTL_DEL : w->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

	if (events == w->events)
		return 0;
	if (epoll_ctl(a->epfd, op, w->fd, &ev) < 0)
		return -1;
	w->events = events;
	return 0;
}

void watch_close(struct agent *a, struct watch *w)
{
	if (w->fd < 0)
		return;
	if (w->events)
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	close(w->fd);
	w->fd = -1;
	w->events = 0;
}

/* One event per epoll_wait: see agent.h. */
static __attribute__((noreturn)) void agent_loop(struct agent *a)
{
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(a->epfd, &ev, 1, -1);

		if (n < 0 && errno != EINTR)
			agent_fatal(a, "epoll_wait: %s", strerror(errno));
		if (n == 1) {
			struct watch *w = ev.data.ptr;
			w->fn(a, w, ev.events);
		}
	}
}

/* ---- signals ---- */

static void signals_event(struct agent *a, struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	bool child = false;

	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			child = true;
		else /* SIGTERM or SIGINT, test mode only */
			agent_poweroff(a);
	}
	if (child) /* signals merge: one SIGCHLD may stand for many children */
		proc_reap(a);
}

static int signals_init(struct agent *a, mv_error_t *err)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN); /* children get it back in child_exec() */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (a->test_mode) {
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return mv_error(err, errno, "sigprocmask");
	a->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->signals.fd < 0)
		return mv_error(err, errno, "signalfd");
	a->signals.fn = signals_event;
	if (watch_set(a, &a->signals, EPOLLIN) < 0)
		return mv_error(err, errno, "epoll on the signalfd");
	return 0;
}

/* ---- the listener and READY ---- */

static int unix_address(const char *path, struct sockaddr_un *addr, mv_error_t *err)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		return mv_error(err, ENAMETOOLONG, "socket path `%s`", path);
	strcpy(addr->sun_path, path);
	return 0;
}

static int listen_socket(struct agent *a, const char *path, mv_error_t *err)
{
	struct sockaddr_vm vm = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = MV_PORT_AGENT};
	struct sockaddr_un un;
	int fd, ret;

	if (path && unix_address(path, &un, err) < 0)
		return -1;
	fd = socket(path ? AF_UNIX : AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mv_error(err, errno, "socket for the agent's port");
	ret = path ? bind(fd, (struct sockaddr *)&un, sizeof(un))
		   : bind(fd, (struct sockaddr *)&vm, sizeof(vm));
	if (ret < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		if (path)
			mv_error(err, errno, "listen on `%s`", path);
		else
			mv_error(err, errno, "listen on vsock port %u", MV_PORT_AGENT);
		close(fd);
		return -1;
	}
	a->listen_path = path;
	return fd;
}

static int ready_connect(const char *path)
{
	struct sockaddr_vm vm = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = MV_PORT_READY};
	struct sockaddr_un un;
	int fd, ret;

	if (path && unix_address(path, &un, NULL) < 0)
		return -1;
	fd = socket(path ? AF_UNIX : AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ret = path ? connect(fd, (struct sockaddr *)&un, sizeof(un))
		   : connect(fd, (struct sockaddr *)&vm, sizeof(vm));
	if (ret < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The host may be driving the agent some other way: a READY that cannot
 * be delivered is logged, not fatal. */
static void send_ready(const char *path)
{
	struct mv_msg_hdr hdr = {.type = MV_MSG_READY, .len = sizeof(struct mv_msg_ready)};
	struct mv_msg_ready ready = {.version = MV_PROTOCOL_VERSION};
	char msg[sizeof(hdr) + sizeof(ready)];

	memcpy(msg, &hdr, sizeof(hdr));
	memcpy(msg + sizeof(hdr), &ready, sizeof(ready));
	for (int i = 0; i < READY_TRIES; i++) {
		int fd;

		if (i > 0)
			usleep(READY_PAUSE_US);
		fd = ready_connect(path);
		if (fd < 0)
			continue;
		/* 12 bytes on a fresh connection go in one piece */
		if (send(fd, msg, sizeof(msg), MSG_NOSIGNAL) == (ssize_t)sizeof(msg)) {
			close(fd);
			return;
		}
		close(fd);
	}
	agent_log("could not send READY: %s; serving anyway", strerror(errno));
}

/* ---- start ---- */

static int agent_init(struct agent *a, const struct options *o, mv_error_t *err)
{
	a->listener.fd = a->signals.fd = -1;
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0)
		return mv_error(err, errno, "epoll_create1");
	if (signals_init(a, err) < 0)
		return -1;
	a->listener.fd = listen_socket(a, o->listen_unix, err);
	if (a->listener.fd < 0)
		return -1;
	a->listener.fn = conn_accept;
	if (watch_set(a, &a->listener, EPOLLIN) < 0)
		return mv_error(err, errno, "epoll on the listener");
	return 0;
}

static int guest_setup(mv_error_t *err)
{
	int mounted;

	system_boot_mark();
	mounted = system_mount_all(err);

	/* fds 0-2 on the console even when a mount failed, to report that */
	if (system_console(mounted < 0 ? NULL : err) < 0 && mounted == 0)
		return -1;
	if (mounted < 0 || modules_load(MODULES_DIR, err) < 0)
		return -1;
	system_hostname_and_loopback();
	return 0;
}

/* Test mode: fds 0-2 must be taken so the pipes land above them. */
static void keep_stdio_open(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			agent_log("open `/dev/null`: %s", strerror(errno));
}

static int parse_options(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen-unix") == 0 && i + 1 < argc)
			o->listen_unix = argv[++i];
		else if (strcmp(argv[i], "--ready-unix") == 0 && i + 1 < argc)
			o->ready_unix = argv[++i];
		else
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct agent *a = &agent;
	mv_error_t err = {0};
	bool args_ok = parse_options(argc, argv, &o) == 0;

	/* as PID 1, arguments are whatever the kernel command line left over */
	a->test_mode = args_ok && o.listen_unix;
	if (!a->test_mode && getpid() != 1) {
		fprintf(stderr, "usage: mvrun-agent --listen-unix PATH [--ready-unix PATH]\n"
				"  (without them it must run as the guest's PID 1)\n");
		return 2;
	}
	if (a->test_mode) {
		keep_stdio_open();
		prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans come to us, as to PID 1 */
		/* unprivileged there is none: MOUNT is refused, the rest works */
		a->mount_ns_err = mount_private_namespace();
	} else if (guest_setup(&err) < 0) {
		agent_fatal_error(a, &err);
	}
	if (agent_init(a, &o, &err) < 0)
		agent_fatal_error(a, &err);
	if (!a->test_mode || o.ready_unix)
		send_ready(o.ready_unix);
	agent_loop(a);
}
