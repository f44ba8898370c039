/*
 * epscore.c - the engine side of an agent episode (agent/episode.h): the
 * worktree the agent works in, and its rewards computed by the evaluation
 * engine, the same code as `lanser eval` (engine/engine.h): each mutating
 * step's process reward from eng_diagnose on the worktree's diff, the
 * episode's outcome and reward from eng_eval on the final diff.
 */
#include "agent/episode.h"

#include "agent/cli.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "engine/engine.h"
#include "sandbox/txn.h"
#include "sandbox/worktree.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct agent_scorer {
	const struct agent_episode_opts *o;
	struct sbx_wtset *wts;
	char *wt;                  /* canonical path of the agent's worktree */
	char base_oid[41];
	struct eng *eng;
	struct rwd_weights w;
	struct rwd_step *steps;    /* every scored step (R_process) */
	size_t n;
	bool have_prev;
	double prev_d, prev_dbefore;   /* D_t of the last step, and the base's D over its files */
	json_t *noise;             /* untracked paths the test runs left (not the change) */
};

static void note_hook(void *ctx, const char *text)
{
	const struct agent_episode_opts *o = ctx;
	if (o->progress)
		fprintf(o->progress, "%s\n", text); /* the engine's notes say "lanser: note:" */
}

int agent_scorer_open(struct agent_scorer **out, const struct agent_episode_opts *o)
{
	const struct eng_settings *s = o->settings;
	struct cli *c = o->c;
	struct agent_scorer *x = xcalloc(1, sizeof *x);
	struct eng_opts eo;
	int error;

	*out = NULL;
	x->o = o;
	x->w = rwd_weights_default;
	error = sbx_wt_create(&x->wts, s->root, s->task.base ? s->task.base : "HEAD", 1,
			      x->base_oid);
	if (error)
		goto fail;
	x->wt = realpath(sbx_wt_path(x->wts, 0), NULL);
	if (!x->wt)
		x->wt = xstrdup(sbx_wt_path(x->wts, 0));
	eng_copy_cdb(s->root, x->wt);
	memset(&eo, 0, sizeof eo);
	eo.settings = s;
	eo.mode = o->mode;
	eo.weights = x->w;
	eo.index_io = c->index_io;
	eo.init_ms = c->cfg.init_ms;
	eo.request_ms = c->timeout_ms;
	eo.index_ms = c->index_ms;
	eo.diagnostics_ms = c->cfg.diagnostics_ms;
	eo.jobs = 1;
	eo.no_isolation = c->no_isolation;
	eo.cancel = o->cancel;
	eo.note = note_hook;
	eo.note_ctx = (void *)o;
	error = eng_open(&x->eng, &eo);
	if (error)
		goto fail;
	*out = x;
	return 0;
fail:
	{
		struct ln_error_state st;
		ln_error_capture(&st);
		agent_scorer_close(x);
		return ln_error_restore(&st);
	}
}

void agent_scorer_close(struct agent_scorer *x)
{
	if (!x)
		return;
	eng_close(x->eng);
	sbx_wt_free(x->wts);
	free(x->wt);
	free(x->steps);
	json_decref(x->noise);
	free(x);
}

json_t *agent_scorer_untracked(struct agent_scorer *x)
{
	json_t *v = eng_worktree_untracked(x->wt);
	if (!v)
		ln_error_clear();
	return v;
}

void agent_scorer_ignore_new(struct agent_scorer *x, json_t *before)
{
	json_t *now = agent_scorer_untracked(x), *v, *w;
	size_t i, j;

	if (!x->noise)
		x->noise = json_array();
	json_array_foreach(now, i, v) {
		bool old = false;
		json_array_foreach(before, j, w)
			if (json_equal(v, w)) {
				old = true;
				break;
			}
		if (!old)
			json_array_append(x->noise, v);
	}
	json_decref(now);
	json_decref(before);
}

const char *agent_scorer_worktree(const struct agent_scorer *x)
{
	return x->wt;
}

const char *agent_scorer_base(const struct agent_scorer *x)
{
	return x->base_oid;
}

static json_t *terms_json(const struct rwd_step *st)
{
	return xjson_pack("{s:o, s:o, s:o, s:o, s:o}", "D0", rwd_number(st->d_prev), "D",
			  rwd_number(st->d), "S", rwd_number(st->s), "c", rwd_number(st->c), "c0",
			  rwd_number(st->c_prev));
}

json_t *agent_scorer_step(struct agent_scorer *x, long step, const char *tool, bool ok,
			  double confidence)
{
	struct rwd_step st;
	struct eng_result r;
	char *diff = NULL, id[32];
	size_t len = 0;
	json_t *j, *relevant = NULL, *introduced = NULL;
	char why[300] = "";
	long new_errors = 0;

	memset(&r, 0, sizeof r);
	st.c_prev = x->n ? x->steps[x->n - 1].c : 1;
	st.c = confidence;
	st.d_prev = x->have_prev ? x->prev_d : 0;
	st.d = st.d_prev;
	st.s = 0;
	if (ok && eng_worktree_diff(&diff, &len, x->wt, x->base_oid, x->noise) == 0 && len == 0) {
		/* back at the base: D is the base's over the files counted so far */
		st.d = x->have_prev ? x->prev_dbefore : 0;
		st.s = 1;
		x->prev_d = st.d;
	} else if (ok && diff) {
		struct eng_candidate cand = { id, diff, len, NULL };
		snprintf(id, sizeof id, "step-%ld", step);
		if (eng_diagnose(x->eng, &cand, &r) == 0 && r.diagnosed) {
			/* files relevant only now bring their base diagnostics along:
			 * they are not this step's doing */
			double shift = x->have_prev ? r.dd.d_before - x->prev_dbefore : 0;
			st.d_prev = x->have_prev ? x->prev_d + shift : r.dd.d_before;
			if (st.d_prev < 0)
				st.d_prev = 0;
			st.d = r.dd.d_after;
			st.s = 1;
			x->have_prev = true;
			x->prev_d = st.d;
			x->prev_dbefore = r.dd.d_before;
			relevant = json_incref(r.relevant);
			introduced = json_incref(r.introduced);
			new_errors = r.new_errors;
		} else {
			snprintf(why, sizeof why, "%.250s", r.usable ? (r.ep.reason[0] ? r.ep.reason :
				 ln_error_msg()) : r.apply_msg);
		}
		eng_result_release(&r);
	} else if (ok) {
		snprintf(why, sizeof why, "%.250s", ln_error_msg());
	} else {
		snprintf(why, sizeof why, "the change did not apply (the safe-apply checks refused "
			 "it)");
	}
	free(diff);
	ln_error_clear();
	if (rwd_step_check(RWD_DELTA, &x->w, &st))
		return NULL;
	x->steps = xrealloc(x->steps, (x->n + 1) * sizeof *x->steps);
	x->steps[x->n++] = st;
	j = xjson_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:I}", "step", (json_int_t)step, "tool", tool,
		"functional", rwd_functional_json(RWD_DELTA, &x->w), "terms", terms_json(&st),
		"reward", rwd_number(rwd_process_step(RWD_DELTA, &x->w, &st)), "bounded",
		rwd_number(rwd_process_step(RWD_BOUNDED, &x->w, &st)), "newErrors",
		(json_int_t)new_errors);
	json_object_set_new(j, "relevant", relevant ? relevant : json_array());
	json_object_set_new(j, "introduced", introduced ? introduced : json_array());
	if (why[0])
		json_object_set_new(j, "unscored", xjson_string_lossy(why));
	return j;
}

static void trace(struct agent_scorer *x, const char *type, json_t *fields)
{
	if (x->o->trace)
		x->o->trace(x->o->trace_ctx, type, fields);
	else
		json_decref(fields);
}

static json_t *process_steps_json(const struct agent_scorer *x)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < x->n; i++)
		json_array_append_new(a, terms_json(&x->steps[i]));
	return xjson_pack("{s:o, s:o}", "functional", rwd_functional_json(RWD_BOUNDED, &x->w),
			  "steps", a);
}

int agent_scorer_finish(struct agent_scorer *x, json_t *result, const char *unscorable)
{
	const struct agent_episode_opts *o = x->o;
	struct eng_candidate cand;
	struct eng_result r;
	struct rwd_episode ep;
	char *diff = NULL;
	size_t len = 0;
	double reward;
	json_t *tests = json_null(), *epj;
	int error;

	memset(&r, 0, sizeof r);
	error = eng_worktree_diff(&diff, &len, x->wt, x->base_oid, x->noise);
	if (error)
		return error;
	json_object_set_new(result, "diff", xjson_stringn_lossy(diff, len));
	memset(&cand, 0, sizeof cand);
	cand.id = o->sample ? o->sample : "s1";
	cand.patch = len ? diff : NULL;
	cand.len = len;
	cand.format_note = len ? NULL : "the agent changed nothing";
	error = eng_eval(x->eng, &cand, &r);
	free(diff);
	if (error)
		return error;
	ep = r.ep;
	/* R_process of an episode: the mean bounded reward of its steps
	 * (docs/rewards.md); an unusable result earns nothing, as in eval */
	ep.r_process = r.usable ? rwd_process_episode(&x->w, x->steps, x->n) : 0;
	if (unscorable && ep.scorable) {
		/* the episode was cut short by something that is not the model's
		 * doing: no reward, rather than a low one, in its group */
		ep.scorable = false;
		snprintf(ep.reason, sizeof ep.reason, "%.500s", unscorable);
	}
	reward = ep.scorable ? rwd_episode_reward(o->mode, &ep) : NAN;
	if (r.record) {
		const json_t *oc = json_object_get(r.record, "outcome");
		tests = xjson_pack("{s:O?, s:O?, s:O*}", "status", json_object_get(oc, "status"),
				   "counts", json_object_get(oc, "counts"), "testFilesReset",
				   json_object_get(json_object_get(oc, "patch"), "testFilesReset"));
		trace(x, "outcome", xjson_pack("{s:s, s:O}", "candidate", cand.id, "record",
					      r.record));
	}
	json_object_set_new(result, "tests", tests);
	json_object_set(result, "eval", json_object_get(r.bundle, "bundleId"));
	json_object_set_new(result, "newErrors", json_integer(r.new_errors));
	json_object_set_new(result, "accepted", json_boolean(r.accepted));
	epj = xjson_pack("{s:s, s:b, s:{s:o, s:o, s:o}, s:o, s:o}", "mode",
		rwd_episode_mode_name(o->mode), "scorable", ep.scorable, "terms", "format",
		rwd_number(ep.r_format), "outcome", rwd_number(ep.r_outcome), "process",
		rwd_number(ep.r_process), "reward", rwd_number(reward), "reason",
		xjson_string_lossy(ep.scorable ? "" : ep.reason));
	json_object_set_new(json_object_get(result, "rewards"), "episode", json_incref(epj));
	json_object_set_new(epj, "kind", json_string("episode"));
	json_object_set_new(epj, "candidate", json_string(cand.id));
	if (r.usable)
		json_object_set_new(epj, "processSteps", process_steps_json(x));
	trace(x, "reward", epj);
	eng_result_release(&r);
	return 0;
}

/* ---- undo (interactive sessions) ---- */

struct agent_scorer_mark {
	char *diff;
	size_t len;
	size_t n;                  /* scored steps then */
	bool have_prev;
	double prev_d, prev_dbefore;
};

int agent_scorer_diff(struct agent_scorer *x, char **out, size_t *len)
{
	return eng_worktree_diff(out, len, x->wt, x->base_oid, x->noise);
}

struct agent_scorer_mark *agent_scorer_mark(struct agent_scorer *x)
{
	struct agent_scorer_mark *m;
	char *diff = NULL;
	size_t len = 0;

	if (agent_scorer_diff(x, &diff, &len))
		return NULL;
	m = xcalloc(1, sizeof *m);
	m->diff = diff;
	m->len = len;
	m->n = x->n;
	m->have_prev = x->have_prev;
	m->prev_d = x->prev_d;
	m->prev_dbefore = x->prev_dbefore;
	return m;
}

void agent_scorer_mark_free(struct agent_scorer_mark *m)
{
	if (!m)
		return;
	free(m->diff);
	free(m);
}

int agent_scorer_rollback(struct agent_scorer *x, struct agent_scorer_mark *m)
{
	struct sbx_apply_opts ao;
	char *now = NULL;
	size_t len = 0;
	int error;

	/* Why a reset and the marked diff rather than the step's reverse: the
	 * step's own change is whatever its tool wrote (a rename touches many
	 * files); the state before it is fully described by its diff against
	 * the base, which the transaction applies as one crash-safe unit, and
	 * the result is checked against it. */
	if ((error = sbx_wt_reset(x->wts, 0)))
		goto done;
	eng_copy_cdb(x->o->settings->root, x->wt);
	if (m->len) {
		memset(&ao, 0, sizeof ao);
		ao.allow_dirty = true;    /* the copied compilation database */
		if ((error = sbx_patch_apply(x->wt, m->diff, m->len, &ao, NULL)))
			goto done;
	}
	if ((error = agent_scorer_diff(x, &now, &len)))
		goto done;
	if (len != m->len || (len && memcmp(now, m->diff, len))) {
		error = ln_error_set(LN_ESANDBOX, "undo: the worktree did not come back exactly "
				     "(its diff differs from the one before the step)");
		goto done;
	}
	x->n = m->n;
	x->have_prev = m->have_prev;
	x->prev_d = m->prev_d;
	x->prev_dbefore = m->prev_dbefore;
done:
	free(now);
	agent_scorer_mark_free(m);
	return error;
}

void agent_scorer_running(const struct agent_scorer *x, size_t *n, double *sum, double *process)
{
	size_t i;

	*n = x->n;
	*sum = 0;
	for (i = 0; i < x->n; i++)
		*sum += rwd_process_step(RWD_DELTA, &x->w, &x->steps[i]);
	*process = rwd_process_episode(&x->w, x->steps, x->n);
}
