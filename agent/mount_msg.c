#include "agent/mount_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mount.h>

#include "agent/protocol.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256 /* Linux 5.10 */
#endif

/* What a mount in an OCI config can ask for: the per-mount flags, bind
 * and remount, propagation.  Not MS_MOVE or the kernel's internal bits. */
#define MOUNT_FLAGS_KNOWN                                                                          \
	((uint64_t)(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_REMOUNT |   \
		    MS_MANDLOCK | MS_DIRSYNC | MS_NOSYMFOLLOW | MS_NOATIME | MS_NODIRATIME |       \
		    MS_BIND | MS_REC | MS_SILENT | MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE |         \
		    MS_SHARED | MS_RELATIME | MS_STRICTATIME | MS_LAZYTIME))
#define MOUNT_OPTIONS_KNOWN MV_MOUNT_FILE

/* The next NUL-terminated string at *pos, or NULL when none fits. */
static const char *next_string(const char *p, uint32_t len, uint32_t *pos)
{
	const char *s = p + *pos;
	const char *nul = memchr(s, '\0', len - *pos);

	if (nul == NULL)
		return NULL;
	*pos += (uint32_t)(nul - s) + 1;
	return s;
}

static int check_header(const struct mv_msg_mount *h, mv_error_t *err)
{
	if (h->flags & ~MOUNT_FLAGS_KNOWN)
		return mv_error(err, EINVAL, "MOUNT: unknown flags %#llx",
				(unsigned long long)(h->flags & ~MOUNT_FLAGS_KNOWN));
	if (h->options & ~MOUNT_OPTIONS_KNOWN)
		return mv_error(err, EINVAL, "MOUNT: unknown options %#x",
				h->options & ~MOUNT_OPTIONS_KNOWN);
	if (h->reserved != 0)
		return mv_error(err, EINVAL, "MOUNT: reserved field is %#x", h->reserved);
	return 0;
}

static bool has_dotdot(const char *path)
{
	for (const char *s = path; *s; s += strcspn(s, "/")) {
		s += strspn(s, "/");
		if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
			return true;
	}
	return false;
}

static int check_length(const char *what, const char *s, size_t max, mv_error_t *err)
{
	size_t n = strlen(s);

	if (n >= max)
		return mv_error(err, EINVAL, "MOUNT: %s of %zu bytes: the limit is %zu", what, n,
				max - 1);
	return 0;
}

/* The strings, each checked: target, then the limits. */
static int check_strings(const struct mount_msg *m, mv_error_t *err)
{
	if (check_length("source", m->source, MOUNT_PATH_MAX, err) < 0 ||
	    check_length("target", m->target, MOUNT_PATH_MAX, err) < 0 ||
	    check_length("fstype", m->fstype, MOUNT_FSTYPE_MAX, err) < 0 ||
	    check_length("data", m->data, MOUNT_DATA_MAX, err) < 0)
		return -1;
	if (m->target[0] != '/')
		return mv_error(err, EINVAL, "MOUNT: target `%s` is not an absolute path",
				m->target);
	if (has_dotdot(m->target))
		return mv_error(err, EINVAL, "MOUNT: target `%s` has a `..` component", m->target);
	return 0;
}

int mount_msg_decode(const void *payload, uint32_t len, struct mount_msg *m, mv_error_t *err)
{
	static const char *const names[4] = {"source", "target", "fstype", "data"};
	struct mount_msg d = {0};
	const char **strings[4] = {&d.source, &d.target, &d.fstype, &d.data};
	struct mv_msg_mount h;
	uint32_t pos = sizeof(h);

	memset(m, 0, sizeof(*m));
	if (payload == NULL || len < sizeof(h))
		return mv_error(err, EINVAL, "MOUNT: short payload (%u bytes)", len);
	memcpy(&h, payload, sizeof(h));
	if (check_header(&h, err) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		*strings[i] = next_string(payload, len, &pos);
		if (*strings[i] == NULL)
			return mv_error(err, EINVAL, "MOUNT: %s missing or not NUL-terminated",
					names[i]);
	}
	if (pos != len)
		return mv_error(err, EINVAL, "MOUNT: %u bytes after the last string", len - pos);
	if (check_strings(&d, err) < 0)
		return -1;
	d.flags = h.flags;
	d.options = h.options;
	*m = d;
	return 0;
}
