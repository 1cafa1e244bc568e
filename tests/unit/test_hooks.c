/* runtime/hooks.c: real /bin/sh hooks written into a temporary directory,
 * each test checking what the hook saw or how hooks_run() failed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci/config.h"
#include "runtime/cleanup.h"
#include "runtime/hooks.h"
#include "tests/unit/unit.h"

#define STATE "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":42}"

struct hook_dir {
	char path[64];
};

static void dir_init(struct hook_dir *d)
{
	strcpy(d->path, "/tmp/mvrun-hooks.XXXXXX");
	CHECK(mkdtemp(d->path) != NULL);
}

static void dir_release(struct hook_dir *d)
{
	DIR *dir = opendir(d->path);
	struct dirent *e;

	CHECK(dir != NULL);
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, "..")))
			unlinkat(dirfd(dir), e->d_name, 0);
	closedir(dir);
	CHECK_INT(rmdir(d->path), ==, 0);
}

/* d/name; the caller frees it. */
static char *dir_file(const struct hook_dir *d, const char *name)
{
	char *p = NULL;

	CHECK(asprintf(&p, "%s/%s", d->path, name) > 0);
	return p;
}

/* An executable /bin/sh script d/name whose body is printf-formatted. */
static char *script(const struct hook_dir *d, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *script(const struct hook_dir *d, const char *name, const char *fmt, ...)
{
	char *path = dir_file(d, name);
	FILE *f = fopen(path, "w");
	va_list ap;

	CHECK(f != NULL);
	fputs("#!/bin/sh\n", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	CHECK_INT(fclose(f), ==, 0);
	CHECK_INT(chmod(path, 0755), ==, 0);
	return path;
}

/* The whole file (NUL-terminated, *len without it); NULL when missing. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(2 * 1024 * 1024 + 1);
	CHECK(buf != NULL);
	n = fread(buf, 1, 2 * 1024 * 1024, f);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static struct oci_hook hook_of(char *path)
{
	return (struct oci_hook){.path = path};
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check_msg(const mv_error_t *err, const char *want)
{
	if (err->msg == NULL || strcmp(err->msg, want) != 0)
		unit_fail(__FILE__, __LINE__, "message `%s`, expected `%s`",
			  err->msg ? err->msg : "(null)", want);
}

static void check_contains(const char *s, const char *part)
{
	if (s == NULL || strstr(s, part) == NULL)
		unit_fail(__FILE__, __LINE__, "`%s` does not contain `%s`", s ? s : "(null)", part);
}

/* Kill the process whose pid a hook wrote to file. */
static void kill_from(const char *file)
{
	cleanup_free char *text = slurp(file, NULL);

	if (text && atoi(text) > 0)
		kill(atoi(text), SIGKILL);
}

/* hooks_run with path as the only hook of phase, on STATE. */
static int run_hook(const char *phase, char *path, mv_error_t *err)
{
	struct oci_hook h = hook_of(path);

	return hooks_run(&h, 1, phase, STATE, err);
}

/* A hook running body fails as the only hook of phase, with the message
 * "`phase` hook `<its path>`: what". */
static void check_failure(const char *phase, const char *body, const char *what)
{
	struct hook_dir d;
	cleanup_free char *path = NULL, *want = NULL;
	mv_error_t err = {0};

	dir_init(&d);
	path = script(&d, "hook", "%s", body);
	CHECK_INT(run_hook(phase, path, &err), ==, -1);
	CHECK(asprintf(&want, "`%s` hook `%s`: %s", phase, path, what) > 0);
	check_msg(&err, want);
	mv_error_release(&err);
	dir_release(&d);
}

/* A hook running body fails as the only prestart hook; err says why. */
static void run_failing(const char *body, mv_error_t *err)
{
	struct hook_dir d;
	cleanup_free char *path = NULL;

	dir_init(&d);
	path = script(&d, "hook", "%s", body);
	CHECK_INT(run_hook("prestart", path, err), ==, -1);
	dir_release(&d);
}

/* What a hook that copies its stdin to a file was given, as the only hook
 * of phase; *len its length. */
static char *stdin_seen(const char *phase, const char *state, size_t *len)
{
	struct hook_dir d;
	cleanup_free char *out = NULL, *path = NULL;
	mv_error_t err = {0};
	struct oci_hook h;
	char *got;

	dir_init(&d);
	out = dir_file(&d, "stdin");
	path = script(&d, "hook", "/bin/cat > %s", out);
	h = hook_of(path);
	CHECK_INT(hooks_run(&h, 1, phase, state, &err), ==, 0);
	got = slurp(out, len);
	dir_release(&d);
	return got;
}

TEST(hooks_none)
{
	mv_error_t err = {0};

	CHECK_INT(hooks_run(NULL, 0, "prestart", STATE, &err), ==, 0);
	CHECK(err.msg == NULL);
}

TEST(hooks_stdin_is_the_state)
{
	size_t len;
	cleanup_free char *got = stdin_seen("prestart", STATE, &len);

	CHECK_STR(got, STATE);
	CHECK_INT(len, ==, strlen(STATE));
}

TEST(hooks_big_state_is_read_whole)
{
	cleanup_free char *got = NULL, *state = malloc(1 << 20);
	size_t len;

	CHECK(state != NULL);
	for (size_t i = 0; i < (1 << 20) - 1; i++)
		state[i] = (char)('a' + i % 26);
	state[(1 << 20) - 1] = '\0';
	got = stdin_seen("prestart", state, &len);
	CHECK_INT(len, ==, (1 << 20) - 1);
	CHECK(memcmp(got, state, len) == 0);
}

TEST(hooks_null_state_is_empty_stdin)
{
	size_t len = 99;
	cleanup_free char *got = stdin_seen("poststop", NULL, &len);

	CHECK(got != NULL);
	CHECK_INT(len, ==, 0);
}

/* argv[0] as given, the other args exactly, through /bin/sh -c. */
TEST(hooks_args_exactly)
{
	struct hook_dir d;
	cleanup_free char *out = NULL, *cmd = NULL, *got = NULL;
	char *args[7] = {"my-sh", "-c", NULL, "zero", "one", "two  words", NULL};
	mv_error_t err = {0};
	struct oci_hook h = {.path = "/bin/sh", .args = {args, 6}};
	size_t len;

	dir_init(&d);
	out = dir_file(&d, "args");
	CHECK(asprintf(&cmd, "/bin/cat /proc/$$/cmdline > %s; printf '[%%s]' \"$0\" \"$@\" >> %s",
		       out, out) > 0);
	args[2] = cmd;
	CHECK_INT(hooks_run(&h, 1, "createRuntime", STATE, &err), ==, 0);
	got = slurp(out, &len);
	CHECK(got != NULL);
	/* cmdline: my-sh\0-c\0<cmd>\0zero\0one\0two  words\0 */
	CHECK_STR(got, "my-sh");
	CHECK_STR(got + 6, "-c");
	CHECK_STR(got + len - 23, "[zero][one][two  words]");
	CHECK_STR(got + 9 + strlen(cmd) + 1, "zero");
	dir_release(&d);
}

TEST(hooks_no_args_means_path_alone)
{
	struct hook_dir d;
	cleanup_free char *out = NULL, *path = NULL, *got = NULL, *want = NULL;
	mv_error_t err = {0};

	dir_init(&d);
	out = dir_file(&d, "args");
	path = script(&d, "hook", "printf '%%s|%%s' \"$0\" \"$#\" > %s", out);
	CHECK_INT(run_hook("prestart", path, &err), ==, 0);
	got = slurp(out, NULL);
	CHECK(asprintf(&want, "%s|0", path) > 0);
	CHECK_STR(got, want);
	dir_release(&d);
}

TEST(hooks_env_exactly)
{
	struct hook_dir d;
	cleanup_free char *out = NULL, *path = NULL, *got = NULL;
	char *env[] = {"A=1", "B=two words", "EMPTY=", NULL};
	mv_error_t err = {0};
	struct oci_hook h;

	CHECK_INT(setenv("MVRUN_TEST_LEAK", "yes", 1), ==, 0);
	dir_init(&d);
	out = dir_file(&d, "env");
	path = script(&d, "hook", "/usr/bin/env > %s", out);
	h = (struct oci_hook){.path = path, .env = {env, 3}};
	CHECK_INT(hooks_run(&h, 1, "prestart", STATE, &err), ==, 0);
	got = slurp(out, NULL);
	check_contains(got, "A=1\n");
	check_contains(got, "B=two words\n");
	check_contains(got, "EMPTY=\n");
	CHECK(strstr(got, "MVRUN_TEST_LEAK") == NULL);
	CHECK(strstr(got, "PATH=") == NULL);
	free(got);

	/* none given: nothing but what sh itself sets (PWD) */
	h.env = (struct oci_strv){NULL, 0};
	CHECK_INT(hooks_run(&h, 1, "prestart", STATE, &err), ==, 0);
	got = slurp(out, NULL);
	CHECK(strstr(got, "A=1") == NULL);
	CHECK(strstr(got, "MVRUN_TEST_LEAK") == NULL);
	dir_release(&d);
}

TEST(hooks_run_in_order_and_stop_at_the_first_failure)
{
	struct hook_dir d;
	cleanup_free char *log = NULL, *p1 = NULL, *p2 = NULL, *p3 = NULL, *got = NULL,
			  *want = NULL;
	mv_error_t err = {0};
	struct oci_hook h[3];

	dir_init(&d);
	log = dir_file(&d, "log");
	p1 = script(&d, "h1", "printf 1 >> %s", log);
	p2 = script(&d, "h2",
		    "printf 2 >> %s; echo 'bad thing' >&2; echo 'second line' >&2; exit 3", log);
	p3 = script(&d, "h3", "printf 3 >> %s", log);
	h[0] = hook_of(p1);
	h[1] = hook_of(p2);
	h[2] = hook_of(p3);
	CHECK_INT(hooks_run(h, 3, "prestart", STATE, &err), ==, -1);
	got = slurp(log, NULL);
	CHECK_STR(got, "12");
	CHECK(asprintf(&want, "`prestart` hook `%s`: exit status 3: bad thing second line", p2) >
	      0);
	check_msg(&err, want);
	CHECK_INT(err.err, ==, 0);
	mv_error_release(&err);

	/* all succeed: all run */
	h[1] = hook_of(p1);
	CHECK_INT(hooks_run(h, 3, "prestart", STATE, &err), ==, 0);
	free(got);
	got = slurp(log, NULL);
	CHECK_STR(got, "12113");
	dir_release(&d);
}

TEST(hooks_exit_status_without_output)
{
	check_failure("poststop", "exit 7", "exit status 7");
}

TEST(hooks_stdout_quoted_when_stderr_is_empty)
{
	check_failure("prestart", "echo 'said on stdout'; exit 1", "exit status 1: said on stdout");
}

/* Control characters never reach the message, which stays short. */
TEST(hooks_hostile_stderr_is_cleaned_and_cut)
{
	mv_error_t err = {0};
	const char *text;

	run_failing("printf '\\033[31mred\\t\\001x\\177\\r\\n\\n' >&2; "
		    "i=0; while [ $i -lt 5000 ]; do printf 'long\\n' >&2; i=$((i+1)); done; "
		    "exit 2",
		    &err);
	for (const char *p = err.msg; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	text = strstr(err.msg, "exit status 2: ");
	CHECK(text != NULL);
	text += strlen("exit status 2: ");
	CHECK(strncmp(text, "[31mred x long long", 19) == 0);
	CHECK_INT(strlen(text), <=, HOOKS_MSG_MAX + 3);
	CHECK_INT(strlen(text), >=, HOOKS_MSG_MAX - 5);
	CHECK(strcmp(text + strlen(text) - 3, "...") == 0);
	mv_error_release(&err);
}

TEST(hooks_multibyte_text_not_cut_inside_a_character)
{
	mv_error_t err = {0};
	const char *text;

	/* "é" is two bytes: 300 of them cross the limit at an odd offset */
	run_failing("printf 'x' >&2; i=0; while [ $i -lt 300 ]; do printf '\\303\\251' >&2; "
		    "i=$((i+1)); done; exit 1",
		    &err);
	text = strstr(err.msg, "exit status 1: x");
	CHECK(text != NULL);
	text += strlen("exit status 1: x");
	for (size_t i = 0; text[i] && text[i] != '.'; i += 2)
		CHECK(strncmp(text + i, "\303\251", 2) == 0);
	mv_error_release(&err);
}

TEST(hooks_killed_by_signal)
{
	check_failure("poststart", "kill -9 $$", "killed by signal 9");
}

/* The hook's sh runs sleep as its child, which keeps the pipes open after
 * the hook is killed: neither may keep us past the timeout. */
TEST(hooks_timeout_kills_in_about_a_second)
{
	struct hook_dir d;
	cleanup_free char *path = NULL, *want = NULL, *pid = NULL;
	mv_error_t err = {0};
	struct oci_hook h;
	double t0;

	dir_init(&d);
	pid = dir_file(&d, "pid");
	path = script(&d, "hook", "/bin/sleep 100 & echo $! > %s; wait", pid);
	h = (struct oci_hook){.path = path, .has_timeout = true, .timeout = 1};
	t0 = now_s();
	CHECK_INT(hooks_run(&h, 1, "prestart", STATE, &err), ==, -1);
	CHECK(now_s() - t0 >= 0.9);
	CHECK(now_s() - t0 < 5);
	kill_from(pid);
	CHECK(asprintf(&want, "`prestart` hook `%s`: timed out after 1 s", path) > 0);
	check_msg(&err, want);
	mv_error_release(&err);
	dir_release(&d);
}

TEST(hooks_background_child_holding_stdout_does_not_keep_us)
{
	struct hook_dir d;
	cleanup_free char *path = NULL, *pid = NULL;
	mv_error_t err = {0};
	double t0;

	dir_init(&d);
	pid = dir_file(&d, "pid");
	path = script(&d, "hook", "/bin/sleep 100 & echo $! > %s; echo started; exit 0", pid);
	t0 = now_s();
	CHECK_INT(run_hook("prestart", path, &err), ==, 0); /* and no timeout at all */
	CHECK(now_s() - t0 < 5);
	kill_from(pid);
	dir_release(&d);
}

/* A hook may ignore its stdin; a state bigger than the pipe must not
 * block us, nor SIGPIPE (left at its default here) kill us. */
TEST(hooks_unread_big_state_does_not_hang_or_kill)
{
	struct hook_dir d;
	cleanup_free char *path = NULL, *quick = NULL, *state = malloc(1 << 20);
	mv_error_t err = {0};
	struct oci_hook h;
	sigset_t pending;
	double t0;

	CHECK(state != NULL);
	memset(state, 'x', (1 << 20) - 1);
	state[(1 << 20) - 1] = '\0';
	signal(SIGPIPE, SIG_DFL);
	dir_init(&d);
	quick = script(&d, "quick", "exit 0");
	h = hook_of(quick);
	CHECK_INT(hooks_run(&h, 1, "prestart", state, &err), ==, 0);

	path = script(&d, "closer", "exec 0<&-; /bin/sleep 0.2; exit 0");
	h = hook_of(path);
	CHECK_INT(hooks_run(&h, 1, "prestart", state, &err), ==, 0);
	CHECK_INT(sigpending(&pending), ==, 0);
	CHECK(!sigismember(&pending, SIGPIPE));

	/* never reads, never exits: only the timeout ends it */
	free(path);
	path = script(&d, "stuck", "exec /bin/sleep 100");
	h = (struct oci_hook){.path = path, .has_timeout = true, .timeout = 1};
	t0 = now_s();
	CHECK_INT(hooks_run(&h, 1, "prestart", state, &err), ==, -1);
	CHECK(now_s() - t0 < 5);
	check_contains(err.msg, "timed out after 1 s");
	mv_error_release(&err);
	dir_release(&d);
}

TEST(hooks_missing_or_bad_path)
{
	struct hook_dir d;
	cleanup_free char *plain = NULL;
	mv_error_t err = {0};
	int before = unit_count_fds();

	CHECK_INT(run_hook("prestart", "/nonexistent/hook", &err), ==, -1);
	CHECK_INT(err.err, ==, ENOENT);
	check_contains(err.msg, "`prestart` hook `/nonexistent/hook`");
	mv_error_release(&err);

	CHECK_INT(run_hook("prestart", "relative/hook", &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	check_contains(err.msg, "`prestart` hook `relative/hook`");
	mv_error_release(&err);

	/* not executable */
	dir_init(&d);
	plain = script(&d, "plain", "exit 0");
	CHECK_INT(chmod(plain, 0644), ==, 0);
	CHECK_INT(run_hook("prestart", plain, &err), ==, -1);
	CHECK_INT(err.err, ==, EACCES);
	mv_error_release(&err);
	CHECK_INT(unit_count_fds(), ==, before);
	dir_release(&d);
}

TEST(hooks_leak_no_fds)
{
	struct hook_dir d;
	cleanup_free char *ok = NULL, *bad = NULL, *slow = NULL;
	mv_error_t err = {0};
	struct oci_hook h;
	int before;

	dir_init(&d);
	ok = script(&d, "ok", "/bin/cat >/dev/null; echo out; echo err >&2");
	bad = script(&d, "bad", "exit 1");
	slow = script(&d, "slow", "exec /bin/sleep 100");
	before = unit_count_fds();
	CHECK_INT(run_hook("prestart", ok, &err), ==, 0);
	CHECK_INT(run_hook("prestart", bad, &err), ==, -1);
	h = (struct oci_hook){.path = slow, .has_timeout = true, .timeout = 1};
	CHECK_INT(hooks_run(&h, 1, "prestart", STATE, &err), ==, -1);
	mv_error_release(&err);
	CHECK_INT(unit_count_fds(), ==, before);
	dir_release(&d);
}

/* The hook keeps 0-2 only, even of fds we opened without O_CLOEXEC, and
 * gets default signal dispositions and an empty mask. */
TEST(hooks_child_gets_clean_fds_and_signals)
{
	struct hook_dir d;
	cleanup_free char *out = NULL, *path = NULL, *got = NULL;
	mv_error_t err = {0};
	sigset_t block;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int leak = fcntl(null, F_DUPFD, 50); /* without FD_CLOEXEC on purpose */

	CHECK(leak >= 50);
	close(null);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	CHECK_INT(sigprocmask(SIG_BLOCK, &block, NULL), ==, 0);
	dir_init(&d);
	out = dir_file(&d, "out");
	path =
	    script(&d, "hook",
		   "for f in 0 1 2 %d; do [ -e /proc/$$/fd/$f ] && printf 'fd%%s ' $f; done > %s; "
		   "while read -r k v; do case $k in SigBlk:|SigIgn:) echo \"$k$v\";; esac; "
		   "done < /proc/$$/status >> %s",
		   leak, out, out);
	CHECK_INT(run_hook("prestart", path, &err), ==, 0);
	got = slurp(out, NULL);
	CHECK_STR(got, "fd0 fd1 fd2 SigBlk:0000000000000000\nSigIgn:0000000000000000\n");
	close(leak);
	dir_release(&d);
}

/* What hooks print goes to the error text only: our stdout and stderr
 * may be a caller's pipe. */
TEST(hooks_output_is_not_forwarded)
{
	struct hook_dir d;
	cleanup_free char *path = NULL;
	mv_error_t err = {0};
	int p[2], saved_out = dup(1), saved_err = dup(2);
	char buf[64];

	dir_init(&d);
	path = script(&d, "hook", "echo LEAK-OUT; echo LEAK-ERR >&2");
	fflush(NULL);
	CHECK_INT(pipe2(p, O_CLOEXEC | O_NONBLOCK), ==, 0);
	CHECK_INT(dup2(p[1], 1), ==, 1);
	CHECK_INT(dup2(p[1], 2), ==, 2);
	CHECK_INT(run_hook("prestart", path, &err), ==, 0);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(p[1]);
	CHECK_INT(read(p[0], buf, sizeof(buf)), ==, 0);
	close(p[0]);
	close(saved_out);
	close(saved_err);
	dir_release(&d);
}

/* A caller that ignores SIGCHLD loses its children's statuses: the hook
 * is then reported as failed, and nothing hangs. */
TEST(hooks_sigchld_ignored_fails_clearly)
{
	mv_error_t err = {0};

	signal(SIGCHLD, SIG_IGN);
	run_failing("exit 0", &err);
	check_contains(err.msg, "exit status unknown");
	mv_error_release(&err);
}
