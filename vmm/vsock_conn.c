/* One vsock stream connection between a guest socket and a host Unix
 * socket: the "CONNECT <port>\n" / "OK <port>\n" handshake of hybrid vsock,
 * credit-based flow control both ways, half-close and teardown.
 *
 * host -> guest: bytes are read from the Unix socket straight into an rx
 * buffer of the guest, only while the guest has credit and rx buffers; else
 * the socket is not watched for input until a CREDIT_UPDATE or new rx
 * buffers come.  EOF becomes SHUTDOWN(SEND).
 * guest -> host: bytes are written to the Unix socket at once; what it does
 * not take is kept (at most VSOCK_BUF_ALLOC, the credit we give) and
 * flushed on EPOLLOUT.  fwd_cnt counts what the socket took.  SHUTDOWN(SEND)
 * becomes shutdown(SHUT_WR) once the buffer is empty.
 *
 * Every socket is watched with EPOLLONESHOT and re-armed for what it waits
 * for after each event, so a hang-up that cannot be acted on yet (no credit)
 * does not wake the loop again and again. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/vsock_conn.h"

#define VSOCK_BUF_MIN 4096

static void conn_event(struct ev_handler *h, uint32_t events);

static bool wants_read(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_ESTABLISHED && !c->host_eof &&
	       !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV);
}

/* What we may still send: the guest's buffer less what is in flight. */
static uint32_t credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static void deadline(struct vsock_conn *c, unsigned ms)
{
	c->deadline_ms = vsock_now_ms() + ms;
	vsock_schedule(c->v, c->deadline_ms);
}

static void wait_rx(struct vsock_conn *c)
{
	if (!c->in_wait) {
		TAILQ_INSERT_TAIL(&c->v->wait, c, wait_entry);
		c->in_wait = true;
	}
}

static void unwait_rx(struct vsock_conn *c)
{
	if (c->in_wait) {
		TAILQ_REMOVE(&c->v->wait, c, wait_entry);
		c->in_wait = false;
	}
}

static void maybe_free(struct vsock_conn *c)
{
	struct vsock *v = c->v;

	if (c->state != VSOCK_CONN_CLOSED || c->ctrl || (c->registered && !c->released))
		return;
	TAILQ_REMOVE(&v->conns, c, all_entry);
	v->nconns--;
	free(c->buf);
	free(c);
}

/* Close the socket; the memory goes once the loop released the handler
 * and the last control packet (an RST) went out. */
static void conn_close(struct vsock_conn *c)
{
	if (c->h.fd >= 0) {
		ev_del(c->v->loop, &c->h);
		close(c->h.fd);
		c->h.fd = -1;
	}
	c->state = VSOCK_CONN_CLOSED;
	c->deadline_ms = 0;
	c->armed = false;
	unwait_rx(c);
	vsock_hash_del(c->v, c);
	free(c->buf);
	c->buf = NULL;
	c->buf_start = c->buf_len = c->buf_cap = 0;
}

/* Abort: RST to the guest if it knows the connection, close the socket. */
void vsock_conn_reset(struct vsock_conn *c)
{
	bool known = c->state == VSOCK_CONN_ESTABLISHED ||
		     (c->state == VSOCK_CONN_REQUEST && c->request_sent);

	if (known)
		vsock_ctrl(c->v, c, VSOCK_CTRL_RST);
	else if (c->state != VSOCK_CONN_LINGER)
		vsock_ctrl_clear(c->v, c);
	conn_close(c);
}

/* The guest forgot the connection (its RST, or a device reset). */
void vsock_conn_drop(struct vsock_conn *c)
{
	vsock_ctrl_clear(c->v, c);
	vsock_hash_del(c->v, c);
	if (c->state != VSOCK_CONN_LINGER)
		conn_close(c);
	maybe_free(c);
}

/* Both sides are done: the guest waits for our RST; whatever it sent
 * that the socket did not take yet is still written (for a while). */
static void conn_finish(struct vsock_conn *c)
{
	vsock_hash_del(c->v, c);
	vsock_ctrl(c->v, c, VSOCK_CTRL_RST);
	unwait_rx(c);
	if (c->buf_len == 0) {
		conn_close(c);
		return;
	}
	c->state = VSOCK_CONN_LINGER;
	deadline(c, VSOCK_LINGER_MS);
}

static void check_done(struct vsock_conn *c)
{
	const uint32_t both = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;

	if (c->state != VSOCK_CONN_ESTABLISHED)
		return;
	if (c->guest_shut == both || (c->wr_shut && c->host_eof))
		conn_finish(c);
}

void vsock_conn_sent(struct vsock_conn *c)
{
	maybe_free(c);
}

void vsock_conn_expire(struct vsock_conn *c)
{
	switch (c->state) {
	case VSOCK_CONN_CMD:	/* the host never said where to */
	case VSOCK_CONN_LINGER: /* the host does not read */
		conn_close(c);
		break;
	case VSOCK_CONN_REQUEST: /* the guest never answered */
		vsock_conn_reset(c);
		break;
	default:
		break;
	}
}

/* Watch the socket for what the connection waits for now. */
void vsock_conn_arm(struct vsock_conn *c)
{
	uint32_t want = 0;
	bool arm = true;

	switch (c->state) {
	case VSOCK_CONN_CMD:
		want = EPOLLIN;
		break;
	case VSOCK_CONN_ESTABLISHED:
		if (wants_read(c)) {
			if (c->credit_stalled || c->in_wait)
				arm = false; /* resumed by credit or rx buffers */
			else
				want |= EPOLLIN;
		}
		if (c->buf_len) {
			want |= EPOLLOUT;
			arm = true;
		}
		/* want == 0: only a hang-up (EPOLLHUP is always reported) */
		break;
	case VSOCK_CONN_LINGER:
		want = EPOLLOUT;
		break;
	default:
		return;
	}
	if (!arm || (c->armed && c->events == want))
		return;
	if (ev_mod(c->v->loop, &c->h, want | EPOLLONESHOT) < 0) {
		vsock_conn_reset(c);
		return;
	}
	c->armed = true;
	c->events = want;
}

static void conn_release(struct ev_handler *h)
{
	struct vsock_conn *c = (struct vsock_conn *)h;
	struct vsock *v = c->v;

	if (v->destroyed) {
		free(c->buf);
		free(c);
	} else {
		virtio_lock(v->d);
		c->released = true;
		maybe_free(c);
		virtio_unlock(v->d);
	}
	vsock_unref(v);
}

static struct vsock_conn *conn_new(struct vsock *v, int fd, enum vsock_conn_state state)
{
	struct vsock_conn *c;

	if (v->nconns >= VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->v = v;
	c->state = state;
	c->h.fd = fd;
	c->h.fn = conn_event;
	c->h.release = conn_release;
	if (ev_add(v->loop, &c->h, EPOLLIN | EPOLLONESHOT) < 0) {
		free(c);
		return NULL;
	}
	c->registered = true;
	c->armed = true;
	c->events = EPOLLIN;
	v->refs++;
	TAILQ_INSERT_TAIL(&v->conns, c, all_entry);
	v->nconns++;
	return c;
}

void vsock_conn_detach(struct vsock_conn *c)
{
	struct vsock *v = c->v;

	vsock_ctrl_clear(v, c);
	conn_close(c);
	TAILQ_REMOVE(&v->conns, c, all_entry);
	v->nconns--;
	if (!c->registered || c->released)
		free(c);
	/* else the release callback frees it */
}

/* ---- host-initiated: "CONNECT <port>\n" ---------------------------------- */

int vsock_conn_host(struct vsock *v, int fd)
{
	struct vsock_conn *c = conn_new(v, fd, VSOCK_CONN_CMD);

	if (c == NULL)
		return -1;
	deadline(c, VSOCK_CMD_TIMEOUT_MS);
	return 0;
}

/* "CONNECT", blanks, a decimal port, optional blanks (or "\r"), "\n". */
static int parse_connect(const char *s, uint32_t len, uint32_t *port)
{
	uint64_t val = 0;
	uint32_t i = 7, digits = 0;

	if (len < 10 || s[len - 1] != '\n' || memcmp(s, "CONNECT", 7) != 0 || s[i] != ' ')
		return -1;
	while (s[i] == ' ')
		i++;
	for (; s[i] >= '0' && s[i] <= '9'; i++, digits++) {
		val = val * 10 + (uint64_t)(s[i] - '0');
		if (val > UINT32_MAX)
			return -1;
	}
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')
		i++;
	if (digits == 0 || i != len - 1)
		return -1;
	*port = (uint32_t)val;
	return 0;
}

/* Read the command line without taking a byte past its "\n": what follows
 * is the stream's first data. */
static void read_command(struct vsock_conn *c)
{
	struct vsock *v = c->v;
	char *start = c->cmd + c->cmd_len, *nl;
	uint32_t take, port;
	ssize_t n;

	n = recv(c->h.fd, start, VSOCK_CMD_MAX - c->cmd_len, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	nl = memchr(start, '\n', (size_t)n);
	take = nl ? (uint32_t)(nl - start) + 1 : (uint32_t)n;
	if (recv(c->h.fd, start, take, MSG_DONTWAIT) != (ssize_t)take) {
		conn_close(c);
		return;
	}
	c->cmd_len += take;
	if (nl == NULL) {
		if (c->cmd_len == VSOCK_CMD_MAX)
			conn_close(c); /* too long */
		return;
	}
	if (parse_connect(c->cmd, c->cmd_len, &port) < 0) {
		conn_close(c);
		return;
	}
	c->peer_port = port;
	c->local_port = vsock_alloc_port(v);
	c->state = VSOCK_CONN_REQUEST;
	vsock_hash_add(v, c);
	vsock_ctrl(v, c, VSOCK_CTRL_REQUEST);
	deadline(c, VSOCK_RESP_TIMEOUT_MS);
}

static void established(struct vsock_conn *c)
{
	char line[24];
	int n;

	if (c->state != VSOCK_CONN_REQUEST || !c->request_sent) {
		vsock_conn_reset(c);
		return;
	}
	n = snprintf(line, sizeof(line), "OK %u\n", c->local_port);
	if (send(c->h.fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		vsock_conn_reset(c);
		return;
	}
	c->state = VSOCK_CONN_ESTABLISHED;
	c->deadline_ms = 0;
	vsock_conn_arm(c);
}

/* ---- guest-initiated: CID 2 port N is "<uds_path>_N" ---------------------- */

void vsock_conn_guest(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint32_t port = le32toh(h->dst_port);
	struct vsock_conn *c;
	int fd;

	if (v->nconns >= VSOCK_MAX_CONNS)
		goto refuse;
	/* fits: vsock_create checked the path length */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->uds_path, port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto refuse;
	/* a Unix connect never stays in progress: it works or fails now */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		goto refuse;
	}
	c = conn_new(v, fd, VSOCK_CONN_ESTABLISHED);
	if (c == NULL) {
		close(fd);
		goto refuse;
	}
	c->local_port = port;
	c->peer_port = le32toh(h->src_port);
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	vsock_hash_add(v, c);
	vsock_ctrl(v, c, VSOCK_CTRL_RESPONSE);
	return;
refuse:
	vsock_rst_reply(v, h);
}

/* ---- data ----------------------------------------------------------------- */

/* n more bytes went to the host: tell the guest once it is past half its
 * credit and a good part of it is free again. */
static void forwarded(struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if (c->state != VSOCK_CONN_ESTABLISHED)
		return;
	if (c->rx_cnt - c->fwd_cnt_sent > VSOCK_BUF_ALLOC / 2 &&
	    c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 4)
		vsock_ctrl(c->v, c, VSOCK_CTRL_CREDIT_UPDATE);
}

static int buf_append(struct vsock_conn *c, const struct vq_chain *ch, uint32_t off, uint32_t len)
{
	if (c->buf_start + c->buf_len + len > c->buf_cap) {
		if (c->buf_start) {
			memmove(c->buf, c->buf + c->buf_start, c->buf_len);
			c->buf_start = 0;
		}
		if (c->buf_len + len > c->buf_cap) {
			uint32_t cap = c->buf_cap ? c->buf_cap : VSOCK_BUF_MIN;
			uint8_t *p;

			while (cap < c->buf_len + len)
				cap *= 2;
			p = realloc(c->buf, cap);
			if (p == NULL)
				return -1;
			c->buf = p;
			c->buf_cap = cap;
		}
	}
	vq_chain_read(ch, off, c->buf + c->buf_start + c->buf_len, len);
	c->buf_len += len;
	return 0;
}

static void shut_write(struct vsock_conn *c)
{
	if ((c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->wr_shut && c->buf_len == 0) {
		shutdown(c->h.fd, SHUT_WR);
		c->wr_shut = true;
	}
}

/* Guest data: straight to the socket, the rest into the buffer. */
static void write_data(struct vsock_conn *c, const struct vq_chain *ch, uint32_t len)
{
	struct iovec iov[VQ_MAX_SIZE];
	struct msghdr msg = {.msg_iov = iov};
	uint32_t off = VSOCK_HDR_SIZE;
	ssize_t n;

	if (c->state != VSOCK_CONN_ESTABLISHED || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND)) {
		vsock_conn_reset(c);
		return;
	}
	if (len == 0)
		return;
	if (c->buf_len + len > VSOCK_BUF_ALLOC) {
		vsock_conn_reset(c); /* more than the credit we gave */
		return;
	}
	c->rx_cnt += len;
	if (c->buf_len == 0) {
		msg.msg_iovlen = (size_t)vq_chain_iov(ch, false, off, len, iov, VQ_MAX_SIZE);
		n = sendmsg(c->h.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			vsock_conn_reset(c);
			return;
		}
		if (n > 0) {
			off += (uint32_t)n;
			len -= (uint32_t)n;
			forwarded(c, (uint32_t)n);
		}
	}
	if (len && buf_append(c, ch, off, len) < 0) {
		vsock_conn_reset(c);
		return;
	}
	vsock_conn_arm(c);
}

static void flush(struct vsock_conn *c)
{
	while (c->buf_len) {
		ssize_t n =
		    send(c->h.fd, c->buf + c->buf_start, c->buf_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			vsock_conn_reset(c);
			return;
		}
		c->buf_start += (uint32_t)n;
		c->buf_len -= (uint32_t)n;
		forwarded(c, (uint32_t)n);
	}
	free(c->buf);
	c->buf = NULL;
	c->buf_start = c->buf_cap = 0;
	if (c->state == VSOCK_CONN_LINGER) {
		conn_close(c);
		return;
	}
	shut_write(c);
	check_done(c);
}

static void host_eof(struct vsock_conn *c)
{
	c->host_eof = true;
	vsock_ctrl(c->v, c, VSOCK_CTRL_SHUTDOWN);
	check_done(c);
}

/* Host data: read into rx buffers while the guest has credit for it. */
static void read_data(struct vsock_conn *c)
{
	struct vsock *v = c->v;
	struct iovec iov[VQ_MAX_SIZE];

	for (unsigned i = 0; i < VSOCK_READ_BUDGET && wants_read(c); i++) {
		struct virtio_vsock_hdr h;
		struct vq_chain *ch;
		uint32_t room = credit(c);
		ssize_t n;
		int cnt;

		if (room == 0) {
			c->credit_stalled = true;
			if (!c->credit_requested) {
				c->credit_requested = true;
				vsock_ctrl(v, c, VSOCK_CTRL_CREDIT_REQUEST);
			}
			return;
		}
		vsock_rx_flush(v); /* control packets go first */
		ch = vsock_rx_chain(v);
		if (ch == NULL) {
			wait_rx(c);
			return;
		}
		if (room > ch->write_len - VSOCK_HDR_SIZE)
			room = (uint32_t)(ch->write_len - VSOCK_HDR_SIZE);
		if (room > VSOCK_MAX_PKT)
			room = VSOCK_MAX_PKT;
		cnt = vq_chain_iov(ch, true, VSOCK_HDR_SIZE, room, iov, VQ_MAX_SIZE);
		n = readv(c->h.fd, iov, cnt);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n < 0) {
			vsock_conn_reset(c);
			return;
		}
		if (n == 0) {
			host_eof(c);
			return;
		}
		vsock_hdr_fill(v, c, &h, VIRTIO_VSOCK_OP_RW, 0, (uint32_t)n);
		vsock_rx_push(v, &h, (uint32_t)n);
		c->tx_cnt += (uint32_t)n;
	}
}

static void conn_event(struct ev_handler *h, uint32_t events)
{
	struct vsock_conn *c = (struct vsock_conn *)h;
	struct vsock *v = c->v;

	vsock_enter(v);
	c->armed = false;
	if (c->state == VSOCK_CONN_CLOSED)
		goto out; /* a device reset just closed it */
	if (events & EPOLLERR) {
		vsock_conn_reset(c);
		goto out;
	}
	switch (c->state) {
	case VSOCK_CONN_CMD:
		read_command(c);
		break;
	case VSOCK_CONN_ESTABLISHED:
		if (events & EPOLLOUT)
			flush(c);
		if (events & (EPOLLIN | EPOLLHUP))
			read_data(c);
		/* A hang-up without our SHUT_WR: the peer closed; once nothing
		 * is left to read from it, nothing can be done any more. */
		if (c->state == VSOCK_CONN_ESTABLISHED && (events & EPOLLHUP) && !c->wr_shut &&
		    !wants_read(c))
			vsock_conn_reset(c);
		break;
	case VSOCK_CONN_LINGER:
		flush(c);
		break;
	default:
		break;
	}
	vsock_conn_arm(c);
out:
	vsock_leave(v);
}

/* ---- packets from the guest for this connection ---------------------------- */

static void guest_shutdown(struct vsock_conn *c, uint32_t flags)
{
	if (c->state != VSOCK_CONN_ESTABLISHED) {
		vsock_conn_reset(c);
		return;
	}
	c->guest_shut |= flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	shut_write(c);
	check_done(c);
	vsock_conn_arm(c);
}

void vsock_conn_recv(struct vsock_conn *c, const struct virtio_vsock_hdr *h,
		     const struct vq_chain *ch)
{
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	switch (le16toh(h->op)) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		established(c);
		break;
	case VIRTIO_VSOCK_OP_RW:
		write_data(c, ch, le32toh(h->len));
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		if (c->state == VSOCK_CONN_ESTABLISHED)
			vsock_ctrl(c->v, c, VSOCK_CTRL_CREDIT_UPDATE);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		guest_shutdown(c, le32toh(h->flags));
		break;
	default: /* a second REQUEST, or an op we do not know */
		vsock_conn_reset(c);
		break;
	}
	if (c->state == VSOCK_CONN_ESTABLISHED && c->credit_stalled && credit(c) > 0) {
		c->credit_stalled = c->credit_requested = false;
		vsock_conn_arm(c);
	}
}
