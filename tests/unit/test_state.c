/* runtime/state.c: ids, the container directory and its lock, state.json,
 * monitor liveness, removal, listing; and the JSON of oci/state.c,
 * oci/spec.c and oci/features.c. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "oci/features.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "runtime/cleanup.h"
#include "runtime/state.h"
#include "tests/unit/unit.h"

/* ---- fixtures ---- */

struct root {
	char path[64];
	int fd;
};

static void root_make(struct root *r)
{
	mv_error_t err = {0};

	strcpy(r->path, "/tmp/mvrun-state.XXXXXX");
	CHECK(mkdtemp(r->path) != NULL);
	r->fd = state_open_root(r->path, false, &err);
	CHECK_INT(r->fd, >=, 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void root_destroy(struct root *r)
{
	close(r->fd);
	nftw(r->path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK_INT(fd, >=, 0);
	CHECK_INT(write(fd, text, strlen(text)), ==, (long long)strlen(text));
	close(fd);
}

static void check_error(int ret, mv_error_t *err, int errnum, const char *what)
{
	CHECK_INT(ret, <, 0);
	CHECK_INT(err->err, ==, errnum);
	CHECK(err->msg != NULL);
	if (strstr(err->msg, what) == NULL)
		unit_fail(__FILE__, __LINE__, "`%s` does not say `%s`", err->msg, what);
	mv_error_release(err);
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	CHECK(p != NULL);
	return p;
}

/* A complete state with two annotations; the caller frees it. */
static struct container_state *sample_state(const char *id)
{
	struct container_state *s = calloc(1, sizeof(*s));

	CHECK(s != NULL);
	s->id = xstrdup(id);
	s->bundle = xstrdup("/b/und\"le");
	s->rootfs = xstrdup("/b/und\"le/rootfs");
	s->status = xstrdup("created");
	s->pid = 1234;
	s->pid_start = 987654321ULL;
	s->created = xstrdup("2024-05-01T10:00:00.5Z");
	s->owner = xstrdup("root");
	s->oci_version = xstrdup("1.0.2");
	s->annotations.keys = calloc(3, sizeof(char *));
	s->annotations.values = calloc(3, sizeof(char *));
	CHECK(s->annotations.keys && s->annotations.values);
	s->annotations.keys[0] = xstrdup("org.example.key");
	s->annotations.values[0] = xstrdup("v\n1");
	s->annotations.keys[1] = xstrdup("empty");
	s->annotations.values[1] = xstrdup("");
	s->annotations.n = 2;
	return s;
}

/* ROOT/ID with a state written, unlocked. */
static void make_container(struct root *r, const char *id)
{
	struct container_state *s = sample_state(id);
	mv_error_t err = {0};
	int fd = state_create(r->fd, id, &err);

	CHECK_INT(fd, >=, 0);
	CHECK_INT(state_write(fd, s, &err), ==, 0);
	close(fd);
	state_free(s);
}

/* ---- ids ---- */

TEST(state_id_accepts_runc_ids)
{
	char longest[STATE_ID_MAX + 1];
	mv_error_t err = {0};

	memset(longest, 'a', STATE_ID_MAX);
	longest[STATE_ID_MAX] = '\0';
	CHECK_INT(state_check_id("a", &err), ==, 0);
	CHECK_INT(state_check_id("A-b_c+d.e9", &err), ==, 0);
	CHECK_INT(state_check_id("...", &err), ==, 0);
	CHECK_INT(state_check_id(".hidden", &err), ==, 0);
	CHECK_INT(state_check_id(longest, &err), ==, 0);
	CHECK(err.msg == NULL);
}

TEST(state_id_refuses_hostile_ids)
{
	static const char *const bad[] = {
	    "",	    ".",    "..",    "a/b", "/abs", "../x", "a b",  "a\tb",
	    "a\nb", "\x01", "a\x7f", "é",   "a:b",  "a*",   "$(x)",
	};
	char too_long[STATE_ID_MAX + 2];
	mv_error_t err = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_error(state_check_id(bad[i], &err), &err, EINVAL, "invalid container id `");
	memset(too_long, 'a', STATE_ID_MAX + 1);
	too_long[STATE_ID_MAX + 1] = '\0';
	check_error(state_check_id(too_long, &err), &err, EINVAL, "invalid container id");
}

TEST(state_id_message_has_no_control_chars)
{
	char huge[5000];
	mv_error_t err = {0};

	CHECK_INT(state_check_id("a\nb\x1b[31m", &err), <, 0);
	CHECK_STR(err.msg, "invalid container id `a?b?[31m`");
	mv_error_release(&err);
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	CHECK_INT(state_check_id(huge, &err), <, 0);
	CHECK(strlen(err.msg) < 200); /* cut short */
	mv_error_release(&err);
}

/* ---- the root ---- */

TEST(state_root_created_with_parents)
{
	struct root r;
	char path[128];
	mv_error_t err = {0};
	struct stat st;
	int fd;

	root_make(&r);
	snprintf(path, sizeof(path), "%s/a/b/root", r.path);
	fd = state_open_root(path, false, &err);
	check_error(fd, &err, ENOENT, path);
	fd = state_open_root(path, true, &err);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(fstat(fd, &st), ==, 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777 & ~0711, ==, 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	/* again: it exists now */
	fd = state_open_root(path, true, &err);
	CHECK_INT(fd, >=, 0);
	close(fd);
	root_destroy(&r);
}

TEST(state_root_under_a_file_is_refused)
{
	struct root r;
	char path[128];
	mv_error_t err = {0};

	root_make(&r);
	write_file(r.fd, "file", "x");
	snprintf(path, sizeof(path), "%s/file/root", r.path);
	check_error(state_open_root(path, true, &err), &err, ENOTDIR, path);
	check_error(state_open_root("", true, &err), &err, EINVAL, "--root");
	root_destroy(&r);
}

/* ---- create, open ---- */

TEST(state_create_open_and_duplicates)
{
	struct root r;
	mv_error_t err = {0};
	struct stat st;
	int fds = unit_count_fds(), fd;

	root_make(&r);
	fd = state_create(r.fd, "c1", &err);
	CHECK_INT(fd, >=, 0);
	CHECK_INT(fstatat(r.fd, "c1", &st, 0), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0700);
	/* locked: another open file description cannot take it */
	{
		int other = openat(r.fd, "c1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK_INT(flock(other, LOCK_SH | LOCK_NB), <, 0);
		CHECK_INT(errno, ==, EWOULDBLOCK);
		close(other);
	}
	check_error(state_create(r.fd, "c1", &err), &err, EEXIST,
		    "container with given ID already exists");
	close(fd);
	/* no state.json yet: not a container */
	check_error(state_open(r.fd, "c1", &err), &err, ENOENT, "container does not exist");
	check_error(state_open(r.fd, "nope", &err), &err, ENOENT, "container does not exist");
	check_error(state_open(r.fd, "../etc", &err), &err, EINVAL, "invalid container id");
	check_error(state_create(r.fd, "a/b", &err), &err, EINVAL, "invalid container id");
	root_destroy(&r);
	CHECK_INT(unit_count_fds(), ==, fds);
}

TEST(state_open_finds_a_written_container)
{
	struct root r;
	mv_error_t err = {0};
	int fd, a, b;

	root_make(&r);
	make_container(&r, "c1");
	fd = state_open(r.fd, "c1", &err);
	CHECK_INT(fd, >=, 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	/* readers share */
	a = state_open_shared(r.fd, "c1", &err);
	b = state_open_shared(r.fd, "c1", &err);
	CHECK_INT(a, >=, 0);
	CHECK_INT(b, >=, 0);
	close(a);
	close(b);
	root_destroy(&r);
}

TEST(state_open_skips_what_is_not_ours)
{
	struct root r;
	mv_error_t err = {0};
	int dirfd;

	root_make(&r);
	/* another runtime's entry: a directory without our file */
	CHECK_INT(mkdirat(r.fd, "runc1", 0700), ==, 0);
	check_error(state_open(r.fd, "runc1", &err), &err, ENOENT, "container does not exist");
	/* a plain file, and a symlink to a real container */
	write_file(r.fd, "plain", "x");
	check_error(state_open(r.fd, "plain", &err), &err, ENOENT, "container does not exist");
	make_container(&r, "real");
	CHECK_INT(symlinkat("real", r.fd, "link"), ==, 0);
	check_error(state_open(r.fd, "link", &err), &err, ENOENT, "container does not exist");
	/* state.json as a directory */
	CHECK_INT(mkdirat(r.fd, "odd", 0700), ==, 0);
	dirfd = openat(r.fd, "odd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(mkdirat(dirfd, STATE_FILE, 0700), ==, 0);
	close(dirfd);
	check_error(state_open(r.fd, "odd", &err), &err, ENOENT, "container does not exist");
	root_destroy(&r);
}

TEST(state_open_container_with_a_missing_root)
{
	struct root r;
	char path[128];
	mv_error_t err = {0};
	int fd;

	root_make(&r);
	snprintf(path, sizeof(path), "%s/missing", r.path);
	check_error(state_open_container(path, "c1", true, &err), &err, ENOENT,
		    "container does not exist");
	check_error(state_open_container(path, "a/b", true, &err), &err, EINVAL,
		    "invalid container id");
	make_container(&r, "c1");
	fd = state_open_container(r.path, "c1", false, &err);
	CHECK_INT(fd, >=, 0);
	close(fd);
	root_destroy(&r);
}

/* ---- the lock ---- */

/* Did a byte arrive on fd within ms? */
static bool byte_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* A child that opens c1 (shared or not) and reports on the pipe: 'o' when
 * it got the lock, 'n' for "does not exist", 'e' for another error.  The
 * child closes its copy of held: the lock belongs to the open file
 * description, which a fork shares. */
static pid_t open_in_child(struct root *r, int held, bool shared, int *report)
{
	int p[2];
	pid_t pid;

	CHECK_INT(pipe2(p, O_CLOEXEC), ==, 0);
	pid = fork();
	CHECK_INT(pid, >=, 0);
	if (pid == 0) {
		mv_error_t err = {0};
		int fd;
		char c;

		close(held);
		fd = shared ? state_open_shared(r->fd, "c1", &err) : state_open(r->fd, "c1", &err);
		c = fd >= 0 ? 'o' : err.err == ENOENT ? 'n' : 'e';
		if (write(p[1], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	*report = p[0];
	return pid;
}

static char read_report(int fd)
{
	char c = 0;

	CHECK_INT(read(fd, &c, 1), ==, 1);
	return c;
}

static void reap(pid_t pid)
{
	int status;

	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A child's open of c1 (see open_in_child) waits while held: it reports
 * nothing yet. */
static pid_t open_blocked(struct root *r, int held, bool shared, int *report)
{
	pid_t pid = open_in_child(r, held, shared, report);

	CHECK(!byte_within(*report, 300));
	return pid;
}

/* A new root with a container c1, whose lock we hold: the fd that holds it. */
static int root_with_c1_held(struct root *r)
{
	mv_error_t err = {0};
	int fd;

	root_make(r);
	make_container(r, "c1");
	fd = state_open(r->fd, "c1", &err);
	CHECK_INT(fd, >=, 0);
	return fd;
}

/* The blocked child got want ('o', 'n' or 'e') and ended. */
static void check_report(pid_t pid, int report, char want)
{
	CHECK_INT(read_report(report), ==, want);
	close(report);
	reap(pid);
}

TEST(state_lock_excludes_until_released)
{
	struct root r;
	mv_error_t err = {0};
	int fd, report;
	pid_t pid;

	fd = root_with_c1_held(&r);
	pid = open_blocked(&r, fd, false, &report);
	close(fd);
	CHECK(byte_within(report, 5000));
	check_report(pid, report, 'o');

	/* a reader waits for a writer too */
	fd = state_open(r.fd, "c1", &err);
	pid = open_blocked(&r, fd, true, &report);
	close(fd);
	check_report(pid, report, 'o');
	root_destroy(&r);
}

/* A waiter for c1 while we remove it, and recreate it when recreate,
 * reports want once we let go. */
static void check_waiter_after_remove(bool recreate, char want)
{
	struct root r;
	mv_error_t err = {0};
	int fd, report;
	pid_t pid;

	fd = root_with_c1_held(&r);
	pid = open_blocked(&r, fd, false, &report);
	CHECK_INT(state_remove(r.fd, "c1", fd, &err), ==, 0);
	if (recreate)
		make_container(&r, "c1"); /* a new one by the same name */
	close(fd);
	check_report(pid, report, want);
	root_destroy(&r);
}

TEST(state_lock_waiter_sees_a_removed_container_gone)
{
	check_waiter_after_remove(false, 'n');
}

TEST(state_lock_waiter_gets_a_recreated_container)
{
	check_waiter_after_remove(true, 'o');
}

/* ---- state.json ---- */

TEST(state_write_read_round_trip)
{
	struct container_state *s = sample_state("c1"), *back = NULL;
	struct root r;
	mv_error_t err = {0};
	struct stat st;
	int fd;

	root_make(&r);
	fd = state_create(r.fd, "c1", &err);
	CHECK_INT(state_write(fd, s, &err), ==, 0);
	CHECK_INT(fstatat(fd, STATE_FILE, &st, 0), ==, 0);
	CHECK_INT(st.st_mode & 0777, ==, 0600);
	CHECK_INT(fstatat(fd, STATE_FILE ".tmp", &st, 0), <, 0); /* no leftovers */
	CHECK_INT(state_read(fd, &back, &err), ==, 0);
	CHECK_STR(back->id, "c1");
	CHECK_STR(back->bundle, s->bundle);
	CHECK_STR(back->rootfs, s->rootfs);
	CHECK_STR(back->status, "created");
	CHECK_INT(back->pid, ==, 1234);
	CHECK(back->pid_start == 987654321ULL);
	CHECK_STR(back->created, s->created);
	CHECK_STR(back->owner, "root");
	CHECK_STR(back->oci_version, "1.0.2");
	CHECK_INT(back->annotations.n, ==, 2);
	CHECK_STR(back->annotations.keys[0], "org.example.key");
	CHECK_STR(back->annotations.values[0], "v\n1");
	CHECK_STR(back->annotations.keys[1], "empty");
	CHECK_STR(back->annotations.values[1], "");
	state_free(back);
	/* rewritten: the new status wins */
	free(s->status);
	s->status = xstrdup("running");
	CHECK_INT(state_write(fd, s, &err), ==, 0);
	CHECK_INT(state_read(fd, &back, &err), ==, 0);
	CHECK_STR(back->status, "running");
	state_free(back);
	state_free(s);
	close(fd);
	root_destroy(&r);
}

TEST(state_minimal_state_reads_with_defaults)
{
	struct container_state *s = NULL;
	struct root r;
	mv_error_t err = {0};
	int fd;

	root_make(&r);
	fd = state_create(r.fd, "c1", &err);
	write_file(
	    fd, STATE_FILE,
	    "{\"runtime\":\"mvrun\",\"id\":\"c1\",\"bundle\":\"/b\",\"status\":\"creating\"}");
	CHECK_INT(state_read(fd, &s, &err), ==, 0);
	CHECK_INT(s->pid, ==, 0);
	CHECK_STR(s->rootfs, "");
	CHECK_STR(s->owner, "");
	CHECK(s->oci_version == NULL);
	CHECK_INT(s->annotations.n, ==, 0);
	CHECK(!state_monitor_alive(s));
	CHECK_STR(state_status(s), "stopped");
	state_free(s);
	close(fd);
	root_destroy(&r);
}

TEST(state_corrupt_files_are_errors_naming_them)
{
	static const char *const bad[] = {
	    "",
	    "{not json",
	    "[1,2]",
	    "null",
	    "{\"runtime\":\"mvrun\",\"id\":\"c1\",\"bundle\":\"/b\"",
	    "{\"runtime\":\"mvrun\",\"id\":5,\"bundle\":\"/b\",\"status\":\"created\"}",
	    "{\"runtime\":\"mvrun\",\"bundle\":\"/b\",\"status\":\"created\"}",
	    "{\"runtime\":\"mvrun\",\"id\":\"c1\",\"bundle\":\"/b\",\"status\":\"created\","
	    "\"pid\":-1}",
	    "{\"runtime\":\"mvrun\",\"id\":\"c1\",\"bundle\":\"/b\",\"status\":\"created\","
	    "\"pid\":99999999999}",
	    "{\"runtime\":\"mvrun\",\"id\":\"c1\",\"bundle\":\"/b\",\"status\":\"created\","
	    "\"pid\":1.5}",
	    "{\"runtime\":\"mvrun\",\"id\":\"c1\",\"bundle\":\"/b\",\"status\":\"created\","
	    "\"annotations\":{\"a\":1}}",
	    "{\"runtime\":\"mvrun\",\"id\":\"c1\",\"bundle\":\"/b\",\"status\":\"created\","
	    "\"annotations\":[]}",
	    /* runc's own state.json in a shared root */
	    "{\"id\":\"c1\",\"init_process_pid\":1,\"config\":{}}",
	};
	struct root r;
	mv_error_t err = {0};
	char path[128];
	int fd;

	root_make(&r);
	fd = state_create(r.fd, "c1", &err);
	snprintf(path, sizeof(path), "%s/c1/%s", r.path, STATE_FILE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct container_state *s = (void *)1;

		write_file(fd, STATE_FILE, bad[i]);
		CHECK_INT(state_read(fd, &s, &err), <, 0);
		CHECK(s == NULL);
		CHECK_INT(err.err, ==, EINVAL);
		if (strstr(err.msg, path) == NULL || strstr(err.msg, "corrupt") == NULL)
			unit_fail(__FILE__, __LINE__, "case %zu: `%s`", i, err.msg);
		mv_error_release(&err);
	}
	close(fd);
	root_destroy(&r);
}

TEST(state_hostile_files_do_not_crash)
{
	struct container_state *s;
	struct root r;
	mv_error_t err = {0};
	size_t n = 1 << 20;
	char *deep = malloc(2 * n + 1);
	int fd, file;

	CHECK(deep != NULL);
	root_make(&r);
	fd = state_create(r.fd, "c1", &err);
	/* a million levels of nesting */
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	write_file(fd, STATE_FILE, deep);
	check_error(state_read(fd, &s, &err), &err, EINVAL, "nested too deep");
	/* a NUL byte inside */
	file = openat(fd, STATE_FILE, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CHECK_INT(write(file, "{\"a\0\":1}", 8), ==, 8);
	close(file);
	check_error(state_read(fd, &s, &err), &err, EINVAL, "NUL");
	/* too large */
	file = openat(fd, STATE_FILE, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CHECK_INT(ftruncate(file, 17 << 20), ==, 0);
	close(file);
	check_error(state_read(fd, &s, &err), &err, EFBIG, STATE_FILE);
	/* none at all, or a symlink */
	CHECK_INT(unlinkat(fd, STATE_FILE, 0), ==, 0);
	check_error(state_read(fd, &s, &err), &err, ENOENT, STATE_FILE);
	CHECK_INT(symlinkat("/etc/passwd", fd, STATE_FILE), ==, 0);
	check_error(state_read(fd, &s, &err), &err, ELOOP, STATE_FILE);
	free(deep);
	close(fd);
	root_destroy(&r);
}

/* ---- is the monitor alive? ---- */

TEST(state_proc_start_time_of_self_and_of_nobody)
{
	CHECK(state_proc_start_time(getpid()) > 0);
	CHECK(state_proc_start_time(getpid()) == state_proc_start_time(getpid()));
	CHECK(state_proc_start_time(0) == 0);
	CHECK(state_proc_start_time(-1) == 0);
	CHECK(state_proc_start_time(0x7ffffff0) == 0);
}

TEST(state_monitor_liveness)
{
	struct container_state s = {.status = "running"};
	int p[2];
	pid_t pid;
	char c;

	CHECK_INT(pipe2(p, O_CLOEXEC), ==, 0);
	pid = fork();
	CHECK_INT(pid, >=, 0);
	if (pid == 0) {
		close(p[1]);
		(void)!read(p[0], &c, 1); /* until the parent closes */
		_exit(0);
	}
	close(p[0]);
	s.pid = pid;
	s.pid_start = state_proc_start_time(pid);
	CHECK(s.pid_start > 0);
	CHECK(state_monitor_alive(&s));
	CHECK_STR(state_status(&s), "running");
	CHECK_INT(state_pid(&s), ==, pid);

	/* the same pid with another start time: a reused pid */
	s.pid_start++;
	CHECK(!state_monitor_alive(&s));
	CHECK_STR(state_status(&s), "stopped");
	CHECK_INT(state_pid(&s), ==, 0);
	s.pid_start--;

	/* it exits: a zombie first, then gone */
	close(p[1]);
	for (int i = 0; i < 500 && state_proc_start_time(pid) != 0; i++)
		usleep(10000);
	CHECK(!state_monitor_alive(&s)); /* a zombie is not alive */
	CHECK_INT(waitpid(pid, NULL, 0), ==, pid);
	CHECK(!state_monitor_alive(&s));
	CHECK_STR(state_status(&s), "stopped");
	CHECK_INT(state_pid(&s), ==, 0);

	/* never started */
	s.pid = 0;
	s.pid_start = 0;
	CHECK(!state_monitor_alive(&s));
}

/* ---- removal ---- */

static void bind_socket(int dirfd, const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
	CHECK_INT(s, >=, 0);
	CHECK_INT(bind(s, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	close(s);
}

TEST(state_remove_everything_inside)
{
	struct root r;
	mv_error_t err = {0};
	struct stat st;
	int fd, sub, fds;

	root_make(&r);
	make_container(&r, "c1");
	write_file(r.fd, "outside", "keep me");
	fds = unit_count_fds();
	fd = state_open(r.fd, "c1", &err);
	CHECK_INT(fd, >=, 0);
	bind_socket(fd, "control.sock");
	CHECK_INT(mkfifoat(fd, "fifo", 0600), ==, 0);
	CHECK_INT(symlinkat("../outside", fd, "link"), ==, 0);
	CHECK_INT(symlinkat("..", fd, "dirlink"), ==, 0);
	CHECK_INT(mkdirat(fd, "sub", 0700), ==, 0);
	sub = openat(fd, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	write_file(sub, "console.log", "x");
	CHECK_INT(mkdirat(sub, "deeper", 0), ==, 0); /* mode 0: root removes it anyway */
	bind_socket(sub, "exec.sock");
	close(sub);
	CHECK_INT(state_remove(r.fd, "c1", fd, &err), ==, 0);
	close(fd);
	CHECK_INT(fstatat(r.fd, "c1", &st, AT_SYMLINK_NOFOLLOW), <, 0);
	CHECK_INT(errno, ==, ENOENT);
	CHECK_INT(fstatat(r.fd, "outside", &st, 0), ==, 0); /* links not followed */
	CHECK_INT(unit_count_fds(), ==, fds);
	root_destroy(&r);
}

TEST(state_remove_refuses_a_replaced_directory)
{
	struct root r;
	mv_error_t err = {0};
	struct stat st;
	int fd;

	root_make(&r);
	make_container(&r, "c1");
	fd = state_open(r.fd, "c1", &err);
	CHECK_INT(renameat(r.fd, "c1", r.fd, "moved"), ==, 0);
	make_container(&r, "c1");
	check_error(state_remove(r.fd, "c1", fd, &err), &err, ESTALE, "replaced");
	CHECK_INT(fstatat(r.fd, "c1/" STATE_FILE, &st, 0), ==, 0);
	close(fd);
	root_destroy(&r);
}

/* ---- listing ---- */

TEST(state_list_sorted_and_only_ours)
{
	struct root r;
	mv_error_t err = {0};
	char **ids;
	size_t n;
	int fd;

	root_make(&r);
	make_container(&r, "b");
	make_container(&r, "a");
	make_container(&r, "c");
	make_container(&r, "B");
	CHECK_INT(mkdirat(r.fd, "runc-one", 0700), ==, 0); /* no state.json */
	write_file(r.fd, "file", "x");
	CHECK_INT(symlinkat("a", r.fd, "alias"), ==, 0);
	CHECK_INT(mkdirat(r.fd, "bad name", 0700), ==, 0);
	fd = openat(r.fd, "bad name", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	write_file(fd, STATE_FILE, "{}");
	close(fd);
	CHECK_INT(state_list(r.fd, &ids, &n, &err), ==, 0);
	CHECK_INT(n, ==, 4);
	CHECK_STR(ids[0], "B");
	CHECK_STR(ids[1], "a");
	CHECK_STR(ids[2], "b");
	CHECK_STR(ids[3], "c");
	CHECK(ids[4] == NULL);
	state_list_free(ids, n);
	root_destroy(&r);
}

TEST(state_list_empty_root)
{
	struct root r;
	mv_error_t err = {0};
	char **ids;
	size_t n = 7;

	root_make(&r);
	CHECK_INT(state_list(r.fd, &ids, &n, &err), ==, 0);
	CHECK_INT(n, ==, 0);
	CHECK(ids != NULL && ids[0] == NULL);
	state_list_free(ids, n);
	root_destroy(&r);
}

/* ---- helpers ---- */

TEST(state_time_format_like_go)
{
	struct timespec t0 = {0, 0}, half = {1714557600, 500000000}, full = {1714557600, 123456789};
	char buf[64];

	state_format_time(&t0, buf, sizeof(buf));
	CHECK_STR(buf, "1970-01-01T00:00:00Z");
	state_format_time(&half, buf, sizeof(buf));
	CHECK_STR(buf, "2024-05-01T10:00:00.5Z");
	state_format_time(&full, buf, sizeof(buf));
	CHECK_STR(buf, "2024-05-01T10:00:00.123456789Z");
}

TEST(state_user_name_of_root_and_of_nobody)
{
	cleanup_free char *root = state_user_name(0);
	cleanup_free char *none = state_user_name(4000000000u);

	CHECK_STR(root, "root");
	CHECK_STR(none, "");
}

/* ---- JSON of oci/ ---- */

static char *gen_runc(const struct container_state *s)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	char *out;

	CHECK(g != NULL);
	CHECK_INT(state_gen_runc_json(g, s), ==, 0);
	CHECK_INT(yajl_gen_get_buf(g, &buf, &len), ==, yajl_gen_status_ok);
	out = strndup((const char *)buf, len);
	yajl_gen_free(g);
	return out;
}

TEST(state_runc_json_of_a_stopped_container)
{
	struct container_state *s = sample_state("c1");
	cleanup_free char *json = NULL;

	s->pid = 0x7ffffff0; /* no such process */
	json = gen_runc(s);
	CHECK_STR(json, "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"pid\":0,\"status\":\"stopped\","
			"\"bundle\":\"/b/und\\\"le\",\"rootfs\":\"/b/und\\\"le/rootfs\","
			"\"created\":\"2024-05-01T10:00:00.5Z\","
			"\"annotations\":{\"org.example.key\":\"v\\n1\",\"empty\":\"\"},"
			"\"owner\":\"root\"}");
	state_free(s);
}

TEST(oci_state_json_exact)
{
	static char *keys[] = {"k"}, *values[] = {"v"};
	struct oci_map ann = {.keys = keys, .values = values, .n = 1};
	cleanup_free char *a = NULL, *b = NULL;
	mv_error_t err = {0};

	CHECK_INT(oci_state_json("c1", "created", 42, "/b", &ann, &a, &err), ==, 0);
	CHECK_STR(a, "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"created\",\"pid\":42,"
		     "\"bundle\":\"/b\",\"annotations\":{\"k\":\"v\"}}");
	CHECK_INT(oci_state_json("c1", "stopped", 0, "/b", NULL, &b, &err), ==, 0);
	CHECK_STR(b, "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"stopped\",\"pid\":0,"
		     "\"bundle\":\"/b\"}");
}

static yajl_val parse_json(const char *text)
{
	char ebuf[256];
	yajl_val v = yajl_tree_parse(text, ebuf, sizeof(ebuf));

	if (v == NULL)
		unit_fail(__FILE__, __LINE__, "not JSON: %s", ebuf);
	return v;
}

static const char *tree_string(yajl_val v, const char **path)
{
	yajl_val s = yajl_tree_get(v, path, yajl_t_string);

	return s ? YAJL_GET_STRING(s) : NULL;
}

/* Does the array at path hold a string value (or an object whose "type" is it)? */
static bool array_has(yajl_val v, const char **path, const char *value)
{
	static const char *type[] = {"type", NULL};
	yajl_val a = yajl_tree_get(v, path, yajl_t_array);

	for (size_t i = 0; a && i < a->u.array.len; i++) {
		yajl_val e = a->u.array.values[i];
		const char *s = YAJL_IS_STRING(e) ? YAJL_GET_STRING(e) : tree_string(e, type);

		if (s && strcmp(s, value) == 0)
			return true;
	}
	return false;
}

TEST(oci_spec_default_config)
{
	static const char *version[] = {"ociVersion", NULL}, *root[] = {"root", "path", NULL},
			  *host[] = {"hostname", NULL}, *args[] = {"process", "args", NULL},
			  *ns[] = {"linux", "namespaces", NULL},
			  *masked[] = {"linux", "maskedPaths", NULL},
			  *uidmap[] = {"linux", "uidMappings", NULL},
			  *res[] = {"linux", "resources", NULL};
	struct oci_spec_opts o = {.uid = 1000, .gid = 100};
	cleanup_free char *json = NULL;
	mv_error_t err = {0};
	yajl_val v;

	CHECK_INT(oci_spec_json(&o, &json, &err), ==, 0);
	CHECK(strstr(json, "\n\t\"process\"") != NULL); /* tab-indented */
	v = parse_json(json);
	CHECK_STR(tree_string(v, version), OCI_SPEC_VERSION);
	CHECK_STR(tree_string(v, root), "rootfs");
	CHECK_STR(tree_string(v, host), "mvrun");
	CHECK(array_has(v, args, "sh"));
	CHECK(array_has(v, ns, "network") && array_has(v, ns, "cgroup"));
	CHECK(!array_has(v, ns, "user"));
	CHECK(array_has(v, masked, "/proc/kcore"));
	CHECK(yajl_tree_get(v, uidmap, yajl_t_any) == NULL);
	CHECK(yajl_tree_get(v, res, yajl_t_object) != NULL);
	CHECK(strstr(json, "\"gid=5\"") != NULL);
	yajl_tree_free(v);
}

TEST(oci_spec_rootless_config)
{
	static const char *ns[] = {"linux", "namespaces", NULL},
			  *uidmap[] = {"linux", "uidMappings", NULL},
			  *res[] = {"linux", "resources", NULL};
	struct oci_spec_opts o = {.rootless = true, .uid = 1000, .gid = 100};
	cleanup_free char *json = NULL;
	mv_error_t err = {0};
	yajl_val v, m, host;

	CHECK_INT(oci_spec_json(&o, &json, &err), ==, 0);
	v = parse_json(json);
	CHECK(array_has(v, ns, "user") && !array_has(v, ns, "network"));
	m = yajl_tree_get(v, uidmap, yajl_t_array);
	CHECK(m != NULL && m->u.array.len == 1);
	host = yajl_tree_get(m->u.array.values[0], (const char *[]){"hostID", NULL}, yajl_t_number);
	CHECK(host != NULL && YAJL_GET_INTEGER(host) == 1000);
	CHECK(yajl_tree_get(v, res, yajl_t_any) == NULL);
	CHECK(strstr(json, "gid=5") == NULL);
	CHECK(strstr(json, "\"rbind\"") != NULL);
	yajl_tree_free(v);
}

TEST(oci_features_json_valid)
{
	static const char *min[] = {"ociVersionMin", NULL}, *max[] = {"ociVersionMax", NULL},
			  *hooks[] = {"hooks", NULL}, *caps[] = {"linux", "capabilities", NULL},
			  *sec[] = {"linux", "seccomp", "enabled", NULL};
	cleanup_free char *json = NULL;
	mv_error_t err = {0};
	yajl_val v;

	CHECK_INT(oci_features_json("9.9", &json, &err), ==, 0);
	v = parse_json(json);
	CHECK_STR(tree_string(v, min), "1.0.0");
	CHECK_STR(tree_string(v, max), "1.1.0");
	CHECK(array_has(v, hooks, "createRuntime") && array_has(v, hooks, "poststop"));
	CHECK(array_has(v, caps, "CAP_SYS_ADMIN"));
	CHECK(YAJL_IS_TRUE(yajl_tree_get(v, sec, yajl_t_true)));
	yajl_tree_free(v);
}
