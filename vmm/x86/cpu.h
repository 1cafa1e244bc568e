/* vCPU state at power-on: CPUID that tells the guest the truth about its
 * topology (N CPUs, one thread each, in one package) and that it runs under
 * a hypervisor; the boot MSRs; LAPIC LINT0/LINT1; and for the boot CPU the
 * long-mode registers the 64-bit boot protocol expects. */
#ifndef MV_X86_CPU_H
#define MV_X86_CPU_H

#include <linux/kvm.h>

#include "runtime/error.h"
#include "vmm/x86/boot.h"

/* What KVM supports here; free() the result. */
struct kvm_cpuid2 *x86_cpuid_supported(int kvm_fd, mv_error_t *err);

/* Patch a copy of the supported CPUID for vCPU `index` of `ncpus`
 * (exposed for unit tests). */
void x86_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned index, unsigned ncpus);

/* Everything a vCPU needs before its first KVM_RUN; boot is NULL for the
 * application processors, which wait for the boot CPU's INIT/SIPI. */
int x86_vcpu_setup(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned index, unsigned ncpus,
		   const struct boot_info *boot, mv_error_t *err);

#endif
