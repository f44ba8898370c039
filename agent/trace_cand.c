/*
 * trace_cand.c - replay's check of the candidates of an eval/group run
 * (their "candidate" events, docs/trace.md): each eval bundle against its
 * bundleId, and the run's recorded rewards against the bundles.
 */
#include "agent/trace_int.h"

#include "core/bundle.h"
#include "core/err.h"
#include "rewards/reward.h"

#include <stdio.h>
#include <string.h>

/* The reward event of `kind` about candidate `id` in run r, or NULL. */
static const json_t *cand_reward(const struct trace_run *r, const char *kind, const char *id)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->ev[i]->type, "reward") &&
		    !strcmp(json_string_value(json_object_get(r->ev[i]->ev, "kind")) ?: "", kind) &&
		    !strcmp(json_string_value(json_object_get(r->ev[i]->ev, "candidate")) ?: "", id))
			return r->ev[i]->ev;
	return NULL;
}

/* Whether the numbers v1 and v2 print the same (both null counts as equal). */
static bool same_num(const json_t *v1, const json_t *v2)
{
	char a[40], b[40];

	trace_num_text(a, v1);
	trace_num_text(b, v2);
	return !strcmp(a, b);
}

/*
 * The candidates of an eval/group run (its "candidate" events): each eval
 * bundle must be what its bundleId says (85 otherwise: edited), and the
 * recorded rewards must be the bundle's: the step's D0/D are its
 * diagnostics' dBefore/dAfter, the episode's terms and reward its
 * reward's, R_outcome what its test record gives (76 otherwise).
 */
int trace_replay_candidates(const char *file, const struct trace_run *r, size_t *count,
			     char *msg, size_t n)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const json_t *ev = r->ev[i]->ev, *b = json_object_get(ev, "bundle");
		const char *id = json_string_value(json_object_get(ev, "candidate"));
		const json_t *oc = json_object_get(b, "outcome"), *rw = json_object_get(oc, "reward");
		const json_t *dg = json_object_get(oc, "diagnostics"), *step, *ep, *rec;
		const char *why = NULL;
		char own[72];
		if (strcmp(r->ev[i]->type, "candidate"))
			continue;
		if (!id || !json_is_object(b) || ln_bundle_compute_id(own, b) ||
		    strcmp(own, json_string_value(json_object_get(b, "bundleId")) ?: ""))
			return ln_error_set(LN_ETRACE, "%s:%ld: candidate event edited: its bundle "
					    "does not match its bundleId", file, r->ev[i]->line);
		(*count)++;
		step = cand_reward(r, "step", id);
		ep = cand_reward(r, "episode", id);
		rec = json_object_get(json_object_get(json_object_get(b, "meta"), "volatile"),
				      "testRecord");
		if (!ep)
			why = "no episode reward event";
		else if (!same_num(json_object_get(ep, "reward"), json_object_get(rw, "reward")))
			why = "the episode reward is not the bundle's";
		else if (!same_num(json_object_get(json_object_get(ep, "terms"), "process"),
				   json_object_get(rw, "rProcess")) ||
			 !same_num(json_object_get(json_object_get(ep, "terms"), "format"),
				   json_object_get(rw, "rFormat")))
			why = "R_format or R_process is not the bundle's";
		else if (step && (!same_num(json_object_get(json_object_get(step, "terms"), "D0"),
					    json_object_get(dg, "dBefore")) ||
				  !same_num(json_object_get(json_object_get(step, "terms"), "D"),
					    json_object_get(dg, "dAfter"))))
			why = "the step's D0/D are not the bundle's diagnostics";
		else if (rec && json_is_true(json_object_get(rw, "scorable"))) {
			struct rwd_outcome o;
			json_t *v;
			if (rwd_outcome_read(&o, rec) || !o.scorable)
				why = "its test record does not give an outcome";
			else {
				v = rwd_number(o.r_outcome);
				if (!same_num(v, json_object_get(json_object_get(ep, "terms"), "outcome")))
					why = "R_outcome is not what its test record gives";
				json_decref(v);
			}
		}
		if (why) {
			snprintf(msg, n, "%s:%ld: candidate %s (run %s): %s", file, r->ev[i]->line, id,
				 r->id, why);
			return LN_EREPLAY;
		}
	}
	return 0;
}

