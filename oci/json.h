/* A JSON document as a tree, and a walker over it that reads typed values
 * into structs and names the JSON path of whatever it refuses.
 *
 * The tree is built with yajl's callback parser rather than yajl_tree:
 * yajl_tree keeps no string lengths (a "\u0000" would silently cut a string
 * short) and frees by unbounded recursion; here depth and the number of
 * values are bounded, so hostile input costs bounded memory and stack. */
#ifndef MV_OCI_JSON_H
#define MV_OCI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/error.h"

#define JSON_MAX_DEPTH	64
#define JSON_MAX_VALUES (1u << 18)

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_OBJECT,
	JSON_ARRAY,
};

struct json_node {
	enum json_type type;
	char *text; /* a string's value or a number's text, NUL-terminated */
	size_t len; /* of text: a string may hold a NUL of its own */
	size_t n;   /* members of an object or an array */
	size_t cap;
	char **keys; /* an object's n keys, in document order */
	struct json_node **items;
};

/* Parse len bytes of JSON; `name` names the document in errors:
 * "`config.json`: invalid JSON: parse error: premature EOF" (EINVAL). */
int json_parse(const char *buf, size_t len, const char *name, struct json_node **out,
	       mv_error_t *err);
void json_free(struct json_node *node);

/* An object's member; the last one when a key repeats, as encoding/json
 * (runc) reads it.  NULL when absent or when obj is not an object. */
const struct json_node *json_member(const struct json_node *obj, const char *key);

/* ---- the walker ---- */

struct json_walk {
	const char *doc; /* "config.json" */
	mv_error_t *err;
	size_t len;
	char path[512]; /* "process.args[0]"; long paths are cut short */
};

/* Descend into a member or an element; each returns the mark to pop back to. */
size_t json_walk_key(struct json_walk *w, const char *key);
size_t json_walk_index(struct json_walk *w, size_t i);
void json_walk_pop(struct json_walk *w, size_t mark);

/* "`DOC`: PATH: MESSAGE" with EINVAL; returns -1.  Control characters in
 * the message become '?'; quote the document's values with "%.*s" and
 * JSON_SHOWN, so that a huge one makes no huge message. */
#define JSON_SHOWN 64
int json_fail(struct json_walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a value into out (whose type the reader knows), or fails naming the
 * walker's path.  On failure what was read so far stays in out, for the
 * owner's free function. */
typedef int (*json_reader)(struct json_walk *w, const struct json_node *v, void *out);

int json_read_string(struct json_walk *w, const struct json_node *v, void *out); /* char * */
int json_read_bool(struct json_walk *w, const struct json_node *v, void *out);	 /* bool */
int json_read_u32(struct json_walk *w, const struct json_node *v, void *out);	 /* uint32_t */
int json_read_u64(struct json_walk *w, const struct json_node *v, void *out);	 /* uint64_t */
int json_read_i64(struct json_walk *w, const struct json_node *v, void *out);	 /* int64_t */

/* Integers in a range: "`-1` is out of range (0 to 4294967295)". */
int json_read_uint(struct json_walk *w, const struct json_node *v, uint64_t max, uint64_t *out);
int json_read_int(struct json_walk *w, const struct json_node *v, int64_t min, int64_t max,
		  int64_t *out);

/* A string that must be one of n choices: returns its index, or fails with
 * "`x` is not WHAT". */
int json_read_choice(struct json_walk *w, const struct json_node *v, char **out,
		     const char *const *choices, size_t n, const char *what);

int json_expect(struct json_walk *w, const struct json_node *v, enum json_type type);

/* An array of n elements of `size` bytes each, allocated zeroed and counted
 * in *n before they are read, so that a failure leaves them to the owner's
 * free function. */
int json_read_array(struct json_walk *w, const struct json_node *v, size_t size, json_reader read,
		    void **items, size_t *n);

/* One property of an object, by table: the reader gets the struct's member
 * at `offset` (0 with JSON_WHOLE: the struct itself).  Absent and null are
 * the same, as in encoding/json: the member is left alone, `has` (an offset
 * of a bool, or JSON_NO_FLAG) stays false, and a required one is an error. */
struct json_field {
	const char *key;
	json_reader read;
	size_t offset;
	size_t has;
	bool required;
};

#define JSON_NO_FLAG ((size_t)-1)
#define JSON_FIELD(key, read, type, member)                                                        \
	{                                                                                          \
		(key), (read), offsetof(type, member), JSON_NO_FLAG, false                         \
	}
#define JSON_REQUIRED(key, read, type, member)                                                     \
	{                                                                                          \
		(key), (read), offsetof(type, member), JSON_NO_FLAG, true                          \
	}
#define JSON_OPTIONAL(key, read, type, member, has_member)                                         \
	{                                                                                          \
		(key), (read), offsetof(type, member), offsetof(type, has_member), false           \
	}
#define JSON_WHOLE(key, read)                                                                      \
	{                                                                                          \
		(key), (read), 0, JSON_NO_FLAG, false                                              \
	}
/* Required JSON_WHOLE: e.g. OCI_ARRAY_READER's readers fill a member and its count together. */
#define JSON_REQUIRED_WHOLE(key, read)                                                             \
	{                                                                                          \
		(key), (read), 0, JSON_NO_FLAG, true                                               \
	}
#define JSON_WHOLE_HAS(key, read, type, has_member)                                                \
	{                                                                                          \
		(key), (read), 0, offsetof(type, has_member), false                                \
	}

/* Check that v is an object and read each field of the table into base. */
int json_read_fields(struct json_walk *w, const struct json_node *v, void *base,
		     const struct json_field *fields, size_t n);

#define JSON_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
