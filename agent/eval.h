/*
 * eval.h - what `lanser group` (agent/eval.c) shares with the reward server
 * (agent/serve*.c): one computation of a group's advantages and one JSON
 * form of a scored candidate, so that /score answers what `group` prints.
 */
#ifndef LANSER_AGENT_EVAL_H
#define LANSER_AGENT_EVAL_H

#include <stddef.h>

#include <jansson.h>

#include "engine/engine.h"
#include "rewards/advantage.h"

/* The advantages of the group res[0..n) named `id` (*adv, a new reference:
 * the object `lanser advantages` prints); *group (new reference, may be
 * NULL) the group as parsed ({"id", "rewards"}), for traces. 0 or the
 * error of rwd_group_parse. */
int eval_group_advantages(json_t **adv, json_t **group, const struct eng_result *res, size_t n,
			  const char *id, enum rwd_adv_mode amode, enum rwd_preset preset, double eps);

/* Candidate i of a group answer: {"id", "bundleId", "reward", "scorable",
 * "reason", "rFormat", "rOutcome", "rProcess", "tests", "newErrors",
 * "formatNote", "advantage", "accepted"} (new reference). */
json_t *eval_candidate_json(const struct eng_result *r, const json_t *adv, size_t i);

#endif
