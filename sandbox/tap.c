/*
 * tap.c - the TAP parser (outcome.h): plans first or last, directives,
 * several streams one after the other.
 */
#include "sandbox/outcome.h"
#include "sandbox/outcome_impl.h"
#include "core/err.h"
#include "core/limits.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Case-insensitive search for a directive word after '#'. */
static bool has_directive(const char *d, size_t n, const char *word)
{
	size_t k = strlen(word);
	return n >= k && !strncasecmp(d, word, k);
}

/* Where a TAP run is: the current stream and its plan. */
struct tap {
	long plan, count, last_no, streams;
	int plan_line, overflow_of;
	bool leading, closed;
};

/* A plan line "1..N": the trailing plan of the current stream, or the
 * leading plan of the first or the next stream. */
static int tap_plan(struct tap *s, const char *l, size_t n, int no, struct sbx_parse_error *e)
{
	char num_s[24];
	size_t k = 3, d = 0;
	long v;

	while (k < n && d + 1 < sizeof num_s && isdigit((unsigned char)l[k]))
		num_s[d++] = l[k++];
	num_s[d] = '\0';
	if (d == 0 || d > 9)
		return sbx_parse_fail(e, no, 4, "malformed plan '%.*s'", (int)(n > 40 ? 40 : n), l);
	v = strtol(num_s, NULL, 10);
	if (s->plan < 0 && !s->closed && s->count > 0) {
		/* the trailing plan of the current stream */
		if (s->count != v)
			return sbx_parse_fail(e, no, 1, "%s: the plan 1..%ld announces %ld tests, %ld ran",
				    s->count < v ? "truncated TAP" : "too many tests", v, v,
				    s->count);
		s->plan = v;
		s->plan_line = no;
		s->closed = true;
		return 0;
	}
	if (s->plan >= 0 && !s->closed && s->count < s->plan)
		return sbx_parse_fail(e, s->plan_line, 1, "truncated TAP: the plan 1..%ld announces %ld "
			    "tests, %ld ran before the next plan (line %d)", s->plan, s->plan,
			    s->count, no);
	/* a leading plan: of the first stream, or of the next one */
	if (s->plan >= 0 || s->closed || s->streams == 0)
		s->streams++;
	s->plan = v;
	s->plan_line = no;
	s->leading = true;
	s->closed = false;
	s->count = 0;
	s->last_no = 0;
	s->overflow_of = 0;
	return 0;
}

/* A test line "ok" / "not ok" (p, rest: what follows the word): its
 * number, description and directive into the set. */
static int tap_test(struct tap *s, struct sbx_tests *t, bool ok, const char *p, size_t rest,
		    int no, struct sbx_parse_error *e)
{
	const char *desc, *hash;
	size_t dn;
	long num = 0;
	enum sbx_test_status st;
	char numid[48];

	if (s->streams == 0 || s->closed || (s->leading && s->plan >= 0 && s->count == s->plan)) {
		/* the next stream (its plan, if any, comes last) */
		s->overflow_of = (s->leading && !s->closed && s->streams > 0) ? s->plan_line : 0;
		s->streams++;
		s->plan = -1;
		s->leading = false;
		s->closed = false;
		s->count = 0;
		s->last_no = 0;
	}
	while (rest > 0 && (*p == ' ' || *p == '\t'))
		p++, rest--;
	while (rest > 0 && isdigit((unsigned char)*p)) {
		if (num < 100000000)
			num = num * 10 + (*p - '0');
		p++, rest--;
	}
	if (num == 0)
		num = s->last_no + 1;
	s->last_no = num;
	s->count++;
	desc = p;
	dn = rest;
	hash = memchr(desc, '#', dn);
	st = ok ? SBX_T_PASS : SBX_T_FAIL;
	if (hash) {
		const char *d = hash + 1;
		size_t dl = dn - (size_t)(d - desc);
		while (dl > 0 && *d == ' ')
			d++, dl--;
		if (has_directive(d, dl, "skip"))
			st = SBX_T_SKIP;
		else if (has_directive(d, dl, "todo"))
			st = SBX_T_SKIP; /* a known failure: not counted either way */
		dn = (size_t)(hash - desc);
	}
	sbx_trim(&desc, &dn);
	if (dn > 0 && *desc == '-') {
		desc++, dn--;
		sbx_trim(&desc, &dn);
	}
	if (dn == 0) {
		if (s->streams > 1)
			snprintf(numid, sizeof numid, "%ld:%ld", s->streams, num);
		else
			snprintf(numid, sizeof numid, "%ld", num);
		desc = numid;
		dn = strlen(numid);
	}
	if (sbx_tests_add(t, desc, dn, st))
		return sbx_parse_fail(e, no, 1, "%s", ln_error_msg());
	return 0;
}

/*
 * Several TAP streams may follow each other (a `make test` that runs two
 * TAP programs): a plan after a complete stream, or a test line after a
 * stream closed by its trailing plan, starts the next one. Each stream must
 * be complete. Numeric ids of the second and later streams are "<k>:<n>".
 */
int sbx_parse_tap(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e)
{
	struct sbx_lines ls = { data, len, 0, 0 };
	struct tap s = { .plan = -1 };
	const char *l;
	size_t n;
	int error;

	sbx_parse_error_clear(e);
	if (len > LN_FILE_MAX_BYTES)
		return sbx_parse_fail(e, 0, 0, "TAP output larger than %zu bytes", LN_FILE_MAX_BYTES);
	while (sbx_lines_next(&ls, &l, &n)) {
		bool ok;
		size_t skip;

		/* binary noise (a build's output) is not TAP; indented lines are
		 * YAML diagnostics or subtests */
		if (memchr(l, '\0', n))
			continue;
		if (sbx_starts_with(l, n, "Bail out!"))
			return sbx_parse_fail(e, ls.no, 1, "the test run bailed out: %.*s",
				    (int)(n > 120 ? 120 : n), l);
		if (sbx_starts_with(l, n, "1..")) {
			if ((error = tap_plan(&s, l, n, ls.no, e)))
				return error;
			continue;
		}
		if (sbx_starts_with(l, n, "ok"))
			ok = true;
		else if (sbx_starts_with(l, n, "not ok"))
			ok = false;
		else
			continue;
		skip = ok ? 2 : 6;
		if (n > skip && l[skip] != ' ' && l[skip] != '\t')
			continue; /* "okay ..." is not a test line */
		if ((error = tap_test(&s, t, ok, l + skip, n - skip, ls.no, e)))
			return error;
	}
	if (s.streams == 0)
		return sbx_parse_fail(e, 0, 0, "no TAP output (no plan, no test line)");
	if (s.plan < 0) {
		if (s.overflow_of)
			return sbx_parse_fail(e, s.overflow_of, 1, "the plan on line %d announces fewer tests "
				    "than ran (%ld more, and no plan for them)", s.overflow_of,
				    s.count);
		return sbx_parse_fail(e, 0, 0, "truncated TAP: %ld test lines but no plan", s.count);
	}
	if (s.count < s.plan)
		return sbx_parse_fail(e, s.plan_line, 1, "truncated TAP: the plan 1..%ld announces %ld tests, "
			    "%ld ran", s.plan, s.plan, s.count);
	return 0;
}
