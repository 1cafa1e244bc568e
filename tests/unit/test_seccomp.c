/* agent/seccomp.c: OCI seccomp profiles built and loaded with libseccomp.
 * Each filter is loaded in a child of the test, which reports through its
 * exit status (and _exits: LeakSanitizer must not run under a filter). */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/seccomp.h"
#include "tests/unit/unit.h"

/* A profile: default action, one rule. */
static struct oci_seccomp profile(char *default_action, struct oci_seccomp_syscall *rule)
{
	return (struct oci_seccomp){
	    .default_action = default_action, .syscalls = rule, .n_syscalls = rule ? 1 : 0};
}

struct filtered {
	const struct oci_seccomp *s;
	int (*fn)(void);
};

static int filtered_child(const void *arg)
{
	const struct filtered *f = arg;
	struct rlimit no_core = {0, 0};
	mv_error_t err = {0};

	setrlimit(RLIMIT_CORE, &no_core); /* SIGSYS would dump one */
	if (seccomp_load_oci(f->s, &err) < 0) {
		fprintf(stderr, "# %s (%s)\n", err.msg, strerror(err.err));
		return 100;
	}
	return f->fn();
}

/* Forks; the child loads s and runs fn, which returns its exit status.
 * Returns the child's wait status. */
static int run_filtered(const struct oci_seccomp *s, int (*fn)(void))
{
	struct filtered f = {s, fn};

	return unit_run_in_child(filtered_child, &f);
}

/* Runs check in a child under a profile that allows everything but name
 * with args, which fails with ENOSPC.  Returns the child's wait status. */
static int run_enospc_rule(char *name, struct oci_seccomp_arg *args, size_t n_args,
			   int (*check)(void))
{
	struct oci_seccomp_syscall rule = {.names = STRV(name),
					   .action = "SCMP_ACT_ERRNO",
					   .has_errno_ret = true,
					   .errno_ret = ENOSPC,
					   .args = args,
					   .n_args = n_args};
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);

	return run_filtered(&s, check);
}

/* Building fails with errnum and a message containing what. */
static void check_refused(const struct oci_seccomp *s, int errnum, const char *what)
{
	mv_error_t err = {0};

	CHECK(seccomp_build_oci(s, &err) == NULL);
	CHECK_INT(err.err, ==, errnum);
	if (err.msg == NULL || strstr(err.msg, what) == NULL)
		unit_fail(__FILE__, __LINE__, "`%s` does not say `%s`", err.msg, what);
	mv_error_release(&err);
}

/* errno of a mkdir that the filter lets through or not; 0: it worked. */
static int mkdir_errno(void)
{
	char dir[64];
	int e;

	/* not mkdtemp: the filter may block its mkdir */
	snprintf(dir, sizeof(dir), "/tmp/mv-seccomp-%d", (int)getpid());
	rmdir(dir);
	e = mkdir(dir, 0700) < 0 ? errno : 0;
	rmdir(dir);
	return e;
}

static int check_mkdir_enospc(void)
{
	int fds[2];

	if (mkdir_errno() != ENOSPC)
		return 1;
	/* the rest works */
	if (getpid() <= 0 || pipe(fds) < 0 || write(fds[1], "x", 1) != 1)
		return 2;
	/* loading without no_new_privs did not set it behind our back */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
		return 3;
	return 0;
}

static int check_mkdir_eperm(void)
{
	return mkdir_errno() == EPERM ? 0 : 1;
}

TEST(seccomp_errno_on_mkdir)
{
	struct oci_seccomp_syscall rule = {.names = STRV("mkdir", "mkdirat"),
					   .action = "SCMP_ACT_ERRNO",
					   .has_errno_ret = true,
					   .errno_ret = ENOSPC};
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);

	CHECK_INT(mkdir_errno(), ==, 0); /* no filter: it works */
	CHECK_EXIT(run_filtered(&s, check_mkdir_enospc), 0);
	/* no errnoRet: EPERM, as runc */
	rule.has_errno_ret = false;
	CHECK_EXIT(run_filtered(&s, check_mkdir_eperm), 0);
}

static int check_personality_arg(void)
{
	/* 0xffffffff only asks for the current persona: blocked */
	errno = 0;
	if (syscall(SYS_personality, 0xffffffffUL) != -1 || errno != ENOSPC)
		return 1;
	/* PER_LINUX is what the process has already: allowed */
	if (syscall(SYS_personality, 0UL) < 0)
		return 2;
	return 0;
}

TEST(seccomp_arg_equal)
{
	struct oci_seccomp_arg arg = {.index = 0, .value = 0xffffffff, .op = "SCMP_CMP_EQ"};

	CHECK_EXIT(run_enospc_rule("personality", &arg, 1, check_personality_arg), 0);
}

/* errno of getpgid(pid), 0 when it succeeded */
static int getpgid_errno(long pid)
{
	errno = 0;
	return syscall(SYS_getpgid, pid) < 0 ? errno : 0;
}

static int check_masked(void)
{
	if (getpgid_errno(0x4211) != ENOSPC || getpgid_errno(0x42ff) != ENOSPC)
		return 1;
	if (getpgid_errno(0x4311) == ENOSPC || getpgid_errno(0x11) == ENOSPC)
		return 2;
	return getpgid_errno(0) == 0 ? 0 : 3;
}

TEST(seccomp_masked_equal)
{
	/* value is the mask, valueTwo what the masked argument must equal */
	struct oci_seccomp_arg arg = {
	    .index = 0, .value = 0xff00, .value_two = 0x4200, .op = "SCMP_CMP_MASKED_EQ"};

	CHECK_EXIT(run_enospc_rule("getpgid", &arg, 1, check_masked), 0);
}

static int check_either_value(void)
{
	if (getpgid_errno(0x4201) != ENOSPC || getpgid_errno(0x4202) != ENOSPC)
		return 1;
	return getpgid_errno(0x4203) == ENOSPC ? 2 : 0;
}

TEST(seccomp_two_conditions_on_one_argument)
{
	/* libseccomp refuses them in one rule; runc adds one rule each (OR) */
	struct oci_seccomp_arg args[] = {{.index = 0, .value = 0x4201, .op = "SCMP_CMP_EQ"},
					 {.index = 0, .value = 0x4202, .op = "SCMP_CMP_EQ"}};

	CHECK_EXIT(run_enospc_rule("getpgid", args, 2, check_either_value), 0);
}

static int check_two_arguments(void)
{
	/* both conditions must hold: getpriority(PRIO_PROCESS, 0x4201) */
	errno = 0;
	if (syscall(SYS_getpriority, 0L, 0x4201L) != -1 || errno != ENOSPC)
		return 1;
	errno = 0;
	syscall(SYS_getpriority, 0L, 0x4202L);
	if (errno == ENOSPC)
		return 2;
	errno = 0;
	syscall(SYS_getpriority, 1L, 0x4201L);
	return errno == ENOSPC ? 3 : 0;
}

TEST(seccomp_conditions_on_two_arguments_are_anded)
{
	struct oci_seccomp_arg args[] = {{.index = 0, .value = 0, .op = "SCMP_CMP_EQ"},
					 {.index = 1, .value = 0x4201, .op = "SCMP_CMP_EQ"}};

	CHECK_EXIT(run_enospc_rule("getpriority", args, 2, check_two_arguments), 0);
}

static int call_getcpu(void)
{
	unsigned cpu;

	errno = 0;
	if (syscall(SYS_getcpu, &cpu, NULL, NULL) == 0)
		return 0;
	return errno == ENOSYS ? 38 : 1;
}

/* Each action, on getcpu: how the child ended. */
TEST(seccomp_actions)
{
	static const struct {
		char *action;
		int signal; /* killed by it; 0: exited with code */
		int code;
	} cases[] = {
	    {"SCMP_ACT_KILL_PROCESS", SIGSYS, 0},
	    {"SCMP_ACT_KILL", SIGSYS, 0}, /* the only thread: the process */
	    {"SCMP_ACT_KILL_THREAD", SIGSYS, 0},
	    {"SCMP_ACT_TRAP", SIGSYS, 0}, /* no handler: the default kills */
	    {"SCMP_ACT_TRACE", 0, 38},	  /* no tracer: ENOSYS */
	    {"SCMP_ACT_LOG", 0, 0},	  /* logged and allowed */
	    {"SCMP_ACT_ERRNO", 0, 1},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct oci_seccomp_syscall rule = {.names = STRV("getcpu"),
						   .action = cases[i].action};
		struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);
		int status = run_filtered(&s, call_getcpu);

		if (cases[i].signal) {
			if (!WIFSIGNALED(status) || WTERMSIG(status) != cases[i].signal)
				unit_fail(__FILE__, __LINE__, "%s: wait status %#x",
					  cases[i].action, status);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != cases[i].code) {
			unit_fail(__FILE__, __LINE__, "%s: wait status %#x", cases[i].action,
				  status);
		}
	}
}

TEST(seccomp_unknown_syscall_skipped)
{
	/* a newer kernel's syscall, and others of other architectures */
	struct oci_seccomp_syscall rule = {
	    .names = STRV("mv_no_such_syscall", "socketcall", "_llseek", "mkdir", "mkdirat"),
	    .action = "SCMP_ACT_ERRNO",
	    .has_errno_ret = true,
	    .errno_ret = ENOSPC};
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);

	CHECK_EXIT(run_filtered(&s, check_mkdir_enospc), 0);
}

TEST(seccomp_rule_equal_to_default_skipped)
{
	struct oci_seccomp_syscall rule = {.names = STRV("getcpu"), .action = "SCMP_ACT_ALLOW"};
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);
	scmp_filter_ctx raw = seccomp_init(SCMP_ACT_ALLOW);
	mv_error_t err = {0};
	void *f;

	/* what is skipped: libseccomp itself refuses such a rule */
	CHECK(raw != NULL);
	CHECK_INT(seccomp_rule_add(raw, SCMP_ACT_ALLOW, SCMP_SYS(getcpu), 0), <, 0);
	seccomp_release(raw);

	f = seccomp_build_oci(&s, &err);
	CHECK(f != NULL);
	seccomp_free_oci(f);
	/* ERRNO without errnoRet is ERRNO(EPERM) on both sides: equal too */
	s.default_action = "SCMP_ACT_ERRNO";
	rule.action = "SCMP_ACT_ERRNO";
	f = seccomp_build_oci(&s, &err);
	CHECK(f != NULL);
	seccomp_free_oci(f);
	/* a different errno is a different action: kept */
	rule.has_errno_ret = true;
	rule.errno_ret = ENOSPC;
	f = seccomp_build_oci(&s, &err);
	CHECK(f != NULL);
	seccomp_free_oci(f);
	CHECK(err.msg == NULL);
}

TEST(seccomp_notify_refused)
{
	struct oci_seccomp_syscall rule = {.names = STRV("getcpu"), .action = "SCMP_ACT_NOTIFY"};
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);
	mv_error_t err = {0};

	CHECK(seccomp_build_oci(&s, &err) == NULL);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, "seccomp: SCMP_ACT_NOTIFY is not supported");
	mv_error_release(&err);
	s = profile("SCMP_ACT_NOTIFY", NULL);
	check_refused(&s, EINVAL, "SCMP_ACT_NOTIFY is not supported");
}

TEST(seccomp_unknown_action_refused)
{
	struct oci_seccomp_syscall rule = {.names = STRV("getcpu"), .action = "SCMP_ACT_FOO"};
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);
	mv_error_t err = {0};

	CHECK(seccomp_build_oci(&s, &err) == NULL);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, "seccomp: unknown action `SCMP_ACT_FOO`");
	mv_error_release(&err);
	/* also as the default, and as nothing at all */
	s = profile("scmp_act_allow", NULL);
	check_refused(&s, EINVAL, "unknown action `scmp_act_allow`");
	s = profile(NULL, NULL);
	check_refused(&s, EINVAL, "missing defaultAction");
	rule.action = NULL;
	s = profile("SCMP_ACT_ALLOW", &rule);
	check_refused(&s, EINVAL, "missing action");
	/* and its failure loads nothing */
	CHECK_INT(seccomp_load_oci(&s, &err), <, 0);
	mv_error_release(&err);
	CHECK_INT(mkdir_errno(), ==, 0);
}

TEST(seccomp_hostile_profiles_refused)
{
	struct oci_seccomp_arg arg = {.index = 0, .op = "SCMP_CMP_FOO"};
	struct oci_seccomp_arg many[7];
	struct oci_seccomp_syscall rule = {
	    .names = STRV("getcpu"), .action = "SCMP_ACT_ERRNO", .args = &arg, .n_args = 1};
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);

	check_refused(&s, EINVAL, "unknown operator `SCMP_CMP_FOO`");
	arg.op = NULL;
	check_refused(&s, EINVAL, "missing operator");
	arg = (struct oci_seccomp_arg){.index = 6, .op = "SCMP_CMP_EQ"};
	check_refused(&s, EINVAL, "argument index 6 out of range");
	arg.index = 0xffffffff;
	check_refused(&s, EINVAL, "argument index 4294967295 out of range");
	for (int i = 0; i < 7; i++)
		many[i] = (struct oci_seccomp_arg){.index = (uint32_t)(i % 6), .op = "SCMP_CMP_EQ"};
	rule.args = many;
	rule.n_args = 7;
	check_refused(&s, EINVAL, "7 argument conditions");
	rule.n_args = 0;
	rule.has_errno_ret = true;
	rule.errno_ret = 70000;
	check_refused(&s, EINVAL, "errnoRet 70000 out of range");
	rule.has_errno_ret = false;
	rule.names = STRV("getcpu", "");
	check_refused(&s, EINVAL, "empty syscall name");
	rule.names = STRV("getcpu");

	s.architectures = STRV("SCMP_ARCH_VAX");
	check_refused(&s, EINVAL, "unknown architecture `SCMP_ARCH_VAX`");
	s.architectures = STRV("x86_64");
	check_refused(&s, EINVAL, "unknown architecture `x86_64`");
	s.architectures = STRV("SCMP_ARCH_X86_64_AND_A_VERY_LONG_NAME_THAT_GOES_ON_AND_ON");
	check_refused(&s, EINVAL, "unknown architecture");
	s.architectures = (struct oci_strv){0};
	s.flags = STRV("SECCOMP_FILTER_FLAG_FOO");
	check_refused(&s, EINVAL, "unknown flag `SECCOMP_FILTER_FLAG_FOO`");
}

static int check_getcpu_enospc(void)
{
	return call_getcpu() == 1 && errno == ENOSPC && getpid() > 0 ? 0 : 1;
}

TEST(seccomp_architectures_and_flags)
{
	struct oci_seccomp_syscall rule = {.names = STRV("getcpu"),
					   .action = "SCMP_ACT_ERRNO",
					   .has_errno_ret = true,
					   .errno_ret = ENOSPC};
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", &rule);
	mv_error_t err = {0};
	void *f;

#if defined(__x86_64__)
	s.architectures = STRV("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
#elif defined(__aarch64__)
	s.architectures = STRV("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
#endif
	s.flags = STRV("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
		       "SECCOMP_FILTER_FLAG_SPEC_ALLOW");
	f = seccomp_build_oci(&s, &err);
	if (f == NULL)
		unit_fail(__FILE__, __LINE__, "%s", err.msg);
#if defined(__x86_64__)
	CHECK_INT(seccomp_arch_exist(f, SCMP_ARCH_X86), ==, 0);
	CHECK_INT(seccomp_arch_exist(f, SCMP_ARCH_X32), ==, 0);
	CHECK_INT(seccomp_arch_exist(f, SCMP_ARCH_AARCH64), ==, -EEXIST);
#endif
	{
		uint32_t v = 0;

		CHECK_INT(seccomp_attr_get(f, SCMP_FLTATR_CTL_LOG, &v), ==, 0);
		CHECK_INT(v, ==, 1);
		CHECK_INT(seccomp_attr_get(f, SCMP_FLTATR_CTL_SSB, &v), ==, 0);
		CHECK_INT(v, ==, 1);
		CHECK_INT(seccomp_attr_get(f, SCMP_FLTATR_CTL_NNP, &v), ==, 0);
		CHECK_INT(v, ==, 0);
	}
	seccomp_free_oci(f);
	CHECK_EXIT(run_filtered(&s, check_getcpu_enospc), 0);
}

static int check_big_profile(void)
{
	if (call_getcpu() != 1 || errno != ENOSPC)
		return 1;
	return check_mkdir_enospc() ? 2 : 0;
}

/* Past 32 rules the filter is a binary tree: the same answers. */
TEST(seccomp_big_profile)
{
	static char *names[] = {
	    "acct",
	    "add_key",
	    "bpf",
	    "delete_module",
	    "finit_module",
	    "init_module",
	    "kexec_load",
	    "kexec_file_load",
	    "keyctl",
	    "lookup_dcookie",
	    "mount",
	    "move_pages",
	    "nfsservctl",
	    "open_by_handle_at",
	    "perf_event_open",
	    "pivot_root",
	    "quotactl",
	    "reboot",
	    "request_key",
	    "setns",
	    "swapon",
	    "swapoff",
	    "sysfs",
	    "_sysctl",
	    "umount2",
	    "unshare",
	    "uselib",
	    "userfaultfd",
	    "ustat",
	    "vm86",
	    "syslog",
	    "iopl",
	    "ioperm",
	    "create_module",
	    "get_kernel_syms",
	    "query_module",
	    "getcpu",
	    "mkdir",
	    "mkdirat",
	};
	struct oci_seccomp_syscall rules[N_ELEMENTS(names)];
	struct oci_seccomp s = profile("SCMP_ACT_ALLOW", NULL);

	for (size_t i = 0; i < N_ELEMENTS(names); i++)
		rules[i] = (struct oci_seccomp_syscall){.names = {.v = &names[i], .n = 1},
							.action = "SCMP_ACT_ERRNO",
							.has_errno_ret = true,
							.errno_ret = ENOSPC};
	s.syscalls = rules;
	s.n_syscalls = N_ELEMENTS(rules);
	CHECK_EXIT(run_filtered(&s, check_big_profile), 0);
}
