/* Runs the registered unit tests, each in a child process with a time limit,
 * and prints TAP.  Arguments select tests whose file or name contains them. */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"

char *unit_fmt(const char *f, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		unit_fail(__FILE__, __LINE__, "out of memory");
	va_end(ap);
	return s;
}

int unit_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (dir == NULL)
		unit_fail(__FILE__, __LINE__, "opendir /proc/self/fd");
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n - 1; /* not the one opendir used */
}

int unit_run_in_child(int (*fn)(const void *arg), const void *arg)
{
	int status;
	pid_t pid;

	fflush(NULL); /* else the child writes our buffered output again */
	pid = fork();
	if (pid < 0)
		unit_fail(__FILE__, __LINE__, "fork");
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid)
		unit_fail(__FILE__, __LINE__, "waitpid");
	return status;
}

#define TEST_TIMEOUT_S 60

static struct unit_test *head, **tail = &head;

void unit_register(struct unit_test *t)
{
	*tail = t;
	tail = &t->next;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static int selected(const struct unit_test *t, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strstr(t->file, argv[i]) || strstr(t->name, argv[i]))
			return 1;
	return 0;
}

/* 0 when the test passed; the reason printed otherwise. */
static int run_one(const struct unit_test *t)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("# fork");
		return 1;
	}
	if (pid == 0) {
		alarm(TEST_TIMEOUT_S);
		t->fn();
		exit(0); /* not _exit: LeakSanitizer checks at exit */
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("# waitpid");
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		printf("# killed by signal %d%s\n", WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? " (time limit)" : "");
	else
		printf("# exit status %d\n", WEXITSTATUS(status));
	return 1;
}

int main(int argc, char **argv)
{
	int n = 0, i = 0, failed = 0;

	for (struct unit_test *t = head; t; t = t->next)
		n += selected(t, argc, argv);
	printf("1..%d\n", n);
	for (struct unit_test *t = head; t; t = t->next) {
		if (!selected(t, argc, argv))
			continue;
		i++;
		if (run_one(t) == 0) {
			printf("ok %d - %s: %s\n", i, base_name(t->file), t->name);
		} else {
			printf("not ok %d - %s: %s\n", i, base_name(t->file), t->name);
			failed++;
		}
	}
	return failed ? 1 : 0;
}
