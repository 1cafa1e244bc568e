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
#include "runtime/guest.h"
#include "runtime/sandbox.h"
#include "vmm/vm.h"

#define BOOT_TIMEOUT_S	   600 /* the agent must be up by then (nested emulation is slow) */
#define POWEROFF_TIMEOUT_S 5
#define COPY_BUF	   65536

/* Signals passed on to the command in the guest. */
static const int forwarded[] = {SIGHUP,	 SIGINT,  SIGQUIT,  SIGTERM, SIGUSR1,
				SIGUSR2, SIGALRM, SIGWINCH, SIGCONT};

struct session {
	const struct vm_run_opts *o;
	char dir[64];	 /* private directory for the sockets */
	char vsock[128]; /* the hybrid vsock socket */
	char ready[140]; /* <vsock>_1024 */
	int tmp_fd;	 /* the directory dir is in (O_PATH): dir is removed through it */
	struct agent_addr addr;
	struct vm *vm;
	int console_fd, ready_fd, sig_fd, ctl;
	int in, out, errs; /* the process's stream connections, -1 once done */
	uint64_t proc_id;
	int status;
	bool exited;
	struct virtiofs_share shares[1 + VM_RUN_MAX_VOLUMES];
	char tags[VM_RUN_MAX_VOLUMES][16];
	char inbuf[COPY_BUF];
	size_t inlen;
	bool stdin_eof;
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

static int make_dir(struct session *s, mv_error_t *err)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(s->dir, sizeof(s->dir), "%s/mvrun-vm.XXXXXX",
		 tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(s->dir) == NULL)
		return mv_error(err, errno, "create a directory in `%s`", s->dir);
	/* In the sandbox dir is a mount point, which rmdir refuses: the
	 * directory is removed through its parent, opened now. */
	*strrchr(s->dir, '/') = '\0';
	s->tmp_fd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	s->dir[strlen(s->dir)] = '/';
	snprintf(s->vsock, sizeof(s->vsock), "%s/vsock.sock", s->dir);
	snprintf(s->ready, sizeof(s->ready), "%s_%u", s->vsock, MV_PORT_READY);
	s->addr.uds_path = s->vsock;
	s->addr.hybrid = true;
	return 0;
}

static int block_signals(struct session *s, mv_error_t *err)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return mv_error(err, errno, "sigprocmask");
	s->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sig_fd < 0)
		return mv_error(err, errno, "signalfd");
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* The virtio-fs shares: the root as "root", the volumes as "vol<N>". */
static void fill_shares(struct session *s, struct vm_config *cfg)
{
	const struct vm_run_opts *o = s->o;
	unsigned n = 0;

	if (o->rootfs)
		s->shares[n++] = (struct virtiofs_share){.tag = "root", .path = o->rootfs};
	for (unsigned i = 0; i < o->nvolumes; i++) {
		snprintf(s->tags[i], sizeof(s->tags[i]), "vol%u", i);
		s->shares[n++] = (struct virtiofs_share){
		    .tag = s->tags[i],
		    .path = o->volumes[i].host_path,
		    .readonly = o->volumes[i].readonly,
		};
	}
	cfg->shares = s->shares;
	cfg->nshares = n;
}

/* Only what the VMM needs stays visible to it (runtime/sandbox.h).  Paths
 * that do not exist are left out: opening them fails later, with the usual
 * error. */
static int enter_sandbox(struct session *s, const struct vm_config *cfg, mv_error_t *err)
{
	struct sandbox_path paths[4 + VM_RUN_MAX_VOLUMES];
	const char *fixed[] = {"/dev/kvm", cfg->kernel, cfg->initrd, s->dir};
	unsigned n = 0;

	if (geteuid() != 0)
		return 0; /* unprivileged: no mount namespace of our own */
	for (unsigned i = 0; i < 4; i++)
		if (fixed[i] && access(fixed[i], F_OK) == 0)
			paths[n++] = (struct sandbox_path){fixed[i], i == 0 || i == 3};
	for (unsigned i = 0; i < cfg->nshares; i++)
		if (access(cfg->shares[i].path, F_OK) == 0)
			paths[n++] =
			    (struct sandbox_path){cfg->shares[i].path, !cfg->shares[i].readonly};
	return sandbox_enter(s->dir, paths, n, err);
}

/* The virtio-fs servers hold an fd per inode the guest knows: give them
 * the hard limit rather than the usual 1024. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The sandbox's root directory, empty on the host (runtime/sandbox.h). */
static void rmdir_sandbox(const char *dir)
{
	char path[sizeof(((struct session *)0)->dir) + 16];

	snprintf(path, sizeof(path), "%s/sandbox", dir);
	rmdir(path);
}

static int start_vm(struct session *s, mv_error_t *err)
{
	cleanup_free char *kernel = NULL, *initrd = NULL, *cmdline = NULL;
	const struct vm_run_opts *o = s->o;
	struct vm_config cfg = {
	    .cpus = o->cpus,
	    .memory_mib = o->memory_mib,
	    .console_fd = -1,
	    .vsock_path = s->vsock,
	};

	if (o->nvolumes > VM_RUN_MAX_VOLUMES)
		return mv_error(err, EINVAL, "at most %d volumes", VM_RUN_MAX_VOLUMES);
	if (guest_default_paths(&kernel, &initrd, err) < 0)
		return -1;
	cfg.kernel = o->kernel ? o->kernel : kernel;
	cfg.initrd = o->initrd ? o->initrd : initrd;
	cmdline = guest_cmdline(o->verbose, o->append);
	if (cmdline == NULL)
		return mv_error(err, ENOMEM, "kernel command line");
	cfg.cmdline = cmdline;
	fill_shares(s, &cfg);
	if (o->console_log) {
		s->console_fd =
		    open(o->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (s->console_fd < 0)
			return mv_error(err, errno, "open console log `%s`", o->console_log);
		cfg.console_fd = s->console_fd;
	}
	s->ready_fd = agent_listen_unix(s->ready, err);
	if (s->ready_fd < 0)
		return -1;
	if (cfg.nshares)
		raise_fd_limit();
	if (enter_sandbox(s, &cfg, err) < 0)
		return -1;
	if (vm_create(&s->vm, &cfg, err) < 0)
		return -1;
	if (o->times)
		mark(s, &o->times->created);
	return vm_start(s->vm, err);
}

/* The last non-empty console line that says why the guest died. */
static void console_reason(struct session *s, char *out, size_t size)
{
	char tail[2048], *panic, *nl;

	vm_console_tail(s->vm, tail, sizeof(tail));
	panic = strstr(tail, "Kernel panic");
	if (panic == NULL) {
		size_t n = strlen(tail);
		while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
			tail[--n] = '\0';
		panic = strrchr(tail, '\n');
		panic = panic ? panic + 1 : tail;
	}
	nl = strpbrk(panic, "\r\n");
	if (nl)
		*nl = '\0';
	snprintf(out, size, "%s", panic);
}

static int vm_ended_error(struct session *s, const char *when, mv_error_t *err)
{
	const char *detail = NULL;
	enum vm_end why = vm_end_reason(s->vm, &detail);
	char last[512];

	console_reason(s, last, sizeof(last));
	if (strstr(last, "Kernel panic"))
		return mv_error(err, 0, "the guest kernel panicked %s: %s", when, last);
	if (why == VM_END_ERROR)
		return mv_error(err, 0, "the VM failed %s: %s", when, detail ? detail : "?");
	return mv_error(err, 0, "the VM %s %s%s%s", why == VM_END_REBOOT ? "reset" : "powered off",
			when, last[0] ? "; its console said: " : "", last);
}

static int signal_number(struct session *s)
{
	struct signalfd_siginfo si;

	if (read(s->sig_fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/* Wait for the agent's READY, or the VM's end, or a signal that aborts. */
static int wait_ready(struct session *s, mv_error_t *err)
{
	struct pollfd p[3] = {
	    {.fd = s->ready_fd, .events = POLLIN},
	    {.fd = vm_end_fd(s->vm), .events = POLLIN},
	    {.fd = s->sig_fd, .events = POLLIN},
	};

	unsigned timeout = s->o->boot_timeout_s ? s->o->boot_timeout_s : BOOT_TIMEOUT_S;

	for (;;) {
		int n = poll(p, 3, (int)timeout * 1000), sig;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mv_error(err, errno, "poll");
		if (n == 0) {
			char last[512];
			console_reason(s, last, sizeof(last));
			return mv_error(err, 0, "the guest did not start its agent within %u s%s%s",
					timeout, last[0] ? "; its console said: " : "", last);
		}
		if (p[0].revents) {
			if (s->o->times) {
				mark(s, &s->o->times->ready);
				s->o->times->first_entry = vm_first_entry_ns(s->vm);
			}
			return agent_accept_ready(s->ready_fd, err);
		}
		if (p[1].revents)
			return vm_ended_error(s, "while booting", err);
		sig = signal_number(s);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT)
			return 128 + sig; /* interrupted before the command ran */
	}
}

/* After a failed start the agent sends the process's EXITED (127 or 126). */
static void collect_start_failure(struct session *s)
{
	struct pollfd p = {.fd = s->ctl, .events = POLLIN};
	struct agent_event ev;

	if (poll(&p, 1, 5000) != 1 || agent_recv_event(s->ctl, &ev, NULL) != 1)
		return;
	if (ev.type == MV_MSG_EXITED && ev.proc_id == s->proc_id) {
		s->exited = true;
		s->status = ev.status;
	}
	agent_event_release(&ev);
}

#define GUEST_ROOT    "/run/mvrun/root"
#define GUEST_VOLUMES "/run/mvrun/volumes"

static int mount_in_root(struct session *s, uint64_t flags, const char *source, const char *path,
			 const char *fstype, const char *data, mv_error_t *err)
{
	char target[4096];

	snprintf(target, sizeof(target), "%s%s", GUEST_ROOT, path);
	return agent_mount(s->ctl, flags, 0, source, target, fstype, data, err);
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
		if (agent_mount(s->ctl, ro, 0, s->tags[i], aside, "virtiofs", "", err) < 0)
			return -1;
		base = strrchr(v->host_path, '/');
		snprintf(file, sizeof(file), "%s/%s", aside, base ? base + 1 : v->host_path);
		snprintf(target, sizeof(target), "%s%s", GUEST_ROOT, v->guest_path);
		return agent_mount(s->ctl, MS_BIND | ro, MV_MOUNT_FILE, file, target, "", "", err);
	}
	return mount_in_root(s, ro, s->tags[i], v->guest_path, "virtiofs", "", err);
}

/* The shared root with the guest kernel's own filesystems, then volumes. */
static int mount_root(struct session *s, mv_error_t *err)
{
	const uint64_t nodev = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (agent_mount(s->ctl, 0, 0, "root", GUEST_ROOT, "virtiofs", "", err) < 0 ||
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

	s->ctl = agent_connect(&s->addr, MV_CONN_CONTROL, 0, err);
	if (s->ctl < 0)
		return -1;
	if (o->rootfs) {
		if (mount_root(s, err) < 0)
			return -1;
		req.root = GUEST_ROOT;
	}
	if (agent_run(s->ctl, &req, &s->proc_id, err) < 0)
		return -1;
	s->in = agent_connect(&s->addr, MV_CONN_STDIN, s->proc_id, err);
	if (s->in < 0)
		return -1;
	s->out = agent_connect(&s->addr, MV_CONN_STDOUT, s->proc_id, err);
	if (s->out < 0)
		return -1;
	s->errs = agent_connect(&s->addr, MV_CONN_STDERR, s->proc_id, err);
	if (s->errs < 0)
		return -1;
	fcntl(s->in, F_SETFL, fcntl(s->in, F_GETFL) | O_NONBLOCK);
	if (agent_wait_started(s->ctl, s->proc_id, &pid, err) < 0) {
		collect_start_failure(s);
		return -1;
	}
	if (s->o->times)
		mark(s, &s->o->times->started);
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A stream from the guest to one of our fds; EOF closes it. */
static void copy_out(int *from, int to)
{
	char buf[COPY_BUF];
	ssize_t n = read(*from, buf, sizeof(buf));

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		close_fd(from);
		return;
	}
	for (ssize_t done = 0; done < n;) {
		ssize_t w = write(to, buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* our side is gone: keep draining the guest */
		done += w;
	}
}

static void stdin_read(struct session *s)
{
	ssize_t n = read(STDIN_FILENO, s->inbuf, sizeof(s->inbuf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		s->stdin_eof = true;
		return;
	}
	s->inlen = (size_t)n;
}

static void stdin_flush(struct session *s)
{
	ssize_t n = write(s->in, s->inbuf, s->inlen);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		close_fd(&s->in); /* the process closed its stdin */
		return;
	}
	memmove(s->inbuf, s->inbuf + n, s->inlen - n);
	s->inlen -= n;
}

static int control_event(struct session *s, mv_error_t *err)
{
	struct agent_event ev;
	int ret = agent_recv_event(s->ctl, &ev, err);

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
	while (!s->exited || s->out >= 0 || s->errs >= 0) {
		struct pollfd p[7] = {
		    {.fd = s->ctl, .events = POLLIN},
		    {.fd = s->out, .events = POLLIN},
		    {.fd = s->errs, .events = POLLIN},
		    {.fd = s->sig_fd, .events = POLLIN},
		    {.fd = vm_end_fd(s->vm), .events = POLLIN},
		    {.fd = s->in >= 0 && s->inlen == 0 && !s->stdin_eof ? STDIN_FILENO : -1,
		     .events = POLLIN},
		    {.fd = s->in >= 0 && s->inlen > 0 ? s->in : -1, .events = POLLOUT},
		};
		int sig;

		if (poll(p, 7, -1) < 0) {
			if (errno == EINTR)
				continue;
			return mv_error(err, errno, "poll");
		}
		if (p[4].revents && !s->exited)
			return vm_ended_error(s, "before the command ended", err);
		if (p[4].revents)
			break;
		if (p[0].revents && control_event(s, err) < 0)
			return -1;
		if (p[1].revents)
			copy_out(&s->out, STDOUT_FILENO);
		if (p[2].revents)
			copy_out(&s->errs, STDERR_FILENO);
		if (p[3].revents && (sig = signal_number(s)) > 0 && !s->exited)
			agent_signal(s->ctl, s->proc_id, sig, NULL); /* answered on ctl */
		if (p[5].revents)
			stdin_read(s);
		if (p[6].revents)
			stdin_flush(s);
		if (s->stdin_eof && s->inlen == 0 && s->in >= 0) {
			shutdown(s->in, SHUT_WR);
			close_fd(&s->in);
		}
	}
	return 0;
}

static void power_off(struct session *s)
{
	struct pollfd p = {.fd = vm_end_fd(s->vm), .events = POLLIN};

	if (s->ctl >= 0 && agent_poweroff(s->ctl, NULL) == 0)
		poll(&p, 1, POWEROFF_TIMEOUT_S * 1000);
}

static void session_release(struct session *s)
{
	close_fd(&s->in);
	close_fd(&s->out);
	close_fd(&s->errs);
	close_fd(&s->ctl);
	if (s->vm)
		vm_destroy(s->vm);
	close_fd(&s->ready_fd);
	close_fd(&s->sig_fd);
	close_fd(&s->console_fd);
	if (s->dir[0]) {
		unlink(s->ready);
		unlink(s->vsock);
		rmdir_sandbox(s->dir);
		if (s->tmp_fd < 0 ||
		    unlinkat(s->tmp_fd, strrchr(s->dir, '/') + 1, AT_REMOVEDIR) < 0)
			rmdir(s->dir);
	}
	close_fd(&s->tmp_fd);
}

int runtime_vm_run(const struct vm_run_opts *o, int *status, mv_error_t *err)
{
	struct session s = {
	    .o = o,
	    .console_fd = -1,
	    .ready_fd = -1,
	    .sig_fd = -1,
	    .ctl = -1,
	    .tmp_fd = -1,
	    .in = -1,
	    .out = -1,
	    .errs = -1,
	};
	int ret;

	if (o->times) {
		memset(o->times, 0, sizeof(*o->times));
		mark(&s, &o->times->start);
	}
	ret = make_dir(&s, err);
	if (ret == 0)
		ret = block_signals(&s, err);
	if (ret == 0)
		ret = start_vm(&s, err);
	if (ret == 0)
		ret = wait_ready(&s, err);
	if (ret == 0)
		ret = start_process(&s, err);
	if (ret == 0)
		ret = proxy(&s, err);
	if (s.exited || ret == 0)
		power_off(&s);
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
