#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/layout.h"

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

static int open_dev(mv_error_t *err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return mv_error(err, errno,
				"open `/dev/kvm`: enable virtualization (or nested virtualization) "
				"or run inside tests/kvmhost/run");
	if (errno == EACCES || errno == EPERM)
		return mv_error(
		    err, errno,
		    "open `/dev/kvm`: run as root or join the group that owns /dev/kvm");
	return mv_error(err, errno, "open `/dev/kvm`");
}

static int check_caps(int fd, mv_error_t *err)
{
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);

	if (version != KVM_API_VERSION)
		return mv_error(err, 0, "/dev/kvm speaks KVM API version %d, mvrun needs %d",
				version, KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++)
		if (ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0)
			return mv_error(err, 0, "this KVM lacks %s, which mvrun needs",
					required_caps[i].name);
	return 0;
}

static int create_vm(struct kvm *k, mv_error_t *err)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t identity = MV_IDENTITY_MAP_ADDR;

	k->vm_fd = ioctl(k->fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return mv_error(err, errno, "KVM_CREATE_VM");
	/* Intel needs these two pages below 4 GiB for real-mode emulation. */
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)MV_TSS_ADDR) < 0)
		return mv_error(err, errno, "KVM_SET_TSS_ADDR");
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0 && errno != EINVAL)
		return mv_error(err, errno, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return mv_error(err, errno, "KVM_CREATE_IRQCHIP");
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return mv_error(err, errno, "KVM_CREATE_PIT2");
	return 0;
}

int kvm_open(struct kvm *k, mv_error_t *err)
{
	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	k->fd = open_dev(err);
	if (k->fd < 0)
		return -1;
	if (check_caps(k->fd, err) < 0)
		goto fail;
	k->run_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size < (int)sizeof(struct kvm_run)) {
		mv_error(err, errno, "KVM_GET_VCPU_MMAP_SIZE");
		goto fail;
	}
	if (create_vm(k, err) < 0)
		goto fail;
	return 0;
fail:
	kvm_close(k);
	return -1;
}

void kvm_close(struct kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = k->vm_fd = -1;
}
