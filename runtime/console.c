#include "runtime/console.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/cleanup.h"

/* Room for the fds of a hostile sender, all of which must be closed. */
#define RECV_FDS_MAX 16

/* The slave without going through its path (Linux 4.13): the path may
 * name another devpts in another mount namespace. */
static int open_slave(int master, const char *path)
{
	int fd = -1;

#ifdef TIOCGPTPEER
	fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 || (errno != EINVAL && errno != ENOTTY))
		return fd;
#endif
	return open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

static int make_raw(int fd, const char *path, mv_error_t *err)
{
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return mv_error(err, errno, "get the attributes of `%s`", path);
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return mv_error(err, errno, "set raw mode on `%s`", path);
	return 0;
}

int console_open(int *master, int *slave, char **name, unsigned rows, unsigned cols,
		 mv_error_t *err)
{
	cleanup_close int m = -1, s = -1;
	char path[64];
	int ret;

	*master = *slave = -1;
	*name = NULL;
	m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return mv_error(err, errno, "open `/dev/ptmx`");
	if (unlockpt(m) < 0)
		return mv_error(err, errno, "unlock the pty");
	ret = ptsname_r(m, path, sizeof(path));
	if (ret != 0)
		return mv_error(err, ret, "get the name of the pty");
	s = open_slave(m, path);
	if (s < 0)
		return mv_error(err, errno, "open `%s`", path);
	if (make_raw(s, path, err) < 0)
		return -1;
	if (rows && cols && console_set_size(m, rows, cols, err) < 0)
		return -1;
	*name = strdup(path);
	if (*name == NULL)
		return mv_error(err, ENOMEM, "the name of the pty");
	*master = steal_fd(&m);
	*slave = steal_fd(&s);
	return 0;
}

/* Fill addr for path; a path too long for sun_path is reached through an
 * O_PATH fd of its directory (*dir_fd, closed by the caller). */
static int socket_addr(const char *path, struct sockaddr_un *addr, int *dir_fd, mv_error_t *err)
{
	cleanup_free char *dir_copy = NULL, *base_copy = NULL;
	int n;

	addr->sun_family = AF_UNIX;
	if (strlen(path) < sizeof(addr->sun_path)) {
		strcpy(addr->sun_path, path);
		return 0;
	}
	dir_copy = strdup(path);
	base_copy = strdup(path);
	if (dir_copy == NULL || base_copy == NULL)
		return mv_error(err, ENOMEM, "console socket `%s`", path);
	*dir_fd = open(dirname(dir_copy), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dir_fd < 0)
		return mv_error(err, errno, "open the directory of console socket `%s`", path);
	n = snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/%s", *dir_fd,
		     basename(base_copy));
	if (n < 0 || (size_t)n >= sizeof(addr->sun_path))
		return mv_error(err, ENAMETOOLONG, "console socket `%s`", path);
	return 0;
}

static int connect_path(const char *path, mv_error_t *err)
{
	struct sockaddr_un addr = {0};
	cleanup_close int dir_fd = -1, sock = -1;

	if (socket_addr(path, &addr, &dir_fd, err) < 0)
		return -1;
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return mv_error(err, errno, "socket");
	while (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		if (errno != EINTR)
			return mv_error(err, errno, "connect to console socket `%s`", path);
	return steal_fd(&sock);
}

int console_send(const char *socket_path, int fd, const char *name, mv_error_t *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = {{0}};
	size_t len = name ? strlen(name) : 0;
	struct iovec iov = {.iov_base = (void *)name, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cleanup_close int sock = -1;
	ssize_t n;

	/* A stream socket carries SCM_RIGHTS only with at least one byte. */
	if (len == 0 || len > CONSOLE_NAME_MAX)
		return mv_error(err, EINVAL, "console socket `%s`: a name of %zu bytes",
				socket_path, len);
	sock = connect_path(socket_path, err);
	if (sock < 0)
		return -1;
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return mv_error(err, errno, "send the terminal to console socket `%s`",
				socket_path);
	if ((size_t)n != len)
		return mv_error(err, EIO, "send the terminal to console socket `%s`: short write",
				socket_path);
	return 0;
}

/* The fds of every SCM_RIGHTS message, into fds (at most max); *n counts
 * them all, so that more than max is noticed. */
static void collect_fds(struct msghdr *msg, int *fds, int max, int *n)
{
	*n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t count;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			if (*n < max)
				memcpy(&fds[*n], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			(*n)++;
		}
	}
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n && i < RECV_FDS_MAX; i++)
		close(fds[i]);
}

int console_recv(int sock, int *fd, char **name, mv_error_t *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * RECV_FDS_MAX)];
		struct cmsghdr align;
	} control;
	char data[CONSOLE_NAME_MAX + 1];
	struct iovec iov = {.iov_base = data, .iov_len = CONSOLE_NAME_MAX};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	int fds[RECV_FDS_MAX], nfds;
	ssize_t n;

	*fd = -1;
	*name = NULL;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return mv_error(err, errno, "receive the terminal");
	collect_fds(&msg, fds, RECV_FDS_MAX, &nfds);
	if (n == 0 && nfds == 0)
		return mv_error(err, EPIPE, "receive the terminal: the peer closed the connection");
	if (nfds != 1 || (msg.msg_flags & MSG_CTRUNC)) {
		close_all(fds, nfds);
		return mv_error(err, EPROTO, "receive the terminal: %d fds instead of one%s", nfds,
				(msg.msg_flags & MSG_CTRUNC) ? " (truncated)" : "");
	}
	data[n] = '\0';
	*name = strdup(data);
	if (*name == NULL) {
		close(fds[0]);
		return mv_error(err, ENOMEM, "receive the terminal");
	}
	*fd = fds[0];
	return 0;
}

int console_get_size(int fd, unsigned *rows, unsigned *cols, mv_error_t *err)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return mv_error(err, errno, "get the terminal's window size");
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}

int console_set_size(int fd, unsigned rows, unsigned cols, mv_error_t *err)
{
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};

	if (rows > UINT16_MAX || cols > UINT16_MAX)
		return mv_error(err, EINVAL, "window size %ux%u: at most %u each", rows, cols,
				UINT16_MAX);
	if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
		return mv_error(err, errno, "set the terminal's window size");
	return 0;
}
