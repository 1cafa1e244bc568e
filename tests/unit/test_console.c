/* runtime/console.c: a real pty pair, sent and received over a Unix socket
 * in a temporary directory as runc's --console-socket does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/cleanup.h"
#include "runtime/console.h"
#include "tests/unit/unit.h"

static bool cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags >= 0 && (flags & FD_CLOEXEC);
}

/* A listening socket named name in dir, bound from inside dir so that
 * the whole path may be longer than sun_path. */
static int listen_in(const char *dir, const char *name)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int cwd = open(".", O_PATH | O_CLOEXEC),
	    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(cwd >= 0 && sock >= 0);
	CHECK(strlen(name) < sizeof(addr.sun_path));
	strcpy(addr.sun_path, name);
	CHECK_INT(chdir(dir), ==, 0);
	CHECK_INT(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	CHECK_INT(fchdir(cwd), ==, 0);
	close(cwd);
	CHECK_INT(listen(sock, 1), ==, 0);
	return sock;
}

static void write_str(int fd, const char *s)
{
	CHECK_INT(write(fd, s, strlen(s)), ==, strlen(s));
}

/* What fd has to read now (a short wait for the pty to pass it on). */
static void check_reads(int fd, const char *want)
{
	char buf[64] = {0};
	size_t got = 0;

	for (int i = 0; i < 100 && got < strlen(want); i++) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (n > 0)
			got += (size_t)n;
		else
			usleep(10000);
	}
	CHECK_STR(buf, want);
}

TEST(console_open_gives_a_raw_pair)
{
	cleanup_close int master = -1, slave = -1;
	cleanup_free char *name = NULL;
	mv_error_t err = {0};
	char pts[64];
	unsigned rows = 0, cols = 0;
	struct termios t;

	CHECK_INT(console_open(&master, &slave, &name, 24, 80, &err), ==, 0);
	CHECK(isatty(master) && isatty(slave));
	CHECK(cloexec(master) && cloexec(slave));
	CHECK(strncmp(name, "/dev/pts/", 9) == 0);
	CHECK_INT(ptsname_r(master, pts, sizeof(pts)), ==, 0);
	CHECK_STR(pts, name);
	CHECK_INT(console_get_size(slave, &rows, &cols, &err), ==, 0);
	CHECK_INT(rows, ==, 24);
	CHECK_INT(cols, ==, 80);
	CHECK_INT(tcgetattr(slave, &t), ==, 0);
	CHECK(!(t.c_lflag & (ECHO | ICANON)));
	CHECK(!(t.c_oflag & OPOST));

	/* bytes pass unchanged both ways: no echo, no "\n" -> "\r\n" */
	CHECK_INT(fcntl(master, F_SETFL, O_NONBLOCK), ==, 0);
	CHECK_INT(fcntl(slave, F_SETFL, O_NONBLOCK), ==, 0);
	write_str(master, "in\r\n");
	check_reads(slave, "in\r\n");
	write_str(slave, "out\n");
	check_reads(master, "out\n");
}

TEST(console_open_without_size_leaves_it)
{
	cleanup_close int master = -1, slave = -1;
	cleanup_free char *name = NULL;
	mv_error_t err = {0};
	unsigned rows = 9, cols = 9;

	CHECK_INT(console_open(&master, &slave, &name, 0, 80, &err), ==, 0);
	CHECK_INT(console_get_size(master, &rows, &cols, &err), ==, 0);
	CHECK_INT(rows, ==, 0);
	CHECK_INT(cols, ==, 0);
}

TEST(console_sizes)
{
	cleanup_close int master = -1, slave = -1;
	cleanup_free char *name = NULL;
	mv_error_t err = {0};
	unsigned rows, cols;
	int p[2];

	CHECK_INT(console_open(&master, &slave, &name, 0, 0, &err), ==, 0);
	CHECK_INT(console_set_size(master, 40, 120, &err), ==, 0);
	CHECK_INT(console_get_size(slave, &rows, &cols, &err), ==, 0);
	CHECK_INT(rows, ==, 40);
	CHECK_INT(cols, ==, 120);
	CHECK_INT(console_set_size(master, 70000, 1, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	CHECK_INT(pipe2(p, O_CLOEXEC), ==, 0);
	CHECK_INT(console_get_size(p[0], &rows, &cols, &err), ==, -1);
	CHECK_INT(err.err, ==, ENOTTY);
	CHECK_INT(console_set_size(p[0], 1, 1, &err), ==, -1);
	CHECK_INT(err.err, ==, ENOTTY);
	mv_error_release(&err);
	close(p[0]);
	close(p[1]);
}

/* Send the master as runc does; the receiver gets a terminal whose pts
 * is the name sent along. */
static void send_and_receive(const char *dir, const char *sock_name, const char *full_path)
{
	cleanup_close int master = -1, slave = -1, listener = -1, conn = -1, got = -1;
	cleanup_free char *name = NULL, *got_name = NULL;
	mv_error_t err = {0};
	char pts[64];

	listener = listen_in(dir, sock_name);
	CHECK_INT(console_open(&master, &slave, &name, 0, 0, &err), ==, 0);
	CHECK_INT(console_send(full_path, master, name, &err), ==, 0);
	conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	CHECK(conn >= 0);
	CHECK_INT(console_recv(conn, &got, &got_name, &err), ==, 0);
	CHECK(isatty(got));
	CHECK(cloexec(got));
	CHECK_STR(got_name, name);
	CHECK_INT(ptsname_r(got, pts, sizeof(pts)), ==, 0);
	CHECK_STR(pts, name);
	/* it is our master: what the slave writes arrives there */
	CHECK_INT(fcntl(got, F_SETFL, O_NONBLOCK), ==, 0);
	write_str(slave, "hello");
	check_reads(got, "hello");
}

TEST(console_send_and_receive)
{
	char dir[] = "/tmp/mvrun-console.XXXXXX";
	cleanup_free char *path = NULL;
	int before = unit_count_fds();

	CHECK(mkdtemp(dir) != NULL);
	CHECK(asprintf(&path, "%s/console.sock", dir) > 0);
	send_and_receive(dir, "console.sock", path);
	CHECK_INT(unit_count_fds(), ==, before);
	unlink(path);
	rmdir(dir);
}

/* A socket path longer than sun_path's 108 bytes still works. */
TEST(console_send_to_a_long_path)
{
	char dir[] = "/tmp/mvrun-console.XXXXXX";
	char sub[300];
	cleanup_free char *path = NULL;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(sub, sizeof(sub), "%s/%0120d", dir, 0);
	CHECK_INT(mkdir(sub, 0700), ==, 0);
	CHECK(asprintf(&path, "%s/console.sock", sub) > 0);
	CHECK_INT(strlen(path), >, sizeof(((struct sockaddr_un *)0)->sun_path));
	send_and_receive(sub, "console.sock", path);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}

TEST(console_send_to_a_missing_socket)
{
	mv_error_t err = {0};
	cleanup_free char *msg = NULL;
	int before = unit_count_fds();

	CHECK_INT(console_send("/nonexistent/dir/console.sock", 0, "/dev/ptmx", &err), ==, -1);
	CHECK_INT(err.err, ==, ENOENT);
	CHECK_STR(err.msg, "connect to console socket `/nonexistent/dir/console.sock`");
	mv_error_release(&err);
	CHECK_INT(console_send("/nonexistent/dir/console.sock", 0, "", &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	CHECK_INT(unit_count_fds(), ==, before);
}

/* A hostile sender: two fds, none, or nothing at all; whatever arrived
 * is closed again. */
TEST(console_recv_refuses_what_is_not_one_fd)
{
	int sv[2], fds[2] = {0, 1}, fd = 123, before;
	char *name = NULL;
	mv_error_t err = {0};
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} control = {{0}};
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
	before = unit_count_fds();
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	CHECK_INT(sendmsg(sv[1], &msg, 0), ==, 1);
	CHECK_INT(console_recv(sv[0], &fd, &name, &err), ==, -1);
	CHECK_INT(err.err, ==, EPROTO);
	CHECK(fd == -1 && name == NULL);
	CHECK_INT(unit_count_fds(), ==, before);
	mv_error_release(&err);

	CHECK_INT(write(sv[1], "/dev/pts/0", 10), ==, 10);
	CHECK_INT(console_recv(sv[0], &fd, &name, &err), ==, -1);
	CHECK_INT(err.err, ==, EPROTO);
	mv_error_release(&err);

	close(sv[1]);
	CHECK_INT(console_recv(sv[0], &fd, &name, &err), ==, -1);
	CHECK_INT(err.err, ==, EPIPE);
	mv_error_release(&err);
	close(sv[0]);
}
