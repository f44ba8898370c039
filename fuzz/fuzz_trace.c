/*
 * fuzz_trace.c - libFuzzer target for the trace reader (rewards/tracefile.h).
 *
 * Beyond "no crash, no sanitizer report, no leak", checks on every input:
 * a failure is LN_ETRACE or LN_EVERSION with a message "fuzz:LINE: ..."
 * (or "fuzz: empty trace") whose line lies inside the input; a success
 * gives events in file order, each run starting with its header and
 * numbered without gaps.
 */
#include "core/err.h"
#include "rewards/tracefile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rwd_trace_file f;
	size_t i, lines = 1;
	int error;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	error = rwd_trace_parse(&f, "fuzz", (const char *)data, size);
	if (error) {
		const char *m = ln_error_msg();
		long line;
		if (error != LN_ETRACE && error != LN_EVERSION)
			abort();
		if (strncmp(m, "fuzz:", 5))
			abort();
		if (strcmp(m, "fuzz: empty trace (no header)") &&
		    (sscanf(m, "fuzz:%ld:", &line) != 1 || line < 1 || (size_t)line > lines))
			abort();
		return 0;
	}
	for (i = 0; i < f.n; i++) {
		size_t j;
		if (i && f.v[i].line <= f.v[i - 1].line)
			abort();
		if (f.v[i].seq == 0 && strcmp(f.v[i].type, "header"))
			abort();
		if (f.v[i].seq > 0) {
			/* the previous event of the same run has seq - 1 */
			for (j = i; j-- > 0;)
				if (!strcmp(f.v[j].run, f.v[i].run))
					break;
			if (j == (size_t)-1 || f.v[j].seq != f.v[i].seq - 1)
				abort();
		}
	}
	rwd_trace_file_release(&f);
	return 0;
}
