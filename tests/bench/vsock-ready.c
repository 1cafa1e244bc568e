/* vsock-ready TIMEOUT_S CMD [ARG...]
 *
 * Benchmark helper: listens on AF_VSOCK port MV_PORT_READY (the VM's
 * vhost-vsock), starts CMD (QEMU booting our kernel and initramfs), and
 * prints "agent-ready MS": the milliseconds from starting CMD until the
 * agent's READY arrives.  Then it kills CMD.  Exit 1 on timeout or error. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "agent/protocol.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int listen_ready(void)
{
	struct sockaddr_vm addr = {
	    .svm_family = AF_VSOCK,
	    .svm_cid = VMADDR_CID_ANY,
	    .svm_port = MV_PORT_READY,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4) < 0) {
		perror("vsock-ready: listen on vsock port 1024 (modprobe vhost_vsock?)");
		return -1;
	}
	return fd;
}

/* The READY message, as the agent sends it. */
static int read_ready(int fd)
{
	struct {
		struct mv_msg_hdr hdr;
		struct mv_msg_ready ready;
	} msg;
	size_t got = 0;

	while (got < sizeof(msg)) {
		ssize_t n = read(fd, (char *)&msg + got, sizeof(msg) - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return msg.hdr.type == MV_MSG_READY ? 0 : -1;
}

int main(int argc, char **argv)
{
	int lfd, cfd, status, ret = 1;
	struct pollfd p;
	double start;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: vsock-ready TIMEOUT_S CMD [ARG...]\n");
		return 2;
	}
	lfd = listen_ready();
	if (lfd < 0)
		return 1;
	start = now_ms();
	pid = fork();
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("vsock-ready: exec");
		_exit(127);
	}
	p = (struct pollfd){.fd = lfd, .events = POLLIN};
	if (poll(&p, 1, atoi(argv[1]) * 1000) == 1) {
		cfd = accept(lfd, NULL, NULL);
		if (cfd >= 0 && read_ready(cfd) == 0) {
			printf("agent-ready %.1f\n", now_ms() - start);
			ret = 0;
		}
	} else {
		fprintf(stderr, "vsock-ready: no READY within %s s\n", argv[1]);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return ret;
}
