#include "vmm/x86/boot.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "vmm/layout.h"

#define BOOT_MAX_FILE	    (1ULL << 30)
#define SETUP_HDR_OFFSET    0x1f1
#define BZIMAGE_MIN_VERSION 0x020c /* 2.12: xloadflags, the 64-bit entry */
#define ENTRY_64_OFFSET	    0x200
#define DEFAULT_INITRD_MAX  0x37ffffffULL
#define ELF_CMDLINE_SIZE    2048
#define HDRS_MAGIC	    0x53726448 /* "HdrS" */

/* Page-table entry bits and the long-mode GDT (selectors as Linux expects:
 * __BOOT_CS 0x10, __BOOT_DS 0x18). */
#define PTE_PRESENT_RW 0x3ULL
#define PDE_2M_PAGE    0x83ULL
static const uint64_t boot_gdt[] = {
    0,
    0,
    0x00af9b000000ffffULL, /* 0x10: 64-bit code */
    0x00cf93000000ffffULL, /* 0x18: data */
    0x00808b0000000000ULL, /* 0x20: TSS (busy), what KVM wants in TR */
};

/* A kernel image: in memory (unit tests) or an open file.  Files are read
 * straight into guest memory with pread(), segment by segment: no copy of
 * the whole file in the VMM (an ELF vmlinux is mostly alignment padding),
 * and no mapping of it that a truncation could turn into SIGBUS. */
struct boot_image {
	const uint8_t *buf; /* the whole image, or NULL: read from fd */
	int fd;
	uint64_t size;
	const char *name;
	uint8_t head[4096]; /* the first bytes: the headers */
	size_t head_len;
};

static int pread_full(int fd, void *dst, size_t len, off_t off)
{
	uint8_t *p = dst;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file shrank under us */
			return -1;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Bytes [off, off+len) of the image, which the caller has bounds-checked. */
static int image_read(const struct boot_image *im, uint64_t off, void *dst, uint64_t len,
		      mv_error_t *err)
{
	if (im->buf) {
		memcpy(dst, im->buf + off, len);
		return 0;
	}
	if (pread_full(im->fd, dst, len, off) < 0)
		return mv_error(err, errno, "read kernel `%s`", im->name);
	return 0;
}

static void image_from_buffer(struct boot_image *im, const uint8_t *img, size_t size,
			      const char *name)
{
	im->buf = img;
	im->fd = -1;
	im->size = size;
	im->name = name;
	im->head_len = size < sizeof(im->head) ? size : sizeof(im->head);
	memcpy(im->head, img, im->head_len);
}

static int open_regular(const char *path, const char *what, uint64_t *size, mv_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return mv_error(err, errno, "open %s `%s`", what, path);
	if (fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat %s `%s`", what, path);
	if (!S_ISREG(st.st_mode))
		return mv_error(err, 0, "%s `%s` is not a regular file", what, path);
	if ((uint64_t)st.st_size > BOOT_MAX_FILE)
		return mv_error(err, EFBIG, "%s `%s`", what, path);
	*size = st.st_size;
	return steal_fd(&fd);
}

static int image_open(struct boot_image *im, const char *path, mv_error_t *err)
{
	memset(im, 0, sizeof(*im));
	im->name = path;
	im->fd = open_regular(path, "kernel", &im->size, err);
	if (im->fd < 0)
		return -1;
	im->head_len = im->size < sizeof(im->head) ? im->size : sizeof(im->head);
	return image_read(im, 0, im->head, im->head_len, err);
}

static void *guest_range(const struct guest_mem *mem, uint64_t gpa, uint64_t len, const char *what,
			 mv_error_t *err)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (dst == NULL)
		mv_error(err, 0,
			 "%s (%llu bytes at %#llx) does not fit in guest memory: give the VM "
			 "more memory",
			 what, (unsigned long long)len, (unsigned long long)gpa);
	return dst;
}

static int copy_to_guest(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len,
			 const char *what, mv_error_t *err)
{
	void *dst = guest_range(mem, gpa, len, what, err);

	if (dst == NULL)
		return -1;
	memcpy(dst, src, len);
	return 0;
}

static bool is_bzimage(const uint8_t *img, size_t size)
{
	uint16_t boot_flag;
	uint32_t magic;

	if (size < 0x264)
		return false;
	memcpy(&boot_flag, img + 0x1fe, 2);
	memcpy(&magic, img + 0x202, 4);
	return boot_flag == 0xaa55 && magic == HDRS_MAGIC;
}

static int load_bzimage(const struct guest_mem *mem, const struct boot_image *im, uint64_t *entry,
			uint64_t *kernel_end, mv_error_t *err)
{
	struct setup_header hdr;
	uint64_t setup_sects, pm_off, load, need, size = im->size;
	const char *name = im->name;
	void *dst;

	memcpy(&hdr, im->head + SETUP_HDR_OFFSET, sizeof(hdr));
	if (hdr.version < BZIMAGE_MIN_VERSION || !(hdr.xloadflags & XLF_KERNEL_64))
		return mv_error(err, 0,
				"kernel `%s`: boot protocol %u.%02u without a 64-bit entry point "
				"(needs 2.12 and a 64-bit kernel)",
				name, hdr.version >> 8, hdr.version & 0xff);
	if (!(hdr.loadflags & LOADED_HIGH))
		return mv_error(err, 0, "kernel `%s`: not a bzImage loaded high", name);
	setup_sects = hdr.setup_sects ? hdr.setup_sects : 4;
	pm_off = (setup_sects + 1) * 512;
	if (pm_off >= size)
		return mv_error(err, 0,
				"kernel `%s`: truncated (setup of %llu bytes, file of %llu)", name,
				(unsigned long long)pm_off, (unsigned long long)size);
	/* A truncated image would only hang in the decompressor: refuse it here. */
	if ((uint64_t)hdr.syssize * 16 > size - pm_off ||
	    (uint64_t)hdr.payload_offset + hdr.payload_length > size - pm_off)
		return mv_error(
		    err, 0, "kernel `%s`: truncated (%llu bytes of kernel, file of %llu)", name,
		    (unsigned long long)hdr.syssize * 16 + pm_off, (unsigned long long)size);
	load = hdr.relocatable_kernel ? MV_KERNEL_ADDR : hdr.pref_address;
	if (load < MV_HIMEM_START)
		return mv_error(err, 0, "kernel `%s`: load address %#llx below 1 MiB", name,
				(unsigned long long)load);
	need = hdr.init_size > size - pm_off ? hdr.init_size : size - pm_off;
	if (guest_mem_ptr(mem, load, need) == NULL)
		return mv_error(err, 0,
				"kernel `%s` needs %llu MiB from %#llx: give the VM more memory",
				name, (unsigned long long)(need >> 20), (unsigned long long)load);
	dst = guest_range(mem, load, size - pm_off, "kernel", err);
	if (dst == NULL || image_read(im, pm_off, dst, size - pm_off, err) < 0)
		return -1;
	*entry = load + ENTRY_64_OFFSET;
	*kernel_end = load + need;
	return 0;
}

static int load_elf_segment(const struct guest_mem *mem, const struct boot_image *im,
			    const Elf64_Phdr *ph, mv_error_t *err)
{
	uint8_t *dst;

	if (ph->p_filesz > ph->p_memsz || ph->p_offset > im->size ||
	    ph->p_filesz > im->size - ph->p_offset)
		return mv_error(err, 0, "kernel `%s`: corrupt ELF program header", im->name);
	dst = guest_mem_ptr(mem, ph->p_paddr, ph->p_memsz);
	if (dst == NULL)
		return mv_error(err, 0,
				"kernel `%s`: segment at %#llx does not fit in guest memory",
				im->name, (unsigned long long)ph->p_paddr);
	if (image_read(im, ph->p_offset, dst, ph->p_filesz, err) < 0)
		return -1;
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

static int load_elf(const struct guest_mem *mem, const struct boot_image *im, uint64_t *entry,
		    uint64_t *kernel_end, mv_error_t *err)
{
	Elf64_Ehdr eh;
	uint64_t end = 0;
	int loaded = 0;

	if (im->size < sizeof(eh))
		return mv_error(err, 0, "kernel `%s`: truncated ELF header", im->name);
	memcpy(&eh, im->head, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_EXEC || eh.e_phentsize != sizeof(Elf64_Phdr))
		return mv_error(err, 0, "kernel `%s`: not an x86-64 executable ELF", im->name);
	if (eh.e_phoff > im->size ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > im->size - eh.e_phoff)
		return mv_error(err, 0, "kernel `%s`: corrupt ELF program headers", im->name);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (image_read(im, eh.e_phoff + i * sizeof(ph), &ph, sizeof(ph), err) < 0)
			return -1;
		if (ph.p_type != PT_LOAD)
			continue;
		if (load_elf_segment(mem, im, &ph, err) < 0)
			return -1;
		if (ph.p_paddr + ph.p_memsz > end)
			end = ph.p_paddr + ph.p_memsz;
		loaded++;
	}
	if (loaded == 0 || guest_mem_ptr(mem, eh.e_entry, 1) == NULL)
		return mv_error(err, 0, "kernel `%s`: no loadable segment or entry outside memory",
				im->name);
	*entry = eh.e_entry;
	*kernel_end = end;
	return 0;
}

static int load_image(const struct guest_mem *mem, const struct boot_image *im, uint64_t *entry,
		      uint64_t *kernel_end, mv_error_t *err)
{
	if (is_bzimage(im->head, im->head_len))
		return load_bzimage(mem, im, entry, kernel_end, err);
	if (im->head_len >= SELFMAG && memcmp(im->head, ELFMAG, SELFMAG) == 0)
		return load_elf(mem, im, entry, kernel_end, err);
	return mv_error(err, 0, "kernel `%s` is neither a bzImage nor an ELF vmlinux", im->name);
}

int x86_boot_load_image(const struct guest_mem *mem, const uint8_t *img, size_t size,
			const char *name, uint64_t *entry, uint64_t *kernel_end, mv_error_t *err)
{
	struct boot_image im;

	image_from_buffer(&im, img, size, name);
	return load_image(mem, &im, entry, kernel_end, err);
}

/* The zero page starts from the image's own setup header (bzImage) or a
 * minimal one (vmlinux). */
static void zero_page_header(struct boot_params *bp, const uint8_t *img, size_t size)
{
	memset(bp, 0, sizeof(*bp));
	if (is_bzimage(img, size)) {
		size_t end = 0x202 + img[0x201];
		if (end > sizeof(*bp))
			end = sizeof(*bp);
		if (end > size)
			end = size;
		memcpy((uint8_t *)bp + SETUP_HDR_OFFSET, img + SETUP_HDR_OFFSET,
		       end - SETUP_HDR_OFFSET);
	} else {
		bp->hdr.boot_flag = 0xaa55;
		bp->hdr.header = HDRS_MAGIC;
		bp->hdr.version = BZIMAGE_MIN_VERSION;
		bp->hdr.kernel_alignment = 0x1000000;
		bp->hdr.cmdline_size = ELF_CMDLINE_SIZE - 1;
		bp->hdr.initrd_addr_max = DEFAULT_INITRD_MAX;
	}
	bp->hdr.type_of_loader = 0xff;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

static void e820_fill(struct boot_params *bp, const struct guest_mem *mem)
{
	e820_add(bp, 0, MV_EBDA_START, 1);
	/* the EBDA, the ACPI tables and the old BIOS area */
	e820_add(bp, MV_EBDA_START, MV_HIMEM_START - MV_EBDA_START, 2);
	e820_add(bp, MV_HIMEM_START, mem->low_size - MV_HIMEM_START, 1);
	if (mem->high_size)
		e820_add(bp, MV_HIGH_RAM_START, mem->high_size, 1);
}

static int set_cmdline(const struct guest_mem *mem, struct boot_params *bp, const char *cmdline,
		       mv_error_t *err)
{
	size_t len = strlen(cmdline);
	size_t max = bp->hdr.cmdline_size ? bp->hdr.cmdline_size : 255;

	if (len > max || len >= MV_CMDLINE_MAX)
		return mv_error(err, 0, "kernel command line of %zu bytes: this kernel takes %zu",
				len, max);
	if (copy_to_guest(mem, MV_CMDLINE_ADDR, cmdline, len + 1, "command line", err) < 0)
		return -1;
	bp->hdr.cmd_line_ptr = (uint32_t)MV_CMDLINE_ADDR;
	return 0;
}

/* The initrd goes as high as the kernel allows, above the kernel: read
 * straight into guest memory. */
static int load_initrd(const struct guest_mem *mem, struct boot_params *bp, const char *path,
		       uint64_t kernel_end, mv_error_t *err)
{
	cleanup_close int fd = -1;
	uint64_t top, addr, size;
	void *dst;

	fd = open_regular(path, "initrd", &size, err);
	if (fd < 0)
		return -1;
	top = bp->hdr.initrd_addr_max ? (uint64_t)bp->hdr.initrd_addr_max + 1
				      : DEFAULT_INITRD_MAX + 1;
	if (top > mem->low_size)
		top = mem->low_size;
	if (size > top || ((top - size) & ~0xfffULL) < kernel_end)
		return mv_error(err, 0,
				"initrd `%s` (%llu MiB) does not fit: give the VM more memory",
				path, (unsigned long long)(size >> 20));
	addr = (top - size) & ~0xfffULL;
	dst = guest_range(mem, addr, size, "initrd", err);
	if (dst == NULL)
		return -1;
	if (pread_full(fd, dst, size, 0) < 0)
		return mv_error(err, errno, "read initrd `%s`", path);
	bp->hdr.ramdisk_image = (uint32_t)addr;
	bp->hdr.ramdisk_size = (uint32_t)size;
	return 0;
}

/* Identity-map the first 4 GiB with 2 MiB pages, and the GDT. */
static int write_page_tables(const struct guest_mem *mem, mv_error_t *err)
{
	uint64_t *pml4 = guest_mem_ptr(mem, MV_PML4_ADDR, 4096);
	uint64_t *pdpt = guest_mem_ptr(mem, MV_PDPT_ADDR, 4096);
	uint64_t *pd = guest_mem_ptr(mem, MV_PD_ADDR, 4 * 4096);
	uint64_t *gdt = guest_mem_ptr(mem, MV_GDT_ADDR, sizeof(boot_gdt));

	if (!pml4 || !pdpt || !pd || !gdt)
		return mv_error(err, 0, "guest memory too small for the boot page tables");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = MV_PDPT_ADDR | PTE_PRESENT_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (MV_PD_ADDR + i * 4096) | PTE_PRESENT_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PDE_2M_PAGE;
	memcpy(gdt, boot_gdt, sizeof(boot_gdt));
	return 0;
}

int x86_boot_load(const struct guest_mem *mem, const struct boot_spec *spec, struct boot_info *out,
		  mv_error_t *err)
{
	struct boot_image im;
	cleanup_close int fd = -1;
	struct boot_params *bp;
	uint64_t kernel_end;
	int ret = image_open(&im, spec->kernel, err);

	fd = im.fd; /* closed on return, even when the headers could not be read */
	if (ret < 0 || load_image(mem, &im, &out->entry, &kernel_end, err) < 0)
		return -1;
	bp = guest_mem_ptr(mem, MV_ZERO_PAGE_ADDR, sizeof(*bp));
	if (bp == NULL)
		return mv_error(err, 0, "guest memory too small for the zero page");
	zero_page_header(bp, im.head, im.head_len);
	e820_fill(bp, mem);
	bp->acpi_rsdp_addr = spec->rsdp;
	if (set_cmdline(mem, bp, spec->cmdline, err) < 0)
		return -1;
	if (spec->initrd && load_initrd(mem, bp, spec->initrd, kernel_end, err) < 0)
		return -1;
	if (write_page_tables(mem, err) < 0)
		return -1;
	out->zero_page = MV_ZERO_PAGE_ADDR;
	return 0;
}
