/* A small unit-test framework: TEST(name) { ... CHECK(...); } in any
 * tests/unit/test_*.c file; the runner forks each test, so a crash or a
 * sanitizer report fails that test only, and prints TAP. */
#ifndef MV_UNIT_H
#define MV_UNIT_H

#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>

struct unit_test {
	const char *file;
	const char *name;
	void (*fn)(void);
	struct unit_test *next;
};

void unit_register(struct unit_test *t);
void unit_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* printf into a new string (the test fails when out of memory); caller frees. */
char *unit_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The process's open fds, for leak checks. */
int unit_count_fds(void);
/* Fork; the child _exits with fn(arg) (_exit: LeakSanitizer must not run
 * where fn changed the process, under a seccomp filter or another uid).
 * Returns the child's wait status. */
int unit_run_in_child(int (*fn)(const void *arg), const void *arg);

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
/* A struct oci_strv (oci/config.h) of string literals, NULL-terminated. */
#define STRV(...)                                                                                  \
	((struct oci_strv){.v = (char *[]){__VA_ARGS__, NULL},                                     \
			   .n = N_ELEMENTS(((char *[]){__VA_ARGS__}))})

#define TEST(name_)                                                                                \
	static void test_##name_(void);                                                            \
	static struct unit_test unit_##name_ = {__FILE__, #name_, test_##name_, NULL};             \
	__attribute__((constructor)) static void unit_register_##name_(void)                       \
	{                                                                                          \
		unit_register(&unit_##name_);                                                      \
	}                                                                                          \
	static void test_##name_(void)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			unit_fail(__FILE__, __LINE__, "check failed: %s", #cond);                  \
	} while (0)

#define CHECK_INT(a, op, b)                                                                        \
	do {                                                                                       \
		long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);                      \
		if (!(unit_a_ op unit_b_))                                                         \
			unit_fail(__FILE__, __LINE__, "check failed: %s %s %s (%lld vs %lld)", #a, \
				  #op, #b, unit_a_, unit_b_);                                      \
	} while (0)

/* status is evaluated once: it is usually the call that runs the child */
#define CHECK_EXIT(status, code)                                                                   \
	do {                                                                                       \
		int check_status_ = (status);                                                      \
		CHECK_INT(WIFEXITED(check_status_) ? WEXITSTATUS(check_status_) : -1, ==, code);   \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *unit_a_ = (a), *unit_b_ = (b);                                         \
		if (unit_a_ == NULL || unit_b_ == NULL || strcmp(unit_a_, unit_b_) != 0)           \
			unit_fail(__FILE__, __LINE__, "check failed: %s == %s (\"%s\" vs \"%s\")", \
				  #a, #b, unit_a_ ? unit_a_ : "(null)",                            \
				  unit_b_ ? unit_b_ : "(null)");                                   \
	} while (0)

#endif
