#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char buf_empty_[1];

void buf_init(struct buf *b)
{
	b->data = buf_empty_;
	b->len = 0;
	b->cap = 0;
}

void buf_release(struct buf *b)
{
	if (b->cap)
		free(b->data);
	buf_init(b);
}

void buf_grow(struct buf *b, size_t extra)
{
	size_t need, ncap;
	char *nd;

	if (extra > (size_t)-1 / 2 - b->len)
		ln_die_oom();
	need = b->len + extra;
	if (b->cap && need <= b->cap)
		return;
	ncap = b->cap ? b->cap : 32;
	while (ncap < need)
		ncap = ncap * 3 / 2 + 16;
	nd = b->cap ? xrealloc(b->data, ncap + 1) : xmalloc(ncap + 1);
	if (!b->cap) {
		memcpy(nd, b->data, b->len);
		nd[b->len] = '\0';
	}
	b->data = nd;
	b->cap = ncap;
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	if (!len)
		return;
	buf_grow(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addch(struct buf *b, int c)
{
	char ch = (char)c;
	buf_add(b, &ch, 1);
}

void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *buf_detach(struct buf *b, size_t *len_out)
{
	char *r;

	if (len_out)
		*len_out = b->len;
	if (!b->cap) {
		r = xcalloc(1, 1);
	} else {
		r = b->data;
	}
	buf_init(b);
	return r;
}

int buf_read_file(struct buf *b, const char *path, size_t max)
{
	int fd, error = -1;
	struct stat st;
	size_t start = b->len;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return ln_error_set(LN_ENOTFOUND, "%s: no such file", path);
		if (errno == EACCES)
			return ln_error_set(LN_EPERM, "%s: permission denied", path);
		return ln_error_set(LN_EGENERIC, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		error = ln_error_set(LN_EGENERIC, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		error = ln_error_set(LN_EINPUT, "%s: is a directory", path);
		goto done;
	}
	if (st.st_size > 0 && (unsigned long long)st.st_size > max) {
		error = ln_error_set(LN_EINPUT, "%s: file too large (%lld bytes, limit %zu)",
				     path, (long long)st.st_size, max);
		goto done;
	}
	for (;;) {
		ssize_t n;
		buf_grow(b, 65536);
		n = read(fd, b->data + b->len, 65536);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = ln_error_set(LN_EGENERIC, "%s: read: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		if (b->len - start > max) {
			error = ln_error_set(LN_EINPUT, "%s: file too large (limit %zu bytes)", path, max);
			goto done;
		}
	}
	error = 0;
done:
	if (error) {
		b->len = start;
		if (b->cap)
			b->data[start] = '\0';
	}
	close(fd);
	return error;
}

/* Length of the valid UTF-8 sequence at s (1-4), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF */
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static void add_printable(struct buf *b, const char *str, size_t len, bool keep_lines)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_len(s + i, len - i), k;
		bool c1 = n == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f;
		if (n == 1 && ((s[i] >= 0x20 && s[i] != 0x7f) ||
			       (keep_lines && (s[i] == '\n' || s[i] == '\t')))) {
			buf_addch(b, s[i]);
			i++;
		} else if (n > 1 && !c1) {
			buf_add(b, s + i, n);
			i += n;
		} else {
			if (!n)
				n = 1;
			for (k = 0; k < n; k++)
				buf_addf(b, "\\x%02x", s[i + k]);
			i += n;
		}
	}
}

void buf_add_printable(struct buf *b, const char *s, size_t len)
{
	add_printable(b, s, len, false);
}

static const char *ring_printable(const char *s, bool keep_lines)
{
	static __thread struct buf ring[8];
	static __thread unsigned next;
	struct buf *b = &ring[next++ % 8];

	if (!b->data)
		buf_init(b);
	buf_reset(b);
	if (!s)
		buf_adds(b, "(null)");
	else
		add_printable(b, s, strlen(s), keep_lines);
	return b->data;
}

const char *ln_printable(const char *s)
{
	return ring_printable(s, false);
}

const char *ln_printable_text(const char *s)
{
	return ring_printable(s, true);
}
