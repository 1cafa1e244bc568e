/* The device models, each in its own file with its ops table. */
#ifndef MV_DEVICES_H
#define MV_DEVICES_H

#include "vmm/virtio.h"

extern const struct virtio_dev_ops virtio_rng_ops;

/* virtio-vsock with Firecracker's hybrid vsock on the host side: the device
 * listens at uds_path ("CONNECT <port>\n" from the host, "OK <hostport>\n"
 * back) and connects guest connections to host port N to "<uds_path>_N".
 * vsock_create: d is virtio_dev_init()ed with &virtio_vsock_ops, priv NULL
 * and an event loop; it creates the socket at uds_path and sets d->priv.
 * vsock_destroy: closes every socket and unlinks uds_path; call it with the
 * loop not running, before ev_loop_release() (which frees what the loop
 * still holds). */
extern const struct virtio_dev_ops virtio_vsock_ops;
int vsock_create(struct virtio_dev *d, uint64_t guest_cid, const char *uds_path, mv_error_t *err);
void vsock_destroy(struct virtio_dev *d);

/* virtio-fs with its FUSE server in the VMM: the guest mounts `tag` with
 * the virtiofs driver and sees the host directory `path` (or, when `path` is
 * a regular file, a directory holding only that file under its own name, for
 * bind-mounting single files such as /etc/hosts).  Every name is resolved one
 * component at a time below the share; nothing outside it is reachable.
 * virtiofs_create: d is virtio_dev_init()ed with &virtio_fs_ops, priv NULL and
 * an event loop; it opens the share and starts the worker threads.
 * virtiofs_destroy: stops the workers and closes every fd; loop not running. */
struct virtiofs_share {
	const char *tag;  /* at most 36 bytes */
	const char *path; /* host directory or regular file */
	bool readonly;
};

extern const struct virtio_dev_ops virtio_fs_ops;
int virtiofs_create(struct virtio_dev *d, const struct virtiofs_share *share, mv_error_t *err);
void virtiofs_destroy(struct virtio_dev *d);

#endif
