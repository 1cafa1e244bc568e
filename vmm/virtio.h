/* Virtio devices over the virtio-mmio transport (virtio 1.x, "version 2"
 * registers).  A device model is an ops table plus private state; the
 * transport owns the registers, feature negotiation, the queues, queue
 * notifications (ioeventfds, handled in the event loop thread) and the
 * interrupt (irqfd).
 *
 * Locking: dev->lock guards the registers, the queues and the device's own
 * state.  The transport takes it around register accesses (vCPU threads) and
 * around ops->queue_notify (event loop thread); a device takes it in its own
 * event handlers. */
#ifndef MV_VIRTIO_H
#define MV_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/event_loop.h"
#include "vmm/memory.h"
#include "vmm/virtqueue.h"

#define VIRTIO_MAX_QUEUES 8

struct virtio_dev;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	uint64_t features; /* VIRTIO_F_VERSION_1 is added by the transport */
	unsigned nqueues;
	uint16_t queue_max;
	uint32_t config_size;
	/* Config space access, already bounds-checked against config_size. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, void *data, uint32_t len);
	void (*config_write)(struct virtio_dev *d, uint32_t off, const void *data, uint32_t len);
	/* DRIVER_OK: the queues are active; start working.  -1 marks the device broken. */
	int (*activate)(struct virtio_dev *d);
	/* The driver reset the device: drop all state that came from the guest. */
	void (*reset)(struct virtio_dev *d);
	/* The driver notified queue q (event loop thread, lock held). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;
	const struct guest_mem *mem;
	struct ev_loop *loop; /* NULL in unit tests: notifications are handled at once */
	pthread_mutex_t lock;
	uint64_t base;
	uint32_t irq;

	/* raises the interrupt line (an irqfd write in a VM, a counter in tests) */
	void (*raise_irq)(struct virtio_dev *d);
	void *irq_ctx;

	uint32_t status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t interrupt_status;
	uint32_t config_generation;
	bool broken;
	struct vq queues[VIRTIO_MAX_QUEUES];
	struct virtio_notify {
		struct ev_handler h; /* h.fd is the queue's ioeventfd */
		struct virtio_dev *dev;
		unsigned q;
	} notify[VIRTIO_MAX_QUEUES];
};

/* Set up a device; with a loop, one eventfd per queue is created and
 * watched (the VM registers them as ioeventfds at base + QueueNotify). */
int virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
		    const struct guest_mem *mem, struct ev_loop *loop, uint64_t base, uint32_t irq,
		    mv_error_t *err);
void virtio_dev_release(struct virtio_dev *d);

/* MMIO register access at offset `off` from the device's base. */
void virtio_mmio_read(struct virtio_dev *d, uint64_t off, void *data, uint32_t len);
void virtio_mmio_write(struct virtio_dev *d, uint64_t off, const void *data, uint32_t len);

/* For device models (lock held): used buffers are on queue q. */
void virtio_used_interrupt(struct virtio_dev *d, unsigned q);
/* The guest broke the rules: set DEVICE_NEEDS_RESET and stop serving. */
void virtio_dev_break(struct virtio_dev *d, const char *why);
/* Device-specific configuration changed. */
void virtio_config_changed(struct virtio_dev *d);

static inline void virtio_lock(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
}

static inline void virtio_unlock(struct virtio_dev *d)
{
	pthread_mutex_unlock(&d->lock);
}

#endif
