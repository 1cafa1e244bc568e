/* mvrun-agent: PID 1 of every mvrun microVM (static, from the initramfs). */
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	if (getpid() != 1) {
		fprintf(stderr, "mvrun-agent: must run as the guest's PID 1\n");
		return 1;
	}
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
