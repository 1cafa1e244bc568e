/* agent/oci_apply.c and agent/pty.c: process attributes applied in a
 * child of the test (which reports through its exit status and _exits, so
 * LeakSanitizer never runs as uid 1000 without capabilities), the PATH
 * search, pseudo-terminals. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/oci_apply.h"
#include "agent/pty.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

#define BIT(c) (UINT64_C(1) << (c))

/* In a child: apply p (and s), then run check, whose return is the exit
 * status.  Returns the wait status. */
struct applied {
	const struct oci_process *p;
	const struct oci_seccomp *s;
	int (*check)(void);
};

static int applied_child(const void *arg)
{
	const struct applied *a = arg;
	mv_error_t err = {0};

	if (oci_apply_process(a->p, a->s, &err) < 0) {
		fprintf(stderr, "# %s (%s)\n", err.msg, strerror(err.err));
		return 100;
	}
	return a->check();
}

static int apply_in_child(const struct oci_process *p, const struct oci_seccomp *s,
			  int (*check)(void))
{
	struct applied a = {p, s, check};

	return unit_run_in_child(applied_child, &a);
}

/* A capability set of /proc/self/status ("CapEff"), or ~0 when missing. */
static uint64_t status_caps(const char *field)
{
	cleanup_file FILE *f = fopen("/proc/self/status", "re");
	size_t flen = strlen(field);
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, flen) == 0 && line[flen] == ':')
			return strtoull(line + flen + 1, NULL, 16);
	return ~UINT64_C(0);
}

static int check_nothing(void)
{
	return 0;
}

/* ---- rlimits ---- */

static int check_rlimits(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur != 64 || r.rlim_max != 128)
		return 1;
	if (getrlimit(RLIMIT_CORE, &r) < 0 || r.rlim_cur != 0 || r.rlim_max != 4096)
		return 2;
	if (getrlimit(RLIMIT_CPU, &r) < 0 || r.rlim_cur != 1000 || r.rlim_max != RLIM_INFINITY)
		return 3;
	return 0;
}

TEST(apply_rlimits)
{
	struct oci_rlimit rl[] = {{.type = "RLIMIT_NOFILE", .soft = 64, .hard = 128},
				  {.type = "RLIMIT_CORE", .soft = 0, .hard = 4096},
				  {.type = "RLIMIT_CPU", .soft = 1000, .hard = UINT64_MAX}};
	struct oci_process p = {.rlimits = rl, .n_rlimits = N_ELEMENTS(rl)};

	CHECK_EXIT(apply_in_child(&p, NULL, check_rlimits), 0);
	/* soft above hard: setrlimit refuses it, and the error names it */
	rl[2].soft = 2000;
	rl[2].hard = 1000;
	CHECK_EXIT(apply_in_child(&p, NULL, check_nothing), 100);
}

TEST(apply_unknown_rlimit_refused)
{
	struct oci_rlimit rl[] = {{.type = "RLIMIT_NOFILE", .soft = 7, .hard = 7},
				  {.type = "RLIMIT_FOO", .soft = 1, .hard = 1}};
	struct oci_process p = {.rlimits = rl, .n_rlimits = N_ELEMENTS(rl)};
	mv_error_t err = {0};
	struct rlimit r;

	/* refused before anything changes: safe to run here */
	CHECK_INT(oci_apply_process(&p, NULL, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, "unknown rlimit `RLIMIT_FOO`");
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &r), ==, 0);
	CHECK(r.rlim_cur != 7);
	mv_error_release(&err);
	rl[1].type = "rlimit_nofile"; /* names are case-sensitive, as in runc */
	CHECK_INT(oci_apply_process(&p, NULL, &err), <, 0);
	CHECK_STR(err.msg, "unknown rlimit `rlimit_nofile`");
	mv_error_release(&err);
}

/* ---- user and capabilities ---- */

#define KEPT_BND (BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE))
#define KEPT_EFF (BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE))
#define KEPT_INH BIT(CAP_NET_BIND_SERVICE)

static int check_user_and_caps(void)
{
	gid_t groups[8];
	int n = getgroups(8, groups);

	if (getuid() != 1000 || geteuid() != 1000 || getgid() != 1001 || getegid() != 1001)
		return 1;
	if (n != 2 || groups[0] != 10 || groups[1] != 20)
		return 2;
	if (status_caps("CapBnd") != KEPT_BND)
		return 3;
	if (status_caps("CapEff") != KEPT_EFF || status_caps("CapPrm") != KEPT_EFF)
		return 4;
	if (status_caps("CapInh") != KEPT_INH || status_caps("CapAmb") != KEPT_INH)
		return 5;
	/* the effective ones work: CAP_KILL signals another uid's process */
	if (kill(getppid(), 0) < 0)
		return 6;
	/* keepcaps was cleared again */
	return prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0 ? 0 : 7;
}

TEST(apply_user_keeps_configured_caps)
{
	uint32_t gids[] = {10, 20};
	struct oci_process p = {
	    .user = {.uid = 1000, .gid = 1001, .additional_gids = gids, .n_additional_gids = 2},
	    .has_capabilities = true,
	    .capabilities = {.bounding = STRV("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"),
			     .effective = STRV("CAP_KILL", "CAP_NET_BIND_SERVICE"),
			     .permitted = STRV("CAP_KILL", "CAP_NET_BIND_SERVICE"),
			     .inheritable = STRV("CAP_NET_BIND_SERVICE"),
			     .ambient = STRV("CAP_NET_BIND_SERVICE")}};

	CHECK_EXIT(apply_in_child(&p, NULL, check_user_and_caps), 0);
}

static int check_no_caps(void)
{
	if (getuid() != 1000)
		return 1;
	if (status_caps("CapEff") != 0 || status_caps("CapPrm") != 0)
		return 2;
	if (status_caps("CapBnd") != 0 || status_caps("CapAmb") != 0 || status_caps("CapInh"))
		return 3;
	/* without CAP_SETGID the groups stay */
	return setgroups(0, NULL) < 0 && errno == EPERM ? 0 : 4;
}

static int check_root_without_caps(void)
{
	if (getuid() != 0 || status_caps("CapEff") != 0 || status_caps("CapBnd") != 0)
		return 1;
	/* root, but without CAP_SETGID */
	return setgroups(0, NULL) < 0 && errno == EPERM ? 0 : 2;
}

TEST(apply_empty_caps)
{
	struct oci_process p = {.user = {.uid = 1000, .gid = 1000}, .has_capabilities = true};

	CHECK_EXIT(apply_in_child(&p, NULL, check_no_caps), 0);
	/* no capabilities object: runc runs the process without any too */
	p.has_capabilities = false;
	CHECK_EXIT(apply_in_child(&p, NULL, check_no_caps), 0);
	p.user.uid = p.user.gid = 0;
	CHECK_EXIT(apply_in_child(&p, NULL, check_root_without_caps), 0);
}

static int check_bounding(void)
{
	if (getuid() != 0)
		return 1;
	if (status_caps("CapBnd") != (BIT(CAP_CHOWN) | BIT(CAP_SETPCAP)))
		return 2;
	if (status_caps("CapEff") != BIT(CAP_CHOWN) || status_caps("CapPrm") != BIT(CAP_CHOWN))
		return 3;
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
		return 4;
	return prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 1 ? 0 : 5;
}

TEST(apply_bounding_drop)
{
	struct oci_process p = {.has_capabilities = true,
				.capabilities = {.bounding = STRV("CAP_CHOWN", "CAP_SETPCAP"),
						 .effective = STRV("CAP_CHOWN"),
						 .permitted = STRV("CAP_CHOWN")}};

	CHECK_EXIT(apply_in_child(&p, NULL, check_bounding), 0);
}

TEST(apply_unknown_cap_refused)
{
	struct oci_rlimit rl = {.type = "RLIMIT_NOFILE", .soft = 7, .hard = 7};
	struct oci_process p = {.rlimits = &rl,
				.n_rlimits = 1,
				.has_capabilities = true,
				.capabilities = {.effective = STRV("CAP_KILL", "CAP_FOO")}};
	mv_error_t err = {0};
	struct rlimit r;

	CHECK_INT(oci_apply_process(&p, NULL, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, "unknown capability `CAP_FOO`");
	mv_error_release(&err);
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &r), ==, 0);
	CHECK(r.rlim_cur != 7);
	/* hostile spellings */
	p.capabilities.effective = STRV("cap_kill");
	CHECK_INT(oci_apply_process(&p, NULL, &err), <, 0);
	CHECK_STR(err.msg, "unknown capability `cap_kill`");
	p.capabilities.effective = (struct oci_strv){0};
	p.capabilities.ambient = STRV("CAP_");
	CHECK_INT(oci_apply_process(&p, NULL, &err), <, 0);
	CHECK_STR(err.msg, "unknown capability `CAP_`");
	p.capabilities.ambient = STRV("");
	CHECK_INT(oci_apply_process(&p, NULL, &err), <, 0);
	CHECK_STR(err.msg, "unknown capability ``");
	mv_error_release(&err);
}

static int check_ambient_refused(void)
{
	return 0; /* not reached: the apply fails */
}

TEST(apply_ambient_needs_inheritable)
{
	/* ambient needs permitted and inheritable: the kernel says EPERM */
	struct oci_process p = {.user = {.uid = 1000, .gid = 1000},
				.has_capabilities = true,
				.capabilities = {.bounding = STRV("CAP_KILL"),
						 .effective = STRV("CAP_KILL"),
						 .permitted = STRV("CAP_KILL"),
						 .ambient = STRV("CAP_KILL")}};

	CHECK_EXIT(apply_in_child(&p, NULL, check_ambient_refused), 100);
	p.capabilities.inheritable = STRV("CAP_KILL");
	CHECK_EXIT(apply_in_child(&p, NULL, check_ambient_refused), 0);
}

static int check_nnp(void)
{
	return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1;
}

static int check_no_nnp(void)
{
	return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0 ? 0 : 1;
}

TEST(apply_no_new_privileges)
{
	struct oci_process p = {.no_new_privileges = true};

	CHECK_EXIT(apply_in_child(&p, NULL, check_nnp), 0);
	p.no_new_privileges = false;
	CHECK_EXIT(apply_in_child(&p, NULL, check_no_nnp), 0);
}

static int check_umask_027(void)
{
	return umask(0) == 027 ? 0 : 1;
}

static int check_umask_022(void)
{
	return umask(0) == 022 ? 0 : 1;
}

TEST(apply_umask)
{
	struct oci_process p = {.user = {.has_umask = true, .umask = 027}};

	umask(077);
	CHECK_EXIT(apply_in_child(&p, NULL, check_umask_027), 0);
	p.user.has_umask = false; /* none given: 0022, as runc */
	CHECK_EXIT(apply_in_child(&p, NULL, check_umask_022), 0);
}

static int read_oom_score_adj(void)
{
	cleanup_file FILE *f = fopen("/proc/self/oom_score_adj", "re");
	int v = -12345;

	if (f == NULL || fscanf(f, "%d", &v) != 1)
		return -12345;
	return v;
}

static int check_oom_500(void)
{
	return read_oom_score_adj() == 500 ? 0 : 1;
}

TEST(apply_oom_score_adj)
{
	/* raised: lowering it needs CAP_SYS_RESOURCE, which a test may lack */
	struct oci_process p = {.has_oom_score_adj = true, .oom_score_adj = 500};
	int before = read_oom_score_adj();

	CHECK(before < 500);
	CHECK_EXIT(apply_in_child(&p, NULL, check_oom_500), 0);
	CHECK_INT(read_oom_score_adj(), ==, before);
	p.oom_score_adj = 1001; /* out of the kernel's range */
	CHECK_EXIT(apply_in_child(&p, NULL, check_nothing), 100);
}

/* ---- seccomp with the rest ---- */

static int check_filtered_user(void)
{
	if (getuid() != 1000 || status_caps("CapEff") != 0)
		return 1;
	return mkdir("/tmp", 0755) < 0 && errno == ENOSPC ? 0 : 2;
}

TEST(apply_seccomp_with_and_without_nnp)
{
	struct oci_seccomp_syscall rule = {.names = STRV("mkdir", "mkdirat"),
					   .action = "SCMP_ACT_ERRNO",
					   .has_errno_ret = true,
					   .errno_ret = ENOSPC};
	struct oci_seccomp s = {
	    .default_action = "SCMP_ACT_ALLOW", .syscalls = &rule, .n_syscalls = 1};
	struct oci_process p = {.user = {.uid = 1000, .gid = 1000}, .has_capabilities = true};

	/* without no_new_privs the filter must be loaded while privileged */
	CHECK_EXIT(apply_in_child(&p, &s, check_filtered_user), 0);
	CHECK_EXIT(apply_in_child(&p, &s, check_no_nnp), 0);
	p.no_new_privileges = true;
	CHECK_EXIT(apply_in_child(&p, &s, check_filtered_user), 0);
	CHECK_EXIT(apply_in_child(&p, &s, check_nnp), 0);
}

TEST(apply_bad_seccomp_refused_first)
{
	struct oci_seccomp_syscall rule = {.names = STRV("getcpu"), .action = "SCMP_ACT_NOTIFY"};
	struct oci_seccomp s = {
	    .default_action = "SCMP_ACT_ALLOW", .syscalls = &rule, .n_syscalls = 1};
	struct oci_rlimit rl = {.type = "RLIMIT_NOFILE", .soft = 7, .hard = 7};
	struct oci_process p = {.rlimits = &rl, .n_rlimits = 1};
	mv_error_t err = {0};
	struct rlimit r;

	CHECK_INT(oci_apply_process(&p, &s, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, "seccomp: SCMP_ACT_NOTIFY is not supported");
	mv_error_release(&err);
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &r), ==, 0);
	CHECK(r.rlim_cur != 7);
}

/* ---- the PATH search ---- */

struct path_fixture {
	char dir[64];
};

static void make_file(const char *dir, const char *name, mode_t mode)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, "#!/bin/sh\n", 10), ==, 10);
	close(fd);
	CHECK_INT(chmod(path, mode), ==, 0);
}

static void fixture_setup(struct path_fixture *f)
{
	char sub[128];

	strcpy(f->dir, "/tmp/mv-path-XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	make_file(f->dir, "prog", 0755);
	make_file(f->dir, "noexec", 0644);
	snprintf(sub, sizeof(sub), "%s/subdir", f->dir);
	CHECK_INT(mkdir(sub, 0755), ==, 0);
}

static void fixture_teardown(struct path_fixture *f)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	CHECK_INT(system(cmd), ==, 0);
}

/* oci_find_executable fails with errnum and exactly msg. */
static void check_not_found(const char *name, const struct oci_strv *env, int errnum,
			    const char *msg)
{
	mv_error_t err = {0};

	CHECK(oci_find_executable(name, env, &err) == NULL);
	CHECK_INT(err.err, ==, errnum);
	CHECK_STR(err.msg, msg);
	mv_error_release(&err);
}

TEST(find_executable_in_path)
{
	struct path_fixture f;
	char path_var[256], expect[128];
	cleanup_free char *found = NULL;
	mv_error_t err = {0};
	struct oci_strv env;

	fixture_setup(&f);
	snprintf(path_var, sizeof(path_var), "PATH=/nonexistent:%s/subdir:%s", f.dir, f.dir);
	env = STRV("A=1", path_var, "B=2");
	found = oci_find_executable("prog", &env, &err);
	snprintf(expect, sizeof(expect), "%s/prog", f.dir);
	CHECK_STR(found, expect);
	check_not_found("missing", &env, ENOENT,
			"exec: \"missing\": executable file not found in $PATH");
	check_not_found("noexec", &env, EACCES, "exec: \"noexec\": permission denied");
	/* a directory of that name is no executable */
	check_not_found("subdir", &env, EACCES, "exec: \"subdir\": permission denied");
	check_not_found("", &env, ENOENT, "exec: \"\": executable file not found in $PATH");
	fixture_teardown(&f);
	CHECK(err.msg == NULL);
}

TEST(find_executable_path_from_env)
{
	struct path_fixture f;
	char path_var[128];
	cleanup_free char *sh = NULL, *prog = NULL;
	mv_error_t err = {0};
	struct oci_strv env;

	fixture_setup(&f);
	/* no PATH: the default one, where sh is */
	env = STRV("HOME=/");
	sh = oci_find_executable("sh", &env, &err);
	CHECK(sh != NULL && strlen(sh) > 3 && strcmp(sh + strlen(sh) - 3, "/sh") == 0);
	sh = (free(sh), oci_find_executable("sh", NULL, &err));
	CHECK(sh != NULL);
	/* the PATH of env, not ours; the last of two wins */
	snprintf(path_var, sizeof(path_var), "PATH=%s", f.dir);
	env = STRV("PATH=/nonexistent", path_var);
	prog = oci_find_executable("prog", &env, &err);
	CHECK(prog != NULL);
	check_not_found("sh", &env, ENOENT, "exec: \"sh\": executable file not found in $PATH");
	env = STRV(path_var, "PATH=/nonexistent");
	check_not_found("prog", &env, ENOENT, "exec: \"prog\": executable file not found in $PATH");
	/* an empty PATH searches nothing */
	env = STRV("PATH=");
	check_not_found("sh", &env, ENOENT, "exec: \"sh\": executable file not found in $PATH");
	fixture_teardown(&f);
}

TEST(find_executable_empty_entry_is_cwd)
{
	struct path_fixture f;
	cleanup_free char *found = NULL;
	mv_error_t err = {0};
	struct oci_strv env = STRV("PATH=/nonexistent:");

	fixture_setup(&f);
	CHECK_INT(chdir(f.dir), ==, 0);
	found = oci_find_executable("prog", &env, &err);
	CHECK_STR(found, "./prog");
	fixture_teardown(&f);
}

TEST(find_executable_with_slash)
{
	struct path_fixture f;
	char name[128];
	cleanup_free char *found = NULL;
	mv_error_t err = {0};
	struct oci_strv env = STRV("PATH=/nonexistent");
	char msg[512];

	fixture_setup(&f);
	snprintf(name, sizeof(name), "%s/prog", f.dir);
	found = oci_find_executable(name, &env, &err);
	CHECK_STR(found, name);
	snprintf(name, sizeof(name), "%s/noexec", f.dir);
	snprintf(msg, sizeof(msg), "exec: \"%s\": permission denied", name);
	check_not_found(name, &env, EACCES, msg);
	snprintf(name, sizeof(name), "%s/missing", f.dir);
	snprintf(msg, sizeof(msg), "exec: \"%s\": stat %s", name, name);
	check_not_found(name, &env, ENOENT, msg);
	snprintf(name, sizeof(name), "%s/prog/x", f.dir);
	snprintf(msg, sizeof(msg), "exec: \"%s\": stat %s", name, name);
	check_not_found(name, &env, ENOTDIR, msg);
	fixture_teardown(&f);
}

/* ---- pty ---- */

static void check_winsize(int fd, unsigned rows, unsigned cols)
{
	struct winsize ws;

	CHECK_INT(ioctl(fd, TIOCGWINSZ, &ws), ==, 0);
	CHECK_INT(ws.ws_row, ==, rows);
	CHECK_INT(ws.ws_col, ==, cols);
}

TEST(pty_open_and_resize)
{
	int fds = unit_count_fds();
	cleanup_free char *name = NULL;
	mv_error_t err = {0};
	int master, slave;

	CHECK_INT(pty_open(&master, &slave, 24, 80, &err), ==, 0);
	CHECK(isatty(master) && isatty(slave));
	CHECK(fcntl(master, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(slave, F_GETFD) & FD_CLOEXEC);
	check_winsize(slave, 24, 80);
	CHECK_INT(pty_resize(master, 50, 132, &err), ==, 0);
	check_winsize(slave, 50, 132);
	CHECK_INT(pty_resize(master, 65536, 1, &err), <, 0);
	CHECK_INT(err.err, ==, EINVAL);
	mv_error_release(&err);
	check_winsize(slave, 50, 132);
	name = pty_slave_name(master, &err);
	CHECK(name != NULL && strncmp(name, "/dev/pts/", 9) == 0);
	CHECK_STR(ttyname(slave), name);
	close(master);
	close(slave);
	CHECK_INT(unit_count_fds(), ==, fds);
}

static int attached_child(int master, int slave)
{
	mv_error_t err = {0};

	close(master);
	if (setsid() < 0 || pty_attach(slave, &err) < 0)
		return 1;
	if (tcgetsid(0) != getpid() || !isatty(1) || !isatty(2))
		return 2;
	if (fcntl(0, F_GETFD) & FD_CLOEXEC || fcntl(slave, F_GETFD) >= 0)
		return 3;
	return write(1, "hi\n", 3) == 3 ? 0 : 4;
}

TEST(pty_attach_controlling_terminal)
{
	mv_error_t err = {0};
	int master, slave, status;
	char buf[16] = {0};
	ssize_t n;
	pid_t pid;

	CHECK_INT(pty_open(&master, &slave, 24, 80, &err), ==, 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(attached_child(master, slave));
	close(slave);
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK_EXIT(status, 0);
	n = read(master, buf, sizeof(buf) - 1);
	CHECK_INT(n, ==, 4);
	CHECK_STR(buf, "hi\r\n"); /* through the line discipline */
	close(master);
}
