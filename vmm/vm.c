/* The VM object: builds the machine, runs one thread per vCPU (its loop is
 * one switch on the exit reason) and one event-loop thread, pauses and
 * resumes the vCPUs, and ends the VM on guest power-off, reset, or failure.
 *
 * Getting a vCPU thread out of KVM_RUN (vm_stop, vm_pause): the requester
 * first publishes why (`stopping`, the pause gate's `requested`), then sets
 * the vCPU's immediate_exit and sends it SIG_VCPU_KICK.  The signal is
 * unblocked in vCPU threads at all times (a kick outside KVM_RUN just runs
 * the empty handler), so the thread is either in KVM_RUN, which the signal
 * interrupts, or about to enter it, which immediate_exit makes return -EINTR
 * at once.  The vCPU clears immediate_exit only right after such an -EINTR
 * and before it looks at the flags again; with every one of these accesses
 * sequentially consistent, a requester's immediate_exit = 1 either follows
 * the clear (and survives it) or its flag is seen by the look that follows
 * the clear.  No request is lost and no vCPU spins on a stale
 * immediate_exit. */
#include "vmm/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "vmm/devices.h"
#include "vmm/event_loop.h"
#include "vmm/kvm.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/memory.h"
#include "vmm/pause.h"
#include "vmm/serial.h"
#include "vmm/x86/acpi.h"
#include "vmm/x86/boot.h"
#include "vmm/x86/cpu.h"

/* Sent to a vCPU thread to make KVM_RUN return; chosen far from the signals
 * a caller forwards to containers. */
#define SIG_VCPU_KICK (SIGRTMAX - 1)

#define ACPI_SLP_EN	(1u << 5)
#define ACPI_SLP_TYP(v) (((v) >> 2) & 7)
#define I8042_CMD_RESET 0xfe

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm_virtio {
	struct virtio_dev dev;
	int irqfd;
	void (*destroy)(struct virtio_dev *d); /* the model's own state, if any */
};

struct vm {
	struct vm_config cfg;
	struct kvm kvm;
	struct guest_mem mem;
	struct ev_loop loop;
	pthread_t loop_thread;
	bool loop_started;
	struct serial serial;
	struct vcpu vcpus[VM_MAX_CPUS];
	struct vm_virtio virtio[MV_VIRTIO_MMIO_MAX];
	unsigned nvirtio;
	int end_fd;
	int end_reason; /* enum vm_end, set once */
	char end_detail[256];
	bool stopping; /* seq_cst: see the top of the file */
	struct pause_gate pause;
	uint64_t first_entry_ns;
	uint64_t agent_start_ns; /* the agent's first MV_PORT_BOOT_EVENT write */
};

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN */
}

/* Record the end (the first reason wins) and stop every vCPU. */
static void vm_end(struct vm *vm, enum vm_end reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vm_end(struct vm *vm, enum vm_end reason, const char *fmt, ...)
{
	int expected = VM_RUNNING;
	uint64_t one = 1;

	if (__atomic_compare_exchange_n(&vm->end_reason, &expected, (int)reason, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		if (fmt) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(vm->end_detail, sizeof(vm->end_detail), fmt, ap);
			va_end(ap);
		}
		if (write(vm->end_fd, &one, sizeof(one)) < 0) {
			/* cannot happen with a fresh eventfd */
		}
	}
	vm_stop(vm);
}

/* Make every vCPU leave KVM_RUN soon and look at its flags. */
static void kick_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->cfg.cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->started && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, SIG_VCPU_KICK);
	}
}

void vm_stop(struct vm *vm)
{
	int expected = VM_RUNNING;
	uint64_t one = 1;

	/* Stopped from outside (vm_end got here first otherwise): that is an
	 * end too, and whoever polls vm_end_fd must see it. */
	if (__atomic_compare_exchange_n(&vm->end_reason, &expected, (int)VM_END_STOPPED, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
	    write(vm->end_fd, &one, sizeof(one)) < 0) {
		/* cannot happen with a fresh eventfd */
	}
	__atomic_store_n(&vm->stopping, true, __ATOMIC_SEQ_CST);
	kick_vcpus(vm);
	pause_gate_stop(&vm->pause); /* parked vCPUs wake up, see `stopping` and exit */
}

/* ---- pause and resume -------------------------------------------------------- */

static unsigned started_vcpus(struct vm *vm)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->cfg.cpus; i++)
		n += vm->vcpus[i].started;
	return n;
}

int vm_pause(struct vm *vm, mv_error_t *err)
{
	int ret = pause_gate_request(&vm->pause);

	if (ret == 0) {
		kick_vcpus(vm);
		ret = pause_gate_wait(&vm->pause, started_vcpus(vm));
	}
	if (ret == -EAGAIN)
		return mv_error(err, EAGAIN, "the VM was resumed while it was being paused");
	if (ret < 0)
		return mv_error(err, EINVAL, "the VM is not running");
	return 0;
}

int vm_resume(struct vm *vm, mv_error_t *err)
{
	/* Parked vCPUs wake up with immediate_exit still set: their first
	 * KVM_RUN returns -EINTR and clears it. */
	if (pause_gate_resume(&vm->pause) < 0)
		return mv_error(err, EINVAL, "the VM is not running");
	return 0;
}

bool vm_paused(struct vm *vm)
{
	return pause_gate_requested(&vm->pause) &&
	       !__atomic_load_n(&vm->stopping, __ATOMIC_SEQ_CST);
}

/* Called by the vCPU thread itself, outside KVM_RUN.  The guest's clocks
 * (kvmclock, TSC) keep following the host's, so after the pause the guest
 * sees time jump forward by its length, as under Firecracker or QEMU.
 * KVM_KVMCLOCK_CTRL tells a guest that uses kvmclock that it was stopped by
 * the host, so its soft-lockup watchdog does not report the jump; it fails
 * (harmlessly) where the guest has not enabled kvmclock. */
static void vcpu_park(struct vcpu *v)
{
	ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0);
	pause_gate_park(&v->vm->pause);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- port I/O: console, ACPI sleep/reset registers, i8042 reset --------- */

static void io_out(struct vcpu *v, uint16_t port, uint8_t val)
{
	struct vm *vm = v->vm;

	if (port >= MV_PORT_SERIAL && port < MV_PORT_SERIAL + 8) {
		serial_write(&vm->serial, port - MV_PORT_SERIAL, val);
		return;
	}
	switch (port) {
	case MV_PORT_ACPI_SLEEP_CONTROL:
		if ((val & ACPI_SLP_EN) && ACPI_SLP_TYP(val) == MV_ACPI_S5_TYPE)
			vm_end(vm, VM_END_POWEROFF, NULL);
		break;
	case MV_PORT_ACPI_RESET:
		if (val == MV_ACPI_RESET_VALUE)
			vm_end(vm, VM_END_REBOOT, "the guest reset itself");
		break;
	case MV_PORT_I8042_COMMAND:
		if (val == I8042_CMD_RESET)
			vm_end(vm, VM_END_REBOOT, "the guest reset itself");
		break;
	case MV_PORT_BOOT_EVENT: {
		uint64_t unset = 0;

		/* only the first mark counts: the guest may write it again */
		__atomic_compare_exchange_n(&vm->agent_start_ns, &unset, monotonic_ns(), false,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
		break;
	}
	}
}

static uint8_t io_in(struct vcpu *v, uint16_t port)
{
	if (port >= MV_PORT_SERIAL && port < MV_PORT_SERIAL + 8)
		return serial_read(&v->vm->serial, port - MV_PORT_SERIAL);
	if (port == MV_PORT_ACPI_SLEEP_STATUS)
		return 0;
	return 0xff; /* nothing there */
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;

	/* Our devices have byte-wide registers; wider accesses act on the first
	 * byte and read the rest as absent. */
	for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size) {
		if (r->io.direction == KVM_EXIT_IO_OUT) {
			io_out(v, r->io.port, data[0]);
		} else {
			memset(data, 0xff, r->io.size);
			data[0] = io_in(v, r->io.port);
		}
	}
}

/* ---- MMIO: the virtio-mmio windows ----------------------------------------- */

static struct virtio_dev *mmio_device(struct vm *vm, uint64_t addr)
{
	if (addr < MV_VIRTIO_MMIO_BASE)
		return NULL;
	uint64_t i = (addr - MV_VIRTIO_MMIO_BASE) / MV_VIRTIO_MMIO_SIZE;
	return i < vm->nvirtio ? &vm->virtio[i].dev : NULL;
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	struct virtio_dev *d = mmio_device(v->vm, r->mmio.phys_addr);
	uint32_t len = r->mmio.len <= 8 ? r->mmio.len : 8;

	if (d == NULL) {
		if (!r->mmio.is_write)
			memset(r->mmio.data, 0xff, len);
		return;
	}
	if (r->mmio.is_write)
		virtio_mmio_write(d, r->mmio.phys_addr - d->base, r->mmio.data, len);
	else
		virtio_mmio_read(d, r->mmio.phys_addr - d->base, r->mmio.data, len);
}

/* ---- the vCPU loop ----------------------------------------------------------- */

static void handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	struct vm *vm = v->vm;

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		break;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_HLT:
		vm_end(vm, VM_END_POWEROFF, "vCPU %u halted", v->index);
		break;
	case KVM_EXIT_SHUTDOWN:
		vm_end(vm, VM_END_REBOOT, "vCPU %u triple-faulted", v->index);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (r->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_end(vm, VM_END_POWEROFF, NULL);
		else
			vm_end(vm, VM_END_REBOOT, "system event %u", r->system_event.type);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vm_end(vm, VM_END_ERROR, "vCPU %u: entry failed (reason %#llx)", v->index,
		       (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_end(vm, VM_END_ERROR, "vCPU %u: KVM internal error %u", v->index,
		       r->internal.suberror);
		break;
	default:
		vm_end(vm, VM_END_ERROR, "vCPU %u: unexpected exit reason %u", v->index,
		       r->exit_reason);
		break;
	}
}

uint64_t vm_first_entry_ns(struct vm *vm)
{
	return __atomic_load_n(&vm->first_entry_ns, __ATOMIC_ACQUIRE);
}

uint64_t vm_agent_start_ns(struct vm *vm)
{
	return __atomic_load_n(&vm->agent_start_ns, __ATOMIC_ACQUIRE);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t kick;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&kick);
	sigaddset(&kick, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	if (v->index == 0)
		__atomic_store_n(&v->vm->first_entry_ns, monotonic_ns(), __ATOMIC_RELEASE);

	while (!__atomic_load_n(&v->vm->stopping, __ATOMIC_SEQ_CST)) {
		if (pause_gate_requested(&v->vm->pause)) {
			vcpu_park(v);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* A kick: clear it, then look at the flags. */
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			vm_end(v->vm, VM_END_ERROR, "vCPU %u: KVM_RUN: %s", v->index,
			       strerror(errno));
			break;
		}
		handle_exit(v);
	}
	return NULL;
}

static void *loop_thread(void *arg)
{
	struct vm *vm = arg;

	pthread_setname_np(pthread_self(), "vmm-events");
	if (ev_loop_run(&vm->loop) < 0)
		vm_end(vm, VM_END_ERROR, "event loop: %s", strerror(errno));
	return NULL;
}

/* ---- building the machine ---------------------------------------------------- */

static int set_memory(struct vm *vm, mv_error_t *err)
{
	struct kvm_userspace_memory_region low = {
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = vm->mem.low_size,
	    .userspace_addr = (uintptr_t)vm->mem.low,
	};
	struct kvm_userspace_memory_region high = {
	    .slot = 1,
	    .guest_phys_addr = MV_HIGH_RAM_START,
	    .memory_size = vm->mem.high_size,
	    .userspace_addr = (uintptr_t)vm->mem.high,
	};

	if (guest_mem_init(&vm->mem, vm->cfg.memory_mib << 20, err) < 0)
		return -1;
	low.memory_size = vm->mem.low_size;
	low.userspace_addr = (uintptr_t)vm->mem.low;
	if (ioctl(vm->kvm.vm_fd, KVM_SET_USER_MEMORY_REGION, &low) < 0)
		return mv_error(err, errno, "KVM_SET_USER_MEMORY_REGION");
	if (vm->mem.high_size == 0)
		return 0;
	high.memory_size = vm->mem.high_size;
	high.userspace_addr = (uintptr_t)vm->mem.high;
	if (ioctl(vm->kvm.vm_fd, KVM_SET_USER_MEMORY_REGION, &high) < 0)
		return mv_error(err, errno, "KVM_SET_USER_MEMORY_REGION (above 4 GiB)");
	return 0;
}

static void serial_irq(void *ctx)
{
	struct vm *vm = ctx;
	struct kvm_irq_level line = {.irq = MV_IRQ_SERIAL, .level = 1};

	/* An edge: ISA interrupts are edge-triggered on the IOAPIC. */
	ioctl(vm->kvm.vm_fd, KVM_IRQ_LINE, &line);
	line.level = 0;
	ioctl(vm->kvm.vm_fd, KVM_IRQ_LINE, &line);
}

static void virtio_irq(struct virtio_dev *d)
{
	struct vm_virtio *vv = (struct vm_virtio *)d;
	uint64_t one = 1;

	if (write(vv->irqfd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: an interrupt is pending anyway */
	}
}

/* Wire a device's interrupt (irqfd) and queue notifications (ioeventfds). */
static int virtio_wire(struct vm *vm, struct vm_virtio *vv, mv_error_t *err)
{
	struct virtio_dev *d = &vv->dev;
	struct kvm_irqfd irqfd = {.gsi = d->irq};

	vv->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vv->irqfd < 0)
		return mv_error(err, errno, "virtio `%s`: irqfd", d->ops->name);
	irqfd.fd = vv->irqfd;
	if (ioctl(vm->kvm.vm_fd, KVM_IRQFD, &irqfd) < 0)
		return mv_error(err, errno, "virtio `%s`: KVM_IRQFD", d->ops->name);
	d->raise_irq = virtio_irq;
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		struct kvm_ioeventfd io = {
		    .datamatch = q,
		    .addr = d->base + VIRTIO_MMIO_QUEUE_NOTIFY,
		    .len = 4,
		    .fd = d->notify[q].h.fd,
		    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(vm->kvm.vm_fd, KVM_IOEVENTFD, &io) < 0)
			return mv_error(err, errno, "virtio `%s`: KVM_IOEVENTFD", d->ops->name);
	}
	return 0;
}

/* Add a virtio-mmio device: its window and interrupt come in order. */
static struct virtio_dev *vm_add_virtio(struct vm *vm, const struct virtio_dev_ops *ops,
					mv_error_t *err)
{
	struct vm_virtio *vv;
	unsigned i = vm->nvirtio;

	if (i >= MV_VIRTIO_MMIO_MAX || MV_IRQ_VIRTIO_FIRST + i > MV_IRQ_VIRTIO_LAST) {
		mv_error(err, 0, "too many virtio devices");
		return NULL;
	}
	vv = &vm->virtio[i];
	vv->irqfd = -1;
	if (virtio_dev_init(&vv->dev, ops, NULL, &vm->mem, &vm->loop,
			    MV_VIRTIO_MMIO_BASE + i * MV_VIRTIO_MMIO_SIZE, MV_IRQ_VIRTIO_FIRST + i,
			    err) < 0)
		return NULL;
	vm->nvirtio++;
	if (virtio_wire(vm, vv, err) < 0)
		return NULL;
	return &vv->dev;
}

static int add_devices(struct vm *vm, mv_error_t *err)
{
	struct virtio_dev *d;

	serial_init(&vm->serial, vm->cfg.console_fd, serial_irq, vm);
	if (vm_add_virtio(vm, &virtio_rng_ops, err) == NULL)
		return -1;
	if (vm->cfg.vsock_path) {
		d = vm_add_virtio(vm, &virtio_vsock_ops, err);
		if (d == NULL || vsock_create(d, MV_GUEST_CID, vm->cfg.vsock_path, err) < 0)
			return -1;
		vm->virtio[vm->nvirtio - 1].destroy = vsock_destroy;
	}
	for (unsigned i = 0; i < vm->cfg.nshares; i++) {
		d = vm_add_virtio(vm, &virtio_fs_ops, err);
		if (d == NULL || virtiofs_create(d, &vm->cfg.shares[i], err) < 0)
			return -1;
		vm->virtio[vm->nvirtio - 1].destroy = virtiofs_destroy;
	}
	return 0;
}

static int load_guest(struct vm *vm, struct boot_info *boot, mv_error_t *err)
{
	struct acpi_mmio_dev devs[MV_VIRTIO_MMIO_MAX];
	struct boot_spec spec = {
	    .kernel = vm->cfg.kernel,
	    .initrd = vm->cfg.initrd,
	    .cmdline = vm->cfg.cmdline ? vm->cfg.cmdline : "",
	};

	for (unsigned i = 0; i < vm->nvirtio; i++) {
		devs[i].base = vm->virtio[i].dev.base;
		devs[i].size = MV_VIRTIO_MMIO_SIZE;
		devs[i].irq = vm->virtio[i].dev.irq;
	}
	if (acpi_build(&vm->mem, vm->cfg.cpus, devs, vm->nvirtio, &spec.rsdp, err) < 0)
		return -1;
	return x86_boot_load(&vm->mem, &spec, boot, err);
}

static int create_vcpus(struct vm *vm, const struct boot_info *boot, mv_error_t *err)
{
	cleanup_free struct kvm_cpuid2 *cpuid = x86_cpuid_supported(vm->kvm.fd, err);

	if (cpuid == NULL)
		return -1;
	for (unsigned i = 0; i < vm->cfg.cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		void *run;

		v->vm = vm;
		v->index = i;
		v->fd = ioctl(vm->kvm.vm_fd, KVM_CREATE_VCPU, i);
		if (v->fd < 0)
			return mv_error(err, errno, "KVM_CREATE_VCPU %u", i);
		run = mmap(NULL, vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (run == MAP_FAILED)
			return mv_error(err, errno, "mmap vCPU %u", i);
		v->run = run;
		if (x86_vcpu_setup(v->fd, cpuid, i, vm->cfg.cpus, i == 0 ? boot : NULL, err) < 0)
			return -1;
	}
	return 0;
}

static int check_config(const struct vm_config *cfg, mv_error_t *err)
{
	if (cfg->cpus < 1 || cfg->cpus > VM_MAX_CPUS)
		return mv_error(err, EINVAL, "%u vCPUs: mvrun runs 1 to %d", cfg->cpus,
				VM_MAX_CPUS);
	if (cfg->memory_mib < 32 || cfg->memory_mib > (1ULL << 20))
		return mv_error(err, EINVAL, "%llu MiB of memory: give 32 MiB to 1 TiB",
				(unsigned long long)cfg->memory_mib);
	if (cfg->kernel == NULL)
		return mv_error(err, EINVAL, "no guest kernel given");
	return 0;
}

int vm_create(struct vm **out, const struct vm_config *cfg, mv_error_t *err)
{
	struct boot_info boot;
	struct vm *vm;

	if (check_config(cfg, err) < 0)
		return -1;
	vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return mv_error(err, ENOMEM, "create the VM");
	pause_gate_init(&vm->pause);
	vm->cfg = *cfg;
	vm->kvm.fd = vm->kvm.vm_fd = -1;
	vm->loop.epfd = vm->loop.stopfd = -1;
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;
	vm->end_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->end_fd < 0) {
		mv_error(err, errno, "eventfd");
		goto fail;
	}
	if (kvm_open(&vm->kvm, err) < 0 || set_memory(vm, err) < 0 ||
	    ev_loop_init(&vm->loop, err) < 0 || add_devices(vm, err) < 0 ||
	    load_guest(vm, &boot, err) < 0 || create_vcpus(vm, &boot, err) < 0)
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return -1;
}

int vm_start(struct vm *vm, mv_error_t *err)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigset_t all, old;
	int ret;

	sigemptyset(&sa.sa_mask);
	sigaction(SIG_VCPU_KICK, &sa, NULL);
	/* The VMM's threads take no signals but the kick: the caller's thread
	 * handles the rest (and forwards them to the guest). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&vm->loop_thread, NULL, loop_thread, vm);
	if (ret == 0) {
		vm->loop_started = true;
		for (unsigned i = 0; i < vm->cfg.cpus && ret == 0; i++) {
			ret =
			    pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
			vm->vcpus[i].started = ret == 0;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		vm_stop(vm);
		return mv_error(err, ret, "start the VM's threads");
	}
	return 0;
}

int vm_end_fd(const struct vm *vm)
{
	return vm->end_fd;
}

enum vm_end vm_end_reason(struct vm *vm, const char **detail)
{
	enum vm_end r = (enum vm_end)__atomic_load_n(&vm->end_reason, __ATOMIC_ACQUIRE);

	if (detail)
		*detail = r != VM_RUNNING && vm->end_detail[0] ? vm->end_detail : NULL;
	return r;
}

void vm_console_tail(struct vm *vm, char *buf, size_t size)
{
	serial_flush(&vm->serial);
	serial_tail(&vm->serial, buf, size);
}

static void release_devices(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvirtio; i++) {
		struct vm_virtio *vv = &vm->virtio[i];
		if (vv->destroy)
			vv->destroy(&vv->dev);
		virtio_dev_release(&vv->dev);
		if (vv->irqfd >= 0)
			close(vv->irqfd);
	}
	vm->nvirtio = 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm == NULL)
		return;
	vm_end(vm, VM_END_STOPPED, NULL);
	for (unsigned i = 0; i < vm->cfg.cpus; i++)
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
	if (vm->loop_started) {
		ev_loop_stop(&vm->loop);
		pthread_join(vm->loop_thread, NULL);
	}
	release_devices(vm);
	serial_release(&vm->serial);
	for (unsigned i = 0; i < vm->cfg.cpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->kvm.run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	if (vm->loop.epfd >= 0)
		ev_loop_release(&vm->loop);
	kvm_close(&vm->kvm);
	guest_mem_release(&vm->mem);
	if (vm->end_fd >= 0)
		close(vm->end_fd);
	pause_gate_release(&vm->pause);
	free(vm);
}
