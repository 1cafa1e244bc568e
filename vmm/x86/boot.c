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

static int read_file(const char *path, const char *what, uint8_t **out, size_t *size,
		     mv_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free uint8_t *buf = NULL;
	struct stat st;
	size_t done = 0;

	if (fd < 0)
		return mv_error(err, errno, "open %s `%s`", what, path);
	if (fstat(fd, &st) < 0)
		return mv_error(err, errno, "stat %s `%s`", what, path);
	if (!S_ISREG(st.st_mode))
		return mv_error(err, 0, "%s `%s` is not a regular file", what, path);
	if ((uint64_t)st.st_size > BOOT_MAX_FILE)
		return mv_error(err, EFBIG, "%s `%s`", what, path);
	buf = malloc(st.st_size ? st.st_size : 1);
	if (buf == NULL)
		return mv_error(err, ENOMEM, "read %s `%s`", what, path);
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return mv_error(err, n < 0 ? errno : EIO, "read %s `%s`", what, path);
		done += n;
	}
	*size = done;
	*out = steal_ptr(&buf);
	return 0;
}

static int copy_to_guest(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len,
			 const char *what, mv_error_t *err)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (dst == NULL)
		return mv_error(
		    err, 0,
		    "%s (%llu bytes at %#llx) does not fit in guest memory: give the VM "
		    "more memory",
		    what, (unsigned long long)len, (unsigned long long)gpa);
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

static int load_bzimage(const struct guest_mem *mem, const uint8_t *img, size_t size,
			const char *name, uint64_t *entry, uint64_t *kernel_end, mv_error_t *err)
{
	struct setup_header hdr;
	uint64_t setup_sects, pm_off, load, need;

	memcpy(&hdr, img + SETUP_HDR_OFFSET, sizeof(hdr));
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
		return mv_error(err, 0, "kernel `%s`: truncated (setup of %llu bytes, file of %zu)",
				name, (unsigned long long)pm_off, size);
	/* A truncated image would only hang in the decompressor: refuse it here. */
	if ((uint64_t)hdr.syssize * 16 > size - pm_off ||
	    (uint64_t)hdr.payload_offset + hdr.payload_length > size - pm_off)
		return mv_error(err, 0,
				"kernel `%s`: truncated (%llu bytes of kernel, file of %zu)", name,
				(unsigned long long)hdr.syssize * 16 + pm_off, size);
	load = hdr.relocatable_kernel ? MV_KERNEL_ADDR : hdr.pref_address;
	if (load < MV_HIMEM_START)
		return mv_error(err, 0, "kernel `%s`: load address %#llx below 1 MiB", name,
				(unsigned long long)load);
	need = hdr.init_size > size - pm_off ? hdr.init_size : size - pm_off;
	if (guest_mem_ptr(mem, load, need) == NULL)
		return mv_error(err, 0,
				"kernel `%s` needs %llu MiB from %#llx: give the VM more memory",
				name, (unsigned long long)(need >> 20), (unsigned long long)load);
	if (copy_to_guest(mem, load, img + pm_off, size - pm_off, "kernel", err) < 0)
		return -1;
	*entry = load + ENTRY_64_OFFSET;
	*kernel_end = load + need;
	return 0;
}

static int load_elf_segment(const struct guest_mem *mem, const uint8_t *img, size_t size,
			    const Elf64_Phdr *ph, const char *name, mv_error_t *err)
{
	uint8_t *dst;

	if (ph->p_filesz > ph->p_memsz || ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
		return mv_error(err, 0, "kernel `%s`: corrupt ELF program header", name);
	dst = guest_mem_ptr(mem, ph->p_paddr, ph->p_memsz);
	if (dst == NULL)
		return mv_error(err, 0,
				"kernel `%s`: segment at %#llx does not fit in guest memory", name,
				(unsigned long long)ph->p_paddr);
	memcpy(dst, img + ph->p_offset, ph->p_filesz);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

static int load_elf(const struct guest_mem *mem, const uint8_t *img, size_t size, const char *name,
		    uint64_t *entry, uint64_t *kernel_end, mv_error_t *err)
{
	Elf64_Ehdr eh;
	uint64_t end = 0;
	int loaded = 0;

	if (size < sizeof(eh))
		return mv_error(err, 0, "kernel `%s`: truncated ELF header", name);
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_EXEC || eh.e_phentsize != sizeof(Elf64_Phdr))
		return mv_error(err, 0, "kernel `%s`: not an x86-64 executable ELF", name);
	if (eh.e_phoff > size || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > size - eh.e_phoff)
		return mv_error(err, 0, "kernel `%s`: corrupt ELF program headers", name);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (load_elf_segment(mem, img, size, &ph, name, err) < 0)
			return -1;
		if (ph.p_paddr + ph.p_memsz > end)
			end = ph.p_paddr + ph.p_memsz;
		loaded++;
	}
	if (loaded == 0 || guest_mem_ptr(mem, eh.e_entry, 1) == NULL)
		return mv_error(err, 0, "kernel `%s`: no loadable segment or entry outside memory",
				name);
	*entry = eh.e_entry;
	*kernel_end = end;
	return 0;
}

int x86_boot_load_image(const struct guest_mem *mem, const uint8_t *img, size_t size,
			const char *name, uint64_t *entry, uint64_t *kernel_end, mv_error_t *err)
{
	if (is_bzimage(img, size))
		return load_bzimage(mem, img, size, name, entry, kernel_end, err);
	if (size >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0)
		return load_elf(mem, img, size, name, entry, kernel_end, err);
	return mv_error(err, 0, "kernel `%s` is neither a bzImage nor an ELF vmlinux", name);
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

/* The initrd goes as high as the kernel allows, above the kernel. */
static int load_initrd(const struct guest_mem *mem, struct boot_params *bp, const char *path,
		       uint64_t kernel_end, mv_error_t *err)
{
	cleanup_free uint8_t *buf = NULL;
	uint64_t top, addr;
	size_t size;

	if (read_file(path, "initrd", &buf, &size, err) < 0)
		return -1;
	top = bp->hdr.initrd_addr_max ? (uint64_t)bp->hdr.initrd_addr_max + 1
				      : DEFAULT_INITRD_MAX + 1;
	if (top > mem->low_size)
		top = mem->low_size;
	if (size > top || ((top - size) & ~0xfffULL) < kernel_end)
		return mv_error(err, 0,
				"initrd `%s` (%zu MiB) does not fit: give the VM more memory", path,
				size >> 20);
	addr = (top - size) & ~0xfffULL;
	if (copy_to_guest(mem, addr, buf, size, "initrd", err) < 0)
		return -1;
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
	cleanup_free uint8_t *img = NULL;
	struct boot_params *bp;
	uint64_t kernel_end;
	size_t size;

	if (read_file(spec->kernel, "kernel", &img, &size, err) < 0)
		return -1;
	if (x86_boot_load_image(mem, img, size, spec->kernel, &out->entry, &kernel_end, err) < 0)
		return -1;
	bp = guest_mem_ptr(mem, MV_ZERO_PAGE_ADDR, sizeof(*bp));
	if (bp == NULL)
		return mv_error(err, 0, "guest memory too small for the zero page");
	zero_page_header(bp, img, size);
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
