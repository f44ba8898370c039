/*
 * pytest.c - the parser of pytest's short test summary (-rA) (outcome.h).
 */
#include "sandbox/outcome.h"
#include "sandbox/outcome_impl.h"
#include "core/err.h"
#include "core/limits.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* pytest's last line: "==== 3 passed, 1 failed in 0.12s ====", or with -q
 * "3 passed, 1 failed in 0.12s" (also "no tests ran in 0.01s"). */
static bool is_final_line(const char *l, size_t n)
{
	const char *in = NULL, *p;

	while (n > 0 && (*l == '=' || *l == ' '))
		l++, n--;
	while (n > 0 && (l[n - 1] == '=' || l[n - 1] == ' '))
		n--;
	if (n == 0 || (!isdigit((unsigned char)*l) && !sbx_starts_with(l, n, "no tests ran")))
		return false;
	for (p = l; p + 4 <= l + n; p++)
		if (!memcmp(p, " in ", 4))
			in = p;
	if (!in || in + 4 >= l + n || !isdigit((unsigned char)in[4]))
		return false;
	return memchr(in + 4, 's', (size_t)(l + n - (in + 4))) != NULL;
}

int sbx_parse_pytest(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e)
{
	static const struct { const char *word; enum sbx_test_status st; } words[] = {
		{ "PASSED ", SBX_T_PASS }, { "FAILED ", SBX_T_FAIL }, { "ERROR ", SBX_T_ERROR },
		{ "SKIPPED ", SBX_T_SKIP }, { "XFAIL ", SBX_T_SKIP }, { "XPASS ", SBX_T_FAIL },
	};
	struct sbx_lines ls = { data, len, 0, 0 };
	const char *l;
	size_t n, i;
	bool in_summary = false, closed = false;
	int summary_line = 0, error;

	sbx_parse_error_clear(e);
	if (len > LN_FILE_MAX_BYTES)
		return sbx_parse_fail(e, 0, 0, "pytest output larger than %zu bytes", LN_FILE_MAX_BYTES);
	while (sbx_lines_next(&ls, &l, &n)) {
		const char *id;
		size_t idn;

		if (!in_summary) {
			if (sbx_starts_with(l, n, "=") && n < 400 &&
			    memmem(l, n, " short test summary info ", 25)) {
				in_summary = true;
				summary_line = ls.no;
			}
			continue;
		}
		if (n == 0)
			continue;
		if (is_final_line(l, n)) {
			closed = true;
			break;
		}
		if (sbx_starts_with(l, n, "="))
			continue; /* another section header */
		if (sbx_starts_with(l, n, "!"))
			continue; /* "!!!! Interrupted: 1 error during collection !!!!" */
		for (i = 0; i < sizeof words / sizeof words[0]; i++)
			if (sbx_starts_with(l, n, words[i].word))
				break;
		if (i == sizeof words / sizeof words[0])
			return sbx_parse_fail(e, ls.no, 1, "unexpected line in pytest's short test summary: "
				    "'%.*s'", (int)(n > 80 ? 80 : n), l);
		id = l + strlen(words[i].word);
		idn = n - strlen(words[i].word);
		if (words[i].st == SBX_T_SKIP && sbx_starts_with(id, idn, "[")) {
			/* "SKIPPED [1] tests/x.py:12: reason": the location is the id */
			const char *sp = memchr(id, ' ', idn);
			const char *colon;
			if (!sp)
				return sbx_parse_fail(e, ls.no, 1, "malformed SKIPPED line");
			idn -= (size_t)(sp + 1 - id);
			id = sp + 1;
			colon = memmem(id, idn, ": ", 2);
			if (colon)
				idn = (size_t)(colon - id);
		} else {
			const char *dash = memmem(id, idn, " - ", 3);
			if (dash)
				idn = (size_t)(dash - id);
		}
		sbx_trim(&id, &idn);
		if ((error = sbx_tests_add(t, id, idn, words[i].st)))
			return sbx_parse_fail(e, ls.no, 1, "%s", ln_error_msg());
	}
	if (!in_summary)
		return sbx_parse_fail(e, 0, 0, "no pytest short test summary (run pytest with -rA)");
	if (!closed)
		return sbx_parse_fail(e, summary_line, 1, "truncated pytest output: the short test summary "
			    "(line %d) has no closing '=== ... in Ns ===' line", summary_line);
	return 0;
}
