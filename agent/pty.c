/* Pseudo-terminals for process.terminal. */
#include "agent/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/cleanup.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#define PTY_FLAGS (O_RDWR | O_NOCTTY | O_CLOEXEC)

int pty_resize(int master, unsigned rows, unsigned cols, mv_error_t *err)
{
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};

	if (rows > USHRT_MAX || cols > USHRT_MAX)
		return mv_error(err, EINVAL, "terminal size %ux%u out of range", rows, cols);
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		return mv_error(err, errno, "set the terminal size");
	return 0;
}

/* TIOCGPTPEER opens the slave through the master, immune to what is (or
 * is not) mounted at /dev/pts; kernels before 4.13 need the path. */
static int open_slave(int master, mv_error_t *err)
{
	char name[64];
	int fd = ioctl(master, TIOCGPTPEER, PTY_FLAGS), rc;

	if (fd >= 0 || (errno != EINVAL && errno != ENOTTY))
		return fd >= 0 ? fd : mv_error(err, errno, "open the terminal's slave");
	rc = ptsname_r(master, name, sizeof(name));
	if (rc != 0)
		return mv_error(err, rc, "name the terminal's slave");
	fd = open(name, PTY_FLAGS);
	if (fd < 0)
		return mv_error(err, errno, "open `%s`", name);
	return fd;
}

int pty_open(int *master, int *slave, unsigned rows, unsigned cols, mv_error_t *err)
{
	cleanup_close int m = posix_openpt(PTY_FLAGS);
	cleanup_close int s = -1;

	if (m < 0)
		return mv_error(err, errno, "open `/dev/ptmx`");
	if (unlockpt(m) < 0)
		return mv_error(err, errno, "unlock the terminal");
	s = open_slave(m, err);
	if (s < 0)
		return -1;
	if (pty_resize(m, rows, cols, err) < 0)
		return -1;
	*master = steal_fd(&m);
	*slave = steal_fd(&s);
	return 0;
}

char *pty_slave_name(int master, mv_error_t *err)
{
	char name[64];
	char *copy;
	int rc = ptsname_r(master, name, sizeof(name));

	if (rc != 0) {
		mv_error(err, rc, "name the terminal's slave");
		return NULL;
	}
	copy = strdup(name);
	if (copy == NULL)
		mv_error(err, ENOMEM, "name the terminal's slave");
	return copy;
}

int pty_attach(int slave, mv_error_t *err)
{
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return mv_error(err, errno, "make the terminal the controlling one");
	for (int fd = 0; fd < 3; fd++)
		if (slave != fd && dup2(slave, fd) < 0)
			return mv_error(err, errno, "dup the terminal to fd %d", fd);
	if (slave > 2)
		close(slave);
	else if (fcntl(slave, F_SETFD, 0) < 0) /* it is one of 0-2: keep it across exec */
		return mv_error(err, errno, "keep the terminal across exec");
	return 0;
}
