/*
 * jsonl.c - the bounded line reader (jsonl.h).
 */
#include "core/jsonl.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void init(struct ln_jsonl *r, FILE *fp, int fd, size_t max_line)
{
	memset(r, 0, sizeof *r);
	r->fp = fp;
	r->fd = fd;
	r->max_line = max_line;
	buf_init(&r->line);
	r->block = xmalloc(LN_JSONL_BLOCK);
}

void ln_jsonl_init_file(struct ln_jsonl *r, FILE *fp, size_t max_line)
{
	init(r, fp, -1, max_line);
}

void ln_jsonl_init_fd(struct ln_jsonl *r, int fd, size_t max_line)
{
	init(r, NULL, fd, max_line);
}

void ln_jsonl_release(struct ln_jsonl *r)
{
	buf_release(&r->line);
	free(r->block);
	r->block = NULL;
}

long ln_jsonl_lineno(const struct ln_jsonl *r)
{
	return r->lineno;
}

/* Refills the block: 1 when there are bytes, 0 at the end, or an error. */
static int fill(struct ln_jsonl *r)
{
	ssize_t got;

	if (r->pos < r->len)
		return 1;
	if (r->eof)
		return 0;
	r->pos = r->len = 0;
	if (r->fp) {
		/* up to the newline and no further: a client that writes one
		 * request and waits for the answer is never blocked on, and the
		 * stream is left just after the line */
		size_t n = 0;
		int ch;
		while (n < LN_JSONL_BLOCK && (ch = getc_unlocked(r->fp)) != EOF) {
			r->block[n++] = (char)ch;
			if (ch == '\n')
				break;
		}
		if (n == 0) {
			if (ferror(r->fp))
				return ln_error_set(LN_EGENERIC, "cannot read line %ld: %s",
						    r->lineno + 1, strerror(errno));
			r->eof = true;
			return 0;
		}
		r->len = n;
		return 1;
	}
	do
		got = read(r->fd, r->block, LN_JSONL_BLOCK);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return ln_error_set(LN_EGENERIC, "cannot read line %ld: %s", r->lineno + 1,
				    strerror(errno));
	if (got == 0) {
		r->eof = true;
		return 0;
	}
	r->len = (size_t)got;
	return 1;
}

int ln_jsonl_next(struct ln_jsonl *r, const char **line, size_t *len)
{
	bool over = false, any = false;
	int k;

	buf_reset(&r->line);
	for (;;) {
		const char *p, *nl;
		size_t n;

		k = fill(r);
		if (k < 0)
			return k;
		if (k == 0)
			break;
		any = true;
		p = r->block + r->pos;
		nl = memchr(p, '\n', r->len - r->pos);
		n = nl ? (size_t)(nl - p) : r->len - r->pos;
		r->pos += n + (nl ? 1 : 0);
		/* the cap holds before the buffer grows: an over-long line is
		 * read to its end but never stored */
		if (!over && n > r->max_line - r->line.len)
			over = true;
		if (!over)
			buf_add(&r->line, p, n);
		if (nl)
			break;
	}
	if (!any)
		return 0;
	r->lineno++;
	if (over)
		return ln_error_set(LN_EINPUT, "line %ld is longer than %zu bytes", r->lineno,
				    r->max_line);
	if (memchr(r->line.data, '\0', r->line.len))
		return ln_error_set(LN_EINPUT, "line %ld holds a NUL byte", r->lineno);
	*line = r->line.data;
	*len = r->line.len;
	return 1;
}
