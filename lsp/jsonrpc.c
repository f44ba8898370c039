#include "lsp/jsonrpc.h"
#include "core/err.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void lsp_reader_init(struct lsp_reader *r, size_t max_body)
{
	buf_init(&r->in);
	r->max_body = max_body ? max_body : LSP_DEFAULT_MAX_BODY;
	r->want = 0;
	r->have_header = 0;
}

void lsp_reader_release(struct lsp_reader *r)
{
	buf_release(&r->in);
}

int lsp_reader_feed(struct lsp_reader *r, const char *data, size_t len)
{
	if (r->in.len + len > r->max_body + LSP_MAX_HEADER + 65536 && !r->have_header)
		return ln_error_set(LN_ECRASH, "protocol error: no frame header in %zu bytes",
				    r->in.len + len);
	buf_add(&r->in, data, len);
	return 0;
}

/* Parses the header block [0, hlen) of r->in. */
static int parse_header(struct lsp_reader *r, size_t hlen)
{
	const char *p = r->in.data, *end = r->in.data + hlen;
	int have_len = 0;

	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));
		size_t linelen;
		if (!eol || eol + 1 >= end || eol[1] != '\n')
			return ln_error_set(LN_ECRASH, "protocol error: malformed header line");
		linelen = (size_t)(eol - p);
		if (linelen > 15 && !strncasecmp(p, "Content-Length:", 15)) {
			const char *q = p + 15;
			unsigned long long v = 0;
			int digits = 0;
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			while (q < eol && isdigit((unsigned char)*q)) {
				v = v * 10 + (unsigned)(*q - '0');
				if (v > (unsigned long long)r->max_body)
					return ln_error_set(LN_ECRASH,
						"protocol error: frame larger than the %zu-byte limit",
						r->max_body);
				q++, digits++;
			}
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (!digits || q != eol)
				return ln_error_set(LN_ECRASH,
					"protocol error: bad Content-Length value");
			r->want = (size_t)v;
			have_len = 1;
		} else if (linelen == 0 || !memchr(p, ':', linelen)) {
			return ln_error_set(LN_ECRASH, "protocol error: malformed header line");
		}
		p = eol + 2;
	}
	if (!have_len)
		return ln_error_set(LN_ECRASH, "protocol error: frame without Content-Length");
	return 0;
}

int lsp_reader_next(struct lsp_reader *r, struct buf *body)
{
	if (!r->have_header) {
		const char *hend = NULL;
		size_t scan = r->in.len < LSP_MAX_HEADER + 4 ? r->in.len : LSP_MAX_HEADER + 4;
		size_t i;
		int err;

		for (i = 0; i + 3 < scan; i++) {
			if (r->in.data[i] == '\r' && r->in.data[i + 1] == '\n' &&
			    r->in.data[i + 2] == '\r' && r->in.data[i + 3] == '\n') {
				hend = r->in.data + i;
				break;
			}
		}
		if (!hend) {
			if (r->in.len >= LSP_MAX_HEADER + 4)
				return ln_error_set(LN_ECRASH,
					"protocol error: header longer than %d bytes", LSP_MAX_HEADER);
			return 0;
		}
		err = parse_header(r, (size_t)(hend - r->in.data) + 2);
		if (err)
			return err;
		buf_consume(&r->in, (size_t)(hend - r->in.data) + 4);
		r->have_header = 1;
	}
	if (r->in.len < r->want)
		return 0;
	buf_reset(body);
	buf_add(body, r->in.data, r->want);
	buf_consume(&r->in, r->want);
	r->have_header = 0;
	r->want = 0;
	return 1;
}

void lsp_frame_encode(struct buf *out, const char *body, size_t len)
{
	buf_addf(out, "Content-Length: %zu\r\n\r\n", len);
	buf_add(out, body, len);
}
