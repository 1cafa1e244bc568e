#include "runtime/signal.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>

#define SHOWN_MAX 32 /* of a refused signal, in its error message */

struct signal_entry {
	const char *name; /* "SIGHUP": compared without its "SIG" */
	int signo;
};

/* Aliases after the name signal_name() gives. */
static const struct signal_entry signals[] = {
    {"SIGHUP", SIGHUP},	      {"SIGINT", SIGINT},	{"SIGQUIT", SIGQUIT},
    {"SIGILL", SIGILL},	      {"SIGTRAP", SIGTRAP},	{"SIGABRT", SIGABRT},
    {"SIGIOT", SIGIOT},	      {"SIGBUS", SIGBUS},	{"SIGFPE", SIGFPE},
    {"SIGKILL", SIGKILL},     {"SIGUSR1", SIGUSR1},	{"SIGSEGV", SIGSEGV},
    {"SIGUSR2", SIGUSR2},     {"SIGPIPE", SIGPIPE},	{"SIGALRM", SIGALRM},
    {"SIGTERM", SIGTERM},     {"SIGSTKFLT", SIGSTKFLT}, {"SIGCHLD", SIGCHLD},
    {"SIGCLD", SIGCHLD},      {"SIGCONT", SIGCONT},	{"SIGSTOP", SIGSTOP},
    {"SIGTSTP", SIGTSTP},     {"SIGTTIN", SIGTTIN},	{"SIGTTOU", SIGTTOU},
    {"SIGURG", SIGURG},	      {"SIGXCPU", SIGXCPU},	{"SIGXFSZ", SIGXFSZ},
    {"SIGVTALRM", SIGVTALRM}, {"SIGPROF", SIGPROF},	{"SIGWINCH", SIGWINCH},
    {"SIGIO", SIGIO},	      {"SIGPOLL", SIGPOLL},	{"SIGPWR", SIGPWR},
    {"SIGSYS", SIGSYS},
};

#define N_SIGNALS (sizeof(signals) / sizeof(signals[0]))

/* 34..64, as bash's `kill -l` names them. */
static const char *const rt_names[] = {
    "SIGRTMIN",	   "SIGRTMIN+1",  "SIGRTMIN+2",	 "SIGRTMIN+3",	"SIGRTMIN+4",  "SIGRTMIN+5",
    "SIGRTMIN+6",  "SIGRTMIN+7",  "SIGRTMIN+8",	 "SIGRTMIN+9",	"SIGRTMIN+10", "SIGRTMIN+11",
    "SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14", "SIGRTMIN+15", "SIGRTMAX-14", "SIGRTMAX-13",
    "SIGRTMAX-12", "SIGRTMAX-11", "SIGRTMAX-10", "SIGRTMAX-9",	"SIGRTMAX-8",  "SIGRTMAX-7",
    "SIGRTMAX-6",  "SIGRTMAX-5",  "SIGRTMAX-4",	 "SIGRTMAX-3",	"SIGRTMAX-2",  "SIGRTMAX-1",
    "SIGRTMAX",
};

static int invalid(const char *s, mv_error_t *err)
{
	char shown[SHOWN_MAX + 4];
	size_t i;

	for (i = 0; s[i] && i < SHOWN_MAX; i++)
		shown[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	strcpy(shown + i, s[i] ? "..." : "");
	return mv_error(err, EINVAL, "invalid signal `%s`", shown);
}

/* Digits only, no sign, no spaces; -1 when not a number or above max. */
static int parse_number(const char *s, int max)
{
	int n = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
		if (n > max)
			return -1;
	}
	return n;
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n" (case already ignored by the caller
 * through strncasecmp); -1 when s is none of them. */
static int parse_realtime(const char *s)
{
	const int span = SIGNAL_MAX - SIGNAL_RTMIN;
	int n;

	if (strncasecmp(s, "RTMIN", 5) == 0) {
		if (s[5] == '\0')
			return SIGNAL_RTMIN;
		n = s[5] == '+' ? parse_number(s + 6, span) : -1;
		return n < 0 ? -1 : SIGNAL_RTMIN + n;
	}
	if (strncasecmp(s, "RTMAX", 5) == 0) {
		if (s[5] == '\0')
			return SIGNAL_MAX;
		n = s[5] == '-' ? parse_number(s + 6, span) : -1;
		return n < 0 ? -1 : SIGNAL_MAX - n;
	}
	return -1;
}

int signal_parse(const char *s, int *signo, mv_error_t *err)
{
	const char *name = s;
	int n;

	n = parse_number(s, SIGNAL_MAX);
	if (n > 0) {
		*signo = n;
		return 0;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < N_SIGNALS; i++) {
		if (strcasecmp(name, signals[i].name + 3) == 0) {
			*signo = signals[i].signo;
			return 0;
		}
	}
	n = parse_realtime(name);
	if (n > 0) {
		*signo = n;
		return 0;
	}
	return invalid(s, err);
}

const char *signal_name(int signo)
{
	if (signo >= SIGNAL_RTMIN && signo <= SIGNAL_MAX)
		return rt_names[signo - SIGNAL_RTMIN];
	for (size_t i = 0; i < N_SIGNALS; i++)
		if (signals[i].signo == signo)
			return signals[i].name;
	return NULL;
}

int signal_take_all(mv_error_t *err)
{
	static const int kept[] = {SIGKILL, SIGSTOP, SIGCHLD, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
	sigset_t set;
	int fd;

	sigfillset(&set);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		sigdelset(&set, kept[i]);
	if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
		return mv_error(err, errno, "sigprocmask");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return mv_error(err, errno, "signalfd");
	signal(SIGPIPE, SIG_IGN);
	return fd;
}
