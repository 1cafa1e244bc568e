/* Processes the host runs: RUN, the streams it asked for, the fork, the
 * exec report, SIGNAL, reaping and EXITED.
 *
 * On a control connection a process gets CREATED, then STARTED or (when it
 * could not start) ERROR immediately followed by its EXITED, then EXITED
 * once it was reaped and its output was forwarded. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

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
	run_msg_release(&p->run);
	free(p->payload);
	free(p);
	a->nprocs--;
}

/* ---- RUN ---- */

static struct proc *proc_new(struct agent *a, struct conn *ctl, void *payload, uint32_t len,
			     mv_error_t *err)
{
	struct proc *p;

	if (a->nprocs >= AGENT_MAX_PROCS) {
		mv_error(err, EAGAIN, "RUN: %u processes already", a->nprocs);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		mv_error(err, ENOMEM, "RUN");
		return NULL;
	}
	if (run_msg_decode(payload, len, &p->run, err) < 0) {
		free(p);
		return NULL;
	}
	p->payload = payload;
	p->id = ++a->next_proc_id;
	p->ctl = ctl;
	p->state = PROC_CREATED;
	p->exec_report.fd = -1;
	p->exec_report.fn = proc_exec_event;
	for (int i = 0; i < 3; i++)
		stream_init(&p->streams[i], p, MV_CONN_STDIN + (uint32_t)i);
	p->next = a->procs;
	a->procs = p;
	a->nprocs++;
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
		if ((p->run.flags & (1u << i)) && p->streams[i].sock.fd < 0)
			return;
	if (proc_start(a, p, &err) < 0) {
		proc_send_start_failure(a, p, &err, MV_EXIT_CANNOT_RUN);
		mv_error_release(&err);
		proc_free(a, p);
	}
}

void proc_run(struct agent *a, struct conn *ctl, void *payload, uint32_t len)
{
	mv_error_t err = {0};
	struct mv_msg_proc created;
	struct proc *p = proc_new(a, ctl, payload, len, &err);

	if (p == NULL) {
		free(payload);
		conn_send_mv_error(a, ctl, &err);
		mv_error_release(&err);
		return;
	}
	created.proc_id = p->id;
	conn_send(a, ctl, MV_MSG_CREATED, &created, sizeof(created));
	proc_maybe_start(a, p);
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
	if (!(p->run.flags & (1u << i)))
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

		if (!(p->run.flags & (1u << i)))
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

static int proc_fork(struct proc *p, const int child[3], int report[2], mv_error_t *err)
{
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0)
		return mv_error(err, errno, "pipe for the exec report");
	pid = fork();
	if (pid < 0)
		return mv_error(err, errno, "fork");
	if (pid == 0)
		child_exec(&p->run, child, report[1]);
	p->pid = pid;
	return 0;
}

static int proc_start(struct agent *a, struct proc *p, mv_error_t *err)
{
	int child[3] = {-1, -1, -1}, agent[3] = {-1, -1, -1}, report[2] = {-1, -1};

	if (open_pipes(p, child, agent, err) < 0 || proc_fork(p, child, report, err) < 0) {
		close_fds(child, 3);
		close_fds(agent, 3);
		close_fds(report, 2);
		return -1;
	}
	close_fds(child, 3);
	close(report[1]);
	p->state = PROC_RUNNING;
	p->exec_report.fd = report[0];
	if (watch_set(a, &p->exec_report, EPOLLIN) < 0)
		agent_log("epoll on an exec report: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		if (agent[i] >= 0)
			stream_start(a, &p->streams[i], agent[i]);
	return 0;
}

/* Read what the child reported: nothing before EOF means exec succeeded.
 * Returns false while the child has not got that far (unless final). */
static bool proc_read_report(struct agent *a, struct proc *p, bool final)
{
	struct exec_failure f;
	ssize_t n = read(p->exec_report.fd, &f, sizeof(f));

	if (n < 0 && (errno == EAGAIN || errno == EINTR) && !final)
		return false;
	if (n == (ssize_t)sizeof(f)) { /* a pipe write this small is atomic */
		p->exec_failed = true;
		p->failure = f;
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

void proc_signal(struct agent *a, struct conn *ctl, const void *payload, uint32_t len)
{
	struct mv_msg_signal m;
	struct proc *p;

	if (len < sizeof(m)) {
		conn_send_error(a, ctl, EINVAL, "SIGNAL: short payload (%u bytes)", len);
		return;
	}
	memcpy(&m, payload, sizeof(m));
	p = proc_find(a, m.proc_id);
	if (m.signo >= _NSIG)
		conn_send_error(a, ctl, EINVAL, "SIGNAL: no signal %u", m.signo);
	else if (p == NULL || p->state == PROC_REAPED)
		conn_send_error(a, ctl, ESRCH, "process %llu does not run",
				(unsigned long long)m.proc_id);
	else if (p->state == PROC_CREATED)
		conn_send_error(a, ctl, ESRCH, "process %llu has not started",
				(unsigned long long)m.proc_id);
	else if (kill(p->pid, (int)m.signo) < 0)
		conn_send_error(a, ctl, errno, "kill %d", (int)p->pid);
	else
		conn_send(a, ctl, MV_MSG_OK, NULL, 0);
}

/* The process and whatever it left in its session's process group. */
static void proc_kill(struct proc *p)
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
		err.msg = exec_failure_message(p);
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
