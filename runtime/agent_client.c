#include "runtime/agent_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cleanup.h"

#define HYBRID_LINE_MAX 64 /* "OK 4294967295\n" and then some */
#define ERRNO_MAX	4095

/* ---- bytes ---- */

static int send_all(int fd, struct iovec *iov, int iovcnt, mv_error_t *err)
{
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};

	while (msg.msg_iovlen > 0) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mv_error(err, errno, "send to the agent");
		while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Exactly n bytes: returns n, or 0 at end of file before the first byte. */
static ssize_t recv_all(int fd, void *buf, size_t n, mv_error_t *err)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mv_error(err, errno, "read from the agent");
		if (r == 0 && got == 0)
			return 0;
		if (r == 0)
			return mv_error(err, EPROTO,
					"the agent closed the connection inside a message");
		got += (size_t)r;
	}
	return (ssize_t)n;
}

/* The agent's text for a message: control characters become '?'. */
static char *clean_text(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		s[i] = ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) ? '?' : p[i];
	s[n] = '\0';
	return s;
}

/* ---- framing ---- */

int agent_send(int fd, uint32_t type, const void *payload, uint32_t len, mv_error_t *err)
{
	struct mv_msg_hdr hdr = {.type = type, .len = len};
	struct iovec iov[2] = {{.iov_base = &hdr, .iov_len = sizeof(hdr)},
			       {.iov_base = (void *)payload, .iov_len = len}};

	if (len > MV_MSG_MAX)
		return mv_error(err, EMSGSIZE, "message of %u bytes: the limit is %u", len,
				MV_MSG_MAX);
	if (len > 0 && payload == NULL)
		return mv_error(err, EINVAL, "message of %u bytes without a payload", len);
	return send_all(fd, iov, len > 0 ? 2 : 1, err);
}

int agent_recv(int fd, struct mv_msg_hdr *hdr, void **payload, mv_error_t *err)
{
	cleanup_free void *p = NULL;
	ssize_t n;

	*payload = NULL;
	n = recv_all(fd, hdr, sizeof(*hdr), err);
	if (n <= 0)
		return (int)n;
	if (hdr->len > MV_MSG_MAX)
		return mv_error(err, EMSGSIZE,
				"the agent sent a message of %u bytes: the limit is %u", hdr->len,
				MV_MSG_MAX);
	if (hdr->len == 0)
		return 1;
	p = malloc(hdr->len);
	if (p == NULL)
		return mv_error(err, ENOMEM, "message of %u bytes", hdr->len);
	n = recv_all(fd, p, hdr->len, err);
	if (n == 0)
		return mv_error(err, EPROTO, "the agent closed the connection inside a message");
	if (n < 0)
		return -1;
	*payload = steal_ptr(&p);
	return 1;
}

/* An ERROR payload as the agent's errno and message. */
static int decode_error(const void *payload, uint32_t len, mv_error_t *out, mv_error_t *err)
{
	struct mv_msg_error e;
	cleanup_free char *text = NULL;

	if (len < sizeof(e))
		return mv_error(err, EPROTO, "the agent sent an ERROR of %u bytes", len);
	memcpy(&e, payload, sizeof(e));
	if (e.err < 0 || e.err > ERRNO_MAX)
		return mv_error(err, EPROTO, "the agent sent an ERROR with errno %d", e.err);
	text = clean_text((const char *)payload + sizeof(e), len - sizeof(e));
	if (text == NULL)
		return mv_error(err, ENOMEM, "the agent's error");
	mv_error(out, e.err, "%s", text[0] ? text : "the agent failed");
	return 0;
}

/* The payload of each message the agent sends on a CONTROL connection
 * must hold at least this much (more is allowed: later fields). */
static int min_len(uint32_t type)
{
	switch (type) {
	case MV_MSG_OK:
		return 0;
	case MV_MSG_ERROR:
		return sizeof(struct mv_msg_error);
	case MV_MSG_CREATED:
		return sizeof(struct mv_msg_proc);
	case MV_MSG_STARTED:
	case MV_MSG_PREPARED:
		return sizeof(struct mv_msg_started);
	case MV_MSG_EXITED:
		return sizeof(struct mv_msg_exited);
	default:
		return -1;
	}
}

static int decode_event(uint32_t type, const void *p, uint32_t len, struct agent_event *ev,
			mv_error_t *err)
{
	int need = min_len(type);

	if (need < 0)
		return mv_error(err, EPROTO, "the agent sent message type %u", type);
	if (len < (uint32_t)need)
		return mv_error(err, EPROTO, "the agent sent message type %u with %u bytes", type,
				len);
	ev->type = type;
	if (type == MV_MSG_ERROR)
		return decode_error(p, len, &ev->error, err);
	if (type == MV_MSG_CREATED) {
		ev->proc_id = ((const struct mv_msg_proc *)p)->proc_id;
	} else if (type == MV_MSG_STARTED || type == MV_MSG_PREPARED) {
		const struct mv_msg_started *s = p;

		ev->proc_id = s->proc_id;
		ev->pid = s->pid;
	} else if (type == MV_MSG_EXITED) {
		const struct mv_msg_exited *x = p;

		ev->proc_id = x->proc_id;
		ev->status = x->status;
	}
	return 0;
}

int agent_recv_event(int ctl, struct agent_event *ev, mv_error_t *err)
{
	cleanup_free void *payload = NULL;
	struct mv_msg_hdr hdr;
	int ret;

	memset(ev, 0, sizeof(*ev));
	ret = agent_recv(ctl, &hdr, &payload, err);
	if (ret <= 0)
		return ret;
	if (decode_event(hdr.type, payload, hdr.len, ev, err) < 0)
		return -1;
	return 1;
}

void agent_event_release(struct agent_event *ev)
{
	mv_error_release(&ev->error);
}

int agent_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* The next event, which must be of type want; an ERROR is
 * handed over as err.  Returns 0 with *ev, or -1. */
static int expect_event(int ctl, uint32_t want, struct agent_event *ev, mv_error_t *err)
{
	int ret = agent_recv_event(ctl, ev, err);

	if (ret == 0)
		return mv_error(err, ECONNRESET, "the agent closed the control connection");
	if (ret < 0)
		return -1;
	if (ev->type == MV_MSG_ERROR) {
		mv_error(err, ev->error.err, "%s", ev->error.msg);
		agent_event_release(ev);
		return -1;
	}
	if (ev->type != want)
		return mv_error(err, EPROTO, "the agent sent message type %u, expected %u",
				ev->type, want);
	return 0;
}

/* ---- connections ---- */

static int hybrid_read_line(int fd, char *line, size_t size, mv_error_t *err)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, line + n, 1); /* never past the line: the stream follows */

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mv_error(err, errno, "read the hybrid vsock answer");
		if (r == 0)
			return n == 0 ? 0 : mv_error(err, EPROTO, "hybrid vsock: truncated answer");
		if (line[n] == '\n') {
			line[n] = '\0';
			return 1;
		}
		n++;
	}
	return mv_error(err, EPROTO, "hybrid vsock: answer longer than %zu bytes", size - 1);
}

/* "CONNECT <port>\n" -> "OK <host port>\n"; the VMM closes the socket when
 * nobody listens on the port in the guest. */
static int hybrid_handshake(int fd, uint32_t port, mv_error_t *err)
{
	char line[HYBRID_LINE_MAX];
	struct iovec iov = {.iov_base = line};
	cleanup_free char *shown = NULL;
	int ret;

	iov.iov_len = (size_t)snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (send_all(fd, &iov, 1, err) < 0)
		return -1;
	ret = hybrid_read_line(fd, line, sizeof(line), err);
	if (ret < 0)
		return -1;
	if (ret == 0)
		return mv_error(err, ECONNREFUSED, "guest port %u", port);
	if (strncmp(line, "OK ", 3) == 0 && line[3] != '\0' &&
	    strspn(line + 3, "0123456789") == strlen(line + 3))
		return 0;
	shown = clean_text(line, strlen(line));
	return mv_error(err, EPROTO, "hybrid vsock: unexpected answer `%s`", shown ? shown : "");
}

static int unix_address(const char *path, struct sockaddr_un *addr, mv_error_t *err)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (path == NULL || strlen(path) >= sizeof(addr->sun_path))
		return mv_error(err, ENAMETOOLONG, "socket path `%s`", path ? path : "");
	strcpy(addr->sun_path, path);
	return 0;
}

int agent_dial(const struct agent_addr *a, uint32_t port, mv_error_t *err)
{
	struct sockaddr_un addr;
	cleanup_close int fd = -1;

	if (unix_address(a->uds_path, &addr, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mv_error(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return mv_error(err, errno, "connect to `%s`", a->uds_path);
	if (a->hybrid && hybrid_handshake(fd, port, err) < 0)
		return mv_error_wrap(err, "connect to `%s`", a->uds_path);
	return steal_fd(&fd);
}

int agent_connect(const struct agent_addr *a, uint32_t kind, uint64_t proc_id, mv_error_t *err)
{
	struct mv_msg_hello hello = {
	    .version = MV_PROTOCOL_VERSION, .kind = kind, .proc_id = proc_id};
	struct agent_event ev;
	cleanup_close int fd = agent_dial(a, MV_PORT_AGENT, err);

	if (fd < 0)
		return -1;
	if (agent_send(fd, MV_MSG_HELLO, &hello, sizeof(hello), err) < 0 ||
	    expect_event(fd, MV_MSG_OK, &ev, err) < 0)
		return -1;
	return steal_fd(&fd);
}

/* ---- requests ---- */

/* Add strlen(s) + 1 to *total, keeping it within MV_MSG_MAX. */
static int add_len(size_t *total, const char *s, mv_error_t *err)
{
	*total += strnlen(s, MV_MSG_MAX) + 1;
	if (*total > MV_MSG_MAX)
		return mv_error(err, E2BIG, "RUN: over %u bytes of arguments and environment",
				MV_MSG_MAX);
	return 0;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static char *put_string(char *p, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(p, s, n);
	return p + n;
}

int agent_encode_run(const struct agent_run_req *req, void **payload, uint32_t *len,
		     mv_error_t *err)
{
	static const char *const no_env[] = {NULL};
	const char *const *env = req->env ? req->env : no_env;
	const char *cwd = or_empty(req->cwd), *root = or_empty(req->root);
	struct mv_msg_run h = {.flags = req->flags, .uid = req->uid, .gid = req->gid};
	size_t total = sizeof(h);
	char *buf, *p;

	if (req->argv == NULL || req->argv[0] == NULL || req->argv[0][0] == '\0')
		return mv_error(err, EINVAL, "RUN: no program to run");
	if (root[0])
		h.flags |= MV_RUN_ROOT;
	else if (h.flags & MV_RUN_ROOT)
		return mv_error(err, EINVAL, "RUN: MV_RUN_ROOT without a root");
	if (add_len(&total, cwd, err) < 0 || (root[0] && add_len(&total, root, err) < 0))
		return -1;
	for (; req->argv[h.argc]; h.argc++)
		if (add_len(&total, req->argv[h.argc], err) < 0)
			return -1;
	for (; env[h.envc]; h.envc++)
		if (add_len(&total, env[h.envc], err) < 0)
			return -1;
	buf = malloc(total);
	if (buf == NULL)
		return mv_error(err, ENOMEM, "RUN of %zu bytes", total);
	memcpy(buf, &h, sizeof(h));
	p = put_string(buf + sizeof(h), cwd);
	if (root[0])
		p = put_string(p, root);
	for (uint32_t i = 0; i < h.argc; i++)
		p = put_string(p, req->argv[i]);
	for (uint32_t i = 0; i < h.envc; i++)
		p = put_string(p, env[i]);
	*payload = buf;
	*len = (uint32_t)total;
	return 0;
}

int agent_run(int ctl, const struct agent_run_req *req, uint64_t *proc_id, mv_error_t *err)
{
	cleanup_free void *payload = NULL;
	struct agent_event ev;
	uint32_t len;

	if (agent_encode_run(req, &payload, &len, err) < 0 ||
	    agent_send(ctl, MV_MSG_RUN, payload, len, err) < 0 ||
	    expect_event(ctl, MV_MSG_CREATED, &ev, err) < 0)
		return -1;
	*proc_id = ev.proc_id;
	return 0;
}

int agent_wait_started(int ctl, uint64_t proc_id, uint32_t *pid, mv_error_t *err)
{
	struct agent_event ev;

	if (expect_event(ctl, MV_MSG_STARTED, &ev, err) < 0)
		return -1;
	if (ev.proc_id != proc_id)
		return mv_error(err, EPROTO, "the agent started process %llu, expected %llu",
				(unsigned long long)ev.proc_id, (unsigned long long)proc_id);
	*pid = ev.pid;
	return 0;
}

int agent_encode_mount(uint64_t flags, uint32_t options, const char *source, const char *target,
		       const char *fstype, const char *data, void **payload, uint32_t *len,
		       mv_error_t *err)
{
	const char *strings[4] = {or_empty(source), or_empty(target), or_empty(fstype),
				  or_empty(data)};
	struct mv_msg_mount h = {.flags = flags, .options = options};
	size_t total = sizeof(h);
	char *buf, *p;

	if (strings[1][0] == '\0')
		return mv_error(err, EINVAL, "MOUNT: no target");
	for (int i = 0; i < 4; i++) {
		total += strnlen(strings[i], MV_MSG_MAX) + 1;
		if (total > MV_MSG_MAX)
			return mv_error(err, E2BIG, "MOUNT: over %u bytes of strings", MV_MSG_MAX);
	}
	buf = malloc(total);
	if (buf == NULL)
		return mv_error(err, ENOMEM, "MOUNT of %zu bytes", total);
	memcpy(buf, &h, sizeof(h));
	p = buf + sizeof(h);
	for (int i = 0; i < 4; i++)
		p = put_string(p, strings[i]);
	*payload = buf;
	*len = (uint32_t)total;
	return 0;
}

int agent_mount(int ctl, uint64_t flags, uint32_t options, const char *source, const char *target,
		const char *fstype, const char *data, mv_error_t *err)
{
	cleanup_free void *payload = NULL;
	struct agent_event ev;
	uint32_t len;

	if (agent_encode_mount(flags, options, source, target, fstype, data, &payload, &len, err) <
		0 ||
	    agent_send(ctl, MV_MSG_MOUNT, payload, len, err) < 0 ||
	    expect_event(ctl, MV_MSG_OK, &ev, err) < 0)
		return -1;
	return 0;
}

int agent_signal(int ctl, uint64_t proc_id, int signo, mv_error_t *err)
{
	struct mv_msg_signal m = {.proc_id = proc_id, .signo = (uint32_t)signo};

	if (signo < 0)
		return mv_error(err, EINVAL, "signal %d", signo);
	return agent_send(ctl, MV_MSG_SIGNAL, &m, sizeof(m), err);
}

int agent_poweroff(int ctl, mv_error_t *err)
{
	return agent_send(ctl, MV_MSG_POWEROFF, NULL, 0, err);
}

/* ---- v2: the OCI container ---- */

#define EXEC_FLAGS_KNOWN                                                                           \
	(MV_RUN_STDIN | MV_RUN_STDOUT | MV_RUN_STDERR | MV_EXEC_INIT | MV_EXEC_DEFER)

int agent_container(int ctl, const char *json, size_t len, mv_error_t *err)
{
	struct agent_event ev;

	if (len == 0)
		return mv_error(err, EINVAL, "CONTAINER: no config");
	if (len > MV_MSG_MAX)
		return mv_error(err, E2BIG, "CONTAINER: a config of %zu bytes: the limit is %u",
				len, MV_MSG_MAX);
	if (agent_send(ctl, MV_MSG_CONTAINER, json, (uint32_t)len, err) < 0 ||
	    expect_event(ctl, MV_MSG_OK, &ev, err) < 0)
		return -1;
	return 0;
}

int agent_encode_exec(uint32_t flags, const char *json, size_t len, void **payload,
		      uint32_t *payload_len, mv_error_t *err)
{
	struct mv_msg_exec h = {.flags = flags};
	char *buf;

	*payload = NULL;
	if (flags & ~EXEC_FLAGS_KNOWN)
		return mv_error(err, EINVAL, "EXEC: unknown flags %#x", flags & ~EXEC_FLAGS_KNOWN);
	if (len == 0)
		return mv_error(err, EINVAL, "EXEC: no process");
	if (len > MV_MSG_MAX - sizeof(h))
		return mv_error(err, E2BIG, "EXEC: a process of %zu bytes: the limit is %zu", len,
				MV_MSG_MAX - sizeof(h));
	buf = malloc(sizeof(h) + len);
	if (buf == NULL)
		return mv_error(err, ENOMEM, "EXEC of %zu bytes", len);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), json, len);
	*payload = buf;
	*payload_len = (uint32_t)(sizeof(h) + len);
	return 0;
}

int agent_exec(int ctl, uint32_t flags, const char *json, size_t len, uint64_t *proc_id,
	       mv_error_t *err)
{
	cleanup_free void *payload = NULL;
	struct agent_event ev;
	uint32_t plen;

	if (agent_encode_exec(flags, json, len, &payload, &plen, err) < 0 ||
	    agent_send(ctl, MV_MSG_EXEC, payload, plen, err) < 0 ||
	    expect_event(ctl, MV_MSG_CREATED, &ev, err) < 0)
		return -1;
	*proc_id = ev.proc_id;
	return 0;
}

int agent_wait_prepared(int ctl, uint64_t proc_id, uint32_t *pid, mv_error_t *err)
{
	struct agent_event ev;

	if (expect_event(ctl, MV_MSG_PREPARED, &ev, err) < 0)
		return -1;
	if (ev.proc_id != proc_id)
		return mv_error(err, EPROTO, "the agent prepared process %llu, expected %llu",
				(unsigned long long)ev.proc_id, (unsigned long long)proc_id);
	*pid = ev.pid;
	return 0;
}

int agent_start(int ctl, uint64_t proc_id, mv_error_t *err)
{
	struct mv_msg_proc m = {.proc_id = proc_id};
	struct agent_event ev;

	if (agent_send(ctl, MV_MSG_START, &m, sizeof(m), err) < 0 ||
	    expect_event(ctl, MV_MSG_OK, &ev, err) < 0)
		return -1;
	return 0;
}

int agent_resize(int ctl, uint64_t proc_id, unsigned rows, unsigned cols, mv_error_t *err)
{
	struct mv_msg_resize m = {
	    .proc_id = proc_id, .rows = (uint16_t)rows, .cols = (uint16_t)cols};

	if (rows == 0 || cols == 0 || rows > UINT16_MAX || cols > UINT16_MAX)
		return mv_error(err, EINVAL, "RESIZE: %ux%u is not a window size", rows, cols);
	return agent_send(ctl, MV_MSG_RESIZE, &m, sizeof(m), err);
}

int agent_signal_all(int ctl, int signo, mv_error_t *err)
{
	struct mv_msg_signal m = {.signo = (uint32_t)signo, .flags = MV_SIGNAL_ALL};

	if (signo < 0)
		return mv_error(err, EINVAL, "signal %d", signo);
	return agent_send(ctl, MV_MSG_SIGNAL, &m, sizeof(m), err);
}

/* ---- READY ---- */

int agent_listen_unix(const char *path, mv_error_t *err)
{
	struct sockaddr_un addr;
	cleanup_close int fd = -1;

	if (unix_address(path, &addr, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mv_error(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0)
		return mv_error(err, errno, "listen on `%s`", path);
	return steal_fd(&fd);
}

int agent_accept_ready(int listen_fd, mv_error_t *err)
{
	cleanup_free void *payload = NULL;
	struct mv_msg_ready ready;
	struct mv_msg_hdr hdr;
	cleanup_close int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	int ret;

	if (fd < 0)
		return mv_error(err, errno, "accept the agent's READY");
	ret = agent_recv(fd, &hdr, &payload, err);
	if (ret == 0)
		return mv_error(err, EPROTO, "the agent closed its READY connection");
	if (ret < 0)
		return -1;
	if (hdr.type != MV_MSG_READY || hdr.len < sizeof(ready))
		return mv_error(err, EPROTO, "expected READY, got message type %u with %u bytes",
				hdr.type, hdr.len);
	memcpy(&ready, payload, sizeof(ready));
	if (ready.version != MV_PROTOCOL_VERSION)
		return mv_error(err, EPROTONOSUPPORT,
				"the agent speaks protocol version %u, mvrun speaks %u",
				ready.version, MV_PROTOCOL_VERSION);
	return 0;
}
