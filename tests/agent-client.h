/* agent-client's parts (tests/agent-client.c, tests/agent-probe.c). */
#ifndef MV_TESTS_AGENT_CLIENT_H
#define MV_TESTS_AGENT_CLIENT_H

#include "runtime/agent_client.h"

#define EXIT_CLIENT_FAILED 255

__attribute__((noreturn)) void die(mv_error_t *err);

/* agent-client probe: run the case called name; 0, or 2 for no such case. */
int probe_run(const char *name, const struct agent_addr *addr);

#endif
