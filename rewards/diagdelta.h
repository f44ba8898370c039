/*
 * diagdelta.h - which diagnostics a change introduced: the facts behind
 * the counts of rwd_diag_delta (rewards/reward.h). Pure functions of two
 * fact arrays; no server, no file.
 */
#ifndef LANSER_REWARDS_DIAGDELTA_H
#define LANSER_REWARDS_DIAGDELTA_H

#include <jansson.h>

/*
 * The surplus of `after` over `before` per matching key (rwd_diag_key,
 * docs/rewards.md): for a key held k times before and m > k times after,
 * the last m - k facts of that key in `after`'s order. Facts that are not
 * diagnostics are ignored. Returns a new array whose elements are shared
 * with `after` (incref'd, not copied); never NULL (not arrays: empty).
 */
json_t *rwd_introduced_facts(const json_t *before, const json_t *after);

/* How many facts of `facts` have "severity" equal to `severity`. */
long rwd_count_severity(const json_t *facts, const char *severity);

#endif
