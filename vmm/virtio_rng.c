/* virtio-rng (device id 4): entropy for the guest from getrandom(2), so its
 * kernel's crng is ready at once instead of waiting for jitter entropy. */
#include <stdlib.h>
#include <sys/random.h>

#include "vmm/devices.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_FILL   (64 * 1024) /* per request: a guest cannot make us loop for long */

static void fill(const struct vq_chain *c, uint32_t *written)
{
	uint32_t done = 0;

	for (uint16_t i = c->n_read; i < c->n && done < RNG_MAX_FILL; i++) {
		uint32_t want = c->bufs[i].len, got = 0;

		if (want > RNG_MAX_FILL - done)
			want = RNG_MAX_FILL - done;
		while (got < want) {
			ssize_t n = getrandom(c->bufs[i].addr + got, want - got, 0);
			if (n <= 0)
				break;
			got += (uint32_t)n;
		}
		done += got;
		if (got < want)
			break;
	}
	*written = done;
}

static void rng_queue_notify(struct virtio_dev *d, unsigned qi)
{
	struct vq *q = &d->queues[qi];
	struct vq_chain *c = malloc(sizeof(*c));
	bool used = false;
	int ret;

	if (c == NULL)
		return;
	while ((ret = vq_pop(q, c)) > 0) {
		uint32_t written;

		fill(c, &written);
		vq_push(q, c->head, written);
		used = true;
	}
	if (ret < 0)
		virtio_dev_break(d, q->broken_why);
	if (used)
		virtio_used_interrupt(d, qi);
	free(c);
}

const struct virtio_dev_ops virtio_rng_ops = {
    .name = "rng",
    .device_id = 4,
    .nqueues = 1,
    .queue_max = RNG_QUEUE_SIZE,
    .queue_notify = rng_queue_notify,
};
