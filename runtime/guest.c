#include "runtime/guest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cleanup.h"

#ifndef MV_PKGLIBDIR
#define MV_PKGLIBDIR "/usr/local/lib/mvrun"
#endif

/* console: the 8250 at COM1.  panic=-1: a panic resets at once, which ends
 * the VM (the VMM reports it).  pci=off: there is no PCI bus to probe.
 * The ACPI tables say there is no i8042 and no RTC CMOS; kvm-clock gives the
 * time.  no_timer_check: the in-kernel IOAPIC timer needs no checking. */
static const char base_cmdline[] = "console=ttyS0 8250.nr_uarts=1 panic=-1 reboot=acpi pci=off "
				   "no_timer_check i8042.noaux cryptomgr.notests rdinit=/init";

static char *exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return NULL;
	*slash = '\0';
	return strdup(buf);
}

static char *pick(const char *env, const char *build_dir, const char *name)
{
	const char *v = getenv(env);
	char *path = NULL;

	if (v && *v)
		return strdup(v);
	if (build_dir && asprintf(&path, "%s/guest/%s", build_dir, name) >= 0) {
		if (access(path, F_OK) == 0)
			return path;
		free(path);
	}
	if (asprintf(&path, "%s/%s", MV_PKGLIBDIR, name) < 0)
		return NULL;
	return path;
}

int guest_default_paths(char **kernel, char **initrd, mv_error_t *err)
{
	cleanup_free char *dir = exe_dir();

	*kernel = pick("MVRUN_KERNEL", dir, "vmlinuz");
	*initrd = pick("MVRUN_INITRD", dir, "initramfs.img");
	if (*kernel == NULL || *initrd == NULL) {
		free(*kernel);
		free(*initrd);
		return mv_error(err, ENOMEM, "guest kernel paths");
	}
	return 0;
}

char *guest_cmdline(bool verbose, const char *extra)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s%s%s", base_cmdline, verbose ? "" : " quiet loglevel=1",
		     extra && *extra ? " " : "", extra ? extra : "") < 0)
		return NULL;
	return s;
}
