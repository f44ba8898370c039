/*
 * xalloc.h - one allocation policy (STYLE.md "One allocation policy",
 * git's wrapper.c): these never return NULL. When memory runs out they
 * write one message ("lanser: out of memory") to stderr and abort, in one
 * place (ln_die_oom), so call sites never test for NULL.
 *
 * A request of zero bytes still returns a unique pointer that free()
 * accepts. Counts times sizes are checked for overflow (an overflow is
 * reported as running out of memory). Every result belongs to the caller
 * (free()). Thread-safe as malloc is.
 */
#ifndef LANSER_CORE_XALLOC_H
#define LANSER_CORE_XALLOC_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes "lanser: out of memory" to stderr and aborts. Async-signal-safe. */
__attribute__((noreturn)) void ln_die_oom(void);

void *xmalloc(size_t size);
/* calloc(n, size), with n * size checked for overflow. */
void *xcalloc(size_t n, size_t size);
/* realloc(p, size); never frees p (a size of 0 keeps one byte). */
void *xrealloc(void *p, size_t size);
/* realloc(p, n * size), with n * size checked for overflow. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
/* The first n bytes of s (fewer when s ends before), NUL-terminated. */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * Writes all len bytes of buf to fd, retrying on EINTR and short writes
 * (git's write_in_full). Returns 0, or -1 with errno set by write(2) when
 * a write fails (ENOSPC when it writes nothing); some bytes may have been
 * written then.
 * Async-signal-safe.
 */
int ln_write_all(int fd, const void *buf, size_t len);

#endif
