/* Host cgroups (cgroup v2): create, enter, write limits, remove (see
 * runtime/cgroup.h).  Every path is walked from the root one component
 * at a time with O_NOFOLLOW, so a symlink planted in the hierarchy cannot
 * send a write elsewhere. */
#include "runtime/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup_internal.h"
#include "runtime/cleanup.h"
#include "runtime/io.h"

#define MIB (1024ULL * 1024)
/* cgroup.procs of a cgroup with a few thousand processes. */
#define READ_MAX (1 << 20)

/* The controllers mvrun knows; a bit each in a mask. */
static const char *const controllers[] = {"cpu",  "cpuset",  "io",   "memory",
					  "pids", "hugetlb", "rdma", "misc"};
/* cpu, cpuset, io, memory, pids: what podman stats reads and the fields
 * of linux.resources that mvrun writes need. */
#define DEFAULT_CONTROLLERS 0x1fu

static unsigned controller_bit(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
		if (strlen(controllers[i]) == len && strncmp(controllers[i], name, len) == 0)
			return 1u << i;
	return 0;
}

/* The mask of a space-separated list such as cgroup.controllers holds. */
static unsigned controller_mask(const char *list)
{
	unsigned mask = 0;

	while (*list) {
		size_t n = strcspn(list, " \n");

		mask |= controller_bit(list, n);
		list += n;
		list += strspn(list, " \n");
	}
	return mask;
}

/* ---- files ---- */

/* The whole of a small file, NUL-terminated; -1 with errno. */
int cgroup_read_at(int dirfd, const char *name, char **out)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_free char *buf = NULL;
	size_t len = 0, size = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n;

		if (len + 1 >= size) {
			char *grown;

			size = size ? size * 2 : 4096;
			if (size > READ_MAX)
				return errno = EFBIG, -1;
			grown = realloc(buf, size);
			if (grown == NULL)
				return -1;
			buf = grown;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n == 0)
			break;
		len += n > 0 ? (size_t)n : 0;
	}
	buf[len] = '\0';
	*out = steal_ptr(&buf);
	return 0;
}

/* One write() of value, as the kernel parses each write on its own; a
 * fake file is truncated first so that a test reads what was written
 * (a real one needs no O_TRUNC, and runc does not send it). */
int cgroup_write_at(const struct cgroup_root *root, int dirfd, const char *name, const char *value)
{
	int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (root->fake ? O_TRUNC : 0);
	cleanup_close int fd = openat(dirfd, name, flags);

	if (fd < 0)
		return -1;
	return io_write_all(fd, value, strlen(value));
}

/* ---- walking and enabling controllers ---- */

/* The first len bytes of rel for a message, "/" for the root. */
static void shown(const char *rel, size_t len, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)(len ? len : 1), len ? rel : "/");
}

/* Enable the controllers of want that dirfd's cgroup offers in its
 * cgroup.subtree_control; required: one it does not offer is an error. */
static int enable(const struct cgroup_root *root, int dirfd, const char *where, unsigned want,
		  bool required, mv_error_t *err)
{
	cleanup_free char *offered = NULL, *enabled = NULL;
	char list[128] = "";
	unsigned todo;

	if (cgroup_read_at(dirfd, "cgroup.controllers", &offered) < 0 ||
	    cgroup_read_at(dirfd, "cgroup.subtree_control", &enabled) < 0)
		return mv_error(err, errno, "read the controllers of cgroup `%s`", where);
	todo = want & ~controller_mask(offered);
	if (required && todo) {
		const char *name = controllers[__builtin_ctz(todo)];

		return mv_error(err, ENOTSUP, "the `%s` controller is not available in cgroup `%s`",
				name, where);
	}
	todo = want & controller_mask(offered) & ~controller_mask(enabled);
	for (unsigned i = 0; todo >> i; i++)
		if (todo & (1u << i))
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s+%s",
				 list[0] ? " " : "", controllers[i]);
	if (todo == 0 || cgroup_write_at(root, dirfd, "cgroup.subtree_control", list) == 0)
		return 0;
	return mv_error(err, errno, "enable `%s` in cgroup `%s`%s", list, where,
			errno == EBUSY ? " (it holds processes: choose a cgroupsPath below one "
					 "that holds none)"
				       : "");
}

/* The directory of the first len bytes of rel, opened component by
 * component; on the way, want is enabled in each one that has a child on
 * the path, and a missing component is made when create is set. */
int cgroup_walk(const struct cgroup_root *root, const char *rel, size_t len, unsigned want,
		bool required, bool create, mv_error_t *err)
{
	cleanup_close int fd = open(root->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t at = 0;

	if (fd < 0)
		return mv_error(err, errno, "open `%s`", root->mount);
	while (at < len) {
		size_t n = strcspn(rel + at, "/");
		char name[NAME_MAX + 1], where[PATH_MAX];
		int next;

		snprintf(name, sizeof(name), "%.*s", (int)n, rel + at);
		shown(rel, at ? at - 1 : 0, where, sizeof(where));
		if (want && enable(root, fd, where, want, required, err) < 0)
			return -1;
		if (create && mkdirat(fd, name, 0755) < 0 && errno != EEXIST)
			return mv_error(err, errno, "create cgroup `%.*s`", (int)(at + n), rel);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return mv_error(err, errno, "open cgroup `%.*s`", (int)(at + n), rel);
		close(fd);
		fd = next;
		at += n + (rel[at + n] == '/');
	}
	return steal_fd(&fd);
}

bool cgroup_available(const struct cgroup_root *root)
{
	struct statfs fs;
	struct stat st;

	if (root->fake)
		return stat(root->mount, &st) == 0 && S_ISDIR(st.st_mode);
	return statfs(root->mount, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup_enter(const struct cgroup_root *root, const char *rel, pid_t pid, mv_error_t *err)
{
	cleanup_close int fd = -1;
	char digits[24];

	if (cgroup_check_rel(rel, err) < 0)
		return -1;
	fd = cgroup_walk(root, rel, strlen(rel), DEFAULT_CONTROLLERS, false, true, err);
	if (fd < 0)
		return -1;
	snprintf(digits, sizeof(digits), "%d", (int)pid);
	if (cgroup_write_at(root, fd, "cgroup.procs", digits) < 0)
		return mv_error(err, errno, "move process %d into cgroup `%s`", (int)pid, rel);
	return 0;
}

/* ---- limits ---- */

/* One file to write, and the field of linux.resources it comes from. */
struct setting {
	const char *file, *field, *value;
	bool may_be_missing;
	char buf[48];
};

struct settings {
	struct setting s[8]; /* memory 3, cpu 4, pids 1 */
	size_t n;
};

static struct setting *add(struct settings *all, const char *file, const char *field)
{
	struct setting *s = &all->s[all->n++];

	*s = (struct setting){.file = file, .field = field};
	s->value = s->buf;
	return s;
}

static void add_number(struct settings *all, const char *file, const char *field, int64_t v)
{
	struct setting *s = add(all, file, field);

	if (v == -1)
		s->value = "max";
	else
		snprintf(s->buf, sizeof(s->buf), "%" PRId64, v);
}

static int not_a_limit(const char *field, int64_t v, mv_error_t *err)
{
	return mv_error(err, EINVAL,
			"linux.resources.%s: %" PRId64 " is not a limit (-1 means unlimited)",
			field, v);
}

/* OCI's swap is memory plus swap (cgroup v1's memsw); cgroup v2's
 * memory.swap.max is the swap alone.  runc's conversion, -1 for "max". */
static int swap_value(int64_t limit, int64_t swap, int64_t *out, mv_error_t *err)
{
	*out = swap;
	if (limit == -1 && swap == 0)
		*out = -1;
	if (swap == -1 || swap == 0)
		return 0;
	if (limit <= 0)
		return mv_error(err, EINVAL,
				"linux.resources.memory.swap: needs a memory.limit (it is memory "
				"plus swap)");
	if (swap < limit)
		return mv_error(err, EINVAL,
				"linux.resources.memory.swap: %" PRId64
				" is less than memory.limit %" PRId64 " (it is memory plus swap)",
				swap, limit);
	*out = swap - limit;
	return 0;
}

/* memory.max in bytes for a VM of guest_mib MiB: see CGROUP_VMM_OVERHEAD_MIB. */
static int64_t memory_max(uint64_t guest_mib)
{
	uint64_t mib =
	    guest_mib + CGROUP_VMM_OVERHEAD_MIB + (guest_mib >> CGROUP_VMM_OVERHEAD_SHIFT);

	return mib > (uint64_t)INT64_MAX / MIB ? -1 : (int64_t)(mib * MIB);
}

static int memory_settings(const struct oci_resources *r, uint64_t guest_mib, struct settings *all,
			   mv_error_t *err)
{
	int64_t limit = r->has_memory_limit ? r->memory_limit : 0;
	int64_t low = r->has_memory_reservation ? r->memory_reservation : 0;
	int64_t swap = r->has_memory_swap ? r->memory_swap : 0, swap_max;

	if (limit < -1)
		return not_a_limit("memory.limit", limit, err);
	if (low < -1)
		return not_a_limit("memory.reservation", low, err);
	if (swap < -1)
		return not_a_limit("memory.swap", swap, err);
	if (limit > 0 && guest_mib == 0)
		return mv_error(err, EINVAL,
				"linux.resources.memory.limit: the microVM's size is not known");
	if (swap_value(limit, swap, &swap_max, err) < 0)
		return -1;
	/* runc writes 0 when swap equals the limit: no swap at all */
	if (swap_max != 0 || swap > 0) {
		add_number(all, "memory.swap.max", "memory.swap", swap_max);
		all->s[all->n - 1].may_be_missing = swap_max == -1 || swap_max == 0;
	}
	if (limit != 0)
		add_number(all, "memory.max", "memory.limit",
			   limit == -1 ? -1 : memory_max(guest_mib));
	if (low != 0)
		add_number(all, "memory.low", "memory.reservation", low);
	return 0;
}

/* cgroup v1's shares (2..262144, 1024 the default) to cgroup v2's weight
 * (1..10000, 100 the default) the way runc maps them. */
static uint64_t cpu_weight(uint64_t shares)
{
	shares = shares < 2 ? 2 : shares > 262144 ? 262144 : shares;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int cpu_settings(const struct oci_resources *r, struct settings *all, mv_error_t *err)
{
	int64_t quota = r->has_cpu_quota ? r->cpu_quota : 0;
	uint64_t period = r->has_cpu_period ? r->cpu_period : 0;

	if (quota < -1)
		return not_a_limit("cpu.quota", quota, err);
	if (quota != 0 || period != 0) {
		struct setting *s = add(all, "cpu.max", quota ? "cpu.quota" : "cpu.period");
		int n = quota > 0 ? snprintf(s->buf, sizeof(s->buf), "%" PRId64, quota)
				  : snprintf(s->buf, sizeof(s->buf), "max");

		if (period != 0)
			snprintf(s->buf + n, sizeof(s->buf) - (size_t)n, " %" PRIu64, period);
	}
	if (r->has_cpu_shares && r->cpu_shares != 0)
		add_number(all, "cpu.weight", "cpu.shares", (int64_t)cpu_weight(r->cpu_shares));
	if (r->cpu_cpus && r->cpu_cpus[0])
		add(all, "cpuset.cpus", "cpu.cpus")->value = r->cpu_cpus;
	if (r->cpu_mems && r->cpu_mems[0])
		add(all, "cpuset.mems", "cpu.mems")->value = r->cpu_mems;
	return 0;
}

static void pids_settings(const struct oci_resources *r, struct settings *all)
{
	int64_t limit = r->pids_limit;

	if (!r->has_pids_limit)
		return;
	/* 0 read as crun and CRI-O read it, "no limit": a literal pids.max of
	 * 0 would stop the monitor from starting its threads */
	if (limit <= 0 || limit > INT64_MAX - CGROUP_MONITOR_TASKS)
		add_number(all, "pids.max", "pids.limit", -1);
	else
		add_number(all, "pids.max", "pids.limit", limit + CGROUP_MONITOR_TASKS);
}

/* ---- unified ---- */

static const char *unified_problem(const char *key)
{
	const char *dot = strchr(key, '.');

	if (key[0] == '\0' || key[0] == '.' || strchr(key, '/') || strlen(key) > NAME_MAX)
		return "is not a file name";
	for (const char *p = key; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "is not a file name";
	if (dot == NULL || dot == key || dot[1] == '\0')
		return "is not of the form CONTROLLER.PARAMETER";
	/* cgroup.procs, .threads, .kill, .subtree_control, .type, .freeze
	 * place, kill or stop the VM's processes: mvrun's to manage */
	if (dot - key == 6 && strncmp(key, "cgroup", 6) == 0 &&
	    strcmp(key, "cgroup.max.depth") != 0 && strcmp(key, "cgroup.max.descendants") != 0)
		return "is managed by mvrun";
	return NULL;
}

static int check_unified(const struct oci_map *u, unsigned *want, mv_error_t *err)
{
	for (size_t i = 0; i < u->n; i++) {
		const char *why = unified_problem(u->keys[i]);

		if (why)
			return mv_error(err, EINVAL, "linux.resources.unified: `%.*s` %s", NAME_MAX,
					u->keys[i], why);
		*want |= controller_bit(u->keys[i], strcspn(u->keys[i], "."));
	}
	return 0;
}

/* Each line on its own write, as the kernel takes io.max one device a
 * write; a value without any line is written once as it is. */
static int write_lines(const struct cgroup_root *root, int dirfd, const char *name,
		       const char *value)
{
	int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (root->fake ? O_TRUNC : 0);
	cleanup_close int fd = openat(dirfd, name, flags);
	bool wrote = false;

	if (fd < 0)
		return -1;
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, "\n");

		if (n && io_write_all(fd, p, n) < 0)
			return -1;
		wrote |= n != 0;
		p += n + (p[n] == '\n');
	}
	return wrote || write(fd, value, 0) == 0 ? 0 : -1;
}

/* ---- applying ---- */

static int write_error(const char *field, const char *file, const char *value, const char *rel,
		       mv_error_t *err)
{
	if (errno == ENOENT)
		return mv_error(err, ENOENT, "linux.resources.%s: cgroup `%s` has no `%s`", field,
				rel, file);
	return mv_error(err, errno, "linux.resources.%s: write `%.64s` to `%s` of cgroup `%s`",
			field, value, file, rel);
}

static int write_all(const struct cgroup_root *root, int fd, const char *rel,
		     const struct settings *all, const struct oci_map *unified, mv_error_t *err)
{
	for (size_t i = 0; i < all->n; i++) {
		const struct setting *s = &all->s[i];

		if (cgroup_write_at(root, fd, s->file, s->value) < 0 &&
		    !(errno == ENOENT && s->may_be_missing))
			return write_error(s->field, s->file, s->value, rel, err);
	}
	for (size_t i = 0; i < unified->n; i++)
		if (write_lines(root, fd, unified->keys[i], unified->values[i]) < 0)
			return write_error("unified", unified->keys[i], unified->values[i], rel,
					   err);
	return 0;
}

int cgroup_apply(const struct cgroup_root *root, const char *rel, const struct oci_resources *res,
		 uint64_t guest_memory_mib, mv_error_t *err)
{
	struct settings all = {.n = 0};
	cleanup_close int fd = -1;
	unsigned want = 0;

	if (cgroup_check_rel(rel, err) < 0)
		return -1;
	if (res == NULL)
		return 0;
	if (memory_settings(res, guest_memory_mib, &all, err) < 0 ||
	    cpu_settings(res, &all, err) < 0 || check_unified(&res->unified, &want, err) < 0)
		return -1;
	pids_settings(res, &all);
	for (size_t i = 0; i < all.n; i++)
		want |= controller_bit(all.s[i].file, strcspn(all.s[i].file, "."));
	fd = cgroup_walk(root, rel, strlen(rel), want, true, false, err);
	if (fd < 0)
		return -1;
	return write_all(root, fd, rel, &all, &res->unified, err);
}
