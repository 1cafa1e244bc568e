#include <errno.h>
#include <stdlib.h>

#include "runtime/cleanup.h"
#include "runtime/error.h"
#include "tests/unit/unit.h"

TEST(error_returns_negative_and_keeps_errno)
{
	mv_error_t err = {0};

	CHECK_INT(mv_error(&err, ENOENT, "open `%s`", "config.json"), <, 0);
	CHECK_INT(err.err, ==, ENOENT);
	CHECK_STR(err.msg, "open `config.json`");
	mv_error_release(&err);
	CHECK(err.msg == NULL);
	CHECK_INT(err.err, ==, 0);
}

TEST(error_wrap_prepends_context)
{
	mv_error_t err = {0};
	cleanup_free char *s = NULL;

	mv_error(&err, ENOENT, "open `%s`", "config.json");
	CHECK_INT(mv_error_wrap(&err, "create `%s`", "c1"), <, 0);
	s = mv_error_string(&err);
	CHECK_STR(s, "create `c1`: open `config.json`: No such file or directory");
	mv_error_release(&err);
}

TEST(error_without_errno_has_no_strerror)
{
	mv_error_t err = {0};
	cleanup_free char *s = NULL;

	mv_error(&err, 0, "container does not exist");
	s = mv_error_string(&err);
	CHECK_STR(s, "container does not exist");
	mv_error_release(&err);
}

TEST(error_replaced_by_a_later_one)
{
	mv_error_t err = {0};

	mv_error(&err, EPERM, "first");
	mv_error(&err, EINVAL, "second");
	CHECK_STR(err.msg, "second");
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
}

TEST(error_null_object_is_allowed)
{
	CHECK_INT(mv_error(NULL, EIO, "ignored"), <, 0);
	CHECK_INT(mv_error_wrap(NULL, "ignored"), <, 0);
}

static int give_fd(void)
{
	cleanup_close int fd = dup(0);
	return steal_fd(&fd);
}

TEST(cleanup_steal_hands_ownership_out)
{
	char *p;
	int fd;

	{
		cleanup_free char *q = malloc(4);
		p = steal_ptr(&q);
		CHECK(q == NULL);
	}
	free(p); /* a double free here would fail under ASan */
	fd = give_fd();
	CHECK_INT(fd, >=, 0);
	CHECK_INT(close(fd), ==, 0); /* still open: the cleanup did not close it */
}
