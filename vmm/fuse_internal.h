/* Inside the FUSE server: the inode and handle tables (vmm/fuse_inode.c),
 * one request as the handlers see it (vmm/fuse_server.c) and the handlers
 * (vmm/fuse_ops_*.c).
 *
 * Node ids and file handles come from the guest and are never trusted: they
 * are keys into hash tables, never pointers or raw indexes; one that is not
 * there is ESTALE (node) or EBADF (handle).  Node ids and handles are never
 * reused while the server lives.
 *
 * Locking: fuse_server.lock guards the tables, the counters and the session
 * state (initialized, the INIT results).  It is held only for table work,
 * never across a system call that may block.  A request holds a reference
 * on each inode and handle it uses (refs), so a FORGET, RELEASE or reset
 * running at the same time only unhooks them; the last reference closes the
 * fd.  A directory handle's position has its own lock. */
#ifndef MV_FUSE_INTERNAL_H
#define MV_FUSE_INTERNAL_H

#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vmm/fuse_server.h"

#define FUSE_NAME_MAX	    255	  /* one path component */
#define FUSE_SYMLINK_MAX    4096  /* a symlink target, with its NUL */
#define FUSE_XATTR_SIZE_MAX 65536 /* a value or a name list (Linux's own limit) */
#define FUSE_ARGS_MAX	    (FUSE_XATTR_SIZE_MAX + 4096) /* the largest request but WRITE */
#define FUSE_MAX_HANDLES    65536
#define FUSE_MAX_FDS	    (1 << 20)  /* inodes and handles together, at most */
#define FUSE_COPY_MAX	    (64 << 20) /* COPY_FILE_RANGE per request; the guest loops */
#define FUSE_TIMEOUT_S	    1	       /* entry and attribute validity */
#define FUSE_MIN_MINOR	    27	       /* the oldest protocol we speak (Linux 4.20) */
#define FUSE_DEFAULT_PAGES  32

/* An intrusive chained hash map keyed by a 64-bit value; keys may repeat. */
struct fuse_hnode {
	uint64_t key;
	struct fuse_hnode *next;
};

struct fuse_hmap {
	struct fuse_hnode **buckets;
	size_t nbuckets, count;
};

struct fuse_inode {
	struct fuse_hnode by_id;  /* key: nodeid */
	struct fuse_hnode by_key; /* key: a hash of dev and ino */
	uint64_t nodeid;
	dev_t dev;
	ino_t ino;
	mode_t type;	  /* S_IFMT bits: an inode never changes type */
	int fd;		  /* O_PATH | O_NOFOLLOW */
	uint64_t nlookup; /* lookups the guest holds */
	unsigned refs;	  /* 1 while in the tables, + 1 per request using it */
	bool hashed;
};

struct fuse_handle {
	struct fuse_hnode node; /* key: fh */
	uint64_t nodeid;
	int fd;
	bool dir;
	bool hashed;
	unsigned refs;
	pthread_mutex_t lock; /* directories: pos and the unsent entries */
	off_t pos;	      /* where the listing goes on, -1 when unknown */
	/* Directories: host entries read but not sent yet (the reply was
	 * full), starting at pos; the fd is past them.  Kept rather than
	 * seeking back, because a seek to a position counts entries on some
	 * filesystems (tmpfs): an entry created meanwhile would shift the
	 * listing and repeat or skip names. */
	uint8_t *unsent;
	size_t unsent_len;
};

struct fuse_server {
	pthread_mutex_t lock;
	struct fuse_hmap by_id, by_key, handles;
	struct fuse_inode *root;
	uint64_t next_nodeid, next_fh;
	size_t nfds, max_fds, nhandles;
	bool initialized;
	uint32_t minor;
	uint32_t max_pages_config; /* fuse_server_set_max_pages */
	uint32_t max_write;	   /* since INIT */

	int proc_fd;  /* /proc/self/fd, for reopening O_PATH fds */
	char *single; /* single-file share: the one name in the root; else NULL */
	bool readonly;
};

/* One request while it is handled. */
struct fuse_req {
	struct fuse_server *srv;
	struct fuse_in_header in;
	const uint8_t *arg; /* a private copy of the arguments (not WRITE's data) */
	size_t arg_len;
	const struct iovec *iov_in; /* the request as it came: WRITE's data */
	int n_in;
	const struct iovec *iov_out;
	int n_out;
	size_t out_len;
	size_t written; /* reply bytes */
};

/* ---- vmm/fuse_inode.c ----------------------------------------------------- */

/* The inode (with a reference) or NULL when nodeid is unknown. */
struct fuse_inode *fuse_inode_get(struct fuse_server *s, uint64_t nodeid);
void fuse_inode_put(struct fuse_server *s, struct fuse_inode *i);
/* Count one lookup of the inode that fd (O_PATH, taken over: kept or
 * closed) refers to, adding it when new.  0 and its node id, or an errno
 * (ENFILE at the fd cap, ENOMEM). */
int fuse_inode_add(struct fuse_server *s, int fd, const struct stat *st, uint64_t *nodeid);
void fuse_inode_forget(struct fuse_server *s, uint64_t nodeid, uint64_t nlookup);

/* Register an open fd (taken over); 0 and its handle, or an errno. */
int fuse_handle_add(struct fuse_server *s, int fd, uint64_t nodeid, bool dir, uint64_t *fh);
/* The handle (with a reference), or NULL when fh is unknown or of the
 * other kind (file vs directory). */
struct fuse_handle *fuse_handle_get(struct fuse_server *s, uint64_t fh, bool dir);
void fuse_handle_put(struct fuse_server *s, struct fuse_handle *h);
/* Unhook a handle; 0 or EBADF. */
int fuse_handle_release(struct fuse_server *s, uint64_t fh, bool dir);

int fuse_tables_init(struct fuse_server *s, int root_fd, const struct stat *st);
/* Drop every inode but the root and every handle (reset); and at the end,
 * the root too. */
void fuse_tables_clear(struct fuse_server *s);
void fuse_tables_release(struct fuse_server *s);

/* ---- vmm/fuse_server.c: requests and replies ------------------------------ */

/* The fixed-size argument at the start of the request (its size was checked
 * by the dispatcher against the opcode's table entry). */
static inline const void *fuse_arg(const struct fuse_req *r)
{
	return r->arg;
}

/* A path component at *off in the arguments: NUL-terminated inside them,
 * 1..255 bytes, no '/', not "." or ".."; *off moves past it.  0 or an errno. */
int fuse_arg_name(const struct fuse_req *r, size_t *off, const char **name);
/* A NUL-terminated string of at most max bytes (with the NUL) at *off. */
int fuse_arg_string(const struct fuse_req *r, size_t *off, size_t max, const char **str);

/* Reply with a fixed argument; returns 0. */
int fuse_reply(struct fuse_req *r, const void *arg, size_t len);
/* Reply with an argument and data already written at offset
 * sizeof(fuse_out_header) + len in out[] (READ); returns 0. */
int fuse_reply_after_data(struct fuse_req *r, size_t data_len);
/* iovecs over out[] after the header, at most len bytes; returns the count. */
int fuse_out_iov(const struct fuse_req *r, size_t len, struct iovec *iov, int max);
/* iovecs over in[] from offset off, len bytes. */
int fuse_in_iov(const struct fuse_req *r, size_t off, size_t len, struct iovec *iov, int max);
/* Bytes of reply payload that fit after the header. */
static inline size_t fuse_out_room(const struct fuse_req *r)
{
	return r->out_len - sizeof(struct fuse_out_header);
}

/* ---- shared helpers (vmm/fuse_server.c) ----------------------------------- */

int fuse_fstat(int fd, struct stat *st); /* 0 or an errno */
void fuse_fill_attr(struct fuse_attr *a, const struct stat *st);
void fuse_fill_entry(struct fuse_entry_out *e, uint64_t nodeid, const struct stat *st);
/* Open the inode for I/O through /proc/self/fd: regular files and
 * directories only (EACCES for anything else).  fd or -errno. */
int fuse_reopen(struct fuse_server *s, const struct fuse_inode *i, int flags);
/* Look name up below parent: O_PATH | O_NOFOLLOW, never through a
 * symlink; counts a lookup and fills e.  0 or an errno. */
int fuse_lookup_entry(struct fuse_server *s, struct fuse_inode *parent, const char *name,
		      struct fuse_entry_out *e);
/* Register fd (O_PATH, taken over) as an entry and reply with it. */
int fuse_reply_entry(struct fuse_req *r, int fd);
/* In a single-file share only the one name exists in the root. */
bool fuse_name_hidden(const struct fuse_server *s, const struct fuse_inode *parent,
		      const char *name);
/* The root of a single-file share is not the guest's to change. */
bool fuse_dir_locked(const struct fuse_server *s, const struct fuse_inode *dir);

/* ---- shared by the handlers (vmm/fuse_ops_file.c) ----------------------------- */

/* *out: the handle fh (with a reference) if it is of this kind and belongs
 * to nodeid; else NULL and EBADF. */
int fuse_handle_of(struct fuse_req *r, uint64_t fh, uint64_t nodeid, bool dir,
		   struct fuse_handle **out);
/* RELEASE and RELEASEDIR; FSYNC and FSYNCDIR. */
int fuse_release_common(struct fuse_req *r, bool dir);
int fuse_fsync_common(struct fuse_req *r, struct fuse_inode *node, bool dir);

/* ---- handlers: 0 once replied, or an errno to reply with -------------------- */

typedef int fuse_op_fn(struct fuse_req *r, struct fuse_inode *node);

fuse_op_fn fuse_op_lookup, fuse_op_getattr, fuse_op_setattr, fuse_op_readlink, fuse_op_statfs,
    fuse_op_access;
fuse_op_fn fuse_op_mknod, fuse_op_mkdir, fuse_op_symlink, fuse_op_link, fuse_op_unlink,
    fuse_op_rmdir, fuse_op_rename, fuse_op_rename2, fuse_op_create, fuse_op_tmpfile;
fuse_op_fn fuse_op_open, fuse_op_read, fuse_op_write, fuse_op_release, fuse_op_flush, fuse_op_fsync,
    fuse_op_fallocate, fuse_op_lseek, fuse_op_copy_file_range, fuse_op_syncfs;
fuse_op_fn fuse_op_opendir, fuse_op_readdir, fuse_op_readdirplus, fuse_op_releasedir,
    fuse_op_fsyncdir;
fuse_op_fn fuse_op_setxattr, fuse_op_getxattr, fuse_op_listxattr, fuse_op_removexattr;

#endif
