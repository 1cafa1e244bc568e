#include "runtime/vmrun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/agent_client.h"
#include "runtime/cleanup.h"
#include "runtime/stdio_proxy.h"
#include "runtime/vmsession.h"
#include "vmm/vm.h"

/* Signals passed on to the command in the guest. */
static const int forwarded[] = {SIGHUP,	 SIGINT,  SIGQUIT,  SIGTERM, SIGUSR1,
				SIGUSR2, SIGALRM, SIGWINCH, SIGCONT};

struct session {
	const struct vm_run_opts *o;
	struct vm_session vs;
	struct stdio_proxy io; /* the process's stdio */
	uint64_t proc_id;
	int status;
	bool exited;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void mark(struct session *s, uint64_t *when)
{
	if (s->o->times)
		*when = now_ns();
}

static int block_signals(struct session *s, mv_error_t *err)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return mv_error(err, errno, "sigprocmask");
	s->vs.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->vs.sig_fd < 0)
		return mv_error(err, errno, "signalfd");
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* After a failed start the agent sends the process's EXITED (127 or 126). */
static void collect_start_failure(struct session *s)
{
	struct pollfd p = {.fd = s->vs.ctl, .events = POLLIN};
	struct agent_event ev;

	if (poll(&p, 1, 5000) != 1 || agent_recv_event(s->vs.ctl, &ev, NULL) != 1)
		return;
	if (ev.type == MV_MSG_EXITED && ev.proc_id == s->proc_id) {
		s->exited = true;
		s->status = ev.status;
	}
	agent_event_release(&ev);
}

static int mount_in_root(struct session *s, uint64_t flags, const char *source, const char *path,
			 const char *fstype, const char *data, mv_error_t *err)
{
	char target[4096];

	snprintf(target, sizeof(target), "%s%s", GUEST_ROOT, path);
	return agent_mount(s->vs.ctl, flags, 0, source, target, fstype, data, err);
}

/* A volume: a shared directory is mounted at its place; a shared single
 * file is mounted aside and the file bind-mounted onto its place. */
static int mount_volume(struct session *s, unsigned i, mv_error_t *err)
{
	const struct vm_run_volume *v = &s->o->volumes[i];
	uint64_t ro = v->readonly ? MS_RDONLY : 0;
	char aside[128], file[4200], target[4200];
	const char *base;
	struct stat st;

	if (stat(v->host_path, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(aside, sizeof(aside), "%s/%u", GUEST_VOLUMES, i);
		if (agent_mount(s->vs.ctl, ro, 0, s->vs.tags[i], aside, "virtiofs", "", err) < 0)
			return -1;
		base = strrchr(v->host_path, '/');
		snprintf(file, sizeof(file), "%s/%s", aside, base ? base + 1 : v->host_path);
		snprintf(target, sizeof(target), "%s%s", GUEST_ROOT, v->guest_path);
		return agent_mount(s->vs.ctl, MS_BIND | ro, MV_MOUNT_FILE, file, target, "", "",
				   err);
	}
	return mount_in_root(s, ro, s->vs.tags[i], v->guest_path, "virtiofs", "", err);
}

/* The shared root with the guest kernel's own filesystems, then volumes. */
static int mount_root(struct session *s, mv_error_t *err)
{
	const uint64_t nodev = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (agent_mount(s->vs.ctl, 0, 0, "root", GUEST_ROOT, "virtiofs", "", err) < 0 ||
	    mount_in_root(s, nodev, "proc", "/proc", "proc", "", err) < 0 ||
	    mount_in_root(s, nodev, "sysfs", "/sys", "sysfs", "", err) < 0 ||
	    mount_in_root(s, MS_NOSUID, "devtmpfs", "/dev", "devtmpfs", "mode=0755", err) < 0 ||
	    mount_in_root(s, MS_NOSUID | MS_NOEXEC, "devpts", "/dev/pts", "devpts",
			  "newinstance,ptmxmode=0666,mode=0620", err) < 0 ||
	    mount_in_root(s, MS_NOSUID | MS_NODEV, "shm", "/dev/shm", "tmpfs", "mode=1777", err) <
		0)
		return mv_error_wrap(err, "set up the root");
	for (unsigned i = 0; i < s->o->nvolumes; i++)
		if (mount_volume(s, i, err) < 0)
			return mv_error_wrap(err, "volume `%s`", s->o->volumes[i].host_path);
	return 0;
}

static int start_process(struct session *s, mv_error_t *err)
{
	const struct vm_run_opts *o = s->o;
	struct agent_run_req req = {
	    .flags = MV_RUN_STDIN | MV_RUN_STDOUT | MV_RUN_STDERR,
	    .uid = o->uid,
	    .gid = o->gid,
	    .cwd = o->cwd,
	    .argv = (const char *const *)o->argv,
	    .env = (const char *const *)o->env,
	};
	uint32_t pid;

	if (o->rootfs) {
		if (mount_root(s, err) < 0)
			return -1;
		req.root = GUEST_ROOT;
	}
	if (agent_run(s->vs.ctl, &req, &s->proc_id, err) < 0)
		return -1;
	if (stdio_proxy_connect(&s->io, &s->vs.addr, s->proc_id, req.flags, err) < 0)
		return -1;
	if (agent_wait_started(s->vs.ctl, s->proc_id, &pid, err) < 0) {
		collect_start_failure(s);
		return -1;
	}
	if (s->o->times)
		mark(s, &s->o->times->started);
	return 0;
}

static int control_event(struct session *s, mv_error_t *err)
{
	struct agent_event ev;
	int ret = agent_recv_event(s->vs.ctl, &ev, err);

	if (ret <= 0)
		return ret == 0 ? mv_error(err, 0, "the guest agent closed the connection") : -1;
	if (ev.type == MV_MSG_EXITED && ev.proc_id == s->proc_id) {
		s->exited = true;
		s->status = ev.status;
	}
	agent_event_release(&ev);
	return 0;
}

/* Proxy stdio and signals until the process exited and its output ended. */
static int proxy(struct session *s, mv_error_t *err)
{
	while (!s->exited || !stdio_proxy_output_done(&s->io)) {
		struct pollfd p[3 + STDIO_PROXY_NFDS] = {
		    {.fd = s->vs.ctl, .events = POLLIN},
		    {.fd = s->vs.sig_fd, .events = POLLIN},
		    {.fd = vm_end_fd(s->vs.vm), .events = POLLIN},
		};
		int sig;

		stdio_proxy_pollfds(&s->io, true, p + 3);
		if (poll(p, 3 + STDIO_PROXY_NFDS, -1) < 0) {
			if (errno == EINTR)
				continue;
			return mv_error(err, errno, "poll");
		}
		if (p[2].revents && !s->exited)
			return vm_session_ended_error(&s->vs, "before the command ended", err);
		if (p[2].revents)
			break;
		if (p[0].revents && control_event(s, err) < 0)
			return -1;
		if (p[1].revents && (sig = vm_session_signal(&s->vs)) > 0 && !s->exited)
			agent_signal(s->vs.ctl, s->proc_id, sig, NULL); /* answered on ctl */
		stdio_proxy_handle(&s->io, p + 3);
	}
	return 0;
}

static void session_release(struct session *s)
{
	stdio_proxy_close(&s->io);
	vm_session_release(&s->vs);
	if (s->vs.sig_fd >= 0)
		close(s->vs.sig_fd);
}

int runtime_vm_run(const struct vm_run_opts *o, int *status, mv_error_t *err)
{
	struct session s = {.o = o};
	int ret;

	vm_session_init(&s.vs, o);
	stdio_proxy_init(&s.io);
	if (o->times) {
		memset(o->times, 0, sizeof(*o->times));
		mark(&s, &o->times->start);
	}
	ret = vm_session_dir(&s.vs, NULL, err);
	if (ret == 0)
		ret = block_signals(&s, err);
	if (ret == 0)
		ret = vm_session_boot(&s.vs, err);
	if (ret == 0)
		ret = start_process(&s, err);
	if (ret == 0)
		ret = proxy(&s, err);
	if (s.exited || ret == 0)
		vm_session_power_off(&s.vs);
	session_release(&s);
	*status = 0;
	if (ret > 0) { /* a signal ended it before the command started */
		*status = ret;
		return 0;
	}
	if (s.exited)
		*status = agent_exit_code(s.status);
	return ret < 0 ? -1 : 0;
}
