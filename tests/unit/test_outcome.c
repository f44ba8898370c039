/* Outcome parsing (sandbox/outcome.h): the data-driven cases of
 * tests/outcomes/cases.txt, every truncation of each fixture, and the
 * FAIL_TO_PASS / PASS_TO_PASS accounting. */
#include "tests/unit/harness.h"

#include "core/buf.h"
#include "core/err.h"
#include "sandbox/outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*parse_fn)(struct sbx_tests *, const char *, size_t, struct sbx_parse_error *);

static parse_fn parser_for(const char *fmt)
{
	if (!strcmp(fmt, "junit"))
		return sbx_parse_junit;
	if (!strcmp(fmt, "tap"))
		return sbx_parse_tap;
	if (!strcmp(fmt, "pytest"))
		return sbx_parse_pytest;
	return NULL;
}

static void results_line(struct buf *b, struct sbx_tests *t)
{
	size_t i;

	sbx_tests_sort(t);
	for (i = 0; i < t->n; i++)
		buf_addf(b, "%s%s=%s", i ? " | " : "", t->v[i].id,
			 sbx_test_status_name(t->v[i].status));
}

TEST(sbx_outcome__fixture_cases)
{
	char path[4096], line[8192];
	FILE *f;
	int cases = 0;

	snprintf(path, sizeof path, "%s/tests/outcomes/cases.txt", test_repo_root());
	f = fopen(path, "re");
	CHECK(f != NULL);
	while (fgets(line, sizeof line, f)) {
		char *file, *fmt, *want, *expect, *save = NULL;
		struct buf data = BUF_INIT, got = BUF_INIT;
		struct sbx_tests t;
		struct sbx_parse_error pe;
		parse_fn fn;
		int rc;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		file = strtok_r(line, "\t", &save);
		fmt = strtok_r(NULL, "\t", &save);
		want = strtok_r(NULL, "\t", &save);
		expect = strtok_r(NULL, "\t", &save);
		if (!expect)
			expect = "";
		fn = fmt ? parser_for(fmt) : NULL;
		if (!file || !fn || !want) {
			test_fail(__FILE__, __LINE__, "bad case line: %s", line);
			continue;
		}
		snprintf(path, sizeof path, "%s/tests/outcomes/%s", test_repo_root(), file);
		if (buf_read_file(&data, path, 1 << 20)) {
			test_fail(__FILE__, __LINE__, "%s: %s", file, ln_error_msg());
			continue;
		}
		sbx_tests_init(&t);
		rc = fn(&t, data.data, data.len, &pe);
		if (!strcmp(want, "ok")) {
			results_line(&got, &t);
			if (rc != 0)
				test_fail(__FILE__, __LINE__, "%s: unexpected error %s", file,
					  ln_error_msg());
			else if (strcmp(got.data, expect))
				test_fail(__FILE__, __LINE__, "%s:\n    got:  %s\n    want: %s", file,
					  got.data, expect);
		} else {
			if (rc != LN_EINPUT)
				test_fail(__FILE__, __LINE__, "%s: expected an error, got %d", file, rc);
			else if (!strstr(ln_error_msg(), expect))
				test_fail(__FILE__, __LINE__, "%s: message '%s' lacks '%s'", file,
					  ln_error_msg(), expect);
		}
		cases++;
		sbx_tests_release(&t);
		buf_release(&data);
		buf_release(&got);
	}
	fclose(f);
	CHECK(cases >= 15);
}

/* Every prefix of every well-formed fixture either parses or fails with
 * LN_EINPUT; never anything else (ASan checks the reads). */
TEST(sbx_outcome__every_truncation_is_a_clean_error)
{
	static const char *const files[][2] = {
		{ "pytest-junit.xml", "junit" }, { "junit-file-attr.xml", "junit" },
		{ "tap-cproj.tap", "tap" }, { "pytest-ra.txt", "pytest" },
	};
	size_t i, cut;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[4096];
		struct buf data = BUF_INIT;
		parse_fn fn = parser_for(files[i][1]);
		int full_ok;

		snprintf(path, sizeof path, "%s/tests/outcomes/%s", test_repo_root(), files[i][0]);
		CHECK_EQ_INT(buf_read_file(&data, path, 1 << 20), 0);
		for (cut = 0; cut <= data.len; cut++) {
			struct sbx_tests t;
			struct sbx_parse_error pe;
			/* an exact-size copy, so that ASan sees any read past the cut */
			char *copy = malloc(cut ? cut : 1);
			int rc;

			memcpy(copy, data.data, cut);
			sbx_tests_init(&t);
			rc = fn(&t, copy, cut, &pe);
			sbx_tests_release(&t);
			free(copy);
			if (rc != 0 && rc != LN_EINPUT) {
				test_fail(__FILE__, __LINE__, "%s cut at %zu: rc %d", files[i][0], cut,
					  rc);
				break;
			}
		}
		{
			struct sbx_tests t;
			struct sbx_parse_error pe;
			sbx_tests_init(&t);
			full_ok = fn(&t, data.data, data.len, &pe);
			sbx_tests_release(&t);
		}
		CHECK_EQ_INT(full_ok, 0);
		buf_release(&data);
	}
}

TEST(sbx_outcome__junit_is_bounded)
{
	struct buf big = BUF_INIT;
	struct sbx_tests t;
	struct sbx_parse_error pe;
	int i;

	/* nesting past the depth bound */
	buf_adds(&big, "<testsuites>");
	for (i = 0; i < 100; i++)
		buf_adds(&big, "<a>");
	sbx_tests_init(&t);
	CHECK_EQ_INT(sbx_parse_junit(&t, big.data, big.len, &pe), LN_EINPUT);
	CHECK(strstr(pe.text, "deeper") != NULL);
	sbx_tests_release(&t);
	/* an id past SBX_TEST_ID_MAX */
	buf_reset(&big);
	buf_adds(&big, "<testsuite><testcase name=\"");
	for (i = 0; i < SBX_TEST_ID_MAX + 10; i++)
		buf_addch(&big, 'x');
	buf_adds(&big, "\"/></testsuite>");
	sbx_tests_init(&t);
	CHECK_EQ_INT(sbx_parse_junit(&t, big.data, big.len, &pe), LN_EINPUT);
	sbx_tests_release(&t);
	buf_release(&big);
}

TEST(sbx_outcome__detects_formats)
{
	const char *tap = "cc -o x x.c\nok 1 - a\n1..1\n";
	const char *py = "== short test summary info ==\nPASSED a::b\n1 passed in 0.1s\n";
	const char *none = "make: Nothing to be done\nokay\n";

	CHECK_EQ_INT(sbx_format_detect(tap, strlen(tap)), SBX_FMT_TAP);
	CHECK_EQ_INT(sbx_format_detect(py, strlen(py)), SBX_FMT_PYTEST);
	CHECK_EQ_INT(sbx_format_detect(none, strlen(none)), SBX_FMT_NONE);
}

TEST(sbx_outcome__fail_to_pass_accounting)
{
	struct sbx_tests t;
	json_t *f2p = json_pack("[s,s]", "tests/test_a.py::test_fixed", "tests/test_a.py::test_gone");
	json_t *p2p = json_pack("[s]", "tests/test_a.py::TestX::test_kept");
	json_t *r;
	bool all;

	sbx_tests_init(&t);
	/* JUnit-style ids match pytest-style ones through the normal form */
	CHECK_EQ_INT(sbx_tests_add(&t, "tests.test_a::test_fixed", 24, SBX_T_PASS), 0);
	CHECK_EQ_INT(sbx_tests_add(&t, "tests.test_a.TestX::test_kept", 29, SBX_T_FAIL), 0);
	r = sbx_flips_json(&t, f2p, p2p, &all);
	CHECK(!all);
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r, "FAIL_TO_PASS"), "passed")), 1);
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r, "FAIL_TO_PASS"), "missing")), 1);
	CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(r, "PASS_TO_PASS"), "failed")), 1);
	CHECK(json_is_false(json_object_get(r, "resolved")));
	json_decref(r);

	/* a repeated id keeps the worse status */
	CHECK_EQ_INT(sbx_tests_add(&t, "tests.test_a.TestX::test_kept", 29, SBX_T_PASS), 0);
	CHECK_EQ_INT(sbx_tests_find(&t, "tests/test_a.py::TestX::test_kept"), SBX_T_FAIL);
	sbx_tests_release(&t);
	json_decref(f2p);
	json_decref(p2p);
}

/* A runner may print any bytes in a test name: the id is kept whole for
 * matching, and its JSON form is never dropped (nor an abort). */
TEST(sbx_outcome__an_id_that_is_not_utf8_stays_in_the_json)
{
	const char tap[] = "1..2\nok 1 - caf\xe9 au lait\nnot ok 2 - plain\n";
	struct sbx_tests t;
	struct sbx_parse_error e;
	json_t *j;

	sbx_tests_init(&t);
	CHECK_EQ_INT(sbx_parse_tap(&t, tap, sizeof tap - 1, &e), 0);
	CHECK_EQ_INT(t.n, 2);
	CHECK(sbx_tests_find(&t, "caf\xe9 au lait") >= 0);
	j = sbx_tests_json(&t);
	CHECK_EQ_INT(json_array_size(j), 2);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(j, 0), "id")),
		     "caf\xef\xbf\xbd au lait");
	json_decref(j);
	sbx_tests_release(&t);
}
