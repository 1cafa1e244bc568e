/* A test-side virtio driver: guest memory without KVM, rings laid out in it,
 * feature negotiation through the MMIO registers, buffers added and used
 * entries read back as the Linux driver would (or as a hostile one would). */
#ifndef MV_TEST_VIRTIO_DRIVER_H
#define MV_TEST_VIRTIO_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/virtio.h"

struct test_vm {
	struct guest_mem mem;
	uint64_t next; /* bump allocator for guest addresses */
	int irqs;      /* interrupts raised by devices */
};

struct test_queue {
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t next_desc; /* descriptors are handed out round-robin */
	uint16_t used_seen;
};

struct tdesc {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

void tvm_init(struct test_vm *t, uint64_t mib);
void tvm_release(struct test_vm *t);
uint64_t tvm_alloc(struct test_vm *t, uint64_t len);
void *tvm_ptr(struct test_vm *t, uint64_t gpa);
/* Make a device of this test VM (no event loop: notifications act at once). */
void tvm_dev_init(struct test_vm *t, struct virtio_dev *d, const struct virtio_dev_ops *ops,
		  void *priv);
/* The same with an event loop: a kick writes the queue's eventfd and the
 * device acts when the test runs the loop (ev_loop_run_once). */
void tvm_dev_init_loop(struct test_vm *t, struct virtio_dev *d, const struct virtio_dev_ops *ops,
		       void *priv, struct ev_loop *loop);

uint32_t tdev_read32(struct virtio_dev *d, uint64_t off);
void tdev_write32(struct virtio_dev *d, uint64_t off, uint32_t val);

/* Negotiate `features` (VERSION_1 added), set up nq queues of `size` and
 * set DRIVER_OK; returns the final status register. */
uint32_t tdrv_setup(struct test_vm *t, struct virtio_dev *d, struct test_queue *qs, unsigned nq,
		    uint16_t size, uint64_t features);

/* Publish a chain of n descriptors; returns its head index. */
uint16_t tq_add(struct test_queue *q, const struct tdesc *descs, int n);
/* Publish an arbitrary head index (hostile tests). */
void tq_publish(struct test_queue *q, uint16_t head);
void tq_kick(struct virtio_dev *d, unsigned qi);
/* The next used entry: 1 and its id/len, or 0 when none is new. */
int tq_used(struct test_queue *q, uint32_t *id, uint32_t *len);

#endif
