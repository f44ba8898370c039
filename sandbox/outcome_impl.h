/*
 * outcome_impl.h - internal to the test-result parsers (sandbox/outcome.c,
 * junit.c, tap.c, pytest.c): error reporting and line reading they share.
 * Callers outside use outcome.h.
 */
#ifndef LANSER_SBX_OUTCOME_IMPL_H
#define LANSER_SBX_OUTCOME_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/outcome.h"

/* Fills `e` (line, column, message) and sets the last error; returns
 * LN_EINPUT. A line of 0 means the whole input. */
int sbx_parse_fail(struct sbx_parse_error *e, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void sbx_parse_error_clear(struct sbx_parse_error *e);

/* The order of statuses when one test reports several (error > fail > ...). */
int sbx_test_severity(enum sbx_test_status s);

/* A text read line by line; `no` is the number of the line last read. */
struct sbx_lines {
	const char *s;
	size_t len, pos;
	int no;
};

/* Next line (without its newline or a trailing '\r') in *l, *n; false at the end. */
bool sbx_lines_next(struct sbx_lines *ls, const char **l, size_t *n);
/* Whether the n bytes at l start with `lit`. */
bool sbx_starts_with(const char *l, size_t n, const char *lit);
/* Drops white space at both ends of (*s, *n). */
void sbx_trim(const char **s, size_t *n);

#endif
