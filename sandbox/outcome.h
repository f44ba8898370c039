/*
 * outcome.h - per-test results from what a test run printed or wrote.
 *
 * Three formats, all untrusted input (bounded: LN_FILE_MAX_BYTES of
 * input, SBX_OUTCOME_MAX_TESTS results, ids of at most SBX_TEST_ID_MAX
 * bytes):
 *   - JUnit XML (<testsuites>/<testsuite>/<testcase> with <failure>,
 *     <error>, <skipped> children), as pytest --junitxml, ctest, Surefire
 *     and most runners write it. Test id: "file::name" when the testcase
 *     has a file attribute, else "classname::name", else "name". DTDs are
 *     refused (no entity expansion), only the five XML entities and
 *     character references are decoded;
 *   - TAP (version 12/13: "ok N - desc", "not ok N", "# SKIP"/"# TODO"
 *     directives, a plan "1..N" first or last, "Bail out!"), also several
 *     complete streams one after the other (a `make test` running several
 *     TAP programs). Test id: the description, else the test number ("k:N"
 *     in the k-th stream, k > 1). Lines that are not TAP (a build's output
 *     before the tests) are ignored;
 *   - pytest's short test summary (-rA): "PASSED id", "FAILED id - msg",
 *     "ERROR id", "SKIPPED [n] file:line: reason", "XFAIL id", "XPASS id",
 *     closed by the "=== N passed ... in S ===" line.
 * A malformed or truncated input (an unclosed element, a plan that counts
 * more tests than ran, a summary without its closing line) is an error:
 * the parser returns LN_EINPUT and fills the caller's sbx_parse_error with
 * the line, column and a message; what was parsed before stays in *t.
 *
 * Ids are matched against FAIL_TO_PASS / PASS_TO_PASS lists exactly, else
 * by a normal form that lets "tests/test_a.py::TestX::test_y" (pytest)
 * match "tests.test_a.TestX::test_y" (JUnit): ".py" dropped, "/" and "::"
 * read as ".".
 */
#ifndef LANSER_SANDBOX_OUTCOME_H
#define LANSER_SANDBOX_OUTCOME_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define SBX_OUTCOME_MAX_TESTS 100000
#define SBX_TEST_ID_MAX 4096

enum sbx_test_status { SBX_T_PASS = 0, SBX_T_SKIP, SBX_T_FAIL, SBX_T_ERROR };

struct sbx_test {
	char *id;
	enum sbx_test_status status;
};

/* A set of results; an id seen twice keeps its worse status
 * (error > fail > pass > skip). */
struct sbx_tests {
	struct sbx_test *v;
	size_t n, cap;
};

struct sbx_parse_error {
	int line, column;       /* 1-based; 0 when the error is about the whole input */
	char text[200];
};

enum sbx_format { SBX_FMT_NONE = 0, SBX_FMT_AUTO, SBX_FMT_JUNIT, SBX_FMT_TAP, SBX_FMT_PYTEST };

void sbx_tests_init(struct sbx_tests *t);
void sbx_tests_release(struct sbx_tests *t);
/* Adds (or merges) one result. LN_EINPUT when the id is empty or too long,
 * or there are too many tests. */
int sbx_tests_add(struct sbx_tests *t, const char *id, size_t id_len, enum sbx_test_status st);
/* Sorts by id (the order of every output). */
void sbx_tests_sort(struct sbx_tests *t);
/* The result of `id` (exact, else normal form), or -1 when not run. */
int sbx_tests_find(const struct sbx_tests *t, const char *id);

int sbx_parse_junit(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e);
int sbx_parse_tap(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e);
int sbx_parse_pytest(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e);

/* The format of `stdout_text` when fmt is AUTO: PYTEST when it holds a short
 * test summary, TAP when it holds a plan or an "ok"/"not ok" line, else NONE. */
enum sbx_format sbx_format_detect(const char *stdout_text, size_t len);
/* "junit", "tap", "pytest", "auto", "none" <-> the enum; -1 when unknown. */
int sbx_format_parse(const char *name);
const char *sbx_format_name(enum sbx_format f);

const char *sbx_test_status_name(enum sbx_test_status s);

/* [{"id": ..., "status": "passed|failed|error|skipped"}, ...] sorted by id. */
json_t *sbx_tests_json(const struct sbx_tests *t);

/*
 * The SWE-bench accounting: for each id of FAIL_TO_PASS and PASS_TO_PASS
 * (JSON arrays of strings; either may be NULL), whether it passed. Returns
 * {"FAIL_TO_PASS": {"passed": [...], "failed": [...], "missing": [...]},
 *  "PASS_TO_PASS": {...}, "resolved": bool} (new reference): a test that
 * did not run is "missing" and counts as not passing; skipped counts as
 * not passing. resolved: every listed test passed (false when both lists
 * are empty and no test ran). *all_passed mirrors "resolved".
 */
json_t *sbx_flips_json(const struct sbx_tests *t, const json_t *f2p, const json_t *p2p,
		       bool *all_passed);

#endif
