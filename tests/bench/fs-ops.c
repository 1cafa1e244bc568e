/* fs-ops DIR [MIB] [FILES]
 *
 * Filesystem benchmark workload, static so that it runs unchanged in a
 * guest whose root holds nothing but busybox and on the host.  In DIR it
 * times, and prints one "PHASE MS" line each:
 *   write   MIB MiB (default 256) written sequentially in 1 MiB blocks, fsync
 *   read    the same file read back after dropping the page cache
 *   create  FILES (default 10000) small files created, 100 bytes each
 *   stat    each of them stat()ed
 *   delete  each of them unlinked
 * Dropping the page cache needs root; without it the read may come from it
 * (the line then says so). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1 << 20)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fs-ops: %s `%s`: %s\n", what, path, strerror(errno));
	exit(1);
}

static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	int ok;

	sync();
	if (fd < 0)
		return -1;
	ok = write(fd, "3\n", 2) == 2;
	close(fd);
	return ok ? 0 : -1;
}

static void seq_write(const char *path, long mib, char *buf)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die("create", path);
	for (long i = 0; i < mib; i++)
		if (write(fd, buf, BLOCK) != BLOCK)
			die("write", path);
	if (fsync(fd) < 0)
		die("fsync", path);
	close(fd);
}

static void seq_read(const char *path, long mib, char *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long total = 0;
	ssize_t n;

	if (fd < 0)
		die("open", path);
	while ((n = read(fd, buf, BLOCK)) > 0)
		total += n;
	if (n < 0 || total != mib * BLOCK)
		die("read", path);
	close(fd);
}

static void small_files(const char *dir, long files, int phase)
{
	char name[4200], data[100];
	struct stat st;

	memset(data, 'x', sizeof(data));
	for (long i = 0; i < files; i++) {
		snprintf(name, sizeof(name), "%s/f%ld", dir, i);
		if (phase == 0) {
			int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd < 0 || write(fd, data, sizeof(data)) != sizeof(data))
				die("create", name);
			close(fd);
		} else if (phase == 1) {
			if (stat(name, &st) < 0 || st.st_size != sizeof(data))
				die("stat", name);
		} else if (unlink(name) < 0) {
			die("unlink", name);
		}
	}
}

int main(int argc, char **argv)
{
	const char *names[] = {"create", "stat", "delete"};
	long mib = argc > 2 ? atol(argv[2]) : 256, files = argc > 3 ? atol(argv[3]) : 10000;
	char big[4096], small[4096];
	char *buf;
	double t;

	if (argc < 2 || mib <= 0 || files <= 0) {
		fprintf(stderr, "usage: fs-ops DIR [MIB] [FILES]\n");
		return 2;
	}
	snprintf(big, sizeof(big), "%s/fs-ops.big", argv[1]);
	snprintf(small, sizeof(small), "%s/fs-ops.small", argv[1]);
	buf = malloc(BLOCK);
	if (buf == NULL)
		return 1;
	memset(buf, 0xa5, BLOCK);

	t = now_ms();
	seq_write(big, mib, buf);
	printf("write %.0f\n", now_ms() - t);
	int dropped = drop_caches();
	t = now_ms();
	seq_read(big, mib, buf);
	printf("read %.0f%s\n", now_ms() - t, dropped < 0 ? " (page cache not dropped)" : "");
	unlink(big);

	if (mkdir(small, 0755) < 0)
		die("mkdir", small);
	for (int phase = 0; phase < 3; phase++) {
		t = now_ms();
		small_files(small, files, phase);
		printf("%s %.0f\n", names[phase], now_ms() - t);
	}
	rmdir(small);
	free(buf);
	return 0;
}
