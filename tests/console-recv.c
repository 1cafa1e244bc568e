/* console-recv SOCKET [ROWS COLS [ROWS2 COLS2]]: the caller's side of
 * --console-socket, as conmon plays it.  Listens on SOCKET, takes one pty
 * master, sets its window size when given, then copies stdin to the master
 * and the master to stdout until the pty's other side has gone.  With a
 * second size, it resizes the terminal to it once the output has said
 * "resize-now" (a caller resizing its window). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/console.h"

static int listen_on(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		perror("console-recv: listen");
		exit(1);
	}
	return fd;
}

/* The last bytes seen, to find "resize-now" across reads. */
static char seen[8192];
static size_t seen_len;

static bool copy(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return false;
	if (seen_len + (size_t)n >= sizeof(seen))
		seen_len = 0;
	memcpy(seen + seen_len, buf, (size_t)n);
	seen_len += (size_t)n;
	seen[seen_len] = '\0';
	return write(to, buf, (size_t)n) == n;
}

int main(int argc, char **argv)
{
	mv_error_t err = {0};
	int listener, conn, master;
	char *name = NULL;
	bool in_open = true;

	if (argc != 2 && argc != 4 && argc != 6) {
		fprintf(stderr, "usage: console-recv SOCKET [ROWS COLS [ROWS2 COLS2]]\n");
		return 2;
	}
	listener = listen_on(argv[1]);
	conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0 || console_recv(conn, &master, &name, &err) < 0) {
		fprintf(stderr, "console-recv: %s\n", err.msg ? err.msg : strerror(errno));
		return 1;
	}
	if (argc >= 4 &&
	    console_set_size(master, (unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), &err) < 0) {
		fprintf(stderr, "console-recv: %s\n", err.msg);
		return 1;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = master, .events = POLLIN},
				      {.fd = in_open ? 0 : -1, .events = POLLIN}};
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents && !copy(master, 1))
			break; /* EIO: the slave side closed */
		if (argc == 6 && strstr(seen, "resize-now")) {
			console_set_size(master, (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]),
					 NULL);
			argc = 4; /* once */
		}
		if (p[1].revents && !copy(0, master))
			in_open = false;
	}
	free(name);
	return 0;
}
