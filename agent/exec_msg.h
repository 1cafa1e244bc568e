/* The v2 payloads of EXEC, START, RESIZE and SIGNAL, decoded: the agent's
 * side of agent_encode_exec() and friends (runtime/agent_client.c).  Only
 * the framing is checked here; the process JSON is parsed by the OCI
 * parser afterwards. */
#ifndef MV_AGENT_EXEC_MSG_H
#define MV_AGENT_EXEC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/error.h"

struct exec_msg {
	uint32_t flags;	  /* MV_RUN_STDIN/STDOUT/STDERR, MV_EXEC_INIT, MV_EXEC_DEFER */
	const char *json; /* the process JSON, pointing into the payload */
	size_t json_len;  /* at least 1 */
};

/* Fails with EINVAL on a short payload, unknown flags, a reserved field
 * that is not 0, or no JSON after the header. */
int exec_msg_decode(const void *payload, uint32_t len, struct exec_msg *m, mv_error_t *err);

/* START: the process id.  EINVAL for a short payload. */
int start_msg_decode(const void *payload, uint32_t len, uint64_t *proc_id, mv_error_t *err);

struct resize_msg {
	uint64_t proc_id;
	uint16_t rows, cols;
};

/* EINVAL for a short payload, a reserved field that is not 0, or a size
 * with 0 rows or columns. */
int resize_msg_decode(const void *payload, uint32_t len, struct resize_msg *m, mv_error_t *err);

struct signal_msg {
	uint64_t proc_id;
	int signo;
	uint32_t flags; /* MV_SIGNAL_* */
};

/* EINVAL for a short payload, a signal number >= _NSIG, unknown flags. */
int signal_msg_decode(const void *payload, uint32_t len, struct signal_msg *m, mv_error_t *err);

#endif
