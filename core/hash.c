#include "core/hash.h"
#include "core/buf.h"
#include "core/jcs.h"
#include "core/xalloc.h"

#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes the 64-digit lowercase hex form of a 32-byte digest. */
static void ln_hex_encode(char out[LN_SHA256_HEX_SIZE],
			  const unsigned char digest[LN_SHA256_LEN])
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
	struct sha256_ctx c;

	sha256_init(&c);
	if (len)
		sha256_update(&c, len, data);
	sha256_digest(&c, LN_SHA256_LEN, out);
}

void ln_sha256_hex(const void *data, size_t len, char out[LN_SHA256_HEX_SIZE])
{
	unsigned char d[LN_SHA256_LEN];

	ln_sha256(data, len, d);
	ln_hex_encode(out, d);
}

void ln_sha256_init(struct ln_sha256_ctx *ctx)
{
	struct sha256_ctx *c = xmalloc(sizeof *c);

	sha256_init(c);
	ctx->impl_ = c;
}

void ln_sha256_update(struct ln_sha256_ctx *ctx, const void *data, size_t len)
{
	if (!len)
		return;
	sha256_update(ctx->impl_, len, data);
}

static void ln_sha256_final(struct ln_sha256_ctx *ctx,
			    unsigned char out[LN_SHA256_LEN])
{
	sha256_digest(ctx->impl_, LN_SHA256_LEN, out);
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
	free(ctx->impl_);
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
