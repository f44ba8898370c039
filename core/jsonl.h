/*
 * jsonl.h - reading untrusted line-oriented input (JSONL: batch requests,
 * reward groups) one line at a time, with a cap on a line's length that
 * holds before anything is allocated (issue 18, item 5).
 *
 * getline() reads a whole line, however long, and only then lets the
 * caller compare its length: a 10 GiB line without a newline is 10 GiB of
 * memory first. This reader grows its line buffer only while the line is
 * within `max_line` bytes; the first byte past the cap makes the line an
 * error, and the rest of that line is skipped, never stored.
 *
 * A line is what lies before a '\n' (not included); the last line needs
 * no final newline. A '\r' before the '\n' is kept (the caller decides).
 * A line holding a NUL byte is an error. After an error on one line the
 * next call goes on with the line after it, so a caller may report a bad
 * line and continue, or stop.
 *
 * From a FILE* the reader takes bytes up to the newline and no further
 * (the stream is left just after the line, and a client that writes one
 * line and waits for its answer is never waited on). From an fd it reads
 * ahead what read() returns: once an fd is handed to it, read that fd only
 * through it.
 */
#ifndef LANSER_CORE_JSONL_H
#define LANSER_CORE_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/buf.h"

#define LN_JSONL_BLOCK 65536

struct ln_jsonl {
	FILE *fp;              /* the stream, or NULL when reading `fd` */
	int fd;
	size_t max_line;
	long lineno;           /* of the line last returned (1-based) */
	struct buf line;
	char *block;           /* read-ahead (LN_JSONL_BLOCK bytes) */
	size_t pos, len;       /* the unread part of block */
	bool eof;
};

/* Reads from a FILE* or an fd (borrowed: never closed); lines longer than
 * `max_line` bytes (without the newline) are errors. */
void ln_jsonl_init_file(struct ln_jsonl *r, FILE *fp, size_t max_line);
void ln_jsonl_init_fd(struct ln_jsonl *r, int fd, size_t max_line);
void ln_jsonl_release(struct ln_jsonl *r);

/* The next line: 1 with *line (NUL-terminated, valid until the next call)
 * and *len; 0 at the end of the input; LN_EINPUT with the last error set
 * naming the line number ("line N is longer than M bytes", "line N holds
 * a NUL byte"); LN_EGENERIC when reading fails. Empty lines are returned
 * (len 0). */
int ln_jsonl_next(struct ln_jsonl *r, const char **line, size_t *len);

/* The number of the line last returned or refused (1-based; 0 before the first). */
long ln_jsonl_lineno(const struct ln_jsonl *r);

#endif
