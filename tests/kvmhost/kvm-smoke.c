/* KVM smoke test: proves that /dev/kvm runs guests.  One vCPU in real mode
 * adds two numbers chosen at run time, writes the sum to an I/O port and
 * halts; the exits must be KVM_EXIT_IO with that value, then KVM_EXIT_HLT.
 * tests/kvmhost/run also uses it to decide whether /dev/kvm is usable. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_ADDR 0x1000
#define TEST_PORT  0xe9

static int fail(const char *what)
{
	fprintf(stderr, "kvm-smoke: %s: %s\n", what, strerror(errno));
	return 1;
}

static int fail_exit(const char *expected, const struct kvm_run *run)
{
	fprintf(stderr, "kvm-smoke: expected %s, got exit reason %u\n", expected, run->exit_reason);
	return 1;
}

/* mov dx, TEST_PORT; mov al, A; add al, bl; out dx, al; hlt */
static void guest_code(uint8_t *mem, uint8_t a)
{
	const uint8_t code[] = {
	    0xba, TEST_PORT, 0x00, /* mov dx, imm16 */
	    0xb0, a,		   /* mov al, imm8 */
	    0x00, 0xd8,		   /* add al, bl */
	    0xee,		   /* out dx, al */
	    0xf4,		   /* hlt */
	};
	memcpy(mem, code, sizeof(code));
}

static int setup_vcpu(int vcpu, uint8_t b)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = GUEST_ADDR, .rbx = b, .rflags = 0x2};

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");
	return 0;
}

static int check_exits(int vcpu, struct kvm_run *run, uint8_t expected)
{
	const uint8_t *data;

	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN");
	if (run->exit_reason != KVM_EXIT_IO)
		return fail_exit("KVM_EXIT_IO", run);
	data = (const uint8_t *)run + run->io.data_offset;
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != TEST_PORT ||
	    run->io.size != 1 || run->io.count != 1 || *data != expected) {
		fprintf(stderr,
			"kvm-smoke: wrong I/O exit: dir %u port %#x size %u value %u (want %u)\n",
			run->io.direction, run->io.port, run->io.size, *data, expected);
		return 1;
	}
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN");
	if (run->exit_reason != KVM_EXIT_HLT)
		return fail_exit("KVM_EXIT_HLT", run);
	printf("kvm-smoke: ok: KVM_EXIT_IO port %#x value %u, then KVM_EXIT_HLT\n", TEST_PORT,
	       expected);
	return 0;
}

int main(void)
{
	struct kvm_userspace_memory_region region;
	struct kvm_run *run;
	uint8_t *mem;
	uint8_t a, b;
	int kvm, vm, vcpu, version, run_size;

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	a = (uint8_t)(rand() % 100 + 1);
	b = (uint8_t)(rand() % 100 + 1);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open `/dev/kvm`");
	version = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		fprintf(stderr, "kvm-smoke: KVM API version %d, want %d\n", version,
			KVM_API_VERSION);
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");

	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap guest memory");
	guest_code(mem, a);
	region = (struct kvm_userspace_memory_region){
	    .slot = 0,
	    .guest_phys_addr = GUEST_ADDR,
	    .memory_size = 0x1000,
	    .userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(*run))
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");
	if (setup_vcpu(vcpu, b) != 0)
		return 1;
	return check_exits(vcpu, run, (uint8_t)(a + b));
}
