/*
 * hash.h - SHA-256 and the digest of a JSON value's RFC 8785 canonical form.
 *
 * The hashing is Nettle's (libnettle): small and without dependencies, so
 * the thin front end (agent/main.c) loads it in a fraction of the time
 * libcrypto takes.
 *
 * Hashing cannot fail except by running out of memory, which aborts the
 * process (the same policy as buf.h), so the one-shot functions return
 * nothing. All functions are thread-safe; a context is used by one thread
 * at a time.
 */
#ifndef LANSER_HASH_H
#define LANSER_HASH_H

#include <stddef.h>

#include <jansson.h>

#define LN_SHA256_LEN 32
/* 64 lowercase hex digits + NUL */
#define LN_SHA256_HEX_SIZE 65
/* "sha256:" + 64 hex digits + NUL */
#define LN_JSON_DIGEST_SIZE 72

/* out = SHA-256(data[0..len)). `data` may be NULL when len is 0. */
void ln_sha256(const void *data, size_t len, unsigned char out[LN_SHA256_LEN]);
/* Same digest as 64 lowercase hex digits, NUL-terminated. */
void ln_sha256_hex(const void *data, size_t len, char out[LN_SHA256_HEX_SIZE]);

/*
 * Incremental hashing. Opaque: callers touch no field.
 *
 *   struct ln_sha256_ctx c;
 *   ln_sha256_init(&c);
 *   ln_sha256_update(&c, a, alen); ln_sha256_update(&c, b, blen);
 *   ln_sha256_final_hex(&c, hex);        (also releases the context)
 *
 * final/final_hex release what init allocated; to abandon a context before
 * finishing, call ln_sha256_release (safe to call again, and after final).
 */
struct ln_sha256_ctx {
	void *impl_;	/* struct sha256_ctx * (nettle) */
};

void ln_sha256_init(struct ln_sha256_ctx *ctx);
void ln_sha256_update(struct ln_sha256_ctx *ctx, const void *data, size_t len);
void ln_sha256_final_hex(struct ln_sha256_ctx *ctx, char out[LN_SHA256_HEX_SIZE]);
void ln_sha256_release(struct ln_sha256_ctx *ctx);

/*
 * Writes "sha256:" followed by the lowercase hex SHA-256 of the RFC 8785
 * canonical JSON of `v` (see jcs.h) into `out`. Returns 0, or the negative
 * LN_E* code from jcs_serialize with the last error set; on failure `out`
 * holds the empty string. `v` is borrowed.
 */
int ln_json_digest(char out[LN_JSON_DIGEST_SIZE], const json_t *v);

#endif
