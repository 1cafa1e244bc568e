/* ACPI tables, built from the ACPI 6.5 specification: fixed tables as packed
 * structs (the host is x86, little endian like ACPI), the DSDT with a small
 * AML byte builder.  Everything is assembled in host buffers and copied into
 * guest memory at the end, each table through guest_mem_ptr(). */
#include "vmm/x86/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cleanup.h"
#include "vmm/layout.h"

#define ACPI_OEM_ID	      "MVRUN "
#define ACPI_OEM_TABLE_ID     "MVRUNVM "
#define ACPI_OEM_REVISION     1
#define ACPI_CREATOR_ID	      "MVRN"
#define ACPI_CREATOR_REVISION 1
#define ACPI_TABLE_ALIGN      16
#define ACPI_IOAPIC_PINS      24 /* KVM's in-kernel I/O APIC */

/* ---- fixed tables ----------------------------------------------------------- */

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* over the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision; /* 2: XSDT present */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all of it */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
#define ACPI_RSDP_V1_LENGTH 20

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum; /* the whole table sums to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "table header layout");

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space_id; /* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1: byte */
	uint64_t address;
} __attribute__((packed));
#define ACPI_GAS_SYSTEM_IO   1
#define ACPI_GAS_ACCESS_BYTE 1

#define ACPI_XSDT_ENTRIES 2 /* FADT, MADT */
struct acpi_xsdt {
	struct acpi_header header;
	uint64_t entry[ACPI_XSDT_ENTRIES];
} __attribute__((packed));

/* FADT revision 6.  A hardware-reduced platform has none of the PC power
 * management blocks, so those fields are left zero in bulk. */
struct acpi_fadt {
	struct acpi_header header;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint8_t legacy_pm[61]; /* SMI_CMD .. CENTURY */
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_legacy_pm[8]; /* X_PM1a_EVT_BLK .. X_GPE1_BLK */
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT layout");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT layout");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT layout");
#define ACPI_FADT_REVISION	6
#define ACPI_FADT_MINOR_VERSION 5
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED	(1u << 20)
#define ACPI_IAPC_NO_VGA	(1u << 2)
#define ACPI_IAPC_NO_MSI	(1u << 3)
#define ACPI_IAPC_NO_CMOS_RTC	(1u << 5)

struct acpi_madt {
	struct acpi_header header;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

struct acpi_madt_lapic {
	uint8_t type; /* 0 */
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct acpi_madt_ioapic {
	uint8_t type; /* 1 */
	uint8_t length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
#define ACPI_MADT_REVISION     5
#define ACPI_MADT_PCAT_COMPAT  1u
#define ACPI_MADT_TYPE_LAPIC   0
#define ACPI_MADT_TYPE_IOAPIC  1
#define ACPI_MADT_LAPIC_ENABLE 1u

#define ACPI_XSDT_REVISION 1
#define ACPI_DSDT_REVISION 2 /* 64-bit AML integers */

static uint8_t checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

static void header_init(struct acpi_header *h, const char *signature, size_t len, uint8_t revision)
{
	memcpy(h->signature, signature, sizeof(h->signature));
	h->length = (uint32_t)len;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, sizeof(h->oem_id));
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, sizeof(h->oem_table_id));
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, sizeof(h->creator_id));
	h->creator_revision = ACPI_CREATOR_REVISION;
}

/* Set the checksum of a finished table whose header says its length. */
static void table_seal(void *table)
{
	struct acpi_header *h = table;

	h->checksum = 0;
	h->checksum = checksum(table, h->length);
}

static struct acpi_gas gas_port8(uint16_t port)
{
	return (struct acpi_gas){
	    .space_id = ACPI_GAS_SYSTEM_IO,
	    .bit_width = 8,
	    .access_size = ACPI_GAS_ACCESS_BYTE,
	    .address = port,
	};
}

static void rsdp_fill(struct acpi_rsdp *r, uint64_t xsdt)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->signature, "RSD PTR ", sizeof(r->signature));
	memcpy(r->oem_id, ACPI_OEM_ID, sizeof(r->oem_id));
	r->revision = 2;
	r->length = sizeof(*r);
	r->xsdt_address = xsdt;
	r->checksum = checksum(r, ACPI_RSDP_V1_LENGTH);
	r->extended_checksum = checksum(r, sizeof(*r));
}

static void xsdt_fill(struct acpi_xsdt *x, uint64_t fadt, uint64_t madt)
{
	memset(x, 0, sizeof(*x));
	header_init(&x->header, "XSDT", sizeof(*x), ACPI_XSDT_REVISION);
	x->entry[0] = fadt;
	x->entry[1] = madt;
	table_seal(x);
}

static void fadt_fill(struct acpi_fadt *f, uint64_t dsdt)
{
	memset(f, 0, sizeof(*f));
	header_init(&f->header, "FACP", sizeof(*f), ACPI_FADT_REVISION);
	f->dsdt = (uint32_t)dsdt;
	f->x_dsdt = dsdt;
	/* No VGA, no i8042 (bit 1 clear), no CMOS RTC, no PCI so no MSI. */
	f->iapc_boot_arch = ACPI_IAPC_NO_VGA | ACPI_IAPC_NO_MSI | ACPI_IAPC_NO_CMOS_RTC;
	f->flags = ACPI_FADT_HW_REDUCED | ACPI_FADT_RESET_REG_SUP;
	f->reset_reg = gas_port8(MV_PORT_ACPI_RESET);
	f->reset_value = MV_ACPI_RESET_VALUE;
	f->minor_version = ACPI_FADT_MINOR_VERSION;
	f->sleep_control_reg = gas_port8(MV_PORT_ACPI_SLEEP_CONTROL);
	f->sleep_status_reg = gas_port8(MV_PORT_ACPI_SLEEP_STATUS);
	memcpy(f->hypervisor_vendor, ACPI_OEM_TABLE_ID, sizeof(f->hypervisor_vendor));
	table_seal(f);
}

/* One enabled local APIC per vCPU (processor UID = APIC id = index), then the
 * I/O APIC with an id after the CPUs' and GSIs from 0: pin n is GSI n. */
static uint8_t *madt_build(unsigned ncpus, size_t *len)
{
	size_t size = sizeof(struct acpi_madt) + ncpus * sizeof(struct acpi_madt_lapic) +
		      sizeof(struct acpi_madt_ioapic);
	uint8_t *t = calloc(1, size);
	struct acpi_madt_lapic *lapic;
	struct acpi_madt_ioapic *ioapic;
	struct acpi_madt *madt = (struct acpi_madt *)t;

	if (t == NULL)
		return NULL;
	header_init(&madt->header, "APIC", size, ACPI_MADT_REVISION);
	madt->lapic_address = MV_LAPIC_ADDR;
	madt->flags = ACPI_MADT_PCAT_COMPAT;
	lapic = (struct acpi_madt_lapic *)(madt + 1);
	for (unsigned i = 0; i < ncpus; i++, lapic++)
		*lapic = (struct acpi_madt_lapic){ACPI_MADT_TYPE_LAPIC, sizeof(*lapic), i, i,
						  ACPI_MADT_LAPIC_ENABLE};
	ioapic = (struct acpi_madt_ioapic *)lapic;
	*ioapic = (struct acpi_madt_ioapic){
	    ACPI_MADT_TYPE_IOAPIC, sizeof(*ioapic), ncpus, 0, MV_IOAPIC_ADDR, 0};
	table_seal(t);
	*len = size;
	return t;
}

/* ---- AML ------------------------------------------------------------------ */

#define AML_ZERO_OP	  0x00
#define AML_ONE_OP	  0x01
#define AML_NAME_OP	  0x08
#define AML_BYTE_PREFIX	  0x0a
#define AML_WORD_PREFIX	  0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP	  0x10
#define AML_BUFFER_OP	  0x11
#define AML_PACKAGE_OP	  0x12
#define AML_EXT_OP	  0x5b
#define AML_DEVICE_OP	  0x82 /* after AML_EXT_OP */

/* A growable byte buffer; a failure (out of memory, a package over 256 MiB)
 * is sticky and checked once at the end. */
struct aml {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

static void aml_release(struct aml *a)
{
	free(a->data);
	memset(a, 0, sizeof(*a));
}
#define cleanup_aml __attribute__((cleanup(aml_release)))

/* Append n bytes of room; NULL once the buffer has failed. */
static uint8_t *aml_grow(struct aml *a, size_t n)
{
	if (a->failed)
		return NULL;
	if (a->cap - a->len < n) {
		size_t cap = a->cap ? a->cap : 256;
		while (cap - a->len < n)
			cap *= 2;
		uint8_t *p = realloc(a->data, cap);
		if (p == NULL) {
			a->failed = true;
			return NULL;
		}
		a->data = p;
		a->cap = cap;
	}
	a->len += n;
	return a->data + a->len - n;
}

static void aml_put(struct aml *a, const void *src, size_t n)
{
	uint8_t *p = aml_grow(a, n);

	if (p)
		memcpy(p, src, n);
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_put(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

/* A NameString as written: "\\_SB_" (root-relative) or a 4-char "VR00". */
static void aml_name(struct aml *a, const char *name)
{
	aml_put(a, name, strlen(name));
}

static void aml_integer(struct aml *a, uint64_t v)
{
	static const struct {
		uint64_t max;
		uint8_t prefix;
		size_t size;
	} forms[] = {
	    {UINT8_MAX, AML_BYTE_PREFIX, 1},
	    {UINT16_MAX, AML_WORD_PREFIX, 2},
	    {UINT32_MAX, AML_DWORD_PREFIX, 4},
	    {UINT64_MAX, AML_QWORD_PREFIX, 8},
	};

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
		return;
	}
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (v <= forms[i].max) {
			aml_byte(a, forms[i].prefix);
			aml_le(a, v, forms[i].size);
			return;
		}
	}
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_put(a, s, strlen(s) + 1);
}

/* PkgLength counts its own bytes: one byte up to 63 in all, else a lead byte
 * (following-byte count in bits 7-6, length bits 3-0) and 1-3 more bytes
 * with the next bits, low first.  Returns the encoding's size, 0 if the
 * package is too long. */
static size_t aml_pkg_length(size_t body, uint8_t out[4])
{
	size_t n, total;

	if (body + 1 <= 0x3f) {
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	for (n = 2; n <= 4; n++) {
		total = body + n;
		if (total < (1u << (4 + 8 * (n - 1))))
			break;
	}
	if (n > 4)
		return 0;
	out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	return n;
}

/* Start a package (Scope, Device, Buffer, Package) after its opcode; its
 * PkgLength is inserted by aml_pkg_close() once the body is known. */
static size_t aml_pkg_open(struct aml *a)
{
	return a->len;
}

static void aml_pkg_close(struct aml *a, size_t start)
{
	uint8_t enc[4];
	size_t body = a->len - start;
	size_t n = aml_pkg_length(body, enc);

	if (n == 0)
		a->failed = true;
	if (aml_grow(a, n) == NULL)
		return;
	memmove(a->data + start + n, a->data + start, body);
	memcpy(a->data + start, enc, n);
}

/* ---- resource templates (the buffer a _CRS returns) --------------------------- */

#define RES_IO		   0x47 /* small item 0x08, 7 bytes */
#define RES_IO_DECODE16	   0x01
#define RES_END_TAG	   0x79 /* small item 0x0f, 1 byte */
#define RES_MEMORY32_FIXED 0x86 /* large item 0x06 */
#define RES_MEMORY_RW	   0x01
#define RES_EXT_IRQ	   0x89 /* large item 0x09 */
#define RES_IRQ_CONSUMER   0x01
#define RES_IRQ_EDGE	   0x02 /* bit 2 clear: active high; bit 3 clear: exclusive */

struct resources {
	uint8_t b[64];
	size_t len;
	bool overflow;
};

static void res_put(struct resources *r, const uint8_t *src, size_t n)
{
	if (n > sizeof(r->b) - r->len) {
		r->overflow = true;
		return;
	}
	memcpy(r->b + r->len, src, n);
	r->len += n;
}

static void res_io(struct resources *r, uint16_t port, uint8_t len)
{
	const uint8_t d[] = {RES_IO,	  RES_IO_DECODE16, port & 0xff, port >> 8,
			     port & 0xff, port >> 8,	   1,		len};

	res_put(r, d, sizeof(d));
}

static void res_memory32(struct resources *r, uint32_t base, uint32_t size)
{
	const uint8_t d[] = {RES_MEMORY32_FIXED,
			     9,
			     0,
			     RES_MEMORY_RW,
			     base & 0xff,
			     (base >> 8) & 0xff,
			     (base >> 16) & 0xff,
			     base >> 24,
			     size & 0xff,
			     (size >> 8) & 0xff,
			     (size >> 16) & 0xff,
			     size >> 24};

	res_put(r, d, sizeof(d));
}

/* Extended Interrupt: consumer, edge, active high, exclusive, one GSI. */
static void res_interrupt(struct resources *r, uint32_t gsi)
{
	const uint8_t d[] = {RES_EXT_IRQ,
			     6,
			     0,
			     RES_IRQ_CONSUMER | RES_IRQ_EDGE,
			     1,
			     gsi & 0xff,
			     (gsi >> 8) & 0xff,
			     (gsi >> 16) & 0xff,
			     gsi >> 24};

	res_put(r, d, sizeof(d));
}

/* Name(_CRS, ResourceTemplate() {...}): a Buffer ending in an End Tag whose
 * checksum byte is 0 ("treat as correct"). */
static void aml_crs(struct aml *a, struct resources *r)
{
	const uint8_t end[] = {RES_END_TAG, 0};
	size_t buf;

	res_put(r, end, sizeof(end));
	if (r->overflow)
		a->failed = true;
	aml_byte(a, AML_NAME_OP);
	aml_name(a, "_CRS");
	aml_byte(a, AML_BUFFER_OP);
	buf = aml_pkg_open(a);
	aml_integer(a, r->len);
	aml_put(a, r->b, r->len);
	aml_pkg_close(a, buf);
}

/* Device(name) { Name(_HID, hid) Name(_UID, uid) Name(_CRS, ...) } */
static void aml_device(struct aml *a, const char *name, const char *hid, unsigned uid,
		       struct resources *crs)
{
	size_t dev;

	aml_byte(a, AML_EXT_OP);
	aml_byte(a, AML_DEVICE_OP);
	dev = aml_pkg_open(a);
	aml_name(a, name);
	aml_byte(a, AML_NAME_OP);
	aml_name(a, "_HID");
	aml_string(a, hid);
	aml_byte(a, AML_NAME_OP);
	aml_name(a, "_UID");
	aml_integer(a, uid);
	aml_crs(a, crs);
	aml_pkg_close(a, dev);
}

/* COM1: with hardware-reduced ACPI Linux pre-assigns no ISA interrupts, so
 * the 8250 driver only gets IRQ 4 through this PNP device. */
static void aml_serial(struct aml *a)
{
	struct resources crs = {0};

	res_io(&crs, MV_PORT_SERIAL, 8);
	res_interrupt(&crs, MV_IRQ_SERIAL);
	aml_device(a, "COM1", "PNP0501", 0, &crs);
}

_Static_assert(MV_VIRTIO_MMIO_MAX <= 100, "virtio-mmio device names are VR00..VR99");

/* Linux's virtio_mmio driver matches "LNRO0005". */
static void aml_virtio_mmio(struct aml *a, unsigned index, const struct acpi_mmio_dev *d)
{
	struct resources crs = {0};
	const char name[] = {'V', 'R', '0' + index / 10, '0' + index % 10, 0};

	res_memory32(&crs, (uint32_t)d->base, d->size);
	res_interrupt(&crs, d->irq);
	aml_device(a, name, "LNRO0005", index, &crs);
}

/* Name(\_S5_, Package() {SLP_TYP a, SLP_TYP b, 0, 0}) */
static void aml_s5(struct aml *a)
{
	size_t pkg;

	aml_byte(a, AML_NAME_OP);
	aml_name(a, "\\_S5_");
	aml_byte(a, AML_PACKAGE_OP);
	pkg = aml_pkg_open(a);
	aml_byte(a, 4);
	aml_integer(a, MV_ACPI_S5_TYPE);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_pkg_close(a, pkg);
}

static int dsdt_build(struct aml *a, const struct acpi_mmio_dev *devs, unsigned ndevs)
{
	struct acpi_header h = {0};
	size_t sb;

	aml_put(a, &h, sizeof(h));
	aml_byte(a, AML_SCOPE_OP);
	sb = aml_pkg_open(a);
	aml_name(a, "\\_SB_");
	aml_serial(a);
	for (unsigned i = 0; i < ndevs; i++)
		aml_virtio_mmio(a, i, &devs[i]);
	aml_pkg_close(a, sb);
	aml_s5(a);
	if (a->failed)
		return -1;
	header_init((struct acpi_header *)a->data, "DSDT", a->len, ACPI_DSDT_REVISION);
	table_seal(a->data);
	return 0;
}

/* ---- placement --------------------------------------------------------------- */

static int check_args(unsigned ncpus, const struct acpi_mmio_dev *devs, unsigned ndevs,
		      mv_error_t *err)
{
	if (ncpus == 0 || ncpus > ACPI_MAX_CPUS)
		return mv_error(err, EINVAL, "%u vCPUs: between 1 and %u are supported", ncpus,
				ACPI_MAX_CPUS);
	if (ndevs > MV_VIRTIO_MMIO_MAX)
		return mv_error(err, EINVAL, "%u virtio-mmio devices: at most %u are supported",
				ndevs, MV_VIRTIO_MMIO_MAX);
	for (unsigned i = 0; i < ndevs; i++) {
		if (devs[i].size == 0 || devs[i].base > UINT32_MAX ||
		    devs[i].size > (1ULL << 32) - devs[i].base)
			return mv_error(
			    err, EINVAL,
			    "virtio-mmio device %u at 0x%llx+0x%x: must be non-empty, below 4 GiB",
			    i, (unsigned long long)devs[i].base, devs[i].size);
		if (devs[i].irq >= ACPI_IOAPIC_PINS)
			return mv_error(err, EINVAL,
					"virtio-mmio device %u on IRQ %u: the I/O APIC has %u pins",
					i, devs[i].irq, ACPI_IOAPIC_PINS);
	}
	return 0;
}

static uint64_t align_up(uint64_t v)
{
	return (v + ACPI_TABLE_ALIGN - 1) & ~(uint64_t)(ACPI_TABLE_ALIGN - 1);
}

static int guest_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len,
		       mv_error_t *err)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (dst == NULL)
		return mv_error(err, EFAULT, "ACPI table at 0x%llx+0x%zx is outside guest memory",
				(unsigned long long)gpa, len);
	memcpy(dst, src, len);
	return 0;
}

struct placement {
	uint64_t rsdp, xsdt, fadt, madt, dsdt, end;
};

static void place(struct placement *at, size_t madt_len, size_t dsdt_len)
{
	at->rsdp = MV_ACPI_ADDR;
	at->xsdt = align_up(at->rsdp + sizeof(struct acpi_rsdp));
	at->fadt = align_up(at->xsdt + sizeof(struct acpi_xsdt));
	at->madt = align_up(at->fadt + sizeof(struct acpi_fadt));
	at->dsdt = align_up(at->madt + madt_len);
	at->end = at->dsdt + dsdt_len;
}

static int write_fixed_tables(const struct guest_mem *mem, const struct placement *at,
			      mv_error_t *err)
{
	struct acpi_rsdp rsdp;
	struct acpi_xsdt xsdt;
	struct acpi_fadt fadt;

	rsdp_fill(&rsdp, at->xsdt);
	xsdt_fill(&xsdt, at->fadt, at->madt);
	fadt_fill(&fadt, at->dsdt);
	if (guest_write(mem, at->rsdp, &rsdp, sizeof(rsdp), err) < 0 ||
	    guest_write(mem, at->xsdt, &xsdt, sizeof(xsdt), err) < 0 ||
	    guest_write(mem, at->fadt, &fadt, sizeof(fadt), err) < 0)
		return -1;
	return 0;
}

int acpi_build(const struct guest_mem *mem, unsigned ncpus, const struct acpi_mmio_dev *devs,
	       unsigned ndevs, uint64_t *rsdp_gpa, mv_error_t *err)
{
	cleanup_free uint8_t *madt = NULL;
	cleanup_aml struct aml dsdt = {0};
	struct placement at;
	size_t madt_len = 0;

	if (check_args(ncpus, devs, ndevs, err) < 0)
		return -1;
	madt = madt_build(ncpus, &madt_len);
	if (madt == NULL || dsdt_build(&dsdt, devs, ndevs) < 0)
		return mv_error(err, ENOMEM, "build ACPI tables");
	place(&at, madt_len, dsdt.len);
	if (at.end > MV_ACPI_END)
		return mv_error(err, ENOSPC, "ACPI tables need %llu bytes, %llu fit below 1 MiB",
				(unsigned long long)(at.end - MV_ACPI_ADDR),
				(unsigned long long)(MV_ACPI_END - MV_ACPI_ADDR));
	if (write_fixed_tables(mem, &at, err) < 0 ||
	    guest_write(mem, at.madt, madt, madt_len, err) < 0 ||
	    guest_write(mem, at.dsdt, dsdt.data, dsdt.len, err) < 0)
		return -1;
	*rsdp_gpa = at.rsdp;
	return 0;
}
