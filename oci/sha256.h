/* SHA-256 (FIPS 180-4), streaming, to check image blobs against their
 * digests.  Written here rather than taken from a crypto library: mvrun
 * links nothing else that has one, and a blob check needs only this. */
#ifndef MV_OCI_SHA256_H
#define MV_OCI_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/error.h"

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE	   65 /* 64 lowercase hex digits and a NUL */

struct sha256 {
	uint32_t state[8];
	uint64_t length; /* bytes hashed so far */
	uint8_t block[64];
	size_t used; /* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* The digest of everything given; s must be initialised again to reuse it. */
void sha256_final(struct sha256 *s, uint8_t digest[SHA256_DIGEST_SIZE]);

/* The digest of len bytes at data, in one call. */
void sha256_buf(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_SIZE]);

/* The digest as lowercase hex, as OCI digests write it. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char hex[SHA256_HEX_SIZE]);

/* Hash what fd holds from its current offset to its end; *size (may be
 * NULL) is the number of bytes hashed.  `name` names the file in errors. */
int sha256_fd(int fd, const char *name, uint8_t digest[SHA256_DIGEST_SIZE], uint64_t *size,
	      mv_error_t *err);

#endif
