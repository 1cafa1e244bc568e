/* The x86 boot loader on images the test makes: bzImages and ELF vmlinux
 * files, good and corrupt, and the zero page it writes. */
#include <asm/bootparam.h>
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/layout.h"
#include "vmm/x86/boot.h"
#include "vmm/x86/cpu.h"

#define PM_SIZE 8192

/* A bzImage: 4 setup sectors + the boot sector, then the protected-mode part. */
static uint8_t *make_bzimage(size_t *size, uint16_t version, uint8_t xloadflags)
{
	size_t setup = 5 * 512;
	uint8_t *img = calloc(1, setup + PM_SIZE);
	struct setup_header hdr = {0};

	hdr.setup_sects = 4;
	hdr.boot_flag = 0xaa55;
	hdr.jump = 0x66eb; /* bytes 0x200-0x201: 0x201 says how long the header is */
	hdr.header = 0x53726448;
	hdr.version = version;
	hdr.loadflags = LOADED_HIGH;
	hdr.relocatable_kernel = 1;
	hdr.xloadflags = xloadflags;
	hdr.cmdline_size = 2047;
	hdr.initrd_addr_max = 0x7fffffff;
	hdr.init_size = 4 << 20;
	hdr.pref_address = 0x1000000;
	hdr.syssize = PM_SIZE / 16;
	hdr.payload_offset = 0x100;
	hdr.payload_length = PM_SIZE - 0x200;
	memcpy(img + 0x1f1, &hdr, sizeof(hdr));
	for (size_t i = 0; i < PM_SIZE; i++)
		img[setup + i] = (uint8_t)(i * 7);
	*size = setup + PM_SIZE;
	return img;
}

static uint8_t *make_elf(size_t *size, uint64_t paddr)
{
	size_t off = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
	uint8_t *img = calloc(1, off + 4096);
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph = {0};

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_entry = paddr;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_offset = off;
	ph.p_paddr = paddr;
	ph.p_filesz = 4096;
	ph.p_memsz = 8192; /* a bss to clear */
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), &ph, sizeof(ph));
	memset(img + off, 0xcc, 4096);
	*size = off + 4096;
	return img;
}

static char *write_temp(const void *data, size_t size)
{
	char *path = strdup("/tmp/mvrun-test-boot.XXXXXX");
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK_INT(write(fd, data, size), ==, (long long)size);
	close(fd);
	return path;
}

TEST(bzimage_is_loaded_at_16_mib_with_the_64_bit_entry)
{
	struct guest_mem mem;
	size_t size;
	uint8_t *img = make_bzimage(&size, 0x020f, XLF_KERNEL_64);
	uint64_t entry, end;

	CHECK_INT(guest_mem_init(&mem, 64 << 20, NULL), ==, 0);
	CHECK_INT(x86_boot_load_image(&mem, img, size, "k", &entry, &end, NULL), ==, 0);
	CHECK_INT(entry, ==, MV_KERNEL_ADDR + 0x200);
	CHECK_INT(end, ==, MV_KERNEL_ADDR + (4 << 20));
	CHECK(memcmp(guest_mem_ptr(&mem, MV_KERNEL_ADDR, PM_SIZE), img + 5 * 512, PM_SIZE) == 0);
	free(img);
	guest_mem_release(&mem);
}

TEST(bzimage_without_64_bit_entry_or_too_old_is_refused)
{
	struct guest_mem mem;
	mv_error_t err = {0};
	size_t size;
	uint64_t entry, end;
	uint8_t *img;

	CHECK_INT(guest_mem_init(&mem, 64 << 20, NULL), ==, 0);
	img = make_bzimage(&size, 0x020f, 0);
	CHECK_INT(x86_boot_load_image(&mem, img, size, "k", &entry, &end, &err), <, 0);
	CHECK(strstr(err.msg, "64-bit") != NULL);
	free(img);
	img = make_bzimage(&size, 0x0206, XLF_KERNEL_64);
	CHECK_INT(x86_boot_load_image(&mem, img, size, "k", &entry, &end, &err), <, 0);
	free(img);
	mv_error_release(&err);
	guest_mem_release(&mem);
}

TEST(truncated_bzimage_and_garbage_are_refused)
{
	struct guest_mem mem;
	mv_error_t err = {0};
	size_t size;
	uint64_t entry, end;
	uint8_t *img = make_bzimage(&size, 0x020f, XLF_KERNEL_64);
	uint8_t junk[4096];

	CHECK_INT(guest_mem_init(&mem, 64 << 20, NULL), ==, 0);
	CHECK_INT(x86_boot_load_image(&mem, img, 5 * 512, "k", &entry, &end, &err), <, 0);
	CHECK(strstr(err.msg, "truncated") != NULL);
	/* cut inside the protected-mode part: syssize says more is missing */
	CHECK_INT(x86_boot_load_image(&mem, img, size - 100, "k", &entry, &end, &err), <, 0);
	CHECK(strstr(err.msg, "truncated") != NULL);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	CHECK_INT(x86_boot_load_image(&mem, junk, sizeof(junk), "k", &entry, &end, &err), <, 0);
	CHECK(strstr(err.msg, "neither a bzImage nor an ELF") != NULL);
	CHECK_INT(x86_boot_load_image(&mem, junk, 10, "k", &entry, &end, &err), <, 0);
	free(img);
	mv_error_release(&err);
	guest_mem_release(&mem);
}

TEST(kernel_that_does_not_fit_in_memory_is_refused)
{
	struct guest_mem mem;
	mv_error_t err = {0};
	size_t size;
	uint64_t entry, end;
	uint8_t *img = make_bzimage(&size, 0x020f, XLF_KERNEL_64);

	CHECK_INT(guest_mem_init(&mem, 16 << 20, NULL), ==, 0); /* ends where the kernel goes */
	CHECK_INT(x86_boot_load_image(&mem, img, size, "k", &entry, &end, &err), <, 0);
	CHECK(strstr(err.msg, "more memory") != NULL);
	free(img);
	mv_error_release(&err);
	guest_mem_release(&mem);
}

TEST(elf_vmlinux_segments_are_loaded_and_bss_cleared)
{
	struct guest_mem mem;
	mv_error_t err = {0};
	size_t size;
	uint64_t entry, end;
	uint8_t *img = make_elf(&size, 0x1000000), *p;

	CHECK_INT(guest_mem_init(&mem, 64 << 20, NULL), ==, 0);
	p = guest_mem_ptr(&mem, 0x1000000, 8192);
	memset(p, 0x55, 8192);
	CHECK_INT(x86_boot_load_image(&mem, img, size, "k", &entry, &end, NULL), ==, 0);
	CHECK_INT(entry, ==, 0x1000000);
	CHECK_INT(end, ==, 0x1000000 + 8192);
	CHECK(p[0] == 0xcc && p[4095] == 0xcc && p[4096] == 0 && p[8191] == 0);
	free(img);
	img = make_elf(&size, 0x7000000000ULL); /* far outside RAM */
	CHECK_INT(x86_boot_load_image(&mem, img, size, "k", &entry, &end, &err), <, 0);
	free(img);
	mv_error_release(&err);
	guest_mem_release(&mem);
}

TEST(zero_page_has_cmdline_initrd_e820_and_rsdp)
{
	struct guest_mem mem;
	struct boot_info info;
	size_t size;
	uint8_t *img = make_bzimage(&size, 0x020f, XLF_KERNEL_64);
	char initrd_data[10000];
	char *kernel = write_temp(img, size), *initrd;
	struct boot_spec spec = {
	    .kernel = kernel, .cmdline = "console=ttyS0 quiet", .rsdp = 0xe0000};
	struct boot_params *bp;

	memset(initrd_data, 'i', sizeof(initrd_data));
	initrd = write_temp(initrd_data, sizeof(initrd_data));
	spec.initrd = initrd;
	CHECK_INT(guest_mem_init(&mem, 128 << 20, NULL), ==, 0);
	CHECK_INT(x86_boot_load(&mem, &spec, &info, NULL), ==, 0);
	CHECK_INT(info.zero_page, ==, MV_ZERO_PAGE_ADDR);
	bp = guest_mem_ptr(&mem, MV_ZERO_PAGE_ADDR, sizeof(*bp));
	CHECK_INT(bp->hdr.type_of_loader, ==, 0xff);
	CHECK_STR((char *)guest_mem_ptr(&mem, bp->hdr.cmd_line_ptr, 1), "console=ttyS0 quiet");
	CHECK_INT(bp->acpi_rsdp_addr, ==, 0xe0000);
	CHECK_INT(bp->hdr.ramdisk_size, ==, sizeof(initrd_data));
	CHECK_INT(bp->hdr.ramdisk_image % 4096, ==, 0);
	CHECK_INT(bp->hdr.ramdisk_image + sizeof(initrd_data), <=, 128 << 20);
	CHECK(memcmp(guest_mem_ptr(&mem, bp->hdr.ramdisk_image, 10), "iiiiiiiiii", 10) == 0);
	CHECK_INT(bp->e820_entries, ==, 3);
	CHECK_INT(bp->e820_table[2].addr, ==, MV_HIMEM_START);
	CHECK_INT(bp->e820_table[2].addr + bp->e820_table[2].size, ==, 128 << 20);
	CHECK_INT(*(uint64_t *)guest_mem_ptr(&mem, MV_PML4_ADDR, 8), ==, MV_PDPT_ADDR | 3);
	unlink(kernel);
	unlink(initrd);
	free(kernel);
	free(initrd);
	free(img);
	guest_mem_release(&mem);
}

TEST(command_line_longer_than_the_kernel_takes_is_refused)
{
	struct guest_mem mem;
	struct boot_info info;
	mv_error_t err = {0};
	size_t size;
	uint8_t *img = make_bzimage(&size, 0x020f, XLF_KERNEL_64);
	char *kernel = write_temp(img, size), *cmdline = malloc(3000);
	struct boot_spec spec = {.kernel = kernel, .cmdline = cmdline};

	memset(cmdline, 'x', 2999);
	cmdline[2999] = '\0';
	CHECK_INT(guest_mem_init(&mem, 64 << 20, NULL), ==, 0);
	CHECK_INT(x86_boot_load(&mem, &spec, &info, &err), <, 0);
	CHECK(strstr(err.msg, "command line") != NULL);
	spec.kernel = "/nonexistent/vmlinuz";
	spec.cmdline = "";
	CHECK_INT(x86_boot_load(&mem, &spec, &info, &err), <, 0);
	CHECK_STR(err.msg, "open kernel `/nonexistent/vmlinuz`");
	unlink(kernel);
	free(kernel);
	free(cmdline);
	free(img);
	mv_error_release(&err);
	guest_mem_release(&mem);
}

static struct kvm_cpuid_entry2 *leaf(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

TEST(cpuid_tells_topology_apic_id_and_hypervisor)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 4 * sizeof(struct kvm_cpuid_entry2));

	c->nent = 4;
	c->entries[0] = (struct kvm_cpuid_entry2){.function = 1, .ebx = 0xff00abcd};
	c->entries[1] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 0};
	c->entries[2] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 1};
	c->entries[3] = (struct kvm_cpuid_entry2){.function = 0x80000008, .ecx = 0xf0ff};
	x86_cpuid_patch(c, 2, 3);
	CHECK_INT(leaf(c, 1, 0)->ebx, ==, (2u << 24) | (3u << 16) | 0xabcd);
	CHECK(leaf(c, 1, 0)->ecx & (1u << 31));
	CHECK_INT(leaf(c, 0xb, 0)->ebx, ==, 1);
	CHECK_INT(leaf(c, 0xb, 0)->edx, ==, 2);
	CHECK_INT(leaf(c, 0xb, 1)->ebx, ==, 3);
	CHECK_INT(leaf(c, 0xb, 1)->eax, ==, 2); /* 3 CPUs need 2 bits of APIC id */
	CHECK_INT(leaf(c, 0x80000008, 0)->ecx & 0xff, ==, 2);
	free(c);
}

/* From a file, segments are read straight into guest memory: the bytes, the
 * cleared bss, and a file whose segment runs past its end refused. */
TEST(elf_vmlinux_file_is_read_into_guest_memory)
{
	struct guest_mem mem;
	struct boot_info info;
	mv_error_t err = {0};
	size_t size;
	uint8_t *img = make_elf(&size, MV_KERNEL_ADDR);
	char *kernel = write_temp(img, size), *cut = write_temp(img, size - 100);
	struct boot_spec spec = {.kernel = kernel, .cmdline = "quiet"};
	uint8_t *seg;

	CHECK_INT(guest_mem_init(&mem, 64 << 20, NULL), ==, 0);
	memset(guest_mem_ptr(&mem, MV_KERNEL_ADDR, 8192), 0x55, 8192);
	CHECK_INT(x86_boot_load(&mem, &spec, &info, NULL), ==, 0);
	CHECK_INT(info.entry, ==, MV_KERNEL_ADDR);
	seg = guest_mem_ptr(&mem, MV_KERNEL_ADDR, 8192);
	CHECK(seg[0] == 0xcc && seg[4095] == 0xcc);
	CHECK(seg[4096] == 0 && seg[8191] == 0);
	spec.kernel = cut;
	CHECK_INT(x86_boot_load(&mem, &spec, &info, &err), <, 0);
	CHECK(strstr(err.msg, "corrupt ELF program header") != NULL);
	mv_error_release(&err);
	spec.kernel = "/nonexistent/vmlinux";
	CHECK_INT(x86_boot_load(&mem, &spec, &info, &err), <, 0);
	CHECK(strstr(err.msg, "open kernel `/nonexistent/vmlinux`") != NULL);
	mv_error_release(&err);
	unlink(kernel);
	unlink(cut);
	free(kernel);
	free(cut);
	free(img);
	guest_mem_release(&mem);
}
