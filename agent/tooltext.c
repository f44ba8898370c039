/*
 * tooltext.c - a tool result as short text for a model or a person
 * (agent/tools.h, agent_tool_render): the facts of a bundle in the CLI's
 * style (file:line:col, the diagnostics, the hover text, a diff), cut at a
 * size with a note that says how to get the rest.
 */
#include "agent/tools.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static long long num(const json_t *a, size_t i)
{
	return (long long)json_integer_value(json_array_get(a, i));
}

/* "path:line:col" of a fact */
static void add_loc(struct buf *b, const json_t *f)
{
	const json_t *r = json_object_get(f, "selectionRange");

	if (!r)
		r = json_object_get(f, "range");

	buf_adds(b, ln_printable(str(f, "path")));
	if (json_array_size(r) >= 2)
		buf_addf(b, ":%lld:%lld", num(r, 0), num(r, 1));
	if (json_is_true(json_object_get(f, "external")))
		buf_adds(b, " (external)");
}

static void add_fact(struct buf *b, const json_t *f)
{
	const char *kind = str(f, "kind");

	if (!strcmp(kind, "definition") || !strcmp(kind, "reference")) {
		add_loc(b, f);
	} else if (!strcmp(kind, "location")) {
		add_loc(b, f);
		if (json_is_number(json_object_get(f, "score")))
			buf_addf(b, " score %.3f", json_number_value(json_object_get(f, "score")));
	} else if (!strcmp(kind, "hover")) {
		buf_adds(b, ln_printable_text(str(f, "contents")));
	} else if (!strcmp(kind, "symbol")) {
		add_loc(b, f);
		buf_addf(b, " %s %s", ln_printable(str(f, "symbolKind")), ln_printable(str(f, "name")));
		if (*str(f, "container"))
			buf_addf(b, " (in %s)", ln_printable(str(f, "container")));
		if (*str(f, "detail"))
			buf_addf(b, " : %s", ln_printable(str(f, "detail")));
	} else if (!strcmp(kind, "diagnostic")) {
		add_loc(b, f);
		buf_addf(b, ": %s: %s", ln_printable(str(f, "severity")),
			 ln_printable_text(str(f, "message")));
		if (json_is_string(json_object_get(f, "code")))
			buf_addf(b, " [%s]", ln_printable(str(f, "code")));
	} else if (!strcmp(kind, "prepareRename")) {
		add_loc(b, f);
		if (*str(f, "placeholder"))
			buf_addf(b, " %s", ln_printable(str(f, "placeholder")));
	} else if (!strcmp(kind, "edit")) {
		buf_addf(b, "%s %s%s%s", str(f, "status"), ln_printable(str(f, "from")),
			 *str(f, "from") ? " -> " : "", ln_printable(str(f, "path")));
	} else if (!strcmp(kind, "conflict")) {
		buf_addf(b, "conflict %s hunk %lld %s: %s", ln_printable(str(f, "path")),
			 (long long)json_integer_value(json_object_get(f, "hunk")),
			 ln_printable(str(f, "header")), ln_printable(str(f, "reason")));
	} else if (!strcmp(kind, "codeAction")) {
		buf_addf(b, "[%lld] %s", (long long)json_integer_value(json_object_get(f, "index")),
			 ln_printable(str(f, "title")));
		if (*str(f, "actionKind"))
			buf_addf(b, " (%s)", ln_printable(str(f, "actionKind")));
	} else if (!strcmp(kind, "match")) {
		add_loc(b, f);
		buf_addf(b, ": %s", ln_printable_text(str(f, "text")));
	} else if (!strcmp(kind, "lines")) {
		/* read: the text with its line numbers, as `lanser read` prints it */
		long long line = (long long)json_integer_value(json_object_get(f, "firstLine"));
		const char *s = str(f, "text"), *nl;
		buf_addf(b, "%s (lines %lld-%lld of %lld)\n", ln_printable(str(f, "path")), line,
			 (long long)json_integer_value(json_object_get(f, "lastLine")),
			 (long long)json_integer_value(json_object_get(f, "totalLines")));
		while (*s) {
			nl = strchr(s, '\n');
			size_t len = nl ? (size_t)(nl - s) : strlen(s);
			struct buf one = BUF_INIT;
			buf_add(&one, s, len);
			buf_addf(b, "%6lld  %s\n", line++, ln_printable_text(one.data));
			buf_release(&one);
			s += len + (nl ? 1 : 0);
		}
		if (b->len && b->data[b->len - 1] == '\n')
			b->data[--b->len] = '\0';
	} else {
		char *s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
		buf_adds(b, s ? s : "{}");
		free(s);
	}
	buf_addch(b, '\n');
}

/* A bundle without facts (test records, eval): its members but the
 * environment, as compact JSON. */
static void add_other(struct buf *b, const json_t *bundle)
{
	json_t *copy = json_deep_copy(bundle);
	char *s;

	if (json_is_object(copy)) {
		json_object_del(copy, "environment");
		json_object_del(copy, "inputs");
		json_object_del(copy, "capabilities");
	}
	s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	buf_adds(b, s ? s : "{}");
	buf_addch(b, '\n');
	free(s);
	json_decref(copy);
}

/* The errors of a verified edit that were not there before (by path and
 * message, each "before" entry matching once): what a model must fix. */
static void add_new_errors(struct buf *b, const json_t *verify)
{
	const json_t *before = json_object_get(verify, "before"), *after = json_object_get(verify,
											     "after"), *a, *o;
	size_t nb = json_array_size(before), i, k;
	bool *used;

	if (!json_array_size(after) || json_array_size(after) > 10000 || nb > 10000)
		return;
	used = xcalloc(nb + 1, sizeof *used);
	json_array_foreach(after, i, a) {
		bool seen = false;
		for (k = 0; k < nb && !seen; k++) {
			o = json_array_get(before, k);
			if (!used[k] && !strcmp(str(a, "path"), str(o, "path")) &&
			    !strcmp(str(a, "message"), str(o, "message")))
				used[k] = seen = true;
		}
		if (!seen)
			buf_addf(b, "new error: %s:%lld: %s\n", ln_printable(str(a, "path")),
				 (long long)json_integer_value(json_object_get(a, "line")),
				 ln_printable_text(str(a, "message")));
	}
	free(used);
}

/* ---- test records and eval bundles: what a model acts on, in words ---- */

#define TAIL_LINES 30          /* lines of a failing step's output shown */
#define TAIL_BYTES 3000        /* ... and at most these bytes of each stream */
#define LIST_TESTS 20          /* failing tests named */

static double real(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static long long integer(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* "N passed, N failed, N skipped[, N errors]" */
static void add_counts(struct buf *b, const json_t *counts)
{
	buf_addf(b, "%lld passed, %lld failed, %lld skipped", integer(counts, "passed"),
		 integer(counts, "failed"), integer(counts, "skipped"));
	if (integer(counts, "error"))
		buf_addf(b, ", %lld errors", integer(counts, "error"));
}

/* "build: make -j2 (exit 2, timed out)": the command and how it ended */
static void add_step(struct buf *b, const char *what, const json_t *argv, const json_t *run)
{
	const json_t *v;
	size_t i;

	if (!json_is_object(run))
		return;
	buf_addf(b, "%s:", what);
	json_array_foreach(argv, i, v)
		buf_addf(b, " %s", ln_printable(json_string_value(v) ? json_string_value(v) : ""));
	if (json_is_string(json_object_get(run, "signal")))
		buf_addf(b, " (killed by %s", ln_printable(str(run, "signal")));
	else
		buf_addf(b, " (exit %lld", integer(run, "exitCode"));
	if (json_is_true(json_object_get(run, "timedOut")))
		buf_adds(b, ", timed out");
	if (json_is_true(json_object_get(run, "cancelled")))
		buf_adds(b, ", cancelled");
	if (json_is_true(json_object_get(run, "truncated")))
		buf_adds(b, ", output cut");
	json_array_foreach(json_object_get(run, "limitsHit"), i, v)
		buf_addf(b, "%s%s", i ? ", " : ", limits hit: ", ln_printable(json_string_value(v) ?
									     json_string_value(v) : ""));
	buf_adds(b, ")\n");
}

/* The last TAIL_LINES lines (at most TAIL_BYTES) of one stream. */
static void add_tail(struct buf *b, const char *what, const char *name, const char *s)
{
	size_t len = strlen(s), start = len, lines = 0;
	struct buf one = BUF_INIT;

	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	if (!len)
		return;
	for (start = len; start > 0 && len - start < TAIL_BYTES; start--)
		if (s[start - 1] == '\n' && ++lines >= TAIL_LINES)
			break;
	while (start < len && ((unsigned char)s[start] & 0xC0) == 0x80)
		start++;
	buf_add(&one, s + start, len - start);
	buf_addf(b, "--- %s %s%s ---\n%s\n", what, name, start ? " (its end)" : "",
		 ln_printable_text(one.data));
	buf_release(&one);
}

/* The output of the step that decided a run that did not pass. */
static void add_output(struct buf *b, const json_t *rec)
{
	const json_t *out = json_object_get(json_object_get(json_object_get(rec, "meta"),
							    "volatile"), "output");
	const char *status = str(json_object_get(rec, "outcome"), "status");
	const char *what = strstr(status, "build") ? "build" : "test";
	const json_t *step = json_object_get(out, what);

	if (!strcmp(status, "passed") || !json_is_object(step))
		return;
	add_tail(b, what, "stdout", str(step, "stdout"));
	add_tail(b, what, "stderr", str(step, "stderr"));
}

/* A test outcome record (`lanser test`, one per candidate). */
static void add_test_record(struct buf *b, const json_t *rec)
{
	const json_t *req = json_object_get(rec, "request"), *o = json_object_get(rec, "outcome");
	const json_t *t, *sets[2];
	const char *names[2] = { "FAIL_TO_PASS", "PASS_TO_PASS" };
	size_t i, shown = 0, more = 0;

	if (json_is_string(json_object_get(req, "candidate")))
		buf_addf(b, "candidate %s: ", ln_printable(str(req, "candidate")));
	buf_addf(b, "tests %s: ", ln_printable(str(o, "status")));
	add_counts(b, json_object_get(o, "counts"));
	if (!strcmp(str(json_object_get(o, "results"), "outcomeFrom"), "exitStatus"))
		buf_adds(b, " (no per-test results were read: the status is the test command's "
			    "exit status)");
	buf_addch(b, '\n');
	if (json_is_object(json_object_get(o, "patch")) &&
	    strcmp(str(json_object_get(o, "patch"), "status"), "applied"))
		buf_addf(b, "patch: %s %s\n", ln_printable(str(json_object_get(o, "patch"), "status")),
			 ln_printable_text(str(json_object_get(o, "patch"), "report")));
	add_step(b, "build", json_object_get(req, "build"), json_object_get(o, "build"));
	add_step(b, "test", json_object_get(req, "test"), json_object_get(o, "test"));
	json_array_foreach(json_object_get(o, "tests"), i, t) {
		if (!strcmp(str(t, "status"), "passed") || !strcmp(str(t, "status"), "skipped"))
			continue;
		if (shown++ < LIST_TESTS)
			buf_addf(b, "%s: %s\n", ln_printable(str(t, "status")), ln_printable(str(t, "id")));
		else
			more++;
	}
	if (more)
		buf_addf(b, "(and %zu more not passed)\n", more);
	sets[0] = json_object_get(o, "FAIL_TO_PASS");
	sets[1] = json_object_get(o, "PASS_TO_PASS");
	for (i = 0; i < 2; i++)
		if (json_is_object(sets[i]))
			buf_addf(b, "%s: %lld passed, %lld failed, %lld missing\n", names[i],
				 integer(sets[i], "passed"), integer(sets[i], "failed"),
				 integer(sets[i], "missing"));
	if (json_is_boolean(json_object_get(o, "resolved")))
		buf_addf(b, "resolved: %s\n", json_is_true(json_object_get(o, "resolved")) ? "yes" : "no");
	if (!strcmp(str(rec, "isolation"), "none"))
		buf_adds(b, "isolation: none (the tests ran WITHOUT the sandbox, resource limits "
			    "only)\n");
	add_output(b, rec);
}

/* An eval bundle: verdict, reward, patch, diagnostics, tests. */
static void add_eval(struct buf *b, const json_t *bundle)
{
	const json_t *o = json_object_get(bundle, "outcome"), *v = json_object_get(o, "verdict");
	const json_t *r = json_object_get(o, "reward"), *p = json_object_get(o, "patch");
	const json_t *d = json_object_get(o, "diagnostics"), *tr = json_object_get(o, "testRun");
	const json_t *x, *rec;
	size_t i;

	buf_addf(b, "verdict: %s", json_is_true(json_object_get(v, "accepted")) ? "accepted" :
		 "rejected");
	json_array_foreach(json_object_get(v, "reasons"), i, x) {
		char *s = json_is_string(x) ? NULL : json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
		buf_addf(b, "%s%s", i ? "; " : ": ", ln_printable(s ? s : json_string_value(x)));
		free(s);
	}
	buf_addch(b, '\n');
	if (json_is_object(r)) {
		buf_addf(b, "reward %g (%s: format %g, outcome %g, process %g)", real(r, "reward"),
			 ln_printable(str(r, "mode")), real(r, "rFormat"), real(r, "rOutcome"),
			 real(r, "rProcess"));
		if (json_is_false(json_object_get(r, "scorable")))
			buf_addf(b, "; not scorable: %s", ln_printable(str(r, "reason")));
		buf_addch(b, '\n');
	}
	if (json_is_object(p)) {
		buf_addf(b, "patch: %s (%s)", json_is_true(json_object_get(p, "usable")) ? "usable" :
			 "NOT usable", ln_printable(str(p, "code")));
		json_array_foreach(json_object_get(p, "files"), i, x)
			buf_addf(b, "%s%s %s", i ? ", " : ": ", ln_printable(str(x, "status")),
				 ln_printable(str(x, "path")));
		buf_addch(b, '\n');
		json_array_foreach(json_object_get(p, "conflicts"), i, x)
			add_fact(b, x);
	}
	if (json_is_object(d))
		buf_addf(b, "diagnostics: weight %g -> %g (%lld introduced, %lld fixed, %lld new "
			 "errors) in %zu relevant files\n", real(d, "dBefore"), real(d, "dAfter"),
			 integer(d, "introduced"), integer(d, "fixed"), integer(d, "newErrors"),
			 json_array_size(json_object_get(d, "relevant")));
	if (json_is_object(tr)) {
		buf_addf(b, "tests %s: ", ln_printable(str(o, "status")));
		add_counts(b, json_object_get(tr, "counts"));
		if (json_is_boolean(json_object_get(tr, "resolved")))
			buf_addf(b, "; resolved: %s", json_is_true(json_object_get(tr, "resolved")) ?
				 "yes" : "no");
		if (!strcmp(str(json_object_get(tr, "outcome"), "outcomeFrom"), "exitStatus"))
			buf_adds(b, " (no per-test results were read: the status is the test "
				    "command's exit status)");
		buf_addch(b, '\n');
	} else if (*str(o, "status")) {
		buf_addf(b, "status: %s\n", ln_printable(str(o, "status")));
	}
	if (!strcmp(str(bundle, "isolation"), "none"))
		buf_adds(b, "isolation: none (the tests ran WITHOUT the sandbox, resource limits "
			    "only)\n");
	rec = json_object_get(json_object_get(json_object_get(bundle, "meta"), "volatile"),
			      "testRecord");
	if (json_is_object(rec))
		add_output(b, rec);
}

/* The members a command added to the envelope (test's outcome, eval's
 * reward and verdict): one line each, "key: compact JSON". */
static void add_rest(struct buf *b, const json_t *bundle, bool outcome_shown)
{
	static const char *const envelope[] = { "schema", "bundleId", "request", "resolution",
		"facts", "complete", "incomplete", "inputs", "environment", "capabilities", "meta",
		"edit", NULL };
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)bundle, key, v) {
		size_t k;
		char *s;
		for (k = 0; envelope[k] && strcmp(envelope[k], key); k++)
			;
		if (envelope[k])
			continue;
		if (outcome_shown && (!strcmp(key, "outcome") || !strcmp(key, "isolation")))
			continue;
		s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		buf_addf(b, "%s: %s\n", ln_printable(key), s ? s : "null");
		free(s);
	}
}

static void add_bundle(struct buf *b, const json_t *bundle)
{
	const json_t *facts = json_object_get(bundle, "facts"), *f, *edit, *v;
	const char *cmd = str(json_object_get(bundle, "request"), "command");
	const json_t *outcome = json_object_get(bundle, "outcome");
	struct buf rest = BUF_INIT, head = BUF_INIT;
	size_t i;

	/* test records and eval bundles lead with their outcome in words */
	if (json_is_object(outcome) && !strcmp(cmd, "test"))
		add_test_record(&head, bundle);
	else if (json_is_object(outcome) && !strcmp(cmd, "eval"))
		add_eval(&head, bundle);
	if (!json_is_array(facts)) {
		buf_add(b, head.data, head.len);
		buf_release(&head);
		add_other(b, bundle);
		return;
	}
	edit = json_object_get(bundle, "edit");
	if (edit && !strcmp(str(edit, "decision"), "preview") && *str(edit, "diff") &&
	    !strstr(str(edit, "diff"), "\n@@ ")) {
		/* file headers without a hunk: the new text is the old one */
		buf_adds(b, "no change: the new text is the text already there (nothing to "
			    "write)\n");
		return;
	}
	if (edit && !strcmp(str(edit, "decision"), "preview") && *str(edit, "diff")) {
		buf_adds(b, ln_printable_text(str(edit, "diff")));
		if (b->len && b->data[b->len - 1] != '\n')
			buf_addch(b, '\n');
		buf_adds(b, "(preview only: nothing written; call again with \"apply\": true to "
			    "write it)\n");
		return;
	}
	add_rest(&rest, bundle, head.len > 0);
	buf_add(b, head.data, head.len);
	if (head.len && json_array_size(facts))
		buf_addf(b, "%s:\n", !strcmp(cmd, "eval") ? "new diagnostics" : "facts");
	if (!json_array_size(facts) && !rest.len && !head.len && json_integer_value(
			json_object_get(json_object_get(bundle, "meta"), "exitCode")) == 0)
		buf_addf(b, "%s: no results\n", *cmd ? cmd : "answer");
	json_array_foreach(facts, i, f) {
		/* an edit that was not written lists no files as changed */
		if (edit && !strcmp(str(f, "kind"), "edit") && strcmp(str(edit, "decision"), "applied"))
			continue;
		add_fact(b, f);
	}
	if (edit && *str(edit, "decision"))
		buf_addf(b, "decision: %s\n", str(edit, "decision"));
	if ((v = json_object_get(edit, "verify")) != NULL) {
		buf_addf(b, "verify: %lld new error(s), %lld allowed\n",
			 (long long)json_integer_value(json_object_get(v, "newErrors")),
			 (long long)json_integer_value(json_object_get(v, "maxNewErrors")));
		add_new_errors(b, v);
	}
	if (json_is_string(json_object_get(edit, "commit")))
		buf_addf(b, "commit %s\n", str(edit, "commit"));
	if (json_is_false(json_object_get(bundle, "complete"))) {
		buf_adds(b, "(incomplete answer");
		json_array_foreach(json_object_get(bundle, "incomplete"), i, v)
			buf_addf(b, "%s%s", i ? "; " : ": ", ln_printable(json_string_value(v)));
		buf_adds(b, ")\n");
	}
	buf_add(b, rest.data, rest.len);
	buf_release(&rest);
	buf_release(&head);
}

char *agent_tool_render(const json_t *bundle, size_t max, bool *truncated)
{
	struct buf b = BUF_INIT, note = BUF_INIT;
	size_t i, keep, total;
	const json_t *one;

	*truncated = false;
	if (!bundle)
		return xstrdup("(no answer)");
	if (json_is_array(bundle))
		json_array_foreach(bundle, i, one)
			add_bundle(&b, one);
	else
		add_bundle(&b, bundle);
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	if (!max || b.len <= max)
		return buf_detach(&b, NULL);
	total = b.len;
	buf_addf(&note, "\n[cut: %zu of %zu bytes shown. For the rest ask for less: one file "
		 "or a narrower selector, `read` with \"lines\": \"A-B\", `search` with a "
		 "\"glob\" or a smaller \"max\"]", (size_t)0, total);
	keep = note.len + 16 < max ? max - note.len - 16 : max / 2;
	/* a whole line when one ends in the second half; never half a character */
	for (i = keep; i > keep / 2; i--)
		if (b.data[i - 1] == '\n')
			break;
	if (i > keep / 2)
		keep = i - 1;
	while (keep > 0 && ((unsigned char)b.data[keep] & 0xC0) == 0x80)
		keep--;
	b.len = keep;
	b.data[keep] = '\0';
	buf_addf(&b, "\n[cut: %zu of %zu bytes shown. For the rest ask for less: one file "
		 "or a narrower selector, `read` with \"lines\": \"A-B\", `search` with a "
		 "\"glob\" or a smaller \"max\"]", keep, total);
	buf_release(&note);
	*truncated = true;
	return buf_detach(&b, NULL);
}
