/* runtime/signal.c: kill's signal argument, against hostile spellings. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "runtime/signal.h"
#include "tests/unit/unit.h"

static int parsed(const char *s)
{
	mv_error_t err = {0};
	int signo = -1;

	if (signal_parse(s, &signo, &err) < 0)
		unit_fail(__FILE__, __LINE__, "`%s` refused: %s", s, err.msg);
	return signo;
}

static void check_refused(const char *s)
{
	mv_error_t err = {0};
	int signo = -1;

	if (signal_parse(s, &signo, &err) == 0)
		unit_fail(__FILE__, __LINE__, "`%s` accepted as %d", s, signo);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK(strncmp(err.msg, "invalid signal `", 16) == 0);
	CHECK_INT(signo, ==, -1);
	mv_error_release(&err);
}

TEST(signal_numbers)
{
	CHECK_INT(parsed("1"), ==, 1);
	CHECK_INT(parsed("9"), ==, 9);
	CHECK_INT(parsed("15"), ==, 15);
	CHECK_INT(parsed("64"), ==, 64);
	CHECK_INT(parsed("09"), ==, 9);
}

TEST(signal_names_any_case_with_or_without_sig)
{
	CHECK_INT(parsed("TERM"), ==, SIGTERM);
	CHECK_INT(parsed("SIGTERM"), ==, SIGTERM);
	CHECK_INT(parsed("term"), ==, SIGTERM);
	CHECK_INT(parsed("sigterm"), ==, SIGTERM);
	CHECK_INT(parsed("SigKill"), ==, SIGKILL);
	CHECK_INT(parsed("HUP"), ==, SIGHUP);
	CHECK_INT(parsed("USR1"), ==, SIGUSR1);
	CHECK_INT(parsed("WINCH"), ==, SIGWINCH);
	CHECK_INT(parsed("CLD"), ==, SIGCHLD);
	CHECK_INT(parsed("IOT"), ==, SIGABRT);
	CHECK_INT(parsed("POLL"), ==, SIGIO);
	CHECK_INT(parsed("SYS"), ==, SIGSYS);
	CHECK_INT(parsed("PWR"), ==, SIGPWR);
}

TEST(signal_realtime)
{
	CHECK_INT(parsed("RTMIN"), ==, 34);
	CHECK_INT(parsed("SIGRTMIN"), ==, 34);
	CHECK_INT(parsed("RTMIN+0"), ==, 34);
	CHECK_INT(parsed("RTMIN+1"), ==, 35);
	CHECK_INT(parsed("sigrtmin+30"), ==, 64);
	CHECK_INT(parsed("RTMAX"), ==, 64);
	CHECK_INT(parsed("RTMAX-1"), ==, 63);
	CHECK_INT(parsed("SIGRTMAX-30"), ==, 34);
}

TEST(signal_refuses_hostile_input)
{
	static const char *const bad[] = {
	    "",
	    "0",
	    "00",
	    "65",
	    "-9",
	    "+9",
	    " 9",
	    "9 ",
	    "9x",
	    "0x9",
	    "99999999999999999999",
	    "SIG",
	    "SIGSIGTERM",
	    "TERMX",
	    "SIGTERM ",
	    "NOPE",
	    "RTMIN+",
	    "RTMIN+31",
	    "RTMIN-1",
	    "RTMAX+1",
	    "RTMAX-31",
	    "RTMIN+-1",
	    "RTMIN+1x",
	    "RTMIN++1",
	    "\x01",
	    "TE\nRM",
	    "ZERO",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_refused(bad[i]);
}

TEST(signal_error_message_is_clean)
{
	mv_error_t err = {0};
	int signo;

	CHECK_INT(signal_parse("a\nb", &signo, &err), <, 0);
	CHECK_STR(err.msg, "invalid signal `a?b`");
	mv_error_release(&err);
}

TEST(signal_names_back)
{
	CHECK_STR(signal_name(SIGTERM), "SIGTERM");
	CHECK_STR(signal_name(SIGKILL), "SIGKILL");
	CHECK_STR(signal_name(SIGCHLD), "SIGCHLD");
	CHECK_STR(signal_name(SIGABRT), "SIGABRT");
	CHECK_STR(signal_name(SIGIO), "SIGIO");
	CHECK_STR(signal_name(34), "SIGRTMIN");
	CHECK_STR(signal_name(35), "SIGRTMIN+1");
	CHECK_STR(signal_name(49), "SIGRTMIN+15");
	CHECK_STR(signal_name(50), "SIGRTMAX-14");
	CHECK_STR(signal_name(64), "SIGRTMAX");
	CHECK(signal_name(0) == NULL);
	CHECK(signal_name(32) == NULL);
	CHECK(signal_name(33) == NULL);
	CHECK(signal_name(65) == NULL);
	CHECK(signal_name(-1) == NULL);
	/* every name parses back to its number */
	for (int i = 1; i <= 64; i++)
		if (signal_name(i))
			CHECK_INT(parsed(signal_name(i)), ==, i);
}
