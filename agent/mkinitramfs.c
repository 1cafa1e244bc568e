/* mkinitramfs [--busybox FILE] OUTPUT AGENT [MODULE.ko ...]
 *
 * Build tool: writes the guest's initramfs, a gzip'd newc cpio made with
 * libarchive, holding the agent as /init, the kernel modules it loads (in
 * the order given, listed in /lib/modules/load.list) and the few nodes and
 * mount points the kernel and the agent expect.  With --busybox, a static
 * busybox and a link per applet, so that `mvrun vm run` has a userland
 * before any container root is shared in.  Entries are written with fixed
 * owners and times so that a build is reproducible. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *const dirs[] = {"dev", "proc",    "sys",	    "tmp",  "run",
				   "mnt", "lib",     "lib/modules", "bin",  "sbin",
				   "usr", "usr/bin", "usr/sbin",    "root", "etc"};

static int fail(struct archive *a, const char *what)
{
	fprintf(stderr, "mkinitramfs: %s: %s\n", what,
		a ? archive_error_string(a) : strerror(errno));
	return -1;
}

static int add_entry(struct archive *a, const char *path, mode_t mode, dev_t rdev, const void *data,
		     size_t size)
{
	struct archive_entry *e = archive_entry_new();
	int ret = 0;

	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_nlink(e, S_ISDIR(mode) ? 2 : 1);
	archive_entry_set_rdev(e, rdev);
	archive_entry_set_size(e, S_ISREG(mode) ? (la_int64_t)size : 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		ret = fail(a, path);
	else if (size && archive_write_data(a, data, size) != (la_ssize_t)size)
		ret = fail(a, path);
	archive_entry_free(e);
	return ret;
}

static int read_whole(const char *path, char **buf, size_t *size)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		if (f)
			fclose(f);
		return -1;
	}
	*buf = malloc(n ? n : 1);
	if (*buf == NULL || fread(*buf, 1, n, f) != (size_t)n) {
		free(*buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	*size = n;
	return 0;
}

static int add_file(struct archive *a, const char *src, const char *dst, mode_t mode)
{
	char *buf;
	size_t size;
	int ret;

	if (read_whole(src, &buf, &size) < 0)
		return fail(NULL, src);
	ret = add_entry(a, dst, S_IFREG | mode, 0, buf, size);
	free(buf);
	return ret;
}

/* Each module as /lib/modules/NAME.ko; load.list names them in order. */
static int add_modules(struct archive *a, int n, char **mods)
{
	char *list = NULL;
	size_t list_len = 0;
	FILE *lf = open_memstream(&list, &list_len);
	int ret = 0;

	if (lf == NULL)
		return fail(NULL, "load.list");
	for (int i = 0; i < n && ret == 0; i++) {
		char *copy = strdup(mods[i]), dst[4096];
		const char *base = basename(copy);

		snprintf(dst, sizeof(dst), "lib/modules/%s", base);
		fprintf(lf, "%s\n", base);
		ret = add_file(a, mods[i], dst, 0644);
		free(copy);
	}
	fclose(lf);
	if (ret == 0)
		ret = add_entry(a, "lib/modules/load.list", S_IFREG | 0644, 0, list, list_len);
	free(list);
	return ret;
}

static int add_link(struct archive *a, const char *path, const char *target)
{
	struct archive_entry *e = archive_entry_new();
	int ret = 0;

	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, S_IFLNK | 0777);
	archive_entry_set_symlink(e, target);
	archive_entry_set_size(e, 0); /* the writer stores the target as the body */
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		ret = fail(a, path);
	archive_entry_free(e);
	return ret;
}

/* /bin/busybox and one link per applet, as `busybox --list-full` names them. */
static int add_busybox(struct archive *a, const char *busybox)
{
	char cmd[4200], line[256];
	FILE *p;
	int ret;

	ret = add_file(a, busybox, "bin/busybox", 0755);
	snprintf(cmd, sizeof(cmd), "'%s' --list-full", busybox);
	p = popen(cmd, "r");
	if (p == NULL)
		return fail(NULL, cmd);
	while (ret == 0 && fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] && strcmp(line, "bin/busybox") != 0)
			ret = add_link(a, line, "/bin/busybox");
	}
	if (pclose(p) != 0 && ret == 0)
		ret = fail(NULL, cmd);
	return ret;
}

int main(int argc, char **argv)
{
	const char *busybox = NULL;

	struct archive *a;
	char tmp[4096];
	int ret = 0;

	if (argc > 2 && strcmp(argv[1], "--busybox") == 0) {
		busybox = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 3) {
		fprintf(stderr,
			"usage: mkinitramfs [--busybox FILE] OUTPUT AGENT [MODULE.ko ...]\n");
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	a = archive_write_new();
	if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, tmp) != ARCHIVE_OK)
		return fail(a, tmp) ? 1 : 1;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && ret == 0; i++)
		ret = add_entry(a, dirs[i], S_IFDIR | 0755, 0, NULL, 0);
	/* The kernel opens /dev/console for init's stdio before devtmpfs exists. */
	if (ret == 0)
		ret = add_entry(a, "dev/console", S_IFCHR | 0600, makedev(5, 1), NULL, 0);
	if (ret == 0)
		ret = add_file(a, argv[2], "init", 0755);
	if (ret == 0)
		ret = add_modules(a, argc - 3, argv + 3);
	if (ret == 0 && busybox)
		ret = add_busybox(a, busybox);
	if (archive_write_close(a) != ARCHIVE_OK && ret == 0)
		ret = fail(a, tmp);
	archive_write_free(a);
	if (ret == 0 && rename(tmp, argv[1]) < 0)
		ret = fail(NULL, argv[1]);
	if (ret != 0)
		unlink(tmp);
	return ret == 0 ? 0 : 1;
}
