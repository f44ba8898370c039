/*
 * fuzz_selector.c - libFuzzer target for the selector parser.
 *
 * Beyond "no crash, no sanitizer report", checks two properties on every
 * input: a failure always carries "selector:1:<col>: expected ..." with a
 * column inside the input (+1 for "at the end"), and a success prints
 * (sel_format) to a selector that parses to the same form.
 */
#include "core/buf.h"
#include "core/err.h"
#include "selectors/selector.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sel a, b;
	struct sel_error err;
	struct buf f = BUF_INIT;

	if (sel_parse(&a, (const char *)data, size, &err)) {
		char prefix[40];
		snprintf(prefix, sizeof prefix, "selector:1:%d: expected ", err.column);
		if (err.column < 1 || (size_t)err.column > size + 1 ||
		    strncmp(err.text, prefix, strlen(prefix)))
			abort();
		sel_release(&a);
		return 0;
	}
	sel_format(&f, &a);
	if (sel_parse(&b, f.data, f.len, &err)) {
		fprintf(stderr, "canonical form does not parse: %s: %s\n", f.data, err.text);
		abort();
	} else {
		json_t *ja = sel_to_json(&a), *jb = sel_to_json(&b);
		if (!json_equal(ja, jb)) {
			fprintf(stderr, "round trip changed the selector: %s\n", f.data);
			abort();
		}
		json_decref(ja);
		json_decref(jb);
	}
	sel_release(&a);
	sel_release(&b);
	buf_release(&f);
	return 0;
}
