/* linux.resources mapped onto the microVM: its memory and vCPU count are
 * the container's limits (podman's --memory and --cpus arrive as
 * memory.limit and cpu.quota/cpu.period), fixed when it boots. */
#ifndef MV_RESOURCES_H
#define MV_RESOURCES_H

#include <stdint.h>

#include "oci/config.h"
#include "runtime/error.h"

/* The size of a microVM whose config sets no limit: small, because most
 * containers are, and the guest kernel plus agent need about 40 MiB. */
#define RESOURCES_DEFAULT_CPUS	     1
#define RESOURCES_DEFAULT_MEMORY_MIB 512
/* Below this the guest kernel does not boot reliably. */
#define RESOURCES_MIN_MEMORY_MIB 64
/* The VMM's limit on vCPUs. */
#define RESOURCES_MAX_CPUS 64
/* The kernel's default CFS period, for a quota given without one. */
#define RESOURCES_DEFAULT_CPU_PERIOD 100000

struct vm_size {
	unsigned cpus;
	uint64_t memory_mib;
};

/* What the host has, for the caps. */
struct vm_host {
	unsigned cpus;	     /* online CPUs */
	uint64_t memory_mib; /* physical memory */
};

/* The VM's size from res (NULL: nothing given):
 * - memory.limit in bytes is the guest's RAM, rounded up to MiB, no
 *   overhead added; -1 (unlimited) or 0 (unset, as runc reads it): the
 *   default; less than RESOURCES_MIN_MEMORY_MIB or more than the host has: EINVAL.
 * - cpu.quota > 0: ceil(quota / period) vCPUs (period 0 or unset: 100000);
 *   cpu.cpus (a cpuset, "0-3,7"): its CPU count; both: the smaller; then
 *   capped at the host's online CPUs and RESOURCES_MAX_CPUS; at least 1.
 * Errors name the field: "linux.resources.cpu.cpus: ...". */
int resources_vm_size(const struct oci_resources *res, struct vm_size *out, mv_error_t *err);

/* The same against a given host (for tests). */
int resources_vm_size_on(const struct oci_resources *res, const struct vm_host *host,
			 struct vm_size *out, mv_error_t *err);

/* An update (`mvrun update`) of a running VM's resources: new_ holds the
 * fields to change, those not given keep their old value.  The VM's size is
 * fixed at boot, so a change of it is refused naming the first field that
 * would change it: "cannot change linux.resources.memory.limit of a running
 * microVM"; a field that gives the same size again is accepted.  Limits the
 * guest can apply (pids.limit...) are accepted: 0, and the caller applies
 * them.  old may be NULL (none were given at create). */
int resources_check_update(const struct oci_resources *old, const struct oci_resources *new_,
			   mv_error_t *err);
int resources_check_update_on(const struct oci_resources *old, const struct oci_resources *new_,
			      const struct vm_host *host, mv_error_t *err);

/* This host's online CPUs and physical memory. */
void resources_host(struct vm_host *host);

#endif
