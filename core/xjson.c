/* xjson.c - see xjson.h. */
#include "core/xjson.h"
#include "core/buf.h"
#include "core/text.h"
#include "core/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *xjson_pack(const char *fmt, ...)
{
	json_error_t e;
	va_list ap;
	json_t *v;

	va_start(ap, fmt);
	v = json_vpack_ex(&e, 0, fmt, ap);
	va_end(ap);
	if (!v) {
		fprintf(stderr, "lanser: internal error: json_pack(\"%s\"): %s\n", fmt, e.text);
		abort();
	}
	return v;
}

json_t *xjson_stringn_lossy(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	struct buf b = BUF_INIT;
	json_t *v;
	size_t i = 0, k;

	if (!s)
		len = 0;
	if (!s || ln_utf8_valid(s, len)) {
		v = json_stringn(s ? s : "", len);
	} else {
		while (i < len) {
			k = ln_utf8_seq_len(u + i, len - i);
			if (k) {
				buf_add(&b, s + i, k);
				i += k;
			} else {
				buf_add(&b, "\xef\xbf\xbd", 3);   /* U+FFFD */
				i++;
			}
		}
		v = json_stringn(b.data, b.len);
		buf_release(&b);
	}
	if (!v) {
		fprintf(stderr, "lanser: out of memory\n");
		abort();
	}
	return v;
}

json_t *xjson_string_lossy(const char *s)
{
	return xjson_stringn_lossy(s, s ? strlen(s) : 0);
}

void xjson_array_sort(json_t *a, int (*cmp)(const void *, const void *))
{
	size_t i, n = json_array_size(a);
	json_t **v = xcalloc(n + 1, sizeof *v);

	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(a, i));
	qsort(v, n, sizeof *v, cmp);
	json_array_clear(a);
	for (i = 0; i < n; i++)
		json_array_append_new(a, v[i]);
	free(v);
}
