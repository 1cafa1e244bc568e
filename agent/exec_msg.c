#include "agent/exec_msg.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "agent/protocol.h"

#define EXEC_FLAGS_KNOWN                                                                           \
	(MV_RUN_STDIN | MV_RUN_STDOUT | MV_RUN_STDERR | MV_EXEC_INIT | MV_EXEC_DEFER)
#define SIGNAL_FLAGS_KNOWN MV_SIGNAL_ALL

int exec_msg_decode(const void *payload, uint32_t len, struct exec_msg *m, mv_error_t *err)
{
	struct mv_msg_exec h;

	memset(m, 0, sizeof(*m));
	if (payload == NULL || len < sizeof(h))
		return mv_error(err, EINVAL, "EXEC: short payload (%u bytes)", len);
	memcpy(&h, payload, sizeof(h));
	if (h.flags & ~EXEC_FLAGS_KNOWN)
		return mv_error(err, EINVAL, "EXEC: unknown flags %#x",
				h.flags & ~EXEC_FLAGS_KNOWN);
	if (h.reserved != 0)
		return mv_error(err, EINVAL, "EXEC: reserved field is %#x", h.reserved);
	if (len == sizeof(h))
		return mv_error(err, EINVAL, "EXEC: no process JSON");
	m->flags = h.flags;
	m->json = (const char *)payload + sizeof(h);
	m->json_len = len - sizeof(h);
	return 0;
}

int start_msg_decode(const void *payload, uint32_t len, uint64_t *proc_id, mv_error_t *err)
{
	struct mv_msg_proc m;

	if (payload == NULL || len < sizeof(m))
		return mv_error(err, EINVAL, "START: short payload (%u bytes)", len);
	memcpy(&m, payload, sizeof(m));
	*proc_id = m.proc_id;
	return 0;
}

int resize_msg_decode(const void *payload, uint32_t len, struct resize_msg *m, mv_error_t *err)
{
	struct mv_msg_resize r;

	if (payload == NULL || len < sizeof(r))
		return mv_error(err, EINVAL, "RESIZE: short payload (%u bytes)", len);
	memcpy(&r, payload, sizeof(r));
	if (r.reserved != 0)
		return mv_error(err, EINVAL, "RESIZE: reserved field is %#x", r.reserved);
	if (r.rows == 0 || r.cols == 0)
		return mv_error(err, EINVAL, "RESIZE: %ux%u is not a window size", r.rows, r.cols);
	m->proc_id = r.proc_id;
	m->rows = r.rows;
	m->cols = r.cols;
	return 0;
}

int signal_msg_decode(const void *payload, uint32_t len, struct signal_msg *m, mv_error_t *err)
{
	struct mv_msg_signal s;

	if (payload == NULL || len < sizeof(s))
		return mv_error(err, EINVAL, "SIGNAL: short payload (%u bytes)", len);
	memcpy(&s, payload, sizeof(s));
	if (s.signo >= _NSIG)
		return mv_error(err, EINVAL, "SIGNAL: no signal %u", s.signo);
	if (s.flags & ~SIGNAL_FLAGS_KNOWN)
		return mv_error(err, EINVAL, "SIGNAL: unknown flags %#x",
				s.flags & ~SIGNAL_FLAGS_KNOWN);
	m->proc_id = s.proc_id;
	m->signo = (int)s.signo;
	m->flags = s.flags;
	return 0;
}
