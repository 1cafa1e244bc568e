/* The monitor's answer lines and the stdio proxy between a guest process's
 * streams and host fds (runtime/monitor.c, runtime/stdio_proxy.c). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/monitor.h"
#include "runtime/stdio_proxy.h"
#include "tests/unit/unit.h"

TEST(monitor_answer_ok_and_error)
{
	mv_error_t err = {0};
	char buf[MONITOR_MSG_MAX];

	CHECK_INT(monitor_parse_answer("ok", 2, &err), ==, 0);
	CHECK_INT(monitor_parse_answer("error 3 container not running", 29, &err), ==, -1);
	CHECK_INT(err.err, ==, ESRCH);
	CHECK_STR(err.msg, "container not running");
	mv_error_release(&err);

	mv_error(&err, EINVAL, "cannot start an already running container");
	monitor_format_error(buf, sizeof(buf), &err);
	mv_error_release(&err);
	CHECK_INT(monitor_parse_answer(buf, strlen(buf), &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, "cannot start an already running container");
	mv_error_release(&err);
}

TEST(monitor_answer_hostile)
{
	mv_error_t err = {0};
	char big[MONITOR_MSG_MAX * 2];

	CHECK_INT(monitor_parse_answer("", 0, &err), ==, -1);
	CHECK_INT(err.err, ==, EPROTO);
	mv_error_release(&err);
	CHECK_INT(monitor_parse_answer("okay", 4, &err), ==, -1);
	mv_error_release(&err);
	CHECK_INT(monitor_parse_answer("error x y", 9, &err), ==, -1);
	CHECK_INT(err.err, ==, EPROTO);
	mv_error_release(&err);
	memset(big, 'a', sizeof(big));
	CHECK_INT(monitor_parse_answer(big, sizeof(big), &err), ==, -1);
	CHECK(strlen(err.msg) < 200);
	mv_error_release(&err);
}

/* A proxy whose guest side is socketpairs and host side pipes. */
struct rig {
	struct stdio_proxy p;
	int guest_in, guest_out, guest_err; /* the "agent" ends */
	int host_in, host_out, host_err;    /* what the test writes / reads */
};

static void rig_init(struct rig *r)
{
	int in[2], out[2], errs[2], hin[2], hout[2], herr[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, in) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, out) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, errs) == 0);
	CHECK(pipe(hin) == 0 && pipe(hout) == 0 && pipe(herr) == 0);
	stdio_proxy_init(&r->p);
	r->p.in = in[0];
	fcntl(in[0], F_SETFL, O_NONBLOCK);
	r->p.out = out[0];
	r->p.errs = errs[0];
	r->guest_in = in[1];
	r->guest_out = out[1];
	r->guest_err = errs[1];
	r->p.fd_in = hin[0];
	r->host_in = hin[1];
	r->p.fd_out = hout[1];
	r->host_out = hout[0];
	r->p.fd_err = herr[1];
	r->host_err = herr[0];
}

static void rig_step(struct rig *r, bool read_stdin)
{
	struct pollfd pfd[STDIO_PROXY_NFDS];

	stdio_proxy_pollfds(&r->p, read_stdin, pfd);
	CHECK(poll(pfd, STDIO_PROXY_NFDS, 2000) > 0);
	stdio_proxy_handle(&r->p, pfd);
}

TEST(stdio_proxy_carries_both_ways_and_ends)
{
	struct rig r;
	char buf[64] = {0};

	rig_init(&r);
	CHECK(write(r.guest_out, "out", 3) == 3);
	rig_step(&r, true);
	CHECK(read(r.host_out, buf, sizeof(buf)) == 3);
	CHECK(memcmp(buf, "out", 3) == 0);

	CHECK(write(r.host_in, "in", 2) == 2);
	rig_step(&r, true); /* read from the host */
	rig_step(&r, true); /* write to the guest */
	CHECK(read(r.guest_in, buf, sizeof(buf)) == 2);

	/* the host's stdin ends: the guest's stdin stream is shut down */
	close(r.host_in);
	rig_step(&r, true);
	CHECK_INT(r.p.in, ==, -1);
	CHECK(read(r.guest_in, buf, sizeof(buf)) == 0);

	CHECK(!stdio_proxy_output_done(&r.p));
	close(r.guest_out);
	close(r.guest_err);
	rig_step(&r, true);
	if (!stdio_proxy_output_done(&r.p))
		rig_step(&r, true);
	CHECK(stdio_proxy_output_done(&r.p));
	stdio_proxy_close(&r.p);
}

TEST(stdio_proxy_does_not_read_stdin_before_start)
{
	struct rig r;
	struct pollfd pfd[STDIO_PROXY_NFDS];

	rig_init(&r);
	CHECK(write(r.host_in, "early", 5) == 5);
	stdio_proxy_pollfds(&r.p, false, pfd);
	CHECK_INT(pfd[2].fd, ==, -1);
	stdio_proxy_pollfds(&r.p, true, pfd);
	CHECK_INT(pfd[2].fd, ==, r.p.fd_in);
	stdio_proxy_close(&r.p);
}

TEST(stdio_proxy_output_survives_a_gone_reader)
{
	struct rig r;

	rig_init(&r);
	close(r.host_out); /* the caller stopped reading */
	signal(SIGPIPE, SIG_IGN);
	CHECK(write(r.guest_out, "lost", 4) == 4);
	rig_step(&r, true);
	CHECK(r.p.out >= 0); /* still drained, not closed */
	stdio_proxy_close(&r.p);
}
