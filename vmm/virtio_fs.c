/* virtio-fs (device id 26): the guest's FUSE requests come in descriptor
 * chains and go to the FUSE server (vmm/fuse_server.c), which answers them
 * into the same chains.  Queue 0 is the high-priority queue (FORGET,
 * INTERRUPT: no reply), queues 1..FS_REQUEST_QUEUES carry everything else;
 * all are served the same way.  No feature bits besides VERSION_1: no DAX
 * window, no notification queue.
 *
 * Threads: the event loop thread pops available chains (queue_notify) and
 * hands them to a pool of worker threads, so that a slow request (a large
 * read, an fsync) does not hold up the others.  A worker runs the request
 * without any lock of ours, then pushes the used element and raises the
 * interrupt.  Without an event loop (unit tests) there are no workers and
 * queue_notify answers each request at once.
 *
 * Locking, always in this order:
 *  - dev->lock (the transport's) guards the queues, gen and inflight[]; the
 *    transport holds it around queue_notify, activate and reset, a worker
 *    takes it to complete a request;
 *  - virtiofs.lock guards the work list, the spare items, busy and stopping.
 * A worker counts itself busy while it runs a request and drops that count
 * before it takes dev->lock, so that reset (called with dev->lock held) can
 * wait for the running requests; a worker that then finds gen changed
 * leaves the new rings alone.
 *
 * The guest is not trusted: every buffer address was checked by the vq
 * layer, a broken ring breaks the device, and the number of chains we hold
 * per queue is bounded by the queue size (a guest that republishes heads
 * cannot make us queue work without end). */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/devices.h"
#include "vmm/fuse_server.h"
#include "vmm/log.h"

#define FS_HIPRIO	  0
#define FS_REQUEST_QUEUES 2
#define FS_NQUEUES	  (1 + FS_REQUEST_QUEUES)
#define FS_QUEUE_SIZE	  VQ_MAX_SIZE
#define FS_WORKERS	  4
#define FS_HEADER_DESCS	  4   /* in and out headers and arguments around a request's pages */
#define FS_MAX_PAGES	  256 /* Linux's FUSE_MAX_MAX_PAGES: 1 MiB per request */
#define FS_SPARE_MAX	  32  /* free work items kept for reuse */
#define FS_TAG_MAX	  36

_Static_assert(FS_NQUEUES <= VIRTIO_MAX_QUEUES, "too many virtio-fs queues");

/* One chain taken from a queue, waiting for or held by a worker. */
struct fs_work {
	struct fs_work *next;
	unsigned q;
	uint64_t gen; /* virtiofs.gen when popped */
	struct vq_chain chain;
};

struct virtiofs {
	struct virtio_dev *d;
	struct fuse_server *srv;
	struct virtio_fs_config config;

	/* dev->lock */
	uint64_t gen;		       /* bumped by every reset */
	unsigned inflight[FS_NQUEUES]; /* chains popped and not yet pushed */

	/* lock */
	pthread_mutex_t lock;
	pthread_cond_t work_cond; /* work queued, or stopping */
	pthread_cond_t idle_cond; /* busy dropped to 0 */
	struct fs_work *head, **tail;
	struct fs_work *spare;
	unsigned nspare;
	unsigned busy; /* requests running in workers */
	bool stopping;

	pthread_t threads[FS_WORKERS];
	unsigned nthreads;
};

/* ---- work items ----------------------------------------------------------- */

static struct fs_work *work_alloc(struct virtiofs *v)
{
	struct fs_work *w;

	pthread_mutex_lock(&v->lock);
	w = v->spare;
	if (w) {
		v->spare = w->next;
		v->nspare--;
	}
	pthread_mutex_unlock(&v->lock);
	if (w == NULL)
		w = malloc(sizeof(*w));
	return w;
}

static void work_free_locked(struct virtiofs *v, struct fs_work *w)
{
	if (v->nspare >= FS_SPARE_MAX) {
		free(w);
		return;
	}
	w->next = v->spare;
	v->spare = w;
	v->nspare++;
}

static void work_free(struct virtiofs *v, struct fs_work *w)
{
	pthread_mutex_lock(&v->lock);
	work_free_locked(v, w);
	pthread_mutex_unlock(&v->lock);
}

static void work_list_free(struct fs_work *w)
{
	while (w) {
		struct fs_work *next = w->next;
		free(w);
		w = next;
	}
}

/* ---- serving one chain ----------------------------------------------------- */

/* Run the request (no lock held); the bytes written into the chain. */
static uint32_t serve(struct virtiofs *v, const struct vq_chain *c)
{
	struct iovec in[VQ_MAX_SIZE], out[VQ_MAX_SIZE];
	int nin, nout;
	size_t len;

	/* a chain without a request: nothing to answer */
	if (c->n_read == 0 || c->read_len == 0)
		return 0;
	nin = vq_chain_iov(c, false, 0, c->read_len, in, VQ_MAX_SIZE);
	nout = vq_chain_iov(c, true, 0, c->write_len, out, VQ_MAX_SIZE);
	len = fuse_server_handle(v->srv, in, nin, out, nout);
	if (len > c->write_len)
		len = c->write_len; /* never report more than the guest gave us */
	return len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
}

/* Give a served chain back (dev->lock held), unless a reset came between. */
static void complete(struct virtiofs *v, const struct fs_work *w, uint32_t len)
{
	struct virtio_dev *d = v->d;

	if (w->gen != v->gen)
		return; /* the rings it came from are gone */
	v->inflight[w->q]--;
	if (d->broken)
		return;
	vq_push(&d->queues[w->q], w->chain.head, len);
	virtio_used_interrupt(d, w->q);
}

static void enqueue(struct virtiofs *v, struct fs_work *w)
{
	pthread_mutex_lock(&v->lock);
	if (v->stopping) {
		work_free_locked(v, w);
	} else {
		w->next = NULL;
		*v->tail = w;
		v->tail = &w->next;
		pthread_cond_signal(&v->work_cond);
	}
	pthread_mutex_unlock(&v->lock);
}

/* Take the available chains of queue qi (dev->lock held): to the workers,
 * or answered at once without them.  At most the queue size are held at a
 * time; a completion takes the rest. */
static void dispatch(struct virtiofs *v, unsigned qi)
{
	struct virtio_dev *d = v->d;
	struct vq *q = &d->queues[qi];
	unsigned budget = q->size; /* synchronous mode: bounded work per kick */

	while (!d->broken && v->inflight[qi] < q->size && budget-- > 0) {
		struct fs_work *w = work_alloc(v);
		int ret;

		if (w == NULL) {
			vmm_log(VMM_LOG_WARNING, "virtio-fs: out of memory; requests wait");
			return;
		}
		ret = vq_pop(q, &w->chain);
		if (ret <= 0) {
			work_free(v, w);
			if (ret < 0)
				virtio_dev_break(d, q->broken_why);
			return;
		}
		w->q = qi;
		w->gen = v->gen;
		v->inflight[qi]++;
		if (v->nthreads == 0) {
			complete(v, w, serve(v, &w->chain));
			work_free(v, w);
		} else {
			enqueue(v, w);
		}
	}
}

static void *worker(void *arg)
{
	struct virtiofs *v = arg;
	struct virtio_dev *d = v->d;

	for (;;) {
		struct fs_work *w;
		uint32_t len;

		pthread_mutex_lock(&v->lock);
		while (!v->stopping && v->head == NULL)
			pthread_cond_wait(&v->work_cond, &v->lock);
		if (v->stopping) {
			pthread_mutex_unlock(&v->lock);
			return NULL;
		}
		w = v->head;
		v->head = w->next;
		if (v->head == NULL)
			v->tail = &v->head;
		v->busy++;
		pthread_mutex_unlock(&v->lock);

		len = serve(v, &w->chain);

		pthread_mutex_lock(&v->lock);
		if (--v->busy == 0)
			pthread_cond_broadcast(&v->idle_cond);
		pthread_mutex_unlock(&v->lock);

		virtio_lock(d);
		complete(v, w, len);
		/* chains left waiting while the queue was at its limit */
		if (w->gen == v->gen && (d->status & VIRTIO_CONFIG_S_DRIVER_OK))
			dispatch(v, w->q);
		virtio_unlock(d);
		work_free(v, w);
	}
}

/* ---- the device model ---------------------------------------------------- */

static void fs_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtiofs *v = d->priv;

	if (v == NULL || q >= FS_NQUEUES)
		return;
	dispatch(v, q);
}

static void fs_config_read(struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
	struct virtiofs *v = d->priv;

	if (v)
		memcpy(data, (const uint8_t *)&v->config + off, len);
}

static int fs_activate(struct virtio_dev *d)
{
	struct virtiofs *v = d->priv;
	unsigned pages = 0;

	if (v == NULL)
		return -1;
	/* a request's pages are one descriptor each, plus its headers */
	for (unsigned q = FS_HIPRIO + 1; q < FS_NQUEUES; q++) {
		unsigned size = d->queues[q].active ? d->queues[q].size : 0;
		unsigned fit = size > FS_HEADER_DESCS ? size - FS_HEADER_DESCS : 1;

		if (size && (pages == 0 || fit < pages))
			pages = fit;
	}
	if (pages > FS_MAX_PAGES)
		pages = FS_MAX_PAGES;
	if (pages)
		fuse_server_set_max_pages(v->srv, pages);
	/* chains the driver made available before DRIVER_OK */
	for (unsigned q = 0; q < FS_NQUEUES; q++)
		dispatch(v, q);
	return 0;
}

static void fs_reset(struct virtio_dev *d)
{
	struct virtiofs *v = d->priv;
	struct fs_work *dropped;

	if (v == NULL)
		return;
	pthread_mutex_lock(&v->lock);
	v->gen++;
	dropped = v->head;
	v->head = NULL;
	v->tail = &v->head;
	while (v->busy)
		pthread_cond_wait(&v->idle_cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	work_list_free(dropped);
	memset(v->inflight, 0, sizeof(v->inflight));
	fuse_server_reset(v->srv);
}

const struct virtio_dev_ops virtio_fs_ops = {
    .name = "fs",
    .device_id = VIRTIO_ID_FS,
    .nqueues = FS_NQUEUES,
    .queue_max = FS_QUEUE_SIZE,
    .config_size = sizeof(struct virtio_fs_config),
    .config_read = fs_config_read,
    .activate = fs_activate,
    .reset = fs_reset,
    .queue_notify = fs_queue_notify,
};

/* ---- creation and teardown ---------------------------------------------- */

static void stop_workers(struct virtiofs *v)
{
	pthread_mutex_lock(&v->lock);
	v->stopping = true;
	pthread_cond_broadcast(&v->work_cond);
	pthread_mutex_unlock(&v->lock);
	for (unsigned i = 0; i < v->nthreads; i++)
		pthread_join(v->threads[i], NULL);
	v->nthreads = 0;
}

static void fs_free(struct virtiofs *v)
{
	stop_workers(v);
	work_list_free(v->head);
	work_list_free(v->spare);
	if (v->srv)
		fuse_server_destroy(v->srv);
	pthread_cond_destroy(&v->work_cond);
	pthread_cond_destroy(&v->idle_cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* Workers take no signals: the VMM's are meant for its vCPU threads. */
static int start_workers(struct virtiofs *v, const char *tag, mv_error_t *err)
{
	sigset_t all, old;
	int ret = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < FS_WORKERS; i++) {
		ret = pthread_create(&v->threads[i], NULL, worker, v);
		if (ret != 0)
			break;
		pthread_setname_np(v->threads[i], "mv-virtiofs");
		v->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0)
		return mv_error(err, ret, "virtio-fs `%s`: start worker threads", tag);
	return 0;
}

int virtiofs_create(struct virtio_dev *d, const struct virtiofs_share *share, mv_error_t *err)
{
	struct fuse_server *srv = NULL;
	struct virtiofs *v;
	size_t tag_len;

	if (d->ops != &virtio_fs_ops || d->priv != NULL)
		return mv_error(err, EINVAL, "virtio-fs: the device needs virtio_fs_ops");
	tag_len = share->tag ? strlen(share->tag) : 0;
	if (tag_len == 0 || tag_len > FS_TAG_MAX)
		return mv_error(err, EINVAL, "virtio-fs tag `%s`: 1 to %d bytes",
				share->tag ? share->tag : "", FS_TAG_MAX);
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return mv_error(err, ENOMEM, "virtio-fs `%s`", share->tag);
	v->d = d;
	v->tail = &v->head;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->work_cond, NULL);
	pthread_cond_init(&v->idle_cond, NULL);
	memcpy(v->config.tag, share->tag, tag_len); /* NUL-padded, no terminator at 36 */
	v->config.num_request_queues = htole32(FS_REQUEST_QUEUES);
	if (fuse_server_create(&srv, share->path, share->readonly, err) < 0) {
		fs_free(v);
		return mv_error_wrap(err, "virtio-fs `%s`", share->tag);
	}
	v->srv = srv;
	if (d->loop && start_workers(v, share->tag, err) < 0) {
		fs_free(v);
		return -1;
	}
	virtio_lock(d);
	d->priv = v;
	virtio_unlock(d);
	return 0;
}

void virtiofs_destroy(struct virtio_dev *d)
{
	struct virtiofs *v = d->priv;

	if (v == NULL)
		return;
	/* workers finish what they run (their completion takes dev->lock) */
	stop_workers(v);
	virtio_lock(d);
	d->priv = NULL;
	virtio_unlock(d);
	fs_free(v);
}
