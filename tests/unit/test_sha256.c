/* oci/sha256.c against the FIPS 180-4 example vectors (and NIST's
 * one-million-'a' one), whole and fed in uneven pieces. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/sha256.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

static const char abc_hex[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char empty_hex[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char two_block[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char two_block_hex[] =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
static const char million_a_hex[] =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void hex_of(const void *data, size_t len, char hex[SHA256_HEX_SIZE])
{
	uint8_t digest[SHA256_DIGEST_SIZE];

	sha256_buf(data, len, digest);
	sha256_hex(digest, hex);
}

/* The digest of data given in pieces of `chunk` bytes (the last shorter). */
static void hex_chunked(const void *data, size_t len, size_t chunk, char hex[SHA256_HEX_SIZE])
{
	const uint8_t *p = data;
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256 s;

	sha256_init(&s);
	for (size_t off = 0; off < len; off += chunk)
		sha256_update(&s, p + off, len - off < chunk ? len - off : chunk);
	sha256_final(&s, digest);
	sha256_hex(digest, hex);
}

TEST(sha256_empty)
{
	char hex[SHA256_HEX_SIZE];

	hex_of("", 0, hex);
	CHECK_STR(hex, empty_hex);
}

TEST(sha256_abc)
{
	char hex[SHA256_HEX_SIZE];

	hex_of("abc", 3, hex);
	CHECK_STR(hex, abc_hex);
}

/* 448 bits: the padding does not fit the first block, so it takes a second. */
TEST(sha256_two_blocks)
{
	char hex[SHA256_HEX_SIZE];

	CHECK_INT(strlen(two_block), ==, 56);
	hex_of(two_block, strlen(two_block), hex);
	CHECK_STR(hex, two_block_hex);
}

TEST(sha256_million_a)
{
	cleanup_free char *a = malloc(1000000);
	char hex[SHA256_HEX_SIZE];

	CHECK(a != NULL);
	memset(a, 'a', 1000000);
	hex_of(a, 1000000, hex);
	CHECK_STR(hex, million_a_hex);
}

/* Pieces that straddle block boundaries in every way must not change it. */
TEST(sha256_streaming_odd_chunks)
{
	static const size_t chunks[] = {1, 3, 7, 55, 56, 63, 64, 65, 127, 1000, 4093};
	cleanup_free char *a = malloc(1000000);
	char hex[SHA256_HEX_SIZE];

	CHECK(a != NULL);
	memset(a, 'a', 1000000);
	for (size_t i = 0; i < N_ELEMENTS(chunks); i++) {
		hex_chunked(a, 1000000, chunks[i], hex);
		CHECK_STR(hex, million_a_hex);
		hex_chunked(two_block, strlen(two_block), chunks[i], hex);
		CHECK_STR(hex, two_block_hex);
	}
}

/* Lengths around the padding boundary (55, 56, 64 bytes) against a
 * byte-at-a-time run, which takes the other path through update. */
TEST(sha256_padding_lengths)
{
	char data[200], whole[SHA256_HEX_SIZE], bytes[SHA256_HEX_SIZE];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + 1);
	for (size_t len = 0; len <= sizeof(data); len++) {
		hex_of(data, len, whole);
		hex_chunked(data, len, 1, bytes);
		CHECK_STR(whole, bytes);
	}
}

TEST(sha256_fd_reads_to_end)
{
	char path[] = "/tmp/mvrun-sha256-XXXXXX";
	cleanup_close int fd = mkostemp(path, O_CLOEXEC);
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE];
	mv_error_t err = {0};
	uint64_t size = 0;

	CHECK(fd >= 0);
	unlink(path);
	CHECK_INT(write(fd, "abc", 3), ==, 3);
	CHECK_INT(lseek(fd, 0, SEEK_SET), ==, 0);
	CHECK_INT(sha256_fd(fd, "abc", digest, &size, &err), ==, 0);
	sha256_hex(digest, hex);
	CHECK_STR(hex, abc_hex);
	CHECK_INT(size, ==, 3);
}

TEST(sha256_fd_error_names_file)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	cleanup_close int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mv_error_t err = {0};

	CHECK(fd >= 0);
	CHECK_INT(sha256_fd(fd, "blobs/x", digest, NULL, &err), ==, -1);
	CHECK_INT(err.err, ==, EISDIR);
	CHECK_STR(err.msg, "read `blobs/x`");
	mv_error_release(&err);
}
