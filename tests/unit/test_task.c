/* Task files and the test settings of .lanser.json (sandbox/task.h). */
#include "tests/unit/harness.h"

#include "core/buf.h"
#include "core/err.h"
#include "sandbox/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int apply_text(struct sbx_task *t, const char *text, bool is_task)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	int e;

	if (!j)
		return -999;
	e = sbx_task_apply(t, j, "task.json", "/tasks", is_task);
	json_decref(j);
	return e;
}

TEST(sbx_task__reads_every_member)
{
	struct sbx_task t;

	sbx_task_init(&t);
	CHECK_EQ_INT(apply_text(&t, "{\"schema\": \"lanser.task/1\", \"id\": \"t-1\","
				" \"workspace\": \"repo\", \"base\": \"HEAD~1\","
				" \"candidates\": [{\"id\": \"a\", \"patch\": \"a.diff\"}, {\"patch\": null}],"
				" \"build\": \"make -j2\", \"test\": [\"make\", \"test\"],"
				" \"results\": {\"junit\": \"out/junit.xml\"},"
				" \"FAIL_TO_PASS\": [\"x::y\"], \"PASS_TO_PASS\": [],"
				" \"limits\": {\"wallMs\": 1000}, \"isolation\": \"required\","
				" \"env\": {\"CC\": \"gcc\"}}", true), 0);
	CHECK_EQ_STR(t.task_id, "t-1");
	CHECK_EQ_STR(t.workspace, "/tasks/repo");
	CHECK_EQ_STR(t.base, "HEAD~1");
	CHECK_EQ_INT(t.ncands, 2);
	CHECK_EQ_STR(t.cands[0].patch_path, "/tasks/a.diff");
	CHECK_EQ_STR(t.cands[1].id, "c2");
	CHECK(t.cands[1].patch_path == NULL);
	CHECK_EQ_STR(t.build_argv[0], "/bin/sh");
	CHECK_EQ_STR(t.build_argv[2], "make -j2");
	CHECK_EQ_STR(t.test_argv[1], "test");
	CHECK(t.test_argv[2] == NULL);
	CHECK_EQ_INT(t.format, SBX_FMT_JUNIT);
	CHECK_EQ_STR(t.junit_path, "out/junit.xml");
	CHECK_EQ_INT(json_array_size(t.f2p), 1);
	CHECK_EQ_INT(t.limits.wall_ms, 1000);
	CHECK_EQ_INT(t.iso, SBX_ISO_REQUIRED);
	CHECK_EQ_STR(json_string_value(json_object_get(t.env, "CC")), "gcc");
	sbx_task_release(&t);
}

TEST(sbx_task__rejects_bad_members_with_their_name)
{
	static const char *const cases[][2] = {
		{ "{\"bogus\": 1}", "unknown member \"bogus\"" },
		{ "{\"schema\": \"lanser.task/9\"}", "\"schema\" must be" },
		{ "{\"test\": []}", "\"test\" must be" },
		{ "{\"test\": [\"make\", 3]}", "\"test\"[1]" },
		{ "{\"build\": \"\"}", "\"build\" must be" },
		{ "{\"results\": {\"format\": \"xml\"}}", "results.format" },
		{ "{\"results\": {\"junit\": \"../x.xml\"}}", "results.junit" },
		{ "{\"results\": {\"junit\": \"/abs.xml\"}}", "results.junit" },
		{ "{\"FAIL_TO_PASS\": \"a\"}", "FAIL_TO_PASS" },
		{ "{\"FAIL_TO_PASS\": [\"\"]}", "FAIL_TO_PASS\"[0]" },
		{ "{\"isolation\": \"maybe\"}", "isolation" },
		{ "{\"isolation\": \"none\"}", "cannot lower isolation" },
		{ "{\"isolation\": \"auto\"}", "cannot lower isolation" },
		{ "{\"env\": {\"1X\": \"a\"}}", "env.1X" },
		{ "{\"env\": {\"X\": 1}}", "env.X" },
		{ "{\"limits\": {\"memoryMiB\": 1}}", "limits.memoryMiB" },
		{ "{\"candidates\": [{\"id\": \"a\"}, {\"id\": \"a\"}]}", "two candidates" },
		{ "{\"candidates\": [{\"id\": \"../x\"}]}", "candidates\"[0]" },
		{ "{\"id\": \"has space\"}", "\"id\" must be" },
		{ "{\"base\": 7}", "\"base\"" },
		{ "{\"testFiles\": \"tests/**\"}", "\"testFiles\" must be an array" },
		{ "{\"testFiles\": [\"tests/**\", \"\"]}", "\"testFiles\"[1] must be" },
		{ "{\"testFiles\": [7]}", "\"testFiles\"[0] must be" },
		{ "[1]", "must be a JSON object" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sbx_task t;
		int e;
		sbx_task_init(&t);
		e = apply_text(&t, cases[i][0], true);
		if (e != LN_ECONFIG || !strstr(ln_error_msg(), cases[i][1]))
			test_fail(__FILE__, __LINE__, "%s: rc %d, message '%s' (want '%s')",
				  cases[i][0], e, ln_error_msg(), cases[i][1]);
		sbx_task_release(&t);
	}
}

TEST(sbx_task__test_files_match_as_the_jail_and_are_bounded)
{
	struct sbx_task t;
	struct buf b = BUF_INIT;
	size_t i;

	sbx_task_init(&t);
	CHECK(!sbx_task_is_test_file(&t, "tests/test_a.py"));
	CHECK_EQ_INT(apply_text(&t, "{\"testFiles\": [\"tests/**\", \"test_*.py\", \"spec\","
				" \"e2e/\", \"Makefile\"]}", false), 0);
	CHECK(sbx_task_is_test_file(&t, "tests/test_a.py"));
	CHECK(sbx_task_is_test_file(&t, "tests/deep/er/x.c"));
	CHECK(sbx_task_is_test_file(&t, "test_b.py"));
	CHECK(sbx_task_is_test_file(&t, "test_pkg/x/test_c.py"));  /* '*' crosses '/' */
	CHECK(sbx_task_is_test_file(&t, "spec/a/b.js"));            /* a folder covers below */
	CHECK(sbx_task_is_test_file(&t, "e2e/run.sh"));
	CHECK(sbx_task_is_test_file(&t, "Makefile"));
	CHECK(!sbx_task_is_test_file(&t, "src/tests.c"));
	CHECK(!sbx_task_is_test_file(&t, "src/Makefile"));
	CHECK(!sbx_task_is_test_file(&t, "e2e"));
	CHECK(!sbx_task_is_test_file(&t, "spec.js"));
	/* the command line replaces the list */
	CHECK_EQ_INT(sbx_task_add_test_file(&t, "src/*", true), 0);
	CHECK(!sbx_task_is_test_file(&t, "tests/test_a.py"));
	CHECK(sbx_task_is_test_file(&t, "src/a.c"));
	CHECK_EQ_INT(sbx_task_add_test_file(&t, "", false), LN_EUSAGE);
	for (i = 1; i < SBX_TEST_FILES_MAX; i++)
		CHECK_EQ_INT(sbx_task_add_test_file(&t, "x", false), 0);
	CHECK_EQ_INT(sbx_task_add_test_file(&t, "x", false), LN_EUSAGE);
	/* 256 globs of 4096 bytes are fine, 257 or 4097 bytes are not */
	buf_adds(&b, "{\"testFiles\": [");
	for (i = 0; i < SBX_TEST_FILES_MAX; i++)
		buf_addf(&b, "%s\"%0*d\"", i ? ", " : "", SBX_TEST_FILE_GLOB_MAX, 0);
	buf_adds(&b, "]}");
	CHECK_EQ_INT(apply_text(&t, b.data, true), 0);
	CHECK_EQ_INT((int)json_array_size(t.test_files), SBX_TEST_FILES_MAX);
	b.data[b.len - 2] = '\0';
	b.len -= 2;
	buf_adds(&b, ", \"y\"]}");
	CHECK_EQ_INT(apply_text(&t, b.data, true), LN_ECONFIG);
	CHECK_EQ_INT(apply_text(&t, "{\"testFiles\": [\"x\"]}", true), 0);
	buf_release(&b);
	buf_addf(&b, "{\"testFiles\": [\"%0*d\"]}", SBX_TEST_FILE_GLOB_MAX + 1, 0);
	CHECK_EQ_INT(apply_text(&t, b.data, true), LN_ECONFIG);
	buf_release(&b);
	sbx_task_release(&t);
}

TEST(sbx_task__config_cannot_hold_task_members_but_keeps_unknown_ones)
{
	struct sbx_task t;

	sbx_task_init(&t);
	/* .lanser.json has other members (servers, ...): ignored here */
	CHECK_EQ_INT(apply_text(&t, "{\"servers\": {}, \"test\": \"pytest -q\", \"base\": \"x\"}",
				false), 0);
	CHECK(t.base == NULL);
	CHECK_EQ_STR(t.test_argv[2], "pytest -q");
	sbx_task_release(&t);
}

TEST(sbx_task__loads_a_file_and_reports_syntax_errors_with_position)
{
	char dir[] = "/tmp/lanser-task-XXXXXX", path[128];
	struct sbx_task t;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/task.json", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("{\"test\": \"true\",\n \"patch\": }\n", f);
	fclose(f);
	sbx_task_init(&t);
	CHECK_EQ_INT(sbx_task_load(&t, path), LN_ECONFIG);
	CHECK(strstr(ln_error_msg(), "task.json:2:") != NULL);
	sbx_task_release(&t);

	f = fopen(path, "w");
	fputs("{\"patch\": \"p.diff\", \"test\": [\"true\"]}", f);
	fclose(f);
	sbx_task_init(&t);
	CHECK_EQ_INT(sbx_task_load(&t, path), 0);
	CHECK_EQ_INT(t.ncands, 1);
	CHECK(strstr(t.cands[0].patch_path, "/p.diff") != NULL);
	CHECK(t.cands[0].patch_path[0] == '/');
	sbx_task_release(&t);

	sbx_task_init(&t);
	CHECK_EQ_INT(sbx_task_load(&t, "/nonexistent/task.json"), LN_ENOTFOUND);
	sbx_task_release(&t);
	unlink(path);
	rmdir(dir);
}

TEST(sbx_task__tests_option_and_default_commands)
{
	struct sbx_task t;
	char path[4096];

	sbx_task_init(&t);
	CHECK_EQ_INT(sbx_task_set_tests(&t, "a::b,c::d"), 0);
	CHECK_EQ_INT(json_array_size(t.f2p), 2);
	CHECK_EQ_INT(sbx_task_set_tests(&t, "a,,b"), LN_EUSAGE);
	snprintf(path, sizeof path, "%s/tests/fixtures/cproj", test_repo_root());
	CHECK_EQ_INT(sbx_task_default_test(&t, path), 0);
	CHECK_EQ_STR(t.test_argv[0], "make");
	sbx_task_release(&t);

	sbx_task_init(&t);
	snprintf(path, sizeof path, "%s/tests/fixtures/pyproj", test_repo_root());
	CHECK_EQ_INT(sbx_task_default_test(&t, path), 0);
	CHECK_EQ_STR(t.test_argv[0], "/usr/bin/python3");
	sbx_task_release(&t);

	sbx_task_init(&t);
	CHECK_EQ_INT(sbx_task_default_test(&t, "/"), LN_ECONFIG);
	sbx_task_release(&t);
}

/* discovery on the fixture `name`: 0 and the task filled, in *t */
static int discover(struct sbx_task *t, const char *name)
{
	char path[4096];

	sbx_task_init(t);
	snprintf(path, sizeof path, "%s/tests/fixtures/%s", test_repo_root(), name);
	return sbx_task_default_test(t, path);
}

TEST(sbx_task__discovers_cmake_with_ctest_junit_and_a_build)
{
	struct sbx_task t;

	CHECK_EQ_INT(discover(&t, "disc-cmake"), 0);
	CHECK_EQ_STR(t.test_argv[0], "ctest");
	CHECK(t.build_argv && strstr(t.build_argv[2], "cmake --build .lanser-build"));
	CHECK_EQ_INT(t.format, SBX_FMT_JUNIT);
	CHECK_EQ_STR(t.junit_path, ".lanser-build/ctest-junit.xml");
	CHECK(t.test_reason && strstr(t.test_reason, "CMakeLists.txt"));
	sbx_task_release(&t);
}

TEST(sbx_task__discovers_configure_then_make_check)
{
	struct sbx_task t;

	CHECK_EQ_INT(discover(&t, "disc-configure"), 0);
	CHECK_EQ_STR(t.test_argv[0], "make");
	CHECK_EQ_STR(t.test_argv[1], "check");
	CHECK(t.build_argv && strstr(t.build_argv[2], "./configure && make"));
	CHECK(strstr(t.test_reason, "autotools"));
	sbx_task_release(&t);
}

TEST(sbx_task__discovers_a_makefile_check_target)
{
	struct sbx_task t;

	CHECK_EQ_INT(discover(&t, "disc-makecheck"), 0);
	CHECK_EQ_STR(t.test_argv[1], "check");
	CHECK(!t.build_argv);
	CHECK(strstr(t.test_reason, "check target"));
	sbx_task_release(&t);
}

TEST(sbx_task__discovers_a_package_json_test_script)
{
	struct sbx_task t;

	CHECK_EQ_INT(discover(&t, "disc-npm"), 0);
	CHECK_EQ_STR(t.test_argv[0], "npm");
	CHECK_EQ_STR(t.test_argv[1], "test");
	CHECK(strstr(t.test_reason, "package.json"));
	sbx_task_release(&t);
}

TEST(sbx_task__discovers_pytest_with_a_src_layout)
{
	struct sbx_task t;

	CHECK_EQ_INT(discover(&t, "disc-pysrc"), 0);
	CHECK_EQ_STR(t.test_argv[0], "/usr/bin/python3");
	CHECK_EQ_STR(json_string_value(json_object_get(t.env, "PYTHONPATH")), "src");
	CHECK(strstr(t.test_reason, "[tool.pytest"));
	CHECK(strstr(t.test_reason, "PYTHONPATH=src"));
	sbx_task_release(&t);
}

TEST(sbx_task__discovers_pytest_from_tox_without_a_src_layout)
{
	struct sbx_task t;

	CHECK_EQ_INT(discover(&t, "disc-tox"), 0);
	CHECK_EQ_STR(t.test_argv[2], "pytest");
	CHECK(!json_object_get(t.env, "PYTHONPATH"));
	CHECK(strstr(t.test_reason, "tox.ini"));
	sbx_task_release(&t);
}
