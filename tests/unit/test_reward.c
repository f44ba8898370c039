/* The reward mathematics (rewards/reward.h) against the paper's worked
 * examples and hand-computed values; the arithmetic is in the comments. */
#include "tests/unit/harness.h"
#include "core/err.h"
#include "rewards/reward.h"

#include <math.h>
#include <stdlib.h>

static const struct rwd_weights W = { 0.5, 0.4, 0.1 };

TEST(test_reward__paper_reproduces_the_worked_examples)
{
	/* 0.5*1 + 0.4*1 - 0.1*(1-0.72) = 0.5 + 0.4 - 0.028 = 0.872 */
	struct rwd_step a = { 1, 0, 1, 0, 0.72 };
	/* 0.5*(5-2) + 0.4*1 - 0.1*(1-0.94) = 1.5 + 0.4 - 0.006 = 1.894 */
	struct rwd_step b = { 5, 2, 1, 0, 0.94 };
	/* 0.5*0 + 0.4*0 - 0.1*(1-0.62) = -0.038 */
	struct rwd_step c = { 7, 7, 0, 0, 0.62 };

	CHECK_EQ_DBL(rwd_process_step(RWD_PAPER, &W, &a), 0.872, 1e-12);
	CHECK_EQ_DBL(rwd_process_step(RWD_PAPER, &W, &b), 1.894, 1e-12);
	CHECK_EQ_DBL(rwd_process_step(RWD_PAPER, &W, &c), -0.038, 1e-12);
	CHECK_EQ_DBL(rwd_weights_default.wd, 0.5, 0);
	CHECK_EQ_DBL(rwd_weights_default.ws, 0.4, 0);
	CHECK_EQ_DBL(rwd_weights_default.wc, 0.1, 0);
}

TEST(test_reward__paper_counterexample_to_monotonicity)
{
	/* D unchanged (3 -> 3), S = 0 twice, c_{t-1} = c_t = 0.5: nothing got
	 * worse, yet the paper gives -0.1*(1-0.5) = -0.05; the default's
	 * ambiguity difference gives 0.1*(0.5-0.5) = 0. */
	struct rwd_step st = { 3, 3, 0, 0.5, 0.5 };
	CHECK_EQ_DBL(rwd_process_step(RWD_PAPER, &W, &st), -0.05, 1e-12);
	CHECK_EQ_DBL(rwd_process_step(RWD_DELTA, &W, &st), 0.0, 0);
}

TEST(test_reward__delta_hand_computed)
{
	/* 0.5*(4-1) + 0.4*1 + 0.1*(0.8-0.9) = 1.5 + 0.4 - 0.01 = 1.89 */
	struct rwd_step st = { 4, 1, 1, 0.9, 0.8 };
	CHECK_EQ_DBL(rwd_process_step(RWD_DELTA, &W, &st), 1.89, 1e-12);
}

TEST(test_reward__bounded_hand_computed_and_in_range)
{
	/* D 2 -> 1: m = max(2,1,1) = 2, dn = 0.5; r' = 0.5*0.5 + 0.4*1 +
	 * 0.1*(0.9-0.8) = 0.25 + 0.4 + 0.01 = 0.66; span = 2*0.5 + 0.4 +
	 * 2*0.1 = 1.6; R = (0.66 + 0.5 + 0.1) / 1.6 = 1.26 / 1.6 = 0.7875 */
	struct rwd_step st = { 2, 1, 1, 0.8, 0.9 };
	/* worst: D 0 -> 5 (dn = -1), S 0, c 1 -> 0: r' = -0.5 - 0.1 = -0.6 -> 0 */
	struct rwd_step worst = { 0, 5, 0, 1, 0 };
	/* best: D 5 -> 0, S 1, c 0 -> 1: r' = 0.5 + 0.4 + 0.1 = 1.0 -> 1.6/1.6 = 1 */
	struct rwd_step best = { 5, 0, 1, 0, 1 };
	/* neutral: nothing changes, S 0: (0 + 0.6) / 1.6 = 0.375 */
	struct rwd_step neutral = { 2, 2, 0, 0.5, 0.5 };

	CHECK_EQ_DBL(rwd_process_step(RWD_BOUNDED, &W, &st), 0.7875, 1e-12);
	CHECK_EQ_DBL(rwd_process_step(RWD_BOUNDED, &W, &worst), 0.0, 1e-15);
	CHECK_EQ_DBL(rwd_process_step(RWD_BOUNDED, &W, &best), 1.0, 1e-15);
	CHECK_EQ_DBL(rwd_process_step(RWD_BOUNDED, &W, &neutral), 0.375, 1e-12);
	/* episode: mean of 0.7875 and 0.375 = 0.58125 */
	{
		struct rwd_step two[2] = { { 2, 1, 1, 0.8, 0.9 }, { 2, 2, 0, 0.5, 0.5 } };
		CHECK_EQ_DBL(rwd_process_episode(&W, two, 2), 0.58125, 1e-12);
		CHECK_EQ_DBL(rwd_process_episode(&W, two, 0), 0.0, 0);
	}
}

/* A small deterministic generator (xorshift64*), so a failure reproduces. */
static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;
static double urand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

TEST(test_reward__delta_is_monotone_for_non_negative_weights)
{
	/* c_t >= c_{t-1}, S_t >= S_{t-1}, D_t <= D_{t-1}, weights >= 0 imply
	 * r_t >= 0 for the default, over 200000 random draws; the paper's form
	 * breaks it on a good share of the same draws. */
	int i, paper_negative = 0;

	for (i = 0; i < 200000; i++) {
		struct rwd_weights w = { urand() * 3, urand() * 3, urand() * 3 };
		double dprev = floor(urand() * 50) * (urand() < 0.5 ? 1 : 0.25);
		double cprev = urand();
		double sprev = urand() < 0.5 ? 0 : 1;
		struct rwd_step st;
		st.d_prev = dprev;
		st.d = dprev * urand();
		st.c_prev = cprev;
		st.c = cprev + (1 - cprev) * urand();
		st.s = sprev == 1 ? 1 : (urand() < 0.5 ? 0 : 1);
		if (rwd_process_step(RWD_DELTA, &w, &st) < 0) {
			test_fail(__FILE__, __LINE__, "negative reward at draw %d", i);
			return;
		}
		{
			double b = rwd_process_step(RWD_BOUNDED, &w, &st);
			double span = 2 * w.wd + w.ws + 2 * w.wc;
			/* bounded: in [0,1], and at or above its neutral point */
			CHECK(b >= 0 && b <= 1);
			CHECK(b >= (w.wd + w.wc) / span - 1e-12);
		}
		paper_negative += rwd_process_step(RWD_PAPER, &w, &st) < 0;
	}
	CHECK(paper_negative > 1000);
}

TEST(test_reward__step_check_rejects_bad_terms)
{
	struct rwd_step ok = { 1, 0, 1, 0.5, 0.6 }, st;
	struct rwd_weights neg = { -1, 0.4, 0.1 };

	CHECK_EQ_INT(rwd_step_check(RWD_DELTA, &W, &ok), 0);
	st = ok; st.d = -1;
	CHECK_EQ_INT(rwd_step_check(RWD_DELTA, &W, &st), LN_EUSAGE);
	st = ok; st.s = 0.5;
	CHECK_EQ_INT(rwd_step_check(RWD_DELTA, &W, &st), LN_EUSAGE);
	st = ok; st.c = 1.5;
	CHECK_EQ_INT(rwd_step_check(RWD_PAPER, &W, &st), LN_EUSAGE);
	st = ok; st.c_prev = NAN;
	CHECK_EQ_INT(rwd_step_check(RWD_DELTA, &W, &st), LN_EUSAGE);
	CHECK_EQ_INT(rwd_step_check(RWD_BOUNDED, &neg, &ok), LN_EUSAGE);
	CHECK_EQ_INT(rwd_step_check(RWD_DELTA, &neg, &ok), 0);
}

static json_t *diag(const char *path, int line, const char *sev, const char *msg)
{
	return json_pack("{s:s, s:s, s:[i,i,i,i], s:s, s:s, s:s}", "kind", "diagnostic",
			 "path", path, "range", line, 1, line, 5, "severity", sev, "message", msg,
			 "provenance", "lsp");
}

TEST(test_reward__diag_delta_matches_moved_diagnostics_by_key)
{
	/* before (a.c relevant, b.c not): X error l3, Y error l5, W warning l7 in
	 * a.c; Z error in b.c. After: X moved to l4 (kept), W kept, Y fixed, V new.
	 * D_before = 1 + 1 + 0.25 = 2.25; D_after = 1 (X) + 0.25 (W) + 1 (V) = 2.25.
	 * fixed 1 (Y), introduced 1 (V), kept 2 (X, W). */
	json_t *before = json_array(), *after = json_array();
	json_t *rel = json_pack("[s]", "a.c");
	struct rwd_diag_delta d;

	json_array_append_new(before, diag("a.c", 3, "error", "X"));
	json_array_append_new(before, diag("a.c", 5, "error", "Y"));
	json_array_append_new(before, diag("a.c", 7, "warning", "W"));
	json_array_append_new(before, diag("b.c", 1, "error", "Z"));
	json_array_append_new(before, json_pack("{s:s}", "kind", "definition"));
	json_array_append_new(after, diag("a.c", 4, "error", "X"));
	json_array_append_new(after, diag("a.c", 8, "warning", "W"));
	json_array_append_new(after, diag("a.c", 9, "error", "V"));
	json_array_append_new(after, diag("a.c", 9, "hint", "H"));
	CHECK_EQ_INT(rwd_diag_delta(&d, before, after, rel, NULL), 0);
	CHECK_EQ_DBL(d.d_before, 2.25, 0);
	CHECK_EQ_DBL(d.d_after, 2.25, 0);
	CHECK_EQ_INT(d.fixed, 1);
	CHECK_EQ_INT(d.introduced, 2); /* V and the hint H (weight 0, still counted) */
	CHECK_EQ_INT(d.kept, 2);
	/* every path relevant: Z (error, b.c) fixed too: D_before 3.25 */
	CHECK_EQ_INT(rwd_diag_delta(&d, before, after, NULL, NULL), 0);
	CHECK_EQ_DBL(d.d_before, 3.25, 0);
	CHECK_EQ_INT(d.fixed, 2);
	CHECK_EQ_INT(rwd_diag_delta(&d, before, rel, json_object_get(json_array_get(before, 0),
					"path"), NULL), LN_EGENERIC);
	json_decref(before);
	json_decref(after);
	json_decref(rel);
}

TEST(test_reward__diag_key_ignores_range_only)
{
	json_t *a = diag("a.c", 3, "error", "X"), *b = diag("a.c", 30, "error", "X");
	json_t *c = diag("a.c", 3, "warning", "X");
	char *ka = rwd_diag_key(a), *kb = rwd_diag_key(b), *kc = rwd_diag_key(c);

	CHECK(ka && kb && kc);
	CHECK_EQ_STR(ka, kb);
	CHECK(strcmp(ka, kc) != 0);
	free(ka); free(kb); free(kc);
	/* the enclosing symbol, when given, tells two places apart */
	json_object_set_new(a, "symbol", json_string("list_push"));
	json_object_set_new(b, "symbol", json_string("list_pop"));
	ka = rwd_diag_key(a);
	kb = rwd_diag_key(b);
	CHECK(strcmp(ka, kb) != 0);
	free(ka); free(kb);
	json_decref(a); json_decref(b); json_decref(c);
}

TEST(test_reward__outcome_fail_to_pass_and_pass_to_pass)
{
	/* t1 passed, t2 failed, t3 passed, t4 skipped: ran 3, passed 2 ->
	 * fraction 2/3. FAIL_TO_PASS [t1]: 1 of 1. PASS_TO_PASS [t3, t5]: t5
	 * did not run -> broken 1 -> R_outcome 0. */
	json_t *rec = json_loads("{\"completed\":true,\"tests\":["
		"{\"name\":\"t1\",\"outcome\":\"passed\"},{\"name\":\"t2\",\"outcome\":\"failed\"},"
		"{\"name\":\"t3\",\"outcome\":\"passed\"},{\"name\":\"t4\",\"outcome\":\"skipped\"}],"
		"\"failToPass\":[\"t1\"],\"passToPass\":[\"t3\",\"t5\"]}", 0, NULL);
	struct rwd_outcome o;

	CHECK(rec);
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(o.scorable);
	CHECK_EQ_DBL(o.pass_fraction, 2.0 / 3.0, 1e-15);
	CHECK_EQ_INT(o.f2p_total, 1);
	CHECK_EQ_INT(o.f2p_passed, 1);
	CHECK_EQ_INT(o.p2p_total, 2);
	CHECK_EQ_INT(o.p2p_broken, 1);
	CHECK_EQ_DBL(o.r_outcome, 0.0, 0);
	/* drop t5: every required test passed -> 1 (t2 is not required) */
	json_array_remove(json_object_get(rec, "passToPass"), 1);
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK_EQ_DBL(o.r_outcome, 1.0, 0);
	/* no required lists: every test that ran must pass -> t2 fails it */
	json_object_del(rec, "failToPass");
	json_object_del(rec, "passToPass");
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK_EQ_DBL(o.r_outcome, 0.0, 0);
	json_decref(rec);
}

TEST(test_reward__outcome_unscorable_and_malformed)
{
	json_t *rec = json_loads("{\"completed\":false,\"reason\":\"timeout after 600 s\"}", 0, NULL);
	json_t *badrec = json_loads("{\"completed\":true,\"tests\":[{\"name\":\"a\",\"outcome\":"
				    "\"maybe\"}]}", 0, NULL);
	struct rwd_outcome o;

	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(!o.scorable);
	CHECK_EQ_STR(o.reason, "timeout after 600 s");
	CHECK_EQ_INT(rwd_outcome_read(&o, badrec), LN_EGENERIC);
	CHECK_EQ_INT(rwd_outcome_read(&o, json_object_get(rec, "reason")), LN_EGENERIC);
	json_decref(rec);
	json_decref(badrec);
}

TEST(test_reward__episode_modes)
{
	/* format 1, outcome 1, process 0.7875:
	 *   p-grpo 1 + 1 + 1*0.7875 = 2.7875; sum 2.7875; outcome 1; process 0.7875
	 * outcome 0: p-grpo 1 + 0 + 0*0.7875 = 1; sum 1.7875 */
	struct rwd_episode ep = { true, "", 1, 1, 0.7875 };

	CHECK_EQ_DBL(rwd_episode_reward(RWD_EP_PGRPO, &ep), 2.7875, 1e-15);
	CHECK_EQ_DBL(rwd_episode_reward(RWD_EP_SUM, &ep), 2.7875, 1e-15);
	CHECK_EQ_DBL(rwd_episode_reward(RWD_EP_OUTCOME, &ep), 1, 0);
	CHECK_EQ_DBL(rwd_episode_reward(RWD_EP_PROCESS, &ep), 0.7875, 0);
	ep.r_outcome = 0;
	CHECK_EQ_DBL(rwd_episode_reward(RWD_EP_PGRPO, &ep), 1.0, 0);
	CHECK_EQ_DBL(rwd_episode_reward(RWD_EP_SUM, &ep), 1.7875, 1e-15);
	ep.scorable = false;
	CHECK(isnan(rwd_episode_reward(RWD_EP_PGRPO, &ep)));
}

TEST(test_reward__outcome_reads_lanser_test_records)
{
	/* the sandbox's record (issue 6): a passes (FAIL_TO_PASS fixed), b
	 * fails (PASS_TO_PASS broken) -> R_outcome 0; pass fraction 1/2 */
	json_t *rec = json_loads("{\"request\":{\"FAIL_TO_PASS\":[\"a\"],\"PASS_TO_PASS\":[\"b\"]},"
		"\"outcome\":{\"status\":\"failed\",\"tests\":[{\"id\":\"a\",\"status\":\"passed\"},"
		"{\"id\":\"b\",\"status\":\"failed\"}]}}", 0, NULL);
	struct rwd_outcome o;

	CHECK(rec);
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(o.scorable);
	CHECK_EQ_INT(o.f2p_passed, 1);
	CHECK_EQ_INT(o.p2p_broken, 1);
	CHECK_EQ_DBL(o.r_outcome, 0, 0);
	CHECK_EQ_DBL(o.pass_fraction, 0.5, 0);
	/* b passes too -> 1 */
	json_object_set_new(json_array_get(json_object_get(json_object_get(rec, "outcome"), "tests"),
					   1), "status", json_string("passed"));
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK_EQ_DBL(o.r_outcome, 1, 0);
	/* a limit is the run's failure, not the candidate's: unscorable */
	json_object_set_new(json_object_get(rec, "outcome"), "status", json_string("limit"));
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(!o.scorable);
	CHECK(strstr(o.reason, "limit") != NULL);
	/* a patch that does not apply: scorable, outcome 0, flagged */
	json_object_set_new(json_object_get(rec, "outcome"), "status", json_string("patch-failed"));
	json_object_set_new(json_object_get(rec, "outcome"), "tests", json_array());
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(o.scorable && o.patch_failed);
	CHECK_EQ_DBL(o.r_outcome, 0, 0);
	json_decref(rec);
}

TEST(test_reward__a_build_failure_is_the_candidates_outcome)
{
	/* the candidate broke a base that builds: scored, R_outcome 0 */
	json_t *rec = json_loads("{\"request\":{},\"outcome\":{\"status\":\"build-failed\","
		"\"tests\":[]}}", 0, NULL);
	struct rwd_outcome o;

	CHECK(rec);
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(o.scorable && o.build_failed && !o.from_exit_status);
	CHECK_EQ_DBL(o.r_outcome, 0, 0);
	/* the base does not build either: not the candidate's fault */
	json_object_set_new(json_object_get(rec, "outcome"), "status",
			    json_string("base-build-failed"));
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(!o.scorable);
	CHECK(strstr(o.reason, "base-build-failed") != NULL);
	json_decref(rec);
}

TEST(test_reward__no_per_test_results_take_the_exit_status)
{
	/* a test command that exited 0 and printed no per-test results */
	json_t *rec = json_loads("{\"request\":{},\"outcome\":{\"status\":\"passed\","
		"\"tests\":[]}}", 0, NULL);
	json_t *j;
	struct rwd_outcome o;

	CHECK(rec);
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(o.scorable && o.from_exit_status);
	CHECK_EQ_DBL(o.r_outcome, 1, 0);
	j = rwd_outcome_json(&o);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "outcomeFrom")), "exitStatus");
	json_decref(j);
	/* ... that exited non-zero */
	json_object_set_new(json_object_get(rec, "outcome"), "status", json_string("failed"));
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(o.scorable && o.from_exit_status);
	CHECK_EQ_DBL(o.r_outcome, 0, 0);
	/* required tests listed: they are missing, whatever the exit status */
	json_object_set_new(json_object_get(rec, "outcome"), "status", json_string("passed"));
	json_object_set_new(json_object_get(rec, "request"), "FAIL_TO_PASS",
			    json_pack("[s]", "t1"));
	CHECK_EQ_INT(rwd_outcome_read(&o, rec), 0);
	CHECK(o.scorable && !o.from_exit_status);
	CHECK_EQ_DBL(o.r_outcome, 0, 0);
	json_decref(rec);
}
