/* runtime/agent_client.c: framing, checks on what the agent sends, the
 * requests, and the hybrid vsock handshake against fake peers (a forked
 * child on the other end of a socketpair or a Unix socket). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/agent_client.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

/* ---- helpers ---- */

static void pair(int sv[2])
{
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
}

static void write_bytes(int fd, const void *p, size_t n)
{
	CHECK_INT(write(fd, p, n), ==, (ssize_t)n);
}

/* A raw message: the header claims len, n bytes follow. */
static void write_msg(int fd, uint32_t type, uint32_t len, const void *payload, size_t n)
{
	struct mv_msg_hdr hdr = {.type = type, .len = len};

	write_bytes(fd, &hdr, sizeof(hdr));
	if (n)
		write_bytes(fd, payload, n);
}

static void write_error(int fd, int32_t errnum, const char *text)
{
	char buf[256];
	struct mv_msg_error e = {.err = errnum};
	size_t n = strlen(text);

	memcpy(buf, &e, sizeof(e));
	memcpy(buf + sizeof(e), text, n);
	write_msg(fd, MV_MSG_ERROR, (uint32_t)(sizeof(e) + n), buf, sizeof(e) + n);
}

/* Read one message the client sent and check its type; payload freed. */
static void expect_msg(int fd, uint32_t type)
{
	struct mv_msg_hdr hdr;
	void *payload = NULL;
	mv_error_t err = {0};

	CHECK_INT(agent_recv(fd, &hdr, &payload, &err), ==, 1);
	CHECK_INT(hdr.type, ==, type);
	free(payload);
}

/* Run fn(fd) in a child, as the fake peer; wait_fake() gets its verdict. */
static pid_t fake(void (*fn)(int fd), int fd)
{
	pid_t pid = fork();

	CHECK_INT(pid, >=, 0);
	if (pid == 0) {
		fn(fd);
		_exit(0);
	}
	return pid;
}

static void wait_fake(pid_t pid)
{
	int status;

	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), ==, 0);
}

/* A temporary directory with a socket path in it. */
struct tmp_sock {
	char dir[64];
	char path[96];
};

static void tmp_sock_init(struct tmp_sock *t)
{
	strcpy(t->dir, "/tmp/mvrun-unit.XXXXXX");
	CHECK(mkdtemp(t->dir) != NULL);
	strcpy(t->path, t->dir);
	strcat(t->path, "/sock");
}

static void tmp_sock_release(struct tmp_sock *t)
{
	unlink(t->path);
	rmdir(t->dir);
}

/* ---- framing ---- */

TEST(agent_send_recv_round_trip)
{
	int sv[2];
	struct mv_msg_hdr hdr;
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	uint64_t id = 42;

	pair(sv);
	CHECK_INT(agent_send(sv[0], MV_MSG_CREATED, &id, sizeof(id), &err), ==, 0);
	CHECK_INT(agent_send(sv[0], MV_MSG_OK, NULL, 0, &err), ==, 0);
	CHECK_INT(agent_recv(sv[1], &hdr, &payload, &err), ==, 1);
	CHECK_INT(hdr.type, ==, MV_MSG_CREATED);
	CHECK_INT(hdr.len, ==, sizeof(id));
	CHECK(memcmp(payload, &id, sizeof(id)) == 0);
	free(steal_ptr(&payload));
	CHECK_INT(agent_recv(sv[1], &hdr, &payload, &err), ==, 1);
	CHECK_INT(hdr.type, ==, MV_MSG_OK);
	CHECK_INT(hdr.len, ==, 0);
	CHECK(payload == NULL);
	close(sv[0]);
	CHECK_INT(agent_recv(sv[1], &hdr, &payload, &err), ==, 0); /* EOF between messages */
	close(sv[1]);
}

TEST(agent_send_refuses_oversize)
{
	int sv[2];
	char c;
	mv_error_t err = {0};

	pair(sv);
	CHECK_INT(agent_send(sv[0], MV_MSG_RUN, &c, MV_MSG_MAX + 1, &err), <, 0);
	CHECK_INT(err.err, ==, EMSGSIZE);
	CHECK_INT(recv(sv[1], &c, 1, MSG_DONTWAIT), ==, -1); /* nothing was sent */
	CHECK_INT(errno, ==, EAGAIN);
	mv_error_release(&err);
	close(sv[0]);
	close(sv[1]);
}

static void send_max(int fd)
{
	mv_error_t err = {0};
	char *big = calloc(1, MV_MSG_MAX);

	big[MV_MSG_MAX - 1] = 'z';
	CHECK_INT(agent_send(fd, MV_MSG_ERROR, big, MV_MSG_MAX, &err), ==, 0);
	free(big);
}

TEST(agent_recv_takes_the_largest_message)
{
	int sv[2];
	struct mv_msg_hdr hdr;
	cleanup_free char *payload = NULL;
	mv_error_t err = {0};
	pid_t pid;

	pair(sv);
	pid = fake(send_max, sv[1]);
	CHECK_INT(agent_recv(sv[0], &hdr, (void **)&payload, &err), ==, 1);
	CHECK_INT(hdr.len, ==, MV_MSG_MAX);
	CHECK_INT(payload[MV_MSG_MAX - 1], ==, 'z');
	wait_fake(pid);
	close(sv[0]);
	close(sv[1]);
}

TEST(agent_recv_refuses_oversize_header)
{
	int sv[2];
	struct mv_msg_hdr hdr;
	void *payload = NULL;
	mv_error_t err = {0};

	pair(sv);
	write_msg(sv[1], MV_MSG_OK, MV_MSG_MAX + 1, NULL, 0);
	CHECK_INT(agent_recv(sv[0], &hdr, &payload, &err), <, 0);
	CHECK_INT(err.err, ==, EMSGSIZE);
	CHECK(payload == NULL);
	mv_error_release(&err);
	write_msg(sv[1], MV_MSG_OK, 0xffffffffu, NULL, 0);
	CHECK_INT(agent_recv(sv[0], &hdr, &payload, &err), <, 0);
	CHECK_INT(err.err, ==, EMSGSIZE);
	mv_error_release(&err);
	close(sv[0]);
	close(sv[1]);
}

TEST(agent_recv_refuses_truncated_messages)
{
	struct mv_msg_hdr hdr;
	void *payload = NULL;
	mv_error_t err = {0};
	int sv[2];

	pair(sv); /* end of file inside the header */
	write_bytes(sv[1], "\x01\x00\x00", 3);
	close(sv[1]);
	CHECK_INT(agent_recv(sv[0], &hdr, &payload, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTO);
	mv_error_release(&err);
	close(sv[0]);

	pair(sv); /* end of file inside the payload */
	write_msg(sv[1], MV_MSG_CREATED, 8, "abcd", 4);
	close(sv[1]);
	CHECK_INT(agent_recv(sv[0], &hdr, &payload, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTO);
	CHECK(payload == NULL);
	mv_error_release(&err);
	close(sv[0]);
}

/* ---- events ---- */

/* Feed one raw message and decode it as an event: agent_recv_event's result. */
static int event_from(uint32_t type, const void *p, uint32_t len, struct agent_event *ev,
		      mv_error_t *err)
{
	int sv[2], ret;

	pair(sv);
	write_msg(sv[1], type, len, p, len);
	ret = agent_recv_event(sv[0], ev, err);
	close(sv[0]);
	close(sv[1]);
	return ret;
}

TEST(agent_event_decodes_each_type)
{
	struct mv_msg_started started = {.proc_id = 5, .pid = 1234};
	struct mv_msg_exited exited = {.proc_id = 5, .status = 42 << 8};
	struct mv_msg_proc created = {.proc_id = 5};
	struct agent_event ev;
	mv_error_t err = {0};

	CHECK_INT(event_from(MV_MSG_CREATED, &created, sizeof(created), &ev, &err), ==, 1);
	CHECK_INT(ev.type, ==, MV_MSG_CREATED);
	CHECK_INT(ev.proc_id, ==, 5);
	CHECK_INT(event_from(MV_MSG_STARTED, &started, sizeof(started), &ev, &err), ==, 1);
	CHECK_INT(ev.pid, ==, 1234);
	CHECK_INT(event_from(MV_MSG_EXITED, &exited, sizeof(exited), &ev, &err), ==, 1);
	CHECK_INT(agent_exit_code(ev.status), ==, 42);
	CHECK_INT(event_from(MV_MSG_OK, NULL, 0, &ev, &err), ==, 1);
	CHECK_INT(ev.type, ==, MV_MSG_OK);
}

TEST(agent_event_refuses_short_and_unknown_messages)
{
	struct mv_msg_started started = {0};
	struct agent_event ev;
	mv_error_t err = {0};
	char bytes[16] = {0};

	CHECK_INT(event_from(MV_MSG_CREATED, bytes, 4, &ev, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTO);
	CHECK_INT(event_from(MV_MSG_STARTED, &started, sizeof(started) - 1, &ev, &err), <, 0);
	CHECK_INT(event_from(MV_MSG_EXITED, bytes, 12, &ev, &err), <, 0);
	CHECK_INT(event_from(MV_MSG_ERROR, bytes, 2, &ev, &err), <, 0);
	CHECK_INT(event_from(42, NULL, 0, &ev, &err), <, 0);
	CHECK(strstr(err.msg, "type 42") != NULL);
	CHECK_INT(event_from(MV_MSG_HELLO, bytes, 16, &ev, &err), <, 0); /* host -> agent only */
	CHECK_INT(err.err, ==, EPROTO);
	mv_error_release(&err);
}

TEST(agent_event_error_keeps_errno_and_cleans_text)
{
	struct agent_event ev;
	mv_error_t err = {0};
	cleanup_free char *s = NULL;
	int sv[2];

	pair(sv);
	write_error(sv[1], ENOENT, "exec `x\x1b[31m`\n");
	CHECK_INT(agent_recv_event(sv[0], &ev, &err), ==, 1);
	CHECK_INT(ev.type, ==, MV_MSG_ERROR);
	CHECK_INT(ev.error.err, ==, ENOENT);
	s = mv_error_string(&ev.error);
	CHECK_STR(s, "exec `x?[31m`?: No such file or directory");
	agent_event_release(&ev);
	write_error(sv[1], -1, "negative");
	CHECK_INT(agent_recv_event(sv[0], &ev, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTO);
	write_error(sv[1], 100000, "huge");
	CHECK_INT(agent_recv_event(sv[0], &ev, &err), <, 0);
	mv_error_release(&err);
	close(sv[0]);
	close(sv[1]);
}

TEST(agent_exit_code_is_a_shells)
{
	CHECK_INT(agent_exit_code(0), ==, 0);
	CHECK_INT(agent_exit_code(42 << 8), ==, 42);
	CHECK_INT(agent_exit_code(9), ==, 137);		/* killed by SIGKILL */
	CHECK_INT(agent_exit_code(15 | 0x80), ==, 143); /* SIGTERM, core dumped */
}

/* ---- requests ---- */

TEST(agent_encode_run_refuses_bad_requests)
{
	const char *empty[] = {"", NULL};
	const char *none[] = {NULL};
	struct agent_run_req req = {0};
	void *payload = NULL;
	mv_error_t err = {0};
	uint32_t len;
	char *big = malloc(MV_MSG_MAX);
	const char *huge[] = {big, NULL};

	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	req.argv = none;
	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), <, 0);
	req.argv = empty;
	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), <, 0);
	memset(big, 'a', MV_MSG_MAX - 1);
	big[MV_MSG_MAX - 1] = '\0';
	req.argv = huge;
	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, E2BIG);
	CHECK(payload == NULL);
	free(big);
	mv_error_release(&err);
}

static void fake_created(int fd)
{
	struct mv_msg_proc created = {.proc_id = 7};

	expect_msg(fd, MV_MSG_RUN);
	write_msg(fd, MV_MSG_CREATED, sizeof(created), &created, sizeof(created));
}

static void fake_refuses_run(int fd)
{
	expect_msg(fd, MV_MSG_RUN);
	write_error(fd, EAGAIN, "RUN: 4096 processes already");
}

TEST(agent_run_returns_the_proc_id_or_the_agents_error)
{
	const char *argv[] = {"true", NULL};
	struct agent_run_req req = {.argv = argv};
	mv_error_t err = {0};
	uint64_t id = 0;
	int sv[2];
	pid_t pid;

	pair(sv);
	pid = fake(fake_created, sv[1]);
	CHECK_INT(agent_run(sv[0], &req, &id, &err), ==, 0);
	CHECK_INT(id, ==, 7);
	wait_fake(pid);
	pid = fake(fake_refuses_run, sv[1]);
	CHECK_INT(agent_run(sv[0], &req, &id, &err), <, 0);
	CHECK_INT(err.err, ==, EAGAIN);
	CHECK_STR(err.msg, "RUN: 4096 processes already");
	wait_fake(pid);
	mv_error_release(&err);
	close(sv[0]);
	close(sv[1]);
}

TEST(agent_wait_started_reports_an_exec_failure)
{
	struct mv_msg_started started = {.proc_id = 3, .pid = 99};
	cleanup_free char *s = NULL;
	struct agent_event ev;
	mv_error_t err = {0};
	uint32_t pid = 0;
	int sv[2];

	pair(sv);
	write_msg(sv[1], MV_MSG_STARTED, sizeof(started), &started, sizeof(started));
	CHECK_INT(agent_wait_started(sv[0], 3, &pid, &err), ==, 0);
	CHECK_INT(pid, ==, 99);
	write_msg(sv[1], MV_MSG_STARTED, sizeof(started), &started, sizeof(started));
	CHECK_INT(agent_wait_started(sv[0], 4, &pid, &err), <, 0); /* another process */
	CHECK_INT(err.err, ==, EPROTO);
	write_error(sv[1], ENOENT, "exec `nosuch`");
	CHECK_INT(agent_wait_started(sv[0], 3, &pid, &err), <, 0);
	s = mv_error_string(&err);
	CHECK_STR(s, "exec `nosuch`: No such file or directory");
	close(sv[1]);
	CHECK_INT(agent_recv_event(sv[0], &ev, &err), ==, 0);
	CHECK_INT(agent_wait_started(sv[0], 3, &pid, &err), <, 0);
	CHECK_INT(err.err, ==, ECONNRESET);
	mv_error_release(&err);
	close(sv[0]);
}

/* MOUNT: check what the client sent, answer OK. */
static void fake_mounts(int fd)
{
	struct mv_msg_mount m;
	struct mv_msg_hdr hdr;
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	static const char strings[] = "tag\0/run/mvrun/root\0virtiofs\0";

	CHECK_INT(agent_recv(fd, &hdr, &payload, &err), ==, 1);
	CHECK_INT(hdr.type, ==, MV_MSG_MOUNT);
	CHECK_INT(hdr.len, ==, sizeof(m) + sizeof(strings));
	memcpy(&m, payload, sizeof(m));
	CHECK_INT(m.flags, ==, 1);
	CHECK_INT(m.options, ==, MV_MOUNT_FILE);
	CHECK_INT(m.reserved, ==, 0);
	CHECK(memcmp((char *)payload + sizeof(m), strings, sizeof(strings)) == 0);
	write_msg(fd, MV_MSG_OK, 0, NULL, 0);
}

static void fake_refuses_mount(int fd)
{
	expect_msg(fd, MV_MSG_MOUNT);
	write_error(fd, ENODEV, "mount `nosuchfs` on `/mnt`");
}

static void fake_answers_mount_with_created(int fd)
{
	struct mv_msg_proc created = {.proc_id = 7};

	expect_msg(fd, MV_MSG_MOUNT);
	write_msg(fd, MV_MSG_CREATED, sizeof(created), &created, sizeof(created));
}

TEST(agent_mount_sends_mount_and_takes_ok_or_the_agents_error)
{
	cleanup_free char *s = NULL;
	mv_error_t err = {0};
	int sv[2];
	pid_t pid;

	pair(sv);
	pid = fake(fake_mounts, sv[1]);
	CHECK_INT(
	    agent_mount(sv[0], 1, MV_MOUNT_FILE, "tag", "/run/mvrun/root", "virtiofs", NULL, &err),
	    ==, 0);
	wait_fake(pid);
	pid = fake(fake_refuses_mount, sv[1]);
	CHECK_INT(agent_mount(sv[0], 0, 0, NULL, "/mnt", "nosuchfs", NULL, &err), <, 0);
	s = mv_error_string(&err);
	CHECK_STR(s, "mount `nosuchfs` on `/mnt`: No such device");
	wait_fake(pid);
	pid = fake(fake_answers_mount_with_created, sv[1]);
	CHECK_INT(agent_mount(sv[0], 0, 0, NULL, "/mnt", "tmpfs", NULL, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTO);
	wait_fake(pid);
	CHECK_INT(agent_mount(sv[0], 0, 0, "tmpfs", NULL, "tmpfs", NULL, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL); /* no target: nothing sent */
	close(sv[1]);
	CHECK_INT(agent_mount(sv[0], 0, 0, NULL, "/mnt", "tmpfs", NULL, &err), <, 0);
	mv_error_release(&err);
	close(sv[0]);
}

TEST(agent_signal_and_poweroff_messages)
{
	struct mv_msg_signal m;
	struct mv_msg_hdr hdr;
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	int sv[2];

	pair(sv);
	CHECK_INT(agent_signal(sv[0], 9, 15, &err), ==, 0);
	CHECK_INT(agent_recv(sv[1], &hdr, &payload, &err), ==, 1);
	CHECK_INT(hdr.type, ==, MV_MSG_SIGNAL);
	CHECK_INT(hdr.len, ==, sizeof(m));
	memcpy(&m, payload, sizeof(m));
	CHECK_INT(m.proc_id, ==, 9);
	CHECK_INT(m.signo, ==, 15);
	CHECK_INT(agent_signal(sv[0], 9, -1, &err), <, 0);
	CHECK_INT(agent_poweroff(sv[0], &err), ==, 0);
	expect_msg(sv[1], MV_MSG_POWEROFF);
	mv_error_release(&err);
	close(sv[0]);
	close(sv[1]);
}

/* ---- connecting: plain and hybrid vsock ---- */

static int accept_one(int listen_fd)
{
	int fd = accept(listen_fd, NULL, NULL);

	CHECK_INT(fd, >=, 0);
	return fd;
}

/* Read the handshake line byte by byte, as the VMM would. */
static void expect_line(int fd, const char *want)
{
	char line[64];
	size_t n = 0;

	while (n + 1 < sizeof(line) && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	CHECK_STR(line, want);
}

/* The VMM and the agent: the answer line and the agent's OK in one write,
 * so a client that read past the line would lose the OK. */
static void fake_hybrid_ok(int listen_fd)
{
	char buf[64] = "OK 1073741824\n";
	struct mv_msg_hdr ok = {.type = MV_MSG_OK};
	size_t n = strlen(buf);
	int fd = accept_one(listen_fd);

	expect_line(fd, "CONNECT 1025");
	memcpy(buf + n, &ok, sizeof(ok));
	write_bytes(fd, buf, n + sizeof(ok));
	expect_msg(fd, MV_MSG_HELLO);
	close(fd);
}

static void fake_hybrid_refused(int listen_fd)
{
	int fd = accept_one(listen_fd);

	expect_line(fd, "CONNECT 1025");
	close(fd); /* nobody listens on the guest port */
}

static void fake_hybrid_garbage(int listen_fd)
{
	int fd = accept_one(listen_fd);

	expect_line(fd, "CONNECT 1025");
	write_bytes(fd, "NOPE\x1b\n", 6);
	close(fd);
}

static void fake_hybrid_endless(int listen_fd)
{
	char junk[200];
	int fd = accept_one(listen_fd);

	memset(junk, 'O', sizeof(junk));
	expect_line(fd, "CONNECT 1025");
	write_bytes(fd, junk, sizeof(junk));
	close(fd);
}

/* Connect with the fake fn on the other end; agent_connect's result. */
static int connect_to_fake(void (*fn)(int), bool hybrid, mv_error_t *err)
{
	struct tmp_sock t;
	struct agent_addr addr = {.uds_path = t.path, .hybrid = hybrid};
	int listen_fd, fd;
	pid_t pid;

	tmp_sock_init(&t);
	listen_fd = agent_listen_unix(t.path, err);
	CHECK_INT(listen_fd, >=, 0);
	pid = fake(fn, listen_fd);
	fd = agent_connect(&addr, MV_CONN_CONTROL, 0, err);
	wait_fake(pid);
	close(listen_fd);
	tmp_sock_release(&t);
	return fd;
}

TEST(agent_connect_hybrid_handshake)
{
	mv_error_t err = {0};
	int fd = connect_to_fake(fake_hybrid_ok, true, &err);

	CHECK_INT(fd, >=, 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

TEST(agent_connect_hybrid_refused)
{
	mv_error_t err = {0};

	CHECK_INT(connect_to_fake(fake_hybrid_refused, true, &err), <, 0);
	CHECK_INT(err.err, ==, ECONNREFUSED);
	CHECK(strstr(err.msg, "guest port 1025") != NULL);
	mv_error_release(&err);
}

TEST(agent_connect_hybrid_bad_answers)
{
	mv_error_t err = {0};

	CHECK_INT(connect_to_fake(fake_hybrid_garbage, true, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTO);
	CHECK(strstr(err.msg, "`NOPE?`") != NULL);
	CHECK_INT(connect_to_fake(fake_hybrid_endless, true, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTO);
	mv_error_release(&err);
}

static void fake_agent_refuses_hello(int listen_fd)
{
	int fd = accept_one(listen_fd);

	expect_msg(fd, MV_MSG_HELLO);
	write_error(fd, EPROTONOSUPPORT, "protocol version 0 not supported");
	close(fd);
}

TEST(agent_connect_plain_hello_refused)
{
	mv_error_t err = {0};

	CHECK_INT(connect_to_fake(fake_agent_refuses_hello, false, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTONOSUPPORT);
	CHECK_STR(err.msg, "protocol version 0 not supported");
	mv_error_release(&err);
}

TEST(agent_connect_nobody_listening)
{
	struct tmp_sock t;
	struct agent_addr addr = {.uds_path = t.path};
	mv_error_t err = {0};
	char long_path[200];

	tmp_sock_init(&t);
	CHECK_INT(agent_connect(&addr, MV_CONN_CONTROL, 0, &err), <, 0);
	CHECK_INT(err.err, ==, ENOENT);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	addr.uds_path = long_path;
	CHECK_INT(agent_connect(&addr, MV_CONN_CONTROL, 0, &err), <, 0);
	CHECK_INT(err.err, ==, ENAMETOOLONG);
	mv_error_release(&err);
	tmp_sock_release(&t);
}

/* ---- READY ---- */

static const char *ready_path;
static uint32_t ready_type, ready_version;

static void fake_ready(int unused)
{
	struct agent_addr addr = {.uds_path = ready_path};
	struct mv_msg_ready r = {.version = ready_version};
	mv_error_t err = {0};
	int fd = agent_dial(&addr, MV_PORT_READY, &err);

	CHECK_INT(fd, >=, 0);
	write_msg(fd, ready_type, sizeof(r), &r, sizeof(r));
	close(fd);
}

static int ready_with(uint32_t type, uint32_t version, mv_error_t *err)
{
	struct tmp_sock t;
	int listen_fd, ret;
	pid_t pid;

	tmp_sock_init(&t);
	listen_fd = agent_listen_unix(t.path, err);
	CHECK_INT(listen_fd, >=, 0);
	ready_path = t.path;
	ready_type = type;
	ready_version = version;
	pid = fake(fake_ready, -1);
	ret = agent_accept_ready(listen_fd, err);
	wait_fake(pid);
	close(listen_fd);
	tmp_sock_release(&t);
	return ret;
}

TEST(agent_accept_ready_checks_the_version)
{
	mv_error_t err = {0};

	CHECK_INT(ready_with(MV_MSG_READY, MV_PROTOCOL_VERSION, &err), ==, 0);
	CHECK_INT(ready_with(MV_MSG_READY, MV_PROTOCOL_VERSION + 1, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTONOSUPPORT);
	CHECK_INT(ready_with(MV_MSG_OK, MV_PROTOCOL_VERSION, &err), <, 0);
	CHECK_INT(err.err, ==, EPROTO);
	mv_error_release(&err);
}
