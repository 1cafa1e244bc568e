/* FUSE directory handlers.  A directory handle is an O_RDONLY fd read with
 * getdents64 under the handle's lock; the offset the guest gets in each
 * record is the host's d_off, so a listing goes on where the previous
 * READDIR stopped.  A record that does not fit ends the reply; the host
 * entries not sent yet stay with the handle for the next READDIR, so a
 * sequential listing never seeks (see fuse_handle.unsent). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "vmm/fuse_internal.h"

#define DIR_REPLY_MAX (1 << 20) /* the most a READDIR reply holds, as FUSE's max pages */
#define DIR_BUF_MIN   1024	/* holds any one host entry */
#define DIR_BUF_MAX   (64 << 10)

/* What getdents64 fills in (glibc has no type for it). */
struct host_dirent {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* One READDIR(PLUS) reply being built. */
struct dir_list {
	struct fuse_req *r;
	struct fuse_inode *dir;
	bool plus;
	uint8_t *buf;
	size_t size, used;
};

enum { ENTRY_ADDED, ENTRY_SKIPPED, ENTRY_FULL };

int fuse_op_opendir(struct fuse_req *r, struct fuse_inode *node)
{
	struct fuse_open_out out = {0};
	int fd, ret;

	if (node->type != S_IFDIR)
		return ENOTDIR;
	fd = fuse_reopen(r->srv, node, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -fd;
	ret = fuse_handle_add(r->srv, fd, node->nodeid, true, &out.fh);
	if (ret)
		return ret;
	return fuse_reply(r, &out, sizeof(out));
}

static bool is_dot_or_dotdot(const char *name, size_t len)
{
	return name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'));
}

/* Append one host entry to the reply. */
static int list_add(struct dir_list *l, const struct host_dirent *d, size_t namelen)
{
	size_t reclen =
	    FUSE_DIRENT_ALIGN((l->plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET) + namelen);
	bool dots = is_dot_or_dotdot(d->d_name, namelen);
	struct fuse_entry_out e = {0};
	struct fuse_dirent *de;

	if (namelen == 0 || namelen > FUSE_NAME_MAX) /* the guest would fail the listing */
		return ENTRY_SKIPPED;
	if (!dots && fuse_name_hidden(l->r->srv, l->dir, d->d_name))
		return ENTRY_SKIPPED;
	if (reclen > l->size - l->used)
		return ENTRY_FULL;

	/* only now that the record fits, so that every counted lookup reaches
	 * the guest; "." and ".." get node id 0: attributes not given */
	if (l->plus && !dots) {
		int ret = fuse_lookup_entry(l->r->srv, l->dir, d->d_name, &e);

		if (ret == ENOENT) /* gone since getdents64 */
			return ENTRY_SKIPPED;
		if (ret) /* node id 0: the guest looks it up itself if it must */
			memset(&e, 0, sizeof(e));
	}

	memset(l->buf + l->used, 0, reclen);
	if (l->plus) {
		struct fuse_direntplus *dp = (struct fuse_direntplus *)(l->buf + l->used);

		dp->entry_out = e;
		de = &dp->dirent;
	} else {
		de = (struct fuse_dirent *)(l->buf + l->used);
	}
	de->ino = e.nodeid ? e.attr.ino : d->d_ino;
	de->off = (uint64_t)d->d_off;
	de->namelen = (uint32_t)namelen;
	de->type = e.nodeid ? IFTODT(e.attr.mode) : d->d_type;
	memcpy(de->name, d->d_name, namelen);
	l->used += reclen;
	return ENTRY_ADDED;
}

/* Keep the host entries the reply had no room for (h->lock held). */
static int keep_unsent(struct fuse_handle *h, const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len);

	if (copy == NULL)
		return ENOMEM;
	memcpy(copy, buf, len);
	free(h->unsent);
	h->unsent = copy;
	h->unsent_len = len;
	return 0;
}

/* Add the host entries in buf[0, n) to the reply, *pos following them.
 * 0: all taken; FULL: the reply is full and h keeps the rest; or an errno. */
#define FULL (-1)
static int list_entries(struct dir_list *l, struct fuse_handle *h, const uint8_t *buf, size_t n,
			off_t *pos)
{
	for (size_t at = 0; at < n;) {
		const struct host_dirent *d = (const struct host_dirent *)(buf + at);
		size_t name_room;

		if (d->d_reclen <= offsetof(struct host_dirent, d_name) || d->d_reclen > n - at)
			return EIO;
		name_room = d->d_reclen - offsetof(struct host_dirent, d_name);
		if (strnlen(d->d_name, name_room) == name_room) /* no NUL */
			return EIO;
		if (list_add(l, d, strlen(d->d_name)) == ENTRY_FULL)
			return keep_unsent(h, buf + at, n - at) ? ENOMEM : FULL;
		*pos = d->d_off;
		at += d->d_reclen;
	}
	return 0;
}

/* Fill the reply from offset `pos`: the entries h kept from last time if
 * the listing goes on where it stopped, then h->fd.  h->lock held. */
static int list_fill(struct dir_list *l, struct fuse_handle *h, off_t pos)
{
	cleanup_free uint8_t *unsent = h->unsent, *dbuf = NULL;
	size_t unsent_len = h->unsent_len;
	ssize_t n = 0;
	int ret;

	h->unsent = NULL; /* ours now; list_entries() may keep a new rest */
	h->unsent_len = 0;
	if (h->pos != pos) {
		unsent_len = 0;
		if (lseek(h->fd, pos, SEEK_SET) < 0) {
			h->pos = -1;
			return errno;
		}
	}
	ret = list_entries(l, h, unsent, unsent_len, &pos);
	while (ret == 0) {
		/* about as many entries as fit in the reply */
		size_t want = l->size - l->used;

		if (l->plus)
			want /= 4;
		want = want < DIR_BUF_MIN ? DIR_BUF_MIN : want > DIR_BUF_MAX ? DIR_BUF_MAX : want;
		if (dbuf == NULL && (dbuf = malloc(DIR_BUF_MAX)) == NULL) {
			ret = ENOMEM;
			break;
		}
		n = getdents64(h->fd, dbuf, want);
		if (n <= 0) {
			ret = n < 0 ? errno : 0;
			break;
		}
		ret = list_entries(l, h, dbuf, (size_t)n, &pos);
	}
	if (ret == FULL) {
		h->pos = pos;		     /* the first unsent entry's offset */
		return l->used ? 0 : EINVAL; /* not even one fits */
	}
	if (ret) { /* the fd's place is unknown: seek next time */
		free(h->unsent);
		h->unsent = NULL;
		h->unsent_len = 0;
		h->pos = -1;
		return l->used ? 0 : ret; /* keep what holds counted lookups */
	}
	h->pos = pos;
	return 0;
}

static int readdir_common(struct fuse_req *r, struct fuse_inode *node, bool plus)
{
	struct fuse_read_in in;
	struct dir_list l = {.r = r, .dir = node, .plus = plus};
	cleanup_free uint8_t *buf = NULL;
	struct fuse_handle *h;
	int ret;

	memcpy(&in, fuse_arg(r), sizeof(in));
	if (in.offset > INT64_MAX)
		return EINVAL;
	l.size = in.size;
	if (l.size > fuse_out_room(r))
		l.size = fuse_out_room(r);
	if (l.size > DIR_REPLY_MAX)
		l.size = DIR_REPLY_MAX;
	buf = malloc(l.size ? l.size : 1);
	if (buf == NULL)
		return ENOMEM;
	l.buf = buf;

	ret = fuse_handle_of(r, in.fh, node->nodeid, true, &h);
	if (ret)
		return ret;
	pthread_mutex_lock(&h->lock);
	ret = list_fill(&l, h, (off_t)in.offset);
	pthread_mutex_unlock(&h->lock);
	fuse_handle_put(r->srv, h);
	if (ret)
		return ret;
	return fuse_reply(r, buf, l.used);
}

int fuse_op_readdir(struct fuse_req *r, struct fuse_inode *node)
{
	return readdir_common(r, node, false);
}

int fuse_op_readdirplus(struct fuse_req *r, struct fuse_inode *node)
{
	return readdir_common(r, node, true);
}

int fuse_op_releasedir(struct fuse_req *r, struct fuse_inode *node)
{
	return fuse_release_common(r, true);
}

int fuse_op_fsyncdir(struct fuse_req *r, struct fuse_inode *node)
{
	return fuse_fsync_common(r, node, true);
}
