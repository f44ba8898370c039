/*
 * jsonrpc.h - LSP base protocol framing: "Content-Length: N\r\n\r\n" + N
 * bytes of JSON. N counts bytes, never characters.
 *
 * The reader is incremental and bounded: feed it whatever bytes arrived,
 * then take out complete frames. Headers are capped at LSP_MAX_HEADER bytes
 * and bodies at the reader's max_body; anything else is a protocol error
 * (LN_ECRASH: the peer is not a usable server any more).
 */
#ifndef LANSER_JSONRPC_H
#define LANSER_JSONRPC_H

#include <stddef.h>
#include "core/buf.h"

#define LSP_MAX_HEADER 4096
#define LSP_DEFAULT_MAX_BODY ((size_t)64 << 20)

struct lsp_reader {
	struct buf in;      /* bytes received, not yet consumed */
	size_t max_body;
	size_t want;        /* body length of the frame in progress, when have_header */
	int have_header;
};

void lsp_reader_init(struct lsp_reader *r, size_t max_body);
void lsp_reader_release(struct lsp_reader *r);
/* Appends received bytes. Fails with LN_ECRASH when more than a full frame
 * plus headers is buffered beyond the limits. */
int lsp_reader_feed(struct lsp_reader *r, const char *data, size_t len);
/* Takes the next complete body into `body` (replacing its contents).
 * Returns 1 when a frame was produced, 0 when more bytes are needed, or
 * LN_ECRASH (message set) on a malformed or oversized header. */
int lsp_reader_next(struct lsp_reader *r, struct buf *body);

/* Appends the framed form of `body` to `out`. */
void lsp_frame_encode(struct buf *out, const char *body, size_t len);

#endif
