/*
 * xjson.h - json_pack that is checked (issue 18, item 7).
 *
 * json_pack returns NULL when memory runs out, when the format is wrong
 * or when a string argument is NULL; an unchecked result then silently
 * drops a fact from a bundle. xjson_pack never returns NULL: a failure is
 * a bug in the caller (or no memory), so it writes the format and
 * jansson's reason to stderr and aborts, like xmalloc (core/xalloc.h).
 *
 * A value that may legitimately be absent is written with the optional
 * specifiers of jansson ("s?", "o?", "O?"), never passed as a bare NULL.
 */
#ifndef LANSER_CORE_XJSON_H
#define LANSER_CORE_XJSON_H

#include <jansson.h>

json_t *xjson_pack(const char *fmt, ...);

/*
 * A JSON string of bytes that come from outside (a path in a patch, a
 * test id in a runner's output, a selector typed on the command line):
 * json_pack's "s" refuses bytes that are not UTF-8, which would make
 * xjson_pack abort on data and json_pack return NULL (the fact dropped).
 * Here every byte of an ill-formed sequence becomes U+FFFD, so the result
 * is never NULL and always dumps. Pack it with "o". NULL `s`: "".
 */
json_t *xjson_stringn_lossy(const char *s, size_t len);
json_t *xjson_string_lossy(const char *s);

/* Sorts the members of the array `a` in place; `cmp` compares two
 * `json_t *const *` as qsort hands them. */
void xjson_array_sort(json_t *a, int (*cmp)(const void *, const void *));

#endif
