/* The FUSE server behind virtio-fs: it answers FUSE requests (linux/fuse.h)
 * from an untrusted guest against one host directory (or one regular file),
 * without ever leaving it.  It knows nothing about virtqueues: a request is
 * the readable part of a descriptor chain as iovecs, the reply goes into the
 * writable part, so unit tests call it with plain buffers.
 *
 * fuse_server_handle() may run in several threads at once; the server locks
 * its own tables (vmm/fuse_internal.h says how). */
#ifndef MV_FUSE_SERVER_H
#define MV_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "runtime/error.h"

struct fuse_server;

/* Serve `path`: a directory, or a regular file that then appears alone in
 * an otherwise empty root directory.  Opens /proc/self/fd once, so the
 * server keeps working after the process changes its root. */
int fuse_server_create(struct fuse_server **out, const char *path, bool readonly, mv_error_t *err);
/* Close every fd; no fuse_server_handle() may be running. */
void fuse_server_destroy(struct fuse_server *s);

/* The most pages one request may carry (FUSE_INIT's max_pages; max_write is
 * this many 4 KiB pages): a device sets it from its queue size, since a
 * request's pages are one descriptor each.  Takes effect at the next INIT. */
void fuse_server_set_max_pages(struct fuse_server *s, unsigned pages);

/* Answer one request.  in[]: the request (fuse_in_header, arguments, write
 * data); out[]: room for the reply.  Returns the bytes written into out[],
 * 0 for requests without a reply (FORGET, BATCH_FORGET, INTERRUPT) and for
 * a request too broken to answer. */
size_t fuse_server_handle(struct fuse_server *s, const struct iovec *in, int nin,
			  const struct iovec *out, int nout);

/* Forget every inode but the root, close every handle and wait for a new
 * INIT (the device was reset).  No request may be running. */
void fuse_server_reset(struct fuse_server *s);

#endif
