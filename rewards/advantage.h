/*
 * advantage.h - group-relative advantages for GRPO trainers
 * (docs/rewards.md, "Advantages").
 *
 * A group is the G completions sampled for one prompt. Rewards that are
 * NAN are unscorable members: they take no part in the statistics and
 * get a NAN advantage (printed as null), never a silent 0.
 *
 * Modes:
 *   grpo     A_i = (r_i - mean) / (std + eps), std the sample standard
 *            deviation (Bessel's correction, n - 1), as torch.std computes.
 *   dr_grpo  A_i = r_i - mean (Dr. GRPO: no std).
 *   batch    A_i = (r_i - group mean) / (batch std + eps), the std taken
 *            over every scorable reward of every group given together
 *            (TRL's scale_rewards="batch").
 *   step     process supervision (DeepSeekMath 4.1.3): every step reward
 *            of every completion of the group is normalised together,
 *            r~ = (r - mean) / (std + eps); the advantage of step j of a
 *            completion is the sum of r~ over its steps k >= j.
 *
 * Presets fix eps and the trainers' corner cases:
 *   trl      eps 1e-4; a group of one has an undefined std (NaN in torch):
 *            advantages undefined (NAN, flagged).
 *   verl     eps 1e-6; a group of one uses mean 0 and std 1 (verl's rule).
 *   openrlhf eps 1e-9; a group of one is undefined as with trl.
 *
 * A group whose scorable rewards are all equal (at least two of them) is
 * flagged all_equal (DAPO's dynamic sampling drops such groups: they carry
 * no signal) and its advantages are exactly 0.
 *
 * Arithmetic is binary64 (trainers usually compute in float32: expect
 * agreement to about 1e-6 relative, not bit equality). Pure functions,
 * thread-safe.
 */
#ifndef LANSER_ADVANTAGE_H
#define LANSER_ADVANTAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum rwd_adv_mode { RWD_ADV_GRPO, RWD_ADV_DR_GRPO, RWD_ADV_BATCH, RWD_ADV_STEP };
enum rwd_preset { RWD_PRESET_TRL, RWD_PRESET_VERL, RWD_PRESET_OPENRLHF };

#define RWD_MAX_GROUP 65536     /* completions (or steps) in one group */

const char *rwd_adv_mode_name(enum rwd_adv_mode m);
int rwd_adv_mode_parse(enum rwd_adv_mode *out, const char *name);   /* 0 or LN_EUSAGE */
const char *rwd_preset_name(enum rwd_preset p);
int rwd_preset_parse(enum rwd_preset *out, const char *name);       /* 0 or LN_EUSAGE */
double rwd_preset_eps(enum rwd_preset p);

struct rwd_adv_info {
	double mean, std;     /* of the scorable rewards (std NAN when undefined) */
	size_t scored;        /* scorable members */
	bool all_equal;       /* >= 2 scorable, all equal (DAPO) */
	bool undefined;       /* the trainer's std is undefined (group of one) */
};

/* Mean and sample std (n - 1) of the non-NAN values; std is NAN when
 * fewer than two. Two passes, summed in index order. */
void rwd_mean_std(const double *r, size_t n, double *mean, double *std);

/*
 * Outcome-level advantages of one group: out[i] for r[i], i < n.
 * `batch_std` is only read by RWD_ADV_BATCH (compute it with rwd_mean_std
 * over every reward of the batch). `eps` < 0 means the preset's.
 */
void rwd_adv_outcome(double *out, struct rwd_adv_info *info, const double *r, size_t n,
		     enum rwd_adv_mode mode, enum rwd_preset preset, double eps, double batch_std);

/*
 * Step-level advantages (RWD_ADV_STEP): completion i's step rewards are
 * r[off[i]] .. r[off[i+1]-1] (off has ncomp + 1 entries); out has the same
 * layout. A completion with a NAN step is unscorable as a whole: all its
 * advantages are NAN and none of its steps enter the statistics.
 */
void rwd_adv_steps(double *out, struct rwd_adv_info *info, const double *r, const size_t *off,
		   size_t ncomp, enum rwd_preset preset, double eps);

/* ---- groups as JSON (`lanser advantages`, traces, group evaluation) ---- */

/* One group: [r, ...] | {"id"?, "rewards": [r, ...]} |
 * {"id"?, "steps": [[r, ...], ...]}, r a finite number or null
 * (unscorable). At most RWD_MAX_GROUP members (steps). */
struct rwd_group {
	json_t *json;        /* the group as given (a reference) */
	const json_t *id;    /* borrowed from json, may be NULL */
	double *r;           /* n values; step layout by off (ncomp + 1) */
	size_t *off;
	size_t n, ncomp;
	bool steps;
};
/* 0, or LN_EGENERIC with a message saying what is wrong (no position:
 * callers add theirs). *g is always safe to release. */
int rwd_group_parse(struct rwd_group *g, json_t *v);
void rwd_group_release(struct rwd_group *g);
/* {"advantages", "mode", "preset", "epsilon", "mean", "std", "scored",
 *  "allEqual", "undefined", "id"?} (new reference); numbers NAN -> null.
 * eps < 0: the preset's; batch_std only for RWD_ADV_BATCH. */
json_t *rwd_group_advantages(const struct rwd_group *g, enum rwd_adv_mode mode,
			     enum rwd_preset preset, double eps, double batch_std);

#endif
