/* ACPI tables read back from guest memory by field offsets taken from the
 * ACPI specification (not from acpi.c's structs), and the DSDT walked by a
 * small AML decoder that must land exactly on every PkgLength. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "vmm/layout.h"
#include "vmm/memory.h"
#include "vmm/x86/acpi.h"

#define GUEST_SIZE (64ULL << 20)
#define HEADER_LEN 36

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

struct rig {
	struct guest_mem mem;
	uint64_t rsdp;
};

static void rig_build(struct rig *r, unsigned ncpus, unsigned ndevs)
{
	struct acpi_mmio_dev devs[MV_VIRTIO_MMIO_MAX];
	mv_error_t err = {0};

	CHECK(ndevs <= MV_VIRTIO_MMIO_MAX);
	for (unsigned i = 0; i < ndevs; i++)
		devs[i] = (struct acpi_mmio_dev){MV_VIRTIO_MMIO_BASE + i * MV_VIRTIO_MMIO_SIZE,
						 MV_VIRTIO_MMIO_SIZE, MV_IRQ_VIRTIO_FIRST + i};
	CHECK_INT(guest_mem_init(&r->mem, GUEST_SIZE, &err), ==, 0);
	CHECK_INT(acpi_build(&r->mem, ncpus, devs, ndevs, &r->rsdp, &err), ==, 0);
	CHECK(err.msg == NULL);
}

static void rig_release(struct rig *r)
{
	guest_mem_release(&r->mem);
}

/* A table at gpa: signature, length inside the ACPI area, checksum 0. */
static const uint8_t *table(struct rig *r, uint64_t gpa, const char *sig)
{
	const uint8_t *h = guest_mem_ptr(&r->mem, gpa, HEADER_LEN);
	uint32_t len;

	CHECK(h != NULL);
	CHECK(memcmp(h, sig, 4) == 0);
	len = le32(h + 4);
	CHECK_INT(len, >=, HEADER_LEN);
	CHECK_INT(gpa, >=, MV_ACPI_ADDR);
	CHECK_INT(gpa + len, <=, MV_ACPI_END);
	CHECK_INT(sum(h, len), ==, 0);
	CHECK(memcmp(h + 10, "MVRUN ", 6) == 0);
	CHECK(memcmp(h + 16, "MVRUNVM ", 8) == 0);
	return h;
}

static const uint8_t *rsdp(struct rig *r)
{
	const uint8_t *p = guest_mem_ptr(&r->mem, r->rsdp, 36);

	CHECK(p != NULL);
	return p;
}

static const uint8_t *xsdt_entry(struct rig *r, unsigned i, const char *sig)
{
	const uint8_t *x = table(r, le64(rsdp(r) + 24), "XSDT");

	CHECK_INT(le32(x + 4), ==, HEADER_LEN + 2 * 8);
	return table(r, le64(x + HEADER_LEN + 8 * i), sig);
}

static const uint8_t *fadt(struct rig *r)
{
	return xsdt_entry(r, 0, "FACP");
}

static const uint8_t *madt(struct rig *r)
{
	return xsdt_entry(r, 1, "APIC");
}

static const uint8_t *dsdt(struct rig *r)
{
	const uint8_t *f = fadt(r);

	CHECK_INT(le32(f + 40), ==, le64(f + 140));
	return table(r, le64(f + 140), "DSDT");
}

TEST(acpi_rsdp_is_at_e0000_with_both_checksums)
{
	struct rig r;
	const uint8_t *p;

	rig_build(&r, 1, 0);
	CHECK_INT(r.rsdp, ==, 0xe0000);
	p = rsdp(&r);
	CHECK(memcmp(p, "RSD PTR ", 8) == 0);
	CHECK_INT(sum(p, 20), ==, 0);
	CHECK_INT(p[15], ==, 2);	 /* revision */
	CHECK_INT(le32(p + 20), ==, 36); /* length */
	CHECK_INT(sum(p, 36), ==, 0);
	CHECK(memcmp(p + 9, "MVRUN ", 6) == 0);
	table(&r, le64(p + 24), "XSDT");
	rig_release(&r);
}

TEST(acpi_xsdt_lists_fadt_and_madt)
{
	struct rig r;

	rig_build(&r, 2, 3);
	CHECK_INT(fadt(&r)[8], ==, 6);
	CHECK_INT(le32(fadt(&r) + 4), ==, 276);
	CHECK(madt(&r) != NULL);
	CHECK(dsdt(&r) != NULL);
	rig_release(&r);
}

static void check_gas_port8(const uint8_t *g, uint16_t port)
{
	CHECK_INT(g[0], ==, 1); /* system I/O */
	CHECK_INT(g[1], ==, 8); /* bit width */
	CHECK_INT(g[2], ==, 0); /* bit offset */
	CHECK_INT(g[3], ==, 1); /* byte access */
	CHECK_INT(le64(g + 4), ==, port);
}

TEST(acpi_fadt_is_hardware_reduced_with_reset_and_sleep_registers)
{
	struct rig r;
	const uint8_t *f;
	uint32_t flags;
	uint16_t boot;

	rig_build(&r, 1, 1);
	f = fadt(&r);
	flags = le32(f + 112);
	CHECK(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	CHECK(flags & (1u << 10)); /* RESET_REG_SUP */
	boot = le16(f + 109);
	CHECK(!(boot & (1u << 1))); /* no 8042 */
	CHECK(boot & (1u << 2));    /* VGA not present */
	CHECK(boot & (1u << 5));    /* CMOS RTC not present */
	check_gas_port8(f + 116, MV_PORT_ACPI_RESET);
	CHECK_INT(f[128], ==, MV_ACPI_RESET_VALUE);
	check_gas_port8(f + 244, MV_PORT_ACPI_SLEEP_CONTROL);
	check_gas_port8(f + 256, MV_PORT_ACPI_SLEEP_STATUS);
	CHECK_INT(le32(f + 40), !=, 0);
	CHECK_INT(le32(f + 40), ==, le64(f + 140));
	rig_release(&r);
}

static void check_madt(unsigned ncpus)
{
	struct rig r;
	const uint8_t *m, *e, *end;
	unsigned lapics = 0, ioapics = 0, ioapic_id = 0;

	rig_build(&r, ncpus, 0);
	m = madt(&r);
	end = m + le32(m + 4);
	CHECK_INT(le32(m + 36), ==, MV_LAPIC_ADDR);
	CHECK_INT(le32(m + 40), ==, 1); /* PCAT_COMPAT */
	for (e = m + 44; e < end; e += e[1]) {
		CHECK_INT(e[1], >=, 2);
		CHECK_INT(e + e[1] - m, <=, end - m);
		if (e[0] == 0) {
			CHECK_INT(e[1], ==, 8);
			CHECK_INT(e[2], ==, lapics); /* processor UID */
			CHECK_INT(e[3], ==, lapics); /* APIC id */
			CHECK_INT(le32(e + 4) & 1, ==, 1);
			lapics++;
		} else {
			CHECK_INT(e[0], ==, 1);
			CHECK_INT(e[1], ==, 12);
			ioapic_id = e[2];
			CHECK_INT(le32(e + 4), ==, MV_IOAPIC_ADDR);
			CHECK_INT(le32(e + 8), ==, 0);
			ioapics++;
		}
	}
	CHECK(e == end);
	CHECK_INT(lapics, ==, ncpus);
	CHECK_INT(ioapics, ==, 1);
	CHECK_INT(ioapic_id, >=, ncpus); /* no clash with an APIC id */
	rig_release(&r);
}

TEST(acpi_madt_has_a_local_apic_per_cpu_and_one_ioapic)
{
	check_madt(1);
	check_madt(2);
	check_madt(64);
	check_madt(ACPI_MAX_CPUS);
}

/* ---- a small AML decoder for what the DSDT holds ---------------------------- */

struct aml_dev {
	char name[5];
	char hid[16];
	uint64_t uid;
	bool has_uid, has_mem, has_io, has_irq;
	uint32_t mem_base, mem_size, irq;
	uint16_t io_base;
	uint8_t io_len;
};

struct aml_walk {
	struct aml_dev devs[MV_VIRTIO_MMIO_MAX + 4];
	unsigned ndevs;
	uint64_t s5[4];
	unsigned s5_count;
	bool found_sb;
	unsigned multibyte_pkgs; /* PkgLengths in the 2-4 byte form */
};

struct aml_value {
	enum { AML_INT, AML_STR, AML_BUF, AML_PKG } kind;
	uint64_t num;
	char str[16];
	const uint8_t *buf;
	size_t buf_len;
	uint64_t pkg[8];
	unsigned pkg_count;
};

/* Returns where the package ends; *p moves past the PkgLength. */
static const uint8_t *pkg_end(struct aml_walk *w, const uint8_t **p, const uint8_t *end)
{
	const uint8_t *start = *p;
	unsigned follow;
	size_t len;

	CHECK(*p < end);
	follow = **p >> 6;
	len = follow ? **p & 0x0f : **p & 0x3f;
	if (follow) {
		CHECK_INT(**p & 0x30, ==, 0);
		w->multibyte_pkgs++;
	}
	CHECK_INT(end - *p, >, follow);
	for (unsigned i = 1; i <= follow; i++)
		len |= (size_t)(*p)[i] << (4 + 8 * (i - 1));
	*p += 1 + follow;
	CHECK_INT(len, >=, 1 + follow);
	if (follow) /* the shortest form */
		CHECK_INT(len, >=, follow == 1 ? 64 : 1u << (4 + 8 * (follow - 1)));
	CHECK_INT(len, <=, end - start);
	return start + len;
}

static void name_string(const uint8_t **p, const uint8_t *end, char *out)
{
	size_t n = 0;

	if (*p < end && **p == '\\')
		out[n++] = *(*p)++;
	CHECK_INT(end - *p, >=, 4);
	CHECK((**p >= 'A' && **p <= 'Z') || **p == '_');
	for (int i = 0; i < 4; i++) {
		char c = (char)*(*p)++;
		CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
		out[n++] = c;
	}
	out[n] = 0;
}

static uint64_t integer(const uint8_t **p, const uint8_t *end)
{
	static const size_t sizes[] = {[0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8};
	uint8_t op;
	uint64_t v = 0;

	CHECK(*p < end);
	op = *(*p)++;
	if (op == 0x00 || op == 0x01)
		return op;
	if (op == 0xff)
		return UINT64_MAX;
	CHECK(op < sizeof(sizes) / sizeof(sizes[0]) && sizes[op]);
	CHECK_INT(end - *p, >=, sizes[op]);
	for (size_t i = 0; i < sizes[op]; i++)
		v |= (uint64_t) * (*p)++ << (8 * i);
	return v;
}

static void data_object(struct aml_walk *w, const uint8_t **p, const uint8_t *end,
			struct aml_value *v)
{
	const uint8_t *obj_end, *nul;

	memset(v, 0, sizeof(*v));
	CHECK(*p < end);
	switch (**p) {
	case 0x0d: /* String */
		(*p)++;
		nul = memchr(*p, 0, end - *p);
		CHECK(nul != NULL && nul - *p < (long)sizeof(v->str));
		v->kind = AML_STR;
		memcpy(v->str, *p, nul - *p + 1);
		*p = nul + 1;
		return;
	case 0x11: /* Buffer */
		(*p)++;
		obj_end = pkg_end(w, p, end);
		v->kind = AML_BUF;
		v->buf_len = integer(p, obj_end);
		CHECK_INT(v->buf_len, ==, obj_end - *p);
		v->buf = *p;
		*p = obj_end;
		return;
	case 0x12: /* Package of integers */
		(*p)++;
		obj_end = pkg_end(w, p, end);
		v->kind = AML_PKG;
		CHECK(*p < obj_end);
		v->pkg_count = *(*p)++;
		CHECK_INT(v->pkg_count, <=, 8);
		for (unsigned i = 0; i < v->pkg_count; i++)
			v->pkg[i] = integer(p, obj_end);
		CHECK(*p == obj_end);
		return;
	default:
		v->kind = AML_INT;
		v->num = integer(p, end);
	}
}

/* A resource template: Memory32Fixed, IO, Extended Interrupt, End Tag last. */
static void resources(const uint8_t *b, size_t n, struct aml_dev *d)
{
	const uint8_t *end = b + n;

	while (b < end) {
		if (b[0] == 0x79) { /* End Tag */
			CHECK_INT(end - b, ==, 2);
			return;
		}
		if (b[0] == 0x47) { /* IO */
			CHECK_INT(end - b, >=, 8);
			CHECK_INT(le16(b + 2), ==, le16(b + 4)); /* fixed range */
			d->has_io = true;
			d->io_base = le16(b + 2);
			d->io_len = b[7];
			b += 8;
			continue;
		}
		CHECK(b[0] & 0x80); /* a large item */
		CHECK_INT(end - b, >=, 3 + le16(b + 1));
		if (b[0] == 0x86) { /* Memory32Fixed */
			CHECK_INT(le16(b + 1), ==, 9);
			CHECK_INT(b[3], ==, 1); /* read-write */
			d->has_mem = true;
			d->mem_base = le32(b + 4);
			d->mem_size = le32(b + 8);
		} else {
			CHECK_INT(b[0], ==, 0x89); /* Extended Interrupt */
			CHECK_INT(le16(b + 1), ==, 6);
			CHECK_INT(b[3], ==, 0x03); /* consumer, edge, high, exclusive */
			CHECK_INT(b[4], ==, 1);
			d->has_irq = true;
			d->irq = le32(b + 5);
		}
		b += 3 + le16(b + 1);
	}
	CHECK(!"resource template without an End Tag");
}

static void name_object(struct aml_walk *w, const uint8_t **p, const uint8_t *end,
			struct aml_dev *d)
{
	struct aml_value v;
	char name[8];

	name_string(p, end, name);
	data_object(w, p, end, &v);
	if (strcmp(name, "\\_S5_") == 0) {
		CHECK(d == NULL);
		CHECK_INT(v.kind, ==, AML_PKG);
		w->s5_count = v.pkg_count;
		memcpy(w->s5, v.pkg, sizeof(w->s5));
		return;
	}
	CHECK(d != NULL);
	if (strcmp(name, "_HID") == 0) {
		CHECK_INT(v.kind, ==, AML_STR);
		memcpy(d->hid, v.str, sizeof(d->hid));
	} else if (strcmp(name, "_UID") == 0) {
		CHECK_INT(v.kind, ==, AML_INT);
		d->has_uid = true;
		d->uid = v.num;
	} else {
		CHECK_STR(name, "_CRS");
		CHECK_INT(v.kind, ==, AML_BUF);
		resources(v.buf, v.buf_len, d);
	}
}

static void term_list(struct aml_walk *w, const uint8_t *p, const uint8_t *end, int depth,
		      struct aml_dev *d);

static void scope_or_device(struct aml_walk *w, const uint8_t **p, const uint8_t *end, int depth,
			    bool device)
{
	const uint8_t *obj_end = pkg_end(w, p, end);
	struct aml_dev *d = NULL;
	char name[8];

	name_string(p, obj_end, name);
	if (device) {
		CHECK_INT(depth, ==, 1);
		CHECK_INT(w->ndevs, <, sizeof(w->devs) / sizeof(w->devs[0]));
		d = &w->devs[w->ndevs++];
		memcpy(d->name, name, sizeof(d->name));
	} else {
		CHECK_INT(depth, ==, 0);
		CHECK_STR(name, "\\_SB_");
		w->found_sb = true;
	}
	term_list(w, *p, obj_end, depth + 1, d);
	*p = obj_end;
}

static void term_list(struct aml_walk *w, const uint8_t *p, const uint8_t *end, int depth,
		      struct aml_dev *d)
{
	while (p < end) {
		if (p[0] == 0x10) { /* Scope */
			p++;
			scope_or_device(w, &p, end, depth, false);
		} else if (p[0] == 0x5b && end - p >= 2 && p[1] == 0x82) { /* Device */
			p += 2;
			scope_or_device(w, &p, end, depth, true);
		} else {
			CHECK_INT(p[0], ==, 0x08); /* Name */
			p++;
			name_object(w, &p, end, d);
		}
	}
	CHECK(p == end);
}

static void walk_dsdt(struct rig *r, struct aml_walk *w)
{
	const uint8_t *t = dsdt(r);

	memset(w, 0, sizeof(*w));
	CHECK_INT(t[8], ==, 2); /* revision 2: 64-bit integers */
	term_list(w, t + HEADER_LEN, t + le32(t + 4), 0, NULL);
	CHECK(w->found_sb);
}

static unsigned count_string(const uint8_t *hay, size_t n, const char *needle)
{
	size_t len = strlen(needle);
	unsigned count = 0;

	for (size_t i = 0; i + len <= n; i++)
		count += memcmp(hay + i, needle, len) == 0;
	return count;
}

static void check_dsdt(unsigned ndevs)
{
	struct rig r;
	struct aml_walk w;
	const uint8_t *t;

	rig_build(&r, 4, ndevs);
	walk_dsdt(&r, &w);
	t = dsdt(&r);
	CHECK_INT(count_string(t, le32(t + 4), "LNRO0005"), ==, ndevs);
	CHECK_INT(w.ndevs, ==, ndevs + 1);
	CHECK_STR(w.devs[0].name, "COM1");
	CHECK_STR(w.devs[0].hid, "PNP0501");
	CHECK(w.devs[0].has_io && w.devs[0].has_irq && !w.devs[0].has_mem);
	CHECK_INT(w.devs[0].io_base, ==, MV_PORT_SERIAL);
	CHECK_INT(w.devs[0].io_len, ==, 8);
	CHECK_INT(w.devs[0].irq, ==, MV_IRQ_SERIAL);
	for (unsigned i = 0; i < ndevs; i++) {
		struct aml_dev *d = &w.devs[i + 1];
		char name[8];

		snprintf(name, sizeof(name), "VR%02u", i);
		CHECK_STR(d->name, name);
		CHECK_STR(d->hid, "LNRO0005");
		CHECK(d->has_uid && d->has_mem && d->has_irq && !d->has_io);
		CHECK_INT(d->uid, ==, i);
		CHECK_INT(d->mem_base, ==, MV_VIRTIO_MMIO_BASE + i * MV_VIRTIO_MMIO_SIZE);
		CHECK_INT(d->mem_size, ==, MV_VIRTIO_MMIO_SIZE);
		CHECK_INT(d->irq, ==, MV_IRQ_VIRTIO_FIRST + i);
	}
	CHECK_INT(w.s5_count, ==, 4);
	CHECK_INT(w.s5[0], ==, MV_ACPI_S5_TYPE);
	CHECK_INT(w.s5[1] | w.s5[2] | w.s5[3], ==, 0);
	/* With a virtio device the \_SB scope is over 63 bytes. */
	if (ndevs > 0)
		CHECK_INT(w.multibyte_pkgs, >=, 1);
	rig_release(&r);
}

TEST(acpi_dsdt_walks_exactly_without_virtio_devices)
{
	check_dsdt(0);
}

TEST(acpi_dsdt_walks_exactly_with_one_device)
{
	check_dsdt(1);
}

TEST(acpi_dsdt_walks_exactly_with_16_devices)
{
	struct rig r;
	const uint8_t *t;

	check_dsdt(MV_VIRTIO_MMIO_MAX);
	/* The \_SB scope's PkgLength takes the two-byte form. */
	rig_build(&r, 1, MV_VIRTIO_MMIO_MAX);
	t = dsdt(&r);
	CHECK_INT(t[HEADER_LEN], ==, 0x10);
	CHECK_INT(t[HEADER_LEN + 1] >> 6, ==, 1);
	CHECK_INT(le32(t + 4), >, 900);
	rig_release(&r);
}

TEST(acpi_tables_fit_below_1mib_and_do_not_overlap)
{
	struct rig r;
	uint64_t at[5];
	uint32_t len[5];
	const uint8_t *x;

	rig_build(&r, ACPI_MAX_CPUS, MV_VIRTIO_MMIO_MAX);
	x = table(&r, le64(rsdp(&r) + 24), "XSDT");
	at[0] = r.rsdp, len[0] = 36;
	at[1] = le64(rsdp(&r) + 24), len[1] = le32(x + 4);
	at[2] = le64(x + 36), len[2] = le32(fadt(&r) + 4);
	at[3] = le64(x + 44), len[3] = le32(madt(&r) + 4);
	at[4] = le64(fadt(&r) + 140), len[4] = le32(dsdt(&r) + 4);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(at[i] + len[i], <=, MV_ACPI_END);
		for (int j = 0; j < 5; j++)
			CHECK(i == j || at[i] + len[i] <= at[j] || at[j] + len[j] <= at[i]);
	}
	rig_release(&r);
}

static void check_rejected(unsigned ncpus, const struct acpi_mmio_dev *devs, unsigned ndevs,
			   const char *what)
{
	struct guest_mem mem;
	mv_error_t err = {0};
	uint64_t rsdp_gpa = 0;
	const uint8_t *p;

	CHECK_INT(guest_mem_init(&mem, GUEST_SIZE, &err), ==, 0);
	CHECK_INT(acpi_build(&mem, ncpus, devs, ndevs, &rsdp_gpa, &err), <, 0);
	CHECK(err.msg != NULL && strstr(err.msg, what) != NULL);
	CHECK_INT(rsdp_gpa, ==, 0);
	p = guest_mem_ptr(&mem, MV_ACPI_ADDR, 8);
	CHECK(memcmp(p, "RSD PTR ", 8) != 0); /* nothing written */
	mv_error_release(&err);
	guest_mem_release(&mem);
}

TEST(acpi_rejects_too_many_cpus)
{
	check_rejected(ACPI_MAX_CPUS + 1, NULL, 0, "256 vCPUs");
	check_rejected(0, NULL, 0, "0 vCPUs");
}

TEST(acpi_rejects_bad_devices)
{
	struct acpi_mmio_dev devs[MV_VIRTIO_MMIO_MAX + 1] = {{0}};

	for (unsigned i = 0; i <= MV_VIRTIO_MMIO_MAX; i++)
		devs[i] = (struct acpi_mmio_dev){MV_VIRTIO_MMIO_BASE, MV_VIRTIO_MMIO_SIZE, 5};
	check_rejected(1, devs, MV_VIRTIO_MMIO_MAX + 1, "virtio-mmio devices: at most");
	devs[0].base = 0xfffff000ULL;
	devs[0].size = 0x2000;
	check_rejected(1, devs, 1, "below 4 GiB");
	devs[0].base = MV_HIGH_RAM_START;
	devs[0].size = 0x1000;
	check_rejected(1, devs, 1, "below 4 GiB");
	devs[0].base = MV_VIRTIO_MMIO_BASE;
	devs[0].size = 0;
	check_rejected(1, devs, 1, "below 4 GiB");
	devs[0].size = 0x1000;
	devs[0].irq = 24;
	check_rejected(1, devs, 1, "24 pins");
}
