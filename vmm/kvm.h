/* /dev/kvm and the VM file descriptor: the API version and every capability
 * the VMM relies on are checked up front, each with its own clear error. */
#ifndef MV_KVM_H
#define MV_KVM_H

#include "runtime/error.h"

struct kvm {
	int fd; /* /dev/kvm */
	int vm_fd;
	int run_size; /* size of each vCPU's struct kvm_run mapping */
};

/* Open /dev/kvm, check it, create a VM with the in-kernel irqchip and PIT. */
int kvm_open(struct kvm *k, mv_error_t *err);
void kvm_close(struct kvm *k);

#endif
