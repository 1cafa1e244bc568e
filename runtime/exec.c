#include "runtime/exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "runtime/console.h"
#include "runtime/monitor.h"
#include "runtime/pidfile.h"
#include "runtime/signal.h"
#include "runtime/state.h"
#include "runtime/stdio_proxy.h"

struct exec_session {
	const struct exec_opts *o;
	struct oci_process *process;
	int dirfd;
	char vsock[64];
	struct agent_addr addr;
	int ctl, sig_fd, tty;
	bool raw; /* the caller's terminal was put in raw mode: restore it */
	struct termios saved;
	struct stdio_proxy io;
	uint64_t proc_id;
	bool exited;
	int status;
	char registered[64]; /* EXEC_DIR/PID, removed at the end */
};

/* ---- the process ---- */

static char **strv_dup(char *const *v, size_t *n)
{
	size_t count = 0;
	char **out;

	while (v && v[count])
		count++;
	out = calloc(count + 1, sizeof(*out));
	for (size_t i = 0; out && i < count; i++)
		if ((out[i] = strdup(v[i])) == NULL)
			return NULL; /* the process is freed by the caller: at worst a leak */
	*n = count;
	return out;
}

static void strv_free(struct oci_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* env += more, replacing a variable of the same name. */
static int env_add(struct oci_strv *env, char *const *more)
{
	for (; more && *more; more++) {
		size_t name = strcspn(*more, "=");
		char *copy = strdup(*more), **grown;
		size_t i;

		if (copy == NULL)
			return -1;
		for (i = 0; i < env->n; i++)
			if (strncmp(env->v[i], *more, name + 1) == 0)
				break;
		if (i < env->n) {
			free(env->v[i]);
			env->v[i] = copy;
			continue;
		}
		grown = realloc(env->v, (env->n + 2) * sizeof(*grown));
		if (grown == NULL) {
			free(copy);
			return -1;
		}
		env->v = grown;
		env->v[env->n++] = copy;
		env->v[env->n] = NULL;
	}
	return 0;
}

/* runc's rule: the container's process with the command line's changes. */
static int process_from_args(const struct exec_opts *o, struct oci_process *p, mv_error_t *err)
{
	char *cwd;

	if (o->args == NULL || o->args[0] == NULL)
		return mv_error(err, EINVAL, "exec: a command is required");
	strv_free(&p->args);
	p->args.v = strv_dup(o->args, &p->args.n);
	if (p->args.v == NULL || env_add(&p->env, o->env) < 0)
		return mv_error(err, ENOMEM, "exec");
	if (o->cwd) {
		if ((cwd = strdup(o->cwd)) == NULL)
			return mv_error(err, ENOMEM, "exec");
		free(p->cwd);
		p->cwd = cwd;
	}
	if (o->has_user) {
		p->user.uid = o->uid;
		p->user.gid = o->gid;
		free(p->user.additional_gids);
		p->user.additional_gids = NULL;
		p->user.n_additional_gids = 0;
	}
	p->terminal = o->tty;
	return 0;
}

static int read_file(const char *path, char **buf, size_t *len, mv_error_t *err)
{
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_free char *data = NULL;
	size_t got = 0, size = 0;

	if (f == NULL)
		return mv_error(err, errno, "open `%s`", path);
	for (;;) {
		if (got == size) {
			char *grown;
			if (size >= OCI_CONFIG_MAX_SIZE)
				return mv_error(err, EFBIG, "`%s` is too large", path);
			size = size ? size * 2 : 4096;
			grown = realloc(data, size);
			if (grown == NULL)
				return mv_error(err, ENOMEM, "read `%s`", path);
			data = grown;
		}
		size_t n = fread(data + got, 1, size - got, f);
		if (n == 0)
			break;
		got += n;
	}
	if (ferror(f))
		return mv_error(err, errno, "read `%s`", path);
	*buf = steal_ptr(&data);
	*len = got;
	return 0;
}

static int build_process(const struct exec_opts *o, struct exec_session *s, mv_error_t *err)
{
	cleanup_free char *buf = NULL, *path = NULL;
	struct oci_config *c = NULL;
	size_t len = 0;

	if (o->process_file) {
		if (read_file(o->process_file, &buf, &len, err) < 0)
			return -1;
		return oci_process_parse(buf, len, o->process_file, &s->process, err);
	}
	if (asprintf(&path, "%s/%s/config.json", o->root, o->id) < 0)
		return mv_error(err, ENOMEM, "exec");
	if (oci_config_load(path, &c, err) < 0)
		return -1;
	s->process = steal_ptr(&c->process);
	oci_config_free(c);
	if (s->process == NULL)
		return mv_error(err, EINVAL, "the container has no process");
	return process_from_args(o, s->process, err);
}

/* ---- the terminal ---- */

static void restore_terminal(struct exec_session *s)
{
	if (s->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &s->saved);
	s->raw = false;
}

/* With a console socket, a new pty whose master goes there; else the
 * caller's own terminal, in raw mode (the guest's pty does the line
 * discipline). */
static int open_terminal(struct exec_session *s, mv_error_t *err)
{
	const struct oci_process *p = s->process;
	cleanup_close int master = -1;
	cleanup_free char *name = NULL;
	struct termios raw;

	if (!p->terminal)
		return 0;
	if (s->o->console_socket) {
		if (console_open(&master, &s->tty, &name, p->console_height, p->console_width,
				 err) < 0 ||
		    console_send(s->o->console_socket, master, name, err) < 0)
			return -1;
		s->io.fd_in = s->io.fd_out = s->io.fd_err = s->tty;
		return 0;
	}
	if (s->o->detach || !isatty(STDIN_FILENO))
		return mv_error(err, EINVAL,
				"cannot allocate tty if mvrun will detach without setting console "
				"socket");
	if (tcgetattr(STDIN_FILENO, &s->saved) < 0)
		return mv_error(err, errno, "tcgetattr");
	raw = s->saved;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return mv_error(err, errno, "tcsetattr");
	s->raw = true;
	s->tty = dup(STDIN_FILENO);
	return 0;
}

static void send_size(struct exec_session *s)
{
	unsigned rows, cols;

	if (s->tty >= 0 && console_get_size(s->tty, &rows, &cols, NULL) == 0 && rows && cols)
		agent_resize(s->ctl, s->proc_id, rows, cols, NULL);
}

/* ---- running it ---- */

static int block_signals(struct exec_session *s, mv_error_t *err)
{
	s->sig_fd = signal_take_all(err);
	return s->sig_fd < 0 ? -1 : 0;
}

/* After a failed start the agent sends the process's EXITED (127 or 126). */
static void collect_start_failure(struct exec_session *s)
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

static int start_process(struct exec_session *s, mv_error_t *err)
{
	uint32_t flags = MV_RUN_STDIN | MV_RUN_STDOUT, pid;
	cleanup_free char *json = NULL;
	size_t len;

	if (!s->process->terminal)
		flags |= MV_RUN_STDERR;
	snprintf(s->vsock, sizeof(s->vsock), "/proc/self/fd/%d/vsock", s->dirfd);
	s->addr = (struct agent_addr){.uds_path = s->vsock, .hybrid = true};
	s->ctl = agent_connect(&s->addr, MV_CONN_CONTROL, 0, err);
	if (s->ctl < 0)
		return mv_error_wrap(err, "connect to the container's VM");
	if (oci_process_to_json(s->process, &json, &len, err) < 0 ||
	    agent_exec(s->ctl, flags, json, len, &s->proc_id, err) < 0 ||
	    stdio_proxy_connect(&s->io, &s->addr, s->proc_id, flags, err) < 0)
		return -1;
	if (agent_wait_started(s->ctl, s->proc_id, &pid, err) < 0) {
		collect_start_failure(s);
		return -1;
	}
	send_size(s);
	return 0;
}

static void control_event(struct exec_session *s)
{
	struct agent_event ev;

	if (agent_recv_event(s->ctl, &ev, NULL) != 1) {
		s->exited = true; /* the VM went away */
		s->status = SIGKILL;
		return;
	}
	if (ev.type == MV_MSG_EXITED && ev.proc_id == s->proc_id) {
		s->exited = true;
		s->status = ev.status;
	}
	agent_event_release(&ev); /* OK or ERROR of a SIGNAL or RESIZE: nothing to do */
}

static void forward_signal(struct exec_session *s, int signo)
{
	if (signo == SIGWINCH && s->tty >= 0)
		send_size(s);
	else if (!s->exited)
		agent_signal(s->ctl, s->proc_id, signo, NULL);
}

static void proxy(struct exec_session *s)
{
	while (!s->exited || !stdio_proxy_output_done(&s->io)) {
		struct pollfd p[2 + STDIO_PROXY_NFDS] = {
		    {.fd = s->exited ? -1 : s->ctl, .events = POLLIN},
		    {.fd = s->sig_fd, .events = POLLIN},
		};
		struct signalfd_siginfo si;

		stdio_proxy_pollfds(&s->io, true, p + 2);
		if (poll(p, 2 + STDIO_PROXY_NFDS, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents)
			control_event(s);
		while (p[1].revents && read(s->sig_fd, &si, sizeof(si)) == sizeof(si))
			forward_signal(s, (int)si.ssi_signo);
		stdio_proxy_handle(&s->io, p + 2);
	}
}

/* ROOT/ID/exec/PID while it runs, for `ps`. */
static void register_exec(struct exec_session *s)
{
	int fd;

	mkdirat(s->dirfd, EXEC_DIR, 0700);
	snprintf(s->registered, sizeof(s->registered), "%s/%d", EXEC_DIR, (int)getpid());
	fd = openat(s->dirfd, s->registered, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

static void session_end(struct exec_session *s)
{
	if (s->registered[0])
		unlinkat(s->dirfd, s->registered, 0);
	stdio_proxy_close(&s->io);
	if (s->ctl >= 0)
		close(s->ctl);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	if (s->tty >= 0)
		close(s->tty);
	restore_terminal(s);
}

/* Everything from the terminal to the process's end; *sync_fd (detach) is
 * told "ok" once the process runs. */
static int exec_session_run(struct exec_session *s, int *sync_fd, mv_error_t *err)
{
	if (block_signals(s, err) < 0 || open_terminal(s, err) < 0 || start_process(s, err) < 0)
		return -1;
	register_exec(s);
	if (*sync_fd >= 0) {
		if (write(*sync_fd, "ok", 2) < 0) {
			/* exec has gone; the process runs anyway */
		}
		close(*sync_fd);
		*sync_fd = -1;
	}
	proxy(s);
	return 0;
}

static int exit_code(const struct exec_session *s)
{
	if (!s->exited)
		return 255;
	return agent_exit_code(s->status);
}

/* --detach: the host side lives on in a child of its own. */
static int exec_detached(struct exec_session *s, mv_error_t *err)
{
	char buf[MONITOR_MSG_MAX];
	int sync[2];
	ssize_t n;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return mv_error(err, errno, "pipe");
	pid = fork();
	if (pid < 0)
		return mv_error(err, errno, "fork");
	if (pid == 0) {
		mv_error_t cerr = {0};
		close(sync[0]);
		setsid();
		if (exec_session_run(s, &sync[1], &cerr) < 0) {
			monitor_format_error(buf, sizeof(buf), &cerr);
			if (write(sync[1], buf, strlen(buf)) < 0) {
				/* nobody to tell */
			}
		}
		session_end(s);
		_exit(exit_code(s));
	}
	close(sync[1]);
	n = read(sync[0], buf, sizeof(buf));
	close(sync[0]);
	if (n <= 0)
		return mv_error(err, EIO, "the exec's host process ended early");
	if (monitor_parse_answer(buf, (size_t)n, err) < 0)
		return -1;
	if (s->o->pid_file && pidfile_write(s->o->pid_file, pid, err) < 0)
		return -1;
	return 0;
}

static int check_state(const struct exec_opts *o, int dirfd, mv_error_t *err)
{
	struct container_state *st = NULL;
	const char *status;
	int ret = 0;

	if (state_read(dirfd, &st, err) < 0)
		return -1;
	status = state_status(st);
	if (strcmp(status, "stopped") == 0)
		ret = mv_error(err, 0, "cannot exec in a stopped container");
	else if (strcmp(status, "paused") == 0)
		ret = mv_error(err, 0, "cannot exec in a paused container");
	state_free(st);
	flock(dirfd, LOCK_UN);
	return ret;
}

int runtime_exec(const struct exec_opts *o, int *status, mv_error_t *err)
{
	struct exec_session s = {.o = o, .ctl = -1, .sig_fd = -1, .tty = -1};
	int sync_fd = -1, ret;

	*status = 0;
	stdio_proxy_init(&s.io);
	if (state_check_id(o->id, err) < 0)
		return -1;
	s.dirfd = state_open_container(o->root, o->id, true, err);
	if (s.dirfd < 0)
		return -1;
	ret = check_state(o, s.dirfd, err);
	if (ret == 0)
		ret = build_process(o, &s, err);
	if (ret == 0 && o->detach)
		ret = exec_detached(&s, err);
	else if (ret == 0) {
		if (o->pid_file && pidfile_write(o->pid_file, getpid(), err) < 0)
			ret = -1;
		else
			ret = exec_session_run(&s, &sync_fd, err);
		session_end(&s);
		if (s.exited)
			*status = exit_code(&s);
	}
	if (s.process)
		oci_process_free(s.process);
	close(s.dirfd);
	return ret;
}

/* ---- ps ---- */

static int add_pid(pid_t **pids, size_t *n, pid_t pid)
{
	pid_t *grown = realloc(*pids, (*n + 1) * sizeof(**pids));

	if (grown == NULL)
		return -1;
	*pids = grown;
	(*pids)[(*n)++] = pid;
	return 0;
}

int runtime_ps(const char *root, const char *id, pid_t **pids, size_t *n, mv_error_t *err)
{
	struct container_state *st = NULL;
	cleanup_close int dirfd = -1, execfd = -1;
	cleanup_dir DIR *d = NULL;
	struct dirent *e;

	*pids = NULL;
	*n = 0;
	if (state_check_id(id, err) < 0)
		return -1;
	dirfd = state_open_container(root, id, true, err);
	if (dirfd < 0 || state_read(dirfd, &st, err) < 0)
		return -1;
	if (strcmp(state_status(st), "stopped") == 0) {
		state_free(st);
		return mv_error(err, 0, "container not running");
	}
	add_pid(pids, n, st->pid);
	state_free(st);
	execfd = openat(dirfd, EXEC_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = execfd >= 0 ? fdopendir(execfd) : NULL;
	if (d)
		execfd = -1; /* the DIR owns it */
	while (d && (e = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 0 && kill(pid, 0) == 0 && add_pid(pids, n, pid) < 0)
			return mv_error(err, ENOMEM, "ps");
	}
	return 0;
}
