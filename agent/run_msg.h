/* The MV_MSG_RUN payload, decoded: the agent's side of agent_encode_run()
 * (runtime/agent_client.c).  The payload comes from the host, so decoding
 * checks every count and string against its length. */
#ifndef MV_AGENT_RUN_MSG_H
#define MV_AGENT_RUN_MSG_H

#include <stdint.h>

#include "runtime/error.h"

struct run_msg {
	uint32_t flags; /* MV_RUN_* */
	uint32_t uid;
	uint32_t gid;
	uint32_t argc;
	const char *cwd;  /* "/" when the host sent ""; inside root with MV_RUN_ROOT */
	const char *root; /* MV_RUN_ROOT: absolute, the process's root; else NULL */
	char **argv;	  /* argc entries and NULL, pointing into the payload */
	char **env;	  /* envc entries and NULL, pointing into the payload */
};

/* Fill r from a RUN payload; r's strings point into payload, which must
 * outlive r.  Fails with EINVAL on anything malformed: a short payload,
 * unknown flags, argc 0, an empty argv[0], a string without its NUL, counts
 * that do not match the strings, bytes after the last string, with
 * MV_RUN_ROOT a root that is not an absolute path. */
int run_msg_decode(const void *payload, uint32_t len, struct run_msg *r, mv_error_t *err);

void run_msg_release(struct run_msg *r);

#endif
