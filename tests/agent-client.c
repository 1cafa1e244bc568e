/* agent-client: drives mvrun-agent through runtime/agent_client for the
 * integration tests (tests/integration/agent.bats); not installed.
 *
 *   agent-client wait-ready PATH
 *       listen on PATH, accept the agent's READY, check its version
 *   agent-client run [OPTIONS] SOCK -- PROGRAM [ARG...]
 *       run PROGRAM, forwarding stdin (-i), stdout, stderr and the signals
 *       TERM INT HUP QUIT USR1 USR2; exits like a shell: the exit code or
 *       128 + the signal number (127/126 when it could not start)
 *       -i  forward stdin (else the process reads /dev/null)
 *       --cwd DIR, --root DIR (chroot), --env NAME=VALUE (repeatable),
 *       --user UID:GID, --pid-file FILE (the guest pid, written once it
 *       started)
 *   agent-client mount SOCK [--file] [-o FLAG,...] SOURCE TARGET FSTYPE DATA ...
 *       one MOUNT per group of four (empty strings allowed), all on one
 *       control connection; prints OK or ERROR <text> for each and exits 1
 *       when any failed.  FLAGs: MS_* names without MS_ in lower case
 *       (rdonly, bind, rec, nosuid, nodev, noexec, remount, private...);
 *       --file: MV_MOUNT_FILE
 *   agent-client container SOCK CONFIG.json
 *       CONTAINER with the file's bytes; prints OK or ERROR <text> (exit 1)
 *   agent-client exec [--init] [--defer [--start]] [--tty] [-i] [--pid-file F]
 *                     [--id-file F] SOCK PROCESS.json
 *       EXEC the process JSON and run it like `run` (stdout, stderr, or
 *       with --tty the pty; -i stdin); --id-file: the proc id, written at
 *       CREATED; --pid-file: the guest pid, at PREPARED (--defer) or
 *       STARTED; --defer waits for PREPARED, then (--start) sends START
 *       itself or waits for `agent-client start`
 *   agent-client start SOCK ID
 *   agent-client resize SOCK ID ROWS COLS
 *   agent-client kill [--all] SOCK ID SIGNO
 *       one request each; prints OK or ERROR <text> (exit 1)
 *   agent-client poweroff SOCK
 *   agent-client probe SOCK CASE
 *       send hostile or unusual input (see the probe table) and print
 *       each answer: OK, ERROR <text>, CREATED, STARTED, EXITED <code>,
 *       then EOF when the agent closed the connection, or OPEN
 * Every command takes --hybrid before SOCK: SOCK is a hybrid vsock socket.
 * Failures of agent-client itself exit 255. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "tests/agent-client.h"

#define COPY_BUF (64 * 1024)
#define MAX_ENV	 64

void die(mv_error_t *err)
{
	char *s = mv_error_string(err);

	fprintf(stderr, "agent-client: %s\n", s ? s : "out of memory");
	exit(EXIT_CLIENT_FAILED);
}

static __attribute__((noreturn)) void usage(void)
{
	fputs(
	    "usage: agent-client wait-ready PATH\n"
	    "       agent-client run [--hybrid] [-i] [--cwd DIR] [--root DIR] [--env N=V]\n"
	    "                        [--user UID:GID] [--pid-file FILE] SOCK -- PROGRAM [ARG...]\n"
	    "       agent-client mount [--hybrid] SOCK [--file] [-o FLAG,...]\n"
	    "                          SOURCE TARGET FSTYPE DATA ...\n"
	    "       agent-client container [--hybrid] SOCK CONFIG.json\n"
	    "       agent-client exec [--init] [--defer [--start]] [--tty] [-i] [--pid-file F]\n"
	    "                         [--id-file F] [--hybrid] SOCK PROCESS.json\n"
	    "       agent-client start|resize|kill [--all] [--hybrid] SOCK ID [ROWS COLS|SIGNO]\n"
	    "       agent-client poweroff [--hybrid] SOCK\n"
	    "       agent-client probe [--hybrid] SOCK CASE\n",
	    stderr);
	exit(EXIT_CLIENT_FAILED);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			exit(EXIT_CLIENT_FAILED); /* our own stdout went away */
		p += w;
		n -= (size_t)w;
	}
}

/* ---- run ---- */

struct run_opts {
	struct agent_addr addr;
	struct agent_run_req req;
	const char *pid_file;
	const char *env[MAX_ENV + 1];
	int nenv;
};

/* The session of one process: its connections and where it stands. */
struct session {
	int ctl;
	int sigfd;
	int stdin_sock;	 /* -1 without -i, or once stdin ended */
	int out_sock[2]; /* stdout, stderr */
	bool stdin_eof;
	char pending[COPY_BUF]; /* read from our stdin, not yet sent */
	size_t pending_len, pending_off;
	uint64_t proc_id;
	bool exited;
	int status;
};

static void parse_user(const char *s, struct agent_run_req *req)
{
	unsigned uid, gid;

	if (sscanf(s, "%u:%u", &uid, &gid) != 2)
		usage();
	req->uid = uid;
	req->gid = gid;
}

static void parse_run_option(const char *arg, const char *val, struct run_opts *o)
{
	if (strcmp(arg, "--cwd") == 0)
		o->req.cwd = val;
	else if (strcmp(arg, "--root") == 0)
		o->req.root = val;
	else if (strcmp(arg, "--env") == 0 && o->nenv < MAX_ENV)
		o->env[o->nenv++] = val;
	else if (strcmp(arg, "--user") == 0)
		parse_user(val, &o->req);
	else if (strcmp(arg, "--pid-file") == 0)
		o->pid_file = val;
	else
		usage();
}

static void parse_run(int argc, char **argv, struct run_opts *o)
{
	int i;

	o->req.flags = MV_RUN_STDOUT | MV_RUN_STDERR;
	o->req.uid = getuid();
	o->req.gid = getgid();
	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-i") == 0)
			o->req.flags |= MV_RUN_STDIN;
		else if (strcmp(argv[i], "--hybrid") == 0)
			o->addr.hybrid = true;
		else if (++i < argc)
			parse_run_option(argv[i - 1], argv[i], o);
		else
			usage();
	}
	if (i + 2 >= argc || strcmp(argv[i + 1], "--") != 0)
		usage();
	o->addr.uds_path = argv[i];
	o->req.argv = (const char *const *)argv + i + 2;
	o->req.env = o->env;
}

static int signals_block(void)
{
	static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

/* n and a newline in path, when given: --pid-file, --id-file. */
static void write_number_file(const char *path, unsigned long long n)
{
	cleanup_free char *tmp = NULL;
	FILE *f;

	if (path == NULL || asprintf(&tmp, "%s.tmp", path) < 0)
		return;
	f = fopen(tmp, "we");
	if (f == NULL)
		return;
	fprintf(f, "%llu\n", n);
	if (fclose(f) == 0)
		rename(tmp, path); /* whole or not at all, for the test polling it */
}

/* An error that does not end the session: the agent's ERROR, whose EXITED
 * follows. */
static void report(mv_error_t *err)
{
	char *msg = mv_error_string(err);

	fprintf(stderr, "agent-client: %s\n", msg ? msg : "error");
	free(msg);
	mv_error_release(err);
}

/* Connect each stream the process was run with. */
static void connect_streams(const struct agent_addr *addr, uint32_t flags, struct session *s)
{
	mv_error_t err = {0};
	int *fds[3] = {&s->stdin_sock, &s->out_sock[0], &s->out_sock[1]};

	for (int i = 0; i < 3; i++) {
		*fds[i] = -1;
		if (!(flags & (1u << i)))
			continue;
		*fds[i] = agent_connect(addr, MV_CONN_STDIN + (uint32_t)i, s->proc_id, &err);
		if (*fds[i] < 0)
			die(&err);
	}
	if (s->stdin_sock >= 0)
		fcntl(s->stdin_sock, F_SETFL, O_NONBLOCK);
}

static void on_control(struct session *s)
{
	struct agent_event ev;
	mv_error_t err = {0};
	int ret = agent_recv_event(s->ctl, &ev, &err);

	if (ret < 0)
		die(&err);
	if (ret == 0) {
		if (!s->exited) {
			mv_error(&err, 0, "the agent closed the control connection");
			die(&err);
		}
		close(s->ctl);
		s->ctl = -1;
		return;
	}
	if (ev.type == MV_MSG_EXITED && ev.proc_id == s->proc_id) {
		s->exited = true;
		s->status = ev.status;
	} else if (ev.type == MV_MSG_ERROR) {
		char *msg = mv_error_string(&ev.error);

		fprintf(stderr, "agent-client: %s\n", msg ? msg : "error");
		free(msg);
	}
	agent_event_release(&ev);
}

static void on_signal(struct session *s)
{
	struct signalfd_siginfo si;
	mv_error_t err = {0};

	if (read(s->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si) || s->exited || s->ctl < 0)
		return;
	if (agent_signal(s->ctl, s->proc_id, (int)si.ssi_signo, &err) < 0)
		die(&err);
}

static void on_output(struct session *s, int i)
{
	char buf[COPY_BUF];
	ssize_t n = read(s->out_sock[i], buf, sizeof(buf));

	if (n > 0) {
		write_all(i == 0 ? STDOUT_FILENO : STDERR_FILENO, buf, (size_t)n);
		return;
	}
	if (n < 0 && errno == EINTR)
		return;
	close(s->out_sock[i]);
	s->out_sock[i] = -1;
}

static void stdin_close(struct session *s)
{
	shutdown(s->stdin_sock, SHUT_WR);
	close(s->stdin_sock);
	s->stdin_sock = -1;
}

static void on_stdin(struct session *s)
{
	ssize_t n = read(STDIN_FILENO, s->pending, sizeof(s->pending));

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		s->stdin_eof = true;
		stdin_close(s);
		return;
	}
	s->pending_len = (size_t)n;
	s->pending_off = 0;
}

static void on_stdin_writable(struct session *s)
{
	ssize_t n = send(s->stdin_sock, s->pending + s->pending_off, s->pending_len, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) { /* the process closed its stdin: stop forwarding */
		s->pending_len = 0;
		stdin_close(s);
		return;
	}
	s->pending_off += (size_t)n;
	s->pending_len -= (size_t)n;
}

/* Until EXITED came and stdout and stderr ended. */
static void session_loop(struct session *s)
{
	while (!s->exited || s->out_sock[0] >= 0 || s->out_sock[1] >= 0) {
		bool want_input = s->stdin_sock >= 0 && s->pending_len == 0 && !s->stdin_eof;
		struct pollfd p[6] = {
		    {.fd = s->ctl, .events = POLLIN},
		    {.fd = s->sigfd, .events = POLLIN},
		    {.fd = s->out_sock[0], .events = POLLIN},
		    {.fd = s->out_sock[1], .events = POLLIN},
		    {.fd = want_input ? STDIN_FILENO : -1, .events = POLLIN},
		    {.fd = s->pending_len ? s->stdin_sock : -1, .events = POLLOUT},
		};

		if (poll(p, 6, -1) < 0) {
			if (errno == EINTR)
				continue;
			exit(EXIT_CLIENT_FAILED);
		}
		if (p[0].revents)
			on_control(s);
		if (p[1].revents)
			on_signal(s);
		for (int i = 0; i < 2; i++)
			if (p[2 + i].revents && s->out_sock[i] >= 0)
				on_output(s, i);
		if (p[4].revents)
			on_stdin(s);
		if (p[5].revents && s->stdin_sock >= 0)
			on_stdin_writable(s);
	}
}

static int cmd_run(int argc, char **argv)
{
	struct run_opts o = {0};
	struct session s = {0};
	mv_error_t err = {0};
	uint32_t pid;

	parse_run(argc, argv, &o);
	s.sigfd = signals_block(); /* a signal before the start waits for it */
	s.ctl = agent_connect(&o.addr, MV_CONN_CONTROL, 0, &err);
	if (s.ctl < 0 || agent_run(s.ctl, &o.req, &s.proc_id, &err) < 0)
		die(&err);
	connect_streams(&o.addr, o.req.flags, &s);
	if (agent_wait_started(s.ctl, s.proc_id, &pid, &err) < 0)
		report(&err);
	else
		write_number_file(o.pid_file, pid);
	session_loop(&s);
	return agent_exit_code(s.status);
}

/* ---- v2: container, exec, start, resize, kill ---- */

static void parse_addr(int *argc, char ***argv, struct agent_addr *addr);

/* The whole file, for CONTAINER and EXEC. */
static char *read_file(const char *path, size_t *len)
{
	cleanup_file FILE *f = fopen(path, "re");
	char *buf = malloc(MV_MSG_MAX);
	size_t n;

	if (f == NULL || buf == NULL) {
		fprintf(stderr, "agent-client: cannot read `%s`\n", path);
		exit(EXIT_CLIENT_FAILED);
	}
	n = fread(buf, 1, MV_MSG_MAX, f);
	*len = n;
	return buf;
}

/* The agent's answer to a request: OK, or ERROR <text> (and exit 1). */
static int print_answer(int ctl)
{
	struct agent_event ev;
	mv_error_t err = {0};
	int ret = agent_recv_event(ctl, &ev, &err);

	if (ret <= 0) {
		if (ret == 0)
			mv_error(&err, 0, "the agent closed the control connection");
		die(&err);
	}
	if (ev.type == MV_MSG_ERROR) {
		char *msg = mv_error_string(&ev.error);

		printf("ERROR %s\n", msg ? msg : "?");
		free(msg);
		agent_event_release(&ev);
		return 1;
	}
	puts(ev.type == MV_MSG_OK ? "OK" : "UNEXPECTED");
	return ev.type == MV_MSG_OK ? 0 : 1;
}

static void print_error(mv_error_t *err)
{
	char *msg = mv_error_string(err);

	printf("ERROR %s\n", msg ? msg : "?");
	free(msg);
	mv_error_release(err);
}

/* OK, or ERROR <text> (and exit 1) for a request whose call returned ret. */
static int print_result(int ret, mv_error_t *err)
{
	if (ret < 0) {
		print_error(err);
		return 1;
	}
	puts("OK");
	return 0;
}

/* A control connection to the SOCK of argv, after which exactly nargs
 * arguments must remain. */
static int connect_control(int *argc, char ***argv, struct agent_addr *addr, int nargs)
{
	mv_error_t err = {0};
	int ctl;

	parse_addr(argc, argv, addr);
	ctl = agent_connect(addr, MV_CONN_CONTROL, 0, &err);
	if (ctl < 0)
		die(&err);
	if (*argc != nargs)
		usage();
	return ctl;
}

static int cmd_container(int argc, char **argv)
{
	struct agent_addr addr = {0};
	mv_error_t err = {0};
	cleanup_free char *json = NULL;
	size_t len;
	int ctl = connect_control(&argc, &argv, &addr, 1);

	json = read_file(argv[0], &len);
	return print_result(agent_container(ctl, json, len, &err), &err);
}

struct exec_opts {
	uint32_t flags;
	bool start;
	const char *pid_file, *id_file;
};

static void parse_exec_option(int *i, int argc, char **argv, struct exec_opts *o)
{
	const char *a = argv[*i];

	if (strcmp(a, "--init") == 0)
		o->flags |= MV_EXEC_INIT;
	else if (strcmp(a, "--defer") == 0)
		o->flags |= MV_EXEC_DEFER;
	else if (strcmp(a, "--start") == 0)
		o->start = true;
	else if (strcmp(a, "--tty") == 0)
		o->flags &= ~MV_RUN_STDERR;
	else if (strcmp(a, "-i") == 0)
		o->flags |= MV_RUN_STDIN;
	else if (strcmp(a, "--pid-file") == 0 && *i + 1 < argc)
		o->pid_file = argv[++*i];
	else if (strcmp(a, "--id-file") == 0 && *i + 1 < argc)
		o->id_file = argv[++*i];
	else
		usage();
}

/* PREPARED (with --defer), START (--start), STARTED: false when the
 * agent sent the ERROR of a start failure instead (its EXITED follows). */
static bool exec_wait_start(const struct exec_opts *o, struct session *s)
{
	mv_error_t err = {0};
	uint32_t pid;

	if (o->flags & MV_EXEC_DEFER) {
		if (agent_wait_prepared(s->ctl, s->proc_id, &pid, &err) < 0) {
			report(&err);
			return false;
		}
		write_number_file(o->pid_file, pid);
		if (o->start && agent_start(s->ctl, s->proc_id, &err) < 0)
			die(&err);
	}
	if (agent_wait_started(s->ctl, s->proc_id, &pid, &err) < 0) {
		report(&err);
		return false;
	}
	if (!(o->flags & MV_EXEC_DEFER))
		write_number_file(o->pid_file, pid);
	return true;
}

static int cmd_exec(int argc, char **argv)
{
	struct exec_opts o = {.flags = MV_RUN_STDOUT | MV_RUN_STDERR};
	struct agent_addr addr = {0};
	struct session s = {0};
	mv_error_t err = {0};
	cleanup_free char *json = NULL;
	size_t len;
	int i;

	for (i = 0; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--hybrid") != 0; i++)
		parse_exec_option(&i, argc, argv, &o);
	argc -= i;
	argv += i;
	s.sigfd = signals_block();
	s.ctl = connect_control(&argc, &argv, &addr, 1);
	json = read_file(argv[0], &len);
	if (agent_exec(s.ctl, o.flags, json, len, &s.proc_id, &err) < 0)
		die(&err);
	write_number_file(o.id_file, s.proc_id);
	connect_streams(&addr, o.flags, &s);
	exec_wait_start(&o, &s);
	session_loop(&s);
	return agent_exit_code(s.status);
}

/* agent-client start|resize|kill SOCK ID [...]: one request, its answer. */
static uint64_t parse_id(const char *s)
{
	char *end;
	unsigned long long id = strtoull(s, &end, 10);

	if (*end)
		usage();
	return id;
}

static int cmd_start(int argc, char **argv)
{
	struct agent_addr addr = {0};
	mv_error_t err = {0};
	int ctl = connect_control(&argc, &argv, &addr, 1);

	return print_result(agent_start(ctl, parse_id(argv[0]), &err), &err);
}

static int cmd_resize(int argc, char **argv)
{
	struct agent_addr addr = {0};
	mv_error_t err = {0};
	int ctl = connect_control(&argc, &argv, &addr, 3);

	if (agent_resize(ctl, parse_id(argv[0]), (unsigned)atoi(argv[1]), (unsigned)atoi(argv[2]),
			 &err) < 0)
		die(&err);
	return print_answer(ctl);
}

static int cmd_kill(int argc, char **argv)
{
	struct agent_addr addr = {0};
	mv_error_t err = {0};
	bool all = argc > 0 && strcmp(argv[0], "--all") == 0;
	int ctl, signo;

	if (all) {
		argc--;
		argv++;
	}
	ctl = connect_control(&argc, &argv, &addr, 2);
	signo = atoi(argv[1]);
	if ((all ? agent_signal_all(ctl, signo, &err)
		 : agent_signal(ctl, parse_id(argv[0]), signo, &err)) < 0)
		die(&err);
	return print_answer(ctl);
}

/* ---- wait-ready, poweroff ---- */

static int cmd_wait_ready(int argc, char **argv)
{
	mv_error_t err = {0};
	int fd;

	if (argc != 1)
		usage();
	fd = agent_listen_unix(argv[0], &err);
	if (fd < 0 || agent_accept_ready(fd, &err) < 0)
		die(&err);
	close(fd);
	unlink(argv[0]);
	puts("ready");
	return 0;
}

static void parse_addr(int *argc, char ***argv, struct agent_addr *addr)
{
	if (*argc > 0 && strcmp((*argv)[0], "--hybrid") == 0) {
		addr->hybrid = true;
		(*argc)--;
		(*argv)++;
	}
	if (*argc < 1)
		usage();
	addr->uds_path = (*argv)[0];
	(*argc)--;
	(*argv)++;
}

static int cmd_poweroff(int argc, char **argv)
{
	struct agent_addr addr = {0};
	struct agent_event ev;
	mv_error_t err = {0};
	int ctl, ret;

	parse_addr(&argc, &argv, &addr);
	ctl = agent_connect(&addr, MV_CONN_CONTROL, 0, &err);
	if (ctl < 0 || agent_poweroff(ctl, &err) < 0)
		die(&err);
	/* the answer is the end of the connection */
	while ((ret = agent_recv_event(ctl, &ev, &err)) > 0)
		agent_event_release(&ev);
	if (ret < 0)
		die(&err);
	return 0;
}

/* ---- mount ---- */

static const struct {
	const char *name;
	uint64_t flag;
} mount_flags[] = {
    {"rdonly", MS_RDONLY}, {"nosuid", MS_NOSUID},	  {"nodev", MS_NODEV},
    {"noexec", MS_NOEXEC}, {"remount", MS_REMOUNT},	  {"bind", MS_BIND},
    {"rec", MS_REC},	   {"private", MS_PRIVATE},	  {"slave", MS_SLAVE},
    {"shared", MS_SHARED}, {"unbindable", MS_UNBINDABLE}, {"noatime", MS_NOATIME},
    {"move", MS_MOVE}, /* refused by the agent: for the tests */
};

static uint64_t parse_mount_flags(const char *list)
{
	cleanup_free char *copy = strdup(list);
	char *save = NULL;
	uint64_t flags = 0;

	if (copy == NULL)
		exit(EXIT_CLIENT_FAILED);
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(mount_flags) / sizeof(mount_flags[0]); i++)
			if (strcmp(f, mount_flags[i].name) == 0)
				break;
		if (i == sizeof(mount_flags) / sizeof(mount_flags[0]))
			usage();
		flags |= mount_flags[i].flag;
	}
	return flags;
}

/* One MOUNT from argv: options, then four strings; returns the arguments used. */
static int mount_one(int ctl, int argc, char **argv, bool *failed)
{
	uint64_t flags = 0;
	uint32_t options = 0;
	mv_error_t err = {0};
	int i = 0;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--file") == 0)
			options |= MV_MOUNT_FILE;
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			flags |= parse_mount_flags(argv[++i]);
		else
			usage();
	}
	if (argc - i < 4)
		usage();
	if (agent_mount(ctl, flags, options, argv[i], argv[i + 1], argv[i + 2], argv[i + 3], &err) <
	    0) {
		print_error(&err);
		*failed = true;
	} else {
		puts("OK");
	}
	fflush(stdout);
	return i + 4;
}

static int cmd_mount(int argc, char **argv)
{
	struct agent_addr addr = {0};
	mv_error_t err = {0};
	bool failed = false;
	int ctl;

	parse_addr(&argc, &argv, &addr);
	if (argc < 4)
		usage();
	ctl = agent_connect(&addr, MV_CONN_CONTROL, 0, &err);
	if (ctl < 0)
		die(&err);
	for (int i = 0; i < argc;)
		i += mount_one(ctl, argc - i, argv + i, &failed);
	close(ctl);
	return failed ? 1 : 0;
}

/* ---- probe: hostile and unusual input ---- */

static int cmd_probe(int argc, char **argv)
{
	struct agent_addr addr = {0};

	parse_addr(&argc, &argv, &addr);
	if (argc != 1)
		usage();
	return probe_run(argv[0], &addr);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(argv[1], "wait-ready") == 0)
		return cmd_wait_ready(argc - 2, argv + 2);
	if (strcmp(argv[1], "poweroff") == 0)
		return cmd_poweroff(argc - 2, argv + 2);
	if (strcmp(argv[1], "mount") == 0)
		return cmd_mount(argc - 2, argv + 2);
	if (strcmp(argv[1], "probe") == 0)
		return cmd_probe(argc - 2, argv + 2);
	if (strcmp(argv[1], "container") == 0)
		return cmd_container(argc - 2, argv + 2);
	if (strcmp(argv[1], "exec") == 0)
		return cmd_exec(argc - 2, argv + 2);
	if (strcmp(argv[1], "start") == 0)
		return cmd_start(argc - 2, argv + 2);
	if (strcmp(argv[1], "resize") == 0)
		return cmd_resize(argc - 2, argv + 2);
	if (strcmp(argv[1], "kill") == 0)
		return cmd_kill(argc - 2, argv + 2);
	usage();
}
