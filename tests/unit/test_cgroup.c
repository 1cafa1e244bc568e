/* runtime/cgroup.c and cgroup_path.c: linux.cgroupsPath to a directory
 * (a table of cases, hostile ones included), and enter/apply/remove
 * against a fake root: a temporary directory holding the files a cgroup2
 * directory would have, whose contents the tests read back.  A last test
 * uses the real /sys/fs/cgroup when it is a writable cgroup2. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

#define MIB (1024LL * 1024)
#define GIB (1024 * MIB)

/* ---- cgroup_path ---- */

struct path_case {
	const char *in;
	bool systemd;
	const char *out;   /* NULL: refused */
	const char *error; /* a part of the message when refused */
};

static const struct path_case path_cases[] = {
    {"/a/b", false, "a/b", NULL},
    {"a/b", false, "a/b", NULL},
    {"/machine.slice/libpod-1.scope", false, "machine.slice/libpod-1.scope", NULL},
    {"/x", false, "x", NULL},
    {"", false, "mvrun/c1", NULL},
    {NULL, false, "mvrun/c1", NULL},
    {"system.slice:docker:abc", true, "system.slice/docker-abc.scope", NULL},
    {"a-b-c.slice:p:n", true, "a.slice/a-b.slice/a-b-c.slice/p-n.scope", NULL},
    {":p:n", true, "system.slice/p-n.scope", NULL},
    {"machine.slice::n", true, "machine.slice/n.scope", NULL},
    {"-.slice:p:n", true, "p-n.scope", NULL},
    {"user.slice:p:sub.slice", true, "user.slice/sub.slice", NULL},
    {"", true, "system.slice/mvrun-c1.scope", NULL},
    {NULL, true, "system.slice/mvrun-c1.scope", NULL},
    {"kubepods-besteffort-pod1.slice:cri-containerd:0a", true,
     "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/"
     "cri-containerd-0a.scope",
     NULL},
    /* hostile */
    {"../x", false, NULL, "linux.cgroupsPath: `../x` has a `.` or `..` component"},
    {"/a/../b", false, NULL, "`/a/../b` has a `.` or `..` component"},
    {"a/./b", false, NULL, "has a `.` or `..` component"},
    {"..", false, NULL, "has a `.` or `..` component"},
    {"a//b", false, NULL, "linux.cgroupsPath: `a//b` has an empty component"},
    {"a/b/", false, NULL, "has an empty component"},
    {"//a", false, NULL, "has an empty component"},
    {"/", false, NULL, "linux.cgroupsPath: `/` is the root cgroup"},
    {"a\nb", false, NULL, "linux.cgroupsPath: `a?b` has a control character"},
    {"x:y", true, NULL, "linux.cgroupsPath: `x:y` is not `slice:prefix:name`"},
    {"a:b:c:d", true, NULL, "is not `slice:prefix:name`"},
    {"/a/b", true, NULL, "is not `slice:prefix:name`"},
    {"machine:p:n", true, NULL, "`machine:p:n` does not name a slice"},
    {".slice:p:n", true, NULL, "does not name a slice"},
    {"a--b.slice:p:n", true, NULL, "does not name a slice"},
    {"-a.slice:p:n", true, NULL, "does not name a slice"},
    {"a-.slice:p:n", true, NULL, "does not name a slice"},
    {"a/b.slice:p:n", true, NULL, "does not name a slice"},
    {"../.slice:p:n", true, NULL, "does not name a slice"},
    {"system.slice:p:", true, NULL, "does not have a unit name"},
    {"system.slice:p/q:n", true, NULL, "does not have a unit name"},
    {"system.slice:p:n/m", true, NULL, "does not have a unit name"},
    {"system.slice:p:n\x01", true, NULL, "has a control character"},
};

TEST(cgroup_path_cases)
{
	for (size_t i = 0; i < N_ELEMENTS(path_cases); i++) {
		const struct path_case *c = &path_cases[i];
		cleanup_free char *rel = NULL;
		mv_error_t err = {0};
		int ret = cgroup_path(c->in, c->systemd, "c1", &rel, &err);

		if (c->out) {
			if (ret < 0)
				unit_fail(__FILE__, __LINE__, "`%s`: %s", c->in, err.msg);
			CHECK_STR(rel, c->out);
		} else {
			if (ret == 0)
				unit_fail(__FILE__, __LINE__, "`%s` accepted as `%s`", c->in, rel);
			CHECK(rel == NULL);
			CHECK_INT(err.err, ==, EINVAL);
			if (strstr(err.msg, c->error) == NULL)
				unit_fail(__FILE__, __LINE__, "`%s`: %s", c->in, err.msg);
		}
		mv_error_release(&err);
	}
}

static void check_path_refused(const char *in, bool systemd, const char *id, const char *error)
{
	cleanup_free char *rel = NULL;
	mv_error_t err = {0};

	CHECK_INT(cgroup_path(in, systemd, id, &rel, &err), ==, -1);
	CHECK(rel == NULL);
	if (strstr(err.msg, error) == NULL)
		unit_fail(__FILE__, __LINE__, "%s", err.msg);
	mv_error_release(&err);
}

TEST(cgroup_path_long_and_hostile_ids)
{
	char name[300], path[5000];
	cleanup_free char *rel = NULL;
	mv_error_t err = {0};

	memset(name, 'x', 255);
	name[255] = '\0';
	CHECK_INT(cgroup_path(name, false, "c1", &rel, &err), ==, 0);
	CHECK_STR(rel, name);
	free(rel);
	strcpy(name + 255, "y");
	check_path_refused(name, false, "c1", "has a component longer than 255 bytes");
	/* the error quotes at most 64 bytes of it */
	CHECK_INT(cgroup_path(name, false, "c1", &rel, &err), ==, -1);
	CHECK(strlen(err.msg) < 140);
	mv_error_release(&err);
	for (size_t i = 0; i + 2 < sizeof(path); i += 2)
		memcpy(path + i, "a/", 2);
	path[sizeof(path) - 2] = 'a';
	path[sizeof(path) - 1] = '\0';
	check_path_refused(path, false, "c1", "is too long");
	check_path_refused("", false, "../x", "`mvrun/../x` has a `.` or `..` component");
	check_path_refused("", false, "a/..", "has a `.` or `..` component");
	check_path_refused("", true, "a/b", "does not have a unit name");
	memset(path, 'a', 3000);
	strcpy(path + 3000, ".slice:p:n");
	path[1] = '-';
	check_path_refused(path, true, "c1", "");
}

TEST(cgroup_check_rel)
{
	mv_error_t err = {0};

	CHECK_INT(cgroup_check_rel("a/b.scope", &err), ==, 0);
	CHECK_INT(cgroup_check_rel("", &err), ==, -1);
	CHECK(strstr(err.msg, "is the root cgroup") != NULL);
	CHECK_INT(cgroup_check_rel("/a", &err), ==, -1);
	CHECK_INT(cgroup_check_rel("a/../../etc", &err), ==, -1);
	mv_error_release(&err);
}

/* ---- a fake cgroup2 root ---- */

struct fake {
	char dir[64];
	struct cgroup_root root;
};

static void put(const char *dir, const char *name, const char *content)
{
	cleanup_free char *path = unit_fmt("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CHECK(fd >= 0);
	CHECK_INT(write(fd, content, strlen(content)), ==, strlen(content));
	close(fd);
}

/* The file's content; "(none)" when it does not exist.  Caller frees. */
static char *get(const char *dir, const char *name)
{
	cleanup_free char *path = unit_fmt("%s/%s", dir, name);
	char buf[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return unit_fmt("(none)");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(n >= 0);
	buf[n] = '\0';
	return unit_fmt("%s", buf);
}

#define CHECK_FILE(dir, name, want)                                                                \
	do {                                                                                       \
		cleanup_free char *got_ = get(dir, name);                                          \
		CHECK_STR(got_, want);                                                             \
	} while (0)

/* A directory with a cgroup's core files; offered: its cgroup.controllers. */
static char *fake_cgroup(const struct fake *f, const char *rel, const char *offered)
{
	char *dir = rel[0] ? unit_fmt("%s/%s", f->dir, rel) : unit_fmt("%s", f->dir);

	mkdir(dir, 0755);
	put(dir, "cgroup.controllers", offered);
	put(dir, "cgroup.subtree_control", "");
	put(dir, "cgroup.procs", "");
	return dir;
}

static const char *const limit_files[] = {
    "memory.max", "memory.low", "memory.swap.max",  "memory.high",
    "cpu.max",	  "cpu.weight", "cpuset.cpus",	    "cpuset.mems",
    "pids.max",	  "io.max",	"cgroup.max.depth",
};

/* root, "a" and the leaf "a/b" with every file a limit goes to ("-"). */
static char *fake_tree(struct fake *f, const char *offered)
{
	char *leaf;

	strcpy(f->dir, "/tmp/mvrun-cgroup.XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	f->root = (struct cgroup_root){.mount = f->dir, .fake = true};
	free(fake_cgroup(f, "", offered));
	free(fake_cgroup(f, "a", offered));
	leaf = fake_cgroup(f, "a/b", offered);
	for (size_t i = 0; i < N_ELEMENTS(limit_files); i++)
		put(leaf, limit_files[i], "-");
	return leaf;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d))) {
		cleanup_free char *path = unit_fmt("%s/%s", dir, e->d_name);

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_type == DT_DIR)
			remove_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void unlink_in(const char *dir, const char *name)
{
	cleanup_free char *path = unit_fmt("%s/%s", dir, name);

	CHECK_INT(unlink(path), ==, 0);
}

static bool exists(const char *dir, const char *name)
{
	cleanup_free char *path = unit_fmt("%s/%s", dir, name);

	return access(path, F_OK) == 0;
}

/* ---- enter ---- */

TEST(cgroup_enter_enables_and_moves)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "cpu memory pids");
	cleanup_free char *a = unit_fmt("%s/a", f.dir);
	mv_error_t err = {0};

	CHECK(cgroup_available(&f.root));
	if (cgroup_enter(&f.root, "a/b", 1234, &err) < 0)
		unit_fail(__FILE__, __LINE__, "%s", err.msg);
	CHECK_FILE(f.dir, "cgroup.subtree_control", "+cpu +memory +pids");
	CHECK_FILE(a, "cgroup.subtree_control", "+cpu +memory +pids");
	/* the leaf holds processes: nothing is enabled below it */
	CHECK_FILE(leaf, "cgroup.subtree_control", "");
	CHECK_FILE(leaf, "cgroup.procs", "1234");
	remove_tree(f.dir);
}

TEST(cgroup_enter_only_what_is_offered_and_not_enabled)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "cpuset cpu io memory hugetlb pids rdma misc");
	cleanup_free char *a = unit_fmt("%s/a", f.dir);
	mv_error_t err = {0};

	put(f.dir, "cgroup.subtree_control", "cpu memory pids cpuset io");
	put(a, "cgroup.subtree_control", "memory");
	CHECK_INT(cgroup_enter(&f.root, "a/b", 99, &err), ==, 0);
	/* all enabled already: not written */
	CHECK_FILE(f.dir, "cgroup.subtree_control", "cpu memory pids cpuset io");
	/* hugetlb, rdma and misc are not among the defaults */
	CHECK_FILE(a, "cgroup.subtree_control", "+cpu +cpuset +io +pids");
	CHECK_FILE(leaf, "cgroup.procs", "99");
	remove_tree(f.dir);
}

TEST(cgroup_enter_creates_the_directories)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "memory");
	mv_error_t err = {0};

	/* a real cgroup directory comes with its files; a fake one does not,
	 * so moving the process into it fails after the mkdir */
	CHECK_INT(cgroup_enter(&f.root, "new", 7, &err), ==, -1);
	CHECK(strstr(err.msg, "move process 7 into cgroup `new`") != NULL);
	CHECK_INT(err.err, ==, ENOENT);
	CHECK(exists(f.dir, "new"));
	/* enabling needs the intermediate's cgroup.controllers */
	CHECK_INT(cgroup_enter(&f.root, "x/y", 7, &err), ==, -1);
	CHECK(strstr(err.msg, "read the controllers of cgroup `x`") != NULL);
	mv_error_release(&err);
	remove_tree(f.dir);
}

TEST(cgroup_enter_refuses_bad_paths)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "memory");
	cleanup_free char *link = unit_fmt("%s/link", f.dir);
	mv_error_t err = {0};

	CHECK_INT(cgroup_enter(&f.root, "../escape", 7, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK(!exists(f.dir, "../escape"));
	CHECK_INT(cgroup_enter(&f.root, "", 7, &err), ==, -1);
	CHECK_FILE(f.dir, "cgroup.procs", "");
	/* a symlink in the hierarchy is not followed */
	CHECK_INT(symlink("/tmp", link), ==, 0);
	CHECK_INT(cgroup_enter(&f.root, "link/z", 7, &err), ==, -1);
	CHECK(err.err == ELOOP || err.err == ENOTDIR);
	CHECK(strstr(err.msg, "open cgroup `link`") != NULL);
	unlink(link);
	mv_error_release(&err);
	remove_tree(f.dir);
}

/* ---- apply ---- */

TEST(cgroup_apply_writes_each_limit)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "cpu cpuset io memory pids");
	char *keys[] = {"memory.high", "io.max"};
	char *values[] = {"900M", "8:0 rbps=1\n8:16 wbps=2\n"};
	struct oci_resources r = {
	    .has_memory_limit = true,
	    .memory_limit = GIB,
	    .has_memory_reservation = true,
	    .memory_reservation = 512 * MIB,
	    .has_memory_swap = true,
	    .memory_swap = 3 * GIB,
	    .has_cpu_shares = true,
	    .cpu_shares = 1024,
	    .has_cpu_quota = true,
	    .cpu_quota = 50000,
	    .has_cpu_period = true,
	    .cpu_period = 100000,
	    .cpu_cpus = "0-1",
	    .cpu_mems = "0",
	    .has_pids_limit = true,
	    .pids_limit = 100,
	    .unified = {.keys = keys, .values = values, .n = 2},
	};
	mv_error_t err = {0};

	if (cgroup_apply(&f.root, "a/b", &r, 1024, &err) < 0)
		unit_fail(__FILE__, __LINE__, "%s", err.msg);
	/* guest RAM 1024 MiB + 64 + 1024/64 */
	CHECK_FILE(leaf, "memory.max", "1157627904");
	CHECK_INT(1157627904LL, ==, (1024 + 64 + 16) * MIB);
	CHECK_FILE(leaf, "memory.low", "536870912");
	CHECK_FILE(leaf, "memory.swap.max", "2147483648");
	CHECK_FILE(leaf, "cpu.max", "50000 100000");
	CHECK_FILE(leaf, "cpu.weight", "39");
	CHECK_FILE(leaf, "cpuset.cpus", "0-1");
	CHECK_FILE(leaf, "cpuset.mems", "0");
	CHECK_FILE(leaf, "pids.max", "228");
	CHECK_FILE(leaf, "memory.high", "900M");
	/* one write per line: a fake file gets them end to end */
	CHECK_FILE(leaf, "io.max", "8:0 rbps=18:16 wbps=2");
	CHECK_FILE(f.dir, "cgroup.subtree_control", "+cpu +cpuset +io +memory +pids");
	remove_tree(f.dir);
}

struct apply_case {
	const char *name;
	struct oci_resources res;
	const char *file, *want; /* the file's content after; "-" untouched */
};

#define MEM(v)	  .has_memory_limit = true, .memory_limit = (v)
#define SWAP(v)	  .has_memory_swap = true, .memory_swap = (v)
#define QUOTA(q)  .has_cpu_quota = true, .cpu_quota = (q)
#define PERIOD(p) .has_cpu_period = true, .cpu_period = (p)
#define SHARES(s) .has_cpu_shares = true, .cpu_shares = (s)
#define PIDS(n)	  .has_pids_limit = true, .pids_limit = (n)

static const struct apply_case apply_cases[] = {
    {"nothing", {0}, "memory.max", "-"},
    {"memory unlimited", {MEM(-1)}, "memory.max", "max"},
    {"memory unlimited swap too", {MEM(-1)}, "memory.swap.max", "max"},
    {"memory zero is unset", {MEM(0)}, "memory.max", "-"},
    {"swap unlimited", {MEM(GIB), SWAP(-1)}, "memory.swap.max", "max"},
    {"swap equal to memory: none", {MEM(GIB), SWAP(GIB)}, "memory.swap.max", "0"},
    {"swap unset", {MEM(GIB)}, "memory.swap.max", "-"},
    {"reservation unlimited",
     {.has_memory_reservation = true, .memory_reservation = -1},
     "memory.low",
     "max"},
    {"quota unlimited", {QUOTA(-1)}, "cpu.max", "max"},
    {"quota unlimited with period", {QUOTA(-1), PERIOD(50000)}, "cpu.max", "max 50000"},
    {"period alone", {PERIOD(50000)}, "cpu.max", "max 50000"},
    {"quota alone", {QUOTA(20000)}, "cpu.max", "20000"},
    {"zero quota and period", {QUOTA(0), PERIOD(0)}, "cpu.max", "-"},
    {"shares 2", {SHARES(2)}, "cpu.weight", "1"},
    {"shares 1 clamped", {SHARES(1)}, "cpu.weight", "1"},
    {"shares max", {SHARES(262144)}, "cpu.weight", "10000"},
    {"shares huge clamped", {SHARES(UINT64_MAX)}, "cpu.weight", "10000"},
    {"shares 0 unset", {SHARES(0)}, "cpu.weight", "-"},
    {"pids -1", {PIDS(-1)}, "pids.max", "max"},
    {"pids 0", {PIDS(0)}, "pids.max", "max"},
    {"pids 1", {PIDS(1)}, "pids.max", "129"},
    {"pids huge", {PIDS(INT64_MAX)}, "pids.max", "max"},
    {"empty cpuset", {.cpu_cpus = ""}, "cpuset.cpus", "-"},
};

TEST(cgroup_apply_cases)
{
	for (size_t i = 0; i < N_ELEMENTS(apply_cases); i++) {
		const struct apply_case *c = &apply_cases[i];
		struct fake f;
		cleanup_free char *leaf = fake_tree(&f, "cpu cpuset memory pids");
		cleanup_free char *got = NULL;
		mv_error_t err = {0};

		if (cgroup_apply(&f.root, "a/b", &c->res, 512, &err) < 0)
			unit_fail(__FILE__, __LINE__, "%s: %s", c->name, err.msg);
		got = get(leaf, c->file);
		if (strcmp(got, c->want) != 0)
			unit_fail(__FILE__, __LINE__, "%s: %s is `%s`, not `%s`", c->name, c->file,
				  got, c->want);
		remove_tree(f.dir);
	}
}

static void check_apply_refused(const struct oci_resources *r, const char *offered,
				const char *error)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, offered);
	mv_error_t err = {0};

	CHECK_INT(cgroup_apply(&f.root, "a/b", r, 512, &err), ==, -1);
	if (strstr(err.msg, error) == NULL)
		unit_fail(__FILE__, __LINE__, "%s", err.msg);
	mv_error_release(&err);
	remove_tree(f.dir);
}

TEST(cgroup_apply_refuses_bad_values)
{
	const char *all = "cpu cpuset memory pids";

	check_apply_refused(&(struct oci_resources){MEM(-2)}, all,
			    "linux.resources.memory.limit: -2 is not a limit");
	check_apply_refused(&(struct oci_resources){MEM(GIB), SWAP(-5)}, all,
			    "linux.resources.memory.swap: -5 is not a limit");
	check_apply_refused(&(struct oci_resources){MEM(GIB), SWAP(GIB - 1)}, all,
			    "linux.resources.memory.swap: 1073741823 is less than memory.limit");
	check_apply_refused(&(struct oci_resources){SWAP(GIB)}, all,
			    "linux.resources.memory.swap: needs a memory.limit");
	check_apply_refused(&(struct oci_resources){QUOTA(INT64_MIN)}, all,
			    "linux.resources.cpu.quota: -9223372036854775808 is not a limit");
}

TEST(cgroup_apply_missing_controller_or_file)
{
	struct fake f;
	cleanup_free char *leaf = NULL;
	mv_error_t err = {0};

	/* asked for and not offered */
	check_apply_refused(&(struct oci_resources){MEM(GIB)}, "cpu pids",
			    "the `memory` controller is not available in cgroup `/`");
	check_apply_refused(&(struct oci_resources){.cpu_cpus = "0"}, "cpu memory",
			    "the `cpuset` controller is not available");
	/* not offered and not asked for: fine */
	leaf = fake_tree(&f, "pids");
	CHECK_INT(cgroup_apply(&f.root, "a/b", &(struct oci_resources){PIDS(5)}, 512, &err), ==, 0);
	CHECK_FILE(leaf, "pids.max", "133");
	/* offered, but the file is not there */
	unlink_in(leaf, "pids.max");
	CHECK_INT(cgroup_apply(&f.root, "a/b", &(struct oci_resources){PIDS(5)}, 512, &err), ==,
		  -1);
	CHECK_STR(err.msg, "linux.resources.pids.limit: cgroup `a/b` has no `pids.max`");
	/* no swap accounting: "max" and 0 go without it, a real limit does not */
	remove_tree(f.dir);
	free(leaf);
	leaf = fake_tree(&f, "memory");
	unlink_in(leaf, "memory.swap.max");
	CHECK_INT(
	    cgroup_apply(&f.root, "a/b", &(struct oci_resources){MEM(GIB), SWAP(-1)}, 1024, &err),
	    ==, 0);
	CHECK_INT(
	    cgroup_apply(&f.root, "a/b", &(struct oci_resources){MEM(GIB), SWAP(GIB)}, 1024, &err),
	    ==, 0);
	CHECK_INT(cgroup_apply(&f.root, "a/b", &(struct oci_resources){MEM(GIB), SWAP(2 * GIB)},
			       1024, &err),
		  ==, -1);
	CHECK_STR(err.msg, "linux.resources.memory.swap: cgroup `a/b` has no `memory.swap.max`");
	/* a limit needs the VM's size */
	CHECK_INT(cgroup_apply(&f.root, "a/b", &(struct oci_resources){MEM(GIB)}, 0, &err), ==, -1);
	CHECK(strstr(err.msg, "size is not known") != NULL);
	/* a cgroup that is not there is not made */
	CHECK_INT(cgroup_apply(&f.root, "a/c", &(struct oci_resources){MEM(GIB)}, 1024, &err), ==,
		  -1);
	CHECK_INT(err.err, ==, ENOENT);
	CHECK(!exists(f.dir, "a/c"));
	CHECK_INT(cgroup_apply(&f.root, "a/b", NULL, 0, &err), ==, 0);
	mv_error_release(&err);
	remove_tree(f.dir);
}

static void check_unified_refused(const char *key, const char *error)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "cpu memory pids");
	char *keys[] = {(char *)key}, *values[] = {"1"};
	struct oci_resources r = {QUOTA(1000), .unified = {.keys = keys, .values = values, .n = 1}};
	mv_error_t err = {0};

	CHECK_INT(cgroup_apply(&f.root, "a/b", &r, 512, &err), ==, -1);
	if (strstr(err.msg, error) == NULL)
		unit_fail(__FILE__, __LINE__, "`%s`: %s", key, err.msg);
	/* checked before anything is written */
	if (strstr(error, "has no") == NULL)
		CHECK_FILE(leaf, "cpu.max", "-");
	mv_error_release(&err);
	remove_tree(f.dir);
}

TEST(cgroup_apply_unified_hostile_keys)
{
	check_unified_refused("../x", "linux.resources.unified: `../x` is not a file name");
	check_unified_refused("a/b", "is not a file name");
	check_unified_refused("/etc/passwd", "is not a file name");
	check_unified_refused("", "is not a file name");
	check_unified_refused(".hidden", "is not a file name");
	check_unified_refused("memory.max\n", "is not a file name");
	check_unified_refused("memory max", "is not a file name");
	check_unified_refused("memory", "is not of the form CONTROLLER.PARAMETER");
	check_unified_refused("memory.", "is not of the form CONTROLLER.PARAMETER");
	check_unified_refused("cgroup.procs", "`cgroup.procs` is managed by mvrun");
	check_unified_refused("cgroup.threads", "is managed by mvrun");
	check_unified_refused("cgroup.kill", "is managed by mvrun");
	check_unified_refused("cgroup.subtree_control", "is managed by mvrun");
	check_unified_refused("cgroup.freeze", "is managed by mvrun");
	check_unified_refused("cgroup.type", "is managed by mvrun");
	check_unified_refused("memory.nonexistent",
			      "linux.resources.unified: cgroup `a/b` has no `memory.nonexistent`");
	check_unified_refused("hugetlb.2MB.max",
			      "the `hugetlb` controller is not available in cgroup `/`");
}

TEST(cgroup_apply_unified_allowed)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "cpu memory");
	char *keys[] = {"cgroup.max.depth", "cpu.max"}, *values[] = {"3", "max 20000"};
	struct oci_resources r = {QUOTA(1000), .unified = {.keys = keys, .values = values, .n = 2}};
	mv_error_t err = {0};

	CHECK_INT(cgroup_apply(&f.root, "a/b", &r, 512, &err), ==, 0);
	CHECK_FILE(leaf, "cgroup.max.depth", "3");
	/* unified goes last: it wins */
	CHECK_FILE(leaf, "cpu.max", "max 20000");
	remove_tree(f.dir);
}

/* ---- remove ---- */

TEST(cgroup_remove_empty_and_again)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "memory");
	cleanup_free char *a = unit_fmt("%s/a", f.dir);
	mv_error_t err = {0};

	free(fake_cgroup(&f, "a/b/child", "memory"));
	free(fake_cgroup(&f, "a/b/child/grandchild", "memory"));
	if (cgroup_remove(&f.root, "a/b", &err) < 0)
		unit_fail(__FILE__, __LINE__, "%s", err.msg);
	CHECK(!exists(a, "b"));
	/* the parent stays: it may hold other containers */
	CHECK(exists(f.dir, "a/cgroup.procs"));
	CHECK_INT(cgroup_remove(&f.root, "a/b", &err), ==, 0);
	CHECK_INT(cgroup_remove(&f.root, "no/such/thing", &err), ==, 0);
	CHECK_INT(cgroup_remove(&f.root, "../a", &err), ==, -1);
	CHECK_INT(cgroup_remove(&f.root, "", &err), ==, -1);
	CHECK(exists(f.dir, "cgroup.procs"));
	mv_error_release(&err);
	remove_tree(f.dir);
}

static pid_t sleeper(void)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

TEST(cgroup_remove_kills_each_process)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "memory");
	cleanup_free char *digits = NULL;
	pid_t child = sleeper();
	mv_error_t err = {0};
	int status;

	digits = unit_fmt("%d\n", (int)child);
	put(leaf, "cgroup.procs", digits);
	/* no cgroup.kill (before 5.14): SIGKILL to each; a fake cgroup.procs
	 * never empties, so remove gives up after a second */
	CHECK_INT(cgroup_remove(&f.root, "a/b", &err), ==, -1);
	CHECK(strstr(err.msg, "cgroup `a/b` still holds 1 processes") != NULL);
	CHECK_INT(waitpid(child, &status, 0), ==, child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	mv_error_release(&err);
	remove_tree(f.dir);
}

TEST(cgroup_remove_uses_cgroup_kill)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "memory");
	cleanup_free char *digits = NULL;
	pid_t child = sleeper();
	mv_error_t err = {0};
	int status;

	digits = unit_fmt("%d\n", (int)child);
	put(leaf, "cgroup.procs", digits);
	put(leaf, "cgroup.kill", "");
	CHECK_INT(cgroup_remove(&f.root, "a/b", &err), ==, -1);
	CHECK_FILE(leaf, "cgroup.kill", "1");
	/* the kernel does the killing: the fake one did not */
	CHECK_INT(kill(child, 0), ==, 0);
	kill(child, SIGKILL);
	CHECK_INT(waitpid(child, &status, 0), ==, child);
	mv_error_release(&err);
	remove_tree(f.dir);
}

TEST(cgroup_remove_refuses_to_kill_itself)
{
	struct fake f;
	cleanup_free char *leaf = fake_tree(&f, "memory");
	cleanup_free char *digits = unit_fmt("1\n%d\n", (int)getpid());
	mv_error_t err = {0};

	put(leaf, "cgroup.procs", digits);
	put(leaf, "cgroup.kill", "");
	CHECK_INT(cgroup_remove(&f.root, "a/b", &err), ==, -1);
	CHECK(strstr(err.msg, "cgroup `a/b` holds this process") != NULL);
	CHECK_FILE(leaf, "cgroup.kill", "");
	put(leaf, "cgroup.procs", "12x\n");
	CHECK_INT(cgroup_remove(&f.root, "a/b", &err), ==, -1);
	CHECK(strstr(err.msg, "unexpected content in `cgroup.procs`") != NULL);
	mv_error_release(&err);
	remove_tree(f.dir);
}

TEST(cgroup_available_fake_and_missing)
{
	struct cgroup_root missing = {.mount = "/nonexistent/mvrun", .fake = true};
	struct cgroup_root tmp = {.mount = "/tmp", .fake = false};

	CHECK(!cgroup_available(&missing));
	/* /tmp is a directory but not cgroup2 */
	CHECK(!cgroup_available(&tmp));
}

/* ---- the real thing, where there is one ---- */

static bool in_cgroup(pid_t pid, const char *rel)
{
	cleanup_free char *proc = unit_fmt("/proc/%d", (int)pid);
	cleanup_free char *content = get(proc, "cgroup");
	cleanup_free char *want = unit_fmt("0::/%s\n", rel);

	return strstr(content, want) != NULL;
}

TEST(cgroup_real_enter_and_remove)
{
	struct cgroup_root root = {.mount = CGROUP_DEFAULT_MOUNT};
	cleanup_free char *rel = unit_fmt("mvrun-test-%d", (int)getpid());
	cleanup_free char *dir = unit_fmt("%s/%s", CGROUP_DEFAULT_MOUNT, rel);
	struct oci_resources r = {PIDS(10)};
	mv_error_t err = {0};
	pid_t child;
	int status;

	if (!cgroup_available(&root) || access(CGROUP_DEFAULT_MOUNT, W_OK) != 0) {
		printf("# skip: %s is not a writable cgroup2\n", CGROUP_DEFAULT_MOUNT);
		return;
	}
	child = sleeper();
	if (cgroup_enter(&root, rel, child, &err) < 0)
		unit_fail(__FILE__, __LINE__, "%s", err.msg);
	CHECK(in_cgroup(child, rel));
	if (cgroup_apply(&root, rel, &r, 512, &err) < 0)
		printf("# pids.max not written: %s\n", err.msg);
	else
		CHECK_FILE(dir, "pids.max", "138");
	if (cgroup_remove(&root, rel, &err) < 0)
		unit_fail(__FILE__, __LINE__, "%s", err.msg);
	CHECK_INT(waitpid(child, &status, 0), ==, child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(!exists(CGROUP_DEFAULT_MOUNT, rel));
	mv_error_release(&err);
}
