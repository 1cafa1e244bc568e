/* The state directory: ROOT/ID per container, holding state.json (our own
 * format), the monitor's sockets and whatever else the container needs on
 * the host.  The directory's flock is the container's lock: writers take it
 * exclusively, readers shared, and state_remove deletes the directory while
 * holding it, so a waiter that wakes up on a deleted directory says "does not
 * exist" rather than reviving it.
 *
 * The lock belongs to the open file description, not to the process: a
 * child forked while the fd is open holds the lock too until it closes its
 * copy (O_CLOEXEC helps only across exec), so close it in the child, or the
 * next state_open of the container waits for that child. */
#ifndef MV_STATE_H
#define MV_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <yajl/yajl_gen.h>

#include "oci/config.h"
#include "runtime/error.h"

#define STATE_FILE   "state.json"
#define STATE_ID_MAX 1024

struct container_state {
	char *id;
	char *bundle;	    /* absolute */
	char *rootfs;	    /* absolute host path of the root */
	char *status;	    /* as recorded: "creating", "created", "running", "paused", "stopped" */
	pid_t pid;	    /* the monitor's pid; 0 before it runs */
	uint64_t pid_start; /* the monitor's start time (field 22 of /proc/PID/stat), against pid
			       reuse */
	char *created;	    /* RFC 3339 UTC with nanoseconds, as runc's list shows it */
	char *owner;	    /* the creator's user name, "" when unknown */
	struct oci_map annotations;
	char *oci_version; /* the bundle's config.json ociVersion; NULL: unknown */
	char *cgroup;	   /* the monitor's host cgroup below /sys/fs/cgroup; NULL: none */
};

/* ids: runc's rule: [A-Za-z0-9_+.-]+, not "." or "..", at most 1024 bytes;
 * else EINVAL "invalid container id `X`" (X cleaned of control chars). */
int state_check_id(const char *id, mv_error_t *err);

/* The root dir fd (O_DIRECTORY|O_CLOEXEC).  create: mkdir -p with 0711 and
 * check that it is writable; a root that cannot be created or written gives
 * an error naming it.  Without create, a missing root is ENOENT. */
int state_open_root(const char *root, bool create, mv_error_t *err);

/* mkdir ROOT/ID (0700) and return its fd locked (LOCK_EX); EEXIST ->
 * "container with given ID already exists". */
int state_create(int rootfd, const char *id, mv_error_t *err);

/* Open ROOT/ID and lock it (LOCK_EX): a missing dir, one deleted while we
 * waited for the lock, or one without our state file (another runtime's
 * entry, or a create still in progress) -> ENOENT "container does not exist". */
int state_open(int rootfd, const char *id, mv_error_t *err);
/* Same with a shared lock, for readers (state, list, ps). */
int state_open_shared(int rootfd, const char *id, mv_error_t *err);

/* state_open_root (no create) + state_open(_shared) in one: a missing root
 * is "container does not exist" too.  Returns the container dir's fd. */
int state_open_container(const char *root, const char *id, bool shared, mv_error_t *err);

/* Atomic: a temp file, fsync, rename; JSON via yajl_gen. */
int state_write(int dirfd, const struct container_state *s, mv_error_t *err);
/* A corrupt file is an error naming it, never a crash. */
int state_read(int dirfd, struct container_state **out, mv_error_t *err);
void state_free(struct container_state *s);

/* pid > 0, /proc/PID exists, is not a zombie and started at pid_start. */
bool state_monitor_alive(const struct container_state *s);
/* What callers see: the recorded status while the monitor is alive,
 * "stopped" otherwise; and the pid, 0 when stopped. */
const char *state_status(const struct container_state *s);
pid_t state_pid(const struct container_state *s);

/* Remove ROOT/ID and everything in it (files, sockets, subdirs), given its
 * locked fd.  The fd stays open (the caller closes it). */
int state_remove(int rootfd, const char *id, int dirfd, mv_error_t *err);

/* Ids of our containers in the root, sorted, NULL-terminated; entries of
 * other runtimes (no state file) and names that are no valid id are
 * skipped.  Release with state_list_free. */
int state_list(int rootfd, char ***ids, size_t *n, mv_error_t *err);
void state_list_free(char **ids, size_t n);

/* Field 22 of /proc/PID/stat (clock ticks after boot); 0 when there is no
 * such process or it is a zombie. */
uint64_t state_proc_start_time(pid_t pid);

/* Helpers for whoever fills a container_state. */
/* ts as RFC 3339 UTC with Go's RFC3339Nano rules (trailing zeros of the
 * fraction dropped, none when 0): "2024-05-01T10:00:00.12345Z". */
void state_format_time(const struct timespec *ts, char *buf, size_t size);
/* Now, formatted so, malloc'd (NULL when out of memory). */
char *state_time_now(void);
/* The user name of uid, malloc'd; "" when it has none. */
char *state_user_name(uid_t uid);

/* The runc `state` / `list -f json` object of one container, as callers
 * see it (status and pid through state_status/state_pid): ociVersion, id,
 * pid, status, bundle, rootfs, created, annotations (when any), owner. */
int state_gen_runc_json(yajl_gen g, const struct container_state *s);

#endif
