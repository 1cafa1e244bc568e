#include "runtime/vmsession.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "runtime/guest.h"
#include "runtime/sandbox.h"

#define BOOT_TIMEOUT_S	   600 /* the agent must be up by then (nested emulation is slow) */
#define POWEROFF_TIMEOUT_S 5

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void vm_session_init(struct vm_session *s, const struct vm_run_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->o = o;
	s->dir_fd = s->tmp_fd = s->console_fd = s->ready_fd = s->sig_fd = s->ctl = -1;
}

/* Socket paths are limited to 108 bytes; a state directory under a long
 * --root (containerd's /run/containerd/runc/NAMESPACE/ID) is longer, so
 * they are named through the directory's fd. */
static int name_sockets(struct vm_session *s, mv_error_t *err)
{
	s->dir_fd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0)
		return mv_error(err, errno, "open `%s`", s->dir);
	snprintf(s->vsock, sizeof(s->vsock), "/proc/self/fd/%d/vsock", s->dir_fd);
	snprintf(s->ready, sizeof(s->ready), "%s_%u", s->vsock, MV_PORT_READY);
	s->addr.uds_path = s->vsock;
	s->addr.hybrid = true;
	return 0;
}

int vm_session_dir(struct vm_session *s, const char *dir, mv_error_t *err)
{
	const char *tmp = getenv("TMPDIR");

	if (dir) {
		if (snprintf(s->dir, sizeof(s->dir), "%s", dir) >= (int)sizeof(s->dir))
			return mv_error(err, ENAMETOOLONG, "`%s`", dir);
		return name_sockets(s, err);
	}
	snprintf(s->dir, sizeof(s->dir), "%s/mvrun-vm.XXXXXX",
		 tmp && *tmp && strlen(tmp) < 1024 ? tmp : "/tmp");
	if (mkdtemp(s->dir) == NULL)
		return mv_error(err, errno, "create a directory in `%s`", s->dir);
	s->own_dir = true;
	/* In the sandbox dir is a mount point, which rmdir refuses: the
	 * directory is removed through its parent, opened now. */
	*strrchr(s->dir, '/') = '\0';
	s->tmp_fd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	s->dir[strlen(s->dir)] = '/';
	return name_sockets(s, err);
}

/* The virtio-fs shares: the root as "root", the volumes as "vol<N>". */
static void fill_shares(struct vm_session *s, struct vm_config *cfg)
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
static int enter_sandbox(struct vm_session *s, const struct vm_config *cfg, mv_error_t *err)
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
	char path[sizeof(((struct vm_session *)0)->dir) + 16];

	snprintf(path, sizeof(path), "%s/sandbox", dir);
	rmdir(path);
}

static int start_vm(struct vm_session *s, mv_error_t *err)
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
		o->times->created = now_ns();
	return vm_start(s->vm, err);
}

/* The last non-empty console line that says why the guest died. */
static void console_reason(struct vm_session *s, char *out, size_t size)
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

int vm_session_ended_error(struct vm_session *s, const char *when, mv_error_t *err)
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

int vm_session_signal(struct vm_session *s)
{
	struct signalfd_siginfo si;

	if (read(s->sig_fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/* Wait for the agent's READY, or the VM's end, or a signal that aborts. */
static int wait_ready(struct vm_session *s, mv_error_t *err)
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
				s->o->times->ready = now_ns();
				s->o->times->first_entry = vm_first_entry_ns(s->vm);
				s->o->times->agent_start = vm_agent_start_ns(s->vm);
			}
			return agent_accept_ready(s->ready_fd, err);
		}
		if (p[1].revents)
			return vm_session_ended_error(s, "while booting", err);
		sig = vm_session_signal(s);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT)
			return 128 + sig; /* interrupted before the command ran */
	}
}

int vm_session_boot(struct vm_session *s, mv_error_t *err)
{
	int ret;

	if (start_vm(s, err) < 0)
		return -1;
	ret = wait_ready(s, err);
	if (ret != 0)
		return ret;
	s->ctl = agent_connect(&s->addr, MV_CONN_CONTROL, 0, err);
	return s->ctl < 0 ? -1 : 0;
}

void vm_session_power_off(struct vm_session *s)
{
	struct pollfd p = {.fd = s->vm ? vm_end_fd(s->vm) : -1, .events = POLLIN};

	if (s->vm && s->ctl >= 0 && agent_poweroff(s->ctl, NULL) == 0)
		poll(&p, 1, POWEROFF_TIMEOUT_S * 1000);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Socket names are relative to dir_fd: unlink them through it. */
void vm_session_release(struct vm_session *s)
{
	close_fd(&s->ctl);
	if (s->vm)
		vm_destroy(s->vm);
	s->vm = NULL;
	close_fd(&s->ready_fd);
	close_fd(&s->console_fd);
	if (s->dir_fd >= 0) {
		unlink(s->ready);
		unlink(s->vsock);
		rmdir_sandbox(s->dir);
	}
	if (s->own_dir &&
	    (s->tmp_fd < 0 || unlinkat(s->tmp_fd, strrchr(s->dir, '/') + 1, AT_REMOVEDIR) < 0))
		rmdir(s->dir);
	close_fd(&s->dir_fd);
	close_fd(&s->tmp_fd);
}
