/* linux.cgroupsPath to a cgroup directory relative to the cgroup2 root,
 * for the cgroupfs and the systemd drivers (see runtime/cgroup.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cgroup.h"
#include "runtime/cleanup.h"

#define PATH_LIMIT 4095
#define SLICE	   ".slice"
/* How much of a bad value an error quotes. */
#define QUOTE_MAX 64

static int bad_path(const char *value, const char *why, mv_error_t *err)
{
	char q[QUOTE_MAX];

	mv_error_quote(value, q, sizeof(q));
	return mv_error(err, EINVAL, "linux.cgroupsPath: `%s` %s", q, why);
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* rel is a path below the root: components that are neither empty, "."
 * nor "..", none longer than NAME_MAX.  Returns why not, or NULL. */
static const char *rel_problem(const char *rel)
{
	const char *p = rel;

	if (rel[0] == '\0')
		return "is the root cgroup";
	if (strlen(rel) > PATH_LIMIT)
		return "is too long";
	if (has_control(rel))
		return "has a control character";
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0)
			return "has an empty component";
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return "has a `.` or `..` component";
		if (n > NAME_MAX)
			return "has a component longer than 255 bytes";
		if (p[n] == '\0')
			return NULL;
		p += n + 1;
	}
}

static int check_rel(const char *value, const char *rel, mv_error_t *err)
{
	const char *why = rel_problem(rel);

	return why ? bad_path(value, why, err) : 0;
}

int cgroup_check_rel(const char *rel, mv_error_t *err)
{
	return check_rel(rel, rel, err);
}

static int cgroupfs_path(const char *value, const char *id, char **rel, mv_error_t *err)
{
	if (value[0] == '\0') {
		if (asprintf(rel, "mvrun/%s", id) < 0)
			return mv_error(err, ENOMEM, "linux.cgroupsPath");
	} else {
		*rel = strdup(value[0] == '/' ? value + 1 : value);
		if (*rel == NULL)
			return mv_error(err, ENOMEM, "linux.cgroupsPath");
	}
	/* the default is quoted as what it became */
	return check_rel(value[0] ? value : *rel, *rel, err);
}

/* ---- systemd ---- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "a-b-c.slice" -> "a.slice/a-b.slice/a-b-c.slice" appended to out (of
 * size bytes, holding a string); "-.slice" is the root: nothing. */
static int expand_slice(const char *slice, char *out, size_t size)
{
	size_t stem = strlen(slice) - strlen(SLICE);

	if (!ends_with(slice, SLICE) || stem == 0 || strchr(slice, '/'))
		return -1;
	if (stem == 1 && slice[0] == '-')
		return 0;
	for (size_t i = 0; i <= stem; i++) {
		if (i < stem && slice[i] != '-')
			continue;
		/* "a--b.slice", "-a.slice" and "a-.slice" have an empty part */
		if (i == 0 || slice[i - 1] == '-')
			return -1;
		if (strlen(out) + i + sizeof(SLICE) + 1 > size)
			return -1;
		snprintf(out + strlen(out), size - strlen(out), "%s%.*s" SLICE, out[0] ? "/" : "",
			 (int)i, slice);
	}
	return 0;
}

/* The three fields of "slice:prefix:name", pointing into copy. */
static int split_triple(char *copy, char *fields[3])
{
	for (int i = 0; i < 3; i++) {
		fields[i] = copy;
		copy = strchr(copy, ':');
		if ((copy == NULL) != (i == 2))
			return -1;
		if (copy)
			*copy++ = '\0';
	}
	return 0;
}

static int append_unit(const char *prefix, const char *name, char *out, size_t size)
{
	const char *sep = out[0] ? "/" : "";
	int n;

	if (name[0] == '\0' || strchr(prefix, '/') || strchr(name, '/'))
		return -1;
	if (ends_with(name, SLICE))
		n = snprintf(out + strlen(out), size - strlen(out), "%s%s", sep, name);
	else if (prefix[0] == '\0')
		n = snprintf(out + strlen(out), size - strlen(out), "%s%s.scope", sep, name);
	else
		n = snprintf(out + strlen(out), size - strlen(out), "%s%s-%s.scope", sep, prefix,
			     name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int systemd_path(const char *value, const char *id, char **rel, mv_error_t *err)
{
	cleanup_free char *copy = NULL;
	char *f[3], out[PATH_LIMIT + 2] = "";

	if (value[0] == '\0')
		return asprintf(&copy, "system.slice:mvrun:%s", id) < 0
			   ? mv_error(err, ENOMEM, "linux.cgroupsPath")
			   : systemd_path(copy, id, rel, err);
	copy = strdup(value);
	if (copy == NULL)
		return mv_error(err, ENOMEM, "linux.cgroupsPath");
	if (split_triple(copy, f) < 0)
		return bad_path(value, "is not `slice:prefix:name` (the systemd cgroup form)", err);
	if (expand_slice(f[0][0] ? f[0] : "system.slice", out, sizeof(out)) < 0)
		return bad_path(
		    value, "does not name a slice such as `machine.slice` or `a-b.slice`", err);
	if (append_unit(f[1], f[2], out, sizeof(out)) < 0)
		return bad_path(value, "does not have a unit name without `/`", err);
	if (check_rel(value, out, err) < 0)
		return -1;
	*rel = strdup(out);
	return *rel ? 0 : mv_error(err, ENOMEM, "linux.cgroupsPath");
}

int cgroup_path(const char *cgroups_path, bool systemd, const char *id, char **rel, mv_error_t *err)
{
	const char *value = cgroups_path ? cgroups_path : "";
	int ret;

	*rel = NULL;
	ret = systemd ? systemd_path(value, id, rel, err) : cgroupfs_path(value, id, rel, err);
	if (ret < 0) {
		free(*rel);
		*rel = NULL;
	}
	return ret;
}
