#include "buf.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char buf_empty_[1];

static void die_oom(void)
{
	static const char msg[] = "lanser: out of memory\n";
	if (write(2, msg, sizeof msg - 1) < 0) { /* nothing more to do */ }
	abort();
}

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
		die_oom();
	need = b->len + extra;
	if (b->cap && need <= b->cap)
		return;
	ncap = b->cap ? b->cap : 32;
	while (ncap < need)
		ncap = ncap * 3 / 2 + 16;
	nd = b->cap ? realloc(b->data, ncap + 1) : malloc(ncap + 1);
	if (!nd)
		die_oom();
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
		r = calloc(1, 1);
		if (!r)
			die_oom();
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
