/* runtime/resources.c: linux.resources to a microVM's size, as a table of
 * cases against a fixed host, and which updates a running VM refuses. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/resources.h"
#include "tests/unit/unit.h"

#define MIB (1024LL * 1024)
#define GIB (1024 * MIB)

static const struct vm_host host8 = {.cpus = 8, .memory_mib = 16384};

#define MEM(v)	  .has_memory_limit = true, .memory_limit = (v)
#define QUOTA(q)  .has_cpu_quota = true, .cpu_quota = (q)
#define PERIOD(p) .has_cpu_period = true, .cpu_period = (p)
#define CPUS(s)	  .cpu_cpus = (char *)(s)

struct size_case {
	const char *name;
	struct oci_resources res;
	unsigned cpus;
	uint64_t mib;
	const char *error; /* NULL: success; else a part of the message */
};

static const struct size_case size_cases[] = {
    {"nothing", {0}, 1, 512, NULL},
    {"pids only", {.has_pids_limit = true, .pids_limit = 10}, 1, 512, NULL},
    {"1 GiB", {MEM(GIB)}, 1, 1024, NULL},
    {"1 GiB and a byte", {MEM(GIB + 1)}, 1, 1025, NULL},
    {"unlimited", {MEM(-1)}, 1, 512, NULL},
    {"zero is unset", {MEM(0)}, 1, 512, NULL},
    {"exactly the minimum", {MEM(64 * MIB)}, 1, 64, NULL},
    {"a byte below the minimum",
     {MEM(64 * MIB - 1)},
     0,
     0,
     "memory limit of 67108863 bytes is too small for a microVM: at least 64 MiB"},
    {"one byte", {MEM(1)}, 0, 0, "memory limit of 1 bytes is too small"},
    {"the host's all", {MEM(16 * GIB)}, 1, 16384, NULL},
    {"more than the host", {MEM(16 * GIB + 1)}, 0, 0, "is more than this host's 16384 MiB"},
    {"int64 max", {MEM(INT64_MAX)}, 0, 0, "is more than this host's"},
    {"negative", {MEM(-2)}, 0, 0, "linux.resources.memory.limit: -2 is not a limit"},
    {"int64 min", {MEM(INT64_MIN)}, 0, 0, "linux.resources.memory.limit"},
    {"1.5 cpus", {QUOTA(150000), PERIOD(100000)}, 2, 512, NULL},
    {"2 cpus", {QUOTA(200000), PERIOD(100000)}, 2, 512, NULL},
    {"half a cpu", {QUOTA(50000), PERIOD(100000)}, 1, 512, NULL},
    {"quota without period", {QUOTA(300000)}, 3, 512, NULL},
    {"quota with period 0", {QUOTA(300000), PERIOD(0)}, 3, 512, NULL},
    {"other period", {QUOTA(100000), PERIOD(25000)}, 4, 512, NULL},
    {"quota unlimited", {QUOTA(-1), PERIOD(100000)}, 1, 512, NULL},
    {"quota negative", {QUOTA(-5)}, 0, 0, "linux.resources.cpu.quota: -5 is not a quota"},
    {"period alone", {PERIOD(50000)}, 1, 512, NULL},
    {"more than the host's cpus", {QUOTA(100000000), PERIOD(100000)}, 8, 512, NULL},
    {"huge quota, tiny period", {QUOTA(INT64_MAX), PERIOD(1)}, 8, 512, NULL},
    {"huge quota, huge period", {QUOTA(INT64_MAX), PERIOD(UINT64_MAX)}, 1, 512, NULL},
    {"cpuset", {CPUS("0-3,7")}, 5, 512, NULL},
    {"cpuset one", {CPUS("5")}, 1, 512, NULL},
    {"cpuset overlapping", {CPUS("0-3,2,3-4")}, 5, 512, NULL},
    {"cpuset beyond the host", {CPUS("0-31")}, 8, 512, NULL},
    {"cpuset highest", {CPUS("8191")}, 1, 512, NULL},
    {"cpuset empty is unset", {CPUS("")}, 1, 512, NULL},
    {"quota smaller than cpuset", {QUOTA(100000), CPUS("0-7")}, 1, 512, NULL},
    {"cpuset smaller than quota", {QUOTA(600000), CPUS("0-1")}, 2, 512, NULL},
    {"both", {MEM(2 * GIB), QUOTA(400000), PERIOD(100000)}, 4, 2048, NULL},
    {"cpuset letters", {CPUS("a")}, 0, 0, "linux.resources.cpu.cpus: `a` is not a CPU list"},
    {"cpuset open range", {CPUS("0-")}, 0, 0, "linux.resources.cpu.cpus"},
    {"cpuset negative", {CPUS("-1")}, 0, 0, "linux.resources.cpu.cpus"},
    {"cpuset reversed", {CPUS("3-1")}, 0, 0, "linux.resources.cpu.cpus"},
    {"cpuset empty item", {CPUS("1,,2")}, 0, 0, "linux.resources.cpu.cpus"},
    {"cpuset trailing comma", {CPUS("1,")}, 0, 0, "linux.resources.cpu.cpus"},
    {"cpuset leading space", {CPUS(" 1")}, 0, 0, "linux.resources.cpu.cpus"},
    {"cpuset trailing newline", {CPUS("1\n")}, 0, 0, "`1?` is not a CPU list"},
    {"cpuset stride", {CPUS("0-7:2")}, 0, 0, "linux.resources.cpu.cpus"},
    {"cpuset too high", {CPUS("8192")}, 0, 0, "names a CPU beyond 8191"},
    {"cpuset overflowing", {CPUS("99999999999999999999")}, 0, 0, "names a CPU beyond"},
    {"cpuset double dash", {CPUS("1--2")}, 0, 0, "linux.resources.cpu.cpus"},
};

static void check_case(const struct size_case *c, const struct vm_host *host)
{
	struct vm_size size = {99, 99};
	mv_error_t err = {0};
	int ret = resources_vm_size_on(&c->res, host, &size, &err);

	if (c->error == NULL && ret != 0)
		unit_fail(__FILE__, __LINE__, "%s: failed: %s", c->name, err.msg);
	if (c->error && (ret != -1 || err.err != EINVAL || strstr(err.msg, c->error) == NULL))
		unit_fail(__FILE__, __LINE__, "%s: ret %d, message `%s`, expected `%s`", c->name,
			  ret, err.msg ? err.msg : "(null)", c->error);
	if (c->error == NULL && (size.cpus != c->cpus || size.memory_mib != c->mib))
		unit_fail(__FILE__, __LINE__, "%s: %u cpus %llu MiB, expected %u and %llu", c->name,
			  size.cpus, (unsigned long long)size.memory_mib, c->cpus,
			  (unsigned long long)c->mib);
	if (err.msg)
		for (const char *p = err.msg; *p; p++)
			CHECK((unsigned char)*p >= 0x20);
	mv_error_release(&err);
}

TEST(resources_size_table)
{
	for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++)
		check_case(&size_cases[i], &host8);
}

TEST(resources_caps)
{
	const struct vm_host big = {.cpus = 256, .memory_mib = 1 << 20};
	const struct vm_host one = {.cpus = 1, .memory_mib = 1024};
	const struct size_case at_64 = {"vmm cap", {QUOTA(100 * 100000)}, 64, 512, NULL};
	const struct size_case cpuset_64 = {"vmm cap", {CPUS("0-199")}, 64, 512, NULL};
	const struct size_case at_1 = {"one cpu host", {QUOTA(400000), CPUS("0-3")}, 1, 512, NULL};
	const struct size_case small = {"small host", {MEM(2 * GIB)}, 0, 0, "this host's 1024 MiB"};

	check_case(&at_64, &big);
	check_case(&cpuset_64, &big);
	check_case(&at_1, &one);
	check_case(&small, &one);
}

TEST(resources_null_and_this_host)
{
	struct vm_size size = {0, 0};
	struct vm_host host;
	mv_error_t err = {0};

	CHECK_INT(resources_vm_size_on(NULL, &host8, &size, &err), ==, 0);
	CHECK_INT(size.cpus, ==, RESOURCES_DEFAULT_CPUS);
	CHECK_INT(size.memory_mib, ==, RESOURCES_DEFAULT_MEMORY_MIB);
	resources_host(&host);
	CHECK_INT(host.cpus, >=, 1);
	CHECK_INT(host.memory_mib, >=, 64);
	CHECK_INT(resources_vm_size(NULL, &size, &err), ==, 0);
	CHECK_INT(size.cpus, ==, 1);
	CHECK_INT(size.memory_mib, ==, 512);
}

struct update_case {
	const char *name;
	struct oci_resources old, new_;
	const char *error;
};

static const struct update_case update_cases[] = {
    {"same memory", {MEM(GIB)}, {MEM(GIB)}, NULL},
    {"memory kept (0)", {MEM(GIB)}, {MEM(0)}, NULL},
    {"more memory",
     {MEM(GIB)},
     {MEM(2 * GIB)},
     "cannot change linux.resources.memory.limit of a running microVM"},
    {"a byte more", {MEM(GIB)}, {MEM(GIB + 1)}, "linux.resources.memory.limit"},
    {"limit where there was none", {0}, {MEM(GIB)}, "linux.resources.memory.limit"},
    {"unlimited where there was none", {0}, {MEM(-1)}, NULL},
    {"pids", {MEM(GIB)}, {.has_pids_limit = true, .pids_limit = 100}, NULL},
    {"cpus where there were none",
     {0},
     {QUOTA(200000), PERIOD(100000)},
     "cannot change linux.resources.cpu.quota of a running microVM"},
    {"same cpus, other period",
     {QUOTA(200000), PERIOD(100000)},
     {QUOTA(400000), PERIOD(200000)},
     NULL},
    {"period doubles the cpus",
     {QUOTA(200000), PERIOD(100000)},
     {PERIOD(50000)},
     "linux.resources.cpu.period"},
    {"same cpuset size", {CPUS("0-1")}, {CPUS("2-3")}, NULL},
    {"bigger cpuset", {CPUS("0-1")}, {CPUS("0-3")}, "linux.resources.cpu.cpus"},
    {"cpuset kept (empty)", {CPUS("0-1")}, {CPUS("")}, NULL},
    {"bad cpuset", {0}, {CPUS("x")}, "linux.resources.cpu.cpus: `x`"},
    {"memory first", {0}, {MEM(GIB), QUOTA(400000)}, "linux.resources.memory.limit"},
};

TEST(resources_update_table)
{
	for (size_t i = 0; i < sizeof(update_cases) / sizeof(update_cases[0]); i++) {
		const struct update_case *c = &update_cases[i];
		mv_error_t err = {0};
		int ret = resources_check_update_on(&c->old, &c->new_, &host8, &err);

		if (c->error == NULL && ret != 0)
			unit_fail(__FILE__, __LINE__, "%s: refused: %s", c->name, err.msg);
		if (c->error && (ret != -1 || strstr(err.msg, c->error) == NULL))
			unit_fail(__FILE__, __LINE__, "%s: ret %d, message `%s`, expected `%s`",
				  c->name, ret, err.msg ? err.msg : "(null)", c->error);
		mv_error_release(&err);
	}
}

TEST(resources_update_with_nulls)
{
	const struct oci_resources mem = {MEM(GIB)};
	mv_error_t err = {0};

	CHECK_INT(resources_check_update(NULL, NULL, &err), ==, 0);
	CHECK_INT(resources_check_update(&mem, NULL, &err), ==, 0);
	CHECK_INT(resources_check_update_on(NULL, &mem, &host8, &err), ==, -1);
	CHECK(strstr(err.msg, "memory.limit") != NULL);
	mv_error_release(&err);
}
