/*
 * trace_rewards.c - replay of a trace's reward and advantages events
 * (docs/trace.md): each is recomputed from its recorded terms with the
 * same code as `lanser reward` and `lanser advantages`, and compared.
 */
#include "agent/trace_int.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "rewards/advantage.h"
#include "rewards/reward.h"
#include "rewards/tracefile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void trace_num_text(char out[40], const json_t *v)
{
	if (!json_is_number(v) || jcs_format_number(out, 40, json_number_value(v)))
		snprintf(out, 40, "null");
}

static double num(const json_t *o, const char *k, bool *ok)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_number(v)) {
		*ok = false;
		return 0;
	}
	return json_number_value(v);
}

/* Recomputes a recorded reward from its recorded terms. 0 when equal;
 * LN_EREPLAY naming the line when not; LN_ETRACE when unusable. */
int trace_replay_reward(const char *file, const struct rwd_trace_ev *e, char *msg, size_t n)
{
	const json_t *ev = e->ev, *terms = json_object_get(ev, "terms");
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	char want[40], got[40];
	bool ok = true;
	double r = 0;
	json_t *rv;

	if (!strcmp(kind, "step")) {
		const json_t *f = json_object_get(ev, "functional"), *w = json_object_get(f, "weights");
		enum rwd_functional fn;
		struct rwd_weights wt;
		struct rwd_step st;
		if (!json_is_string(json_object_get(f, "name")) ||
		    rwd_functional_parse(&fn, json_string_value(json_object_get(f, "name"))))
			return ln_error_set(LN_ETRACE, "%s:%ld: reward event with an unknown functional",
					    file, e->line);
		wt.wd = num(w, "wd", &ok);
		wt.ws = num(w, "ws", &ok);
		wt.wc = num(w, "wc", &ok);
		st.d_prev = num(terms, "D0", &ok);
		st.d = num(terms, "D", &ok);
		st.s = num(terms, "S", &ok);
		st.c = num(terms, "c", &ok);
		st.c_prev = json_object_get(terms, "c0") ? num(terms, "c0", &ok) : st.c;
		if (!ok || rwd_step_check(fn, &wt, &st))
			return ln_error_set(LN_ETRACE, "%s:%ld: reward event with unusable terms", file,
					    e->line);
		r = rwd_process_step(fn, &wt, &st);
	} else if (!strcmp(kind, "episode")) {
		enum rwd_episode_mode m;
		struct rwd_episode ep = { true, "", 0, 0, 0 };
		const char *mode = json_string_value(json_object_get(ev, "mode"));
		if (!mode || rwd_episode_mode_parse(&m, mode))
			return ln_error_set(LN_ETRACE, "%s:%ld: reward event with an unknown mode", file,
					    e->line);
		ep.scorable = !json_is_false(json_object_get(ev, "scorable"));
		ep.r_format = num(terms, "format", &ok);
		ep.r_outcome = num(terms, "outcome", &ok);
		ep.r_process = num(terms, "process", &ok);
		if (!ok)
			return ln_error_set(LN_ETRACE, "%s:%ld: reward event with unusable terms", file,
					    e->line);
		if (json_object_get(ev, "processSteps")) {
			/* R_process from its steps: the mean bounded step reward */
			const json_t *ps = json_object_get(ev, "processSteps");
			const json_t *w = json_object_get(json_object_get(ps, "functional"), "weights");
			const json_t *steps = json_object_get(ps, "steps"), *x;
			struct rwd_weights wt;
			struct rwd_step *st;
			size_t i;
			char p1[40], p2[40];
			json_t *pv;
			wt.wd = num(w, "wd", &ok);
			wt.ws = num(w, "ws", &ok);
			wt.wc = num(w, "wc", &ok);
			if (!ok || !json_is_array(steps) || json_array_size(steps) > 100000)
				return ln_error_set(LN_ETRACE, "%s:%ld: reward event with unusable process "
						    "steps", file, e->line);
			st = xcalloc(json_array_size(steps) + 1, sizeof *st);
			json_array_foreach(steps, i, x) {
				st[i].d_prev = num(x, "D0", &ok);
				st[i].d = num(x, "D", &ok);
				st[i].s = num(x, "S", &ok);
				st[i].c_prev = num(x, "c0", &ok);
				st[i].c = num(x, "c", &ok);
				if (ok && rwd_step_check(RWD_BOUNDED, &wt, &st[i]))
					ok = false;
			}
			if (ok)
				r = rwd_process_episode(&wt, st, json_array_size(steps));
			free(st);
			if (!ok)
				return ln_error_set(LN_ETRACE, "%s:%ld: reward event with unusable process "
						    "steps", file, e->line);
			pv = rwd_number(r);
			trace_num_text(p1, pv);
			json_decref(pv);
			trace_num_text(p2, json_object_get(terms, "process"));
			if (strcmp(p1, p2)) {
				snprintf(msg, n, "%s:%ld: reward event (run %s, seq %lld): R_process "
					 "differs: recorded %s, recomputed from its steps %s", file, e->line,
					 e->run, e->seq, p2, p1);
				return LN_EREPLAY;
			}
		}
		r = rwd_episode_reward(m, &ep);
	} else {
		return 0; /* a kind from a later version: nothing to check */
	}
	rv = rwd_number(r);
	trace_num_text(got, rv);
	json_decref(rv);
	trace_num_text(want, json_object_get(ev, "reward"));
	if (strcmp(got, want)) {
		snprintf(msg, n, "%s:%ld: reward event (run %s, seq %lld) differs: recorded %s, "
			 "recomputed %s", file, e->line, e->run, e->seq, want, got);
		return LN_EREPLAY;
	}
	return 0;
}

/* Recomputes the advantages events of one run (a `lanser advantages`
 * call: in batch mode its groups share one std, recomputed here too). */
int trace_replay_advantages(const char *file, const struct trace_run *r, size_t *count, char *msg,
			     size_t n)
{
	struct rwd_group *g = xcalloc(r->n ? r->n : 1, sizeof *g);
	const struct rwd_trace_ev **ev = xcalloc(r->n ? r->n : 1, sizeof *ev);
	size_t k = 0, i, total = 0;
	double mean, std = 0, *all;
	int error = 0;

	for (i = 0; i < r->n && !error; i++) {
		if (strcmp(r->ev[i]->type, "advantages"))
			continue;
		if (rwd_group_parse(&g[k], json_object_get(r->ev[i]->ev, "group")))
			error = ln_error_set(LN_ETRACE, "%s:%ld: advantages event: %s", file,
					     r->ev[i]->line, ln_error_msg());
		ev[k] = r->ev[i];
		total += g[k].n;
		k++;
	}
	all = xmalloc((total ? total : 1) * sizeof *all);
	for (i = 0, total = 0; i < k && !error; i++) {
		memcpy(all + total, g[i].r, g[i].n * sizeof *all);
		total += g[i].n;
	}
	rwd_mean_std(all, total, &mean, &std);
	free(all);
	for (i = 0; i < k && !error; i++) {
		const json_t *e = ev[i]->ev;
		enum rwd_adv_mode mode;
		enum rwd_preset preset;
		const json_t *eps = json_object_get(e, "epsilon");
		json_t *got;
		char *a, *b;
		if (!json_is_string(json_object_get(e, "mode")) || !json_is_string(json_object_get(e,
		    "preset")) || !json_is_number(eps) || json_number_value(eps) < 0 ||
		    rwd_adv_mode_parse(&mode, json_string_value(json_object_get(e, "mode"))) ||
		    rwd_preset_parse(&preset, json_string_value(json_object_get(e, "preset")))) {
			error = ln_error_set(LN_ETRACE, "%s:%ld: advantages event without a valid mode, "
					     "preset and epsilon", file, ev[i]->line);
			break;
		}
		got = rwd_group_advantages(&g[i], mode, preset, json_number_value(eps), std);
		a = jcs_dumps(got);
		b = jcs_dumps(json_object_get(e, "result"));
		if (!a || !b || strcmp(a, b)) {
			snprintf(msg, n, "%s:%ld: advantages event (run %s, seq %lld) differs: recorded "
				 "%.200s, recomputed %.200s", file, ev[i]->line, r->id, ev[i]->seq,
				 b ? b : "(unusable)", a ? a : "(unusable)");
			error = LN_EREPLAY;
		}
		free(a);
		free(b);
		json_decref(got);
		(*count)++;
	}
	for (i = 0; i < r->n; i++)
		rwd_group_release(&g[i]);
	free(g);
	free(ev);
	return error;
}
