/* Guest RAM: anonymous MAP_NORESERVE mappings laid out as on a PC, RAM
 * below the 32-bit MMIO hole and the rest from 4 GiB (vmm/layout.h).
 * Every guest address the VMM touches goes through guest_mem_ptr(), which
 * refuses ranges that are not wholly inside one RAM region. */
#ifndef MV_MEMORY_H
#define MV_MEMORY_H

#include <stdint.h>

#include "runtime/error.h"

struct guest_mem {
	uint8_t *low; /* guest [0, low_size) */
	uint64_t low_size;
	uint8_t *high; /* guest [MV_HIGH_RAM_START, + high_size), NULL if none */
	uint64_t high_size;
	uint64_t size; /* low_size + high_size */
};

int guest_mem_init(struct guest_mem *m, uint64_t size, mv_error_t *err);
void guest_mem_release(struct guest_mem *m);

/* Host address of guest [gpa, gpa + len), or NULL when any byte of it is
 * outside RAM (or the range wraps).  len 0 is checked as len 1. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

#endif
