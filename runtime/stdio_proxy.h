/* Carrying one guest process's stdio: its stream connections to the agent
 * on one side, host fds (inherited pipes or files, or a pty) on the other.
 * Used by the container monitor and by `mvrun exec`'s host process, each
 * in its own poll loop. */
#ifndef MV_STDIO_PROXY_H
#define MV_STDIO_PROXY_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/agent_client.h"
#include "runtime/error.h"

#define STDIO_PROXY_BUF	 65536
#define STDIO_PROXY_NFDS 4

struct stdio_proxy {
	int in, out, errs;	   /* stream connections, -1 when not there or done */
	int fd_in, fd_out, fd_err; /* the host's side */
	char inbuf[STDIO_PROXY_BUF];
	size_t inlen;
	bool stdin_eof;
};

/* Host side 0, 1, 2; no streams yet. */
void stdio_proxy_init(struct stdio_proxy *p);

/* Connect the streams in flags (MV_RUN_STDIN/STDOUT/STDERR) of proc_id. */
int stdio_proxy_connect(struct stdio_proxy *p, const struct agent_addr *addr, uint64_t proc_id,
			uint32_t flags, mv_error_t *err);

/* STDIO_PROXY_NFDS poll entries; the host's stdin is read only when
 * read_stdin (before the process runs nothing may consume it). */
void stdio_proxy_pollfds(struct stdio_proxy *p, bool read_stdin, struct pollfd *pfd);

/* Act on what poll said about those entries. */
void stdio_proxy_handle(struct stdio_proxy *p, const struct pollfd *pfd);

/* The process's output has ended (stdout and stderr at end of file). */
bool stdio_proxy_output_done(const struct stdio_proxy *p);

void stdio_proxy_close(struct stdio_proxy *p);

#endif
