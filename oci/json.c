#include "oci/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "runtime/cleanup.h"

/* ---- building the tree ---- */

struct builder {
	struct json_node *root;
	struct json_node *stack[JSON_MAX_DEPTH]; /* the open objects and arrays */
	size_t depth;
	char *key; /* the pending key of the innermost object */
	size_t values;
	const char *why; /* why a callback stopped the parse */
	int errnum;
};

static int stop(struct builder *b, int errnum, const char *why)
{
	b->errnum = errnum;
	b->why = why;
	return 0;
}

static struct json_node *node_new(enum json_type type, const char *text, size_t len)
{
	struct json_node *node = calloc(1, sizeof(*node));

	if (node == NULL)
		return NULL;
	node->type = type;
	if (type != JSON_STRING && type != JSON_NUMBER)
		return node;
	node->text = malloc(len + 1);
	if (node->text == NULL) {
		free(node);
		return NULL;
	}
	if (len)
		memcpy(node->text, text, len);
	node->text[len] = '\0';
	node->len = len;
	return node;
}

void json_free(struct json_node *node)
{
	if (node == NULL)
		return;
	for (size_t i = 0; i < node->n; i++) {
		if (node->keys)
			free(node->keys[i]);
		json_free(node->items[i]);
	}
	free(node->keys);
	free(node->items);
	free(node->text);
	free(node);
}

static int grow(struct json_node *parent)
{
	size_t cap = parent->cap ? parent->cap * 2 : 4;
	struct json_node **items = realloc(parent->items, cap * sizeof(*items));

	if (items == NULL)
		return -1;
	parent->items = items;
	if (parent->type == JSON_OBJECT) {
		char **keys = realloc(parent->keys, cap * sizeof(*keys));

		if (keys == NULL)
			return -1;
		parent->keys = keys;
	}
	parent->cap = cap;
	return 0;
}

/* Hand node to the innermost open container (or make it the root). */
static int attach(struct builder *b, struct json_node *node)
{
	struct json_node *parent;

	if (b->depth == 0) {
		b->root = node;
		return 1;
	}
	parent = b->stack[b->depth - 1];
	if (parent->n == parent->cap && grow(parent) < 0) {
		json_free(node);
		return stop(b, ENOMEM, NULL);
	}
	if (parent->type == JSON_OBJECT)
		parent->keys[parent->n] = steal_ptr(&b->key);
	parent->items[parent->n++] = node;
	return 1;
}

static int add(struct builder *b, enum json_type type, const char *text, size_t len,
	       struct json_node **added)
{
	struct json_node *node;

	_Static_assert(JSON_MAX_VALUES == 262144, "the message below names the limit");
	if (++b->values > JSON_MAX_VALUES)
		return stop(b, EINVAL, "more than 262144 values");
	node = node_new(type, text, len);
	if (node == NULL)
		return stop(b, ENOMEM, NULL);
	if (added)
		*added = node;
	return attach(b, node);
}

static int on_null(void *ctx)
{
	return add(ctx, JSON_NULL, NULL, 0, NULL);
}

static int on_bool(void *ctx, int value)
{
	return add(ctx, value ? JSON_TRUE : JSON_FALSE, NULL, 0, NULL);
}

static int on_number(void *ctx, const char *text, size_t len)
{
	return add(ctx, JSON_NUMBER, text, len, NULL);
}

static int on_string(void *ctx, const unsigned char *text, size_t len)
{
	return add(ctx, JSON_STRING, (const char *)text, len, NULL);
}

static int on_key(void *ctx, const unsigned char *text, size_t len)
{
	struct builder *b = ctx;

	/* Keys are matched as C strings: one with a NUL could pass for another. */
	if (memchr(text, '\0', len))
		return stop(b, EINVAL, "an object key holds a NUL character");
	free(b->key);
	b->key = strndup((const char *)text, len);
	return b->key ? 1 : stop(b, ENOMEM, NULL);
}

static int open_container(void *ctx, enum json_type type)
{
	struct builder *b = ctx;
	struct json_node *node = NULL;

	_Static_assert(JSON_MAX_DEPTH == 64, "the message below names the limit");
	if (b->depth == JSON_MAX_DEPTH)
		return stop(b, EINVAL, "nested deeper than 64 levels");
	if (!add(b, type, NULL, 0, &node))
		return 0;
	b->stack[b->depth++] = node;
	return 1;
}

static int on_start_map(void *ctx)
{
	return open_container(ctx, JSON_OBJECT);
}

static int on_start_array(void *ctx)
{
	return open_container(ctx, JSON_ARRAY);
}

static int on_end(void *ctx)
{
	struct builder *b = ctx;

	b->depth--;
	return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* yajl's own message, on one line. */
static int syntax_error(yajl_handle h, const char *buf, size_t len, const char *name,
			mv_error_t *err)
{
	unsigned char *text = yajl_get_error(h, 0, (const unsigned char *)buf, len);
	char *s = (char *)text;
	size_t n;

	if (s == NULL)
		return mv_error(err, EINVAL, "`%s`: invalid JSON", name);
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		n--;
	mv_error(err, EINVAL, "`%s`: invalid JSON: %.*s", name, (int)n, s);
	yajl_free_error(h, text);
	return -1;
}

static int run_parser(struct builder *b, const char *buf, size_t len, const char *name,
		      mv_error_t *err)
{
	yajl_handle h = yajl_alloc(&callbacks, NULL, b);
	yajl_status st;
	int ret = 0;

	if (h == NULL)
		return mv_error(err, ENOMEM, "`%s`: parse", name);
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st == yajl_status_client_canceled && b->why)
		ret = mv_error(err, b->errnum, "`%s`: %s", name, b->why);
	else if (st == yajl_status_client_canceled)
		ret = mv_error(err, b->errnum, "`%s`: parse", name);
	else if (st != yajl_status_ok)
		ret = syntax_error(h, buf, len, name, err);
	yajl_free(h);
	return ret;
}

int json_parse(const char *buf, size_t len, const char *name, struct json_node **out,
	       mv_error_t *err)
{
	struct builder b = {0};
	int ret = run_parser(&b, buf, len, name, err);

	free(b.key);
	if (ret < 0) {
		json_free(b.root);
		return ret;
	}
	*out = b.root;
	return 0;
}

const struct json_node *json_member(const struct json_node *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = obj->n; i-- > 0;)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

/* ---- the walker ---- */

static size_t walk_append(struct json_walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t walk_append(struct json_walk *w, const char *fmt, ...)
{
	size_t mark = w->len;
	va_list ap;
	int n;

	if (w->len >= sizeof(w->path) - 1)
		return mark;
	va_start(ap, fmt);
	n = vsnprintf(w->path + w->len, sizeof(w->path) - w->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->len += (size_t)n;
	if (w->len > sizeof(w->path) - 1)
		w->len = sizeof(w->path) - 1;
	return mark;
}

size_t json_walk_key(struct json_walk *w, const char *key)
{
	return walk_append(w, "%s%s", w->len ? "." : "", key);
}

size_t json_walk_index(struct json_walk *w, size_t i)
{
	return walk_append(w, "[%zu]", i);
}

void json_walk_pop(struct json_walk *w, size_t mark)
{
	w->len = mark;
	w->path[mark] = '\0';
}

int json_fail(struct json_walk *w, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
	/* The document's own text ends up in messages: keep them on one line. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	for (char *p = w->path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (w->len == 0)
		return mv_error(w->err, EINVAL, "`%s`: %s", w->doc, msg);
	return mv_error(w->err, EINVAL, "`%s`: %s: %s", w->doc, w->path, msg);
}

static const char *const type_names[] = {
    [JSON_NULL] = "null",	[JSON_FALSE] = "a boolean", [JSON_TRUE] = "a boolean",
    [JSON_NUMBER] = "a number", [JSON_STRING] = "a string", [JSON_OBJECT] = "an object",
    [JSON_ARRAY] = "an array",
};

int json_expect(struct json_walk *w, const struct json_node *v, enum json_type type)
{
	if (v->type == type || (type == JSON_FALSE && v->type == JSON_TRUE))
		return 0;
	return json_fail(w, "expected %s", type_names[type]);
}

int json_read_string(struct json_walk *w, const struct json_node *v, void *out)
{
	char **s = out;

	if (json_expect(w, v, JSON_STRING) < 0)
		return -1;
	if (strlen(v->text) != v->len)
		return json_fail(w, "holds a NUL character");
	free(*s);
	*s = strdup(v->text);
	if (*s == NULL)
		return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
	return 0;
}

int json_read_bool(struct json_walk *w, const struct json_node *v, void *out)
{
	if (json_expect(w, v, JSON_FALSE) < 0)
		return -1;
	*(bool *)out = v->type == JSON_TRUE;
	return 0;
}

/* The JSON grammar makes a number -?digits[.digits][e[+-]digits]: an
 * integer is one without a fraction or an exponent. */
static bool is_integer(const struct json_node *v)
{
	return v->type == JSON_NUMBER && strpbrk(v->text, ".eE") == NULL;
}

static bool is_zero(const char *digits)
{
	return digits[strspn(digits, "0")] == '\0';
}

int json_read_uint(struct json_walk *w, const struct json_node *v, uint64_t max, uint64_t *out)
{
	unsigned long long u;

	if (!is_integer(v))
		return json_fail(w, "expected an integer");
	/* strtoull would wrap "-1" around to 2^64-1; "-0" is a zero. */
	if (v->text[0] == '-' && !is_zero(v->text + 1))
		goto range;
	errno = 0;
	u = strtoull(v->text[0] == '-' ? v->text + 1 : v->text, NULL, 10);
	if (errno == ERANGE || u > max)
		goto range;
	*out = u;
	return 0;
range:
	return json_fail(w, "`%.*s` is out of range (0 to %" PRIu64 ")", JSON_SHOWN, v->text, max);
}

int json_read_int(struct json_walk *w, const struct json_node *v, int64_t min, int64_t max,
		  int64_t *out)
{
	long long i;

	if (!is_integer(v))
		return json_fail(w, "expected an integer");
	errno = 0;
	i = strtoll(v->text, NULL, 10);
	if (errno == ERANGE || i < min || i > max)
		return json_fail(w, "`%.*s` is out of range (%" PRId64 " to %" PRId64 ")",
				 JSON_SHOWN, v->text, min, max);
	*out = i;
	return 0;
}

int json_read_u32(struct json_walk *w, const struct json_node *v, void *out)
{
	uint64_t u;

	if (json_read_uint(w, v, UINT32_MAX, &u) < 0)
		return -1;
	*(uint32_t *)out = (uint32_t)u;
	return 0;
}

int json_read_u64(struct json_walk *w, const struct json_node *v, void *out)
{
	return json_read_uint(w, v, UINT64_MAX, out);
}

int json_read_i64(struct json_walk *w, const struct json_node *v, void *out)
{
	return json_read_int(w, v, INT64_MIN, INT64_MAX, out);
}

int json_read_array(struct json_walk *w, const struct json_node *v, size_t size, json_reader read,
		    void **items, size_t *n)
{
	if (json_expect(w, v, JSON_ARRAY) < 0)
		return -1;
	if (v->n == 0)
		return 0;
	*items = calloc(v->n, size);
	if (*items == NULL)
		return mv_error(w->err, ENOMEM, "`%s`: %s", w->doc, w->path);
	*n = v->n;
	for (size_t i = 0; i < v->n; i++) {
		size_t mark = json_walk_index(w, i);

		if (read(w, v->items[i], (char *)*items + i * size) < 0)
			return -1;
		json_walk_pop(w, mark);
	}
	return 0;
}

static int read_field(struct json_walk *w, const struct json_node *obj, char *base,
		      const struct json_field *f)
{
	const struct json_node *v = json_member(obj, f->key);
	size_t mark = json_walk_key(w, f->key);

	if (v == NULL || v->type == JSON_NULL) {
		if (f->required)
			return json_fail(w, "is required");
	} else {
		if (f->read(w, v, base + f->offset) < 0)
			return -1;
		if (f->has != JSON_NO_FLAG)
			*(bool *)(base + f->has) = true;
	}
	json_walk_pop(w, mark);
	return 0;
}

int json_read_fields(struct json_walk *w, const struct json_node *v, void *base,
		     const struct json_field *fields, size_t n)
{
	if (json_expect(w, v, JSON_OBJECT) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (read_field(w, v, base, &fields[i]) < 0)
			return -1;
	return 0;
}

int json_read_choice(struct json_walk *w, const struct json_node *v, char **out,
		     const char *const *choices, size_t n, const char *what)
{
	if (json_read_string(w, v, out) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(*out, choices[i]) == 0)
			return (int)i;
	return json_fail(w, "`%.*s` is not %s", JSON_SHOWN, *out, what);
}
