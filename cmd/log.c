/* Error and debug output of the CLI.  podman and containerd pass
 * `--log FILE --log-format json` and show the last error record on failure. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "cmd/mvrun.h"
#include "runtime/cleanup.h"

static void rfc3339_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}

static void write_json_record(int fd, const char *level, const char *msg)
{
	yajl_gen gen = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	char when[64];
	size_t len;

	if (gen == NULL)
		return;
	rfc3339_now(when, sizeof(when));
	yajl_gen_map_open(gen);
	yajl_gen_string(gen, (const unsigned char *)"level", 5);
	yajl_gen_string(gen, (const unsigned char *)level, strlen(level));
	yajl_gen_string(gen, (const unsigned char *)"msg", 3);
	yajl_gen_string(gen, (const unsigned char *)msg, strlen(msg));
	yajl_gen_string(gen, (const unsigned char *)"time", 4);
	yajl_gen_string(gen, (const unsigned char *)when, strlen(when));
	yajl_gen_map_close(gen);
	/* One write, so concurrent writers never interleave inside a record;
	 * a failed write has nowhere left to be reported. */
	if (yajl_gen_get_buf(gen, &buf, &len) == yajl_gen_status_ok)
		dprintf(fd, "%.*s\n", (int)len, (const char *)buf);
	yajl_gen_free(gen);
}

static void log_record(const struct mv_global *g, const char *level, const char *msg)
{
	cleanup_close int fd = -1;
	char when[64];

	if (g->log == NULL)
		return;
	fd = open(g->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (g->log_format == MV_LOG_JSON) {
		write_json_record(fd, level, msg);
		return;
	}
	rfc3339_now(when, sizeof(when));
	dprintf(fd, "%s %s: %s\n", when, level, msg);
}

void mv_log_error(const struct mv_global *g, const char *msg)
{
	fprintf(stderr, "mvrun: %s\n", msg);
	log_record(g, "error", msg);
}

void mv_log_debug(const struct mv_global *g, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;
	int ret;

	if (g->log_level < 3)
		return;
	va_start(ap, fmt);
	ret = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return;
	if (g->log == NULL)
		fprintf(stderr, "mvrun: debug: %s\n", msg);
	log_record(g, "debug", msg);
}
