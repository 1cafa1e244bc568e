#include "vmm/virtqueue.h"

#include <string.h>

static int vq_break(struct vq *q, const char *why)
{
	q->broken = true;
	q->broken_why = why;
	return -1;
}

static bool aligned(uint64_t addr, uint64_t align)
{
	return (addr & (align - 1)) == 0;
}

int vq_activate(struct vq *q, const struct guest_mem *mem, uint16_t max_size)
{
	uint64_t n = q->size;

	q->active = false;
	if (n == 0 || n > max_size || (n & (n - 1)))
		return vq_break(q, "queue size is not a power of two within the maximum");
	if (!aligned(q->desc_gpa, 16) || !aligned(q->avail_gpa, 2) || !aligned(q->used_gpa, 4))
		return vq_break(q, "ring address misaligned");
	q->desc = guest_mem_ptr(mem, q->desc_gpa, 16 * n);
	q->avail = guest_mem_ptr(mem, q->avail_gpa, 6 + 2 * n);
	q->used = guest_mem_ptr(mem, q->used_gpa, 6 + 8 * n);
	if (q->desc == NULL || q->avail == NULL || q->used == NULL)
		return vq_break(q, "ring outside guest memory");
	q->mem = mem;
	q->last_avail = 0;
	q->used_idx = 0;
	q->active = true;
	return 0;
}

void vq_reset(struct vq *q)
{
	memset(q, 0, sizeof(*q));
}

bool vq_has_avail(const struct vq *q)
{
	if (!q->active || q->broken)
		return false;
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != q->last_avail;
}

/* Copy one descriptor out of guest memory and check its buffer. */
static int take_desc(struct vq *q, uint16_t idx, struct vring_desc *d, struct vq_buf *b)
{
	memcpy(d, (const void *)&q->desc[idx], sizeof(*d));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (d->flags & VRING_DESC_F_INDIRECT)
		return vq_break(q, "indirect descriptor (not negotiated)");
	b->addr = guest_mem_ptr(q->mem, d->addr, d->len);
	if (b->addr == NULL)
		return vq_break(q, "descriptor buffer outside guest memory");
	b->len = d->len;
	b->write = (d->flags & VRING_DESC_F_WRITE) != 0;
	return 0;
}

int vq_pop(struct vq *q, struct vq_chain *c)
{
	uint16_t avail_idx, idx;
	struct vring_desc d;

	if (!q->active || q->broken)
		return q->broken ? -1 : 0;
	avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return vq_break(q, "available index ran ahead by more than the queue size");

	idx = __atomic_load_n(&q->avail->ring[q->last_avail & (q->size - 1)], __ATOMIC_RELAXED);
	q->last_avail++;
	memset(c, 0, offsetof(struct vq_chain, bufs));
	c->head = idx;
	for (;;) {
		struct vq_buf *b;

		if (idx >= q->size)
			return vq_break(q, "descriptor index out of range");
		if (c->n >= q->size)
			return vq_break(q, "descriptor chain longer than the queue (a loop?)");
		b = &c->bufs[c->n];
		if (take_desc(q, idx, &d, b) < 0)
			return -1;
		if (b->write) {
			c->write_len += b->len;
		} else {
			if (c->n > c->n_read)
				return vq_break(q, "readable descriptor after a writable one");
			c->n_read++;
			c->read_len += b->len;
		}
		c->n++;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 1;
		idx = d.next;
	}
}

void vq_push(struct vq *q, uint16_t head, uint32_t written)
{
	struct vring_used_elem *e;

	if (!q->active || q->broken)
		return;
	e = &q->used->ring[q->used_idx & (q->size - 1)];
	e->id = head;
	e->len = written;
	q->used_idx++;
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
}

bool vq_needs_interrupt(const struct vq *q)
{
	/* Order the used index store before reading the driver's flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->active)
		return false;
	return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
}

size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (uint16_t i = 0; i < c->n_read && done < len; i++) {
		const struct vq_buf *b = &c->bufs[i];
		size_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)dst + done, b->addr + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_chain_write(const struct vq_chain *c, size_t off, const void *src, size_t len)
{
	size_t done = 0;

	for (uint16_t i = c->n_read; i < c->n && done < len; i++) {
		const struct vq_buf *b = &c->bufs[i];
		size_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off;
		if (n > len - done)
			n = len - done;
		memcpy(b->addr + off, (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}

int vq_chain_iov(const struct vq_chain *c, bool write, size_t off, size_t len, struct iovec *iov,
		 int max)
{
	uint16_t first = write ? c->n_read : 0, end = write ? c->n : c->n_read;
	int k = 0;

	for (uint16_t i = first; i < end && k < max && len > 0; i++) {
		const struct vq_buf *b = &c->bufs[i];
		size_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off;
		if (n > len)
			n = len;
		iov[k].iov_base = b->addr + off;
		iov[k].iov_len = n;
		k++;
		len -= n;
		off = 0;
	}
	return k;
}
