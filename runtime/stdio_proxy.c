#include "runtime/stdio_proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void stdio_proxy_init(struct stdio_proxy *p)
{
	p->in = p->out = p->errs = -1;
	p->fd_in = STDIN_FILENO;
	p->fd_out = STDOUT_FILENO;
	p->fd_err = STDERR_FILENO;
	p->inlen = 0;
	p->stdin_eof = false;
}

int stdio_proxy_connect(struct stdio_proxy *p, const struct agent_addr *addr, uint64_t proc_id,
			uint32_t flags, mv_error_t *err)
{
	if (flags & MV_RUN_STDIN) {
		p->in = agent_connect(addr, MV_CONN_STDIN, proc_id, err);
		if (p->in < 0)
			return -1;
		fcntl(p->in, F_SETFL, fcntl(p->in, F_GETFL) | O_NONBLOCK);
	}
	if (flags & MV_RUN_STDOUT) {
		p->out = agent_connect(addr, MV_CONN_STDOUT, proc_id, err);
		if (p->out < 0)
			return -1;
	}
	if (flags & MV_RUN_STDERR) {
		p->errs = agent_connect(addr, MV_CONN_STDERR, proc_id, err);
		if (p->errs < 0)
			return -1;
	}
	return 0;
}

void stdio_proxy_pollfds(struct stdio_proxy *p, bool read_stdin, struct pollfd *pfd)
{
	bool want_in = read_stdin && p->in >= 0 && p->inlen == 0 && !p->stdin_eof;

	pfd[0] = (struct pollfd){.fd = p->out, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = p->errs, .events = POLLIN};
	pfd[2] = (struct pollfd){.fd = want_in ? p->fd_in : -1, .events = POLLIN};
	pfd[3] = (struct pollfd){.fd = p->in >= 0 && p->inlen > 0 ? p->in : -1, .events = POLLOUT};
}

/* A stream from the guest to one of our fds; its end closes it. */
static void copy_out(int *from, int to)
{
	char buf[STDIO_PROXY_BUF];
	ssize_t n = read(*from, buf, sizeof(buf));

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		close_fd(from);
		return;
	}
	for (ssize_t done = 0; done < n;) {
		ssize_t w = write(to, buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the reader is gone: keep draining the guest */
		done += w;
	}
}

static void stdin_read(struct stdio_proxy *p)
{
	ssize_t n = read(p->fd_in, p->inbuf, sizeof(p->inbuf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		p->stdin_eof = true;
		return;
	}
	p->inlen = (size_t)n;
}

static void stdin_flush(struct stdio_proxy *p)
{
	ssize_t n = write(p->in, p->inbuf, p->inlen);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		close_fd(&p->in); /* the process closed its stdin */
		return;
	}
	memmove(p->inbuf, p->inbuf + n, p->inlen - (size_t)n);
	p->inlen -= (size_t)n;
}

void stdio_proxy_handle(struct stdio_proxy *p, const struct pollfd *pfd)
{
	if (pfd[0].revents)
		copy_out(&p->out, p->fd_out);
	if (pfd[1].revents)
		copy_out(&p->errs, p->fd_err);
	if (pfd[2].revents)
		stdin_read(p);
	if (pfd[3].revents)
		stdin_flush(p);
	if (p->stdin_eof && p->inlen == 0 && p->in >= 0) {
		shutdown(p->in, SHUT_WR);
		close_fd(&p->in);
	}
}

bool stdio_proxy_output_done(const struct stdio_proxy *p)
{
	return p->out < 0 && p->errs < 0;
}

void stdio_proxy_close(struct stdio_proxy *p)
{
	close_fd(&p->in);
	close_fd(&p->out);
	close_fd(&p->errs);
}
