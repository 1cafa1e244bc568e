/* mvrun list: the containers in --root, as runc lists them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "cmd/mvrun.h"
#include "runtime/cleanup.h"
#include "runtime/state.h"

enum list_format { LIST_TABLE, LIST_JSON };

static const struct option list_options[] = {
    {"format", required_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {NULL, 0, NULL, 0},
};

/* ---- the table: Go's tabwriter as runc sets it up (minwidth 12, padding
 * 3): every column but the last is as wide as its widest cell plus 3. ---- */

#define TABLE_COLUMNS  6
#define TABLE_MINWIDTH 12
#define TABLE_PADDING  3

/* Characters, not bytes: a UTF-8 bundle path lines up too. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void table_row(char *const *cells, const size_t *widths)
{
	for (int i = 0; i < TABLE_COLUMNS - 1; i++)
		printf("%s%*s", cells[i], (int)(widths[i] - text_width(cells[i])), "");
	printf("%s\n", cells[TABLE_COLUMNS - 1]);
}

static void row_cells(struct container_state *s, char *pid, char **cells)
{
	cells[0] = s->id;
	cells[1] = pid;
	cells[2] = (char *)state_status(s);
	cells[3] = s->bundle;
	cells[4] = s->created;
	cells[5] = s->owner;
}

static void widen(size_t *widths, char *const *cells)
{
	for (int c = 0; c < TABLE_COLUMNS; c++)
		if (text_width(cells[c]) + TABLE_PADDING > widths[c])
			widths[c] = text_width(cells[c]) + TABLE_PADDING;
}

static void print_table(struct container_state **v, size_t n)
{
	static char *const header[TABLE_COLUMNS] = {"ID",     "PID",	 "STATUS",
						    "BUNDLE", "CREATED", "OWNER"};
	char(*pids)[16] = calloc(n + 1, sizeof(*pids));
	size_t widths[TABLE_COLUMNS];
	char *cells[TABLE_COLUMNS];

	if (pids == NULL)
		return;
	for (int c = 0; c < TABLE_COLUMNS; c++)
		widths[c] = TABLE_MINWIDTH;
	widen(widths, header);
	for (size_t i = 0; i < n; i++) {
		snprintf(pids[i], sizeof(pids[i]), "%d", (int)state_pid(v[i]));
		row_cells(v[i], pids[i], cells);
		widen(widths, cells);
	}
	table_row(header, widths);
	for (size_t i = 0; i < n; i++) {
		row_cells(v[i], pids[i], cells);
		table_row(cells, widths);
	}
	free(pids);
}

/* One line; runc prints null, not [], when there are no containers. */
static int print_json(struct container_state **v, size_t n, mv_error_t *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int bad;

	if (g == NULL)
		return mv_error(err, 0, "out of memory");
	bad = n == 0 ? yajl_gen_null(g) : yajl_gen_array_open(g);
	for (size_t i = 0; i < n && !bad; i++)
		bad = state_gen_runc_json(g, v[i]);
	if (n > 0)
		bad = bad || yajl_gen_array_close(g);
	if (bad || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		yajl_gen_free(g);
		return mv_error(err, 0, "list: cannot encode the containers");
	}
	printf("%.*s\n", (int)len, (const char *)buf);
	yajl_gen_free(g);
	return 0;
}

/* ---- loading ---- */

/* One container's state; NULL when it vanished meanwhile or is unreadable
 * (said on stderr: one broken entry does not hide the others). */
static struct container_state *load_one(struct mv_global *g, int rootfd, const char *id)
{
	mv_error_t err = {0};
	cleanup_close int fd = state_open_shared(rootfd, id, &err);
	struct container_state *s = NULL;

	if (fd >= 0 && state_read(fd, &s, &err) == 0)
		return s;
	if (err.err != ENOENT || fd >= 0) {
		cleanup_free char *msg = mv_error_string(&err);
		mv_log_error(g, msg ? msg : "out of memory");
	}
	mv_error_release(&err);
	return NULL;
}

/* *v: the states of the containers in the root, in id order; none when
 * the root does not exist yet. */
static int load_all(struct mv_global *g, struct container_state ***v, size_t *n, mv_error_t *err)
{
	cleanup_close int rootfd = state_open_root(g->root, false, err);
	char **ids = NULL;
	size_t nids = 0;

	*v = NULL;
	*n = 0;
	if (rootfd < 0 && err->err == ENOENT) {
		mv_error_release(err);
		return 0;
	}
	if (rootfd < 0 || state_list(rootfd, &ids, &nids, err) < 0)
		return -1;
	*v = calloc(nids + 1, sizeof(**v));
	if (*v == NULL) {
		state_list_free(ids, nids);
		return mv_error(err, 0, "out of memory");
	}
	for (size_t i = 0; i < nids; i++) {
		(*v)[*n] = load_one(g, rootfd, ids[i]);
		if ((*v)[*n])
			(*n)++;
	}
	state_list_free(ids, nids);
	return 0;
}

static int parse_options(int argc, char **argv, enum list_format *format, bool *quiet,
			 mv_error_t *err)
{
	int c;

	while ((c = getopt_long(argc, argv, "+f:q", list_options, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "table") == 0)
				*format = LIST_TABLE;
			else if (strcmp(optarg, "json") == 0)
				*format = LIST_JSON;
			else
				return mv_error(err, 0, "invalid format option `%s`: table or json",
						optarg);
			break;
		case 'q':
			*quiet = true;
			break;
		default:
			return mv_error(err, 0, "list: unknown option: see `mvrun list --help`");
		}
	}
	if (optind != argc)
		return mv_error(err, 0, "list: takes no arguments");
	return 0;
}

static int list_main(struct mv_global *g, int argc, char **argv, mv_error_t *err)
{
	enum list_format format = LIST_TABLE;
	struct container_state **v;
	bool quiet = false;
	size_t n;
	int ret = 0;

	if (parse_options(argc, argv, &format, &quiet, err) < 0 || load_all(g, &v, &n, err) < 0)
		return -1;
	if (quiet)
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i]->id);
	else if (format == LIST_TABLE)
		print_table(v, n);
	else
		ret = print_json(v, n, err);
	for (size_t i = 0; i < n; i++)
		state_free(v[i]);
	free(v);
	return ret;
}

const struct mv_command cmd_list = {
    .name = "list",
    .run = list_main,
    .summary = "lists containers started by mvrun with the given root",
    .usage = "mvrun list [--format table|json] [--quiet]\n\n"
	     "Lists the containers in the state directory (--root): a table of ID,\n"
	     "PID, STATUS, BUNDLE, CREATED and OWNER, or with --format json (-f json)\n"
	     "an array of their states (null when there are none); --quiet (-q)\n"
	     "prints the ids only.",
};
