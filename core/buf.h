/*
 * buf.h - the one growable byte buffer.
 *
 * Invariants (same spirit as git's strbuf):
 *   - `data` is never NULL: an initialised buffer points at a static empty
 *     string until the first growth, so `b.data` can always be printed.
 *   - `data[len]` is always '\0', so text can be used as a C string (binary
 *     contents may still contain NULs; use `len`).
 *   - `cap` is the allocated size excluding the terminating NUL; 0 means
 *     "not allocated yet" (data points at the static empty string).
 *
 * Allocation failure aborts the process (out-of-memory is not a recoverable
 * error for a CLI); size caps on untrusted input are enforced by callers
 * with buf_would_exceed() before they append.
 */
#ifndef LANSER_BUF_H
#define LANSER_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

extern char buf_empty_[];
#define BUF_INIT { buf_empty_, 0, 0 }

void buf_init(struct buf *b);
/* Frees the contents; the buffer is left initialised and empty. */
void buf_release(struct buf *b);
/* Ensures room for `extra` more bytes plus the NUL. */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addch(struct buf *b, int c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Returns the contents as a heap string owned by the caller; the buffer is
 * left initialised and empty. Never returns NULL. */
char *buf_detach(struct buf *b, size_t *len_out);

/* Reads a whole file into `b` (appending). Fails with LN_EINPUT when the
 * file is larger than `max` bytes, LN_ENOTFOUND when it does not exist.
 * Returns 0 or a negative LN_E* code with the last error set. */
int buf_read_file(struct buf *b, const char *path, size_t max);

/* Appends s[0..len) made safe for a terminal: C0 controls (newline, tab
 * and ESC included), DEL, C1 controls (U+0080..U+009F) and bytes that
 * are not valid UTF-8 become "\xHH" (one escape per byte);
 * every other character, UTF-8 included, is copied. For ids and paths
 * from untrusted input in human-readable output (JSON output is escaped
 * by jansson and needs none of this). */
void buf_add_printable(struct buf *b, const char *s, size_t len);

/* buf_add_printable() of a NUL-terminated string (NULL prints "(null)"),
 * into one of 8 per-thread buffers used in turn: the result stays valid
 * until the 8th following call on the same thread, so that one printf may
 * take several (`printf("%s -> %s", ln_printable(a), ln_printable(b))`).
 * Never NULL. */
const char *ln_printable(const char *s);
/* The same for multi-line text (hover contents, diagnostic messages):
 * newline and tab are kept, every other control is escaped. Same ring. */
const char *ln_printable_text(const char *s);

#endif
