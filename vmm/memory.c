#include "vmm/memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/layout.h"

static uint8_t *map_ram(uint64_t size, mv_error_t *err)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		mv_error(err, errno, "map %llu MiB of guest memory",
			 (unsigned long long)(size >> 20));
		return NULL;
	}
	/* Guest RAM is not worth a core dump, and huge pages cut TLB misses. */
	madvise(p, size, MADV_DONTDUMP);
	madvise(p, size, MADV_HUGEPAGE);
	return p;
}

int guest_mem_init(struct guest_mem *m, uint64_t size, mv_error_t *err)
{
	memset(m, 0, sizeof(*m));
	if (size < (16ULL << 20) || (size & 0xfff))
		return mv_error(err, EINVAL,
				"guest memory of %llu bytes: at least 16 MiB, in pages",
				(unsigned long long)size);
	m->low_size = size < MV_MMIO_HOLE_START ? size : MV_MMIO_HOLE_START;
	m->high_size = size - m->low_size;
	m->low = map_ram(m->low_size, err);
	if (m->low == NULL)
		return -1;
	if (m->high_size) {
		m->high = map_ram(m->high_size, err);
		if (m->high == NULL) {
			guest_mem_release(m);
			return -1;
		}
	}
	m->size = size;
	return 0;
}

void guest_mem_release(struct guest_mem *m)
{
	if (m->low)
		munmap(m->low, m->low_size);
	if (m->high)
		munmap(m->high, m->high_size);
	memset(m, 0, sizeof(*m));
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	if (m->low && gpa < m->low_size) {
		if (len > m->low_size - gpa)
			return NULL;
		return m->low + gpa;
	}
	if (m->high && gpa >= MV_HIGH_RAM_START) {
		uint64_t off = gpa - MV_HIGH_RAM_START;
		if (off >= m->high_size || len > m->high_size - off)
			return NULL;
		return m->high + off;
	}
	return NULL;
}
