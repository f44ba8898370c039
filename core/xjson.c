/* xjson.c - see xjson.h. */
#include "core/xjson.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
