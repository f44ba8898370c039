/*
 * testtail.c - why a test run failed, for a person: the last lines of the
 * failing step's output kept in an outcome record (eng_record_failure_tail,
 * engine/testrun.h). Reads records only; runs nothing.
 */
#include "engine/testrun.h"

#include "core/buf.h"

#include <string.h>

/* The last `max` non-empty lines of `text` appended to `b`, each indented
 * and cut at 200 bytes. */
static void add_tail_lines(struct buf *b, const char *text, size_t max)
{
	size_t len = text ? strlen(text) : 0, n = 0, start = len, i;

	/* back from the end until `max` non-empty lines are behind `start` */
	for (i = len; i > 0 && n < max; ) {
		size_t end = i;
		while (i > 0 && text[i - 1] != '\n')
			i--;
		if (end > i && !(end - i == 1 && text[i] == '\r')) {
			n++;
			start = i;
		}
		if (i > 0)
			i--;   /* over the newline */
	}
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t l = (nl ? (size_t)(nl - text) : len) - start, shown = l;
		if (shown > 0 && text[start + shown - 1] == '\r')
			shown--;   /* CRLF output */
		if (shown > 0)
			buf_addf(b, "    %.*s%s\n", (int)(shown > 200 ? 200 : shown), text + start,
				 shown > 200 ? " ..." : "");
		start += l + 1;
	}
}

char *eng_record_failure_tail(const json_t *record, size_t max_lines)
{
	const json_t *oc = json_object_get(record, "outcome");
	const json_t *out = json_object_get(json_object_get(json_object_get(record, "meta"),
							    "volatile"), "output");
	const char *st = json_string_value(json_object_get(oc, "status"));
	const json_t *which;
	struct buf b = BUF_INIT;

	if (!st || !strcmp(st, "passed") || !json_is_object(out))
		return NULL;
	which = json_object_get(out, strstr(st, "build") ? "build" : "test");
	if (!which)
		which = json_object_get(out, "build");
	add_tail_lines(&b, json_string_value(json_object_get(which, "stdout")), max_lines);
	add_tail_lines(&b, json_string_value(json_object_get(which, "stderr")), max_lines);
	if (!b.len) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}
