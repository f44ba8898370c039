#include "core/xalloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ln_die_oom(void)
{
	static const char msg[] = "lanser: out of memory\n";

	(void)ln_write_all(2, msg, sizeof msg - 1);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		ln_die_oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p;

	if (n && size > SIZE_MAX / n)
		ln_die_oom();
	p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		ln_die_oom();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	void *r = realloc(p, size ? size : 1);

	if (!r)
		ln_die_oom();
	return r;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (n && size > SIZE_MAX / n)
		ln_die_oom();
	return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		ln_die_oom();
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		ln_die_oom();
	return d;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		ln_die_oom();
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

int ln_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) { /* no progress: as git's write_in_full does */
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
