/* A microVM: KVM, guest memory, one thread per vCPU, one event-loop thread
 * for device work, the console UART, the ACPI power button equivalents and
 * the virtio-mmio devices.  Linked into mvrun; no daemon. */
#ifndef MV_VM_H
#define MV_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/error.h"
#include "vmm/devices.h"

#define VM_DEFAULT_CPUS	      1
#define VM_DEFAULT_MEMORY_MIB 256
#define VM_MAX_CPUS	      64

struct vm_config {
	const char *kernel;  /* bzImage or ELF vmlinux */
	const char *initrd;  /* or NULL */
	const char *cmdline; /* the whole command line */
	unsigned cpus;	     /* 1..VM_MAX_CPUS */
	uint64_t memory_mib;
	int console_fd;		/* the guest console goes here; -1: only kept in memory */
	const char *vsock_path; /* hybrid vsock Unix socket; NULL: no vsock device */
	const struct virtiofs_share *shares; /* one virtio-fs device each */
	unsigned nshares;
};

enum vm_end {
	VM_RUNNING = 0,
	VM_END_POWEROFF, /* the guest powered off (ACPI S5) */
	VM_END_REBOOT,	 /* the guest rebooted or reset: a panic with panic=-1, a triple fault */
	VM_END_ERROR,	 /* KVM failed or the guest did something the VMM cannot go on with */
	VM_END_STOPPED,	 /* vm_stop() */
};

struct vm;

int vm_create(struct vm **out, const struct vm_config *cfg, mv_error_t *err);
/* Start the event loop and the vCPUs. */
int vm_start(struct vm *vm, mv_error_t *err);
/* Readable (an eventfd) once the VM has ended, for the caller's poll loop. */
int vm_end_fd(const struct vm *vm);
/* Why the VM ended (VM_RUNNING while it runs), with a detail text for errors. */
enum vm_end vm_end_reason(struct vm *vm, const char **detail);
/* Stop the vCPUs, paused ones too; idempotent, any thread (it takes a lock:
 * not from a signal handler). */
void vm_stop(struct vm *vm);
/* Stop every vCPU outside KVM_RUN and keep it there; returns once all are
 * parked, or -1 with EINVAL "the VM is not running" once it has ended (or
 * EAGAIN where a vm_resume from another thread overtook it).  Idempotent.
 * Device work (the event loop: virtio-fs, vsock) goes on, so host-side
 * connections stay open; the guest simply does not run, and sees its clock
 * jump forward by the pause when it runs again.  Before vm_start it returns
 * at once and the vCPUs park before their first KVM_RUN.  Not from a vCPU
 * thread, nor concurrently with vm_start. */
int vm_pause(struct vm *vm, mv_error_t *err);
/* Let the vCPUs run again; idempotent (0 when not paused); EINVAL once the
 * VM has ended. */
int vm_resume(struct vm *vm, mv_error_t *err);
/* Paused (or being paused) and not ended. */
bool vm_paused(struct vm *vm);
/* Stop, join every thread, release everything. */
void vm_destroy(struct vm *vm);
/* When vCPU 0 first entered the guest (CLOCK_MONOTONIC ns), 0 before. */
uint64_t vm_first_entry_ns(struct vm *vm);
/* When the guest's agent marked its start on MV_PORT_BOOT_EVENT, 0 before. */
uint64_t vm_agent_start_ns(struct vm *vm);
/* The last console output, NUL-terminated. */
void vm_console_tail(struct vm *vm, char *buf, size_t size);

#endif
