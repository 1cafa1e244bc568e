#include "runtime/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "runtime/cleanup.h"
#include "runtime/io.h"

#define STATE_TMP_FILE	 STATE_FILE ".tmp"
#define STATE_FILE_MAX	 (16 << 20) /* annotations can be large, but not this large */
#define STATE_FORMAT	 1
#define REMOVE_DEPTH_MAX 32
#define ID_SHOWN_MAX	 64 /* of a refused id, in its error message */
#define JSON_DEPTH_MAX	 16 /* ours nests 2 deep */

/* ---- ids ---- */

static bool id_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '+' || c == '-' || c == '.';
}

static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > STATE_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!id_char_ok((unsigned char)id[i]))
			return false;
	return true;
}

int state_check_id(const char *id, mv_error_t *err)
{
	char shown[ID_SHOWN_MAX + 4];
	size_t i;

	if (id_valid(id))
		return 0;
	/* The id goes to a terminal or a log: no control characters, and a
	 * hostile megabyte-long one is cut short. */
	for (i = 0; id[i] && i < ID_SHOWN_MAX; i++)
		shown[i] = ((unsigned char)id[i] < 0x20 || id[i] == 0x7f) ? '?' : id[i];
	strcpy(shown + i, id[i] ? "..." : "");
	return mv_error(err, EINVAL, "invalid container id `%s`", shown);
}

/* ---- small helpers ---- */

static int lock_fd(int fd, int op)
{
	int ret;

	do
		ret = flock(fd, op);
	while (ret < 0 && errno == EINTR);
	return ret;
}

/* The path an fd names, for error messages; "?" when unknown. */
static char *fd_path(int fd)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n < 0)
		return strdup("?");
	buf[n] = '\0';
	return strdup(buf);
}

static char *file_path(int dirfd, const char *name)
{
	cleanup_free char *dir = fd_path(dirfd);
	char *p = NULL;

	if (dir == NULL || asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static int not_exist(mv_error_t *err)
{
	return mv_error(err, ENOENT, "container does not exist");
}

/* ---- the root ---- */

int state_open_root(const char *root, bool create, mv_error_t *err)
{
	cleanup_close int fd = -1;

	if (root == NULL || *root == '\0')
		return mv_error(err, EINVAL, "no state directory given (--root)");
	if (create && io_mkdir_p(root, 0711, NULL) < 0)
		return mv_error(err, errno, "create state directory `%s`", root);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mv_error(err, errno, "open state directory `%s`", root);
	if (create && faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) < 0)
		return mv_error(err, errno, "state directory `%s` is not writable", root);
	return steal_fd(&fd);
}

/* ---- one container's directory and its lock ---- */

int state_create(int rootfd, const char *id, mv_error_t *err)
{
	cleanup_close int fd = -1;

	if (state_check_id(id, err) < 0)
		return -1;
	if (mkdirat(rootfd, id, 0700) < 0) {
		if (errno == EEXIST)
			return mv_error(err, EEXIST, "container with given ID already exists");
		return mv_error(err, errno, "create the state of `%s`", id);
	}
	fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mv_error(err, errno, "open the state of `%s`", id);
	/* Nobody can hold it yet: whoever opens it before state.json exists
	 * is told it does not exist. */
	if (lock_fd(fd, LOCK_EX) < 0)
		return mv_error(err, errno, "lock the state of `%s`", id);
	return steal_fd(&fd);
}

enum dir_check { DIR_GONE, DIR_NOT_OURS, DIR_OURS };

/* What the locked fd turned out to be: deleted while we waited, a
 * directory without our state file, or ours. */
static int check_locked_dir(int fd, const char *id, enum dir_check *what, mv_error_t *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat the state of `%s`", id);
	*what = DIR_GONE;
	if (st.st_nlink == 0)
		return 0;
	*what = DIR_NOT_OURS;
	if (fstatat(fd, STATE_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : mv_error(err, errno, "stat the state of `%s`", id);
	if (S_ISREG(st.st_mode))
		*what = DIR_OURS;
	return 0;
}

static int open_locked(int rootfd, const char *id, int op, mv_error_t *err)
{
	if (state_check_id(id, err) < 0)
		return -1;
	/* A directory removed while we waited is looked up again by name: a
	 * new container of that id may have taken its place. */
	for (int tries = 0; tries < 100; tries++) {
		cleanup_close int fd = -1;
		enum dir_check what;

		fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
			return not_exist(err);
		if (fd < 0)
			return mv_error(err, errno, "open the state of `%s`", id);
		if (lock_fd(fd, op) < 0)
			return mv_error(err, errno, "lock the state of `%s`", id);
		if (check_locked_dir(fd, id, &what, err) < 0)
			return -1;
		if (what == DIR_OURS)
			return steal_fd(&fd);
		if (what == DIR_NOT_OURS)
			return not_exist(err);
	}
	return not_exist(err);
}

int state_open(int rootfd, const char *id, mv_error_t *err)
{
	return open_locked(rootfd, id, LOCK_EX, err);
}

int state_open_shared(int rootfd, const char *id, mv_error_t *err)
{
	return open_locked(rootfd, id, LOCK_SH, err);
}

int state_open_container(const char *root, const char *id, bool shared, mv_error_t *err)
{
	cleanup_close int rootfd = -1;

	if (state_check_id(id, err) < 0)
		return -1;
	rootfd = state_open_root(root, false, err);
	if (rootfd < 0 && err && err->err == ENOENT)
		return not_exist(err);
	if (rootfd < 0)
		return -1;
	return open_locked(rootfd, id, shared ? LOCK_SH : LOCK_EX, err);
}

/* ---- state.json: writing ---- */

static int gen_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static int gen_kv(yajl_gen g, const char *key, const char *value)
{
	return gen_str(g, key) || gen_str(g, value ? value : "");
}

static int gen_kint(yajl_gen g, const char *key, long long value)
{
	return gen_str(g, key) || yajl_gen_integer(g, value);
}

static int gen_map(yajl_gen g, const struct oci_map *m)
{
	int bad = yajl_gen_map_open(g);

	for (size_t i = 0; i < m->n && !bad; i++)
		bad = gen_kv(g, m->keys[i], m->values[i]);
	return bad || yajl_gen_map_close(g);
}

static int gen_state(yajl_gen g, const struct container_state *s)
{
	int bad = yajl_gen_map_open(g);

	/* "runtime" tells our state.json from another runtime's in a shared
	 * root (runc's has the same name). */
	bad = bad || gen_kv(g, "runtime", "mvrun") || gen_kint(g, "format", STATE_FORMAT);
	bad = bad || gen_kv(g, "id", s->id) || gen_kv(g, "bundle", s->bundle);
	bad = bad || gen_kv(g, "rootfs", s->rootfs) || gen_kv(g, "status", s->status);
	bad =
	    bad || gen_kint(g, "pid", s->pid) || gen_kint(g, "pid_start", (long long)s->pid_start);
	bad = bad || gen_kv(g, "created", s->created) || gen_kv(g, "owner", s->owner);
	if (s->oci_version)
		bad = bad || gen_kv(g, "oci_version", s->oci_version);
	if (s->cgroup)
		bad = bad || gen_kv(g, "cgroup", s->cgroup);
	bad = bad || gen_str(g, "annotations") || gen_map(g, &s->annotations);
	return bad || yajl_gen_map_close(g);
}

static int write_file_synced(int dirfd, const char *name, const unsigned char *buf, size_t len)
{
	cleanup_close int fd = -1;
	int ret;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || io_write_all(fd, buf, len) < 0 || fsync(fd) < 0)
		return -1;
	ret = close(fd);
	fd = -1;
	return ret;
}

int state_write(int dirfd, const struct container_state *s, mv_error_t *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int ret = -1;

	if (g == NULL)
		return mv_error(err, ENOMEM, "write the state of `%s`", s->id);
	if (gen_state(g, s) || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		mv_error(err, EINVAL, "write the state of `%s`: cannot encode it", s->id);
		goto out;
	}
	/* Readers see the old file or the new one, never half of one. */
	if (write_file_synced(dirfd, STATE_TMP_FILE, buf, len) < 0 ||
	    renameat(dirfd, STATE_TMP_FILE, dirfd, STATE_FILE) < 0) {
		mv_error(err, errno, "write the state of `%s`", s->id);
		unlinkat(dirfd, STATE_TMP_FILE, 0);
		goto out;
	}
	fsync(dirfd);
	ret = 0;
out:
	yajl_gen_free(g);
	return ret;
}

/* ---- state.json: reading ---- */

static char *read_small_file(int dirfd, const char *name, size_t max, mv_error_t *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 4096;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mv_error(err, errno, "open"), NULL;
	buf = malloc(cap + 1);
	for (;;) {
		ssize_t n;

		if (buf == NULL)
			return mv_error(err, ENOMEM, "read"), NULL;
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mv_error(err, errno, "read"), NULL;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return mv_error(err, EFBIG, "larger than %zu bytes", max), NULL;
		if (len == cap) {
			char *bigger = realloc(buf, cap * 2 + 1);
			if (bigger == NULL)
				free(buf);
			buf = bigger;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	if (strlen(buf) != len)
		return mv_error(err, EINVAL, "a NUL byte inside"), NULL;
	return steal_ptr(&buf);
}

static yajl_val json_field(yajl_val obj, const char *key)
{
	const char *path[] = {key, NULL};

	return yajl_tree_get(obj, path, yajl_t_any);
}

/* A string field: absent gives dflt (NULL: required). */
static int json_string(yajl_val obj, const char *key, const char *dflt, char **out, mv_error_t *err)
{
	yajl_val v = json_field(obj, key);

	if (v == NULL && dflt == NULL)
		return mv_error(err, EINVAL, "no `%s`", key);
	if (v != NULL && !YAJL_IS_STRING(v))
		return mv_error(err, EINVAL, "`%s`: expected a string", key);
	*out = strdup(v ? v->u.string : dflt);
	if (*out == NULL)
		return mv_error(err, ENOMEM, "`%s`", key);
	return 0;
}

static int json_uint(yajl_val obj, const char *key, long long max, long long *out, mv_error_t *err)
{
	yajl_val v = json_field(obj, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 || YAJL_GET_INTEGER(v) > max)
		return mv_error(err, EINVAL, "`%s`: expected an integer from 0 to %lld", key, max);
	*out = YAJL_GET_INTEGER(v);
	return 0;
}

static int json_map(yajl_val obj, const char *key, struct oci_map *m, mv_error_t *err)
{
	yajl_val v = json_field(obj, key);
	size_t n;

	if (v == NULL)
		return 0;
	if (!YAJL_IS_OBJECT(v))
		return mv_error(err, EINVAL, "`%s`: expected an object", key);
	n = v->u.object.len;
	m->keys = calloc(n + 1, sizeof(char *));
	m->values = calloc(n + 1, sizeof(char *));
	if (m->keys == NULL || m->values == NULL)
		return mv_error(err, ENOMEM, "`%s`", key);
	for (size_t i = 0; i < n; i++) {
		yajl_val val = v->u.object.values[i];

		if (!YAJL_IS_STRING(val))
			return mv_error(err, EINVAL, "`%s`: expected string values", key);
		m->keys[i] = strdup(v->u.object.keys[i]);
		m->values[i] = strdup(val->u.string);
		m->n = i + 1;
		if (m->keys[i] == NULL || m->values[i] == NULL)
			return mv_error(err, ENOMEM, "`%s`", key);
	}
	return 0;
}

static int state_from_json(yajl_val root, struct container_state *s, mv_error_t *err)
{
	yajl_val marker = json_field(root, "runtime");
	long long pid, start;

	if (!YAJL_IS_OBJECT(root))
		return mv_error(err, EINVAL, "expected an object");
	if (marker == NULL || !YAJL_IS_STRING(marker) || strcmp(marker->u.string, "mvrun"))
		return mv_error(err, EINVAL, "not written by mvrun");
	if (json_string(root, "id", NULL, &s->id, err) < 0 ||
	    json_string(root, "bundle", NULL, &s->bundle, err) < 0 ||
	    json_string(root, "status", NULL, &s->status, err) < 0 ||
	    json_string(root, "rootfs", "", &s->rootfs, err) < 0 ||
	    json_string(root, "created", "", &s->created, err) < 0 ||
	    json_string(root, "owner", "", &s->owner, err) < 0 ||
	    json_uint(root, "pid", INT_MAX, &pid, err) < 0 ||
	    json_uint(root, "pid_start", LLONG_MAX, &start, err) < 0 ||
	    json_map(root, "annotations", &s->annotations, err) < 0)
		return -1;
	if (json_field(root, "oci_version") &&
	    json_string(root, "oci_version", NULL, &s->oci_version, err) < 0)
		return -1;
	if (json_field(root, "cgroup") && json_string(root, "cgroup", NULL, &s->cgroup, err) < 0)
		return -1;
	s->pid = (pid_t)pid;
	s->pid_start = (uint64_t)start;
	return 0;
}

/* yajl's tree is freed recursively: a hostile file nested a million deep
 * would overflow the stack, so anything deeper than ours is refused first. */
static bool json_too_deep(const char *text)
{
	bool in_string = false;
	int depth = 0;

	for (const char *p = text; *p; p++) {
		if (in_string) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_string = false;
		} else if (*p == '"') {
			in_string = true;
		} else if (*p == '{' || *p == '[') {
			if (++depth > JSON_DEPTH_MAX)
				return true;
		} else if (*p == '}' || *p == ']') {
			depth--;
		}
	}
	return false;
}

/* The first line of yajl's message: the rest draws the text with a caret. */
static void first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
}

int state_read(int dirfd, struct container_state **out, mv_error_t *err)
{
	cleanup_free char *path = file_path(dirfd, STATE_FILE);
	cleanup_free char *text = NULL;
	struct container_state *s;
	char ebuf[256] = "";
	yajl_val root;
	int ret;

	*out = NULL;
	text = read_small_file(dirfd, STATE_FILE, STATE_FILE_MAX, err);
	if (text == NULL)
		return mv_error_wrap(err, "`%s`", path ? path : STATE_FILE);
	if (json_too_deep(text))
		return mv_error(err, EINVAL, "`%s`: corrupt state file: nested too deep",
				path ? path : STATE_FILE);
	root = yajl_tree_parse(text, ebuf, sizeof(ebuf));
	if (root == NULL) {
		first_line(ebuf);
		return mv_error(err, EINVAL, "`%s`: corrupt state file: %s",
				path ? path : STATE_FILE, ebuf);
	}
	s = calloc(1, sizeof(*s));
	ret = s ? state_from_json(root, s, err) : mv_error(err, ENOMEM, "read the state");
	yajl_tree_free(root);
	if (ret < 0) {
		state_free(s);
		return mv_error_wrap(err, "`%s`: corrupt state file", path ? path : STATE_FILE);
	}
	*out = s;
	return 0;
}

static void map_free(struct oci_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m->keys);
	free(m->values);
}

void state_free(struct container_state *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->bundle);
	free(s->rootfs);
	free(s->status);
	free(s->created);
	free(s->owner);
	free(s->oci_version);
	free(s->cgroup);
	map_free(&s->annotations);
	free(s);
}

/* ---- is the monitor alive? ---- */

uint64_t state_proc_start_time(pid_t pid)
{
	cleanup_close int fd = -1;
	char path[64], buf[1024], *p;
	ssize_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields resume after the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X' || p[2] == 'x')
		return 0;
	p += 2; /* field 3, the state */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return 0;
		p++;
	}
	return strtoull(p, NULL, 10);
}

bool state_monitor_alive(const struct container_state *s)
{
	return s->pid > 0 && s->pid_start != 0 && state_proc_start_time(s->pid) == s->pid_start;
}

const char *state_status(const struct container_state *s)
{
	return state_monitor_alive(s) ? s->status : "stopped";
}

pid_t state_pid(const struct container_state *s)
{
	return state_monitor_alive(s) ? s->pid : 0;
}

/* ---- removal ---- */

static int remove_tree(int dirfd, const char *name, int depth, mv_error_t *err);

/* One pass over dirfd's entries; *removed counts what went. */
static int remove_entries(int dirfd, int depth, int *removed, mv_error_t *err)
{
	cleanup_dir DIR *d = NULL;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return mv_error(err, errno, "read a directory to remove");
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, e->d_name, 0) == 0 || errno == ENOENT) {
			(*removed)++;
			continue;
		}
		if (errno != EISDIR && errno != EPERM)
			return mv_error(err, errno, "remove `%s`", e->d_name);
		if (remove_tree(dirfd, e->d_name, depth + 1, err) < 0)
			return -1;
		(*removed)++;
	}
	return 0;
}

static int remove_contents(int dirfd, int depth, mv_error_t *err)
{
	int removed;

	if (depth > REMOVE_DEPTH_MAX)
		return mv_error(err, ELOOP, "more than %d directories deep", REMOVE_DEPTH_MAX);
	/* Entries removed while readdir runs may hide others: repeat until a
	 * pass finds nothing. */
	do {
		removed = 0;
		if (remove_entries(dirfd, depth, &removed, err) < 0)
			return -1;
	} while (removed > 0);
	return 0;
}

static int remove_tree(int dirfd, const char *name, int depth, mv_error_t *err)
{
	cleanup_close int fd = -1;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return mv_error(err, errno, "remove `%s`", name);
	if (remove_contents(fd, depth, err) < 0)
		return mv_error_wrap(err, "remove `%s`", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return mv_error(err, errno, "remove `%s`", name);
	return 0;
}

int state_remove(int rootfd, const char *id, int dirfd, mv_error_t *err)
{
	struct stat named, held;

	if (state_check_id(id, err) < 0)
		return -1;
	if (fstat(dirfd, &held) < 0)
		return mv_error(err, errno, "remove the state of `%s`", id);
	if (fstatat(rootfd, id, &named, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return mv_error(err, errno, "remove the state of `%s`", id);
	}
	/* Only the directory we hold locked: never one that took its name. */
	if (named.st_dev != held.st_dev || named.st_ino != held.st_ino)
		return mv_error(err, ESTALE, "remove the state of `%s`: it was replaced", id);
	if (remove_contents(dirfd, 0, err) < 0)
		return mv_error_wrap(err, "remove the state of `%s`", id);
	if (unlinkat(rootfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return mv_error(err, errno, "remove the state of `%s`", id);
	return 0;
}

/* ---- listing ---- */

static bool is_our_container(int rootfd, const char *name)
{
	cleanup_free char *file = NULL;
	struct stat st;

	if (!id_valid(name))
		return false;
	if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (asprintf(&file, "%s/%s", name, STATE_FILE) < 0)
		return false;
	return fstatat(rootfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static int compare_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* v keeps a NULL after its n entries. */
static int append_id(char ***v, size_t *n, size_t *cap, const char *id)
{
	if (*n + 1 >= *cap) {
		size_t bigger = *cap * 2;
		char **grown = realloc(*v, bigger * sizeof(char *));

		if (grown == NULL)
			return -1;
		*v = grown;
		*cap = bigger;
	}
	(*v)[*n] = strdup(id);
	if ((*v)[*n] == NULL)
		return -1;
	(*v)[++*n] = NULL;
	return 0;
}

int state_list(int rootfd, char ***ids, size_t *n, mv_error_t *err)
{
	cleanup_dir DIR *d = NULL;
	int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t count = 0, cap = 16;
	char **v = NULL;
	struct dirent *e;

	*ids = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return mv_error(err, errno, "read the state directory");
	}
	v = calloc(cap, sizeof(char *));
	if (v == NULL)
		return mv_error(err, ENOMEM, "list containers");
	while ((e = readdir(d)) != NULL) {
		if (!is_our_container(rootfd, e->d_name))
			continue;
		if (append_id(&v, &count, &cap, e->d_name) < 0) {
			state_list_free(v, count);
			return mv_error(err, ENOMEM, "list containers");
		}
	}
	qsort(v, count, sizeof(char *), compare_ids);
	*ids = v;
	*n = count;
	return 0;
}

void state_list_free(char **ids, size_t n)
{
	if (ids == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* ---- helpers for whoever fills a state ---- */

void state_format_time(const struct timespec *ts, char *buf, size_t size)
{
	char frac[24] = "";
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	if (ts->tv_nsec > 0) {
		snprintf(frac, sizeof(frac), ".%09ld", ts->tv_nsec);
		for (n = strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

char *state_time_now(void)
{
	struct timespec ts;
	char buf[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	state_format_time(&ts, buf, sizeof(buf));
	return strdup(buf);
}

char *state_user_name(uid_t uid)
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
		return strdup("");
	return strdup(found->pw_name);
}

/* ---- runc's view of a container ---- */

int state_gen_runc_json(yajl_gen g, const struct container_state *s)
{
	int bad = yajl_gen_map_open(g);

	/* In runc's order, for the people and scripts used to it. */
	bad = bad || gen_kv(g, "ociVersion", s->oci_version ? s->oci_version : "1.0.2");
	bad = bad || gen_kv(g, "id", s->id) || gen_kint(g, "pid", state_pid(s));
	bad = bad || gen_kv(g, "status", state_status(s)) || gen_kv(g, "bundle", s->bundle);
	bad = bad || gen_kv(g, "rootfs", s->rootfs) || gen_kv(g, "created", s->created);
	if (s->annotations.n > 0)
		bad = bad || gen_str(g, "annotations") || gen_map(g, &s->annotations);
	bad = bad || gen_kv(g, "owner", s->owner);
	return bad || yajl_gen_map_close(g) ? -1 : 0;
}
