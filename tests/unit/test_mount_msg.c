/* agent/mount_msg.c: the agent's decoding of MOUNT, against what the
 * host's agent_encode_mount() produces and against hostile payloads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "agent/mount_msg.h"
#include "agent/protocol.h"
#include "runtime/agent_client.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

#define STRINGS(s) s, sizeof(s) - 1

/* A MOUNT payload: the header, then n bytes of strings. */
static uint32_t make_mount(char *buf, uint64_t flags, uint32_t options, uint32_t reserved,
			   const char *strings, size_t n)
{
	struct mv_msg_mount h = {.flags = flags, .options = options, .reserved = reserved};

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), strings, n);
	return (uint32_t)(sizeof(h) + n);
}

/* Decoding a copy of exactly len bytes (so ASan sees any read past it)
 * fails with EINVAL and a message containing what. */
static void check_refused(const char *buf, uint32_t len, const char *what)
{
	char *copy = malloc(len ? len : 1);
	struct mount_msg m;
	mv_error_t err = {0};

	if (buf)
		memcpy(copy, buf, len);
	CHECK_INT(mount_msg_decode(buf ? copy : NULL, len, &m, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	if (strstr(err.msg, what) == NULL)
		unit_fail(__FILE__, __LINE__, "`%s` does not say `%s`", err.msg, what);
	CHECK(m.target == NULL && m.source == NULL);
	mv_error_release(&err);
	free(copy);
}

static void check_decodes(const char *buf, uint32_t len)
{
	struct mount_msg m;
	mv_error_t err = {0};

	if (mount_msg_decode(buf, len, &m, &err) < 0)
		unit_fail(__FILE__, __LINE__, "refused: %s", err.msg);
}

TEST(mount_msg_round_trip)
{
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	struct mount_msg m;
	uint32_t len;

	CHECK_INT(agent_encode_mount(MS_BIND | MS_RDONLY | MS_REC, MV_MOUNT_FILE, "/src/hosts",
				     "/run/mvrun/root/etc/hosts", "virtiofs", "a=b,c", &payload,
				     &len, &err),
		  ==, 0);
	CHECK_INT(mount_msg_decode(payload, len, &m, &err), ==, 0);
	CHECK_INT(m.flags, ==, MS_BIND | MS_RDONLY | MS_REC);
	CHECK_INT(m.options, ==, MV_MOUNT_FILE);
	CHECK_STR(m.source, "/src/hosts");
	CHECK_STR(m.target, "/run/mvrun/root/etc/hosts");
	CHECK_STR(m.fstype, "virtiofs");
	CHECK_STR(m.data, "a=b,c");
}

TEST(mount_msg_null_strings_are_empty)
{
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	struct mount_msg m;
	uint32_t len;

	CHECK_INT(agent_encode_mount(0, 0, NULL, "/mnt", NULL, NULL, &payload, &len, &err), ==, 0);
	CHECK_INT(len, ==, sizeof(struct mv_msg_mount) + 8);
	CHECK_INT(mount_msg_decode(payload, len, &m, &err), ==, 0);
	CHECK_STR(m.source, "");
	CHECK_STR(m.target, "/mnt");
	CHECK_STR(m.fstype, "");
	CHECK_STR(m.data, "");
}

TEST(mount_msg_encode_refuses_bad_requests)
{
	void *payload = NULL;
	mv_error_t err = {0};
	uint32_t len;
	char *big = malloc(MV_MSG_MAX);

	CHECK_INT(agent_encode_mount(0, 0, "a", NULL, "tmpfs", NULL, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_INT(agent_encode_mount(0, 0, "a", "", "tmpfs", NULL, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	memset(big, 'a', MV_MSG_MAX - 1);
	big[MV_MSG_MAX - 1] = '\0';
	CHECK_INT(agent_encode_mount(0, 0, NULL, "/mnt", NULL, big, &payload, &len, &err), <, 0);
	CHECK_INT(err.err, ==, E2BIG);
	CHECK(payload == NULL);
	free(big);
	mv_error_release(&err);
}

TEST(mount_msg_refuses_short_payloads)
{
	char buf[64] = {0};

	check_refused(NULL, 0, "short payload");
	check_refused(buf, 0, "short payload");
	check_refused(buf, sizeof(struct mv_msg_mount) - 1, "short payload");
}

TEST(mount_msg_refuses_missing_and_extra_strings)
{
	char buf[256];

	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("")), "source missing");
	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("src")), "source missing");
	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("src\0")), "target missing");
	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("src\0/mnt")), "target missing");
	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("src\0/mnt\0")), "fstype missing");
	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("src\0/mnt\0tmpfs\0")), "data missing");
	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("src\0/mnt\0tmpfs\0size=1")),
		      "data missing");
	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("src\0/mnt\0tmpfs\0\0\0")),
		      "1 bytes after the last string");
	check_refused(buf, make_mount(buf, 0, 0, 0, STRINGS("src\0/mnt\0tmpfs\0\0junk")),
		      "4 bytes after the last string");
	check_decodes(buf,
		      make_mount(buf, 0, 0, 0, "src\0/mnt\0tmpfs\0", sizeof("src\0/mnt\0tmpfs\0")));
}

TEST(mount_msg_refuses_bad_targets)
{
	static const char *const bad[] = {
	    "",	     "mnt",	"./mnt",    "../mnt",  "/..", "/../x",
	    "/a/..", "/a/../b", "/a//../b", "/a/..//", "..",
	};
	static const char *const good[] = {"/",	   "/a",     "/a/b/", "/..a",
					   "/a..", "/a/...", "/a/.b", "//a"};
	char buf[256], strings[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = snprintf(strings, sizeof(strings), "src%c%s%ctmpfs%c", 0, bad[i], 0, 0);

		check_refused(buf, make_mount(buf, 0, 0, 0, strings, (size_t)n + 1),
			      bad[i][0] == '/' ? "`..` component" : "not an absolute path");
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int n = snprintf(strings, sizeof(strings), "src%c%s%ctmpfs%c", 0, good[i], 0, 0);

		check_decodes(buf, make_mount(buf, 0, 0, 0, strings, (size_t)n + 1));
	}
}

TEST(mount_msg_refuses_unknown_bits)
{
	char buf[256];

	check_refused(buf, make_mount(buf, MS_MOVE, 0, 0, STRINGS("\0/mnt\0\0\0")),
		      "unknown flags 0x2000");
	check_refused(buf, make_mount(buf, 1ull << 40, 0, 0, STRINGS("\0/mnt\0\0\0")),
		      "unknown flags 0x10000000000");
	check_refused(buf, make_mount(buf, 0, 2, 0, STRINGS("\0/mnt\0\0\0")),
		      "unknown options 0x2");
	check_refused(buf, make_mount(buf, 0, 0, 1, STRINGS("\0/mnt\0\0\0")), "reserved");
	check_decodes(buf, make_mount(buf, MS_BIND | MS_REC | MS_RDONLY | MS_PRIVATE, MV_MOUNT_FILE,
				      0, STRINGS("\0/mnt\0\0\0")));
}

/* Strings up to the limits pass, one byte more is refused. */
TEST(mount_msg_refuses_oversize_strings)
{
	struct {
		int index; /* source, target, fstype, data */
		size_t max;
		const char *name;
	} cases[] = {
	    {0, MOUNT_PATH_MAX, "source"},
	    {1, MOUNT_PATH_MAX, "target"},
	    {2, MOUNT_FSTYPE_MAX, "fstype"},
	    {3, MOUNT_DATA_MAX, "data"},
	};
	size_t size = sizeof(struct mv_msg_mount) + 4 * MOUNT_PATH_MAX + 16;
	cleanup_free char *buf = malloc(size);

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (size_t extra = 0; extra < 2; extra++) {
			size_t n = cases[c].max - 1 + extra;
			struct mv_msg_mount h = {0};
			char *p = buf + sizeof(h);
			char want[64];

			memcpy(buf, &h, sizeof(h));
			for (int i = 0; i < 4; i++) {
				size_t len = i == cases[c].index ? n : 1;

				memset(p, 'a', len);
				p[0] = i == 1 ? '/' : 'a'; /* the target stays absolute */
				p[len] = '\0';
				p += len + 1;
			}
			if (extra == 0) {
				check_decodes(buf, (uint32_t)(p - buf));
				continue;
			}
			snprintf(want, sizeof(want), "%s of %zu bytes: the limit is %zu",
				 cases[c].name, n, cases[c].max - 1);
			check_refused(buf, (uint32_t)(p - buf), want);
		}
	}
}

TEST(mount_msg_decodes_every_truncation_safely)
{
	cleanup_free void *payload = NULL;
	mv_error_t err = {0};
	uint32_t len;

	CHECK_INT(agent_encode_mount(MS_BIND, 0, "/a", "/b", "none", "x", &payload, &len, &err), ==,
		  0);
	for (uint32_t n = 0; n < len; n++) {
		char *copy = malloc(n ? n : 1);
		struct mount_msg m;

		memcpy(copy, payload, n);
		CHECK_INT(mount_msg_decode(copy, n, &m, &err), <, 0);
		CHECK_INT(err.err, ==, EINVAL);
		CHECK(m.target == NULL);
		free(copy);
	}
	mv_error_release(&err);
}
