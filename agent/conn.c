/* Connections on MV_PORT_AGENT: framing, the HELLO, and CONTROL requests.
 * Everything read here comes from the host and is checked before use; a
 * malformed message gets an ERROR, and the connection is closed only when
 * the framing itself cannot be trusted any more. */
#include "agent/agent.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define OUT_HIGH (64 * 1024) /* stop reading requests while this much is queued */

enum read_status { READ_MORE, READ_DONE, READ_EOF, READ_FAILED, READ_TOO_BIG };

static void conn_event(struct agent *a, struct watch *w, uint32_t events);

/* ---- reading one message ---- */

static enum read_status read_failed(ssize_t n)
{
	if (n == 0)
		return READ_EOF;
	return (errno == EAGAIN || errno == EINTR) ? READ_MORE : READ_FAILED;
}

static enum read_status msg_read_header(int fd, struct msg_in *in)
{
	ssize_t n = read(fd, (char *)&in->hdr + in->got, sizeof(in->hdr) - in->got);

	if (n <= 0)
		return read_failed(n);
	in->got += (size_t)n;
	if (in->got < sizeof(in->hdr))
		return READ_MORE;
	if (in->hdr.len > MV_MSG_MAX)
		return READ_TOO_BIG;
	if (in->hdr.len == 0)
		return READ_DONE;
	in->payload = malloc(in->hdr.len);
	return in->payload ? READ_MORE : READ_FAILED;
}

/* Reads exactly one message and never past it: after a stream's HELLO the
 * same connection carries raw bytes. */
static enum read_status msg_read(int fd, struct msg_in *in)
{
	size_t have;
	ssize_t n;

	if (in->got < sizeof(in->hdr))
		return msg_read_header(fd, in);
	have = in->got - sizeof(in->hdr);
	n = read(fd, in->payload + have, in->hdr.len - have);
	if (n <= 0)
		return read_failed(n);
	in->got += (size_t)n;
	return in->got == sizeof(in->hdr) + in->hdr.len ? READ_DONE : READ_MORE;
}

static void msg_reset(struct msg_in *in)
{
	free(in->payload);
	memset(in, 0, sizeof(*in));
}

/* ---- writing ---- */

static int out_append(struct out_buf *b, const void *p, size_t n)
{
	if (b->off > 0 && b->off + b->len + n > b->cap) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *data;

		while (cap < b->len + n)
			cap *= 2;
		data = realloc(b->data, cap);
		if (data == NULL)
			return -1;
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

static int out_flush(int fd, struct out_buf *b)
{
	while (b->len > 0) {
		ssize_t n = send(fd, b->data + b->off, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		b->off += (size_t)n;
		b->len -= (size_t)n;
	}
	b->off = 0;
	return 0;
}

/* ---- the connection object ---- */

static uint32_t conn_interest(const struct conn *c)
{
	uint32_t events = 0;

	if (!c->closing && c->out.len < OUT_HIGH)
		events |= EPOLLIN;
	if (c->out.len > 0 || c->broken)
		events |= EPOLLOUT; /* a broken one is closed from its next event */
	return events;
}

static void conn_update(struct agent *a, struct conn *c)
{
	if (watch_set(a, &c->w, conn_interest(c)) < 0)
		agent_log("epoll on a connection: %s", strerror(errno));
}

/* Forget c; its fd is closed unless it was handed on (fd -1). */
static void conn_close(struct agent *a, struct conn *c)
{
	for (struct conn **pp = &a->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->kind == MV_CONN_CONTROL)
		proc_control_closed(a, c);
	watch_close(a, &c->w);
	msg_reset(&c->in);
	free(c->out.data);
	free(c);
}

void conn_accept(struct agent *a, struct watch *w, uint32_t events)
{
	int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct conn *c;

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			agent_log("accept: %s", strerror(errno));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->w.fd = fd;
	c->w.fn = conn_event;
	c->next = a->conns;
	a->conns = c;
	conn_update(a, c);
}

void conn_send(struct agent *a, struct conn *c, uint32_t type, const void *payload, uint32_t len)
{
	struct mv_msg_hdr hdr = {.type = type, .len = len};

	if (c->broken)
		return;
	if (out_append(&c->out, &hdr, sizeof(hdr)) < 0 ||
	    (len > 0 && out_append(&c->out, payload, len) < 0))
		c->broken = true;
	conn_update(a, c);
}

static void conn_send_error_text(struct agent *a, struct conn *c, int errnum, const char *text)
{
	size_t n = strlen(text);
	struct mv_msg_error e = {.err = errnum};
	char *msg;

	if (n > MV_MSG_MAX - sizeof(e))
		n = MV_MSG_MAX - sizeof(e);
	msg = malloc(sizeof(e) + n);
	if (msg == NULL) {
		conn_send(a, c, MV_MSG_ERROR, &e, sizeof(e));
		return;
	}
	memcpy(msg, &e, sizeof(e));
	memcpy(msg + sizeof(e), text, n);
	conn_send(a, c, MV_MSG_ERROR, msg, (uint32_t)(sizeof(e) + n));
	free(msg);
}

void conn_send_error(struct agent *a, struct conn *c, int errnum, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	conn_send_error_text(a, c, errnum, text ? text : "out of memory");
	free(text);
}

void conn_send_mv_error(struct agent *a, struct conn *c, const mv_error_t *err)
{
	conn_send_error_text(a, c, err->err, err->msg ? err->msg : "unknown error");
}

void conn_answer(struct agent *a, struct conn *c, mv_error_t *err)
{
	if (err->msg)
		conn_send_mv_error(a, c, err);
	else
		conn_send(a, c, MV_MSG_OK, NULL, 0);
	mv_error_release(err);
}

/* Answer with an ERROR, then close once it is sent. */
static void conn_refuse(struct agent *a, struct conn *c, const mv_error_t *err)
{
	conn_send_mv_error(a, c, err);
	c->closing = true;
}

/* ---- dispatch ---- */

/* A stream's HELLO: the fd moves to the process; false when refused. */
static bool conn_hand_to_stream(struct agent *a, struct conn *c, const struct mv_msg_hello *h,
				mv_error_t *err)
{
	watch_set(a, &c->w, 0); /* the stream registers the fd itself */
	if (proc_attach(a, c->w.fd, h, err) < 0)
		return false;
	c->w.fd = -1;
	c->w.events = 0;
	conn_close(a, c);
	return true;
}

/* The first message.  Returns true when c is gone. */
static bool conn_hello(struct agent *a, struct conn *c)
{
	struct mv_msg_hello h;
	mv_error_t err = {0};
	bool gone = false;

	if (c->in.hdr.type != MV_MSG_HELLO) {
		mv_error(&err, EPROTO, "expected HELLO first, got message type %u", c->in.hdr.type);
	} else if (c->in.hdr.len < sizeof(h)) {
		mv_error(&err, EPROTO, "HELLO: short payload (%u bytes)", c->in.hdr.len);
	} else {
		memcpy(&h, c->in.payload, sizeof(h));
		if (h.version != MV_PROTOCOL_VERSION)
			mv_error(&err, EPROTONOSUPPORT,
				 "protocol version %u not supported: the agent speaks %u",
				 h.version, MV_PROTOCOL_VERSION);
		else if (h.kind == MV_CONN_CONTROL)
			c->kind = MV_CONN_CONTROL;
		else if (h.kind >= MV_CONN_STDIN && h.kind <= MV_CONN_STDERR)
			gone = conn_hand_to_stream(a, c, &h, &err);
		else
			mv_error(&err, EINVAL, "unknown connection kind %u", h.kind);
	}
	if (gone)
		return true;
	if (err.msg)
		conn_refuse(a, c, &err);
	else
		conn_send(a, c, MV_MSG_OK, NULL, 0);
	mv_error_release(&err);
	return false;
}

static void conn_request(struct agent *a, struct conn *c)
{
	struct msg_in *in = &c->in;

	switch (in->hdr.type) {
	case MV_MSG_RUN:
		proc_run(a, c, in->payload, in->hdr.len);
		in->payload = NULL; /* proc_run owns it now */
		break;
	case MV_MSG_SIGNAL:
		proc_signal(a, c, in->payload, in->hdr.len);
		break;
	case MV_MSG_MOUNT:
		mount_request(a, c, in->payload, in->hdr.len);
		break;
	case MV_MSG_CONTAINER:
		container_request(a, c, in->payload, in->hdr.len);
		break;
	case MV_MSG_EXEC:
		proc_exec(a, c, in->payload, in->hdr.len);
		break;
	case MV_MSG_START:
		proc_start_request(a, c, in->payload, in->hdr.len);
		break;
	case MV_MSG_RESIZE:
		proc_resize(a, c, in->payload, in->hdr.len);
		break;
	case MV_MSG_POWEROFF:
		agent_poweroff(a);
	case MV_MSG_HELLO:
		conn_send_error(a, c, EPROTO, "HELLO again on a control connection");
		break;
	default:
		conn_send_error(a, c, EPROTO, "unexpected message type %u on a control connection",
				in->hdr.type);
	}
}

/* Read (part of) one message and act on it.  Returns true when c is gone. */
static bool conn_read(struct agent *a, struct conn *c)
{
	mv_error_t err = {0};
	bool gone = false;

	switch (msg_read(c->w.fd, &c->in)) {
	case READ_MORE:
		return false;
	case READ_EOF:
	case READ_FAILED:
		conn_close(a, c);
		return true;
	case READ_TOO_BIG:
		mv_error(&err, EMSGSIZE, "message of %u bytes: the limit is %u", c->in.hdr.len,
			 MV_MSG_MAX);
		conn_refuse(a, c, &err);
		mv_error_release(&err);
		return false;
	case READ_DONE:
		break;
	}
	if (c->kind == 0)
		gone = conn_hello(a, c);
	else
		conn_request(a, c);
	if (!gone)
		msg_reset(&c->in);
	return gone;
}

static void conn_event(struct agent *a, struct watch *w, uint32_t events)
{
	struct conn *c = container_of(w, struct conn, w);

	if (c->broken || (c->out.len > 0 && out_flush(w->fd, &c->out) < 0) ||
	    (c->closing && c->out.len == 0)) {
		conn_close(a, c);
		return;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->w.events & EPOLLIN)) {
		if (conn_read(a, c))
			return;
	}
	conn_update(a, c);
}
