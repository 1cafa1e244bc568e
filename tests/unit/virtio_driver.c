#include "tests/unit/virtio_driver.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "tests/unit/unit.h"

#define TVM_ALLOC_START 0x100000ULL

static void count_irq(struct virtio_dev *d)
{
	struct test_vm *t = d->irq_ctx;
	t->irqs++;
}

void tvm_init(struct test_vm *t, uint64_t mib)
{
	memset(t, 0, sizeof(*t));
	CHECK_INT(guest_mem_init(&t->mem, mib << 20, NULL), ==, 0);
	t->next = TVM_ALLOC_START;
}

void tvm_release(struct test_vm *t)
{
	guest_mem_release(&t->mem);
}

uint64_t tvm_alloc(struct test_vm *t, uint64_t len)
{
	uint64_t gpa = t->next;

	t->next = (t->next + len + 4095) & ~4095ULL;
	CHECK(t->next <= t->mem.low_size);
	return gpa;
}

void *tvm_ptr(struct test_vm *t, uint64_t gpa)
{
	void *p = guest_mem_ptr(&t->mem, gpa, 1);
	CHECK(p != NULL);
	return p;
}

void tvm_dev_init_loop(struct test_vm *t, struct virtio_dev *d, const struct virtio_dev_ops *ops,
		       void *priv, struct ev_loop *loop)
{
	CHECK_INT(virtio_dev_init(d, ops, priv, &t->mem, loop, 0xd0000000, 5, NULL), ==, 0);
	d->raise_irq = count_irq;
	d->irq_ctx = t;
}

void tvm_dev_init(struct test_vm *t, struct virtio_dev *d, const struct virtio_dev_ops *ops,
		  void *priv)
{
	tvm_dev_init_loop(t, d, ops, priv, NULL);
}

uint32_t tdev_read32(struct virtio_dev *d, uint64_t off)
{
	uint32_t v;
	virtio_mmio_read(d, off, &v, 4);
	return v;
}

void tdev_write32(struct virtio_dev *d, uint64_t off, uint32_t val)
{
	virtio_mmio_write(d, off, &val, 4);
}

static void setup_queue(struct test_vm *t, struct virtio_dev *d, struct test_queue *q, unsigned qi,
			uint16_t size)
{
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->desc_gpa = tvm_alloc(t, 16 * size);
	q->avail_gpa = tvm_alloc(t, 6 + 2 * size);
	q->used_gpa = tvm_alloc(t, 6 + 8 * size);
	q->desc = tvm_ptr(t, q->desc_gpa);
	q->avail = tvm_ptr(t, q->avail_gpa);
	q->used = tvm_ptr(t, q->used_gpa);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, qi);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_NUM, size);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc_gpa);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc_gpa >> 32));
	tdev_write32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail_gpa);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->avail_gpa >> 32));
	tdev_write32(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used_gpa);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->used_gpa >> 32));
	tdev_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

uint32_t tdrv_setup(struct test_vm *t, struct virtio_dev *d, struct test_queue *qs, unsigned nq,
		    uint16_t size, uint64_t features)
{
	uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	features |= 1ULL << VIRTIO_F_VERSION_1;
	tdev_write32(d, VIRTIO_MMIO_STATUS, 0);
	tdev_write32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	tdev_write32(d, VIRTIO_MMIO_STATUS, status);
	tdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	tdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	tdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	status |= VIRTIO_CONFIG_S_FEATURES_OK;
	tdev_write32(d, VIRTIO_MMIO_STATUS, status);
	for (unsigned i = 0; i < nq; i++)
		setup_queue(t, d, &qs[i], i, size);
	tdev_write32(d, VIRTIO_MMIO_STATUS, status | VIRTIO_CONFIG_S_DRIVER_OK);
	return tdev_read32(d, VIRTIO_MMIO_STATUS);
}

void tq_publish(struct test_queue *q, uint16_t head)
{
	uint16_t idx = q->avail->idx;

	q->avail->ring[idx % q->size] = head;
	__atomic_store_n(&q->avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

uint16_t tq_add(struct test_queue *q, const struct tdesc *descs, int n)
{
	uint16_t head = q->next_desc;

	for (int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % q->size);
		struct vring_desc *d = &q->desc[idx];

		d->addr = descs[i].gpa;
		d->len = descs[i].len;
		d->flags = descs[i].write ? VRING_DESC_F_WRITE : 0;
		if (i + 1 < n) {
			d->flags |= VRING_DESC_F_NEXT;
			d->next = (uint16_t)((idx + 1) % q->size);
		}
	}
	q->next_desc = (uint16_t)((head + n) % q->size);
	tq_publish(q, head);
	return head;
}

void tq_kick(struct virtio_dev *d, unsigned qi)
{
	tdev_write32(d, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

int tq_used(struct test_queue *q, uint32_t *id, uint32_t *len)
{
	uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	struct vring_used_elem *e;

	if (idx == q->used_seen)
		return 0;
	e = &q->used->ring[q->used_seen % q->size];
	*id = e->id;
	*len = e->len;
	q->used_seen++;
	return 1;
}
