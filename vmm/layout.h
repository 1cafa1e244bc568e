/* The guest's physical address map, I/O ports and interrupt lines: every
 * fixed location the VMM, the boot code and the ACPI tables agree on. */
#ifndef MV_LAYOUT_H
#define MV_LAYOUT_H

/* Low memory, used by the boot code before the kernel takes over. */
#define MV_GDT_ADDR	  0x500ULL
#define MV_ZERO_PAGE_ADDR 0x7000ULL /* struct boot_params */
#define MV_BOOT_STACK	  0x8ff0ULL
#define MV_PML4_ADDR	  0x9000ULL
#define MV_PDPT_ADDR	  0xa000ULL
#define MV_PD_ADDR	  0xb000ULL /* 4 pages: 4 GiB identity map, 2 MiB pages */
#define MV_CMDLINE_ADDR	  0x20000ULL
#define MV_CMDLINE_MAX	  4096
#define MV_EBDA_START	  0x9fc00ULL /* end of conventional memory in the e820 map */
#define MV_ACPI_ADDR	  0xe0000ULL /* RSDP first; the legacy search finds it here */
#define MV_ACPI_END	  0x100000ULL
#define MV_HIMEM_START	  0x100000ULL
#define MV_KERNEL_ADDR	  0x1000000ULL /* 16 MiB: bzImage protected-mode part */

/* RAM: below the 32-bit MMIO hole, the rest from 4 GiB. */
#define MV_MMIO_HOLE_START 0xc0000000ULL
#define MV_MMIO_HOLE_END   0x100000000ULL
#define MV_HIGH_RAM_START  MV_MMIO_HOLE_END

/* Devices inside the hole. */
#define MV_VIRTIO_MMIO_BASE  0xd0000000ULL
#define MV_VIRTIO_MMIO_SIZE  0x1000ULL /* one page per device */
#define MV_VIRTIO_MMIO_MAX   16
#define MV_IOAPIC_ADDR	     0xfec00000ULL
#define MV_LAPIC_ADDR	     0xfee00000ULL
#define MV_IDENTITY_MAP_ADDR 0xfffbc000ULL /* KVM's, for VMX real mode */
#define MV_TSS_ADDR	     0xfffbd000ULL /* KVM's: 3 pages */

/* Interrupt lines (IOAPIC pins = GSIs). */
#define MV_IRQ_SERIAL	    4
#define MV_IRQ_VIRTIO_FIRST 5
#define MV_IRQ_VIRTIO_LAST  23

/* I/O ports. */
#define MV_PORT_SERIAL		   0x3f8 /* COM1, 8 ports */
#define MV_PORT_I8042_DATA	   0x60
#define MV_PORT_I8042_COMMAND	   0x64	 /* 0xfe: CPU reset */
#define MV_PORT_ACPI_SLEEP_CONTROL 0x600 /* FADT sleep control register */
#define MV_PORT_ACPI_SLEEP_STATUS  0x601 /* FADT sleep status register */
#define MV_PORT_ACPI_RESET	   0x602 /* FADT reset register */
#define MV_ACPI_RESET_VALUE	   0x01
#define MV_ACPI_S5_TYPE		   5	 /* SLP_TYP of \_S5 in the DSDT */
#define MV_PORT_BOOT_EVENT	   0x603 /* the agent's boot-timer mark */

/* vsock: the guest's context id; the host is 2. */
#define MV_GUEST_CID 3

#endif
