#include "vmm/x86/cpu.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "runtime/cleanup.h"
#include "vmm/layout.h"

#define CPUID_MAX_ENTRIES 256
#define CPUID_HYPERVISOR  (1u << 31) /* leaf 1 ecx */
#define CPUID_HTT	  (1u << 28) /* leaf 1 edx */

#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_TSC		0x10
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE_WRITEBACK	((1ULL << 11) | 6) /* MTRRs on, default type WB */

#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_MODE_NMI	 4
#define APIC_MODE_EXTINT 7

#define X86_CR0_PE  0x1ULL
#define X86_CR0_ET  0x10ULL
#define X86_CR0_NE  0x20ULL
#define X86_CR0_PG  0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define EFER_LME    0x100ULL
#define EFER_LMA    0x400ULL
#define BOOT_CS	    0x10
#define BOOT_DS	    0x18
#define BOOT_TSS    0x20

struct kvm_cpuid2 *x86_cpuid_supported(int kvm_fd, mv_error_t *err)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (c == NULL) {
		mv_error(err, ENOMEM, "KVM_GET_SUPPORTED_CPUID");
		return NULL;
	}
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		mv_error(err, errno, "KVM_GET_SUPPORTED_CPUID");
		free(c);
		return NULL;
	}
	return c;
}

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* Leaves 0xb and 0x1f: level 0 is SMT (one thread per core), level 1 the
 * cores of the one package. */
static void patch_topology_leaf(struct kvm_cpuid_entry2 *e, unsigned index, unsigned ncpus)
{
	e->edx = index;
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1u << 8) | 0;
		break;
	case 1:
		e->eax = bits_for(ncpus);
		e->ebx = ncpus;
		e->ecx = (2u << 8) | 1;
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void patch_entry(struct kvm_cpuid_entry2 *e, unsigned index, unsigned ncpus)
{
	switch (e->function) {
	case 0x1:
		e->ebx = (e->ebx & 0xffff) | (index << 24) | ((ncpus & 0xff) << 16);
		e->ecx |= CPUID_HYPERVISOR;
		if (ncpus > 1)
			e->edx |= CPUID_HTT;
		else
			e->edx &= ~CPUID_HTT;
		break;
	case 0x4: /* Intel caches: cores per package; L3 shared by all */
		e->eax &= 0x3ff;
		e->eax |= (ncpus - 1) << 26;
		if (((e->eax >> 5) & 7) >= 3)
			e->eax |= (ncpus - 1) << 14;
		break;
	case 0xb:
	case 0x1f:
		patch_topology_leaf(e, index, ncpus);
		break;
	case 0x80000008: /* AMD: number of cores - 1 */
		e->ecx = (e->ecx & ~0xf0ffu) | ((ncpus - 1) & 0xff);
		break;
	case 0x8000001e: /* AMD topology extensions: one thread per core */
		e->eax = index;
		e->ebx = index & 0xff;
		e->ecx = 0;
		break;
	}
}

void x86_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned index, unsigned ncpus)
{
	for (unsigned i = 0; i < cpuid->nent; i++)
		patch_entry(&cpuid->entries[i], index, ncpus);
}

static int set_cpuid(int fd, const struct kvm_cpuid2 *supported, unsigned index, unsigned ncpus,
		     mv_error_t *err)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	cleanup_free struct kvm_cpuid2 *c = malloc(size);

	if (c == NULL)
		return mv_error(err, ENOMEM, "vCPU %u CPUID", index);
	memcpy(c, supported, size);
	x86_cpuid_patch(c, index, ncpus);
	if (ioctl(fd, KVM_SET_CPUID2, c) < 0)
		return mv_error(err, errno, "KVM_SET_CPUID2 on vCPU %u", index);
	return 0;
}

static int set_msrs(int fd, unsigned index, mv_error_t *err)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
	    {MSR_IA32_SYSENTER_CS, 0},
	    {MSR_IA32_SYSENTER_ESP, 0},
	    {MSR_IA32_SYSENTER_EIP, 0},
	    {MSR_STAR, 0},
	    {MSR_CSTAR, 0},
	    {MSR_KERNEL_GS_BASE, 0},
	    {MSR_SYSCALL_MASK, 0},
	    {MSR_LSTAR, 0},
	    {MSR_IA32_TSC, 0},
	    {MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
	    {MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WRITEBACK},
	};
	const unsigned n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[sizeof(boot_msrs) / sizeof(boot_msrs[0])];
	} msrs;
	int ret;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs.e[i].index = boot_msrs[i].index;
		msrs.e[i].data = boot_msrs[i].data;
	}
	ret = ioctl(fd, KVM_SET_MSRS, &msrs);
	if (ret < 0)
		return mv_error(err, errno, "KVM_SET_MSRS on vCPU %u", index);
	if ((unsigned)ret != n)
		return mv_error(err, 0, "KVM_SET_MSRS on vCPU %u: MSR %#x refused", index,
				boot_msrs[ret].index);
	return 0;
}

/* LINT0 delivers the 8259's ExtINT, LINT1 NMIs, as on a PC. */
static int set_lapic(int fd, unsigned index, mv_error_t *err)
{
	struct kvm_lapic_state lapic;
	uint32_t v;

	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return mv_error(err, errno, "KVM_GET_LAPIC on vCPU %u", index);
	memcpy(&v, &lapic.regs[APIC_LVT_LINT0], 4);
	v = (v & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(&lapic.regs[APIC_LVT_LINT0], &v, 4);
	memcpy(&v, &lapic.regs[APIC_LVT_LINT1], 4);
	v = (v & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&lapic.regs[APIC_LVT_LINT1], &v, 4);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
		return mv_error(err, errno, "KVM_SET_LAPIC on vCPU %u", index);
	return 0;
}

static int set_fpu(int fd, unsigned index, mv_error_t *err)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return mv_error(err, errno, "KVM_SET_FPU on vCPU %u", index);
	return 0;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code)
{
	struct kvm_segment s = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = selector,
	    .type = type,
	    .present = 1,
	    .s = 1,
	    .l = code,
	    .db = !code,
	    .g = 1,
	};
	return s;
}

/* Long mode with the identity page tables and GDT from x86_boot_load. */
static int set_long_mode(int fd, const struct boot_info *boot, mv_error_t *err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment data = flat_segment(BOOT_DS, 0x3, false);

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return mv_error(err, errno, "KVM_GET_SREGS");
	sregs.gdt.base = MV_GDT_ADDR;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = flat_segment(BOOT_CS, 0xb, true);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = flat_segment(BOOT_TSS, 0xb, false);
	sregs.tr.s = 0;
	sregs.tr.limit = 0xfffff;
	sregs.tr.g = 0;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
	sregs.cr3 = MV_PML4_ADDR;
	sregs.cr4 = X86_CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return mv_error(err, errno, "KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = boot->entry;
	regs.rsi = boot->zero_page;
	regs.rsp = regs.rbp = MV_BOOT_STACK;
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return mv_error(err, errno, "KVM_SET_REGS");
	return 0;
}

int x86_vcpu_setup(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned index, unsigned ncpus,
		   const struct boot_info *boot, mv_error_t *err)
{
	if (set_cpuid(vcpu_fd, supported, index, ncpus, err) < 0 ||
	    set_msrs(vcpu_fd, index, err) < 0 || set_lapic(vcpu_fd, index, err) < 0 ||
	    set_fpu(vcpu_fd, index, err) < 0)
		return -1;
	if (boot && set_long_mode(vcpu_fd, boot, err) < 0)
		return mv_error_wrap(err, "boot vCPU");
	return 0;
}
