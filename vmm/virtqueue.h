/* Split virtqueues (virtio 1.x) as the device side sees them.  The guest
 * owns the rings and may write anything into them at any time: every index
 * and address is checked, each descriptor is copied once before use, and a
 * queue that breaks the rules is marked broken and never touched again. */
#ifndef MV_VIRTQUEUE_H
#define MV_VIRTQUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/memory.h"

#define VQ_MAX_SIZE 256 /* the largest queue any of our devices offers */

struct vq {
	/* written by the driver through the transport before it is ready */
	uint16_t size;
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* set by vq_activate */
	const struct guest_mem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail; /* next avail ring slot to take */
	uint16_t used_idx;   /* next used ring slot to fill */
	bool active;
	bool broken;
	const char *broken_why; /* static text, for the log */
};

struct vq_buf {
	uint8_t *addr; /* host address, checked to lie in guest RAM */
	uint32_t len;
	bool write; /* device-writable */
};

/* One descriptor chain: readable buffers first, then writable ones. */
struct vq_chain {
	uint16_t head;
	uint16_t n;
	uint16_t n_read; /* bufs[0, n_read) are readable */
	size_t read_len, write_len;
	struct vq_buf bufs[VQ_MAX_SIZE];
};

/* Check the rings the driver configured and start using them.  Returns -1
 * (and marks the queue broken) when they are not inside guest RAM, are
 * misaligned, or the size is not a power of two up to max_size. */
int vq_activate(struct vq *q, const struct guest_mem *mem, uint16_t max_size);

/* Forget everything (device reset). */
void vq_reset(struct vq *q);

/* Take the next available chain: 1 when one was taken, 0 when none is
 * available, -1 when the queue is (or just became) broken. */
int vq_pop(struct vq *q, struct vq_chain *c);

/* Give a chain back with the number of bytes written into it. */
void vq_push(struct vq *q, uint16_t head, uint32_t written);

/* Whether the driver wants an interrupt for used buffers now. */
bool vq_needs_interrupt(const struct vq *q);

/* Whether a chain is waiting, without taking it. */
bool vq_has_avail(const struct vq *q);

/* Copy from the readable part of a chain, starting `off` bytes in;
 * returns the bytes copied (fewer when the chain is shorter). */
size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len);

/* Copy into the writable part of a chain, starting `off` bytes in. */
size_t vq_chain_write(const struct vq_chain *c, size_t off, const void *src, size_t len);

/* iovecs over the readable (write=false) or writable part, skipping `off`
 * bytes and taking at most `len`; returns the count used (at most max). */
int vq_chain_iov(const struct vq_chain *c, bool write, size_t off, size_t len, struct iovec *iov,
		 int max);

#endif
