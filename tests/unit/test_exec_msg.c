/* agent/exec_msg.c: the agent's decoding of the v2 payloads EXEC, START,
 * RESIZE and SIGNAL, against what the host's encoders produce and against
 * hostile payloads. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/exec_msg.h"
#include "agent/protocol.h"
#include "runtime/agent_client.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

static void check_error(int ret, mv_error_t *err, const char *what)
{
	CHECK_INT(ret, <, 0);
	CHECK_INT(err->err, ==, EINVAL);
	if (err->msg == NULL || strstr(err->msg, what) == NULL)
		unit_fail(__FILE__, __LINE__, "`%s` does not say `%s`", err->msg ? err->msg : "",
			  what);
	mv_error_release(err);
}

static uint32_t make_exec(char *buf, uint32_t flags, uint32_t reserved, const char *json)
{
	struct mv_msg_exec h = {.flags = flags, .reserved = reserved};
	size_t n = strlen(json);

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), json, n);
	return (uint32_t)(sizeof(h) + n);
}

TEST(exec_msg_round_trip)
{
	static const char json[] = "{\"args\":[\"sh\"],\"cwd\":\"/\"}";
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	struct exec_msg m;
	uint32_t len;

	CHECK_INT(agent_encode_exec(MV_RUN_STDOUT | MV_EXEC_INIT | MV_EXEC_DEFER, json,
				    sizeof(json) - 1, &payload, &len, &err),
		  ==, 0);
	CHECK_INT(len, ==, sizeof(struct mv_msg_exec) + sizeof(json) - 1);
	CHECK_INT(exec_msg_decode(payload, len, &m, &err), ==, 0);
	CHECK_INT(m.flags, ==, MV_RUN_STDOUT | MV_EXEC_INIT | MV_EXEC_DEFER);
	CHECK_INT(m.json_len, ==, sizeof(json) - 1);
	CHECK(memcmp(m.json, json, m.json_len) == 0);
}

TEST(exec_msg_hostile)
{
	char buf[64];
	mv_error_t err = {0};
	struct exec_msg m;

	check_error(exec_msg_decode(NULL, 0, &m, &err), &err, "EXEC: short payload (0 bytes)");
	check_error(exec_msg_decode(buf, 7, &m, &err), &err, "EXEC: short payload (7 bytes)");
	check_error(exec_msg_decode(buf, make_exec(buf, 0, 0, ""), &m, &err), &err,
		    "EXEC: no process JSON");
	check_error(exec_msg_decode(buf, make_exec(buf, 1u << 6, 0, "{}"), &m, &err), &err,
		    "EXEC: unknown flags 0x40");
	check_error(exec_msg_decode(buf, make_exec(buf, 1u << 31, 0, "{}"), &m, &err), &err,
		    "EXEC: unknown flags 0x80000000");
	check_error(exec_msg_decode(buf, make_exec(buf, 0, 5, "{}"), &m, &err), &err,
		    "EXEC: reserved field is 0x5");
	CHECK(m.json == NULL);
}

TEST(exec_msg_encode_refuses)
{
	mv_error_t err = {0};
	void *payload = NULL;
	uint32_t len;

	CHECK_INT(agent_encode_exec(0, "", 0, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	CHECK_INT(agent_encode_exec(0, "{}", MV_MSG_MAX, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, E2BIG);
	mv_error_release(&err);
	CHECK_INT(agent_encode_exec(1u << 9, "{}", 2, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	CHECK(payload == NULL);
}

TEST(start_msg_decoding)
{
	struct mv_msg_proc p = {.proc_id = 0xffffffffffffffffull};
	mv_error_t err = {0};
	uint64_t id = 0;

	CHECK_INT(start_msg_decode(&p, sizeof(p), &id, &err), ==, 0);
	CHECK(id == 0xffffffffffffffffull);
	check_error(start_msg_decode(&p, 7, &id, &err), &err, "START: short payload (7 bytes)");
	check_error(start_msg_decode(NULL, 0, &id, &err), &err, "START: short payload (0 bytes)");
}

TEST(resize_msg_decoding)
{
	struct mv_msg_resize r = {.proc_id = 3, .rows = 24, .cols = 80};
	struct resize_msg m;
	mv_error_t err = {0};
	char longer[sizeof(r) + 8] = {0};

	CHECK_INT(resize_msg_decode(&r, sizeof(r), &m, &err), ==, 0);
	CHECK_INT(m.proc_id, ==, 3);
	CHECK_INT(m.rows, ==, 24);
	CHECK_INT(m.cols, ==, 80);
	/* later fields may follow */
	memcpy(longer, &r, sizeof(r));
	CHECK_INT(resize_msg_decode(longer, sizeof(longer), &m, &err), ==, 0);
	check_error(resize_msg_decode(&r, sizeof(r) - 1, &m, &err), &err,
		    "RESIZE: short payload (15 bytes)");
	r.rows = 0;
	check_error(resize_msg_decode(&r, sizeof(r), &m, &err), &err,
		    "RESIZE: 0x80 is not a window size");
	r.rows = 65535;
	r.cols = 65535;
	CHECK_INT(resize_msg_decode(&r, sizeof(r), &m, &err), ==, 0);
	CHECK_INT(m.rows, ==, 65535);
	r.reserved = 1;
	check_error(resize_msg_decode(&r, sizeof(r), &m, &err), &err,
		    "RESIZE: reserved field is 0x1");
}

TEST(signal_msg_decoding)
{
	struct mv_msg_signal s = {.proc_id = 9, .signo = SIGTERM, .flags = MV_SIGNAL_ALL};
	struct signal_msg m;
	mv_error_t err = {0};

	CHECK_INT(signal_msg_decode(&s, sizeof(s), &m, &err), ==, 0);
	CHECK_INT(m.proc_id, ==, 9);
	CHECK_INT(m.signo, ==, SIGTERM);
	CHECK_INT(m.flags, ==, MV_SIGNAL_ALL);
	check_error(signal_msg_decode(&s, 3, &m, &err), &err, "SIGNAL: short payload (3 bytes)");
	s.flags = 2;
	check_error(signal_msg_decode(&s, sizeof(s), &m, &err), &err, "SIGNAL: unknown flags 0x2");
	s.flags = 0;
	s.signo = 0xffffffffu;
	check_error(signal_msg_decode(&s, sizeof(s), &m, &err), &err,
		    "SIGNAL: no signal 4294967295");
	s.signo = _NSIG;
	check_error(signal_msg_decode(&s, sizeof(s), &m, &err), &err, "SIGNAL: no signal");
	s.signo = 0; /* signal 0: the existence check kill(2) allows */
	CHECK_INT(signal_msg_decode(&s, sizeof(s), &m, &err), ==, 0);
}
