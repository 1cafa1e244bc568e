/* Linux x86 64-bit boot protocol, without firmware: the kernel (a bzImage,
 * what distributions ship, or an ELF vmlinux) and the initrd are loaded into
 * guest memory, the zero page (boot_params) gets the e820 map, the command
 * line, the initrd and the RSDP address, and the identity page tables and
 * GDT for a vCPU that starts in long mode are written. */
#ifndef MV_X86_BOOT_H
#define MV_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/error.h"
#include "vmm/memory.h"

struct boot_spec {
	const char *kernel;  /* path: bzImage or ELF vmlinux */
	const char *initrd;  /* path or NULL */
	const char *cmdline; /* complete command line */
	uint64_t rsdp;	     /* guest address of the ACPI RSDP, 0 for none */
};

struct boot_info {
	uint64_t entry;	    /* 64-bit entry point */
	uint64_t zero_page; /* %rsi at entry */
};

int x86_boot_load(const struct guest_mem *mem, const struct boot_spec *spec, struct boot_info *out,
		  mv_error_t *err);

/* Parse a kernel image already in memory (exposed for unit tests). */
int x86_boot_load_image(const struct guest_mem *mem, const uint8_t *img, size_t size,
			const char *name, uint64_t *entry, uint64_t *kernel_end, mv_error_t *err);

#endif
