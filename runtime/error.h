/* Errors in library code: a function that fails fills an mv_error_t and
 * returns a negative value; only cmd/ turns the error into output. */
#ifndef MV_ERROR_H
#define MV_ERROR_H

#include <stddef.h>

typedef struct mv_error {
	int err;   /* errno of the failure, 0 when there is none */
	char *msg; /* "open `config.json`", context prepended by mv_error_wrap */
} mv_error_t;

/* Record a failure; returns -1.  errnum 0 means no system error applies. */
int mv_error(mv_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context ("create `c1`") to the recorded message; returns -1. */
int mv_error_wrap(mv_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The whole message with strerror appended: "open `x`: No such file or directory".
 * The result belongs to the caller. */
char *mv_error_string(const mv_error_t *err);

/* A value for an error message, in out (size bytes, at least 5): control
 * characters as '?', cut with "..." when it does not fit. */
void mv_error_quote(const char *s, char *out, size_t size);

/* Forget a recorded error (after it was handled). */
void mv_error_release(mv_error_t *err);

#endif
