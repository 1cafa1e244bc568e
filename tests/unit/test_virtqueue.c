/* Virtqueues and the virtio-mmio transport against a well-behaved and a
 * hostile driver, with virtio-rng as the device behind them. */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "tests/unit/virtio_driver.h"
#include "vmm/devices.h"

struct rig {
	struct test_vm t;
	struct virtio_dev d;
	struct test_queue q;
	uint64_t buf;
};

static void rig_init(struct rig *r, uint16_t size)
{
	tvm_init(&r->t, 32);
	tvm_dev_init(&r->t, &r->d, &virtio_rng_ops, NULL);
	uint32_t st = tdrv_setup(&r->t, &r->d, &r->q, 1, size, 0);
	CHECK(st & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(!(st & VIRTIO_CONFIG_S_NEEDS_RESET));
	r->buf = tvm_alloc(&r->t, 8192);
}

static void rig_release(struct rig *r)
{
	virtio_dev_release(&r->d);
	tvm_release(&r->t);
}

static bool needs_reset(struct rig *r)
{
	return tdev_read32(&r->d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

TEST(rng_fills_a_writable_buffer_and_interrupts)
{
	struct rig r;
	uint32_t id, len;
	uint8_t *p;
	int nonzero = 0;

	rig_init(&r, 16);
	p = tvm_ptr(&r.t, r.buf);
	struct tdesc d[] = {{r.buf, 256, true}, {r.buf + 256, 256, true}};
	uint16_t head = tq_add(&r.q, d, 2);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 1);
	CHECK_INT(id, ==, head);
	CHECK_INT(len, ==, 512);
	CHECK_INT(r.t.irqs, ==, 1);
	CHECK(tdev_read32(&r.d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
	for (int i = 0; i < 512; i++)
		nonzero += p[i] != 0;
	CHECK_INT(nonzero, >, 400);
	tdev_write32(&r.d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_INT(tdev_read32(&r.d, VIRTIO_MMIO_INTERRUPT_STATUS), ==, 0);
	rig_release(&r);
}

TEST(no_interrupt_flag_suppresses_the_interrupt)
{
	struct rig r;
	uint32_t id, len;

	rig_init(&r, 16);
	r.q.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	struct tdesc d[] = {{r.buf, 64, true}};
	tq_add(&r.q, d, 1);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 1);
	CHECK_INT(r.t.irqs, ==, 0);
	rig_release(&r);
}

TEST(device_identifies_itself)
{
	struct test_vm t;
	struct virtio_dev d;

	tvm_init(&t, 16);
	tvm_dev_init(&t, &d, &virtio_rng_ops, NULL);
	CHECK_INT(tdev_read32(&d, VIRTIO_MMIO_MAGIC_VALUE), ==, 0x74726976);
	CHECK_INT(tdev_read32(&d, VIRTIO_MMIO_VERSION), ==, 2);
	CHECK_INT(tdev_read32(&d, VIRTIO_MMIO_DEVICE_ID), ==, 4);
	tdev_write32(&d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_INT(tdev_read32(&d, VIRTIO_MMIO_DEVICE_FEATURES), ==, 1); /* VERSION_1 */
	virtio_dev_release(&d);
	tvm_release(&t);
}

TEST(features_without_version_1_are_refused)
{
	struct test_vm t;
	struct virtio_dev d;

	tvm_init(&t, 16);
	tvm_dev_init(&t, &d, &virtio_rng_ops, NULL);
	tdev_write32(&d, VIRTIO_MMIO_STATUS, 1 | 2);
	tdev_write32(&d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tdev_write32(&d, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	tdev_write32(&d, VIRTIO_MMIO_STATUS, 1 | 2 | VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK(!(tdev_read32(&d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	/* and features the device never offered */
	tdev_write32(&d, VIRTIO_MMIO_DRIVER_FEATURES, 1 | 2);
	tdev_write32(&d, VIRTIO_MMIO_STATUS, 1 | 2 | VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK(!(tdev_read32(&d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	virtio_dev_release(&d);
	tvm_release(&t);
}

TEST(hostile_descriptor_outside_guest_memory_breaks_the_device)
{
	struct rig r;
	uint32_t id, len;

	rig_init(&r, 16);
	struct tdesc d[] = {{r.t.mem.size - 16, 64, true}};
	tq_add(&r.q, d, 1);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	CHECK(tdev_read32(&r.d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	/* a broken device ignores further requests, even good ones */
	struct tdesc good[] = {{r.buf, 64, true}};
	tq_add(&r.q, good, 1);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	rig_release(&r);
}

TEST(hostile_descriptor_length_that_wraps_is_refused)
{
	struct rig r;
	uint32_t id, len;

	rig_init(&r, 16);
	struct tdesc d[] = {{0xffffffffffffff00ULL, 0xffffffff, true}};
	tq_add(&r.q, d, 1);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);
}

TEST(hostile_descriptor_loop_ends)
{
	struct rig r;
	uint32_t id, len;

	rig_init(&r, 8);
	for (int i = 0; i < 8; i++) {
		r.q.desc[i].addr = r.buf;
		r.q.desc[i].len = 16;
		r.q.desc[i].flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT;
		r.q.desc[i].next = (uint16_t)((i + 1) % 8); /* a ring: never ends */
	}
	tq_publish(&r.q, 0);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);
}

TEST(hostile_self_loop_and_next_out_of_range)
{
	struct rig r;
	uint32_t id, len;

	rig_init(&r, 8);
	r.q.desc[0] = (struct vring_desc){r.buf, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5000};
	tq_publish(&r.q, 0);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);

	rig_init(&r, 8);
	r.q.desc[3] = (struct vring_desc){r.buf, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3};
	tq_publish(&r.q, 3);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);
}

TEST(hostile_head_index_out_of_range)
{
	struct rig r;
	uint32_t id, len;

	rig_init(&r, 8);
	tq_publish(&r.q, 1000);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);
}

TEST(hostile_available_index_far_ahead)
{
	struct rig r;
	uint32_t id, len;

	rig_init(&r, 8);
	r.q.desc[0] = (struct vring_desc){r.buf, 16, VRING_DESC_F_WRITE, 0};
	r.q.avail->idx = 500; /* claims 500 chains in an 8-entry ring */
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);
}

TEST(hostile_indirect_and_misordered_descriptors)
{
	struct rig r;
	uint32_t id, len;

	rig_init(&r, 8);
	r.q.desc[0] = (struct vring_desc){r.buf, 16, VRING_DESC_F_INDIRECT, 0};
	tq_publish(&r.q, 0);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);

	rig_init(&r, 8);
	struct tdesc d[] = {{r.buf, 16, true}, {r.buf + 16, 16, false}};
	tq_add(&r.q, d, 2);
	tq_kick(&r.d, 0);
	CHECK_INT(tq_used(&r.q, &id, &len), ==, 0);
	CHECK(needs_reset(&r));
	rig_release(&r);
}

static uint32_t setup_with_queue(struct test_vm *t, struct virtio_dev *d, uint32_t num,
				 uint64_t desc, uint64_t avail, uint64_t used)
{
	tdev_write32(d, VIRTIO_MMIO_STATUS, 1 | 2);
	tdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tdev_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	tdev_write32(d, VIRTIO_MMIO_STATUS, 1 | 2 | 8);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_NUM, num);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	tdev_write32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	tdev_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	tdev_write32(d, VIRTIO_MMIO_STATUS, 1 | 2 | 8 | 4);
	(void)t;
	return tdev_read32(d, VIRTIO_MMIO_STATUS);
}

TEST(hostile_queue_sizes_and_ring_addresses)
{
	struct test_vm t;
	struct virtio_dev d;
	uint64_t ring;

	tvm_init(&t, 16);
	tvm_dev_init(&t, &d, &virtio_rng_ops, NULL);
	ring = tvm_alloc(&t, 16384);
	/* not a power of two */
	CHECK(setup_with_queue(&t, &d, 3, ring, ring + 4096, ring + 8192) &
	      VIRTIO_CONFIG_S_NEEDS_RESET);
	/* larger than the device's maximum */
	tdev_write32(&d, VIRTIO_MMIO_STATUS, 0);
	CHECK(setup_with_queue(&t, &d, 4096, ring, ring + 4096, ring + 8192) &
	      VIRTIO_CONFIG_S_NEEDS_RESET);
	/* rings outside guest memory, and misaligned */
	tdev_write32(&d, VIRTIO_MMIO_STATUS, 0);
	CHECK(setup_with_queue(&t, &d, 8, 0xfffffff000ULL, ring + 4096, ring + 8192) &
	      VIRTIO_CONFIG_S_NEEDS_RESET);
	tdev_write32(&d, VIRTIO_MMIO_STATUS, 0);
	CHECK(setup_with_queue(&t, &d, 8, ring + 3, ring + 4096, ring + 8192) &
	      VIRTIO_CONFIG_S_NEEDS_RESET);
	/* a reset and good values bring it back */
	tdev_write32(&d, VIRTIO_MMIO_STATUS, 0);
	CHECK_INT(tdev_read32(&d, VIRTIO_MMIO_STATUS), ==, 0);
	uint32_t st = setup_with_queue(&t, &d, 8, ring, ring + 4096, ring + 8192);
	CHECK(st & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(!(st & VIRTIO_CONFIG_S_NEEDS_RESET));
	virtio_dev_release(&d);
	tvm_release(&t);
}

TEST(unknown_registers_and_odd_accesses_are_harmless)
{
	struct rig r;
	uint8_t byte = 0xff;
	uint64_t wide = ~0ULL;

	rig_init(&r, 8);
	for (uint64_t off = 0; off < 0x1000; off += 4) {
		if (off == VIRTIO_MMIO_STATUS || off == VIRTIO_MMIO_QUEUE_NOTIFY)
			continue;
		(void)tdev_read32(&r.d, off);
		tdev_write32(&r.d, off, 0xdeadbeef);
	}
	virtio_mmio_read(&r.d, 0x1, &byte, 1);
	virtio_mmio_write(&r.d, 0x72, &byte, 1);
	virtio_mmio_read(&r.d, 0x100, &wide, 8); /* config of a device with none */
	CHECK(wide == 0);
	tdev_write32(&r.d, VIRTIO_MMIO_QUEUE_NOTIFY, 77); /* no such queue */
	CHECK_INT(tdev_read32(&r.d, VIRTIO_MMIO_MAGIC_VALUE), ==, 0x74726976);
	rig_release(&r);
}

TEST(chain_copies_cross_buffer_boundaries)
{
	struct vq_chain c = {0};
	uint8_t a[3] = {1, 2, 3}, b[4] = {4, 5, 6, 7}, w1[2], w2[5], out[7];
	struct iovec iov[4];

	c.bufs[0] = (struct vq_buf){a, 3, false};
	c.bufs[1] = (struct vq_buf){b, 4, false};
	c.bufs[2] = (struct vq_buf){w1, 2, true};
	c.bufs[3] = (struct vq_buf){w2, 5, true};
	c.n = 4;
	c.n_read = 2;
	CHECK_INT(vq_chain_read(&c, 2, out, 7), ==, 5);
	CHECK(memcmp(out, "\3\4\5\6\7", 5) == 0);
	CHECK_INT(vq_chain_write(&c, 1, "xyzuvw", 6), ==, 6);
	CHECK(w1[1] == 'x' && memcmp(w2, "yzuvw", 5) == 0);
	CHECK_INT(vq_chain_write(&c, 7, "q", 1), ==, 0);
	CHECK_INT(vq_chain_iov(&c, false, 1, 4, iov, 4), ==, 2);
	CHECK_INT(iov[0].iov_len, ==, 2);
	CHECK_INT(iov[1].iov_len, ==, 2);
}
