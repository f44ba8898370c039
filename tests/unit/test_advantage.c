/* GRPO advantages (rewards/advantage.h) against hand-computed vectors. */
#include "tests/unit/harness.h"
#include "rewards/advantage.h"
#include "core/err.h"

#include <math.h>

/* r = [0, 2, 4]: mean 2, deviations -2 0 2, sum of squares 8, sample
 * variance 8/(3-1) = 4, std 2. */
static const double R3[3] = { 0, 2, 4 };

TEST(test_advantage__grpo_presets)
{
	double a[3];
	struct rwd_adv_info in;

	/* trl: 2 / (2 + 1e-4) = 2 / 2.0001 */
	rwd_adv_outcome(a, &in, R3, 3, RWD_ADV_GRPO, RWD_PRESET_TRL, -1, 0);
	CHECK_EQ_DBL(in.mean, 2, 0);
	CHECK_EQ_DBL(in.std, 2, 0);
	CHECK_EQ_DBL(a[0], -2 / 2.0001, 1e-15);
	CHECK_EQ_DBL(a[1], 0, 0);
	CHECK_EQ_DBL(a[2], 2 / 2.0001, 1e-15);
	/* verl: 2 / 2.000001 */
	rwd_adv_outcome(a, &in, R3, 3, RWD_ADV_GRPO, RWD_PRESET_VERL, -1, 0);
	CHECK_EQ_DBL(a[2], 2 / 2.000001, 1e-15);
	/* openrlhf: 2 / 2.000000001 */
	rwd_adv_outcome(a, &in, R3, 3, RWD_ADV_GRPO, RWD_PRESET_OPENRLHF, -1, 0);
	CHECK_EQ_DBL(a[0], -2 / 2.000000001, 1e-15);
	/* explicit eps 0: exactly -1 0 1 */
	rwd_adv_outcome(a, &in, R3, 3, RWD_ADV_GRPO, RWD_PRESET_TRL, 0, 0);
	CHECK_EQ_DBL(a[0], -1, 0);
	CHECK_EQ_DBL(a[2], 1, 0);
	CHECK_EQ_DBL(rwd_preset_eps(RWD_PRESET_TRL), 1e-4, 0);
	CHECK_EQ_DBL(rwd_preset_eps(RWD_PRESET_VERL), 1e-6, 0);
	CHECK_EQ_DBL(rwd_preset_eps(RWD_PRESET_OPENRLHF), 1e-9, 0);
}

TEST(test_advantage__binary_group_uses_bessel)
{
	/* [1, 0, 0, 1]: mean 0.5, sum of squares 4 * 0.25 = 1, variance 1/3,
	 * std sqrt(1/3) = 0.5773502691896258 (population std would be 0.5). */
	static const double r[4] = { 1, 0, 0, 1 };
	double a[4];
	struct rwd_adv_info in;

	rwd_adv_outcome(a, &in, r, 4, RWD_ADV_GRPO, RWD_PRESET_TRL, -1, 0);
	CHECK_EQ_DBL(in.std, 0.5773502691896258, 1e-15);
	CHECK_EQ_DBL(a[0], 0.5 / (0.5773502691896258 + 1e-4), 1e-14);
	CHECK_EQ_DBL(a[1], -0.5 / (0.5773502691896258 + 1e-4), 1e-14);
}

TEST(test_advantage__dr_grpo_is_mean_only)
{
	double a[3];
	struct rwd_adv_info in;

	rwd_adv_outcome(a, &in, R3, 3, RWD_ADV_DR_GRPO, RWD_PRESET_TRL, -1, 0);
	CHECK_EQ_DBL(a[0], -2, 0);
	CHECK_EQ_DBL(a[1], 0, 0);
	CHECK_EQ_DBL(a[2], 2, 0);
}

TEST(test_advantage__batch_scaled_std)
{
	/* batch = [0,2,4] + [1,1,3,3]: 7 values, sum 14, mean 2; squares
	 * 4+0+4+1+1+1+1 = 12; variance 12/6 = 2; std sqrt(2). Group 2's mean
	 * is 2: A = (1-2)/(sqrt 2 + 1e-4), (3-2)/(sqrt 2 + 1e-4). */
	static const double all[7] = { 0, 2, 4, 1, 1, 3, 3 };
	static const double g2[4] = { 1, 1, 3, 3 };
	double m, s, a[4];
	struct rwd_adv_info in;

	rwd_mean_std(all, 7, &m, &s);
	CHECK_EQ_DBL(s, sqrt(2.0), 1e-15);
	rwd_adv_outcome(a, &in, g2, 4, RWD_ADV_BATCH, RWD_PRESET_TRL, -1, s);
	CHECK_EQ_DBL(a[0], -1 / (sqrt(2.0) + 1e-4), 1e-15);
	CHECK_EQ_DBL(a[3], 1 / (sqrt(2.0) + 1e-4), 1e-15);
}

TEST(test_advantage__all_equal_group_is_flagged_and_zero)
{
	/* 0.1 * 3 / 3 is not exactly 0.1 in binary64: the flag, not the
	 * arithmetic, gives exact zeros. */
	static const double r[3] = { 0.1, 0.1, 0.1 };
	double a[3];
	struct rwd_adv_info in;

	rwd_adv_outcome(a, &in, r, 3, RWD_ADV_GRPO, RWD_PRESET_TRL, -1, 0);
	CHECK(in.all_equal);
	CHECK_EQ_DBL(a[0], 0, 0);
	CHECK_EQ_DBL(a[2], 0, 0);
	rwd_adv_outcome(a, &in, R3, 3, RWD_ADV_GRPO, RWD_PRESET_TRL, -1, 0);
	CHECK(!in.all_equal);
}

TEST(test_advantage__unscorable_members_are_left_out)
{
	/* [3, unscorable, 1]: scorable 3 and 1, mean 2, squares 2, variance
	 * 2/1, std sqrt 2: A = +-1/(sqrt 2 + 1e-4), the middle stays NaN. */
	double r[3] = { 3, NAN, 1 }, a[3];
	struct rwd_adv_info in;

	rwd_adv_outcome(a, &in, r, 3, RWD_ADV_GRPO, RWD_PRESET_TRL, -1, 0);
	CHECK_EQ_INT(in.scored, 2);
	CHECK_EQ_DBL(a[0], 1 / (sqrt(2.0) + 1e-4), 1e-15);
	CHECK(isnan(a[1]));
	CHECK_EQ_DBL(a[2], -1 / (sqrt(2.0) + 1e-4), 1e-15);
}

TEST(test_advantage__group_of_one_follows_the_trainer)
{
	/* verl: mean 0, std 1 -> 5 / (1 + 1e-6); trl/openrlhf: torch.std of one
	 * value is NaN -> undefined. */
	static const double r[1] = { 5 };
	double a[1];
	struct rwd_adv_info in;

	rwd_adv_outcome(a, &in, r, 1, RWD_ADV_GRPO, RWD_PRESET_VERL, -1, 0);
	CHECK_EQ_DBL(a[0], 5 / 1.000001, 1e-15);
	rwd_adv_outcome(a, &in, r, 1, RWD_ADV_GRPO, RWD_PRESET_TRL, -1, 0);
	CHECK(in.undefined);
	CHECK(isnan(a[0]));
}

TEST(test_advantage__step_level_process_supervision)
{
	/* completions c1 = [4, 0], c2 = [2], c3 = [0, 4]; all steps
	 * [4,0,2,0,4]: sum 10, mean 2, deviations 2 -2 0 -2 2, squares 16,
	 * variance 16/4 = 4, std 2. With verl's eps, u = 2/(2+1e-6):
	 * normalised c1 [u, -u], c2 [0], c3 [-u, u]. Suffix sums:
	 * c1 [u-u, -u] = [0, -u]; c2 [0]; c3 [-u+u, u] = [0, u]. */
	static const double r[5] = { 4, 0, 2, 0, 4 };
	static const size_t off[4] = { 0, 2, 3, 5 };
	double a[5], u = 2 / 2.000001;
	struct rwd_adv_info in;

	rwd_adv_steps(a, &in, r, off, 3, RWD_PRESET_VERL, -1);
	CHECK_EQ_DBL(in.mean, 2, 0);
	CHECK_EQ_DBL(in.std, 2, 0);
	CHECK_EQ_DBL(a[0], 0, 1e-15);
	CHECK_EQ_DBL(a[1], -u, 1e-15);
	CHECK_EQ_DBL(a[2], 0, 0);
	CHECK_EQ_DBL(a[3], 0, 1e-15);
	CHECK_EQ_DBL(a[4], u, 1e-15);
}

TEST(test_advantage__step_unscorable_completion)
{
	/* c1 = [1, NaN] is out; c2 = [0], c3 = [2]: mean 1, std sqrt(2/1) */
	double r[4] = { 1, NAN, 0, 2 }, a[4];
	static const size_t off[4] = { 0, 2, 3, 4 };
	struct rwd_adv_info in;

	rwd_adv_steps(a, &in, r, off, 3, RWD_PRESET_TRL, 0);
	CHECK(isnan(a[0]) && isnan(a[1]));
	CHECK_EQ_DBL(a[2], -1 / sqrt(2.0), 1e-15);
	CHECK_EQ_DBL(a[3], 1 / sqrt(2.0), 1e-15);
	CHECK_EQ_INT(in.scored, 2);
}

TEST(test_advantage__groups_as_json)
{
	/* {"id":"g","rewards":[0,2,4]} with trl: the same +-2/2.0001 as above,
	 * the id kept; bad groups are refused with what is wrong */
	json_t *v = json_loads("{\"id\":\"g\",\"rewards\":[0,2,4]}", 0, NULL);
	json_t *bad1 = json_loads("[]", 0, NULL), *bad2 = json_loads("{\"steps\":[[1],[]]}", 0, NULL);
	json_t *bad3 = json_loads("[1,\"x\"]", 0, NULL), *bad4 = json_loads("{\"r\":[1]}", 0, NULL);
	struct rwd_group g;
	json_t *out;

	CHECK_EQ_INT(rwd_group_parse(&g, v), 0);
	out = rwd_group_advantages(&g, RWD_ADV_GRPO, RWD_PRESET_TRL, -1, 0);
	CHECK_EQ_STR(json_string_value(json_object_get(out, "id")), "g");
	CHECK_EQ_DBL(json_real_value(json_array_get(json_object_get(out, "advantages"), 2)),
		     2 / 2.0001, 1e-15);
	CHECK_EQ_DBL(json_real_value(json_object_get(out, "epsilon")), 1e-4, 0);
	json_decref(out);
	rwd_group_release(&g);
	CHECK_EQ_INT(rwd_group_parse(&g, bad1), LN_EGENERIC);
	rwd_group_release(&g);
	CHECK_EQ_INT(rwd_group_parse(&g, bad2), LN_EGENERIC);
	CHECK(strstr(ln_error_msg(), "steps[1]"));
	rwd_group_release(&g);
	CHECK_EQ_INT(rwd_group_parse(&g, bad3), LN_EGENERIC);
	CHECK(strstr(ln_error_msg(), "reward 1"));
	rwd_group_release(&g);
	CHECK_EQ_INT(rwd_group_parse(&g, bad4), LN_EGENERIC);
	rwd_group_release(&g);
	json_decref(v); json_decref(bad1); json_decref(bad2); json_decref(bad3); json_decref(bad4);
}
