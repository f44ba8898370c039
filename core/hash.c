#include "hash.h"
#include "buf.h"
#include "jcs.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libcrypto fails here only on allocation failure: abort, as buf.c does. */
static void die_crypto(void)
{
	static const char msg[] = "lanser: SHA-256 failed (out of memory)\n";
	if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more to do */ }
	abort();
}

void ln_hex_encode(char out[LN_SHA256_HEX_SIZE], const unsigned char digest[LN_SHA256_LEN])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < LN_SHA256_LEN; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[2 * LN_SHA256_LEN] = '\0';
}

void ln_sha256(const void *data, size_t len, unsigned char out[LN_SHA256_LEN])
{
	static const unsigned char nothing[1];
	unsigned int n = 0;

	if (!EVP_Digest(len ? data : nothing, len, out, &n, EVP_sha256(), NULL)
	    || n != LN_SHA256_LEN)
		die_crypto();
}

void ln_sha256_hex(const void *data, size_t len, char out[LN_SHA256_HEX_SIZE])
{
	unsigned char d[LN_SHA256_LEN];

	ln_sha256(data, len, d);
	ln_hex_encode(out, d);
}

void ln_sha256_init(struct ln_sha256_ctx *ctx)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		die_crypto();
	ctx->impl_ = md;
}

void ln_sha256_update(struct ln_sha256_ctx *ctx, const void *data, size_t len)
{
	if (!len)
		return;
	if (!EVP_DigestUpdate(ctx->impl_, data, len))
		die_crypto();
}

void ln_sha256_final(struct ln_sha256_ctx *ctx, unsigned char out[LN_SHA256_LEN])
{
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(ctx->impl_, out, &n) || n != LN_SHA256_LEN)
		die_crypto();
	ln_sha256_release(ctx);
}

void ln_sha256_final_hex(struct ln_sha256_ctx *ctx, char out[LN_SHA256_HEX_SIZE])
{
	unsigned char d[LN_SHA256_LEN];

	ln_sha256_final(ctx, d);
	ln_hex_encode(out, d);
}

void ln_sha256_release(struct ln_sha256_ctx *ctx)
{
	EVP_MD_CTX_free(ctx->impl_);
	ctx->impl_ = NULL;
}

int ln_json_digest(char out[LN_JSON_DIGEST_SIZE], const json_t *v)
{
	static const char prefix[] = "sha256:";
	struct buf canon = BUF_INIT;
	int error = -1;

	out[0] = '\0';
	error = jcs_serialize(&canon, v);
	if (error)
		goto done;
	memcpy(out, prefix, sizeof prefix - 1);
	ln_sha256_hex(canon.data, canon.len, out + sizeof prefix - 1);
	error = 0;
done:
	buf_release(&canon);
	return error;
}
