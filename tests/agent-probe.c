/* agent-client probe CASE: hostile and unusual input for mvrun-agent.
 * Each case sends its bytes and prints what comes back, one line each:
 * OK, ERROR <text>, CREATED, STARTED, EXITED <code>, then EOF (the agent
 * closed the connection) or OPEN (it stayed open, nothing more came). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/agent-client.h"

#define IDLE_MS 300
#define NO_PROC 999999

/* A literal with embedded NULs and the length of all of it but the last. */
#define STRINGS(s) s, sizeof(s) - 1

static void raw_write(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n) {
		perror("agent-client: write");
		exit(EXIT_CLIENT_FAILED);
	}
}

/* A header that claims len, then n payload bytes (n may differ). */
static void raw_msg(int fd, uint32_t type, uint32_t len, const void *payload, size_t n)
{
	struct mv_msg_hdr hdr = {.type = type, .len = len};
	char buf[sizeof(hdr) + 256];

	if (n > 256)
		exit(EXIT_CLIENT_FAILED);
	memcpy(buf, &hdr, sizeof(hdr));
	if (n)
		memcpy(buf + sizeof(hdr), payload, n);
	raw_write(fd, buf, sizeof(hdr) + n);
}

static void send_hello(int fd, uint32_t version, uint32_t kind, uint64_t proc_id)
{
	struct mv_msg_hello h = {.version = version, .kind = kind, .proc_id = proc_id};

	raw_msg(fd, MV_MSG_HELLO, sizeof(h), &h, sizeof(h));
}

static void send_run(int fd, uint32_t flags, uint32_t argc, uint32_t envc, const char *strings,
		     size_t n)
{
	struct mv_msg_run h = {
	    .flags = flags, .uid = getuid(), .gid = getgid(), .argc = argc, .envc = envc};
	char buf[256];

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), strings, n);
	raw_msg(fd, MV_MSG_RUN, (uint32_t)(sizeof(h) + n), buf, sizeof(h) + n);
}

static void send_mount(int fd, uint32_t options, uint32_t reserved, const char *strings, size_t n)
{
	struct mv_msg_mount h = {.options = options, .reserved = reserved};
	char buf[256];

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), strings, n);
	raw_msg(fd, MV_MSG_MOUNT, (uint32_t)(sizeof(h) + n), buf, sizeof(h) + n);
}

static void send_signal(int fd, uint64_t proc_id, uint32_t signo)
{
	struct mv_msg_signal m = {.proc_id = proc_id, .signo = signo};

	raw_msg(fd, MV_MSG_SIGNAL, sizeof(m), &m, sizeof(m));
}

static int dial(const struct agent_addr *a)
{
	mv_error_t err = {0};
	int fd = agent_dial(a, MV_PORT_AGENT, &err);

	if (fd < 0)
		die(&err);
	return fd;
}

static int control(const struct agent_addr *a)
{
	mv_error_t err = {0};
	int fd = agent_connect(a, MV_CONN_CONTROL, 0, &err);

	if (fd < 0)
		die(&err);
	return fd;
}

static void print_error(const mv_error_t *e)
{
	char *s = mv_error_string(e);

	printf("ERROR %s\n", s ? s : "?");
	free(s);
}

static void print_event(const struct agent_event *ev)
{
	switch (ev->type) {
	case MV_MSG_ERROR:
		print_error(&ev->error);
		break;
	case MV_MSG_EXITED:
		printf("EXITED %d\n", agent_exit_code(ev->status));
		break;
	case MV_MSG_OK:
		puts("OK");
		break;
	default:
		puts(ev->type == MV_MSG_CREATED ? "CREATED" : "STARTED");
	}
}

static void print_answers(int fd)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct agent_event ev;
		mv_error_t err = {0};
		int ret;

		if (poll(&p, 1, IDLE_MS) == 0) {
			puts("OPEN");
			break;
		}
		ret = agent_recv_event(fd, &ev, &err);
		if (ret == 0 || (ret < 0 && err.err == ECONNRESET)) {
			puts("EOF");
			break;
		}
		if (ret < 0) {
			print_error(&err);
			break;
		}
		print_event(&ev);
		agent_event_release(&ev);
	}
	fflush(stdout);
	close(fd);
}

/* Connect a stream of proc_id and print OK or the agent's ERROR. */
static void try_stream(const struct agent_addr *a, uint32_t kind, uint64_t proc_id)
{
	mv_error_t err = {0};
	int fd = agent_connect(a, kind, proc_id, &err);

	if (fd < 0) {
		print_error(&err);
		mv_error_release(&err);
		return;
	}
	puts("OK");
	close(fd);
}

/* RUN with the given streams and wait for CREATED. */
static uint64_t run_created(int ctl, uint32_t flags, const char *const *argv)
{
	struct agent_run_req req = {.flags = flags, .uid = getuid(), .gid = getgid(), .argv = argv};
	mv_error_t err = {0};
	uint64_t id;

	if (agent_run(ctl, &req, &id, &err) < 0)
		die(&err);
	return id;
}

/* ---- the cases ---- */

static void oversize(const struct agent_addr *a)
{
	int fd = control(a);

	raw_msg(fd, MV_MSG_RUN, MV_MSG_MAX + 1, NULL, 0);
	print_answers(fd);
}

static void garbage(const struct agent_addr *a)
{
	static char junk[64 * 1024];
	int fd = dial(a);

	memset(junk, 0xff, sizeof(junk));
	raw_write(fd, junk, sizeof(junk));
	print_answers(fd);
}

static void half_header(const struct agent_addr *a)
{
	int fd = dial(a);

	raw_write(fd, "\x02\x00\x00", 3);
	close(fd);
	puts("CLOSED");
}

static void no_hello(const struct agent_addr *a)
{
	int fd = dial(a);

	send_run(fd, 0, 1, 0, STRINGS("/\0true\0"));
	print_answers(fd);
}

static void bad_version(const struct agent_addr *a)
{
	int fd = dial(a);

	send_hello(fd, 99, MV_CONN_CONTROL, 0);
	print_answers(fd);
}

static void bad_kind(const struct agent_addr *a)
{
	int fd = dial(a);

	send_hello(fd, MV_PROTOCOL_VERSION, 42, 0);
	print_answers(fd);
}

static void short_hello(const struct agent_addr *a)
{
	uint32_t version = MV_PROTOCOL_VERSION;
	int fd = dial(a);

	raw_msg(fd, MV_MSG_HELLO, sizeof(version), &version, sizeof(version));
	print_answers(fd);
}

/* An unknown type gets an ERROR and the connection goes on. */
static void unknown_type(const struct agent_addr *a)
{
	int fd = control(a);

	raw_msg(fd, 77, 3, "abc", 3);
	send_signal(fd, NO_PROC, 15);
	print_answers(fd);
}

static void hello_twice(const struct agent_addr *a)
{
	int fd = control(a);

	send_hello(fd, MV_PROTOCOL_VERSION, MV_CONN_CONTROL, 0);
	print_answers(fd);
}

static void agent_message(const struct agent_addr *a)
{
	struct mv_msg_exited x = {.proc_id = 1};
	int fd = control(a);

	raw_msg(fd, MV_MSG_EXITED, sizeof(x), &x, sizeof(x));
	print_answers(fd);
}

static void short_run(const struct agent_addr *a)
{
	int fd = control(a);

	raw_msg(fd, MV_MSG_RUN, 4, "\0\0\0\0", 4);
	print_answers(fd);
}

static void run_argc0(const struct agent_addr *a)
{
	int fd = control(a);

	send_run(fd, 0, 0, 0, STRINGS("/\0"));
	print_answers(fd);
}

static void run_unterminated(const struct agent_addr *a)
{
	int fd = control(a);

	send_run(fd, 0, 1, 0, STRINGS("/\0true"));
	print_answers(fd);
}

static void run_missing_arg(const struct agent_addr *a)
{
	int fd = control(a);

	send_run(fd, 0, 2, 0, STRINGS("/\0true\0"));
	print_answers(fd);
}

static void run_trailing(const struct agent_addr *a)
{
	int fd = control(a);

	send_run(fd, 0, 1, 0, STRINGS("/\0true\0junk"));
	print_answers(fd);
}

static void run_huge_counts(const struct agent_addr *a)
{
	int fd = control(a);

	send_run(fd, 0, 0xffffffffu, 0xffffffffu, STRINGS("/\0true\0"));
	print_answers(fd);
}

static void run_flags(const struct agent_addr *a)
{
	int fd = control(a);

	send_run(fd, 0x80, 1, 0, STRINGS("/\0true\0"));
	print_answers(fd);
}

static void run_empty_argv0(const struct agent_addr *a)
{
	int fd = control(a);

	send_run(fd, 0, 1, 0, STRINGS("/\0\0"));
	print_answers(fd);
}

static void run_root_relative(const struct agent_addr *a)
{
	int fd = control(a);

	send_run(fd, MV_RUN_ROOT, 1, 0, STRINGS("/\0root\0true\0"));
	print_answers(fd);
}

/* MOUNTs refused before anything is created or mounted */
static void short_mount(const struct agent_addr *a)
{
	int fd = control(a);

	raw_msg(fd, MV_MSG_MOUNT, 15, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15);
	print_answers(fd);
}

static void mount_unterminated(const struct agent_addr *a)
{
	int fd = control(a);

	send_mount(fd, 0, 0, STRINGS("none\0/mvrun-probe\0tmpfs\0size=1"));
	print_answers(fd);
}

static void mount_missing_string(const struct agent_addr *a)
{
	int fd = control(a);

	send_mount(fd, 0, 0, STRINGS("none\0/mvrun-probe\0"));
	print_answers(fd);
}

static void mount_trailing(const struct agent_addr *a)
{
	int fd = control(a);

	send_mount(fd, 0, 0, STRINGS("none\0/mvrun-probe\0tmpfs\0\0junk"));
	print_answers(fd);
}

static void mount_relative(const struct agent_addr *a)
{
	int fd = control(a);

	send_mount(fd, 0, 0, STRINGS("none\0mvrun-probe\0tmpfs\0\0"));
	print_answers(fd);
}

static void mount_dotdot(const struct agent_addr *a)
{
	int fd = control(a);

	send_mount(fd, 0, 0, STRINGS("none\0/tmp/../mvrun-probe\0tmpfs\0\0"));
	print_answers(fd);
}

static void mount_options(const struct agent_addr *a)
{
	int fd = control(a);

	send_mount(fd, 0x80, 0, STRINGS("none\0/mvrun-probe\0tmpfs\0\0"));
	print_answers(fd);
}

static void mount_reserved(const struct agent_addr *a)
{
	int fd = control(a);

	send_mount(fd, 0, 7, STRINGS("none\0/mvrun-probe\0tmpfs\0\0"));
	print_answers(fd);
}

static void short_signal(const struct agent_addr *a)
{
	int fd = control(a);

	raw_msg(fd, MV_MSG_SIGNAL, 3, "abc", 3);
	print_answers(fd);
}

static void bad_signo(const struct agent_addr *a)
{
	int fd = control(a);

	send_signal(fd, NO_PROC, 1000);
	print_answers(fd);
}

static void signal_nosuch(const struct agent_addr *a)
{
	int fd = control(a);

	send_signal(fd, NO_PROC, 15);
	print_answers(fd);
}

static void stream_nosuch(const struct agent_addr *a)
{
	try_stream(a, MV_CONN_STDOUT, NO_PROC);
}

static void stream_not_asked(const struct agent_addr *a)
{
	static const char *const argv[] = {"true", NULL};
	int ctl = control(a);
	uint64_t id = run_created(ctl, MV_RUN_STDOUT, argv);

	try_stream(a, MV_CONN_STDIN, id);
	close(ctl);
}

static void stream_twice(const struct agent_addr *a)
{
	static const char *const argv[] = {"true", NULL};
	int ctl = control(a);
	uint64_t id = run_created(ctl, MV_RUN_STDOUT | MV_RUN_STDERR, argv);

	try_stream(a, MV_CONN_STDOUT, id);
	try_stream(a, MV_CONN_STDOUT, id);
	close(ctl);
}

static void stream_after_start(const struct agent_addr *a)
{
	static const char *const argv[] = {"sleep", "10", NULL};
	int ctl = control(a);
	uint64_t id = run_created(ctl, MV_RUN_STDOUT, argv);
	mv_error_t err = {0};
	uint32_t pid;
	int out = agent_connect(a, MV_CONN_STDOUT, id, &err);

	if (out < 0 || agent_wait_started(ctl, id, &pid, &err) < 0)
		die(&err);
	try_stream(a, MV_CONN_STDOUT, id);
	close(ctl); /* kills sleep */
	close(out);
}

/* Two processes without streams on one control connection: prints their
 * exit codes in the order they were run. */
static void two_on_one(const struct agent_addr *a)
{
	static const char *const argv_a[] = {"sh", "-c", "sleep 0.3; exit 3", NULL};
	static const char *const argv_b[] = {"sh", "-c", "exit 4", NULL};
	int ctl = control(a), code[2] = {-1, -1}, left = 2;
	mv_error_t err = {0};
	uint64_t id[2];
	uint32_t pid;

	id[0] = run_created(ctl, 0, argv_a);
	if (agent_wait_started(ctl, id[0], &pid, &err) < 0)
		die(&err);
	id[1] = run_created(ctl, 0, argv_b);
	if (agent_wait_started(ctl, id[1], &pid, &err) < 0)
		die(&err);
	while (left > 0) {
		struct agent_event ev;

		if (agent_recv_event(ctl, &ev, &err) <= 0)
			die(&err);
		for (int i = 0; i < 2; i++) {
			if (ev.type == MV_MSG_EXITED && ev.proc_id == id[i]) {
				code[i] = agent_exit_code(ev.status);
				left--;
			}
		}
		agent_event_release(&ev);
	}
	printf("a %d\nb %d\n", code[0], code[1]);
	close(ctl);
}

struct probe {
	const char *name;
	void (*fn)(const struct agent_addr *a);
};

static const struct probe probes[] = {
    {"oversize", oversize},
    {"garbage", garbage},
    {"half-header", half_header},
    {"no-hello", no_hello},
    {"bad-version", bad_version},
    {"bad-kind", bad_kind},
    {"short-hello", short_hello},
    {"unknown-type", unknown_type},
    {"hello-twice", hello_twice},
    {"agent-message", agent_message},
    {"short-run", short_run},
    {"run-argc0", run_argc0},
    {"run-unterminated", run_unterminated},
    {"run-missing-arg", run_missing_arg},
    {"run-trailing", run_trailing},
    {"run-huge-counts", run_huge_counts},
    {"run-flags", run_flags},
    {"run-empty-argv0", run_empty_argv0},
    {"run-root-relative", run_root_relative},
    {"short-mount", short_mount},
    {"mount-unterminated", mount_unterminated},
    {"mount-missing-string", mount_missing_string},
    {"mount-trailing", mount_trailing},
    {"mount-relative", mount_relative},
    {"mount-dotdot", mount_dotdot},
    {"mount-options", mount_options},
    {"mount-reserved", mount_reserved},
    {"short-signal", short_signal},
    {"bad-signo", bad_signo},
    {"signal-nosuch", signal_nosuch},
    {"stream-nosuch", stream_nosuch},
    {"stream-not-asked", stream_not_asked},
    {"stream-twice", stream_twice},
    {"stream-after-start", stream_after_start},
    {"two-on-one", two_on_one},
};

int probe_run(const char *name, const struct agent_addr *addr)
{
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (strcmp(probes[i].name, name) == 0) {
			probes[i].fn(addr);
			fflush(stdout);
			return 0;
		}
	}
	fprintf(stderr, "agent-client: no probe `%s`\n", name);
	return 2;
}
