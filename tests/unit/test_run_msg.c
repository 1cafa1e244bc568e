/* agent/run_msg.c: the agent's decoding of RUN, against what the host's
 * agent_encode_run() produces and against hostile payloads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/protocol.h"
#include "agent/run_msg.h"
#include "runtime/agent_client.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

/* A RUN payload: the header, then n bytes of strings. */
static uint32_t make_run(char *buf, uint32_t flags, uint32_t argc, uint32_t envc,
			 const char *strings, size_t n)
{
	struct mv_msg_run h = {.flags = flags, .uid = 1, .gid = 2, .argc = argc, .envc = envc};

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), strings, n);
	return (uint32_t)(sizeof(h) + n);
}

#define STRINGS(s) s, sizeof(s) - 1

/* Decoding fails with EINVAL and a message containing what. */
static void check_refused(const char *buf, uint32_t len, const char *what)
{
	struct run_msg r;
	mv_error_t err = {0};

	CHECK_INT(run_msg_decode(buf, len, &r, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	if (strstr(err.msg, what) == NULL)
		unit_fail(__FILE__, __LINE__, "`%s` does not say `%s`", err.msg, what);
	CHECK(r.argv == NULL && r.env == NULL);
	mv_error_release(&err);
}

TEST(run_msg_round_trip)
{
	const char *argv[] = {"sh", "-c", "echo $X", NULL};
	const char *env[] = {"X=1", "PATH=/bin", NULL};
	struct agent_run_req req = {.flags = MV_RUN_STDOUT | MV_RUN_STDIN,
				    .uid = 1000,
				    .gid = 100,
				    .cwd = "/tmp",
				    .argv = argv,
				    .env = env};
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	struct run_msg r;
	uint32_t len;

	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), ==, 0);
	CHECK_INT(run_msg_decode(payload, len, &r, &err), ==, 0);
	CHECK_INT(r.flags, ==, MV_RUN_STDOUT | MV_RUN_STDIN);
	CHECK_INT(r.uid, ==, 1000);
	CHECK_INT(r.gid, ==, 100);
	CHECK_INT(r.argc, ==, 3);
	CHECK_STR(r.cwd, "/tmp");
	CHECK_STR(r.argv[0], "sh");
	CHECK_STR(r.argv[2], "echo $X");
	CHECK(r.argv[3] == NULL);
	CHECK_STR(r.env[1], "PATH=/bin");
	CHECK(r.env[2] == NULL);
	run_msg_release(&r);
}

TEST(run_msg_empty_cwd_and_no_env)
{
	const char *argv[] = {"true", NULL};
	struct agent_run_req req = {.argv = argv};
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	struct run_msg r;
	uint32_t len;

	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), ==, 0);
	CHECK_INT(run_msg_decode(payload, len, &r, &err), ==, 0);
	CHECK_STR(r.cwd, "/");
	CHECK(r.env[0] == NULL);
	run_msg_release(&r);
}

TEST(run_msg_refuses_short_payloads)
{
	char buf[64] = {0};

	check_refused(buf, 0, "short payload");
	check_refused(buf, sizeof(struct mv_msg_run) - 1, "short payload");
	check_refused(NULL, 0, "short payload");
}

TEST(run_msg_refuses_bad_counts_and_strings)
{
	char buf[256];

	check_refused(buf, make_run(buf, 0, 0, 0, STRINGS("/\0")), "argc is 0");
	check_refused(buf, make_run(buf, 0, 1, 0, STRINGS("/\0true")), "argv[0]");
	check_refused(buf, make_run(buf, 0, 10, 0, STRINGS("/\0true\0")), "do not fit");
	check_refused(buf, make_run(buf, 0, 2, 0, STRINGS("/\0true\0")), "argv[1]");
	check_refused(buf, make_run(buf, 0, 1, 1, STRINGS("/\0true\0A=1")), "env[0]");
	check_refused(buf, make_run(buf, 0, 1, 0, STRINGS("/\0true\0junk")), "after the last");
	check_refused(buf, make_run(buf, 0, 1, 0, STRINGS("/true")), "cwd");
	check_refused(buf, make_run(buf, 0, 1, 0, STRINGS("/\0\0")), "argv[0] is empty");
	check_refused(buf, make_run(buf, 0x10, 1, 0, STRINGS("/\0true\0")), "unknown flags");
	/* counts that would overflow 32 bits or allocate gigabytes */
	check_refused(buf, make_run(buf, 0, 0xffffffffu, 0xffffffffu, STRINGS("/\0true\0")),
		      "do not fit");
	check_refused(buf, make_run(buf, 0, 1, 0xffffffffu, STRINGS("/\0true\0")), "do not fit");
}

TEST(run_msg_decodes_every_truncation_safely)
{
	const char *argv[] = {"echo", "hello", NULL};
	const char *env[] = {"A=1", NULL};
	struct agent_run_req req = {.cwd = "/", .argv = argv, .env = env};
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	uint32_t len;

	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), ==, 0);
	for (uint32_t n = 0; n < len; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past it */
		char *copy = malloc(n ? n : 1);
		struct run_msg r;

		memcpy(copy, payload, n);
		CHECK_INT(run_msg_decode(copy, n, &r, &err), <, 0);
		CHECK_INT(err.err, ==, EINVAL);
		free(copy);
	}
	mv_error_release(&err);
}

TEST(run_msg_root_round_trip)
{
	const char *argv[] = {"/bin/sh", "-c", "ls /", NULL};
	struct agent_run_req req = {
	    .flags = MV_RUN_STDOUT, .cwd = "/tmp", .root = "/run/mvrun/root", .argv = argv};
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	struct run_msg r;
	uint32_t len;

	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), ==, 0);
	CHECK_INT(run_msg_decode(payload, len, &r, &err), ==, 0);
	CHECK_INT(r.flags, ==, MV_RUN_STDOUT | MV_RUN_ROOT);
	CHECK_STR(r.cwd, "/tmp");
	CHECK_STR(r.root, "/run/mvrun/root");
	CHECK_INT(r.argc, ==, 3);
	CHECK_STR(r.argv[0], "/bin/sh");
	CHECK_STR(r.argv[2], "ls /");
	CHECK(r.env[0] == NULL);
	run_msg_release(&r);
}

/* No root, or an empty one: no MV_RUN_ROOT and no root string. */
TEST(run_msg_without_root)
{
	const char *argv[] = {"true", NULL};
	struct agent_run_req req = {.root = "", .argv = argv};
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	struct run_msg r;
	uint32_t len;

	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), ==, 0);
	CHECK_INT(len, ==, sizeof(struct mv_msg_run) + 6);
	CHECK_INT(run_msg_decode(payload, len, &r, &err), ==, 0);
	CHECK_INT(r.flags, ==, 0);
	CHECK(r.root == NULL);
	run_msg_release(&r);
	req.flags = MV_RUN_ROOT; /* asked for, but without a root */
	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
}

TEST(run_msg_refuses_bad_roots)
{
	char buf[256];

	check_refused(buf, make_run(buf, MV_RUN_ROOT, 1, 0, STRINGS("/\0")), "do not fit");
	check_refused(buf, make_run(buf, MV_RUN_ROOT, 1, 0, STRINGS("/\0/r\0")), "argv[0]");
	check_refused(buf, make_run(buf, MV_RUN_ROOT, 1, 0, STRINGS("/\0/r\0true")), "argv[0]");
	check_refused(buf, make_run(buf, MV_RUN_ROOT, 1, 0, STRINGS("/\0\0true\0")),
		      "root `` is not an absolute path");
	check_refused(buf, make_run(buf, MV_RUN_ROOT, 1, 0, STRINGS("/\0r\0true\0")),
		      "root `r` is not an absolute path");
	/* without the flag the root string is argv[0], and the rest is extra */
	check_refused(buf, make_run(buf, 0, 1, 0, STRINGS("/\0/r\0true\0")), "after the last");
}

TEST(run_msg_with_root_decodes_every_truncation_safely)
{
	const char *argv[] = {"echo", "hello", NULL};
	const char *env[] = {"A=1", NULL};
	struct agent_run_req req = {.cwd = "/", .root = "/r", .argv = argv, .env = env};
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	uint32_t len;

	CHECK_INT(agent_encode_run(&req, &payload, &len, &err), ==, 0);
	for (uint32_t n = 0; n < len; n++) {
		char *copy = malloc(n ? n : 1);
		struct run_msg r;

		memcpy(copy, payload, n);
		CHECK_INT(run_msg_decode(copy, n, &r, &err), <, 0);
		CHECK_INT(err.err, ==, EINVAL);
		free(copy);
	}
	mv_error_release(&err);
}
