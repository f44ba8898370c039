/*
 * fuzz_outcome.c - libFuzzer target for the test-result parsers
 * (sandbox/outcome.h): JUnit XML, TAP and pytest's short summary.
 *
 * The first byte picks the parser, the rest is the input. Beyond "no
 * crash, no sanitizer report, no leak", checks on every input: a failure
 * is LN_EINPUT with a message, and its line (when it names one) lies inside
 * the input; a success gives ids that are non-empty, at most
 * SBX_TEST_ID_MAX bytes, and unique after sorting.
 */
#include "core/err.h"
#include "sandbox/outcome.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_tests t;
	struct sbx_parse_error pe;
	const char *text;
	size_t len, i, lines = 1;
	int error;

	if (size == 0)
		return 0;
	text = (const char *)data + 1;
	len = size - 1;
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';
	sbx_tests_init(&t);
	switch (data[0] % 3) {
	case 0: error = sbx_parse_junit(&t, text, len, &pe); break;
	case 1: error = sbx_parse_tap(&t, text, len, &pe); break;
	default: error = sbx_parse_pytest(&t, text, len, &pe); break;
	}
	if (error) {
		if (error != LN_EINPUT || !pe.text[0] || !ln_error_msg()[0])
			abort();
		if (pe.line < 0 || (size_t)pe.line > lines)
			abort();
	} else {
		sbx_tests_sort(&t);
		for (i = 0; i < t.n; i++) {
			size_t n = strlen(t.v[i].id);
			if (n == 0 || n > SBX_TEST_ID_MAX)
				abort();
			if (i > 0 && !strcmp(t.v[i - 1].id, t.v[i].id))
				abort();
		}
	}
	sbx_tests_release(&t);
	return 0;
}
