/* A process's stdin, stdout or stderr: bytes copied between a pipe and the
 * host's stream connection through a bounded buffer, never blocking.  A
 * full buffer stops reading from the source, so a slow reader slows the
 * writer down instead of growing memory. */
#include "agent/agent.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void stream_sock_event(struct agent *a, struct watch *w, uint32_t events);
static void stream_pipe_event(struct agent *a, struct watch *w, uint32_t events);

static bool is_input(const struct stream *s)
{
	return s->kind == MV_CONN_STDIN;
}

static struct watch *source(struct stream *s)
{
	return is_input(s) ? &s->sock : &s->pipe;
}

static struct watch *sink(struct stream *s)
{
	return is_input(s) ? &s->pipe : &s->sock;
}

void stream_init(struct stream *s, struct proc *p, uint32_t kind)
{
	memset(s, 0, sizeof(*s));
	s->sock.fd = -1;
	s->sock.fn = stream_sock_event;
	s->pipe.fd = -1;
	s->pipe.fn = stream_pipe_event;
	s->kind = kind;
	s->proc = p;
}

int stream_attach(struct agent *a, struct stream *s, int fd, mv_error_t *err)
{
	struct mv_msg_hdr ok = {.type = MV_MSG_OK, .len = 0};
	ssize_t n;

	s->buf = malloc(STREAM_BUF);
	if (s->buf == NULL)
		return mv_error(err, ENOMEM, "stream buffer");
	/* A fresh connection's send buffer is empty: the 8 bytes go at once,
	 * and what follows on the connection is the stream's own bytes. */
	n = send(fd, &ok, sizeof(ok), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(ok)) {
		free(s->buf);
		s->buf = NULL;
		return mv_error(err, n < 0 ? errno : EAGAIN, "answer a stream's HELLO");
	}
	s->sock.fd = fd;
	return 0;
}

/* The interest each end needs now; an end with none leaves the epoll set,
 * so a hung-up pipe cannot wake the loop over and over. */
static void stream_update(struct agent *a, struct stream *s)
{
	struct watch *in = source(s), *out = sink(s);
	uint32_t in_events = 0, out_events = 0;

	if (in->fd >= 0 && out->fd >= 0 && !s->src_eof && s->len < STREAM_BUF)
		in_events = EPOLLIN;
	if (out->fd >= 0 && s->len > 0)
		out_events = EPOLLOUT;
	if ((in->fd >= 0 && watch_set(a, in, in_events) < 0) ||
	    (out->fd >= 0 && watch_set(a, out, out_events) < 0))
		agent_log("epoll on a stream: %s", strerror(errno));
}

void stream_start(struct agent *a, struct stream *s, int pipe_fd)
{
	s->pipe.fd = pipe_fd;
	stream_update(a, s);
}

static void source_ended(struct agent *a, struct stream *s)
{
	s->src_eof = true;
	s->draining = false;
	watch_close(a, source(s));
}

/* The sink's reader went away: what is buffered or still to come is lost. */
static void sink_broken(struct agent *a, struct stream *s)
{
	s->len = s->off = 0;
	source_ended(a, s);
	watch_close(a, sink(s));
}

static void stream_fill(struct agent *a, struct stream *s)
{
	size_t room;
	ssize_t n;

	if (s->off > 0) {
		memmove(s->buf, s->buf + s->off, s->len);
		s->off = 0;
	}
	room = STREAM_BUF - s->len;
	if (s->draining && room > s->drain_left)
		room = s->drain_left;
	n = read(source(s)->fd, s->buf + s->len, room);
	if (n > 0) {
		s->len += (size_t)n;
		if (s->draining && (s->drain_left -= (size_t)n) == 0)
			source_ended(a, s);
	} else if (n == 0 || s->draining || (errno != EAGAIN && errno != EINTR)) {
		/* after the process was reaped, EAGAIN ends it too: a
		 * grandchild holding the pipe open must not keep it going */
		source_ended(a, s);
	}
}

static void stream_flush(struct agent *a, struct stream *s)
{
	int fd = sink(s)->fd;
	ssize_t n;

	if (is_input(s))
		n = write(fd, s->buf + s->off, s->len); /* SIGPIPE is ignored */
	else
		n = send(fd, s->buf + s->off, s->len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0) {
		s->off += (size_t)n;
		s->len -= (size_t)n;
		if (s->len == 0)
			s->off = 0;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		sink_broken(a, s);
	}
}

/* Once the source ended and the buffer is out, the sink ends too: the
 * process reads EOF on stdin, the host reads EOF on stdout/stderr. */
static void stream_finish(struct agent *a, struct stream *s)
{
	struct watch *out = sink(s);

	if (!s->src_eof || s->len > 0 || out->fd < 0)
		return;
	if (!is_input(s))
		shutdown(out->fd, SHUT_WR);
	watch_close(a, out);
}

static void stream_event(struct agent *a, struct stream *s, struct watch *w)
{
	if (w == source(s))
		stream_fill(a, s);
	else if (s->len > 0)
		stream_flush(a, s);
	stream_finish(a, s);
	stream_update(a, s);
	if (stream_done(s))
		proc_check_done(a, s->proc); /* may free s */
}

static void stream_sock_event(struct agent *a, struct watch *w, uint32_t events)
{
	stream_event(a, container_of(w, struct stream, sock), w);
}

static void stream_pipe_event(struct agent *a, struct watch *w, uint32_t events)
{
	stream_event(a, container_of(w, struct stream, pipe), w);
}

/* POLLHUP on a pty master: every fd of its slave is closed. */
static bool pty_slave_closed(int master)
{
	struct pollfd p = {.fd = master, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

void stream_process_reaped(struct agent *a, struct stream *s)
{
	int avail = 0;

	if (is_input(s)) {
		s->len = s->off = 0;
		watch_close(a, &s->sock);
		watch_close(a, &s->pipe);
		return;
	}
	if (s->pipe.fd >= 0 && !s->src_eof && s->pty && pty_slave_closed(s->pipe.fd)) {
		/* nobody else holds the terminal: read to its EIO, which the
		 * kernel gives only after what is in flight on the way from
		 * the slave (FIONREAD does not count that yet) */
	} else if (s->pipe.fd >= 0 && !s->src_eof) {
		if (ioctl(s->pipe.fd, FIONREAD, &avail) < 0 || avail <= 0) {
			source_ended(a, s);
		} else {
			s->draining = true;
			s->drain_left = (size_t)avail;
		}
	}
	stream_finish(a, s);
	stream_update(a, s);
}

bool stream_done(const struct stream *s)
{
	return s->sock.fd < 0 && s->pipe.fd < 0;
}

void stream_release(struct agent *a, struct stream *s)
{
	watch_close(a, &s->sock);
	watch_close(a, &s->pipe);
	free(s->buf);
	s->buf = NULL;
}
