#include "agent/run_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/protocol.h"

#define RUN_FLAGS_KNOWN (MV_RUN_STDIN | MV_RUN_STDOUT | MV_RUN_STDERR | MV_RUN_ROOT)

/* The next NUL-terminated string at *pos, or NULL when none fits. */
static char *next_string(const char *p, uint32_t len, uint32_t *pos)
{
	const char *s = p + *pos;
	const char *nul = memchr(s, '\0', len - *pos);

	if (nul == NULL)
		return NULL;
	*pos += (uint32_t)(nul - s) + 1;
	return (char *)s;
}

/* Fill list[0..n) with strings from the payload and end it with NULL. */
static int take_strings(const char *p, uint32_t len, uint32_t *pos, char **list, uint32_t n,
			const char *what, mv_error_t *err)
{
	for (uint32_t i = 0; i < n; i++) {
		list[i] = next_string(p, len, pos);
		if (list[i] == NULL)
			return mv_error(err, EINVAL, "RUN: %s[%u] missing or not NUL-terminated",
					what, i);
	}
	list[n] = NULL;
	return 0;
}

static int check_header(const struct mv_msg_run *h, uint32_t len, mv_error_t *err)
{
	uint64_t strings = 1 + !!(h->flags & MV_RUN_ROOT) + (uint64_t)h->argc + h->envc;

	if (h->flags & ~RUN_FLAGS_KNOWN)
		return mv_error(err, EINVAL, "RUN: unknown flags %#x", h->flags & ~RUN_FLAGS_KNOWN);
	if (h->argc == 0)
		return mv_error(err, EINVAL, "RUN: argc is 0");
	/* each string takes at least its NUL: a cheap bound before allocating */
	if (strings > len - sizeof(*h))
		return mv_error(err, EINVAL, "RUN: argc %u and envc %u do not fit in %u bytes",
				h->argc, h->envc, len);
	return 0;
}

/* cwd, [root,] argv and env from the strings after the header, with
 * nothing left over. */
static int decode_strings(const char *p, uint32_t len, const struct mv_msg_run *h,
			  struct run_msg *r, mv_error_t *err)
{
	uint32_t pos = sizeof(*h);

	r->cwd = next_string(p, len, &pos);
	if (r->cwd == NULL)
		return mv_error(err, EINVAL, "RUN: cwd missing or not NUL-terminated");
	if (h->flags & MV_RUN_ROOT) {
		r->root = next_string(p, len, &pos);
		if (r->root == NULL)
			return mv_error(err, EINVAL, "RUN: root missing or not NUL-terminated");
	}
	if (take_strings(p, len, &pos, r->argv, h->argc, "argv", err) < 0 ||
	    take_strings(p, len, &pos, r->env, h->envc, "env", err) < 0)
		return -1;
	if (pos != len)
		return mv_error(err, EINVAL, "RUN: %u bytes after the last string", len - pos);
	if (r->argv[0][0] == '\0')
		return mv_error(err, EINVAL, "RUN: argv[0] is empty");
	if (r->root && r->root[0] != '/')
		return mv_error(err, EINVAL, "RUN: root `%s` is not an absolute path", r->root);
	if (r->cwd[0] == '\0')
		r->cwd = "/";
	return 0;
}

int run_msg_decode(const void *payload, uint32_t len, struct run_msg *r, mv_error_t *err)
{
	struct mv_msg_run h;

	memset(r, 0, sizeof(*r));
	if (payload == NULL || len < sizeof(h))
		return mv_error(err, EINVAL, "RUN: short payload (%u bytes)", len);
	memcpy(&h, payload, sizeof(h));
	if (check_header(&h, len, err) < 0)
		return -1;
	r->argv = calloc((size_t)h.argc + 1, sizeof(char *));
	r->env = calloc((size_t)h.envc + 1, sizeof(char *));
	if (r->argv == NULL || r->env == NULL) {
		run_msg_release(r);
		return mv_error(err, ENOMEM, "RUN: %u arguments", h.argc);
	}
	if (decode_strings(payload, len, &h, r, err) < 0) {
		run_msg_release(r);
		return -1;
	}
	r->flags = h.flags;
	r->uid = h.uid;
	r->gid = h.gid;
	r->argc = h.argc;
	return 0;
}

void run_msg_release(struct run_msg *r)
{
	free(r->argv);
	free(r->env);
	r->argv = r->env = NULL;
}
