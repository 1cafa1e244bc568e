/* Shared by runtime/layer.c (reading the archive, whiteouts),
 * runtime/layer_path.c (paths inside the root) and runtime/layer_write.c
 * (creating one entry with its metadata). */
#ifndef MV_LAYER_INTERNAL_H
#define MV_LAYER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>

#include "runtime/error.h"

/* A directory whose times are set once the whole layer is written: the
 * entries written into it later would change its mtime again. */
struct layer_dir_times {
	char *rel; /* canonical path relative to the root, "" for the root */
	struct timespec times[2];
};

struct layer_ctx {
	const char *layer; /* the archive file, for messages */
	struct archive *archive;
	int rootfd;	 /* O_PATH of the target directory */
	char *root_real; /* its canonical host path, to make paths relative */
	bool plain;	 /* layer_extract_plain: files and dirs only, no owners */
	void *written;	 /* tsearch tree: canonical paths this layer wrote */
	struct layer_dir_times *dirs;
	size_t n_dirs, cap_dirs;
};

/* Where one entry goes: the directory that holds it and its last name
 * ("." for the root itself). */
struct layer_target {
	int dirfd;
	const char *name;
	const char *entry; /* the entry's name as the archive has it */
};

/* ---- runtime/layer.c ---- */

/* Remove name in dirfd, a directory with all it holds; 0 when it was not
 * there.  -1 with errno set. */
int layer_remove_all(int dirfd, const char *name);

/* The times an entry asks for; false when it has none. */
bool layer_entry_times(struct archive_entry *e, struct timespec ts[2]);

/* ---- runtime/layer_write.c ---- */

/* Create the entry at t with its metadata, replacing what was there; a
 * directory's times are left to the caller.  Hardlink targets are looked
 * up with layer_open_dir. */
int layer_write_entry(struct layer_ctx *ctx, struct archive_entry *e, const struct layer_target *t,
		      mv_error_t *err);

/* ---- runtime/layer_path.c ---- */

/* Clean an entry's path: "./" prefixes, "." components, repeated and
 * trailing slashes go; "" is the root.  An absolute path or a `..`
 * component is EINVAL.  Returns a new string or NULL with errno set. */
char *layer_clean_path(const char *path);

/* An O_PATH fd of the directory rel (a clean path) inside the root,
 * symlinks followed as if the root were "/"; resolve: more RESOLVE_*
 * flags.  -1 with errno set. */
int layer_open_in_root(const struct layer_ctx *ctx, const char *rel, uint64_t resolve);

/* layer_open_in_root(), and with create, missing directories are made
 * (0755) on the way. */
int layer_open_dir(const struct layer_ctx *ctx, const char *rel, bool create);

/* The host path of an open directory, from /proc/self/fd. */
char *layer_fd_path(int fd);

/* The canonical path of name in dirfd relative to the root: what the
 * written set and the deferred directory times are keyed by, the same
 * whichever symlinks an entry's name went through. */
char *layer_real_path(const struct layer_ctx *ctx, int dirfd, const char *name);

#endif
