/* The FUSE server's inode and handle tables (locking: vmm/fuse_internal.h).
 * An inode is an O_PATH | O_NOFOLLOW fd, deduplicated by st_dev/st_ino so
 * that hard links share a node id, with the guest's lookup count; a handle
 * is an fd opened for I/O.  Every fd counts against max_fds. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/fuse_internal.h"

#define HMAP_MIN_BUCKETS 64

/* ---- the hash map ----------------------------------------------------------- */

static size_t hmap_index(const struct fuse_hmap *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (m->nbuckets - 1);
}

static int hmap_grow(struct fuse_hmap *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : HMAP_MIN_BUCKETS;
	struct fuse_hnode **old = m->buckets;
	size_t old_n = m->nbuckets;

	m->buckets = calloc(n, sizeof(*m->buckets));
	if (m->buckets == NULL) {
		m->buckets = old;
		return old ? 0 : ENOMEM; /* a fuller table still works */
	}
	m->nbuckets = n;
	for (size_t b = 0; b < old_n; b++) {
		struct fuse_hnode *e = old[b], *next;

		for (; e; e = next) {
			size_t i = hmap_index(m, e->key);

			next = e->next;
			e->next = m->buckets[i];
			m->buckets[i] = e;
		}
	}
	free(old);
	return 0;
}

static int hmap_add(struct fuse_hmap *m, struct fuse_hnode *e)
{
	size_t i;

	if (m->count >= m->nbuckets && hmap_grow(m) != 0)
		return ENOMEM;
	i = hmap_index(m, e->key);
	e->next = m->buckets[i];
	m->buckets[i] = e;
	m->count++;
	return 0;
}

static void hmap_del(struct fuse_hmap *m, struct fuse_hnode *e)
{
	struct fuse_hnode **p = &m->buckets[hmap_index(m, e->key)];

	while (*p && *p != e)
		p = &(*p)->next;
	if (*p) {
		*p = e->next;
		m->count--;
	}
}

/* The first entry with this key after `from` (NULL: from the start). */
static struct fuse_hnode *hmap_find(const struct fuse_hmap *m, uint64_t key,
				    struct fuse_hnode *from)
{
	struct fuse_hnode *e;

	if (m->nbuckets == 0)
		return NULL;
	e = from ? from->next : m->buckets[hmap_index(m, key)];
	while (e && e->key != key)
		e = e->next;
	return e;
}

static void hmap_free(struct fuse_hmap *m)
{
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->count = 0;
}

/* ---- inodes ------------------------------------------------------------------- */

#define inode_of(n, member) ((struct fuse_inode *)((char *)(n)-offsetof(struct fuse_inode, member)))
#define handle_of(n)	    ((struct fuse_handle *)((char *)(n)-offsetof(struct fuse_handle, node)))

static uint64_t devino_key(dev_t dev, ino_t ino)
{
	return (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;
}

/* lock held */
static void inode_unref(struct fuse_server *s, struct fuse_inode *i)
{
	if (--i->refs)
		return;
	close(i->fd);
	s->nfds--;
	free(i);
}

/* lock held */
static void inode_unhash(struct fuse_server *s, struct fuse_inode *i)
{
	if (!i->hashed)
		return;
	hmap_del(&s->by_id, &i->by_id);
	hmap_del(&s->by_key, &i->by_key);
	i->hashed = false;
	inode_unref(s, i);
}

static struct fuse_inode *find_id(struct fuse_server *s, uint64_t nodeid)
{
	struct fuse_hnode *n = hmap_find(&s->by_id, nodeid, NULL);

	return n ? inode_of(n, by_id) : NULL;
}

static struct fuse_inode *find_devino(struct fuse_server *s, dev_t dev, ino_t ino)
{
	uint64_t key = devino_key(dev, ino);

	for (struct fuse_hnode *n = hmap_find(&s->by_key, key, NULL); n;
	     n = hmap_find(&s->by_key, key, n)) {
		struct fuse_inode *i = inode_of(n, by_key);
		if (i->dev == dev && i->ino == ino)
			return i;
	}
	return NULL;
}

struct fuse_inode *fuse_inode_get(struct fuse_server *s, uint64_t nodeid)
{
	struct fuse_inode *i;

	pthread_mutex_lock(&s->lock);
	i = find_id(s, nodeid);
	if (i)
		i->refs++;
	pthread_mutex_unlock(&s->lock);
	return i;
}

void fuse_inode_put(struct fuse_server *s, struct fuse_inode *i)
{
	if (i == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	inode_unref(s, i);
	pthread_mutex_unlock(&s->lock);
}

/* lock held; fd taken over */
static int inode_insert(struct fuse_server *s, int fd, const struct stat *st,
			struct fuse_inode **out)
{
	struct fuse_inode *i;

	if (s->nfds >= s->max_fds)
		return ENFILE;
	i = calloc(1, sizeof(*i));
	if (i == NULL)
		return ENOMEM;
	i->nodeid = s->next_nodeid++;
	i->dev = st->st_dev;
	i->ino = st->st_ino;
	i->type = st->st_mode & S_IFMT;
	i->fd = fd;
	i->refs = 1;
	i->by_id.key = i->nodeid;
	i->by_key.key = devino_key(i->dev, i->ino);
	if (hmap_add(&s->by_id, &i->by_id) != 0) {
		free(i);
		return ENOMEM;
	}
	if (hmap_add(&s->by_key, &i->by_key) != 0) {
		hmap_del(&s->by_id, &i->by_id);
		free(i);
		return ENOMEM;
	}
	i->hashed = true;
	s->nfds++;
	*out = i;
	return 0;
}

int fuse_inode_add(struct fuse_server *s, int fd, const struct stat *st, uint64_t *nodeid)
{
	struct fuse_inode *i;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	i = find_devino(s, st->st_dev, st->st_ino);
	if (i == NULL) {
		ret = inode_insert(s, fd, st, &i);
		if (ret == 0)
			fd = -1;
	}
	if (ret == 0) {
		i->nlookup++;
		*nodeid = i->nodeid;
	}
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close(fd);
	return ret;
}

void fuse_inode_forget(struct fuse_server *s, uint64_t nodeid, uint64_t nlookup)
{
	struct fuse_inode *i;

	pthread_mutex_lock(&s->lock);
	i = find_id(s, nodeid);
	if (i && i != s->root) {
		i->nlookup = nlookup < i->nlookup ? i->nlookup - nlookup : 0;
		if (i->nlookup == 0)
			inode_unhash(s, i);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- handles ------------------------------------------------------------------ */

/* lock held */
static void handle_unref(struct fuse_server *s, struct fuse_handle *h)
{
	if (--h->refs)
		return;
	close(h->fd);
	free(h->unsent);
	pthread_mutex_destroy(&h->lock);
	s->nfds--;
	free(h);
}

/* lock held */
static void handle_unhash(struct fuse_server *s, struct fuse_handle *h)
{
	hmap_del(&s->handles, &h->node);
	h->hashed = false;
	s->nhandles--;
	handle_unref(s, h);
}

int fuse_handle_add(struct fuse_server *s, int fd, uint64_t nodeid, bool dir, uint64_t *fh)
{
	struct fuse_handle *h = NULL;
	int ret = ENFILE;

	pthread_mutex_lock(&s->lock);
	if (s->nfds >= s->max_fds || s->nhandles >= FUSE_MAX_HANDLES)
		goto out;
	ret = ENOMEM;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		goto out;
	h->node.key = s->next_fh;
	if (hmap_add(&s->handles, &h->node) != 0)
		goto out;
	s->next_fh++;
	h->nodeid = nodeid;
	h->fd = fd;
	h->dir = dir;
	h->hashed = true;
	h->refs = 1;
	h->pos = 0;
	pthread_mutex_init(&h->lock, NULL);
	s->nfds++;
	s->nhandles++;
	*fh = h->node.key;
	h = NULL;
	fd = -1;
	ret = 0;
out:
	pthread_mutex_unlock(&s->lock);
	free(h);
	if (fd >= 0)
		close(fd);
	return ret;
}

struct fuse_handle *fuse_handle_get(struct fuse_server *s, uint64_t fh, bool dir)
{
	struct fuse_hnode *n;
	struct fuse_handle *h = NULL;

	pthread_mutex_lock(&s->lock);
	n = hmap_find(&s->handles, fh, NULL);
	if (n && handle_of(n)->dir == dir) {
		h = handle_of(n);
		h->refs++;
	}
	pthread_mutex_unlock(&s->lock);
	return h;
}

void fuse_handle_put(struct fuse_server *s, struct fuse_handle *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	handle_unref(s, h);
	pthread_mutex_unlock(&s->lock);
}

int fuse_handle_release(struct fuse_server *s, uint64_t fh, bool dir)
{
	struct fuse_hnode *n;
	int ret = EBADF;

	pthread_mutex_lock(&s->lock);
	n = hmap_find(&s->handles, fh, NULL);
	if (n && handle_of(n)->dir == dir) {
		handle_unhash(s, handle_of(n));
		ret = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* ---- the tables as a whole ------------------------------------------------------ */

int fuse_tables_init(struct fuse_server *s, int root_fd, const struct stat *st)
{
	int ret;

	s->next_nodeid = FUSE_ROOT_ID;
	s->next_fh = 1;
	ret = inode_insert(s, root_fd, st, &s->root);
	if (ret == 0)
		s->root->nlookup = 1;
	return ret;
}

/* lock held: every entry of a map, each removed by `drop` */
static void drain(struct fuse_server *s, struct fuse_hmap *m,
		  void (*drop)(struct fuse_server *, struct fuse_hnode *))
{
	for (size_t b = 0; b < m->nbuckets; b++)
		while (m->buckets[b])
			drop(s, m->buckets[b]);
}

static void drop_handle(struct fuse_server *s, struct fuse_hnode *n)
{
	handle_unhash(s, handle_of(n));
}

static void drop_inode(struct fuse_server *s, struct fuse_hnode *n)
{
	struct fuse_inode *i = inode_of(n, by_id);

	if (i == s->root) { /* kept: move it out of the way and back */
		hmap_del(&s->by_id, n);
		return;
	}
	inode_unhash(s, i);
}

void fuse_tables_clear(struct fuse_server *s)
{
	struct fuse_inode *root = s->root;

	pthread_mutex_lock(&s->lock);
	drain(s, &s->handles, drop_handle);
	drain(s, &s->by_id, drop_inode);
	if (root) {				   /* the root is the only one left in by_key */
		hmap_add(&s->by_id, &root->by_id); /* cannot grow: the table is empty */
		root->nlookup = 1;
	}
	pthread_mutex_unlock(&s->lock);
}

void fuse_tables_release(struct fuse_server *s)
{
	fuse_tables_clear(s);
	pthread_mutex_lock(&s->lock);
	if (s->root) {
		inode_unhash(s, s->root);
		s->root = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	hmap_free(&s->by_id);
	hmap_free(&s->by_key);
	hmap_free(&s->handles);
}
