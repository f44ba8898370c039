/* The pure parts of the evaluation engine (engine/relevance.h,
 * rewards/diagdelta.h, the policy and settings of engine/engine.h): which
 * lines and symbols a change touched, which diagnostics it introduced,
 * and where an evaluation's configuration comes from. */
#include "tests/unit/harness.h"

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "engine/engine.h"
#include "engine/relevance.h"
#include "engine/testrun.h"
#include "rewards/diagdelta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

static void lines_of(const char *a, const char *b, long *lo, long *hi)
{
	eng_changed_lines(a, strlen(a), b, strlen(b), lo, hi);
}

TEST(test_engine__changed_lines_of_one_modified_line)
{
	long lo = -1, hi = -1;

	lines_of("a\nb\nc\n", "a\nB\nc\n", &lo, &hi);
	CHECK_EQ_INT(lo, 1);
	CHECK_EQ_INT(hi, 1);
}

TEST(test_engine__changed_lines_span_two_distant_hunks)
{
	long lo = -1, hi = -1;

	lines_of("l0\nl1\nl2\nl3\nl4\n", "l0\nX1\nl2\nX3\nl4\n", &lo, &hi);
	CHECK_EQ_INT(lo, 1);
	CHECK_EQ_INT(hi, 3);
}

TEST(test_engine__changed_lines_of_an_insertion_and_a_deletion)
{
	long lo = -1, hi = -1;

	/* a line inserted after line 0: the region is line 1 of the old text */
	lines_of("a\nc\n", "a\nb\nc\n", &lo, &hi);
	CHECK_EQ_INT(lo, 1);
	CHECK_EQ_INT(hi, 1);
	/* the last two lines deleted */
	lines_of("a\nb\nc\n", "a\n", &lo, &hi);
	CHECK_EQ_INT(lo, 1);
	CHECK_EQ_INT(hi, 3);
	/* nothing changed: an empty region at the end, never hi < lo */
	lines_of("a\nb\n", "a\nb\n", &lo, &hi);
	CHECK_EQ_INT(lo, 2);
	CHECK_EQ_INT(hi, 2);
}

/* A documentSymbol answer: struct S (lines 0-4) with fields x (1), y (2);
 * function f (6-10) with a local v (8); function g (12-14). */
static json_t *symbols(void)
{
	return json_pack("[{s:s, s:i, s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:{s:{s:i, s:i}}, s:["
			 "{s:s, s:i, s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:{s:{s:i, s:i}}},"
			 "{s:s, s:i, s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:{s:{s:i, s:i}}}]},"
			 "{s:s, s:i, s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:{s:{s:i, s:i}}, s:["
			 "{s:s, s:i, s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:{s:{s:i, s:i}}}]},"
			 "{s:s, s:i, s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:{s:{s:i, s:i}}}]",
		"name", "S", "kind", 23, "range", "start", "line", 0, "character", 0, "end", "line", 4,
		"character", 1, "selectionRange", "start", "line", 0, "character", 7, "children",
		"name", "x", "kind", 8, "range", "start", "line", 1, "character", 0, "end", "line", 1,
		"character", 6, "selectionRange", "start", "line", 1, "character", 5,
		"name", "y", "kind", 8, "range", "start", "line", 2, "character", 0, "end", "line", 2,
		"character", 6, "selectionRange", "start", "line", 2, "character", 5,
		"name", "f", "kind", 12, "range", "start", "line", 6, "character", 0, "end", "line", 10,
		"character", 1, "selectionRange", "start", "line", 6, "character", 4, "children",
		"name", "v", "kind", 13, "range", "start", "line", 8, "character", 1, "end", "line", 8,
		"character", 9, "selectionRange", "start", "line", 8, "character", 5,
		"name", "g", "kind", 12, "range", "start", "line", 12, "character", 0, "end", "line",
		14, "character", 1, "selectionRange", "start", "line", 12, "character", 4);
}

static long point_line(const json_t *out, size_t i)
{
	return (long)json_integer_value(json_object_get(json_array_get(out, i), "line"));
}

TEST(test_engine__touched_symbols_are_the_innermost_and_a_function_is_a_leaf)
{
	json_t *syms = symbols(), *out = json_array();

	CHECK(syms != NULL);
	/* a change inside f's body names f, not its local v */
	eng_touched_symbols(syms, 8, 8, 16, out);
	CHECK_EQ_INT(json_array_size(out), 1);
	CHECK_EQ_INT(point_line(out, 0), 6);
	/* a change to field y names y, not S */
	json_array_clear(out);
	eng_touched_symbols(syms, 2, 2, 16, out);
	CHECK_EQ_INT(json_array_size(out), 1);
	CHECK_EQ_INT(point_line(out, 0), 2);
	/* lines 1-12: x, y, f, g in document order */
	json_array_clear(out);
	eng_touched_symbols(syms, 1, 12, 16, out);
	CHECK_EQ_INT(json_array_size(out), 4);
	CHECK_EQ_INT(point_line(out, 0), 1);
	CHECK_EQ_INT(point_line(out, 3), 12);
	/* ... capped */
	json_array_clear(out);
	eng_touched_symbols(syms, 1, 12, 2, out);
	CHECK_EQ_INT(json_array_size(out), 2);
	/* a blank line between symbols touches none */
	json_array_clear(out);
	eng_touched_symbols(syms, 11, 11, 16, out);
	CHECK_EQ_INT(json_array_size(out), 0);
	json_decref(syms);
	json_decref(out);
}

TEST(test_engine__touched_symbols_of_flat_symbol_information)
{
	json_t *syms = json_pack("[{s:s, s:i, s:{s:s, s:{s:{s:i, s:i}, s:{s:i, s:i}}}}]",
		"name", "h", "kind", 12, "location", "uri", "file:///w/a.py", "range", "start",
		"line", 3, "character", 0, "end", "line", 5, "character", 0);
	json_t *out = json_array();

	eng_touched_symbols(syms, 4, 4, 16, out);
	CHECK_EQ_INT(json_array_size(out), 1);
	CHECK_EQ_INT(point_line(out, 0), 3);
	json_decref(syms);
	json_decref(out);
}

static json_t *diag(const char *path, const char *sev, const char *msg, int line)
{
	return json_pack("{s:s, s:s, s:[i, i, i, i], s:s, s:s}", "kind", "diagnostic", "path", path,
			 "range", line, 1, line, 2, "severity", sev, "message", msg);
}

TEST(test_engine__introduced_facts_are_the_surplus_per_key_last_ones_first)
{
	json_t *before = json_array(), *after = json_array(), *out;

	json_array_append_new(before, diag("a.c", "error", "A", 1));
	json_array_append_new(before, diag("a.c", "warning", "B", 2));
	/* A twice (moved and a new copy), B kept, C new, a non-diagnostic */
	json_array_append_new(after, diag("a.c", "error", "A", 5));
	json_array_append_new(after, diag("a.c", "error", "A", 9));
	json_array_append_new(after, diag("b.c", "error", "C", 3));
	json_array_append_new(after, diag("a.c", "warning", "B", 2));
	json_array_append_new(after, json_pack("{s:s}", "kind", "definition"));
	out = rwd_introduced_facts(before, after);
	CHECK_EQ_INT(json_array_size(out), 2);
	/* the second A (line 9), not the first: the first uses up the old one */
	CHECK(json_array_get(out, 0) == json_array_get(after, 1));
	CHECK(json_array_get(out, 1) == json_array_get(after, 2));
	CHECK_EQ_INT(rwd_count_severity(out, "error"), 2);
	CHECK_EQ_INT(rwd_count_severity(after, "warning"), 1);
	json_decref(out);
	/* nothing introduced when after is a subset */
	out = rwd_introduced_facts(after, before);
	CHECK_EQ_INT(json_array_size(out), 0);
	json_decref(out);
	json_decref(before);
	json_decref(after);
}

TEST(test_engine__touched_files_once_each_with_old_names_then_sorted)
{
	struct sbx_file f[3];
	struct sbx_edits e;
	json_t *out;

	memset(f, 0, sizeof f);
	f[0].path = "src/z.c";
	f[1].path = "src/new.h";
	f[1].from = "src/old.h";
	f[2].path = "src/z.c";
	memset(&e, 0, sizeof e);
	e.v = f;
	e.n = 3;
	out = eng_touched_files(&e);
	CHECK_EQ_INT(json_array_size(out), 3);
	CHECK_EQ_STR(json_string_value(json_array_get(out, 0)), "src/z.c");
	CHECK_EQ_STR(json_string_value(json_array_get(out, 2)), "src/old.h");
	CHECK(eng_paths_has(out, "src/new.h"));
	CHECK(!eng_paths_has(out, "src/new"));
	eng_paths_sort(out);
	CHECK_EQ_STR(json_string_value(json_array_get(out, 0)), "src/new.h");
	CHECK_EQ_STR(json_string_value(json_array_get(out, 1)), "src/old.h");
	CHECK_EQ_STR(json_string_value(json_array_get(out, 2)), "src/z.c");
	json_decref(out);
}

static int policy_of(struct eng_policy *p, const char *text)
{
	json_t *cfg = json_loads(text, 0, NULL);
	int error = eng_policy_parse(p, cfg);
	json_decref(cfg);
	return error;
}

TEST(test_engine__policy_defaults_bounds_and_errors)
{
	struct eng_policy p;
	json_t *j;

	CHECK_EQ_INT(policy_of(&p, "{}"), 0);
	CHECK_EQ_INT(p.max_new_errors, 0);
	CHECK(p.require_tests);
	CHECK(!p.has_min_reward);
	CHECK_EQ_INT(policy_of(&p, "{\"policy\": {\"maxNewErrors\": null, \"requireTests\": false, "
			       "\"minReward\": 1.5}}"), 0);
	CHECK_EQ_INT(p.max_new_errors, -1);
	CHECK(!p.require_tests);
	CHECK(p.has_min_reward);
	CHECK_EQ_DBL(p.min_reward, 1.5, 0);
	j = eng_policy_json(&p);
	CHECK(json_is_null(json_object_get(j, "maxNewErrors")));
	CHECK_EQ_DBL(json_number_value(json_object_get(j, "minReward")), 1.5, 0);
	json_decref(j);
	CHECK_EQ_INT(policy_of(&p, "{\"policy\": {\"maxNewErrors\": -1}}"), LN_ECONFIG);
	CHECK_EQ_INT(policy_of(&p, "{\"policy\": {\"maxNewErrors\": 1000001}}"), LN_ECONFIG);
	CHECK_EQ_INT(policy_of(&p, "{\"policy\": {\"minReward\": \"high\"}}"), LN_ECONFIG);
	CHECK_EQ_INT(policy_of(&p, "{\"policy\": {\"maxErrors\": 1}}"), LN_ECONFIG);
	CHECK(strstr(ln_error_msg(), "policy.maxErrors is not a policy member") != NULL);
	CHECK_EQ_INT(policy_of(&p, "{\"policy\": []}"), LN_ECONFIG);
	ln_error_clear();
}

static int sh(const char *dir, const char *script)
{
	struct buf cmd = BUF_INIT;
	int rc;

	buf_addf(&cmd, "cd %s && %s", dir, script);
	rc = system(cmd.data);
	buf_release(&cmd);
	return rc;
}

/* One loader, two sources: an evaluation reads the base revision's
 * .lanser.json (the working tree's may be the candidate's), a test run the
 * working tree's, and only an evaluation has a policy to parse. */
TEST(test_engine__settings_come_from_the_base_for_an_evaluation)
{
	char dir[] = "/tmp/lanser-engine-XXXXXX";
	struct eng_settings s;
	struct eng_source src;
	struct ln_config cfg;
	int error;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(sh(dir, "git init -q . && printf '{\"test\": [\"true\"], \"policy\": "
			"{\"maxNewErrors\": 3}}' >.lanser.json && git add -A && git -c "
			"user.email=t@e -c user.name=t commit -qm base && printf '{\"test\": "
			"[\"false\"], \"policy\": {\"maxNewErrors\": \"many\"}}' >.lanser.json"), 0);
	memset(&src, 0, sizeof src);
	src.from = ENG_CONFIG_BASE;
	src.root = dir;
	src.cwd = dir;
	error = eng_settings_load(&s, &src);
	CHECK_EQ_INT(error, 0);
	CHECK_EQ_INT(s.policy.max_new_errors, 3);
	CHECK_EQ_STR(s.task.test_argv[0], "true");
	CHECK_EQ_STR(s.task.base, "HEAD");
	CHECK_EQ_STR(s.root, dir);
	CHECK(json_is_object(s.servers));
	eng_settings_release(&s);

	/* the working tree's, for a test run: its (bad) policy is not read */
	memset(&cfg, 0, sizeof cfg);
	CHECK_EQ_INT(ln_config_load(&cfg, dir), 0);
	src.from = ENG_CONFIG_WORKTREE;
	src.cfg = &cfg;
	error = eng_settings_load(&s, &src);
	CHECK_EQ_INT(error, 0);
	CHECK_EQ_STR(s.task.test_argv[0], "false");
	CHECK(s.task.base == NULL);
	CHECK_EQ_STR(s.digest, cfg.digest);
	eng_settings_release(&s);
	ln_config_release(&cfg);

	/* a base that does not exist, and a bad policy at the base */
	src.from = ENG_CONFIG_BASE;
	src.base = "no-such-rev";
	CHECK_EQ_INT(eng_settings_load(&s, &src), LN_ENOTFOUND);
	eng_settings_release(&s);
	CHECK_EQ_INT(sh(dir, "git -c user.email=t@e -c user.name=t commit -qam bad"), 0);
	src.base = NULL;
	CHECK_EQ_INT(eng_settings_load(&s, &src), LN_ECONFIG);
	CHECK(strstr(ln_error_msg(), "policy.maxNewErrors") != NULL);
	eng_settings_release(&s);
	ln_error_clear();
	{
		struct buf rm = BUF_INIT;
		buf_addf(&rm, "rm -rf %s", dir);
		CHECK_EQ_INT(system(rm.data), 0);
		buf_release(&rm);
	}
}

/* ---- the engine's API end to end, on files no language server reads
 * (so no server runs: diagnostics are empty, D 0 -> 0), with a TAP test
 * command run through the sandbox without isolation ---- */

static char *diff_of(const char *repo, const char *edit)
{
	struct buf cmd = BUF_INIT, out = BUF_INIT;
	char path[256];

	snprintf(path, sizeof path, "%s/../cand.diff", repo);
	buf_addf(&cmd, "%s && git diff HEAD >%s && git reset -q --hard", edit, path);
	if (sh(repo, cmd.data) || buf_read_file(&out, path, 1 << 20)) {
		buf_release(&cmd);
		buf_release(&out);
		return NULL;
	}
	buf_release(&cmd);
	return buf_detach(&out, NULL);
}

static int eval_one(struct eng *e, const char *id, const char *patch, struct eng_result *r)
{
	struct eng_candidate c = { id, patch, patch ? strlen(patch) : 0, patch ? NULL : "none" };
	return eng_eval(e, &c, r);
}

struct engine_fixture {
	char top[64], repo[128];
	char *good, *bad, *del;
	struct eng_settings s;
	struct eng_opts o;
};

static int engine_fixture_init(struct engine_fixture *f)
{
	struct eng_source src;
	char run[160];

	memset(f, 0, sizeof *f);
	snprintf(f->top, sizeof f->top, "/tmp/lanser-engine-XXXXXX");
	if (!mkdtemp(f->top))
		return -1;
	snprintf(f->repo, sizeof f->repo, "%s/repo", f->top);
	snprintf(run, sizeof run, "%s/run", f->top);
	if (mkdir(run, 0700) || mkdir(f->repo, 0755))
		return -1;
	setenv("XDG_RUNTIME_DIR", run, 1);
	/* the test passes while notes.txt says "two" */
	if (sh(f->repo, "git init -q . && printf 'one\\ntwo\\n' >notes.txt && echo x >gone.txt && "
	       "printf '{\"test\": [\"sh\", \"-c\", \"echo 1..1; if grep -q two notes.txt; then "
	       "echo ok 1 - two; else echo not ok 1 - two; exit 1; fi\"]}' >.lanser.json && "
	       "git add -A && git -c user.email=t@e -c user.name=t commit -qm base"))
		return -1;
	f->good = diff_of(f->repo, "echo three >>notes.txt");
	f->bad = diff_of(f->repo, "printf 'one\\n' >notes.txt");
	f->del = diff_of(f->repo, "git rm -q gone.txt");
	if (!f->good || !f->bad || !f->del)
		return -1;
	memset(&src, 0, sizeof src);
	src.from = ENG_CONFIG_BASE;
	src.root = f->repo;
	src.cwd = f->repo;
	src.no_isolation = true;
	if (eng_settings_load(&f->s, &src))
		return -1;
	f->o.settings = &f->s;
	f->o.mode = RWD_EP_PGRPO;
	f->o.weights = rwd_weights_default;
	f->o.index_io = LN_ENC_CODEPOINT;
	f->o.init_ms = f->o.request_ms = f->o.index_ms = f->o.diagnostics_ms = 10000;
	f->o.jobs = 2;
	f->o.no_isolation = true;
	return 0;
}

static void engine_fixture_release(struct engine_fixture *f)
{
	struct buf rm = BUF_INIT;

	free(f->good);
	free(f->bad);
	free(f->del);
	eng_settings_release(&f->s);
	buf_addf(&rm, "rm -rf %s", f->top);
	if (system(rm.data))
		fprintf(stderr, "cannot remove %s\n", f->top);
	buf_release(&rm);
}

TEST(test_engine__one_open_engine_scores_candidate_after_candidate)
{
	struct engine_fixture f;
	struct eng *e = NULL;
	struct eng_result r1, r2, r3, r4;
	char id1[80];

	CHECK_EQ_INT(engine_fixture_init(&f), 0);
	CHECK_EQ_INT(eng_open(&e, &f.o), 0);
	CHECK_EQ_INT(strlen(eng_base_oid(e)), 40);
	/* a good candidate: usable, tests pass, D 0 -> 0: 1 + 1 + 0.625 */
	CHECK_EQ_INT(eval_one(e, "good", f.good, &r1), 0);
	CHECK(r1.usable && r1.diagnosed && r1.ep.scorable && r1.accepted);
	CHECK_EQ_INT(r1.code, 0);
	CHECK_EQ_DBL(r1.reward, 2.625, 1e-12);
	CHECK_EQ_STR(json_string_value(json_array_get(r1.relevant, 0)), "notes.txt");
	CHECK(r1.record != NULL);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(r1.bundle, "meta"),
							"exitCode")), 0);
	snprintf(id1, sizeof id1, "%s", json_string_value(json_object_get(r1.bundle, "bundleId")));
	/* the next step on the same engine: tests fail, rejected (84) */
	CHECK_EQ_INT(eval_one(e, "bad", f.bad, &r2), 0);
	CHECK(r2.usable && r2.ep.scorable && !r2.accepted);
	CHECK_EQ_DBL(r2.ep.r_outcome, 0, 0);
	CHECK_EQ_DBL(r2.reward, 1, 1e-12);
	CHECK_EQ_INT(r2.code, 0);
	CHECK_EQ_INT(json_array_size(r2.reasons), 1);
	/* no patch: R_format 0, scored 0, the note kept */
	CHECK_EQ_INT(eval_one(e, "junk", NULL, &r3), 0);
	CHECK(!r3.usable && r3.ep.scorable && !r3.accepted);
	CHECK_EQ_DBL(r3.reward, 0, 0);
	CHECK_EQ_STR(r3.format_note, "none");
	CHECK(r3.record == NULL);
	/* the first candidate again: the same bundle */
	CHECK_EQ_INT(eval_one(e, "good", f.good, &r4), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(r4.bundle, "bundleId")), id1);
	eng_result_release(&r1);
	eng_result_release(&r2);
	eng_result_release(&r3);
	eng_result_release(&r4);
	eng_close(e);
	CHECK_EQ_INT(sh(f.repo, "test \"$(git worktree list | wc -l)\" = 1"), 0);
	engine_fixture_release(&f);
}

TEST(test_engine__a_base_not_restored_makes_later_candidates_unscorable)
{
	struct engine_fixture f;
	struct eng *e = NULL;
	struct eng_candidate c[2];
	struct eng_result r[2], r3;
	int error;

	CHECK_EQ_INT(engine_fixture_init(&f), 0);
	CHECK_EQ_INT(eng_open(&e, &f.o), 0);
	memset(c, 0, sizeof c);
	c[0].id = "del";
	c[0].patch = f.del;
	c[0].len = strlen(f.del);
	c[1].id = "after";
	c[1].patch = f.good;
	c[1].len = strlen(f.good);
	setenv(ENG_RESTORE_FAULT_ENV, "del", 1);
	error = eng_eval_group(e, c, 2, r);
	unsetenv(ENG_RESTORE_FAULT_ENV);
	CHECK_EQ_INT(error, 0);
	/* the deleting candidate keeps its own result */
	CHECK(r[0].usable && r[0].diagnosed && r[0].ep.scorable);
	/* the next one is not diagnosed on the damaged base */
	CHECK(r[1].usable && !r[1].diagnosed && !r[1].ep.scorable && !r[1].accepted);
	CHECK(isnan(r[1].reward));
	CHECK_EQ_INT(r[1].code, LN_ESANDBOX);
	CHECK(strstr(r[1].ep.reason, "not restored after candidate del") != NULL);
	/* ... nor in a later call on the same engine */
	CHECK_EQ_INT(eval_one(e, "later", f.good, &r3), 0);
	CHECK(!r3.ep.scorable && strstr(r3.ep.reason, "not restored") != NULL);
	eng_result_release(&r[0]);
	eng_result_release(&r[1]);
	eng_result_release(&r3);
	eng_close(e);
	/* a fresh engine on the same base is clean again */
	CHECK_EQ_INT(eng_open(&e, &f.o), 0);
	CHECK_EQ_INT(eval_one(e, "fresh", f.good, &r3), 0);
	CHECK(r3.ep.scorable && r3.accepted);
	eng_result_release(&r3);
	eng_close(e);
	engine_fixture_release(&f);
}

TEST(test_engine__failure_tail_keeps_a_failure_line_far_above_the_summary)
{
	/* ctest --output-on-failure on cJSON (a real run): Unity's FAIL line
	 * comes first, then the other tests' PASS lines and ctest's summary;
	 * the last lines alone never said which assertion failed */
	struct buf out = BUF_INIT;
	json_t *rec;
	char *t;
	int i;

	buf_addf(&out, "1/2 Test #1: misc_tests ...***Failed\n");
	buf_addf(&out, "/st/wt/lanser-1-1/tests/misc_tests.c:173:"
		 "typecheck_functions_should_check_type:FAIL: Expected FALSE Was TRUE\n");
	for (i = 0; i < 40; i++)
		buf_addf(&out, "tests/misc_tests.c:%d:test_%d_should_not_fail_or_report_error:PASS\n",
			 800 + i, i & 1);
	buf_addf(&out, "50%% tests passed, 1 tests failed out of 2\nErrors while running CTest\n");
	/* the worktree's path is taken out of the lines */
	rec = json_pack("{s:{s:s}, s:{s:{s:s, s:{s:{s:s, s:s}}}}}", "outcome", "status", "failed",
			"meta", "volatile", "worktree", "/st/wt/lanser-1-1", "output", "test",
			"stdout", out.data, "stderr", "");
	CHECK(rec);
	t = eng_record_failure_tail(rec, 2);
	CHECK(t != NULL);
	if (t)
		CHECK_EQ_STR(t, "    1/2 Test #1: misc_tests ...***Failed\n"
			     "    tests/misc_tests.c:173:typecheck_functions_should_check_type:FAIL: "
			     "Expected FALSE Was TRUE\n"
			     "    ...\n"
			     "    50% tests passed, 1 tests failed out of 2\n"
			     "    Errors while running CTest\n");
	free(t);
	json_decref(rec);
	buf_release(&out);
}

TEST(test_engine__failure_tail_leaves_out_passing_tests_of_pytest_ra)
{
	/* pytest -rA on tomli (a real run): one PASSED line per passing test
	 * after the failure; the tail was all PASSED lines, and pytest's
	 * "=== FAILURES ===" ruler and a source line "except AttributeError:"
	 * are not failures */
	struct buf out = BUF_INIT;
	json_t *rec;
	char *t;
	int i;

	buf_addf(&out, "=================================== FAILURES ===================================\n"
		 "        except AttributeError:\n"
		 "E       TypeError: loads() got an unexpected keyword argument 'strict'\n"
		 "src/tomli/_parser.py:146: TypeError\n"
		 "=========================== short test summary info ============================\n");
	for (i = 0; i < 15; i++)
		buf_addf(&out, "PASSED tests/test_misc.py::TestMiscellaneous::test_%d\n", i);
	buf_addf(&out, "SKIPPED [1] tests/test_misc.py:9: no mypyc\n"
		 "FAILED tests/test_misc.py::TestMiscellaneous::test_load - TypeError: loads() ...\n"
		 "1 failed, 15 passed in 0.30s\n");
	rec = json_pack("{s:{s:s}, s:{s:{s:{s:{s:s, s:s}}}}}", "outcome", "status", "failed",
			"meta", "volatile", "output", "test", "stdout", out.data, "stderr", "");
	CHECK(rec);
	t = eng_record_failure_tail(rec, 3);
	CHECK(t != NULL);
	if (t)
		CHECK_EQ_STR(t, "    E       TypeError: loads() got an unexpected keyword argument 'strict'\n"
			     "    ...\n"
			     "    =========================== short test summary info ============================\n"
			     "    FAILED tests/test_misc.py::TestMiscellaneous::test_load - TypeError: loads() ...\n"
			     "    1 failed, 15 passed in 0.30s\n");
	free(t);
	json_decref(rec);
	buf_release(&out);
}

TEST(test_engine__failure_tail_shows_the_failing_steps_last_lines)
{
	/* a build that failed: its output, not the (absent) test's; the last
	 * 2 non-empty lines of stdout, then of stderr */
	json_t *rec = json_loads("{\"outcome\":{\"status\":\"build-failed\"},\"meta\":{\"volatile\":"
		"{\"output\":{\"build\":{\"stdout\":\"cc a.c\\none\\n\\ntwo\\n\",\"stderr\":"
		"\"a.c:1: error: x\\r\\n\\nmake: *** Error 1\"}}}}}", 0, NULL);
	char *t;

	CHECK(rec);
	t = eng_record_failure_tail(rec, 2);
	CHECK(t != NULL);
	if (t)
		CHECK_EQ_STR(t, "    one\n    two\n    a.c:1: error: x\n    make: *** Error 1\n");
	free(t);
	/* a passing record has nothing to explain */
	json_object_set_new(json_object_get(rec, "outcome"), "status", json_string("passed"));
	CHECK(eng_record_failure_tail(rec, 2) == NULL);
	json_decref(rec);
}
