/* ACPI tables for the microVM: how the guest kernel learns its CPUs, its
 * interrupt controllers, its virtio-mmio devices and how to power off.
 *
 * The platform is ACPI "hardware reduced" (no PM1 blocks, no SCI, no GPEs):
 * RSDP (revision 2) -> XSDT -> FADT (revision 6) -> DSDT, and the MADT.
 * The DSDT describes COM1 (MV_PORT_SERIAL, MV_IRQ_SERIAL), because in
 * hardware-reduced mode Linux reserves no legacy ISA interrupts, one
 * "LNRO0005" device per virtio-mmio transport, and \_S5 for power-off. */
#ifndef MV_X86_ACPI_H
#define MV_X86_ACPI_H

#include <stdint.h>

#include "runtime/error.h"
#include "vmm/memory.h"

#define ACPI_MAX_CPUS 255 /* xAPIC ids 0..254, one byte in the MADT */

struct acpi_mmio_dev {
	uint64_t base; /* guest physical, below 4 GiB */
	uint32_t size;
	uint32_t irq; /* GSI = IOAPIC pin, edge-triggered, active high */
};

/* Write the RSDP at MV_ACPI_ADDR and the XSDT, FADT, MADT and DSDT after it,
 * all below MV_ACPI_END.  Returns 0 and the RSDP's guest address (for
 * boot_params.acpi_rsdp_addr), or -1 with err filled (bad arguments, or the
 * tables don't fit). */
int acpi_build(const struct guest_mem *mem, unsigned ncpus, const struct acpi_mmio_dev *devs,
	       unsigned ndevs, uint64_t *rsdp_gpa, mv_error_t *err);

#endif
