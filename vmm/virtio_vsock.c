/* virtio-vsock (device id 19, virtio 1.x "Socket Device"), implemented in the
 * VMM, with Firecracker's "hybrid vsock" on the host side so that the same
 * tools work:
 *  - the host connects to the Unix socket at uds_path and writes
 *    "CONNECT <port>\n"; once the guest accepts, it reads "OK <hostport>\n"
 *    and the stream is the guest connection;
 *  - a guest connection to CID 2 port N goes to the Unix socket "<uds_path>_N".
 * Stream sockets only; no feature bits besides VERSION_1.
 *
 * This file is the device: queues, packet checks and dispatch, the listening
 * socket, the timer, reset and teardown.  vmm/vsock_conn.c is one
 * connection's state machine; vmm/vsock_conn.h has the state and the locking
 * and lifetime rules.
 *
 * The guest is not trusted: a packet it sends is dropped (no header, spoofed
 * source) or answered with RST (anything else malformed or unexpected);
 * only broken rings break the device.  Nothing it does makes us buffer more
 * than VSOCK_BUF_ALLOC per connection, queue more than one control packet of
 * each kind per connection plus VSOCK_RST_QUEUE RSTs, or loop without bound. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/devices.h"
#include "vmm/log.h"
#include "vmm/vsock_conn.h"

#define VSOCK_QUEUE_SIZE      256
#define VSOCK_TX_BUDGET	      256 /* tx packets per notification; the rest after other events */
#define VSOCK_ACCEPT_BUDGET   16
#define VSOCK_ACCEPT_PAUSE_MS 100	 /* after accept() failed with EMFILE and the like */
#define VSOCK_PORT_FIRST      (1U << 30) /* host-side ports of host-initiated connections */
#define VSOCK_PORT_END	      (1U << 31)

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Make the timer fire at at_ms (CLOCK_MONOTONIC) or earlier; 1 means now. */
void vsock_schedule(struct vsock *v, uint64_t at_ms)
{
	struct itimerspec its = {0};

	if (v->timer.fd < 0 || (v->timer_at && v->timer_at <= at_ms))
		return;
	its.it_value.tv_sec = (time_t)(at_ms / 1000);
	its.it_value.tv_nsec = (long)(at_ms % 1000) * 1000000 + 1;
	if (timerfd_settime(v->timer.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		v->timer_at = at_ms;
}

/* ---- connections by port pair ------------------------------------------ */

static unsigned hash_index(uint32_t local_port, uint32_t peer_port)
{
	return ((local_port * 0x9e3779b1U) ^ (peer_port * 0x85ebca6bU)) >> 24;
}

void vsock_hash_add(struct vsock *v, struct vsock_conn *c)
{
	unsigned i = hash_index(c->local_port, c->peer_port);

	c->hash_next = v->hash[i];
	v->hash[i] = c;
	c->in_hash = true;
}

void vsock_hash_del(struct vsock *v, struct vsock_conn *c)
{
	struct vsock_conn **p = &v->hash[hash_index(c->local_port, c->peer_port)];

	if (!c->in_hash)
		return;
	while (*p != c)
		p = &(*p)->hash_next;
	*p = c->hash_next;
	c->in_hash = false;
}

static struct vsock_conn *hash_find(struct vsock *v, uint32_t local_port, uint32_t peer_port)
{
	struct vsock_conn *c = v->hash[hash_index(local_port, peer_port)];

	while (c && (c->local_port != local_port || c->peer_port != peer_port))
		c = c->hash_next;
	return c;
}

uint32_t vsock_alloc_port(struct vsock *v)
{
	for (;;) {
		uint32_t port = v->next_port++;
		struct vsock_conn *c;

		if (v->next_port >= VSOCK_PORT_END)
			v->next_port = VSOCK_PORT_FIRST;
		for (c = TAILQ_FIRST(&v->conns); c && c->local_port != port;
		     c = TAILQ_NEXT(c, all_entry))
			;
		if (c == NULL)
			return port;
	}
}

/* ---- rx: packets to the guest ------------------------------------------- */

void vsock_hdr_fill(struct vsock *v, struct vsock_conn *c, struct virtio_vsock_hdr *h, uint16_t op,
		    uint32_t flags, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(v->guest_cid);
	h->src_port = htole32(c->local_port);
	h->dst_port = htole32(c->peer_port);
	h->len = htole32(len);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
	h->flags = htole32(flags);
	h->buf_alloc = htole32(VSOCK_BUF_ALLOC);
	h->fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_cnt_sent = c->fwd_cnt;
}

struct vq_chain *vsock_rx_chain(struct vsock *v)
{
	struct virtio_dev *d = v->d;
	struct vq *q = &d->queues[VSOCK_RX];

	if (v->rx_held)
		return &v->rx_chain;
	if (d->broken || !(d->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return NULL;
	for (unsigned i = 0; i < VSOCK_QUEUE_SIZE; i++) {
		int ret = vq_pop(q, &v->rx_chain);

		if (ret < 0) {
			virtio_dev_break(d, q->broken_why);
			return NULL;
		}
		if (ret == 0)
			return NULL;
		if (v->rx_chain.write_len > VSOCK_HDR_SIZE) {
			v->rx_held = true;
			return &v->rx_chain;
		}
		/* no room for a header and a byte: handed back unused */
		vq_push(q, v->rx_chain.head, 0);
		v->rx_used = true;
	}
	return NULL;
}

void vsock_rx_push(struct vsock *v, const struct virtio_vsock_hdr *h, uint32_t len)
{
	vq_chain_write(&v->rx_chain, 0, h, VSOCK_HDR_SIZE);
	vq_push(&v->d->queues[VSOCK_RX], v->rx_chain.head, VSOCK_HDR_SIZE + len);
	v->rx_held = false;
	v->rx_used = true;
}

void vsock_ctrl(struct vsock *v, struct vsock_conn *c, uint32_t bits)
{
	if (bits & VSOCK_CTRL_RST)
		c->ctrl = VSOCK_CTRL_RST | (c->ctrl & VSOCK_CTRL_SHUTDOWN);
	else if (c->ctrl & VSOCK_CTRL_RST)
		return;
	else
		c->ctrl |= bits;
	if (!c->in_ctrl) {
		TAILQ_INSERT_TAIL(&v->ctrl, c, ctrl_entry);
		c->in_ctrl = true;
	}
}

void vsock_ctrl_clear(struct vsock *v, struct vsock_conn *c)
{
	c->ctrl = 0;
	if (c->in_ctrl) {
		TAILQ_REMOVE(&v->ctrl, c, ctrl_entry);
		c->in_ctrl = false;
	}
}

/* An RST for a packet that has no connection (never for an RST). */
void vsock_rst_reply(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	struct vsock_rst *r;

	if (v->rst_len == VSOCK_RST_QUEUE)
		return; /* a guest flooding us without reading: dropped */
	r = &v->rst[(v->rst_head + v->rst_len) % VSOCK_RST_QUEUE];
	r->src_cid = le64toh(h->dst_cid);
	r->src_port = le32toh(h->dst_port);
	r->dst_port = le32toh(h->src_port);
	v->rst_len++;
}

static void send_ctrl(struct vsock *v, struct vsock_conn *c)
{
	uint32_t bit = c->ctrl & -c->ctrl, flags = 0;
	struct virtio_vsock_hdr h;
	uint16_t op;

	switch (bit) {
	case VSOCK_CTRL_REQUEST:
		op = VIRTIO_VSOCK_OP_REQUEST;
		c->request_sent = true;
		break;
	case VSOCK_CTRL_RESPONSE:
		op = VIRTIO_VSOCK_OP_RESPONSE;
		break;
	case VSOCK_CTRL_CREDIT_REQUEST:
		op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		break;
	case VSOCK_CTRL_CREDIT_UPDATE:
		op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		break;
	case VSOCK_CTRL_SHUTDOWN:
		op = VIRTIO_VSOCK_OP_SHUTDOWN;
		flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
		break;
	default:
		op = VIRTIO_VSOCK_OP_RST;
		break;
	}
	vsock_hdr_fill(v, c, &h, op, flags, 0);
	vsock_rx_push(v, &h, 0);
	c->ctrl &= ~bit;
}

static void send_rst(struct vsock *v, const struct vsock_rst *r)
{
	struct virtio_vsock_hdr h = {
	    .src_cid = htole64(r->src_cid),
	    .dst_cid = htole64(v->guest_cid),
	    .src_port = htole32(r->src_port),
	    .dst_port = htole32(r->dst_port),
	    .type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
	    .op = htole16(VIRTIO_VSOCK_OP_RST),
	};

	vsock_rx_push(v, &h, 0);
}

void vsock_rx_flush(struct vsock *v)
{
	while (v->rst_len || !TAILQ_EMPTY(&v->ctrl)) {
		struct vsock_conn *c = TAILQ_FIRST(&v->ctrl);

		if (vsock_rx_chain(v) == NULL)
			return;
		if (c == NULL) {
			send_rst(v, &v->rst[v->rst_head]);
			v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
			v->rst_len--;
			continue;
		}
		send_ctrl(v, c);
		if (c->ctrl == 0) {
			vsock_ctrl_clear(v, c);
			vsock_conn_sent(c);
		}
	}
}

/* rx buffers may have arrived: control first, then the connections that
 * waited for them read again (through the event loop). */
static void rx_resume(struct vsock *v)
{
	vsock_rx_flush(v);
	while (!TAILQ_EMPTY(&v->wait) && vsock_rx_chain(v)) {
		struct vsock_conn *c = TAILQ_FIRST(&v->wait);

		TAILQ_REMOVE(&v->wait, c, wait_entry);
		c->in_wait = false;
		vsock_conn_arm(c);
	}
}

/* ---- tx: packets from the guest ----------------------------------------- */

static void tx_packet(struct vsock *v, const struct vq_chain *ch)
{
	struct virtio_vsock_hdr h;
	struct vsock_conn *c = NULL;
	uint64_t dst_cid;
	uint32_t len;
	uint16_t op;

	if (ch->read_len < VSOCK_HDR_SIZE)
		return; /* not even a header: dropped */
	vq_chain_read(ch, 0, &h, VSOCK_HDR_SIZE);
	if (le64toh(h.src_cid) != v->guest_cid)
		return; /* spoofed source: dropped */
	dst_cid = le64toh(h.dst_cid);
	op = le16toh(h.op);
	len = le32toh(h.len);
	if (dst_cid == VSOCK_HOST_CID)
		c = hash_find(v, le32toh(h.dst_port), le32toh(h.src_port));
	if (op == VIRTIO_VSOCK_OP_RST) {
		if (c)
			vsock_conn_drop(c);
		return;
	}
	if (dst_cid != VSOCK_HOST_CID) {
		vsock_rst_reply(v, &h); /* nobody else to reach here */
		return;
	}
	if (le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM || len > VSOCK_MAX_PKT ||
	    len > ch->read_len - VSOCK_HDR_SIZE) {
		if (c)
			vsock_conn_reset(c);
		else
			vsock_rst_reply(v, &h);
		return;
	}
	if (c)
		vsock_conn_recv(c, &h, ch);
	else if (op == VIRTIO_VSOCK_OP_REQUEST)
		vsock_conn_guest(v, &h);
	else
		vsock_rst_reply(v, &h);
}

static void tx_process(struct vsock *v)
{
	struct virtio_dev *d = v->d;
	struct vq *q = &d->queues[VSOCK_TX];
	int ret = 0;

	for (unsigned i = 0; i < VSOCK_TX_BUDGET; i++) {
		ret = vq_pop(q, &v->tx_chain);
		if (ret <= 0)
			break;
		tx_packet(v, &v->tx_chain);
		vq_push(q, v->tx_chain.head, 0);
		v->tx_used = true;
	}
	if (ret < 0) {
		virtio_dev_break(d, q->broken_why);
	} else if (ret > 0 && vq_has_avail(q) && d->notify[VSOCK_TX].h.fd >= 0) {
		uint64_t one = 1;

		/* more to do: come back after the other events */
		if (write(d->notify[VSOCK_TX].h.fd, &one, sizeof(one)) < 0) {
			/* the counter is non-zero: a notification is pending anyway */
		}
	}
}

/* ---- entry points --------------------------------------------------------- */

/* The driver reset the device (in a vCPU thread); the loop thread forgets
 * the connections the guest knew at its next entry, before it looks at any
 * queue.  Host connections whose REQUEST did not go out yet wait for the
 * next driver. */
static void apply_reset(struct vsock *v)
{
	struct vsock_conn *c, *next;

	v->reset_pending = false;
	v->rst_len = 0;
	for (c = TAILQ_FIRST(&v->conns); c; c = next) {
		next = TAILQ_NEXT(c, all_entry);
		if (c->state == VSOCK_CONN_CMD ||
		    (c->state == VSOCK_CONN_REQUEST && !c->request_sent))
			continue;
		vsock_conn_drop(c);
	}
}

static void interrupts(struct vsock *v)
{
	if (v->rx_used)
		virtio_used_interrupt(v->d, VSOCK_RX);
	if (v->tx_used)
		virtio_used_interrupt(v->d, VSOCK_TX);
	v->rx_used = v->tx_used = false;
}

void vsock_enter(struct vsock *v)
{
	virtio_lock(v->d);
	if (v->reset_pending)
		apply_reset(v);
}

void vsock_leave(struct vsock *v)
{
	vsock_rx_flush(v);
	interrupts(v);
	virtio_unlock(v->d);
}

static void vsock_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct vsock *v = d->priv;

	if (v == NULL)
		return;
	if (v->reset_pending)
		apply_reset(v);
	if (q == VSOCK_TX)
		tx_process(v);
	else if (q == VSOCK_RX)
		rx_resume(v);
	/* the event queue: we never send events (no migration) */
	vsock_rx_flush(v);
	interrupts(v);
}

static void vsock_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct vsock *v = d->priv;
	uint64_t cid = htole64(v ? v->guest_cid : 0);

	memcpy(data, (uint8_t *)&cid + off, len);
}

static int vsock_activate(struct virtio_dev *d)
{
	struct vsock *v = d->priv;

	if (v == NULL)
		return -1;
	vsock_schedule(v, 1); /* the loop thread looks for rx buffers posted before */
	return 0;
}

static void vsock_reset(struct virtio_dev *d)
{
	struct vsock *v = d->priv;

	if (v == NULL)
		return;
	v->rx_held = false; /* the chain belongs to the old rings */
	v->rx_used = v->tx_used = false;
	v->reset_pending = true;
	vsock_schedule(v, 1);
}

static void listener_event(struct ev_handler *h, uint32_t events)
{
	struct vsock *v = (struct vsock *)((char *)h - offsetof(struct vsock, listener));

	(void)events;
	vsock_enter(v);
	for (unsigned i = 0; i < VSOCK_ACCEPT_BUDGET; i++) {
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* EMFILE and the like: pause instead of spinning */
				vmm_log(VMM_LOG_WARNING, "vsock: accept on `%s`: %m", v->uds_path);
				ev_mod(v->loop, h, 0);
				v->listen_resume_ms = vsock_now_ms() + VSOCK_ACCEPT_PAUSE_MS;
				vsock_schedule(v, v->listen_resume_ms);
			}
			break;
		}
		if (vsock_conn_host(v, fd) < 0)
			close(fd); /* too many connections */
	}
	vsock_leave(v);
}

static void timer_event(struct ev_handler *h, uint32_t events)
{
	struct vsock *v = (struct vsock *)((char *)h - offsetof(struct vsock, timer));
	struct vsock_conn *c, *next;
	uint64_t expirations, now, first = 0;

	(void)events;
	if (read(h->fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: re-armed since it fired */
	}
	vsock_enter(v);
	now = vsock_now_ms();
	v->timer_at = 0;
	if (v->listen_resume_ms && v->listen_resume_ms <= now) {
		v->listen_resume_ms = 0;
		ev_mod(v->loop, &v->listener, EPOLLIN);
	}
	first = v->listen_resume_ms;
	for (c = TAILQ_FIRST(&v->conns); c; c = next) {
		next = TAILQ_NEXT(c, all_entry);
		if (c->deadline_ms == 0)
			continue;
		if (c->deadline_ms <= now) {
			c->deadline_ms = 0;
			vsock_conn_expire(c);
		} else if (first == 0 || c->deadline_ms < first) {
			first = c->deadline_ms;
		}
	}
	if (first)
		vsock_schedule(v, first);
	rx_resume(v);
	vsock_leave(v);
}

/* ---- creation and teardown ---------------------------------------------- */

void vsock_unref(struct vsock *v)
{
	if (--v->refs)
		return;
	free(v->uds_path);
	free(v);
}

static void listener_release(struct ev_handler *h)
{
	vsock_unref((struct vsock *)((char *)h - offsetof(struct vsock, listener)));
}

static void timer_release(struct ev_handler *h)
{
	vsock_unref((struct vsock *)((char *)h - offsetof(struct vsock, timer)));
}

static int watch(struct vsock *v, struct ev_handler *h, void (*release)(struct ev_handler *))
{
	if (ev_add(v->loop, h, EPOLLIN) < 0)
		return -1;
	h->release = release;
	v->refs++;
	return 0;
}

static void unwatch(struct vsock *v, struct ev_handler *h)
{
	if (h->fd < 0)
		return;
	if (h->release)
		ev_del(v->loop, h);
	close(h->fd);
	h->fd = -1;
}

static void teardown(struct vsock *v)
{
	struct vsock_conn *c;

	v->destroyed = true;
	unwatch(v, &v->listener);
	if (v->bound)
		unlink(v->uds_path);
	unwatch(v, &v->timer);
	while ((c = TAILQ_FIRST(&v->conns)))
		vsock_conn_detach(c);
}

int vsock_create(struct virtio_dev *d, uint64_t guest_cid, const char *uds_path, mv_error_t *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vsock *v;
	int ret;

	if (d->ops != &virtio_vsock_ops || d->priv != NULL || d->loop == NULL)
		return mv_error(err, EINVAL, "vsock: the device needs virtio_vsock_ops and a loop");
	if (guest_cid <= VSOCK_HOST_CID || guest_cid >= UINT32_MAX)
		return mv_error(err, EINVAL, "vsock: guest cid %" PRIu64 " is reserved", guest_cid);
	/* room for the longest "<uds_path>_<port>" */
	if (strlen(uds_path) + 1 + 10 >= sizeof(sa.sun_path))
		return mv_error(err, ENAMETOOLONG, "vsock socket path `%s` is too long", uds_path);
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return mv_error(err, ENOMEM, "vsock");
	v->d = d;
	v->loop = d->loop;
	v->guest_cid = guest_cid;
	v->refs = 1;
	v->next_port = VSOCK_PORT_FIRST;
	v->listener.fd = v->timer.fd = -1;
	v->listener.fn = listener_event;
	v->timer.fn = timer_event;
	TAILQ_INIT(&v->conns);
	TAILQ_INIT(&v->ctrl);
	TAILQ_INIT(&v->wait);
	v->uds_path = strdup(uds_path);
	if (v->uds_path == NULL) {
		ret = mv_error(err, ENOMEM, "vsock");
		goto fail;
	}
	strcpy(sa.sun_path, uds_path);
	v->listener.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listener.fd < 0) {
		ret = mv_error(err, errno, "vsock: socket");
		goto fail;
	}
	if (bind(v->listener.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = mv_error(err, errno, "vsock: bind `%s`", uds_path);
		goto fail;
	}
	v->bound = true;
	if (listen(v->listener.fd, 128) < 0) {
		ret = mv_error(err, errno, "vsock: listen on `%s`", uds_path);
		goto fail;
	}
	v->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->timer.fd < 0) {
		ret = mv_error(err, errno, "vsock: timerfd_create");
		goto fail;
	}
	if (watch(v, &v->timer, timer_release) < 0 ||
	    watch(v, &v->listener, listener_release) < 0) {
		ret = mv_error(err, errno, "vsock: epoll");
		goto fail;
	}
	d->priv = v;
	return 0;
fail:
	teardown(v);
	vsock_unref(v);
	return ret;
}

void vsock_destroy(struct virtio_dev *d)
{
	struct vsock *v = d->priv;

	if (v == NULL)
		return;
	virtio_lock(d);
	d->priv = NULL;
	teardown(v);
	virtio_unlock(d);
	vsock_unref(v);
}

const struct virtio_dev_ops virtio_vsock_ops = {
    .name = "vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .nqueues = VSOCK_NQUEUES,
    .queue_max = VSOCK_QUEUE_SIZE,
    .config_size = sizeof(struct virtio_vsock_config),
    .config_read = vsock_config_read,
    .activate = vsock_activate,
    .reset = vsock_reset,
    .queue_notify = vsock_queue_notify,
};
