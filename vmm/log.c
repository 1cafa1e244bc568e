#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>

static void log_stderr(int level, const char *msg)
{
	(void)level;
	fprintf(stderr, "mvrun: %s\n", msg);
}

static vmm_log_fn log_fn = log_stderr;
static int log_max = VMM_LOG_WARNING;

void vmm_log_set(vmm_log_fn fn, int max_level)
{
	log_fn = fn ? fn : log_stderr;
	log_max = max_level;
}

void vmm_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fn(level, buf);
}
