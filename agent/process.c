/* Processes the host runs: RUN and EXEC, the streams it asked for (pipes,
 * or a pty), the fork, the exec report, START, SIGNAL, RESIZE, reaping and
 * EXITED.
 *
 * On a control connection a process gets CREATED, then (MV_EXEC_DEFER)
 * PREPARED, then STARTED, or (when it could not start) ERROR immediately
 * followed by its EXITED, then EXITED once it was reaped and its output
 * was forwarded. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/exec_msg.h"
#include "agent/pty.h"

static const char *const stream_names[3] = {"stdin", "stdout", "stderr"};

static void proc_exec_event(struct agent *a, struct watch *w, uint32_t events);

static struct proc *proc_find(struct agent *a, uint64_t id)
{
	for (struct proc *p = a->procs; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void proc_free(struct agent *a, struct proc *p)
{
	for (struct proc **pp = &a->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	for (int i = 0; i < 3; i++)
		stream_release(a, &p->streams[i]);
	watch_close(a, &p->exec_report);
	if (p->start_fd >= 0)
		close(p->start_fd);
	if (p->pty_master >= 0)
		close(p->pty_master);
	if (a->container && a->container->init == p)
		a->container->init = NULL; /* never started: another INIT may come */
	run_msg_release(&p->run);
	oci_process_free(p->oci);
	free(p->failure_text);
	free(p->payload);
	free(p);
	a->nprocs--;
}

/* ---- RUN ---- */

static struct proc *proc_alloc(struct agent *a, const char *what, mv_error_t *err)
{
	struct proc *p;

	if (a->nprocs >= AGENT_MAX_PROCS) {
		mv_error(err, EAGAIN, "%s: %u processes already", what, a->nprocs);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		mv_error(err, ENOMEM, "%s", what);
		return NULL;
	}
	p->start_fd = -1;
	p->pty_master = -1;
	p->exec_report.fd = -1;
	p->exec_report.fn = proc_exec_event;
	return p;
}

/* p joins the agent's list as a CREATED process of ctl. */
static void proc_add(struct agent *a, struct conn *ctl, struct proc *p)
{
	p->id = ++a->next_proc_id;
	p->ctl = ctl;
	p->state = PROC_CREATED;
	for (int i = 0; i < 3; i++)
		stream_init(&p->streams[i], p, MV_CONN_STDIN + (uint32_t)i);
	p->next = a->procs;
	a->procs = p;
	a->nprocs++;
}

static struct proc *proc_new(struct agent *a, struct conn *ctl, void *payload, uint32_t len,
			     mv_error_t *err)
{
	struct proc *p = proc_alloc(a, "RUN", err);

	if (p == NULL)
		return NULL;
	if (run_msg_decode(payload, len, &p->run, err) < 0) {
		free(p);
		return NULL;
	}
	p->payload = payload;
	p->flags = p->run.flags;
	proc_add(a, ctl, p);
	return p;
}

static int proc_start(struct agent *a, struct proc *p, mv_error_t *err);

/* The ERROR and EXITED of a process that could not start, back to back. */
static void proc_send_start_failure(struct agent *a, struct proc *p, const mv_error_t *err,
				    int code)
{
	struct mv_msg_exited exited = {.proc_id = p->id, .status = code << 8};

	if (p->ctl == NULL)
		return;
	conn_send_mv_error(a, p->ctl, err);
	conn_send(a, p->ctl, MV_MSG_EXITED, &exited, sizeof(exited));
}

/* Start once every stream the host asked for is attached. */
static void proc_maybe_start(struct agent *a, struct proc *p)
{
	mv_error_t err = {0};

	for (int i = 0; i < 3; i++)
		if ((p->flags & (1u << i)) && p->streams[i].sock.fd < 0)
			return;
	if (proc_start(a, p, &err) < 0) {
		proc_send_start_failure(a, p, &err, MV_EXIT_CANNOT_RUN);
		mv_error_release(&err);
		if (p->in_container)
			container_proc_reaped(a, p);
		proc_free(a, p);
	}
}

/* Answer RUN or EXEC: CREATED for p, which then starts when it can, or
 * the ERROR in err when there is no p. */
static void proc_answer_created(struct agent *a, struct conn *ctl, struct proc *p, mv_error_t *err)
{
	struct mv_msg_proc created;

	if (p == NULL) {
		conn_send_mv_error(a, ctl, err);
		mv_error_release(err);
		return;
	}
	created.proc_id = p->id;
	conn_send(a, ctl, MV_MSG_CREATED, &created, sizeof(created));
	proc_maybe_start(a, p);
}

void proc_run(struct agent *a, struct conn *ctl, void *payload, uint32_t len)
{
	mv_error_t err = {0};
	struct proc *p = proc_new(a, ctl, payload, len, &err);

	if (p == NULL)
		free(payload);
	proc_answer_created(a, ctl, p, &err);
}

/* ---- EXEC ---- */

/* The streams a process with a terminal can have: the pty is its stdin
 * and stdout (and stderr), so there is no separate stderr, and its output
 * must go somewhere or the process blocks on a full pty. */
static int check_terminal(const struct exec_msg *m, const struct oci_process *op, mv_error_t *err)
{
	if (!op->terminal)
		return 0;
	if (m->flags & MV_RUN_STDERR)
		return mv_error(err, EINVAL,
				"EXEC: a process with a terminal has no stderr stream");
	if (!(m->flags & MV_RUN_STDOUT))
		return mv_error(err, EINVAL,
				"EXEC: a process with a terminal needs its stdout stream");
	return 0;
}

static struct proc *proc_exec_new(struct agent *a, struct conn *ctl, const void *payload,
				  uint32_t len, mv_error_t *err)
{
	struct oci_process *op = NULL;
	struct exec_msg m;
	struct proc *p;

	if (exec_msg_decode(payload, len, &m, err) < 0 ||
	    container_check_exec(a, m.flags, err) < 0 ||
	    oci_process_parse(m.json, m.json_len, "process", &op, err) < 0)
		return NULL;
	if (check_terminal(&m, op, err) < 0 || (p = proc_alloc(a, "EXEC", err)) == NULL) {
		oci_process_free(op);
		return NULL;
	}
	p->oci = op;
	p->flags = m.flags;
	p->in_container = true;
	proc_add(a, ctl, p);
	if (m.flags & MV_EXEC_INIT)
		a->container->init = p; /* taken: a second INIT gets EBUSY */
	return p;
}

void proc_exec(struct agent *a, struct conn *ctl, const void *payload, uint32_t len)
{
	mv_error_t err = {0};
	struct proc *p = proc_exec_new(a, ctl, payload, len, &err);

	proc_answer_created(a, ctl, p, &err);
}

/* ---- streams ---- */

int proc_attach(struct agent *a, int fd, const struct mv_msg_hello *h, mv_error_t *err)
{
	struct proc *p = proc_find(a, h->proc_id);
	unsigned i = h->kind - MV_CONN_STDIN;

	if (p == NULL)
		return mv_error(err, ESRCH, "no process %llu", (unsigned long long)h->proc_id);
	if (p->state != PROC_CREATED)
		return mv_error(err, EALREADY, "process %llu has started already",
				(unsigned long long)p->id);
	if (!(p->flags & (1u << i)))
		return mv_error(err, EINVAL, "process %llu was run without %s",
				(unsigned long long)p->id, stream_names[i]);
	if (p->streams[i].sock.fd >= 0)
		return mv_error(err, EBUSY, "%s of process %llu is connected already",
				stream_names[i], (unsigned long long)p->id);
	if (stream_attach(a, &p->streams[i], fd, err) < 0)
		return -1;
	proc_maybe_start(a, p);
	return 0;
}

/* ---- fork and exec ---- */

/* A pipe per stream asked for: the child's end in child[i], the agent's
 * (non-blocking) end in agent[i]; -1 for streams not asked for. */
static int open_pipes(const struct proc *p, int child[3], int agent[3], mv_error_t *err)
{
	for (int i = 0; i < 3; i++) {
		int fds[2];

		if (!(p->flags & (1u << i)))
			continue;
		if (pipe2(fds, O_CLOEXEC) < 0)
			return mv_error(err, errno, "pipe for %s", stream_names[i]);
		child[i] = i == 0 ? fds[0] : fds[1];
		agent[i] = i == 0 ? fds[1] : fds[0];
		if (fcntl(agent[i], F_SETFL, O_NONBLOCK) < 0)
			return mv_error(err, errno, "pipe for %s", stream_names[i]);
	}
	return 0;
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* process.terminal: the pty's master is the agent's end of stdin (a dup,
 * when asked for) and of stdout; the slave goes to the child. */
static int open_pty(struct proc *p, int *slave, int agent[3], mv_error_t *err)
{
	unsigned rows = p->oci->has_console_size ? p->oci->console_height : 0;
	unsigned cols = p->oci->has_console_size ? p->oci->console_width : 0;
	int master;

	if (pty_open(&master, slave, rows, cols, err) < 0)
		return -1;
	agent[1] = master;
	if (fcntl(master, F_SETFL, O_NONBLOCK) < 0)
		return mv_error(err, errno, "pty");
	p->pty_master = fcntl(master, F_DUPFD_CLOEXEC, 3);
	if (p->pty_master < 0)
		return mv_error(err, errno, "dup the pty");
	if ((p->flags & MV_RUN_STDIN) && (agent[0] = fcntl(master, F_DUPFD_CLOEXEC, 3)) < 0)
		return mv_error(err, errno, "dup the pty");
	return 0;
}

static int proc_fork_run(struct proc *p, const int child[3], int report_w, mv_error_t *err)
{
	pid_t pid = fork();

	if (pid < 0)
		return mv_error(err, errno, "fork");
	if (pid == 0)
		child_exec(&p->run, child, report_w);
	p->pid = pid;
	return 0;
}

static int proc_fork_exec(struct agent *a, struct proc *p, const int child[3], int slave,
			  int report_w, int start_r, mv_error_t *err)
{
	struct child_args c = {.process = p->oci,
			       .config = a->container->config,
			       .init = p->flags & MV_EXEC_INIT,
			       .tty_slave = slave,
			       .report_fd = report_w,
			       .start_fd = start_r,
			       .sync_fd = -1,
			       .proc_id = p->id};
	pid_t pid;

	memcpy(c.stdio, child, sizeof(c.stdio));
	pid = container_fork(a, p, &c, err);
	if (pid < 0)
		return -1;
	p->pid = pid;
	return 0;
}

/* The fds of a start: the child's ends, the agent's, the exec report
 * pipe, the DEFER start pipe, the pty's slave. */
struct start_fds {
	int child[3], agent[3], report[2], start[2], slave;
};

static void start_fds_close(struct start_fds *f, bool all)
{
	close_fds(f->child, 3);
	close_fds(&f->report[1], 1);
	close_fds(&f->start[0], 1);
	close_fds(&f->slave, 1);
	if (all) {
		close_fds(f->agent, 3);
		close_fds(f->report, 1);
		close_fds(&f->start[1], 1);
	}
}

static int proc_fork(struct agent *a, struct proc *p, struct start_fds *f, mv_error_t *err)
{
	bool tty = p->oci && p->oci->terminal;

	if ((tty ? open_pty(p, &f->slave, f->agent, err) : open_pipes(p, f->child, f->agent, err)) <
	    0)
		return -1;
	if (pipe2(f->report, O_CLOEXEC) < 0 || fcntl(f->report[0], F_SETFL, O_NONBLOCK) < 0)
		return mv_error(err, errno, "pipe for the exec report");
	if ((p->flags & MV_EXEC_DEFER) && pipe2(f->start, O_CLOEXEC) < 0)
		return mv_error(err, errno, "pipe for the start");
	if (p->oci)
		return proc_fork_exec(a, p, f->child, f->slave, f->report[1], f->start[0], err);
	return proc_fork_run(p, f->child, f->report[1], err);
}

static int proc_start(struct agent *a, struct proc *p, mv_error_t *err)
{
	struct start_fds f = {{-1, -1, -1}, {-1, -1, -1}, {-1, -1}, {-1, -1}, -1};

	if (proc_fork(a, p, &f, err) < 0) {
		start_fds_close(&f, true);
		return -1;
	}
	start_fds_close(&f, false);
	p->state = PROC_RUNNING;
	p->start_fd = f.start[1];
	p->exec_report.fd = f.report[0];
	if (watch_set(a, &p->exec_report, EPOLLIN) < 0)
		agent_log("epoll on an exec report: %s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		if (f.agent[i] < 0)
			continue;
		p->streams[i].pty = p->pty_master >= 0;
		stream_start(a, &p->streams[i], f.agent[i]);
	}
	return 0;
}

static void proc_send_prepared(struct agent *a, struct proc *p)
{
	struct mv_msg_started prepared = {.proc_id = p->id, .pid = (uint32_t)p->pid};

	if (p->ctl)
		conn_send(a, p->ctl, MV_MSG_PREPARED, &prepared, sizeof(prepared));
}

/* A failure's text after its header: the whole report came in one write. */
static void proc_read_failure_text(struct proc *p, const struct exec_failure *f)
{
	char *text;
	ssize_t n;

	if (f->len == 0 || f->len > REPORT_TEXT_MAX || (text = malloc(f->len + 1)) == NULL)
		return;
	n = read(p->exec_report.fd, text, f->len);
	if (n <= 0) {
		free(text);
		return;
	}
	text[n] = '\0';
	free(p->failure_text);
	p->failure_text = text;
}

/* Read what the child reported: PREPARED, or a failure; EOF with no
 * failure means exec succeeded.  Returns false while the child has not got
 * that far (unless final). */
static bool proc_read_report(struct agent *a, struct proc *p, bool final)
{
	struct exec_failure f;
	ssize_t n;

	for (;;) {
		n = read(p->exec_report.fd, &f, sizeof(f));
		if (n != (ssize_t)sizeof(f) || f.kind != REPORT_PREPARED)
			break;
		proc_send_prepared(a, p);
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR) && !final)
		return false;
	if (n == (ssize_t)sizeof(f) && f.kind == REPORT_FAILED) {
		p->exec_failed = true;
		p->failure = f;
		proc_read_failure_text(p, &f);
	}
	watch_close(a, &p->exec_report);
	p->start_reported = true;
	if (!p->exec_failed && p->ctl) {
		struct mv_msg_started started = {.proc_id = p->id, .pid = (uint32_t)p->pid};

		conn_send(a, p->ctl, MV_MSG_STARTED, &started, sizeof(started));
	}
	return true;
}

static void proc_exec_event(struct agent *a, struct watch *w, uint32_t events)
{
	proc_read_report(a, container_of(w, struct proc, exec_report), false);
}

/* ---- signals, reaping, the end ---- */

static void proc_signal_all(struct agent *a, struct conn *ctl, int signo)
{
	mv_error_t err = {0};

	container_signal_all(a, signo, &err); /* fills err when it fails */
	conn_answer(a, ctl, &err);
}

void proc_signal(struct agent *a, struct conn *ctl, const void *payload, uint32_t len)
{
	struct signal_msg m;
	mv_error_t err = {0};
	struct proc *p;

	if (signal_msg_decode(payload, len, &m, &err) < 0) {
		conn_send_mv_error(a, ctl, &err);
		mv_error_release(&err);
		return;
	}
	if (m.flags & MV_SIGNAL_ALL) {
		proc_signal_all(a, ctl, m.signo);
		return;
	}
	p = proc_find(a, m.proc_id);
	if (p == NULL || p->state == PROC_REAPED)
		conn_send_error(a, ctl, ESRCH, "process %llu does not run",
				(unsigned long long)m.proc_id);
	else if (p->state == PROC_CREATED)
		conn_send_error(a, ctl, ESRCH, "process %llu has not started",
				(unsigned long long)m.proc_id);
	else if (kill(p->pid, m.signo) < 0)
		conn_send_error(a, ctl, errno, "kill %d", (int)p->pid);
	else
		conn_send(a, ctl, MV_MSG_OK, NULL, 0);
}

/* START: let a MV_EXEC_DEFER process exec.  It may come before PREPARED
 * (from another control connection): the child reads the byte once it is
 * ready. */
void proc_start_request(struct agent *a, struct conn *ctl, const void *payload, uint32_t len)
{
	mv_error_t err = {0};
	struct proc *p = NULL;
	uint64_t id;
	char go = 1;

	if (start_msg_decode(payload, len, &id, &err) == 0) {
		p = proc_find(a, id);
		if (p == NULL || p->state != PROC_RUNNING || p->start_fd < 0)
			mv_error(&err, ESRCH, "START: no deferred process %llu",
				 (unsigned long long)id);
		else if (write(p->start_fd, &go, 1) != 1)
			mv_error(&err, errno, "START: process %llu", (unsigned long long)id);
	}
	if (p && p->start_fd >= 0) {
		close(p->start_fd); /* once: a second START gets ESRCH */
		p->start_fd = -1;
	}
	conn_answer(a, ctl, &err);
}

void proc_resize(struct agent *a, struct conn *ctl, const void *payload, uint32_t len)
{
	struct resize_msg m;
	mv_error_t err = {0};
	struct proc *p;

	if (resize_msg_decode(payload, len, &m, &err) == 0) {
		p = proc_find(a, m.proc_id);
		if (p == NULL || p->state == PROC_REAPED)
			mv_error(&err, ESRCH, "RESIZE: process %llu does not run",
				 (unsigned long long)m.proc_id);
		else if (p->pty_master < 0)
			mv_error(&err, ENOTTY, "RESIZE: process %llu has no terminal",
				 (unsigned long long)m.proc_id);
		else
			pty_resize(p->pty_master, m.rows, m.cols, &err);
	}
	conn_answer(a, ctl, &err);
}

/* The process and whatever it left in its session's process group. */
void proc_kill(struct proc *p)
{
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
}

void proc_control_closed(struct agent *a, struct conn *ctl)
{
	struct proc *next;

	for (struct proc *p = a->procs; p; p = next) {
		next = p->next;
		if (p->ctl != ctl)
			continue;
		p->ctl = NULL;
		if (p->state == PROC_CREATED)
			proc_free(a, p);
		else if (p->state == PROC_RUNNING)
			proc_kill(p);
	}
}

void proc_kill_all(struct agent *a)
{
	for (struct proc *p = a->procs; p; p = p->next)
		if (p->state == PROC_RUNNING)
			proc_kill(p);
}

static void proc_reaped(struct agent *a, struct proc *p, int status)
{
	p->status = status;
	p->state = PROC_REAPED;
	if (!p->start_reported)
		proc_read_report(a, p, true);
	if (p->in_container)
		container_proc_reaped(a, p);
	for (int i = 0; i < 3; i++)
		stream_process_reaped(a, &p->streams[i]);
	proc_check_done(a, p);
}

void proc_reap(struct agent *a)
{
	int status;
	pid_t pid;

	/* PID 1 inherits orphans: they are reaped here and forgotten */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (struct proc *p = a->procs; p; p = p->next) {
			if (p->state == PROC_RUNNING && p->pid == pid) {
				proc_reaped(a, p, status);
				break;
			}
		}
	}
}

static void proc_send_exit(struct agent *a, struct proc *p)
{
	struct mv_msg_exited exited = {.proc_id = p->id, .status = p->status};
	mv_error_t err = {0};
	int code;

	if (p->exec_failed) {
		code = p->failure.stage == STAGE_EXEC && p->failure.err == ENOENT
			   ? MV_EXIT_NOT_FOUND
			   : MV_EXIT_CANNOT_RUN;
		err.err = p->failure.err;
		err.msg = p->failure_text ? strdup(p->failure_text) : exec_failure_message(p);
		proc_send_start_failure(a, p, &err, code);
		mv_error_release(&err);
		return;
	}
	conn_send(a, p->ctl, MV_MSG_EXITED, &exited, sizeof(exited));
}

void proc_check_done(struct agent *a, struct proc *p)
{
	if (p->state != PROC_REAPED)
		return;
	for (int i = 0; i < 3; i++)
		if (!stream_done(&p->streams[i]))
			return;
	if (p->ctl)
		proc_send_exit(a, p);
	proc_free(a, p);
}
