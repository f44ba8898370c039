/*
 * score.c - a candidate's rewards, policy verdict, eval bundle and trace
 * events (docs/eval.md, "Rewards", "The verdict", "The eval bundle").
 */
#include "engine/internal.h"

#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "rewards/diagdelta.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The process reward of a usable, diagnosed candidate: one step, the
 * patch; S = 1 (jail and conflicts passed), an exact target (c = c0 = 1). */
static void score_diagnostics(struct eng *x, struct eng_cand *cd)
{
	struct eng_result *r = &cd->r;

	rwd_diag_delta(&r->dd, cd->before, cd->after, r->relevant, NULL);
	r->introduced = rwd_introduced_facts(cd->before, cd->after);
	r->new_errors = rwd_count_severity(r->introduced, "error");
	r->step.d_prev = r->dd.d_before;
	r->step.d = r->dd.d_after;
	r->step.s = 1;
	r->step.c_prev = 1;
	r->step.c = 1;
	r->ep.r_process = rwd_process_episode(&x->o.weights, &r->step, 1);
}

/* R_outcome from the test record, or why there is none. */
static void score_outcome(struct eng *x, struct eng_cand *cd)
{
	struct eng_result *r = &cd->r;

	if (!r->record && x->no_tests) {
		r->ep.scorable = false;
		snprintf(r->ep.reason, sizeof r->ep.reason, "tests not run (diagnostics only)");
	} else if (!r->record) {
		r->ep.scorable = false;
		snprintf(r->ep.reason, sizeof r->ep.reason, "tests: %.400s",
			 x->tests_code ? x->tests_msg : "no outcome record");
		r->code = x->tests_code ? x->tests_code : LN_ESANDBOX;
	} else if (rwd_outcome_read(&cd->oc, r->record)) {
		r->ep.scorable = false;
		snprintf(r->ep.reason, sizeof r->ep.reason, "outcome record: %s", ln_error_msg());
		r->code = LN_ESANDBOX;
	} else if (!cd->oc.scorable) {
		int ec = (int)json_integer_value(json_object_get(json_object_get(r->record, "meta"),
								  "exitCode"));
		r->ep.scorable = false;
		snprintf(r->ep.reason, sizeof r->ep.reason, "%s", cd->oc.reason);
		r->code = ec ? -ec : LN_ESANDBOX;
	} else {
		if (cd->oc.patch_failed)
			r->ep.r_format = 0;
		r->ep.r_outcome = cd->oc.r_outcome;
	}
}

void eng_score(struct eng *x, struct eng_cand *cd)
{
	struct eng_result *r = &cd->r;

	memset(&r->ep, 0, sizeof r->ep);
	r->ep.scorable = true;
	r->ep.r_format = r->usable ? 1 : 0;
	r->reward = NAN;
	r->diagnosed = r->usable && cd->diag_code == 0;
	if (r->diagnosed)
		score_diagnostics(x, cd);
	else
		r->introduced = json_array();
	if (!r->usable) {
		/* not a usable patch: scored, R_format 0, nothing else earns */
		r->ep.r_outcome = 0;
		r->ep.r_process = 0;
	} else if (cd->diag_code) {
		r->ep.scorable = false;
		snprintf(r->ep.reason, sizeof r->ep.reason, "diagnostics: %.400s", cd->diag_msg);
		r->code = cd->diag_code;
	} else {
		score_outcome(x, cd);
	}
	if (r->ep.scorable)
		r->reward = rwd_episode_reward(x->o.mode, &r->ep);
	else if (!r->diagnosed)
		r->ep.r_process = 0;
}

static void reject(struct eng_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(struct eng_result *r, const char *fmt, ...)
{
	char *m;
	va_list ap;

	/* whole, and never dropped for a byte that is not UTF-8 */
	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	json_array_append_new(r->reasons, xjson_string_lossy(m));
	free(m);
	r->accepted = false;
}

/* The policy verdict; reasons in r->reasons. */
void eng_judge(struct eng *x, struct eng_cand *cd)
{
	const struct eng_policy *pol = &x->s->policy;
	struct eng_result *r = &cd->r;

	r->accepted = r->ep.scorable && r->usable;
	if (!r->usable) {
		reject(r, "not a usable patch: %.170s", r->format_note[0] ? r->format_note
									  : r->apply_msg);
		return;
	}
	if (!r->ep.scorable) {
		reject(r, "unscorable: %s", r->ep.reason);
		return;
	}
	if (pol->max_new_errors >= 0 && r->new_errors > pol->max_new_errors)
		reject(r, "%ld new error%s (policy.maxNewErrors %ld)", r->new_errors,
		       r->new_errors == 1 ? "" : "s", pol->max_new_errors);
	if (pol->require_tests && r->ep.r_outcome != 1) {
		const char *st = json_string_value(json_object_get(json_object_get(r->record,
								"outcome"), "status"));
		if (st && !strcmp(st, "passed"))   /* only skipped tests: none passed */
			st = "no test passed";
		reject(r, "tests did not pass: %s (policy.requireTests)", st ? st : "(null)");
	}
	if (pol->has_min_reward && !(r->reward >= pol->min_reward)) {
		char a[40], b[40];
		jcs_format_number(a, sizeof a, r->reward);
		jcs_format_number(b, sizeof b, pol->min_reward);
		reject(r, "reward %s below policy.minReward %s", a, b);
	}
}

static json_t *reward_json(struct eng *x, const struct eng_result *r)
{
	return xjson_pack("{s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o}",
		"mode", rwd_episode_mode_name(x->o.mode), "functional",
		rwd_functional_json(RWD_BOUNDED, &x->o.weights), "scorable", r->ep.scorable,
		"reason", r->ep.scorable ? json_null() : xjson_string_lossy(r->ep.reason),
		"rFormat", rwd_number(r->ep.r_format),
		"rOutcome", r->ep.scorable ? rwd_number(r->ep.r_outcome) : json_null(),
		"rProcess", rwd_number(r->ep.r_process),
		"step", r->diagnosed ?
			xjson_pack("{s:o, s:o, s:o, s:o, s:o}", "D0", rwd_number(r->step.d_prev),
				   "D", rwd_number(r->step.d), "S", rwd_number(r->step.s),
				   "c0", rwd_number(r->step.c_prev), "c", rwd_number(r->step.c))
			: json_null(),
		"reward", rwd_number(r->reward));
}

/* request: the base, the candidate, the task, the patch's digest, the
 * options that change the verdict. */
static void bundle_request(struct eng *x, const struct eng_cand *cd, json_t *req)
{
	char hex[LN_SHA256_HEX_SIZE], dg[80];

	json_object_set_new(req, "indexIo", json_string(ln_enc_name(x->o.index_io)));
	if (cd->patch) {
		ln_sha256_hex(cd->patch, cd->len, hex);
		snprintf(dg, sizeof dg, "sha256:%s", hex);
	}
	json_object_set_new(req, "target", xjson_pack("{s:s, s:s, s:o, s:o}", "base",
		x->base_oid, "candidate", cd->r.id, "task",
		x->s->task.task_id ? json_string(x->s->task.task_id) : json_null(),
		"patch", cd->patch ? xjson_pack("{s:s, s:I}", "sha256", dg, "bytes",
						(json_int_t)cd->len) : json_null()));
	json_object_set_new(req, "options", xjson_pack("{s:s, s:o, s:o, s:o}", "mode",
		rwd_episode_mode_name(x->o.mode), "policy", eng_policy_json(&x->s->policy),
		"FAIL_TO_PASS", json_deep_copy(x->s->task.f2p),
		"PASS_TO_PASS", json_deep_copy(x->s->task.p2p)));
}

/* The base texts the patch was applied to (inputs.documents); per file
 * before and after in the returned array (outcome.patch.files). */
static json_t *bundle_files(const struct eng_cand *cd, json_t *docs)
{
	json_t *files = json_array();
	size_t i;

	for (i = 0; i < cd->e.n; i++) {
		const struct sbx_file *sf = &cd->e.v[i];
		char h1[LN_SHA256_HEX_SIZE], h2[LN_SHA256_HEX_SIZE];
		json_t *fj;
		ln_sha256_hex(sf->old.data, sf->old.len, h1);
		ln_sha256_hex(sf->new.data, sf->new.len, h2);
		if (sf->old_exists)
			json_array_append_new(docs, xjson_pack("{s:s, s:s}", "path",
				sf->from ? sf->from : sf->path, "sha256", h1));
		fj = xjson_pack("{s:s, s:s, s:o, s:o}", "path", sf->path,
			"status", sbx_status_name(sf->status),
			"before", sf->old_exists ? json_string(h1) : json_null(),
			"after", sf->new_exists ? json_string(h2) : json_null());
		if (sf->from)
			json_object_set_new(fj, "from", json_string(sf->from));
		json_array_append_new(files, fj);
	}
	return files;
}

/* outcome.diagnostics and outcome.testRun; the record's isolation and
 * sandbox environment. */
static void bundle_results(const struct eng_cand *cd, json_t *b, json_t *env, json_t *outc)
{
	const struct eng_result *r = &cd->r;
	json_t *ro;

	if (r->diagnosed)
		json_object_set_new(outc, "diagnostics", xjson_pack("{s:o, s:o, s:I, s:I, s:I, "
			"s:I, s:I, s:I, s:O}", "dBefore", rwd_number(r->dd.d_before),
			"dAfter", rwd_number(r->dd.d_after), "fixed", (json_int_t)r->dd.fixed,
			"introduced", (json_int_t)r->dd.introduced, "kept", (json_int_t)r->dd.kept,
			"relevantBefore", (json_int_t)r->dd.relevant_before,
			"relevantAfter", (json_int_t)r->dd.relevant_after,
			"newErrors", (json_int_t)r->new_errors, "relevant", r->relevant));
	if (!r->record)
		return;
	ro = json_object_get(r->record, "outcome");
	json_object_set_new(outc, "testRun", xjson_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}",
		"record", json_object_get(r->record, "bundleId"),
		"counts", json_object_get(ro, "counts"),
		"FAIL_TO_PASS", json_object_get(ro, "FAIL_TO_PASS"),
		"PASS_TO_PASS", json_object_get(ro, "PASS_TO_PASS"),
		"resolved", json_object_get(ro, "resolved")));
	json_object_set(b, "isolation", json_object_get(r->record, "isolation"));
	json_object_set(env, "sandbox", json_object_get(json_object_get(r->record,
						"environment"), "sandbox"));
	if (r->ep.scorable)
		json_object_set_new(json_object_get(outc, "testRun"), "outcome",
				    rwd_outcome_json(&cd->oc));
}

/* The candidate's exit code in the bundle, and the message: the reasons. */
static void bundle_finish(struct eng_cand *cd, json_t *b)
{
	struct eng_result *r = &cd->r;
	int code = r->code ? r->code : r->accepted ? 0 : LN_EPOLICY;
	char *msg = NULL;

	if (json_array_size(r->reasons)) {
		struct buf m = BUF_INIT;
		json_t *v;
		size_t i;
		json_array_foreach(r->reasons, i, v)
			buf_addf(&m, "%s%s", i ? "; " : "", json_string_value(v));
		msg = buf_detach(&m, NULL);
	}
	ln_bundle_finish(b, code, msg);
	free(msg);
}

/* The candidate's eval bundle (request.command "eval"). */
void eng_make_bundle(struct eng *x, struct eng_cand *cd)
{
	struct eng_result *r = &cd->r;
	json_t *b = ln_bundle_new("eval"), *req = json_object_get(b, "request");
	json_t *env = json_object_get(b, "environment"), *outc = json_object(), *f;
	json_t *vol = json_object_get(json_object_get(b, "meta"), "volatile");
	json_t *docs = json_object_get(json_object_get(b, "inputs"), "documents");
	const char *st;
	size_t i;

	bundle_request(x, cd, req);
	json_object_set_new(env, "indexIo", json_string(ln_enc_name(x->o.index_io)));
	json_object_set_new(env, "configDigest", json_string(x->s->digest));
	json_object_set_new(env, "servers", json_deep_copy(x->servers_env));
	json_object_set_new(b, "complete", json_boolean(r->complete));
	/* the enclosing symbol is a fact's "container" in a bundle */
	json_array_foreach(r->introduced, i, f) {
		json_t *copy = json_copy(f);
		if (json_object_get(copy, "symbol")) {
			json_object_set(copy, "container", json_object_get(copy, "symbol"));
			json_object_del(copy, "symbol");
		}
		json_array_append_new(json_object_get(b, "facts"), copy);
	}
	st = r->record ? json_string_value(json_object_get(json_object_get(r->record, "outcome"),
							   "status")) : NULL;
	json_object_set_new(outc, "status", json_string(!r->usable ? "patch-failed" :
							 st ? st : "error"));
	json_object_set_new(outc, "patch", xjson_pack("{s:b, s:s, s:o}", "usable", r->usable,
		"code", ln_err_name(r->apply_code), "files", bundle_files(cd, docs)));
	if (r->apply_code == LN_ECONFLICT && json_array_size(cd->e.conflicts))
		json_object_set(json_object_get(outc, "patch"), "conflicts", cd->e.conflicts);
	bundle_results(cd, b, env, outc);
	json_object_set_new(outc, "reward", reward_json(x, r));
	json_object_set_new(outc, "verdict", xjson_pack("{s:b, s:O}", "accepted", r->accepted,
							"reasons", r->reasons));
	json_object_set_new(b, "outcome", outc);
	json_object_set_new(vol, "durationMs", xjson_pack("{s:I, s:I, s:I}", "total",
		(json_int_t)(ln_now_ms() - x->started), "diagnostics", (json_int_t)x->t_diag_ms,
		"tests", (json_int_t)x->t_tests_ms));
	if (x->wt)
		json_object_set_new(vol, "worktree", json_string(x->wt));
	if (r->record)
		json_object_set(vol, "testRecord", r->record);
	bundle_finish(cd, b);
	r->bundle = b;
}

/* The trace events of a scored candidate (docs/trace.md): its edit, its
 * outcome record, its step and episode rewards. */
void eng_trace_candidate(struct eng *x, const struct eng_cand *cd)
{
	const struct eng_result *r = &cd->r;
	void *ctx = x->o.trace_ctx;

	if (!x->o.trace)
		return;
	/* the patch text: the completion of a training row (trace export) */
	x->o.trace(ctx, "edit", xjson_pack("{s:s, s:b, s:s, s:o, s:o}", "candidate", r->id,
		"usable", r->usable, "code", ln_err_name(r->apply_code),
		"files", r->usable ? sbx_edits_files_json(&cd->e) : json_array(),
		"patch", cd->patch ? xjson_stringn_lossy(cd->patch, cd->len) : json_null()));
	if (r->record)
		x->o.trace(ctx, "outcome", xjson_pack("{s:s, s:O}", "candidate", r->id, "record",
						      r->record));
	if (r->diagnosed)
		x->o.trace(ctx, "reward", xjson_pack("{s:s, s:s, s:o, s:{s:o, s:o, s:o, s:o, s:o}, "
			"s:o}", "kind", "step", "candidate", r->id,
			"functional", rwd_functional_json(RWD_BOUNDED, &x->o.weights), "terms",
			"D0", rwd_number(r->step.d_prev), "D", rwd_number(r->step.d),
			"S", rwd_number(r->step.s), "c", rwd_number(r->step.c),
			"c0", rwd_number(r->step.c_prev),
			"reward", rwd_number(r->ep.r_process)));
	x->o.trace(ctx, "reward", xjson_pack("{s:s, s:s, s:s, s:b, s:{s:o, s:o, s:o}, s:o, s:o}",
		"kind", "episode", "candidate", r->id, "mode", rwd_episode_mode_name(x->o.mode),
		"scorable", r->ep.scorable, "terms", "format", rwd_number(r->ep.r_format),
		"outcome", rwd_number(r->ep.r_outcome), "process", rwd_number(r->ep.r_process),
		"reward", rwd_number(r->reward), "reason", xjson_string_lossy(r->ep.scorable ? "" : r->ep.reason)));
	/* the candidate's eval bundle: replay checks it against its id and
	 * its rewards against it (docs/trace.md) */
	if (r->bundle)
		x->o.trace(ctx, "candidate", xjson_pack("{s:s, s:O?, s:O}", "candidate", r->id,
			"bundleId", json_object_get(r->bundle, "bundleId"), "bundle", r->bundle));
}
