/* The virtio-mmio transport, register layout of virtio 1.x section 4.2.2. */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/virtio.h"

#define MMIO_MAGIC	   0x74726976 /* "virt" */
#define MMIO_VERSION_2	   2
#define VIRTIO_VENDOR_ID   0x4e52564d /* "MVRN" */
#define VIRTIO_MMIO_CONFIG 0x100

static void notify_event(struct ev_handler *h, uint32_t events)
{
	struct virtio_notify *n = (struct virtio_notify *)h;
	struct virtio_dev *d = n->dev;
	uint64_t count;

	(void)events;
	if (read(h->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	virtio_lock(d);
	if (!d->broken && (d->status & VIRTIO_CONFIG_S_DRIVER_OK) && d->queues[n->q].active)
		d->ops->queue_notify(d, n->q);
	virtio_unlock(d);
}

int virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
		    const struct guest_mem *mem, struct ev_loop *loop, uint64_t base, uint32_t irq,
		    mv_error_t *err)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->mem = mem;
	d->loop = loop;
	d->base = base;
	d->irq = irq;
	pthread_mutex_init(&d->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->notify[q].h.fd = -1;
	if (ops->nqueues > VIRTIO_MAX_QUEUES || ops->queue_max > VQ_MAX_SIZE)
		return mv_error(err, EINVAL, "virtio device `%s`: too many or too large queues",
				ops->name);
	if (loop == NULL)
		return 0;
	for (unsigned q = 0; q < ops->nqueues; q++) {
		struct virtio_notify *n = &d->notify[q];

		n->dev = d;
		n->q = q;
		n->h.fn = notify_event;
		n->h.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->h.fd < 0 || ev_add(loop, &n->h, EPOLLIN) < 0) {
			mv_error(err, errno, "virtio device `%s`: queue notification eventfd",
				 ops->name);
			virtio_dev_release(d);
			return -1;
		}
	}
	return 0;
}

void virtio_dev_release(struct virtio_dev *d)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct virtio_notify *n = &d->notify[q];
		if (n->h.fd < 0)
			continue;
		if (d->loop)
			ev_del(d->loop, &n->h);
		close(n->h.fd);
		n->h.fd = -1;
	}
	pthread_mutex_destroy(&d->lock);
}

static void raise_interrupt(struct virtio_dev *d, uint32_t bits)
{
	d->interrupt_status |= bits;
	if (d->raise_irq)
		d->raise_irq(d);
}

void virtio_used_interrupt(struct virtio_dev *d, unsigned q)
{
	if (q < d->ops->nqueues && vq_needs_interrupt(&d->queues[q]))
		raise_interrupt(d, VIRTIO_MMIO_INT_VRING);
}

void virtio_dev_break(struct virtio_dev *d, const char *why)
{
	if (d->broken)
		return;
	vmm_log(VMM_LOG_WARNING, "virtio device `%s`: %s: device stopped until the guest resets it",
		d->ops->name, why);
	d->broken = true;
	d->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	if (d->status & VIRTIO_CONFIG_S_DRIVER_OK)
		raise_interrupt(d, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_config_changed(struct virtio_dev *d)
{
	d->config_generation++;
	if (d->status & VIRTIO_CONFIG_S_DRIVER_OK)
		raise_interrupt(d, VIRTIO_MMIO_INT_CONFIG);
}

static uint64_t device_features(const struct virtio_dev *d)
{
	return d->ops->features | (1ULL << VIRTIO_F_VERSION_1);
}

static void dev_reset(struct virtio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vq_reset(&d->queues[q]);
	d->status = 0;
	d->driver_features = 0;
	d->device_features_sel = d->driver_features_sel = d->queue_sel = 0;
	d->interrupt_status = 0;
	d->broken = false;
}

static void dev_activate(struct virtio_dev *d)
{
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		struct vq *vq = &d->queues[q];
		if (vq->ready && vq_activate(vq, d->mem, d->ops->queue_max) < 0) {
			virtio_dev_break(d, vq->broken_why);
			return;
		}
	}
	if (d->ops->activate && d->ops->activate(d) < 0)
		virtio_dev_break(d, "activation failed");
}

static void write_status(struct virtio_dev *d, uint32_t val)
{
	uint32_t added = val & ~d->status;

	if (val == 0) {
		dev_reset(d);
		return;
	}
	/* The driver may only add bits (and never NEEDS_RESET, the device's). */
	if ((val & d->status) != d->status)
		return;
	val &= ~VIRTIO_CONFIG_S_NEEDS_RESET;
	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		bool v1 = d->driver_features & (1ULL << VIRTIO_F_VERSION_1);
		if (!v1 || (d->driver_features & ~device_features(d)))
			val &= ~VIRTIO_CONFIG_S_FEATURES_OK; /* refused: the driver sees it */
	}
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(val & VIRTIO_CONFIG_S_FEATURES_OK))
		val &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	d->status = (d->status & VIRTIO_CONFIG_S_NEEDS_RESET) | val;
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && (d->status & VIRTIO_CONFIG_S_DRIVER_OK))
		dev_activate(d);
}

static struct vq *selected_queue(struct virtio_dev *d)
{
	return d->queue_sel < d->ops->nqueues ? &d->queues[d->queue_sel] : NULL;
}

static uint32_t read_reg(struct virtio_dev *d, uint64_t off)
{
	struct vq *q = selected_queue(d);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION_2;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (d->device_features_sel > 1)
			return 0;
		return (uint32_t)(device_features(d) >> (32 * d->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? d->ops->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return d->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return d->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return d->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffff; /* no shared memory regions */
	default:
		return 0;
	}
}

/* Queue registers may change only while the queue is not ready. */
static void write_queue_reg(struct virtio_dev *d, uint64_t off, uint32_t val)
{
	struct vq *q = selected_queue(d);

	if (q == NULL || (d->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		q->ready = val == 1;
		return;
	}
	if (q->ready)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		q->size = val <= d->ops->queue_max ? (uint16_t)val : 0;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		q->desc_gpa = (q->desc_gpa & ~0xffffffffULL) | val;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		q->desc_gpa = (q->desc_gpa & 0xffffffffULL) | ((uint64_t)val << 32);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		q->avail_gpa = (q->avail_gpa & ~0xffffffffULL) | val;
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		q->avail_gpa = (q->avail_gpa & 0xffffffffULL) | ((uint64_t)val << 32);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		q->used_gpa = (q->used_gpa & ~0xffffffffULL) | val;
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		q->used_gpa = (q->used_gpa & 0xffffffffULL) | ((uint64_t)val << 32);
		break;
	}
}

static void queue_notify(struct virtio_dev *d, uint32_t q)
{
	uint64_t one = 1;

	if (q >= d->ops->nqueues)
		return;
	/* Normally KVM's ioeventfd catches this write; when it did not, go the
	 * same way so that device work stays in the event loop thread. */
	if (d->notify[q].h.fd >= 0) {
		if (write(d->notify[q].h.fd, &one, sizeof(one)) < 0) {
			/* counter saturated: a notification is pending anyway */
		}
		return;
	}
	if (!d->broken && (d->status & VIRTIO_CONFIG_S_DRIVER_OK) && d->queues[q].active)
		d->ops->queue_notify(d, q);
}

static void write_reg(struct virtio_dev *d, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		d->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (d->status & VIRTIO_CONFIG_S_FEATURES_OK || d->driver_features_sel > 1)
			break;
		if (d->driver_features_sel == 0)
			d->driver_features = (d->driver_features & ~0xffffffffULL) | val;
		else
			d->driver_features =
			    (d->driver_features & 0xffffffffULL) | ((uint64_t)val << 32);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		d->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		d->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		queue_notify(d, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		d->interrupt_status &= ~val;
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(d, val);
		break;
	default:
		write_queue_reg(d, off, val);
		break;
	}
}

void virtio_mmio_read(struct virtio_dev *d, uint64_t off, void *data, uint32_t len)
{
	uint32_t val;

	memset(data, 0, len);
	virtio_lock(d);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG;
		if (d->ops->config_read && len <= d->ops->config_size &&
		    coff <= d->ops->config_size - len)
			d->ops->config_read(d, (uint32_t)coff, data, len);
	} else if (len == 4 && (off & 3) == 0) {
		val = read_reg(d, off);
		memcpy(data, &val, 4);
	}
	virtio_unlock(d);
}

void virtio_mmio_write(struct virtio_dev *d, uint64_t off, const void *data, uint32_t len)
{
	uint32_t val;

	virtio_lock(d);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG;
		if (d->ops->config_write && len <= d->ops->config_size &&
		    coff <= d->ops->config_size - len)
			d->ops->config_write(d, (uint32_t)coff, data, len);
	} else if (len == 4 && (off & 3) == 0) {
		memcpy(&val, data, 4);
		write_reg(d, off, val);
	}
	virtio_unlock(d);
}
