/* linux.seccomp -> libseccomp, following runc's libcontainer/seccomp:
 * same action mapping, same skipping of unknown syscalls and of rules equal
 * to the default action, same handling of several conditions on one
 * argument.  runc's extra ENOSYS stub for syscalls newer than the profile
 * (patchbpf) is not done. */
#include "agent/seccomp.h"

#include <ctype.h>
#include <errno.h>
#include <seccomp.h>
#include <stdbool.h>
#include <string.h>

#define ARCH_PREFIX "SCMP_ARCH_"
#define MAX_ARGS    6 /* a syscall has at most six arguments */
/* libseccomp <= 2.5.4 builds a wrong binary tree for a filter without
 * rules; runc enables the tree only past this many syscalls too. */
#define OPTIMIZE_MIN_RULES 32

static const struct {
	const char *name;
	uint32_t action;
} plain_actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD}, /* the spec's KILL is the thread's */
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
};

static const struct {
	const char *name;
	enum scmp_compare op;
} compare_ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const struct {
	const char *name;
	enum scmp_filter_attr attr;
} filter_flags[] = {
    /* the agent's child is single-threaded: harmless, and what was asked */
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB},
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* The filter's action for an OCI action name; ERRNO and TRACE carry
 * errnoRet, EPERM when none is given (runc's default). */
static int parse_action(const char *name, bool has_errno, uint32_t errno_ret, uint32_t *out,
			mv_error_t *err)
{
	uint32_t code = has_errno ? errno_ret : EPERM;
	bool is_errno;

	if (name == NULL)
		return mv_error(err, EINVAL, "seccomp: missing action");
	for (size_t i = 0; i < N_ELEMENTS(plain_actions); i++) {
		if (strcmp(name, plain_actions[i].name) == 0) {
			*out = plain_actions[i].action;
			return 0;
		}
	}
	if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
		return mv_error(err, EINVAL, "seccomp: SCMP_ACT_NOTIFY is not supported");
	is_errno = strcmp(name, "SCMP_ACT_ERRNO") == 0;
	if (!is_errno && strcmp(name, "SCMP_ACT_TRACE") != 0)
		return mv_error(err, EINVAL, "seccomp: unknown action `%s`", name);
	/* the filter's return value holds 16 bits; the kernel caps it further */
	if (code > 0xffff)
		return mv_error(err, EINVAL, "seccomp: errnoRet %u out of range", code);
	*out = is_errno ? SCMP_ACT_ERRNO(code) : SCMP_ACT_TRACE(code);
	return 0;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's "x86_64" -> its token. */
static int add_arch(scmp_filter_ctx ctx, const char *name, mv_error_t *err)
{
	size_t plen = strlen(ARCH_PREFIX);
	char lower[32];
	uint32_t token = 0;
	int rc;

	if (strncmp(name, ARCH_PREFIX, plen) == 0 && strlen(name + plen) < sizeof(lower)) {
		size_t i;

		for (i = 0; name[plen + i]; i++)
			lower[i] = (char)tolower((unsigned char)name[plen + i]);
		lower[i] = '\0';
		token = seccomp_arch_resolve_name(lower);
	}
	if (token == 0)
		return mv_error(err, EINVAL, "seccomp: unknown architecture `%s`", name);
	rc = seccomp_arch_add(ctx, token);
	if (rc < 0 && rc != -EEXIST) /* the native one is there from the start */
		return mv_error(err, -rc, "seccomp: add architecture `%s`", name);
	return 0;
}

static int set_flag(scmp_filter_ctx ctx, const char *name, mv_error_t *err)
{
	for (size_t i = 0; i < N_ELEMENTS(filter_flags); i++) {
		if (strcmp(name, filter_flags[i].name) == 0) {
			int rc = seccomp_attr_set(ctx, filter_flags[i].attr, 1);

			if (rc < 0)
				return mv_error(err, -rc, "seccomp: flag `%s`", name);
			return 0;
		}
	}
	return mv_error(err, EINVAL, "seccomp: unknown flag `%s`", name);
}

static int parse_arg(const struct oci_seccomp_arg *a, struct scmp_arg_cmp *out, mv_error_t *err)
{
	if (a->index >= MAX_ARGS)
		return mv_error(err, EINVAL, "seccomp: argument index %u out of range", a->index);
	if (a->op == NULL)
		return mv_error(err, EINVAL, "seccomp: missing operator");
	for (size_t i = 0; i < N_ELEMENTS(compare_ops); i++) {
		if (strcmp(a->op, compare_ops[i].name) == 0) {
			/* MASKED_EQ: (arg & value) == valueTwo */
			*out = (struct scmp_arg_cmp){.arg = a->index,
						     .op = compare_ops[i].op,
						     .datum_a = a->value,
						     .datum_b = a->value_two};
			return 0;
		}
	}
	return mv_error(err, EINVAL, "seccomp: unknown operator `%s`", a->op);
}

/* libseccomp ANDs the conditions of one rule but refuses two on the same
 * argument; runc then adds each condition as a rule of its own (an OR),
 * as it did before libseccomp ANDed them. */
static bool shares_an_argument(const struct scmp_arg_cmp *cmp, size_t n)
{
	unsigned count[MAX_ARGS] = {0};

	for (size_t i = 0; i < n; i++)
		if (++count[cmp[i].arg] > 1)
			return true;
	return false;
}

static int add_name(scmp_filter_ctx ctx, const char *name, uint32_t action,
		    const struct scmp_arg_cmp *cmp, size_t n, unsigned *added, mv_error_t *err)
{
	int nr, rc = 0;

	if (name == NULL || name[0] == '\0')
		return mv_error(err, EINVAL, "seccomp: empty syscall name");
	nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* unknown to this libseccomp: a newer kernel's */
	if (shares_an_argument(cmp, n)) {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = seccomp_rule_add_array(ctx, action, nr, 1, &cmp[i]);
	} else {
		rc = seccomp_rule_add_array(ctx, action, nr, (unsigned)n, cmp);
	}
	if (rc < 0)
		return mv_error(err, -rc, "seccomp: add rule for `%s`", name);
	(*added)++;
	return 0;
}

static int add_syscall(scmp_filter_ctx ctx, const struct oci_seccomp_syscall *sc,
		       uint32_t default_action, unsigned *added, mv_error_t *err)
{
	struct scmp_arg_cmp cmp[MAX_ARGS];
	uint32_t action;

	if (parse_action(sc->action, sc->has_errno_ret, sc->errno_ret, &action, err) < 0)
		return -1;
	if (sc->n_args > MAX_ARGS)
		return mv_error(err, EINVAL, "seccomp: %zu argument conditions, at most %d",
				sc->n_args, MAX_ARGS);
	for (size_t i = 0; i < sc->n_args; i++)
		if (parse_arg(&sc->args[i], &cmp[i], err) < 0)
			return -1;
	if (action == default_action)
		return 0; /* redundant, and libseccomp refuses it */
	for (size_t i = 0; i < sc->names.n; i++)
		if (add_name(ctx, sc->names.v[i], action, cmp, sc->n_args, added, err) < 0)
			return -1;
	return 0;
}

static int configure(scmp_filter_ctx ctx, const struct oci_seccomp *s, uint32_t default_action,
		     mv_error_t *err)
{
	unsigned added = 0;
	int rc;

	/* noNewPrivileges is the process's to set, not the filter's */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0)
		return mv_error(err, -rc, "seccomp: clear the no_new_privs attribute");
	for (size_t i = 0; i < s->architectures.n; i++)
		if (add_arch(ctx, s->architectures.v[i], err) < 0)
			return -1;
	for (size_t i = 0; i < s->flags.n; i++)
		if (set_flag(ctx, s->flags.v[i], err) < 0)
			return -1;
	for (size_t i = 0; i < s->n_syscalls; i++)
		if (add_syscall(ctx, &s->syscalls[i], default_action, &added, err) < 0)
			return -1;
	if (added > OPTIMIZE_MIN_RULES)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* a linear filter works too */
	return 0;
}

void *seccomp_build_oci(const struct oci_seccomp *s, mv_error_t *err)
{
	uint32_t default_action;
	scmp_filter_ctx ctx;

	if (s->default_action == NULL) {
		mv_error(err, EINVAL, "seccomp: missing defaultAction");
		return NULL;
	}
	if (parse_action(s->default_action, s->has_default_errno_ret, s->default_errno_ret,
			 &default_action, err) < 0)
		return NULL;
	ctx = seccomp_init(default_action);
	if (ctx == NULL) {
		mv_error(err, EINVAL, "seccomp: default action `%s`", s->default_action);
		return NULL;
	}
	if (configure(ctx, s, default_action, err) < 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int seccomp_load_built(void *filter, mv_error_t *err)
{
	int rc = seccomp_load(filter);

	if (rc < 0)
		return mv_error(err, -rc, "seccomp: load the filter");
	return 0;
}

void seccomp_free_oci(void *filter)
{
	if (filter)
		seccomp_release(filter);
}

int seccomp_load_oci(const struct oci_seccomp *s, mv_error_t *err)
{
	void *filter = seccomp_build_oci(s, err);
	int ret;

	if (filter == NULL)
		return -1;
	ret = seccomp_load_built(filter, err);
	seccomp_free_oci(filter);
	return ret;
}
