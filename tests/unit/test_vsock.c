/* virtio-vsock against the test guest driver and real Unix sockets in a
 * temporary directory: the hybrid-vsock handshake both ways, data and credit
 * both ways, half-close and teardown, and a hostile guest.  Every test ends
 * by checking that the device closed all its sockets (and, under ASan, that
 * nothing leaked); spin() fails a test whose device keeps the loop busy. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_vsock.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tests/unit/virtio_driver.h"
#include "vmm/devices.h"

#define CID	    3
#define QSIZE	    64
#define SLOT	    0x11000 /* guest buffer per descriptor index: a header + 64 KiB and more */
#define HDR	    44
#define HOST_ALLOC  (256 * 1024) /* the device's buf_alloc */
#define PORT_FIRST  (1U << 30)
#define MAX_PAYLOAD (65536 + 1024)

enum { RX, TX, EVQ };

struct rig {
	struct test_vm t;
	struct ev_loop loop;
	struct virtio_dev d;
	struct test_queue q[3];
	uint64_t slots[3];
	unsigned rx_out; /* rx descriptors the device holds */
	char dir[32];
	char path[64];
	int fds;
};

/* A packet the guest received. */
struct pkt {
	uint32_t used_len;
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
	uint16_t type, op;
	uint8_t data[MAX_PAYLOAD];
};

/* The guest side of one connection. */
struct gconn {
	uint32_t gport, hport;
	uint32_t buf_alloc, fwd_cnt;
	int hfd; /* the host's end */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the loop until nothing is ready; a device that keeps waking it up
 * fails the test. */
static void spin(struct rig *r)
{
	for (int i = 0; i < 500; i++) {
		int n = ev_loop_run_once(&r->loop, 0);

		CHECK_INT(n, >=, 0);
		if (n == 0)
			return;
	}
	unit_fail(__FILE__, __LINE__, "the event loop does not settle (a busy device?)");
}

static void spin_for(struct rig *r, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (now_ms() < end)
		CHECK_INT(ev_loop_run_once(&r->loop, 10), >=, 0);
	spin(r);
}

static void setup_queues(struct rig *r)
{
	uint32_t st = tdrv_setup(&r->t, &r->d, r->q, 3, QSIZE, 0);

	CHECK(st & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(!(st & VIRTIO_CONFIG_S_NEEDS_RESET));
	r->rx_out = 0;
	spin(r);
}

static void rig_init(struct rig *r)
{
	mv_error_t err = {0};

	memset(r, 0, sizeof(*r));
	r->fds = unit_count_fds();
	strcpy(r->dir, "/tmp/mvrun-vsock-XXXXXX");
	CHECK(mkdtemp(r->dir) != NULL);
	snprintf(r->path, sizeof(r->path), "%s/v.sock", r->dir);
	tvm_init(&r->t, 64);
	CHECK_INT(ev_loop_init(&r->loop, NULL), ==, 0);
	tvm_dev_init_loop(&r->t, &r->d, &virtio_vsock_ops, NULL, &r->loop);
	CHECK_INT(vsock_create(&r->d, CID, r->path, &err), ==, 0);
	for (int i = 0; i < 3; i++)
		r->slots[i] = tvm_alloc(&r->t, (uint64_t)QSIZE * SLOT);
	setup_queues(r);
}

static void remove_dir(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	char name[300];

	CHECK(dir != NULL);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "%s/%s", path, e->d_name);
		unlink(name);
	}
	closedir(dir);
	CHECK_INT(rmdir(path), ==, 0);
}

static void rig_release(struct rig *r)
{
	vsock_destroy(&r->d);
	CHECK(access(r->path, F_OK) < 0); /* unlinked */
	virtio_dev_release(&r->d);
	ev_loop_release(&r->loop);
	tvm_release(&r->t);
	remove_dir(r->dir);
	CHECK_INT(unit_count_fds(), ==, r->fds);
}

static bool needs_reset(struct rig *r)
{
	return tdev_read32(&r->d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* ---- the guest ------------------------------------------------------------ */

static uint64_t slot(struct rig *r, unsigned q, uint16_t idx)
{
	return r->slots[q] + (uint64_t)idx * SLOT;
}

/* n rx buffers with room for a header and `size` bytes; split puts the
 * header in a descriptor of its own (as older Linux drivers do). */
static void post_rx_kind(struct rig *r, int n, uint32_t size, bool split)
{
	struct test_queue *q = &r->q[RX];

	for (int i = 0; i < n; i++) {
		uint16_t idx = q->next_desc;

		CHECK_INT(r->rx_out + (split ? 2 : 1), <=, QSIZE);
		if (split) {
			struct tdesc d[2] = {
			    {slot(r, RX, idx), HDR, true},
			    {slot(r, RX, (uint16_t)((idx + 1) % QSIZE)), size, true}};
			tq_add(q, d, 2);
			r->rx_out += 2;
		} else {
			struct tdesc d = {slot(r, RX, idx), HDR + size, true};
			tq_add(q, &d, 1);
			r->rx_out++;
		}
	}
	tq_kick(&r->d, RX);
	spin(r);
}

static void post_rx(struct rig *r, int n, uint32_t size)
{
	post_rx_kind(r, n, size, false);
}

/* The next packet the device put in an rx buffer. */
static bool recv_pkt(struct rig *r, struct pkt *p)
{
	static uint8_t raw[HDR + MAX_PAYLOAD];
	struct test_queue *q = &r->q[RX];
	uint32_t id, len, off = 0;
	struct virtio_vsock_hdr h;

	if (!tq_used(q, &id, &len))
		return false;
	CHECK_INT(id, <, QSIZE);
	CHECK_INT(len, <=, sizeof(raw));
	for (uint16_t i = (uint16_t)id;; i = q->desc[i].next) {
		uint32_t n = q->desc[i].len;

		if (n > len - off)
			n = len - off;
		if (n)
			memcpy(raw + off, tvm_ptr(&r->t, q->desc[i].addr), n);
		off += n;
		r->rx_out--;
		if (!(q->desc[i].flags & VRING_DESC_F_NEXT))
			break;
	}
	CHECK_INT(off, ==, len);
	memset(p, 0, offsetof(struct pkt, data));
	p->used_len = len;
	if (len < HDR)
		return true;
	memcpy(&h, raw, HDR);
	p->src_cid = le64toh(h.src_cid);
	p->dst_cid = le64toh(h.dst_cid);
	p->src_port = le32toh(h.src_port);
	p->dst_port = le32toh(h.dst_port);
	p->len = le32toh(h.len);
	p->type = le16toh(h.type);
	p->op = le16toh(h.op);
	p->flags = le32toh(h.flags);
	p->buf_alloc = le32toh(h.buf_alloc);
	p->fwd_cnt = le32toh(h.fwd_cnt);
	CHECK_INT(p->len, ==, len - HDR);
	memcpy(p->data, raw + HDR, p->len);
	/* everything the device sends comes from the host, to us */
	CHECK_INT(p->src_cid, !=, CID);
	CHECK_INT(p->dst_cid, ==, CID);
	CHECK_INT(p->type, ==, VIRTIO_VSOCK_TYPE_STREAM);
	return true;
}

static void expect_pkt_at(struct rig *r, struct pkt *p, uint16_t op, int line)
{
	if (!recv_pkt(r, p))
		unit_fail(__FILE__, line, "no packet, expected op %u", op);
	if (p->used_len < HDR || p->op != op)
		unit_fail(__FILE__, line, "packet op %u len %u, expected op %u", p->op, p->used_len,
			  op);
}
#define expect_pkt(r, p, op) expect_pkt_at(r, p, op, __LINE__)

static void expect_none(struct rig *r)
{
	struct pkt p;

	if (recv_pkt(r, &p))
		unit_fail(__FILE__, __LINE__, "unexpected packet op %u len %u", p.op, p.used_len);
}

static struct virtio_vsock_hdr mkhdr(uint16_t op, uint32_t src_port, uint32_t dst_port,
				     uint32_t len)
{
	struct virtio_vsock_hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = htole64(CID);
	h.dst_cid = htole64(2);
	h.src_port = htole32(src_port);
	h.dst_port = htole32(dst_port);
	h.len = htole32(len);
	h.type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h.op = htole16(op);
	h.buf_alloc = htole32(65536);
	return h;
}

/* Put descriptors on the tx queue as they are and check that the device
 * gives every chain back. */
static void send_chain(struct rig *r, const struct tdesc *d, int n)
{
	struct test_queue *q = &r->q[TX];
	uint32_t id, len;
	uint16_t head = tq_add(q, d, n);

	tq_kick(&r->d, TX);
	spin(r);
	CHECK_INT(tq_used(q, &id, &len), ==, 1);
	CHECK_INT(id, ==, head);
	CHECK_INT(len, ==, 0);
}

/* A header and `len` payload bytes in one readable buffer; `carry` bytes of
 * payload really follow the header (hostile tests lie with h->len). */
static void send_raw(struct rig *r, const struct virtio_vsock_hdr *h, const void *data,
		     uint32_t carry)
{
	uint16_t idx = r->q[TX].next_desc;
	uint8_t *p = tvm_ptr(&r->t, slot(r, TX, idx));
	struct tdesc d = {slot(r, TX, idx), HDR + carry, false};

	CHECK_INT(carry, <=, SLOT - HDR);
	memcpy(p, h, HDR);
	if (carry && data)
		memcpy(p + HDR, data, carry);
	send_chain(r, &d, 1);
}

static void gsend(struct rig *r, struct gconn *c, uint16_t op, uint32_t flags, const void *data,
		  uint32_t len)
{
	struct virtio_vsock_hdr h = mkhdr(op, c->gport, c->hport, len);

	h.flags = htole32(flags);
	h.buf_alloc = htole32(c->buf_alloc);
	h.fwd_cnt = htole32(c->fwd_cnt);
	send_raw(r, &h, data, len);
}

/* Receive RW packets of c until `want` bytes came or none is left;
 * control packets for c are counted by op in ctrl[] (when not NULL). */
static uint32_t guest_read(struct rig *r, struct gconn *c, uint8_t *buf, uint32_t want, int ctrl[8])
{
	static struct pkt p;
	uint32_t got = 0;

	while (got < want && recv_pkt(r, &p)) {
		CHECK_INT(p.used_len, >=, HDR);
		CHECK_INT(p.src_port, ==, c->hport);
		CHECK_INT(p.dst_port, ==, c->gport);
		CHECK_INT(p.buf_alloc, ==, HOST_ALLOC);
		if (p.op != VIRTIO_VSOCK_OP_RW) {
			CHECK(ctrl != NULL && p.op < 8);
			ctrl[p.op]++;
			continue;
		}
		CHECK_INT(p.len, >, 0);
		CHECK_INT(got + p.len, <=, want);
		memcpy(buf + got, p.data, p.len);
		got += p.len;
	}
	return got;
}

/* ---- the host ------------------------------------------------------------- */

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK_INT(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	CHECK_INT(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
	return fd;
}

static int unix_listen(struct rig *r, uint32_t port, bool do_listen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", r->path, port);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	if (do_listen)
		CHECK_INT(listen(fd, 8), ==, 0);
	return fd;
}

static void host_write(int fd, const void *buf, size_t len)
{
	CHECK_INT(send(fd, buf, len, MSG_NOSIGNAL), ==, (ssize_t)len);
}

static void host_puts(int fd, const char *s)
{
	host_write(fd, s, strlen(s));
}

/* Read until `want` bytes, EOF or nothing more comes. */
static size_t host_read(struct rig *r, int fd, uint8_t *buf, size_t want)
{
	size_t got = 0;

	for (int idle = 0; got < want && idle < 3;) {
		ssize_t n = recv(fd, buf + got, want - got, MSG_DONTWAIT);

		if (n > 0) {
			got += (size_t)n;
			idle = 0;
			continue;
		}
		if (n == 0)
			break;
		CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
		spin(r);
		idle++;
	}
	return got;
}

/* The device closed (or shut down) its end: EOF, after any data. */
static bool host_eof(struct rig *r, int fd)
{
	uint8_t b[4096];

	spin(r);
	for (;;) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n > 0)
			continue;
		return n == 0 || errno == ECONNRESET;
	}
}

static void expect_line(struct rig *r, int fd, const char *line)
{
	char buf[64] = {0};

	CHECK_INT(host_read(r, fd, (uint8_t *)buf, strlen(line)), ==, strlen(line));
	CHECK_STR(buf, line);
}

/* Host-initiated: CONNECT to guest port gport, which accepts with a
 * buffer of buf_alloc bytes.  Needs a posted rx buffer. */
static void host_open(struct rig *r, struct gconn *c, uint32_t gport, uint32_t buf_alloc)
{
	struct pkt p;
	char line[64];

	c->hfd = unix_connect(r->path);
	snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	host_puts(c->hfd, line);
	spin(r);
	expect_pkt(r, &p, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_INT(p.src_cid, ==, 2);
	CHECK_INT(p.dst_port, ==, gport);
	CHECK_INT(p.src_port, >=, PORT_FIRST);
	CHECK_INT(p.buf_alloc, ==, HOST_ALLOC);
	CHECK_INT(p.fwd_cnt, ==, 0);
	c->gport = gport;
	c->hport = p.src_port;
	c->buf_alloc = buf_alloc;
	c->fwd_cnt = 0;
	gsend(r, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	snprintf(line, sizeof(line), "OK %u\n", c->hport);
	expect_line(r, c->hfd, line);
}

/* Guest-initiated: to host port hport, where the test listens on lfd. */
static void guest_open(struct rig *r, struct gconn *c, int lfd, uint32_t gport, uint32_t hport)
{
	struct pkt p;

	c->gport = gport;
	c->hport = hport;
	c->buf_alloc = 65536;
	c->fwd_cnt = 0;
	gsend(r, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_pkt(r, &p, VIRTIO_VSOCK_OP_RESPONSE);
	CHECK_INT(p.src_cid, ==, 2);
	CHECK_INT(p.src_port, ==, hport);
	CHECK_INT(p.dst_port, ==, gport);
	c->hfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	CHECK(c->hfd >= 0);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

/* ---- the device and the handshake ----------------------------------------- */

TEST(vsock_identifies_itself_with_a_read_only_cid)
{
	struct rig r;
	uint64_t cid = 0, bogus = 77;
	uint32_t hi = 1;

	rig_init(&r);
	CHECK_INT(tdev_read32(&r.d, VIRTIO_MMIO_DEVICE_ID), ==, 19);
	tdev_write32(&r.d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK_INT(tdev_read32(&r.d, VIRTIO_MMIO_DEVICE_FEATURES), ==, 0); /* no SEQPACKET */
	tdev_write32(&r.d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_INT(tdev_read32(&r.d, VIRTIO_MMIO_DEVICE_FEATURES), ==, 1); /* VERSION_1 */
	virtio_mmio_read(&r.d, 0x100, &cid, 8);
	CHECK_INT(le64toh(cid), ==, CID);
	virtio_mmio_read(&r.d, 0x104, &hi, 4);
	CHECK_INT(hi, ==, 0);
	virtio_mmio_write(&r.d, 0x100, &bogus, 8);
	virtio_mmio_read(&r.d, 0x100, &cid, 8);
	CHECK_INT(le64toh(cid), ==, CID);
	rig_release(&r);
}

TEST(vsock_create_refuses_bad_arguments)
{
	struct test_vm t;
	struct ev_loop loop;
	struct virtio_dev d, plain;
	mv_error_t err = {0};
	char dir[] = "/tmp/mvrun-vsock-XXXXXX", path[300], *msg;
	int fds = unit_count_fds();

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	tvm_init(&t, 16);
	CHECK_INT(ev_loop_init(&loop, NULL), ==, 0);
	tvm_dev_init_loop(&t, &d, &virtio_vsock_ops, NULL, &loop);

	CHECK_INT(vsock_create(&d, 2, path, &err), <, 0); /* the host's cid */
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	CHECK_INT(vsock_create(&d, 1ULL << 32, path, &err), <, 0);
	mv_error_release(&err);

	char long_path[120];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	CHECK_INT(vsock_create(&d, CID, long_path, &err), <, 0);
	CHECK_INT(err.err, ==, ENAMETOOLONG);
	msg = mv_error_string(&err);
	CHECK(strstr(msg, "too long") != NULL);
	free(msg);
	mv_error_release(&err);

	/* no loop */
	tvm_dev_init(&t, &plain, &virtio_vsock_ops, NULL);
	CHECK_INT(vsock_create(&plain, CID, path, &err), <, 0);
	mv_error_release(&err);
	virtio_dev_release(&plain);

	/* the path is taken */
	CHECK_INT(vsock_create(&d, CID, path, &err), ==, 0);
	tvm_dev_init_loop(&t, &plain, &virtio_vsock_ops, NULL, &loop);
	CHECK_INT(vsock_create(&plain, CID, path, &err), <, 0);
	CHECK_INT(err.err, ==, EADDRINUSE);
	mv_error_release(&err);
	CHECK(access(path, F_OK) == 0); /* the other device's socket stays */
	virtio_dev_release(&plain);

	vsock_destroy(&d);
	vsock_destroy(&d); /* twice: harmless */
	virtio_dev_release(&d);
	ev_loop_release(&loop);
	tvm_release(&t);
	CHECK_INT(rmdir(dir), ==, 0);
	CHECK_INT(unit_count_fds(), ==, fds);
}

TEST(vsock_host_connect_handshake)
{
	struct rig r;
	struct gconn c;
	int irqs;

	rig_init(&r);
	post_rx(&r, 4, 4096);
	irqs = r.t.irqs;
	host_open(&r, &c, 1024, 65536);
	CHECK_INT(r.t.irqs, >, irqs);
	expect_none(&r);

	/* a second connection to the same guest port gets another host port */
	struct gconn c2;
	host_open(&r, &c2, 1024, 65536);
	CHECK_INT(c2.hport, !=, c.hport);
	close(c.hfd);
	close(c2.hfd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_host_connect_refused_by_the_guest)
{
	struct rig r;
	struct pkt p;
	int fd;

	rig_init(&r);
	post_rx(&r, 4, 4096);
	fd = unix_connect(r.path);
	host_puts(fd, "CONNECT 52\n");
	spin(&r);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
	struct gconn c = {.gport = 52, .hport = p.src_port, .buf_alloc = 65536};
	gsend(&r, &c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	CHECK(host_eof(&r, fd));
	expect_none(&r); /* never an RST for an RST */
	close(fd);
	rig_release(&r);
}

TEST(vsock_malformed_connect_lines_close_the_connection)
{
	static const char *bad[] = {
	    "CONNECT\n",
	    "CONNECT \n",
	    "CONNECT abc\n",
	    "connect 52\n",
	    "CONNECT -1\n",
	    "CONNECT 4294967296\n",
	    "CONNECT 5 6\n",
	    "CONNECT 5x\n",
	    "CONNECT52\n",
	    "\n",
	    "OK 5\n",
	    " CONNECT 5\n",
	    "CONNECT 99999999999999999999\n",
	    "CONNECT 1234567890123456789012345678901234567890", /* too long, no newline */
	};
	struct rig r;

	rig_init(&r);
	post_rx(&r, 4, 4096);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = unix_connect(r.path);

		host_puts(fd, bad[i]);
		if (!host_eof(&r, fd))
			unit_fail(__FILE__, __LINE__, "accepted `%s`", bad[i]);
		close(fd);
	}
	/* a NUL in the line */
	int fd = unix_connect(r.path);
	host_write(fd, "CONNECT 5\0\n", 11);
	CHECK(host_eof(&r, fd));
	close(fd);
	/* the host gives up half-way */
	fd = unix_connect(r.path);
	host_puts(fd, "CONNE");
	spin(&r);
	shutdown(fd, SHUT_WR);
	CHECK(host_eof(&r, fd));
	close(fd);
	expect_none(&r);

	/* what is accepted: blanks around the port, CRLF */
	static const char *good[] = {"CONNECT 7\r\n", "CONNECT   8  \n", "CONNECT 0009\n"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct pkt p;

		fd = unix_connect(r.path);
		host_puts(fd, good[i]);
		spin(&r);
		expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
		CHECK_INT(p.dst_port, ==, 7 + i);
		close(fd);
	}
	rig_release(&r);
}

TEST(vsock_connect_line_in_pieces_with_data_after_it)
{
	struct rig r;
	struct pkt p;
	uint8_t buf[64];
	int fd;

	rig_init(&r);
	post_rx(&r, 4, 4096);
	fd = unix_connect(r.path);
	host_puts(fd, "CONN");
	spin(&r);
	host_puts(fd, "ECT 9");
	spin(&r);
	expect_none(&r);
	host_puts(fd, "9\nhello");
	spin(&r);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_INT(p.dst_port, ==, 99);
	struct gconn c = {.gport = 99, .hport = p.src_port, .buf_alloc = 65536, .hfd = fd};
	gsend(&r, &c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	char line[32];
	snprintf(line, sizeof(line), "OK %u\n", c.hport);
	expect_line(&r, fd, line);
	/* the bytes after the line are the stream's first */
	CHECK_INT(guest_read(&r, &c, buf, 5, NULL), ==, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	close(fd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_host_connect_timeouts)
{
	struct rig r;
	struct pkt p;
	int silent, unanswered;

	rig_init(&r);
	post_rx(&r, 4, 4096);
	silent = unix_connect(r.path); /* never says where to */
	unanswered = unix_connect(r.path);
	host_puts(unanswered, "CONNECT 77\n");
	spin(&r);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST); /* and the guest never answers */
	uint32_t hport = p.src_port;
	CHECK(!host_eof(&r, silent));
	CHECK(!host_eof(&r, unanswered));
	spin_for(&r, 2300);
	CHECK(host_eof(&r, silent));
	CHECK(host_eof(&r, unanswered));
	/* the guest learns that the request is off */
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK_INT(p.src_port, ==, hport);
	CHECK_INT(p.dst_port, ==, 77);
	/* a late answer: refused */
	struct gconn c = {.gport = 77, .hport = hport, .buf_alloc = 65536};
	gsend(&r, &c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	close(silent);
	close(unanswered);
	rig_release(&r);
}

/* ---- data ------------------------------------------------------------------- */

TEST(vsock_data_both_ways_across_rx_buffers)
{
	static uint8_t out[10000], in[10000];
	struct rig r;
	struct gconn c;

	rig_init(&r);
	post_rx(&r, 2, 4096);
	host_open(&r, &c, 1024, 65536);
	post_rx(&r, 4, 4096);
	post_rx_kind(&r, 4, 1000, true);
	fill_pattern(out, sizeof(out), 1);
	host_write(c.hfd, out, sizeof(out));
	spin(&r);
	memset(in, 0, sizeof(in));
	CHECK_INT(guest_read(&r, &c, in, sizeof(in), NULL), ==, sizeof(in));
	CHECK(memcmp(in, out, sizeof(out)) == 0);

	fill_pattern(out, 5000, 2);
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, NULL, 0); /* empty: nothing to do */
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, out, 5000);
	memset(in, 0, sizeof(in));
	CHECK_INT(host_read(&r, c.hfd, in, 5000), ==, 5000);
	CHECK(memcmp(in, out, 5000) == 0);
	/* a header alone, then the payload in two more descriptors */
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, c.gport, c.hport, 300);
	uint16_t idx = r.q[TX].next_desc;
	uint64_t gpa = slot(&r, TX, idx);
	memcpy(tvm_ptr(&r.t, gpa), &h, HDR);
	memcpy(tvm_ptr(&r.t, gpa + 100), out, 100);
	memcpy(tvm_ptr(&r.t, gpa + 1000), out + 100, 200);
	struct tdesc d[3] = {{gpa, HDR, false}, {gpa + 100, 100, false}, {gpa + 1000, 200, false}};
	send_chain(&r, d, 3);
	CHECK_INT(host_read(&r, c.hfd, in, 300), ==, 300);
	CHECK(memcmp(in, out, 300) == 0);
	close(c.hfd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_packets_are_at_most_64k)
{
	static uint8_t big[100000], bigin[100000];
	struct rig r;
	struct gconn c;
	struct pkt *p = malloc(sizeof(*p));

	CHECK(p != NULL);
	rig_init(&r);
	post_rx(&r, 1, 4096);
	host_open(&r, &c, 1025, 1 << 20);
	post_rx(&r, 2, 65536 + 4096);
	fill_pattern(big, sizeof(big), 9);
	host_write(c.hfd, big, sizeof(big));
	spin(&r);
	expect_pkt(&r, p, VIRTIO_VSOCK_OP_RW);
	CHECK_INT(p->len, ==, 65536);
	memcpy(bigin, p->data, p->len);
	expect_pkt(&r, p, VIRTIO_VSOCK_OP_RW);
	CHECK_INT(p->len, ==, sizeof(big) - 65536);
	memcpy(bigin + 65536, p->data, p->len);
	CHECK(memcmp(big, bigin, sizeof(big)) == 0);
	free(p);
	close(c.hfd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_host_to_guest_respects_the_guest_credit)
{
	static uint8_t out[20000], in[20000];
	struct rig r;
	struct gconn c;
	int ctrl[8] = {0};
	uint32_t got;

	rig_init(&r);
	post_rx(&r, 1, 4096);
	host_open(&r, &c, 1024, 6000);
	post_rx(&r, 16, 4096);
	fill_pattern(out, sizeof(out), 3);
	host_write(c.hfd, out, sizeof(out));
	spin(&r);
	got = guest_read(&r, &c, in, sizeof(in), ctrl);
	CHECK_INT(got, ==, 6000);
	CHECK_INT(ctrl[VIRTIO_VSOCK_OP_CREDIT_REQUEST], ==, 1);
	spin(&r);
	expect_none(&r);

	/* the guest read it all: 6000 more, and so on */
	while (got < sizeof(out)) {
		uint32_t before = got;

		post_rx(&r, 3, 4096);
		c.fwd_cnt = got;
		gsend(&r, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		got += guest_read(&r, &c, in + got, sizeof(in) - got, ctrl);
		CHECK_INT(got - before, ==,
			  sizeof(out) - before < 6000 ? sizeof(out) - before : 6000);
	}
	CHECK(memcmp(in, out, sizeof(out)) == 0);
	/* a guest that shrinks its buffer below what is in flight: no credit */
	c.buf_alloc = 100;
	gsend(&r, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	host_write(c.hfd, out, 10);
	spin(&r);
	CHECK_INT(guest_read(&r, &c, in, sizeof(in), ctrl), ==, 0);
	close(c.hfd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_host_to_guest_waits_for_rx_buffers)
{
	static uint8_t out[20000], in[20000];
	struct rig r;
	struct gconn c;
	uint32_t got;

	rig_init(&r);
	post_rx(&r, 1, 4096);
	host_open(&r, &c, 1024, 1 << 20);
	post_rx(&r, 2, 4096);
	fill_pattern(out, sizeof(out), 4);
	host_write(c.hfd, out, sizeof(out));
	spin(&r);
	got = guest_read(&r, &c, in, sizeof(in), NULL);
	CHECK_INT(got, ==, 8192);
	spin(&r);
	expect_none(&r);
	post_rx(&r, 1, 4096);
	got += guest_read(&r, &c, in + got, sizeof(in) - got, NULL);
	CHECK_INT(got, ==, 8192 + 4096);
	spin(&r);
	expect_none(&r);
	post_rx(&r, 3, 4096);
	got += guest_read(&r, &c, in + got, sizeof(in) - got, NULL);
	CHECK_INT(got, ==, sizeof(out));
	CHECK(memcmp(in, out, sizeof(out)) == 0);
	close(c.hfd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_guest_to_host_buffers_and_returns_credit)
{
	static uint8_t out[HOST_ALLOC], in[HOST_ALLOC];
	struct rig r;
	struct gconn c;
	struct pkt p;
	uint32_t fwd = 0;
	int updates = 0;

	rig_init(&r);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);
	fill_pattern(out, sizeof(out), 5);
	/* all the credit we give, while the host does not read */
	for (uint32_t off = 0; off < sizeof(out); off += 65536)
		gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, out + off, 65536);
	spin(&r);
	/* the host reads a little, the guest sends more: it goes behind the rest */
	CHECK_INT(host_read(&r, c.hfd, in, 16384), ==, 16384);
	CHECK(memcmp(in, out, 16384) == 0);
	spin(&r);
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, out, 65536);
	CHECK_INT(host_read(&r, c.hfd, in, sizeof(in) - 16384), ==, sizeof(in) - 16384);
	CHECK(memcmp(in, out + 16384, sizeof(in) - 16384) == 0);
	CHECK_INT(host_read(&r, c.hfd, in, 65536), ==, 65536);
	CHECK(memcmp(in, out, 65536) == 0);
	spin(&r);
	while (recv_pkt(&r, &p)) {
		CHECK_INT(p.op, ==, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		CHECK_INT(p.buf_alloc, ==, HOST_ALLOC);
		fwd = p.fwd_cnt;
		updates++;
	}
	/* the guest may send at least half our buffer again */
	CHECK_INT(updates, >=, 1);
	CHECK_INT(fwd, >=, HOST_ALLOC / 2);
	/* a CREDIT_REQUEST is answered at once */
	gsend(&r, &c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	CHECK_INT(p.fwd_cnt, ==, HOST_ALLOC + 65536);
	close(c.hfd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_guest_ignoring_our_credit_is_reset)
{
	static uint8_t out[65536];
	static uint8_t in[1 << 20];
	struct rig r;
	struct gconn c;
	struct pkt p;
	bool rst = false;
	int sent = 0;

	rig_init(&r);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);
	fill_pattern(out, sizeof(out), 6);
	/* the host does not read; the guest sends 1 MiB regardless */
	for (; sent < 16 && !rst; sent++) {
		gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, out, sizeof(out));
		while (recv_pkt(&r, &p)) {
			CHECK_INT(p.src_port, ==, c.hport);
			if (p.op == VIRTIO_VSOCK_OP_RST)
				rst = true;
			else
				CHECK_INT(p.op, ==, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		}
	}
	CHECK(rst);
	CHECK_INT(sent, <, 16);
	/* what the socket took is there, then EOF */
	size_t n = host_read(&r, c.hfd, in, sizeof(in));
	CHECK_INT(n, <=, (size_t)sent * sizeof(out));
	CHECK(host_eof(&r, c.hfd));
	/* the connection is gone: more data gets an RST */
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, out, 10);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	close(c.hfd);
	rig_release(&r);
}

TEST(vsock_guest_that_never_returns_credit_does_not_make_us_buffer)
{
	static uint8_t out[1 << 16], in[1 << 16];
	struct rig r;
	struct gconn c;
	int ctrl[8] = {0};
	size_t written = 0;

	rig_init(&r);
	post_rx(&r, 1, 4096);
	host_open(&r, &c, 1024, 4096);
	post_rx(&r, 16, 4096);
	/* the host writes until its socket is full */
	for (;;) {
		ssize_t n = send(c.hfd, out, sizeof(out), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			break;
		}
		written += (size_t)n;
		spin(&r);
		CHECK_INT(written, <, 64 << 20);
	}
	CHECK_INT(guest_read(&r, &c, in, sizeof(in), ctrl), ==, 4096);
	CHECK_INT(ctrl[VIRTIO_VSOCK_OP_CREDIT_REQUEST], ==, 1);
	spin(&r);
	expect_none(&r);
	close(c.hfd);
	spin(&r);
	rig_release(&r);
}

/* ---- guest-initiated ------------------------------------------------------ */

TEST(vsock_guest_connects_to_a_host_listener)
{
	uint8_t buf[64];
	struct rig r;
	struct gconn c;
	int lfd;

	rig_init(&r);
	lfd = unix_listen(&r, 1024, true);
	post_rx(&r, 8, 4096);
	guest_open(&r, &c, lfd, 5000, 1024);
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, "ping", 4);
	CHECK_INT(host_read(&r, c.hfd, buf, 4), ==, 4);
	CHECK(memcmp(buf, "ping", 4) == 0);
	host_puts(c.hfd, "pong");
	spin(&r);
	CHECK_INT(guest_read(&r, &c, buf, 4, NULL), ==, 4);
	CHECK(memcmp(buf, "pong", 4) == 0);

	/* a second one to the same port, from another guest port */
	struct gconn c2;
	guest_open(&r, &c2, lfd, 5001, 1024);
	host_puts(c2.hfd, "two");
	spin(&r);
	CHECK_INT(guest_read(&r, &c2, buf, 3, NULL), ==, 3);
	/* a REQUEST for a connection that exists resets it */
	gsend(&r, &c2, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	struct pkt p;
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK(host_eof(&r, c2.hfd));
	CHECK(!host_eof(&r, c.hfd));
	close(c.hfd);
	close(c2.hfd);
	close(lfd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_guest_connect_without_a_listener_gets_rst)
{
	struct rig r;
	struct pkt p;
	int bound;

	rig_init(&r);
	post_rx(&r, 4, 4096);
	struct gconn c = {.gport = 5000, .hport = 1025, .buf_alloc = 65536};
	gsend(&r, &c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK_INT(p.src_cid, ==, 2);
	CHECK_INT(p.src_port, ==, 1025);
	CHECK_INT(p.dst_port, ==, 5000);
	/* a socket that is bound but does not listen */
	bound = unix_listen(&r, 1026, false);
	c.hport = 1026;
	gsend(&r, &c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	/* the largest port: the path still fits */
	c.hport = UINT32_MAX;
	gsend(&r, &c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	expect_none(&r);
	close(bound);
	rig_release(&r);
}

/* ---- shutdown and close ----------------------------------------------------- */

TEST(vsock_half_close_host_first)
{
	uint8_t buf[64];
	struct rig r;
	struct gconn c;
	struct pkt p;
	int ctrl[8] = {0};

	rig_init(&r);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);
	host_puts(c.hfd, "abc");
	shutdown(c.hfd, SHUT_WR);
	spin(&r);
	CHECK_INT(guest_read(&r, &c, buf, 3, NULL), ==, 3);
	CHECK(memcmp(buf, "abc", 3) == 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
	CHECK_INT(p.flags, ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_none(&r);
	/* the other direction still works */
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, "xyz", 3);
	CHECK_INT(host_read(&r, c.hfd, buf, 3), ==, 3);
	CHECK(memcmp(buf, "xyz", 3) == 0);
	CHECK(!host_eof(&r, c.hfd));
	/* until the guest is done too: EOF for the host, RST for the guest */
	gsend(&r, &c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	CHECK(host_eof(&r, c.hfd));
	CHECK_INT(guest_read(&r, &c, buf, sizeof(buf), ctrl), ==, 0);
	CHECK_INT(ctrl[VIRTIO_VSOCK_OP_RST], ==, 1);
	expect_none(&r);
	/* the guest's RST for our RST (or its late SHUTDOWN) */
	gsend(&r, &c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	expect_none(&r);
	close(c.hfd);
	rig_release(&r);
}

TEST(vsock_half_close_guest_first)
{
	uint8_t buf[64];
	struct rig r;
	struct gconn c;
	struct pkt p;

	rig_init(&r);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, "hello", 5);
	gsend(&r, &c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	CHECK_INT(host_read(&r, c.hfd, buf, sizeof(buf)), ==, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK(host_eof(&r, c.hfd));
	expect_none(&r);
	/* the host still writes */
	host_puts(c.hfd, "world");
	spin(&r);
	CHECK_INT(guest_read(&r, &c, buf, 5, NULL), ==, 5);
	CHECK(memcmp(buf, "world", 5) == 0);
	shutdown(c.hfd, SHUT_WR);
	spin(&r);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
	CHECK_INT(p.flags, ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	expect_none(&r);
	close(c.hfd);
	rig_release(&r);
}

TEST(vsock_guest_data_after_its_shutdown_resets)
{
	uint8_t buf[64];
	struct rig r;
	struct gconn c;
	struct pkt p;

	rig_init(&r);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);
	gsend(&r, &c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, "late", 4);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK_INT(host_read(&r, c.hfd, buf, sizeof(buf)), ==, 0);
	CHECK(host_eof(&r, c.hfd));
	close(c.hfd);
	rig_release(&r);
}

TEST(vsock_guest_full_shutdown_gets_rst_and_data_is_flushed)
{
	static uint8_t out[4 * 65536], in[4 * 65536];
	struct rig r;
	struct gconn c;
	struct pkt p;

	rig_init(&r);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);
	fill_pattern(out, sizeof(out), 7);
	/* more than the socket takes while the host does not read */
	for (uint32_t off = 0; off < sizeof(out); off += 65536)
		gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, out + off, 65536);
	while (recv_pkt(&r, &p))
		CHECK_INT(p.op, ==, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	gsend(&r, &c, VIRTIO_VSOCK_OP_SHUTDOWN,
	      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST); /* at once: the guest waits for it */
	expect_none(&r);
	/* the guest is done, the host still gets every byte */
	CHECK_INT(host_read(&r, c.hfd, in, sizeof(in)), ==, sizeof(in));
	CHECK(memcmp(in, out, sizeof(out)) == 0);
	CHECK(host_eof(&r, c.hfd));
	close(c.hfd);

	/* without data in flight */
	host_open(&r, &c, 1025, 65536);
	gsend(&r, &c, VIRTIO_VSOCK_OP_SHUTDOWN,
	      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK(host_eof(&r, c.hfd));
	close(c.hfd);
	rig_release(&r);
}

TEST(vsock_guest_rst_closes_the_host_socket)
{
	struct rig r;
	struct gconn c;
	struct pkt p;

	rig_init(&r);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);
	gsend(&r, &c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	CHECK(host_eof(&r, c.hfd));
	expect_none(&r);
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	close(c.hfd);
	rig_release(&r);
}

TEST(vsock_host_close_delivers_data_then_shutdown_and_rst)
{
	uint8_t buf[64];
	struct rig r;
	struct gconn c;
	struct pkt p;

	rig_init(&r);
	post_rx(&r, 16, 4096);
	host_open(&r, &c, 1024, 65536);
	host_puts(c.hfd, "bye");
	close(c.hfd);
	spin(&r);
	CHECK_INT(guest_read(&r, &c, buf, 3, NULL), ==, 3);
	CHECK(memcmp(buf, "bye", 3) == 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	expect_none(&r);

	/* closed while the guest has no credit for what is left: no busy loop,
	 * and the rest comes once it has */
	host_open(&r, &c, 1025, 2);
	host_puts(c.hfd, "abcd");
	close(c.hfd);
	spin(&r);
	CHECK_INT(guest_read(&r, &c, buf, sizeof(buf), (int[8]){0}), ==, 2);
	spin(&r);
	c.fwd_cnt = 2;
	gsend(&r, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	CHECK_INT(guest_read(&r, &c, buf, 2, NULL), ==, 2);
	CHECK(memcmp(buf, "cd", 2) == 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_CREDIT_REQUEST); /* out of credit again */
	c.fwd_cnt = 4;
	gsend(&r, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	expect_none(&r);
	rig_release(&r);
}

TEST(vsock_device_reset_drops_connections)
{
	struct rig r;
	struct gconn c, c2;
	int lfd;

	rig_init(&r);
	lfd = unix_listen(&r, 1024, true);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);
	guest_open(&r, &c2, lfd, 5000, 1024);
	int waiting = unix_connect(r.path); /* no command yet: not the guest's */
	tdev_write32(&r.d, VIRTIO_MMIO_STATUS, 0);
	spin(&r);
	CHECK(host_eof(&r, c.hfd));
	CHECK(host_eof(&r, c2.hfd));
	CHECK(!host_eof(&r, waiting));
	/* and the device works again after a new setup */
	setup_queues(&r);
	post_rx(&r, 4, 4096);
	host_puts(waiting, "CONNECT 5\n");
	spin(&r);
	struct pkt p;
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_INT(p.dst_port, ==, 5);
	close(waiting);
	close(c.hfd);
	close(c2.hfd);
	close(lfd);

	/* a host connection while the driver is not ready waits for it */
	tdev_write32(&r.d, VIRTIO_MMIO_STATUS, 0);
	spin(&r);
	waiting = unix_connect(r.path);
	host_puts(waiting, "CONNECT 6\n");
	spin(&r);
	setup_queues(&r);
	post_rx(&r, 4, 4096);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_INT(p.dst_port, ==, 6);
	close(waiting);
	rig_release(&r);
}

TEST(vsock_destroy_with_connections_in_every_state)
{
	static uint8_t out[65536];
	struct rig r;
	struct gconn c, c2, c3;
	int lfd, cmd, req;

	rig_init(&r);
	lfd = unix_listen(&r, 1024, true);
	post_rx(&r, 8, 4096);
	host_open(&r, &c, 1024, 65536);	      /* established */
	guest_open(&r, &c2, lfd, 5000, 1024); /* established, guest-initiated */
	host_open(&r, &c3, 1026, 65536);
	cmd = unix_connect(r.path); /* reading the command */
	req = unix_connect(r.path); /* waiting for the guest */
	host_puts(req, "CONNECT 9\n");
	spin(&r);
	/* buffered data both ways, and a closing one with data to flush */
	for (int i = 0; i < 4; i++)
		gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, out, sizeof(out));
	host_write(c2.hfd, out, 1000);
	for (int i = 0; i < 4; i++)
		gsend(&r, &c3, VIRTIO_VSOCK_OP_RW, 0, out, sizeof(out));
	gsend(&r, &c3, VIRTIO_VSOCK_OP_SHUTDOWN, 3, NULL, 0);
	/* use up the rx buffers (and leave RSTs waiting) ... */
	for (uint32_t i = 0; i < 10; i++) {
		struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 100 + i, 2, 0);
		send_raw(&r, &h, NULL, 0);
	}
	/* ... and one closed, its RST waiting for rx buffers */
	gsend(&r, &c2, VIRTIO_VSOCK_OP_SHUTDOWN, 3, NULL, 0);
	/* the host's ends go first, unseen by the device */
	close(c.hfd);
	close(c2.hfd);
	close(c3.hfd);
	close(cmd);
	close(req);
	close(lfd);
	rig_release(&r);
}

/* ---- a hostile guest --------------------------------------------------------- */

TEST(vsock_unknown_connections_get_rst)
{
	static const uint16_t ops[] = {
	    VIRTIO_VSOCK_OP_RW,
	    VIRTIO_VSOCK_OP_RESPONSE,
	    VIRTIO_VSOCK_OP_SHUTDOWN,
	    VIRTIO_VSOCK_OP_CREDIT_UPDATE,
	    VIRTIO_VSOCK_OP_CREDIT_REQUEST,
	};
	struct rig r;
	struct pkt p;

	rig_init(&r);
	post_rx(&r, 8, 4096);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct virtio_vsock_hdr h = mkhdr(ops[i], 888, 777, 0);

		send_raw(&r, &h, NULL, 0);
		expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
		CHECK_INT(p.src_cid, ==, 2);
		CHECK_INT(p.src_port, ==, 777);
		CHECK_INT(p.dst_port, ==, 888);
	}
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RST, 888, 777, 0);
	send_raw(&r, &h, NULL, 0);
	expect_none(&r);
	rig_release(&r);
}

TEST(vsock_hostile_headers)
{
	static uint8_t big[65536 + 100];
	struct rig r;
	struct pkt p;
	struct virtio_vsock_hdr h;

	rig_init(&r);
	post_rx(&r, 16, 4096);

	/* shorter than a header, and no readable part at all: dropped */
	uint64_t gpa = slot(&r, TX, r.q[TX].next_desc);
	struct tdesc shortd = {gpa, 10, false};
	send_chain(&r, &shortd, 1);
	gpa = slot(&r, TX, r.q[TX].next_desc);
	struct tdesc wonly = {gpa, 100, true};
	send_chain(&r, &wonly, 1);
	expect_none(&r);

	/* a source that is not the guest: dropped */
	h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 0);
	h.src_cid = htole64(4);
	send_raw(&r, &h, NULL, 0);
	h.src_cid = htole64(2);
	send_raw(&r, &h, NULL, 0);
	expect_none(&r);

	/* not for the host: RST from whom it was for */
	h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 0);
	h.dst_cid = htole64(7);
	send_raw(&r, &h, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK_INT(p.src_cid, ==, 7);

	/* SEQPACKET, unknown and invalid ops */
	h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 0);
	h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	send_raw(&r, &h, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	h = mkhdr(99, 1, 2, 0);
	send_raw(&r, &h, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	h = mkhdr(VIRTIO_VSOCK_OP_INVALID, 1, 2, 0);
	send_raw(&r, &h, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);

	/* a length beyond the chain, and beyond 64 KiB */
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 1, 2, 100);
	send_raw(&r, &h, big, 10);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 1, 2, sizeof(big));
	send_raw(&r, &h, big, sizeof(big));
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 1, 2, 0xffffffff);
	send_raw(&r, &h, big, 10);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	expect_none(&r);
	CHECK(!needs_reset(&r));
	rig_release(&r);
}

TEST(vsock_hostile_packets_on_a_connection_reset_it)
{
	static uint8_t big[65536 + 100];
	struct rig r;
	struct gconn c;
	struct pkt p;
	struct virtio_vsock_hdr h;

	rig_init(&r);
	post_rx(&r, 16, 4096);
	for (int i = 0; i < 5; i++) {
		host_open(&r, &c, 1024, 65536);
		h = mkhdr(VIRTIO_VSOCK_OP_RW, c.gport, c.hport, 100);
		switch (i) {
		case 0: /* length beyond the chain */
			send_raw(&r, &h, big, 10);
			break;
		case 1: /* beyond 64 KiB */
			h.len = htole32(sizeof(big));
			send_raw(&r, &h, big, sizeof(big));
			break;
		case 2: /* wrong type */
			h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
			send_raw(&r, &h, big, 100);
			break;
		case 3: /* a RESPONSE on an established connection */
			gsend(&r, &c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
			break;
		case 4: /* an unknown op */
			h.op = htole16(42);
			send_raw(&r, &h, big, 100);
			break;
		}
		expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
		CHECK_INT(p.src_port, ==, c.hport);
		CHECK(host_eof(&r, c.hfd));
		close(c.hfd);
		expect_none(&r);
	}
	/* data before the connection is accepted */
	int fd = unix_connect(r.path);
	host_puts(fd, "CONNECT 3\n");
	spin(&r);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
	c = (struct gconn){.gport = 3, .hport = p.src_port, .buf_alloc = 65536};
	gsend(&r, &c, VIRTIO_VSOCK_OP_RW, 0, "early", 5);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK(host_eof(&r, fd));
	close(fd);
	/* a SHUTDOWN before it */
	fd = unix_connect(r.path);
	host_puts(fd, "CONNECT 3\n");
	spin(&r);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
	c = (struct gconn){.gport = 3, .hport = p.src_port, .buf_alloc = 65536};
	gsend(&r, &c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK(host_eof(&r, fd));
	close(fd);
	/* the host gave up before the guest accepted: the guest hears so */
	fd = unix_connect(r.path);
	host_puts(fd, "CONNECT 3\n");
	spin(&r);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
	close(fd);
	spin(&r);
	c = (struct gconn){.gport = 3, .hport = p.src_port, .buf_alloc = 65536};
	gsend(&r, &c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	CHECK(!needs_reset(&r));
	rig_release(&r);
}

TEST(vsock_hostile_rx_buffers_are_given_back)
{
	struct rig r;
	struct pkt p;
	struct test_queue *q;

	rig_init(&r);
	q = &r.q[RX];
	/* only readable; only room for a header; then a good one */
	struct tdesc ro = {slot(&r, RX, q->next_desc), 4096, false};
	tq_add(q, &ro, 1);
	struct tdesc tiny = {slot(&r, RX, q->next_desc), HDR, true};
	tq_add(q, &tiny, 1);
	r.rx_out += 2;
	post_rx(&r, 1, 4096);
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 1, 2, 0);
	send_raw(&r, &h, NULL, 0);
	CHECK(recv_pkt(&r, &p));
	CHECK_INT(p.used_len, ==, 0);
	CHECK(recv_pkt(&r, &p));
	CHECK_INT(p.used_len, ==, 0);
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST);
	expect_none(&r);
	CHECK(!needs_reset(&r));
	/* a broken rx ring breaks the device, nothing else */
	tq_publish(q, 1000);
	tq_kick(&r.d, RX);
	spin(&r);
	send_raw(&r, &h, NULL, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);
}

TEST(vsock_guest_without_rx_buffers_cannot_make_us_queue_much)
{
	struct rig r;
	struct pkt p;
	int n = 0, fds[4];

	rig_init(&r);
	/* a flood of packets that each want an RST, and nowhere to put them */
	for (int i = 0; i < 500; i++) {
		struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 1000 + (uint32_t)i, 2, 0);
		send_raw(&r, &h, NULL, 0);
	}
	for (int i = 0; i < 4; i++) {
		fds[i] = unix_connect(r.path);
		host_puts(fds[i], "CONNECT 8\n");
	}
	spin(&r);
	expect_none(&r);
	/* when buffers come: the connection requests, and a bounded number of RSTs */
	for (int round = 0; round < 3; round++) {
		post_rx(&r, 32, 4096);
		while (recv_pkt(&r, &p)) {
			CHECK(p.op == VIRTIO_VSOCK_OP_RST || p.op == VIRTIO_VSOCK_OP_REQUEST);
			n++;
		}
	}
	CHECK_INT(n, <=, 64 + 4);
	CHECK_INT(n, >=, 4);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_many_connections_stay_apart)
{
	uint8_t buf[64];
	struct rig r;
	struct gconn c[6];
	int lfd;

	rig_init(&r);
	lfd = unix_listen(&r, 2000, true);
	post_rx(&r, 16, 4096);
	for (int i = 0; i < 3; i++)
		host_open(&r, &c[i], 100 + (uint32_t)i, 65536);
	for (int i = 3; i < 6; i++)
		guest_open(&r, &c[i], lfd, 7000 + (uint32_t)i, 2000);
	for (int i = 0; i < 6; i++) {
		char msg[16];

		snprintf(msg, sizeof(msg), "to-host-%d", i);
		gsend(&r, &c[i], VIRTIO_VSOCK_OP_RW, 0, msg, (uint32_t)strlen(msg));
	}
	for (int i = 5; i >= 0; i--) {
		char msg[16];

		snprintf(msg, sizeof(msg), "to-guest-%d", i);
		host_puts(c[i].hfd, msg);
	}
	spin(&r);
	/* the packets come in any order; each to its own connection */
	char got[6][32] = {{0}};
	static struct pkt p;
	while (recv_pkt(&r, &p)) {
		int j = 0;

		while (j < 6 && (p.src_port != c[j].hport || p.dst_port != c[j].gport))
			j++;
		CHECK_INT(j, <, 6);
		CHECK_INT(p.op, ==, VIRTIO_VSOCK_OP_RW);
		CHECK_INT(strlen(got[j]) + p.len, <, sizeof(got[j]));
		strncat(got[j], (char *)p.data, p.len);
	}
	for (int i = 0; i < 6; i++) {
		char msg[16];

		snprintf(msg, sizeof(msg), "to-guest-%d", i);
		CHECK_STR(got[i], msg);
	}
	for (int i = 0; i < 6; i++) {
		char msg[16];

		snprintf(msg, sizeof(msg), "to-host-%d", i);
		memset(buf, 0, sizeof(buf));
		CHECK_INT(host_read(&r, c[i].hfd, buf, strlen(msg)), ==, strlen(msg));
		CHECK_STR((char *)buf, msg);
		close(c[i].hfd);
	}
	close(lfd);
	spin(&r);
	rig_release(&r);
}

#define NCONN 300 /* more than the device's hash buckets */

TEST(vsock_hundreds_of_connections_at_once)
{
	static struct gconn c[NCONN];
	struct rig r;
	uint8_t buf[16];
	int lfd;

	rig_init(&r);
	lfd = unix_listen(&r, 2000, true);
	for (int i = 0; i < 40; i++) {
		post_rx(&r, 1, 4096);
		host_open(&r, &c[i], 1000, 65536); /* one guest port: only the host's differ */
	}
	for (int i = 40; i < NCONN; i++) {
		post_rx(&r, 1, 4096);
		guest_open(&r, &c[i], lfd, 10000 + (uint32_t)i, 2000);
	}
	for (int i = 0; i < NCONN; i++) {
		char msg[16];

		snprintf(msg, sizeof(msg), "m%03d", i);
		gsend(&r, &c[i], VIRTIO_VSOCK_OP_RW, 0, msg, 4);
		memset(buf, 0, sizeof(buf));
		CHECK_INT(host_read(&r, c[i].hfd, buf, 4), ==, 4);
		CHECK_STR((char *)buf, msg);
	}
	for (int i = NCONN - 1; i >= 0; i -= 2) {
		struct pkt p;

		post_rx(&r, 2, 64);
		gsend(&r, &c[i], VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
		CHECK(host_eof(&r, c[i].hfd));
		gsend(&r, &c[i], VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
		expect_pkt(&r, &p, VIRTIO_VSOCK_OP_RST); /* gone */
		gsend(&r, &c[i - 1], VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
		expect_pkt(&r, &p, VIRTIO_VSOCK_OP_CREDIT_UPDATE); /* still there */
		CHECK_INT(p.src_port, ==, c[i - 1].hport);
	}
	for (int i = 0; i < NCONN; i++)
		close(c[i].hfd);
	close(lfd);
	spin(&r);
	rig_release(&r);
}

TEST(vsock_accept_failure_pauses_the_listener)
{
	struct rig r;
	struct rlimit old, low;
	struct pkt p;
	int fd, fill[64], nfill = 0;

	rig_init(&r);
	post_rx(&r, 2, 4096);
	fd = unix_connect(r.path);
	/* no fd left for accept() */
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), ==, 0);
	low = old;
	low.rlim_cur = (rlim_t)fd + 1;
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	while (nfill < 64 && (fill[nfill] = dup(fd)) >= 0)
		nfill++;
	CHECK(nfill < 64 && errno == EMFILE);
	spin(&r); /* accept fails: no busy loop */
	while (nfill > 0)
		close(fill[--nfill]);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), ==, 0);
	host_puts(fd, "CONNECT 4\n");
	spin(&r);
	expect_none(&r);
	spin_for(&r, 200); /* accepting again */
	expect_pkt(&r, &p, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_INT(p.dst_port, ==, 4);
	close(fd);
	rig_release(&r);
}
