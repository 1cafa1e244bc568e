/* Private to the virtio-vsock device (vmm/virtio_vsock.c, vmm/vsock_conn.c):
 * the device state and one stream connection between a guest AF_VSOCK socket
 * and a host AF_UNIX socket.
 *
 * Locking: everything here is guarded by the device lock (virtio_lock).  The
 * event loop thread does all the work; a vCPU thread only reads the config
 * space and, on a device reset, sets reset_pending and wakes the timer so
 * that the loop thread drops the connections (ev_del is not thread-safe).
 *
 * Lifetime: a connection's socket is watched with an embedded ev_handler;
 * closing it means ev_del + close, and the memory goes in the handler's
 * release callback (or later, once its last control packet went to the
 * guest).  struct vsock counts the handlers the loop still holds (refs) and
 * is freed with the last one, so vsock_destroy() may run before
 * ev_loop_release(), which then completes the teardown. */
#ifndef MV_VSOCK_CONN_H
#define MV_VSOCK_CONN_H

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "vmm/virtio.h"

#define VSOCK_HOST_CID	      2
#define VSOCK_HDR_SIZE	      ((uint32_t)sizeof(struct virtio_vsock_hdr)) /* 44 */
#define VSOCK_MAX_PKT	      (64 * 1024)  /* largest payload either side sends */
#define VSOCK_BUF_ALLOC	      (256 * 1024) /* what we buffer per connection, guest -> host */
#define VSOCK_MAX_CONNS	      1024
#define VSOCK_CMD_MAX	      32 /* "CONNECT 4294967295\n" is 19 */
#define VSOCK_CMD_TIMEOUT_MS  2000
#define VSOCK_RESP_TIMEOUT_MS 2000  /* the guest's RESPONSE to our REQUEST */
#define VSOCK_LINGER_MS	      10000 /* flushing to the host after the guest closed */
#define VSOCK_RST_QUEUE	      64    /* RSTs for packets without a connection */
#define VSOCK_HASH_SIZE	      256
#define VSOCK_READ_BUDGET     16 /* packets read from one socket per event */

enum { VSOCK_RX = 0, VSOCK_TX = 1, VSOCK_EVENT = 2, VSOCK_NQUEUES = 3 };

/* Control packets waiting for rx buffers; sent in this order, before data. */
enum {
	VSOCK_CTRL_REQUEST = 1 << 0,
	VSOCK_CTRL_RESPONSE = 1 << 1,
	VSOCK_CTRL_CREDIT_REQUEST = 1 << 2,
	VSOCK_CTRL_CREDIT_UPDATE = 1 << 3,
	VSOCK_CTRL_SHUTDOWN = 1 << 4, /* flags: SEND (the host side hit EOF) */
	VSOCK_CTRL_RST = 1 << 5,
};

enum vsock_conn_state {
	VSOCK_CONN_CMD,		/* host-initiated: reading "CONNECT <port>\n" */
	VSOCK_CONN_REQUEST,	/* host-initiated: REQUEST to the guest, waiting for RESPONSE */
	VSOCK_CONN_ESTABLISHED, /* bytes flow (each direction until its shutdown) */
	VSOCK_CONN_LINGER,	/* the guest is gone (RST queued); flushing to the host */
	VSOCK_CONN_CLOSED,	/* socket closed; memory waits for release / last RST */
};

struct vsock;

struct vsock_conn {
	struct ev_handler h; /* h.fd: the Unix socket, -1 once closed */
	struct vsock *v;
	enum vsock_conn_state state;
	uint32_t local_port; /* the host side's vsock port */
	uint32_t peer_port;  /* the guest side's */

	TAILQ_ENTRY(vsock_conn) all_entry, ctrl_entry, wait_entry;
	struct vsock_conn *hash_next;
	bool in_hash, in_ctrl, in_wait;

	bool registered; /* h was ev_add()ed ... */
	bool released;	 /* ... and its release callback ran */
	bool armed;	 /* watched (EPOLLONESHOT) and not fired since */
	uint32_t events; /* what it is armed for */
	uint64_t deadline_ms;

	uint32_t ctrl; /* VSOCK_CTRL_* */
	bool request_sent;

	char cmd[VSOCK_CMD_MAX];
	uint32_t cmd_len;

	uint32_t guest_shut; /* VIRTIO_VSOCK_SHUTDOWN_* received */
	bool host_eof;	     /* read EOF from the Unix socket */
	bool wr_shut;	     /* shutdown(SHUT_WR) done */

	/* host -> guest: never more than peer_buf_alloc - (tx_cnt - peer_fwd_cnt) */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	bool credit_stalled, credit_requested;

	/* guest -> host: rx_cnt bytes received, fwd_cnt written to the socket */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	uint8_t *buf; /* what the socket could not take yet, at most VSOCK_BUF_ALLOC */
	uint32_t buf_start, buf_len, buf_cap;
};

TAILQ_HEAD(vsock_conn_list, vsock_conn);

struct vsock_rst {
	uint64_t src_cid;
	uint32_t src_port, dst_port;
};

struct vsock {
	struct virtio_dev *d;
	struct ev_loop *loop;
	uint64_t guest_cid;
	char *uds_path;
	struct ev_handler listener; /* listening at uds_path */
	struct ev_handler timer;    /* timerfd: deadlines, deferred reset, resuming */
	unsigned refs;		    /* the device's own + each handler the loop holds */
	bool bound;		    /* uds_path is ours to unlink */
	bool destroyed;
	bool reset_pending;
	uint64_t timer_at;	   /* when the timer fires, 0: disarmed */
	uint64_t listen_resume_ms; /* accepting paused after an error until then */

	struct vsock_conn_list conns; /* every connection */
	struct vsock_conn_list ctrl;  /* those with control packets waiting */
	struct vsock_conn_list wait;  /* those waiting for rx buffers */
	unsigned nconns;
	struct vsock_conn *hash[VSOCK_HASH_SIZE]; /* guest-facing, by port pair */
	uint32_t next_port;

	struct vsock_rst rst[VSOCK_RST_QUEUE];
	unsigned rst_head, rst_len;

	bool rx_held; /* rx_chain was popped and not used yet */
	bool rx_used, tx_used;
	struct vq_chain rx_chain, tx_chain;
};

/* vmm/virtio_vsock.c */
uint64_t vsock_now_ms(void);
void vsock_schedule(struct vsock *v, uint64_t at_ms);
void vsock_hash_add(struct vsock *v, struct vsock_conn *c);
void vsock_hash_del(struct vsock *v, struct vsock_conn *c);
uint32_t vsock_alloc_port(struct vsock *v);
/* Queue control packets for c (an RST replaces all but a SHUTDOWN). */
void vsock_ctrl(struct vsock *v, struct vsock_conn *c, uint32_t bits);
void vsock_ctrl_clear(struct vsock *v, struct vsock_conn *c);
void vsock_rst_reply(struct vsock *v, const struct virtio_vsock_hdr *h);
void vsock_hdr_fill(struct vsock *v, struct vsock_conn *c, struct virtio_vsock_hdr *h, uint16_t op,
		    uint32_t flags, uint32_t len);
/* The held rx chain with room for a header and some payload, or NULL. */
struct vq_chain *vsock_rx_chain(struct vsock *v);
void vsock_rx_push(struct vsock *v, const struct virtio_vsock_hdr *h, uint32_t len);
/* Send the waiting control packets while rx buffers last. */
void vsock_rx_flush(struct vsock *v);
void vsock_enter(struct vsock *v);
void vsock_leave(struct vsock *v);
void vsock_unref(struct vsock *v);

/* vmm/vsock_conn.c */
int vsock_conn_host(struct vsock *v, int fd);
void vsock_conn_guest(struct vsock *v, const struct virtio_vsock_hdr *h);
void vsock_conn_recv(struct vsock_conn *c, const struct virtio_vsock_hdr *h,
		     const struct vq_chain *ch);
void vsock_conn_arm(struct vsock_conn *c);
void vsock_conn_expire(struct vsock_conn *c);
void vsock_conn_drop(struct vsock_conn *c);
void vsock_conn_reset(struct vsock_conn *c);
void vsock_conn_sent(struct vsock_conn *c); /* its last control packet went out */
void vsock_conn_detach(struct vsock_conn *c);

#endif
