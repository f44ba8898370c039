/*
 * testtail.c - why a test run failed, for a person: the last lines of the
 * failing step's output kept in an outcome record (eng_record_failure_tail,
 * engine/testrun.h), and whose limit a run hit (eng_record_limit_note).
 * Reads records only; runs nothing.
 */
#include "engine/testrun.h"

#include "core/buf.h"

#include <stdbool.h>
#include <string.h>

/* One line of output, indented and cut at 200 bytes (without its CR). */
static void add_line(struct buf *b, const char *line, size_t l)
{
	if (l > 0 && line[l - 1] == '\r')
		l--;   /* CRLF output */
	if (l > 0)
		buf_addf(b, "    %.*s%s\n", (int)(l > 200 ? 200 : l), line, l > 200 ? " ..." : "");
}

/* Words that say a line reports a failure, in what test runners and
 * compilers print: Unity's "file:line:test:FAIL: ...", pytest's "FAILED"
 * and "E   assert", TAP's "not ok", ctest's "***Failed", compilers'
 * "error:", Python's "Traceback" and "...Error:". Case-sensitive: "fail" in
 * a passing test's name does not count. */
static bool failure_line(const char *line, size_t l)
{
	static const char *const marks[] = { "FAIL", "***Failed", " error:", "Error: ",
					     "Traceback", "Assertion", NULL };
	size_t i;

	if (l >= 2 && !strncmp(line, "==", 2))
		return false;   /* pytest's "=== FAILURES ===" rulers */
	if (l >= 7 && !strncmp(line, "not ok ", 7))
		return true;
	if (l >= 4 && !strncmp(line, "E   ", 4))
		return true;
	for (i = 0; marks[i]; i++)
		if (memmem(line, l, marks[i], strlen(marks[i])))
			return true;
	return false;
}

/* A line that reports a passing or skipped test: pytest -rA's "PASSED"
 * and "SKIPPED" summary lines, TAP's "ok N", Unity's "...:PASS", ctest's
 * "Test #N: name ...   Passed". A failure's explanation leaves them out:
 * with -rA every passing test has one, and a tail of them says nothing. */
static bool pass_line(const char *line, size_t l)
{
	if (l > 0 && line[l - 1] == '\r')
		l--;
	return (l >= 7 && !strncmp(line, "PASSED ", 7)) ||
	       (l >= 8 && !strncmp(line, "SKIPPED ", 8)) ||
	       (l >= 3 && !strncmp(line, "ok ", 3)) ||
	       (l >= 5 && !strncmp(line + l - 5, ":PASS", 5)) ||
	       (memmem(line, l, "Test #", 6) && memmem(line, l, "   Passed", 9));
}

/* The start of the last `max` non-empty lines of `text` (of length len)
 * that are not pass_line()s. */
static size_t tail_start(const char *text, size_t len, size_t max)
{
	size_t n = 0, start = len, i;

	for (i = len; i > 0 && n < max; ) {
		size_t end = i;
		while (i > 0 && text[i - 1] != '\n')
			i--;
		if (end > i && !(end - i == 1 && text[i] == '\r') && !pass_line(text + i, end - i)) {
			n++;
			start = i;
		}
		if (i > 0)
			i--;   /* over the newline */
	}
	return start;
}

/* Up to `max` lines before `upto` that report a failure (failure_line),
 * the first ones, and "    ..." after them: a test runner's summary at
 * the end often follows the line that says what failed by hundreds of
 * lines (ctest --output-on-failure, a Unity or pytest run). */
static void add_failure_lines(struct buf *b, const char *text, size_t upto, size_t max)
{
	size_t start = 0, n = 0;

	while (start < upto && n < max) {
		const char *nl = memchr(text + start, '\n', upto - start);
		size_t l = (nl ? (size_t)(nl - text) : upto) - start;
		if (failure_line(text + start, l)) {
			add_line(b, text + start, l);
			n++;
		}
		start += l + 1;
	}
	if (n)
		buf_addf(b, "    ...\n");
}

/* The failure lines above the tail, then the last `max` non-empty lines of
 * `text` but pass_line()s, appended to `b`. */
static void add_tail_lines(struct buf *b, const char *text, size_t max)
{
	size_t len = text ? strlen(text) : 0, start, i;

	if (!len)
		return;
	start = tail_start(text, len, max);
	add_failure_lines(b, text, start, ENG_FAILURE_LINES);
	for (i = start; i < len; ) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t l = (nl ? (size_t)(nl - text) : len) - i;
		if (!pass_line(text + i, l))
			add_line(b, text + i, l);
		i += l + 1;
	}
}

/* add_tail_lines of `text` with every "<worktree>/" taken out: a
 * compiler's or pytest's paths are then the workspace's relative ones
 * ("cJSON.c:2985:1: error: ...", not "/root/.cache/lanser/ws-.../wt/
 * lanser-5256-1/cJSON.c:..."). */
static void add_stream(struct buf *b, const char *text, const char *wt, size_t max)
{
	struct buf t = BUF_INIT, prefix = BUF_INIT;
	const char *p, *hit;

	if (!text || !wt || !*wt) {
		add_tail_lines(b, text, max);
		return;
	}
	buf_addf(&prefix, "%s/", wt);
	for (p = text; (hit = strstr(p, prefix.data)); p = hit + prefix.len)
		buf_add(&t, p, (size_t)(hit - p));
	buf_addf(&t, "%s", p);
	add_tail_lines(b, t.data, max);
	buf_release(&t);
	buf_release(&prefix);
}

char *eng_record_failure_tail(const json_t *record, size_t max_lines)
{
	const json_t *oc = json_object_get(record, "outcome");
	const json_t *out = json_object_get(json_object_get(json_object_get(record, "meta"),
							    "volatile"), "output");
	const char *st = json_string_value(json_object_get(oc, "status"));
	const json_t *which;
	const char *wt;
	struct buf b = BUF_INIT;

	if (!st || !strcmp(st, "passed") || !json_is_object(out))
		return NULL;
	which = json_object_get(out, strstr(st, "build") ? "build" : "test");
	if (!which)
		which = json_object_get(out, "build");
	wt = json_string_value(json_object_get(json_object_get(json_object_get(record, "meta"),
							       "volatile"), "worktree"));
	add_stream(&b, json_string_value(json_object_get(which, "stdout")), wt, max_lines);
	add_stream(&b, json_string_value(json_object_get(which, "stderr")), wt, max_lines);
	if (!b.len) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

char *eng_record_limit_note(const json_t *record)
{
	const json_t *o = json_object_get(record, "outcome"), *base = json_object_get(o, "baseRun");
	const json_t *hits, *h;
	const char *step = "tests";
	struct buf b = BUF_INIT;
	size_t i;

	if (!json_is_object(base))
		return NULL;
	hits = json_object_get(json_object_get(o, "test"), "limitsHit");
	if (!json_array_size(hits)) {
		hits = json_object_get(json_object_get(o, "build"), "limitsHit");
		step = "build";
	}
	buf_addf(&b, "the %s hit a limit (", step);
	json_array_foreach(hits, i, h)
		buf_addf(&b, "%s%s", i ? ", " : "", json_is_string(h) ? json_string_value(h) : "?");
	if (json_is_true(json_object_get(base, "withinLimits")))
		buf_addf(&b, ") that the base's build and tests stay within: the candidate's "
			 "outcome, tests not passed");
	else
		buf_addf(&b, ") that the base hits too, or the base could not be run: the "
			 "harness's limit, unscorable");
	return buf_detach(&b, NULL);
}

char *eng_record_test_files_note(const json_t *record)
{
	const json_t *v = json_object_get(json_object_get(json_object_get(record, "outcome"),
							  "patch"), "testFilesReset"), *p;
	struct buf b = BUF_INIT;
	size_t i, n = json_array_size(v);

	if (n == 0)
		return NULL;
	buf_addf(&b, "test files put back to the base (testFiles; the candidate's changes to "
		 "them are not scored): ");
	json_array_foreach(v, i, p) {
		if (i == 8) {
			buf_addf(&b, " and %zu more", n - i);
			break;
		}
		buf_addf(&b, "%s%s", i ? ", " : "", json_is_string(p) ? json_string_value(p) : "?");
	}
	return buf_detach(&b, NULL);
}
