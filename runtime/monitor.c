#include "runtime/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "agent/protocol.h"
#include "runtime/cgroup.h"
#include "runtime/cleanup.h"
#include "runtime/console.h"
#include "runtime/resources.h"
#include "runtime/signal.h"
#include "runtime/state.h"
#include "runtime/stdio_proxy.h"
#include "runtime/vmsession.h"

#define MAX_CLIENTS	   16
#define REQUEST_TIMEOUT_MS 60000

/* Requests sent on the control connection whose OK/ERROR is still due, in
 * order; each may have a client waiting on the control socket. */
enum pending_kind { PENDING_SIGNAL, PENDING_RESIZE };

struct pending {
	enum pending_kind kind;
	int client;
};

struct monitor {
	const struct monitor_opts *o;
	struct vm_run_opts vo;
	struct vm_run_volume volumes[VM_RUN_MAX_VOLUMES];
	struct vm_session vs;
	char *console_log;
	int listen_fd;
	struct stdio_proxy io; /* the container process's stdio */
	int tty;	       /* the host pty slave, -1 without a terminal */
	bool raw_terminal;     /* the caller's terminal, in raw mode: restore it */
	struct termios saved_termios;
	uint64_t proc_id;
	bool started, exited;
	int killed_by; /* the VM was stopped for this signal: its status is death by it */
	int status;
	int start_client; /* waits for STARTED */
	struct pending pending[MAX_CLIENTS];
	unsigned npending;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void monitor_format_error(char *buf, size_t size, const mv_error_t *err)
{
	snprintf(buf, size, "error %d %s", err->err, err->msg ? err->msg : "unknown error");
}

int monitor_parse_answer(const char *buf, size_t len, mv_error_t *err)
{
	char text[MONITOR_MSG_MAX + 1];
	int errnum = 0, off = 0;

	if (len > MONITOR_MSG_MAX)
		len = MONITOR_MSG_MAX;
	memcpy(text, buf, len);
	text[len] = '\0';
	if (strcmp(text, "ok") == 0)
		return 0;
	if (sscanf(text, "error %d %n", &errnum, &off) == 1 && off > 0)
		return mv_error(err, errnum, "%s", text + off);
	return mv_error(err, EPROTO, "the monitor answered `%.64s`", text);
}

static void answer(int *client, const mv_error_t *err)
{
	char buf[MONITOR_MSG_MAX];

	if (*client < 0)
		return;
	if (err)
		monitor_format_error(buf, sizeof(buf), err);
	else
		snprintf(buf, sizeof(buf), "ok");
	send(*client, buf, strlen(buf), MSG_NOSIGNAL);
	close_fd(client);
}

/* ---- state.json ---- */

/* The monitor records "stopped" itself; a command may hold the lock
 * briefly, so it tries for a while rather than block forever. */
static void set_status(struct monitor *m, const char *status)
{
	struct container_state *st = NULL;
	struct stat sb;
	mv_error_t err = {0};

	for (int i = 0; flock(m->o->state_fd, LOCK_EX | LOCK_NB) < 0; i++) {
		if (i == 100)
			return;
		usleep(20000);
	}
	if (fstat(m->o->state_fd, &sb) == 0 && sb.st_nlink > 0 &&
	    state_read(m->o->state_fd, &st, &err) == 0) {
		free(st->status);
		st->status = strdup(status);
		if (st->status)
			state_write(m->o->state_fd, st, &err);
		state_free(st);
	}
	mv_error_release(&err);
	flock(m->o->state_fd, LOCK_UN);
}

/* ---- the VM's shape from the config ---- */

static bool has_option(const struct oci_mount *mnt, const char *opt)
{
	for (size_t i = 0; i < mnt->options.n; i++)
		if (strcmp(mnt->options.v[i], opt) == 0)
			return true;
	return false;
}

static bool is_bind(const struct oci_mount *mnt)
{
	return (mnt->type && strcmp(mnt->type, "bind") == 0) || has_option(mnt, "bind") ||
	       has_option(mnt, "rbind");
}

/* A bind mount's source becomes a virtio-fs share, mounted in the guest at
 * GUEST_VOLUMES/N; the config sent to the guest names that path instead
 * (for a single file: the file in it). */
static int share_bind_mount(struct monitor *m, struct oci_mount *mnt, mv_error_t *err)
{
	unsigned n = m->vo.nvolumes;
	cleanup_free char *host = NULL;
	char *guest = NULL;
	struct stat st;

	if (mnt->source == NULL)
		return mv_error(err, EINVAL, "mount `%s`: a bind mount needs a source",
				mnt->destination);
	if (n == VM_RUN_MAX_VOLUMES)
		return mv_error(err, E2BIG, "more than %d bind mounts", VM_RUN_MAX_VOLUMES);
	host = realpath(mnt->source, NULL);
	if (host == NULL || stat(host, &st) < 0)
		return mv_error(err, errno, "bind mount source `%s`", mnt->source);
	if (S_ISDIR(st.st_mode)) {
		if (asprintf(&guest, "%s/%u", GUEST_VOLUMES, n) < 0)
			return mv_error(err, ENOMEM, "bind mount");
	} else if (asprintf(&guest, "%s/%u/%s", GUEST_VOLUMES, n, strrchr(host, '/') + 1) < 0) {
		return mv_error(err, ENOMEM, "bind mount");
	}
	m->volumes[n] = (struct vm_run_volume){
	    .host_path = steal_ptr(&host),
	    .guest_path = mnt->destination,
	    .readonly = has_option(mnt, "ro"),
	};
	m->vo.nvolumes = n + 1;
	free(mnt->source);
	mnt->source = guest;
	return 0;
}

static int vm_shape(struct monitor *m, mv_error_t *err)
{
	struct oci_config *c = m->o->config;
	struct vm_size size;

	if (resources_vm_size(c->linux_ && c->linux_->has_resources ? &c->linux_->resources : NULL,
			      &size, err) < 0)
		return -1;
	m->vo.cpus = size.cpus;
	m->vo.memory_mib = size.memory_mib;
	m->vo.rootfs = m->o->rootfs;
	m->vo.verbose = m->o->verbose;
	if (m->o->verbose && asprintf(&m->console_log, "%s/console.log", m->o->state_dir) > 0)
		m->vo.console_log = m->console_log; /* --debug: keep what the guest said */
	m->vo.volumes = m->volumes;
	for (size_t i = 0; i < c->n_mounts; i++)
		if (is_bind(&c->mounts[i]) && share_bind_mount(m, &c->mounts[i], err) < 0)
			return -1;
	return 0;
}

/* ---- setting up the container in the guest ---- */

/* The shares: the root, each bind mount's source aside. */
static int mount_shares(struct monitor *m, mv_error_t *err)
{
	int ctl = m->vs.ctl;

	if (agent_mount(ctl, 0, 0, "root", GUEST_ROOT, "virtiofs", "", err) < 0)
		return -1;
	for (unsigned i = 0; i < m->vo.nvolumes; i++) {
		char target[64];
		uint64_t ro = m->volumes[i].readonly ? MS_RDONLY : 0;

		snprintf(target, sizeof(target), "%s/%u", GUEST_VOLUMES, i);
		if (agent_mount(ctl, ro, 0, m->vs.tags[i], target, "virtiofs", "", err) < 0)
			return mv_error_wrap(err, "bind mount `%s`", m->volumes[i].host_path);
	}
	return 0;
}

/* The config as the guest sees it: the root at its guest path, and the id
 * and bundle as two annotations of our own (see agent/protocol.h). */
static int send_config(struct monitor *m, mv_error_t *err)
{
	struct oci_config *c = m->o->config;
	struct oci_map user = c->annotations;
	size_t n = user.n;
	cleanup_free char **keys = calloc(n + 2, sizeof(*keys));
	cleanup_free char **values = calloc(n + 2, sizeof(*values));
	cleanup_free char *json = NULL;
	char *host_root = c->root->path;
	size_t len;
	int ret;

	if (keys == NULL || values == NULL)
		return mv_error(err, ENOMEM, "config for the guest");
	for (size_t i = 0; i < n; i++) {
		keys[i] = user.keys[i];
		values[i] = user.values[i];
	}
	keys[n] = (char *)MV_ANNOTATION_ID;
	values[n] = (char *)m->o->id;
	keys[n + 1] = (char *)MV_ANNOTATION_BUNDLE;
	values[n + 1] = (char *)(m->o->bundle ? m->o->bundle : "");
	c->annotations = (struct oci_map){.keys = keys, .values = values, .n = n + 2};
	c->root->path = (char *)GUEST_ROOT;
	ret = oci_config_to_json(c, &json, &len, err);
	c->root->path = host_root;
	c->annotations = user;
	if (ret < 0)
		return -1;
	return agent_container(m->vs.ctl, json, len, err);
}

/* The container process, set up and waiting for `start`. */
static int create_process(struct monitor *m, mv_error_t *err)
{
	struct oci_process *p = m->o->config->process;
	uint32_t flags = MV_RUN_STDIN | MV_RUN_STDOUT | MV_EXEC_INIT | MV_EXEC_DEFER;
	cleanup_free char *json = NULL;
	unsigned rows, cols;
	uint32_t pid;
	size_t len;

	/* The caller has sized its end of the terminal by now (conmon does
	 * so as soon as it has the master): the guest's pty starts so. */
	if (m->tty >= 0 && console_get_size(m->tty, &rows, &cols, NULL) == 0 && rows && cols) {
		p->has_console_size = true;
		p->console_height = rows;
		p->console_width = cols;
	}

	if (!p->terminal)
		flags |= MV_RUN_STDERR;
	if (oci_process_to_json(p, &json, &len, err) < 0)
		return -1;
	if (agent_exec(m->vs.ctl, flags, json, len, &m->proc_id, err) < 0)
		return -1;
	if (stdio_proxy_connect(&m->io, &m->vs.addr, m->proc_id, flags, err) < 0)
		return -1;
	return agent_wait_prepared(m->vs.ctl, m->proc_id, &pid, err);
}

static int send_request(struct monitor *m, enum pending_kind kind, int client, int ret);

/* ---- the terminal ---- */

/* `mvrun run` on a terminal without a console socket: that terminal is the
 * container's, in raw mode (the guest's pty does the line discipline) until
 * the monitor ends.  `run` forwards its SIGWINCH, which resizes from it. */
static int use_own_terminal(struct monitor *m, mv_error_t *err)
{
	struct termios raw;

	if (!m->o->own_terminal || !isatty(STDIN_FILENO))
		return mv_error(err, EINVAL,
				"process.terminal is true but there is no "
				"--console-socket");
	if (tcgetattr(STDIN_FILENO, &m->saved_termios) < 0)
		return mv_error(err, errno, "tcgetattr");
	raw = m->saved_termios;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return mv_error(err, errno, "tcsetattr");
	m->raw_terminal = true;
	m->tty = dup(STDIN_FILENO);
	m->io.fd_err = STDOUT_FILENO; /* a terminal has one output */
	return m->tty < 0 ? mv_error(err, errno, "dup") : 0;
}

static void restore_terminal(struct monitor *m)
{
	if (m->raw_terminal)
		tcsetattr(STDIN_FILENO, TCSANOW, &m->saved_termios);
	m->raw_terminal = false;
}

/* process.terminal: a host pty whose master goes to the console socket;
 * the slave is our side of the guest's terminal and our controlling
 * terminal, so that the caller's resize arrives here as SIGWINCH. */
static int open_terminal(struct monitor *m, mv_error_t *err)
{
	const struct oci_process *p = m->o->config->process;
	cleanup_close int master = -1;
	cleanup_free char *name = NULL;
	int devnull;

	if (!p->terminal)
		return 0;
	if (m->o->console_socket == NULL)
		return use_own_terminal(m, err);
	if (console_open(&master, &m->tty, &name, p->console_height, p->console_width, err) < 0)
		return -1;
	if (console_send(m->o->console_socket, master, name, err) < 0)
		return -1;
	ioctl(m->tty, TIOCSCTTY, 0);
	devnull = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3 && devnull >= 0; fd++)
		dup2(devnull, fd);
	if (devnull > 2)
		close(devnull);
	m->io.fd_in = m->io.fd_out = m->io.fd_err = m->tty;
	return 0;
}

static void send_size(struct monitor *m)
{
	unsigned rows, cols;

	if (m->tty >= 0 && console_get_size(m->tty, &rows, &cols, NULL) == 0 && rows && cols)
		send_request(m, PENDING_RESIZE, -1,
			     agent_resize(m->vs.ctl, m->proc_id, rows, cols, NULL));
}

/* ---- signals ---- */

static int block_signals(struct monitor *m, mv_error_t *err)
{
	m->vs.sig_fd = signal_take_all(err);
	return m->vs.sig_fd < 0 ? -1 : 0;
}

static int send_request(struct monitor *m, enum pending_kind kind, int client, int ret)
{
	if (ret < 0 || m->npending == MAX_CLIENTS) {
		mv_error_t err = {0};
		mv_error(&err, ret < 0 ? EIO : EBUSY, "the guest agent cannot take the request");
		answer(&client, &err);
		mv_error_release(&err);
		return -1;
	}
	m->pending[m->npending++] = (struct pending){kind, client};
	return 0;
}

/* ---- the control socket ---- */

static int listen_control(struct monitor *m, mv_error_t *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	m->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->listen_fd < 0)
		return mv_error(err, errno, "socket");
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", m->o->state_fd,
		 MONITOR_SOCKET);
	unlink(addr.sun_path);
	if (bind(m->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(m->listen_fd, MAX_CLIENTS) < 0)
		return mv_error(err, errno, "listen on `%s/%s`", m->o->state_dir, MONITOR_SOCKET);
	return 0;
}

static void client_error(int *client, int errnum, const char *msg)
{
	mv_error_t err = {0};

	mv_error(&err, errnum, "%s", msg);
	answer(client, &err);
	mv_error_release(&err);
}

static void request_start(struct monitor *m, int client)
{
	mv_error_t err = {0};

	if (m->started || m->start_client >= 0) {
		client_error(&client, 0, "cannot start an already running container");
		return;
	}
	/* START goes on a connection of its own, which waits for its OK;
	 * STARTED then comes on the main one, with the other events. */
	int ctl = agent_connect(&m->vs.addr, MV_CONN_CONTROL, 0, &err);

	if (ctl < 0 || agent_start(ctl, m->proc_id, &err) < 0)
		answer(&client, &err);
	else
		m->start_client = client;
	if (ctl >= 0)
		close(ctl);
	mv_error_release(&err);
}

/* Signals whose default action ends a process. */
static bool terminates(int signo)
{
	switch (signo) {
	case SIGCHLD:
	case SIGCONT:
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
	case SIGURG:
	case SIGWINCH:
		return false;
	default:
		return true;
	}
}

/* A signal for the container, from `mvrun kill` (client) or sent to the
 * monitor itself (client -1). */
static void deliver_signal(struct monitor *m, int client, int signo, bool all)
{
	if (m->exited) {
		client_error(&client, 0, "container not running");
		return;
	}
	if (signo == SIGWINCH && m->tty >= 0) {
		send_size(m); /* a resize: the guest's pty gets our size, and its SIGWINCH */
		answer(&client, NULL);
		return;
	}
	if ((vm_paused(m->vs.vm) && signo == SIGKILL) || (!m->started && terminates(signo))) {
		/* A frozen guest cannot act on SIGKILL, and a created container's
		 * process has not run yet (runc's init would just die): end the
		 * VM, as the signal would end the process. */
		m->killed_by = signo;
		vm_stop(m->vs.vm);
		answer(&client, NULL);
		return;
	}
	if (!m->started) {
		answer(&client, NULL); /* runc's waiting init ignores the others too */
		return;
	}
	if (vm_paused(m->vs.vm))
		answer(&client, NULL); /* delivered once resumed */
	if (all)
		send_request(m, PENDING_SIGNAL, client, agent_signal_all(m->vs.ctl, signo, NULL));
	else
		send_request(m, PENDING_SIGNAL, client,
			     agent_signal(m->vs.ctl, m->proc_id, signo, NULL));
}

static void request_signal(struct monitor *m, int client, const char *arg, bool all)
{
	char *end;
	long signo = strtol(arg, &end, 10);

	if (*end || signo <= 0 || signo > 64) {
		client_error(&client, EINVAL, "invalid signal");
		return;
	}
	deliver_signal(m, client, (int)signo, all);
}

static void request_pause(struct monitor *m, int client, bool pause)
{
	mv_error_t err = {0};
	int ret = pause ? vm_pause(m->vs.vm, &err) : vm_resume(m->vs.vm, &err);

	answer(&client, ret < 0 ? &err : NULL);
	mv_error_release(&err);
}

static void control_accept(struct monitor *m)
{
	int client = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct pollfd p = {.fd = client, .events = POLLIN};
	char buf[MONITOR_MSG_MAX + 1];
	ssize_t n;

	if (client < 0)
		return;
	/* Requests are one short message sent right after connecting. */
	if (poll(&p, 1, 1000) != 1 || (n = recv(client, buf, MONITOR_MSG_MAX, 0)) <= 0) {
		close(client);
		return;
	}
	buf[n] = '\0';
	if (strcmp(buf, "start") == 0)
		request_start(m, client);
	else if (strncmp(buf, "signal ", 7) == 0)
		request_signal(m, client, buf + 7, false);
	else if (strncmp(buf, "signal-all ", 11) == 0)
		request_signal(m, client, buf + 11, true);
	else if (strcmp(buf, "pause") == 0 || strcmp(buf, "resume") == 0)
		request_pause(m, client, buf[0] == 'p');
	else
		client_error(&client, EINVAL, "unknown request");
}

/* ---- agent events ---- */

static void answer_pending(struct monitor *m, const struct agent_event *ev)
{
	struct pending p;

	if (m->npending == 0) {
		/* unasked: the program could not be exec'd after START */
		if (ev->type == MV_MSG_ERROR)
			answer(&m->start_client, &ev->error);
		return;
	}
	p = m->pending[0];
	memmove(m->pending, m->pending + 1, --m->npending * sizeof(m->pending[0]));
	if (ev->type == MV_MSG_ERROR && ev->error.err == ESRCH && p.kind == PENDING_SIGNAL) {
		client_error(&p.client, 0, "container not running");
		return;
	}
	if (ev->type == MV_MSG_ERROR) {
		answer(&p.client, &ev->error);
		return;
	}
	answer(&p.client, NULL);
}

static int control_event(struct monitor *m, mv_error_t *err)
{
	struct agent_event ev;
	int ret = agent_recv_event(m->vs.ctl, &ev, err);

	if (ret <= 0)
		return ret == 0 ? mv_error(err, 0, "the guest agent closed the connection") : -1;
	switch (ev.type) {
	case MV_MSG_OK:
	case MV_MSG_ERROR:
		answer_pending(m, &ev);
		break;
	case MV_MSG_STARTED:
		m->started = true;
		answer(&m->start_client, NULL);
		send_size(m);
		break;
	case MV_MSG_EXITED:
		if (ev.proc_id == m->proc_id) {
			m->exited = true;
			m->status = ev.status;
		}
		break;
	default:
		break;
	}
	agent_event_release(&ev);
	return 0;
}

/* Until the container process exited and its output ended.  stdin is read
 * only once the process runs: before `start` nothing may consume it. */
static int run_loop(struct monitor *m, mv_error_t *err)
{
	while (!m->exited || !stdio_proxy_output_done(&m->io)) {
		struct pollfd p[4 + STDIO_PROXY_NFDS] = {
		    {.fd = m->vs.ctl, .events = POLLIN},
		    {.fd = m->vs.sig_fd, .events = POLLIN},
		    {.fd = vm_end_fd(m->vs.vm), .events = POLLIN},
		    {.fd = m->listen_fd, .events = POLLIN},
		};
		int sig;

		stdio_proxy_pollfds(&m->io, m->started, p + 4);
		if (poll(p, 4 + STDIO_PROXY_NFDS, -1) < 0) {
			if (errno == EINTR)
				continue;
			return mv_error(err, errno, "poll");
		}
		if (p[2].revents && m->killed_by) {
			m->exited = true;
			m->status = m->killed_by; /* the wait status of death by that signal */
			return 0;
		}
		if (p[2].revents)
			return vm_session_ended_error(&m->vs, "before the container ended", err);
		if (p[0].revents && control_event(m, err) < 0)
			return -1;
		while (p[1].revents && (sig = vm_session_signal(&m->vs)) > 0)
			deliver_signal(m, -1, sig, false);
		if (p[3].revents)
			control_accept(m);
		stdio_proxy_handle(&m->io, p + 4);
	}
	return 0;
}

/* ---- the whole life ---- */

static void report(int *sync_fd, const mv_error_t *err)
{
	char buf[MONITOR_MSG_MAX];

	if (*sync_fd < 0)
		return;
	if (err)
		monitor_format_error(buf, sizeof(buf), err);
	else
		snprintf(buf, sizeof(buf), "ok");
	if (write(*sync_fd, buf, strlen(buf)) < 0) {
		/* create has gone: nobody to tell */
	}
	close_fd(sync_fd);
}

/* Into the host cgroup before the VM exists, so that its guest RAM, vCPU
 * and device threads are all charged there, with the limits written. */
static int enter_cgroup(struct monitor *m, mv_error_t *err)
{
	struct cgroup_root root = {.mount = CGROUP_DEFAULT_MOUNT};
	struct oci_config *c = m->o->config;

	if (m->o->cgroup == NULL)
		return 0;
	if (cgroup_enter(&root, m->o->cgroup, getpid(), err) < 0)
		return -1;
	return cgroup_apply(&root, m->o->cgroup,
			    c->linux_ && c->linux_->has_resources ? &c->linux_->resources : NULL,
			    m->vo.memory_mib, err);
}

static int create(struct monitor *m, mv_error_t *err)
{
	if (block_signals(m, err) < 0 || vm_shape(m, err) < 0 || enter_cgroup(m, err) < 0 ||
	    open_terminal(m, err) < 0 || listen_control(m, err) < 0 ||
	    vm_session_dir(&m->vs, m->o->state_dir, err) < 0)
		return -1;
	if (vm_session_boot(&m->vs, err) != 0) {
		if (err->msg == NULL)
			mv_error(err, EINTR, "interrupted while the VM booted");
		return -1;
	}
	if (mount_shares(m, err) < 0 || send_config(m, err) < 0 || create_process(m, err) < 0)
		return -1;
	return 0;
}

void monitor_main(const struct monitor_opts *o)
{
	struct monitor m = {
	    .o = o,
	    .listen_fd = -1,
	    .tty = -1,
	    .start_client = -1,
	};
	int sync_fd = o->sync_fd, code = 1;
	mv_error_t err = {0};

	vm_session_init(&m.vs, &m.vo);
	stdio_proxy_init(&m.io);
	setsid();
	if (create(&m, &err) < 0) {
		report(&sync_fd, &err);
		restore_terminal(&m);
		vm_session_power_off(&m.vs);
		vm_session_release(&m.vs);
		_exit(125);
	}
	report(&sync_fd, NULL);
	if (run_loop(&m, &err) < 0) {
		cleanup_free char *msg = mv_error_string(&err);
		dprintf(m.io.fd_err, "mvrun: container `%s`: %s\n", o->id, msg ? msg : "error");
		code = 137;
	} else {
		code = agent_exit_code(m.status);
	}
	restore_terminal(&m);
	set_status(&m, "stopped");
	answer(&m.start_client, NULL);
	vm_session_power_off(&m.vs);
	vm_session_release(&m.vs);
	_exit(code);
}

/* ---- the client side ---- */

int monitor_request(int state_fd, const char *request, mv_error_t *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[MONITOR_MSG_MAX];
	ssize_t n;

	if (fd < 0)
		return mv_error(err, errno, "socket");
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", state_fd,
		 MONITOR_SOCKET);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return mv_error(err, 0, "container not running");
		return mv_error(err, errno, "connect to the container's monitor");
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0)
		return mv_error(err, errno, "send to the monitor");
	if (poll(&p, 1, REQUEST_TIMEOUT_MS) != 1)
		return mv_error(err, ETIMEDOUT, "the monitor did not answer `%s`", request);
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return mv_error(err, n < 0 ? errno : EPIPE, "the monitor did not answer `%s`",
				request);
	return monitor_parse_answer(buf, (size_t)n, err);
}
