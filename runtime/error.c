#include "runtime/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocation failure while reporting an error must not lose the error:
 * fall back to a static text the release path knows not to free. */
static char oom_msg[] = "out of memory while formatting an error";

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return oom_msg;
	return s;
}

static void free_msg(char *msg)
{
	if (msg != oom_msg)
		free(msg);
}

int mv_error(mv_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	free_msg(err->msg);
	va_start(ap, fmt);
	err->msg = vformat(fmt, ap);
	va_end(ap);
	err->err = errnum;
	return -1;
}

int mv_error_wrap(mv_error_t *err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *joined = NULL;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	ctx = vformat(fmt, ap);
	va_end(ap);
	if (err->msg == NULL) {
		err->msg = ctx;
		return -1;
	}
	if (ctx != oom_msg && asprintf(&joined, "%s: %s", ctx, err->msg) >= 0) {
		free_msg(err->msg);
		err->msg = joined;
	}
	free_msg(ctx);
	return -1;
}

char *mv_error_string(const mv_error_t *err)
{
	char *s = NULL;
	const char *msg = err->msg ? err->msg : "unknown error";
	int ret;

	if (err->err)
		ret = asprintf(&s, "%s: %s", msg, strerror(err->err));
	else
		ret = asprintf(&s, "%s", msg);
	return ret < 0 ? NULL : s;
}

void mv_error_release(mv_error_t *err)
{
	free_msg(err->msg);
	err->msg = NULL;
	err->err = 0;
}

void mv_error_quote(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < size; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	out[i] = '\0';
	if (s[i])
		strcat(out, "...");
}
