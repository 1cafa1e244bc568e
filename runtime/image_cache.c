/* The image cache: CACHE/KEY is a bundle that unpack_image made, renamed
 * into place whole, so an entry that exists is complete.  CACHE/KEY.lock
 * is held (flock) while an entry is looked for and made: two runs of one
 * image unpack it once, and neither sees the other's temporary dir. */
#include "runtime/image_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "runtime/io.h"
#include "runtime/state.h"

#define CHOICE_HEX  16 /* hex digits of the ref/platform hash in a key */
#define LOCK_SUFFIX ".lock"

char *image_cache_dir(const char *root)
{
	const char *env = getenv(IMAGE_CACHE_ENV);
	char *dir = NULL;

	if (env && *env)
		return strdup(env);
	if (asprintf(&dir, "%s/%s", root, IMAGE_CACHE_SUBDIR) < 0)
		return NULL;
	return dir;
}

/* ---- the key ---- */

/* What names the image in a directory archive: its index.json, else its
 * manifest.json.  -1 with errno set. */
static int open_dir_manifest(int dirfd)
{
	static const char *const names[] = {"index.json", "manifest.json"};
	int fd = -1;

	for (size_t i = 0; fd < 0 && i < sizeof(names) / sizeof(names[0]); i++)
		fd = openat(dirfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static int hash_archive(const char *archive, char hex[SHA256_HEX_SIZE], mv_error_t *err)
{
	cleanup_close int fd = open(archive, O_RDONLY | O_CLOEXEC);
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return mv_error(err, errno, "open");
	if (S_ISDIR(st.st_mode)) {
		int dirfd = fd;

		fd = open_dir_manifest(dirfd);
		close(dirfd);
		if (fd < 0)
			return mv_error(err, errno, "neither index.json nor manifest.json in it");
	}
	if (sha256_fd(fd, archive, digest, NULL, err) < 0)
		return -1;
	sha256_hex(digest, hex);
	return 0;
}

/* Each part tagged and NUL-ended: no two choices hash the same bytes. */
static void hash_part(struct sha256 *s, char tag, const char *value)
{
	sha256_update(s, &tag, 1);
	if (value)
		sha256_update(s, value, strlen(value) + 1);
}

int image_cache_key(const char *archive, const char *ref, const char *platform,
		    char key[IMAGE_CACHE_KEY_MAX], mv_error_t *err)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE];
	struct sha256 s;

	if (hash_archive(archive, key, err) < 0)
		return -1;
	if (ref == NULL && platform == NULL)
		return 0;
	sha256_init(&s);
	hash_part(&s, ref ? 'r' : '-', ref);
	hash_part(&s, platform ? 'p' : '-', platform);
	sha256_final(&s, digest);
	sha256_hex(digest, hex);
	snprintf(key + SHA256_HEX_SIZE - 1, IMAGE_CACHE_KEY_MAX - (SHA256_HEX_SIZE - 1), "-%.*s",
		 CHOICE_HEX, hex);
	return 0;
}

/* ---- the cache directory ---- */

/* The cache directory, created, as an absolute path.  ROOT/images is
 * also a valid container id: a container's state dir is refused, so
 * that its delete never meets our entries. */
static char *open_cache(const char *cache, bool *made, mv_error_t *err)
{
	cleanup_free char *real = NULL, *state = NULL;
	struct stat st;

	if (io_mkdir_p(cache, 0711, made) < 0) {
		mv_error(err, errno, "create the image cache `%s`", cache);
		return NULL;
	}
	real = realpath(cache, NULL);
	if (real == NULL) {
		mv_error(err, errno, "image cache `%s`", cache);
		return NULL;
	}
	if (asprintf(&state, "%s/%s", real, STATE_FILE) < 0) {
		mv_error(err, ENOMEM, "image cache `%s`", cache);
		return NULL;
	}
	if (lstat(state, &st) == 0) {
		mv_error(err, EEXIST, "image cache `%s` is a container's state directory: set %s",
			 cache, IMAGE_CACHE_ENV);
		return NULL;
	}
	return steal_ptr(&real);
}

/* CACHE/KEY.lock, open and locked: released when the fd is closed. */
static int lock_entry(const char *lock, mv_error_t *err)
{
	cleanup_close int fd = -1;

	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mv_error(err, errno, "open `%s`", lock);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return mv_error(err, errno, "lock `%s`", lock);
	return steal_fd(&fd);
}

/* 1: the entry is there; 0: it is not. */
static int find_entry(const char *entry, mv_error_t *err)
{
	struct stat st;

	if (lstat(entry, &st) < 0)
		return errno == ENOENT ? 0 : mv_error(err, errno, "image cache entry `%s`", entry);
	if (!S_ISDIR(st.st_mode))
		return mv_error(err, ENOTDIR, "image cache entry `%s`", entry);
	return 1;
}

static int fill_entry(const struct unpack_opts *o, const char *entry, mv_error_t *err)
{
	struct unpack_opts uo = *o;

	uo.bundle = entry;
	uo.config_only = false;
	if (unpack_image(&uo, err) == 0)
		return 0;
	/* made by someone who did not take the lock: as good as ours */
	if (err && err->err == EEXIST && find_entry(entry, NULL) == 1) {
		mv_error_release(err);
		return 0;
	}
	return -1;
}

/* The cache after a failure is as it was: no lock file, and no cache dir
 * when this run made it (another run that is about to lock an entry
 * there makes it again: lock_entry's ENOENT).  The lock was only there to
 * spare a second unpack; unpack_image's rename keeps entries whole. */
static void undo_entry(const char *dir, bool made, const char *lock)
{
	unlink(lock);
	if (made)
		rmdir(dir);
}

/* The entry's lock taken: its fd, or -1.  A run that failed may have
 * removed the cache dir just now (undo_entry): made again then. */
static int take_lock(const char *dir, const char *lock, bool *made, mv_error_t *err)
{
	for (int tries = 0;; tries++) {
		int fd = lock_entry(lock, err);
		bool again = false;

		if (fd >= 0 || err == NULL || err->err != ENOENT || tries == 2)
			return fd;
		mv_error_release(err);
		if (io_mkdir_p(dir, 0711, &again) < 0)
			return mv_error(err, errno, "create the image cache `%s`", dir);
		*made |= again;
	}
}

int image_cache_get(const char *cache, const struct unpack_opts *o, char **bundle, bool *hit,
		    mv_error_t *err)
{
	cleanup_free char *dir = NULL, *entry = NULL, *lock = NULL;
	char key[IMAGE_CACHE_KEY_MAX];
	bool made = false;
	int fd, found;

	if (image_cache_key(o->archive, o->ref, o->platform, key, err) < 0)
		return mv_error_wrap(err, "unpack `%s`", o->archive);
	dir = open_cache(cache, &made, err);
	if (dir == NULL)
		return -1;
	if (asprintf(&entry, "%s/%s", dir, key) < 0 ||
	    asprintf(&lock, "%s/%s%s", dir, key, LOCK_SUFFIX) < 0)
		return mv_error(err, ENOMEM, "image cache `%s`", cache);
	fd = take_lock(dir, lock, &made, err);
	if (fd < 0) {
		if (made)
			rmdir(dir);
		return -1;
	}
	found = find_entry(entry, err);
	if (found == 0 && fill_entry(o, entry, err) < 0) {
		undo_entry(dir, made, lock);
		found = -1;
	}
	close(fd);
	if (found < 0)
		return -1;
	if (hit)
		*hit = found == 1;
	*bundle = steal_ptr(&entry);
	return 0;
}
