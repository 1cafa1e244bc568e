#include "runtime/resources.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024ULL * 1024)
/* Highest CPU number a cpuset may name plus one: the kernel's NR_CPUS
 * limit. */
#define CPUSET_MAX 8192
/* How much of a bad value an error quotes. */
#define QUOTE_MAX 64

void resources_host(struct vm_host *host)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);

	host->cpus = cpus > 0 ? (unsigned)cpus : 1;
	host->memory_mib =
	    pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size / MIB : UINT64_MAX;
}

/* ---- memory ---- */

static int memory_mib(const struct oci_resources *res, const struct vm_host *host, uint64_t *mib,
		      mv_error_t *err)
{
	int64_t limit = res && res->has_memory_limit ? res->memory_limit : 0;

	*mib = RESOURCES_DEFAULT_MEMORY_MIB;
	/* -1 is "unlimited"; runc reads 0 as "not set" */
	if (limit == 0 || limit == -1)
		return 0;
	if (limit < 0)
		return mv_error(err, EINVAL,
				"linux.resources.memory.limit: %" PRId64
				" is not a limit (-1 means unlimited)",
				limit);
	if ((uint64_t)limit < RESOURCES_MIN_MEMORY_MIB * MIB)
		return mv_error(err, EINVAL,
				"memory limit of %" PRId64
				" bytes is too small for a microVM: at least %d MiB",
				limit, RESOURCES_MIN_MEMORY_MIB);
	*mib = (uint64_t)limit / MIB + ((uint64_t)limit % MIB != 0);
	if (*mib > host->memory_mib)
		return mv_error(err, EINVAL,
				"memory limit of %" PRId64
				" bytes is more than this host's %" PRIu64 " MiB",
				limit, host->memory_mib);
	return 0;
}

/* ---- vCPUs ---- */

static int bad_cpuset(const char *s, const char *why, mv_error_t *err)
{
	char q[QUOTE_MAX];

	mv_error_quote(s, q, sizeof(q));
	return mv_error(err, EINVAL, "linux.resources.cpu.cpus: `%s` %s", q, why);
}

/* A CPU number: digits only, below CPUSET_MAX. */
static int cpu_number(const char **p, unsigned *n)
{
	unsigned v = 0;

	if (**p < '0' || **p > '9')
		return -1;
	for (; **p >= '0' && **p <= '9'; (*p)++) {
		v = v * 10 + (unsigned)(**p - '0');
		if (v >= CPUSET_MAX)
			return -2;
	}
	*n = v;
	return 0;
}

/* The count of distinct CPUs in a list such as "0-3,7" (the kernel's
 * format without its ":stride" form, which nobody sends). */
static int cpuset_count(const char *s, unsigned *count, mv_error_t *err)
{
	uint8_t seen[CPUSET_MAX / 8] = {0};
	const char *p = s;

	*count = 0;
	for (;;) {
		unsigned first, last;
		int ret = cpu_number(&p, &first);

		last = first;
		if (ret == 0 && *p == '-') {
			p++;
			ret = cpu_number(&p, &last);
		}
		if (ret == -2)
			return bad_cpuset(s, "names a CPU beyond 8191", err);
		if (ret < 0 || last < first)
			return bad_cpuset(s, "is not a CPU list such as `0-3,7`", err);
		for (unsigned c = first; c <= last; c++) {
			*count += !(seen[c / 8] & (1u << (c % 8)));
			seen[c / 8] |= (uint8_t)(1u << (c % 8));
		}
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return bad_cpuset(s, "is not a CPU list such as `0-3,7`", err);
	}
}

/* ceil(quota / period), or 0 when no quota is set. */
static int quota_cpus(const struct oci_resources *res, uint64_t *cpus, mv_error_t *err)
{
	int64_t quota = res->has_cpu_quota ? res->cpu_quota : 0;
	uint64_t period = res->has_cpu_period && res->cpu_period > 0 ? res->cpu_period
								     : RESOURCES_DEFAULT_CPU_PERIOD;

	*cpus = 0;
	if (quota == 0 || quota == -1)
		return 0;
	if (quota < 0)
		return mv_error(err, EINVAL,
				"linux.resources.cpu.quota: %" PRId64
				" is not a quota (-1 means unlimited)",
				quota);
	*cpus = (uint64_t)quota / period + ((uint64_t)quota % period != 0);
	return 0;
}

static int vcpus(const struct oci_resources *res, const struct vm_host *host, unsigned *out,
		 mv_error_t *err)
{
	uint64_t n = 0;
	unsigned in_set;

	if (res && quota_cpus(res, &n, err) < 0)
		return -1;
	if (res && res->cpu_cpus && res->cpu_cpus[0]) {
		if (cpuset_count(res->cpu_cpus, &in_set, err) < 0)
			return -1;
		if (n == 0 || in_set < n)
			n = in_set;
	}
	if (n == 0)
		n = RESOURCES_DEFAULT_CPUS;
	if (n > host->cpus)
		n = host->cpus;
	if (n > RESOURCES_MAX_CPUS)
		n = RESOURCES_MAX_CPUS;
	*out = n > 0 ? (unsigned)n : 1;
	return 0;
}

int resources_vm_size_on(const struct oci_resources *res, const struct vm_host *host,
			 struct vm_size *out, mv_error_t *err)
{
	if (memory_mib(res, host, &out->memory_mib, err) < 0)
		return -1;
	return vcpus(res, host, &out->cpus, err);
}

int resources_vm_size(const struct oci_resources *res, struct vm_size *out, mv_error_t *err)
{
	struct vm_host host;

	resources_host(&host);
	return resources_vm_size_on(res, &host, out, err);
}

/* ---- updates ---- */

/* old with the fields new_ gives; an update's 0 or "" means "keep", as
 * `runc update` reads them. */
static struct oci_resources merge(const struct oci_resources *old, const struct oci_resources *new_)
{
	struct oci_resources m = *old;

	if (new_->has_memory_limit && new_->memory_limit != 0) {
		m.has_memory_limit = true;
		m.memory_limit = new_->memory_limit;
	}
	if (new_->has_cpu_quota && new_->cpu_quota != 0) {
		m.has_cpu_quota = true;
		m.cpu_quota = new_->cpu_quota;
	}
	if (new_->has_cpu_period && new_->cpu_period != 0) {
		m.has_cpu_period = true;
		m.cpu_period = new_->cpu_period;
	}
	if (new_->cpu_cpus && new_->cpu_cpus[0])
		m.cpu_cpus = new_->cpu_cpus;
	return m;
}

/* The first vCPU field that the merge changed. */
static const char *changed_cpu_field(const struct oci_resources *old, const struct oci_resources *m)
{
	if (m->has_cpu_quota != old->has_cpu_quota || m->cpu_quota != old->cpu_quota)
		return "cpu.quota";
	if (m->has_cpu_period != old->has_cpu_period || m->cpu_period != old->cpu_period)
		return "cpu.period";
	return "cpu.cpus";
}

int resources_check_update_on(const struct oci_resources *old, const struct oci_resources *new_,
			      const struct vm_host *host, mv_error_t *err)
{
	static const struct oci_resources none;
	struct vm_size before, after;
	struct oci_resources m;

	if (new_ == NULL)
		return 0;
	if (old == NULL)
		old = &none;
	m = merge(old, new_);
	if (resources_vm_size_on(old, host, &before, err) < 0 ||
	    resources_vm_size_on(&m, host, &after, err) < 0)
		return -1;
	if (after.memory_mib != before.memory_mib)
		return mv_error(err, EINVAL,
				"cannot change linux.resources.memory.limit of a running microVM");
	if (after.cpus != before.cpus)
		return mv_error(err, EINVAL,
				"cannot change linux.resources.%s of a running microVM",
				changed_cpu_field(old, &m));
	return 0;
}

int resources_check_update(const struct oci_resources *old, const struct oci_resources *new_,
			   mv_error_t *err)
{
	struct vm_host host;

	resources_host(&host);
	return resources_check_update_on(old, new_, &host, err);
}
