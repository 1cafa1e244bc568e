/* The MV_MSG_MOUNT payload, decoded: the agent's side of
 * agent_encode_mount() (runtime/agent_client.c).  The payload comes from
 * the host, so decoding checks every string against its length and the
 * target against what the agent is willing to create and mount on. */
#ifndef MV_AGENT_MOUNT_MSG_H
#define MV_AGENT_MOUNT_MSG_H

#include <stdint.h>

#include "runtime/error.h"

/* Longest source or target, NUL included (PATH_MAX); fstype and data are
 * copied by the kernel into one page at most. */
#define MOUNT_PATH_MAX	 4096
#define MOUNT_FSTYPE_MAX 256
#define MOUNT_DATA_MAX	 4096

struct mount_msg {
	uint64_t flags;	  /* MS_* */
	uint32_t options; /* MV_MOUNT_* */
	/* pointing into the payload; "" when the host sent none */
	const char *source;
	const char *target; /* absolute, without a ".." component */
	const char *fstype;
	const char *data;
};

/* Fill m from a MOUNT payload; m's strings point into payload, which must
 * outlive m.  Fails with EINVAL on anything malformed: a short payload,
 * unknown flags or options, reserved bits, a string without its NUL, fewer
 * or more than four strings, a target that is empty, relative or has a
 * ".." component, a string over its limit. */
int mount_msg_decode(const void *payload, uint32_t len, struct mount_msg *m, mv_error_t *err);

#endif
