/*
 * group.c - `lanser group`: the rewards and GRPO advantages of a group of
 * candidates (docs/eval.md), printed as text, one JSON document, or a line
 * per candidate as each is scored (--jsonl). Shares the reading of
 * candidates and the engine call with `lanser eval` (agent/eval_int.h).
 */
#include "agent/cli.h"
#include "agent/eval.h"
#include "agent/eval_int.h"

#include "agent/trace.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "engine/engine.h"
#include "engine/extract.h"
#include "engine/testrun.h"
#include "rewards/advantage.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- lanser group ---- */

struct group_opts {
	enum rwd_adv_mode amode;
	enum rwd_preset preset;
	double eps;              /* -1: the preset's */
};

static int group_options(struct cli *c, struct group_opts *g)
{
	g->amode = RWD_ADV_GRPO;
	g->preset = RWD_PRESET_TRL;
	g->eps = -1;
	if (c->mode && rwd_adv_mode_parse(&g->amode, c->mode))
		return ln_error_set(LN_EUSAGE, "--mode must be grpo, dr_grpo or batch (got '%s')",
				    c->mode);
	if (g->amode == RWD_ADV_STEP)
		return ln_error_set(LN_EUSAGE, "group: --mode step needs per-step rewards (use "
				    "lanser advantages)");
	if (c->preset && rwd_preset_parse(&g->preset, c->preset))
		return ln_error_set(LN_EUSAGE, "--preset must be trl, verl or openrlhf");
	if (c->eps) {
		char *end;
		g->eps = strtod(c->eps, &end);
		if (!*c->eps || *end || !(g->eps >= 0) || !isfinite(g->eps))
			return ln_error_set(LN_EUSAGE, "--eps needs a non-negative number");
	}
	return 0;
}

/* Candidates: the task's, --patch, positional patch files, --in. */
static int group_candidates(struct fe *x)
{
	struct cli *c = x->c;
	const struct sbx_task *t = &x->s.task;
	size_t i;
	int error = 0;

	for (i = 0; !error && i < t->ncands; i++)
		if (t->cands[i].patch_path)
			error = eval_cand_from_file(x, t->cands[i].id, t->cands[i].patch_path);
	for (i = 0; !error && i < (size_t)c->npatches; i++) {
		char id[80];
		eval_id_from_path(x, c->patches[i], id, sizeof id);
		error = eval_cand_from_file(x, id, c->patches[i]);
	}
	for (i = 0; !error && i < (size_t)c->argc; i++) {
		char id[80];
		eval_id_from_path(x, c->argv[i], id, sizeof id);
		error = eval_cand_from_file(x, id, c->argv[i]);
	}
	if (!error && c->in_path) {
		/* search/replace and file blocks apply to the base's files */
		if (eng_base_reader_open(&x->base, x->s.root, x->s.task.base))
			x->base = NULL;
		error = eval_read_completions(x, c->in_path);
	}
	if (!error && x->n == 0)
		error = ln_error_set(LN_EUSAGE, "group needs candidates: patch files, --patch, a "
				     "task with \"candidates\", or --in completions.jsonl");
	return error;
}

/* --out FILE: every candidate's eval bundle, one per line (JSONL). */
static int write_bundles(struct fe *x, const char *path)
{
	struct buf abs = BUF_INIT;
	FILE *f;
	size_t i;
	int error = 0;

	if (path[0] == '/')
		buf_adds(&abs, path);
	else
		buf_addf(&abs, "%s/%s", x->c->cwd, path);
	f = fopen(abs.data, "w");
	if (!f) {
		error = ln_error_set(LN_EPERM, "--out %s: %s", path, strerror(errno));
		goto done;
	}
	for (i = 0; i < x->n; i++) {
		char *s = jcs_dumps(x->res[i].bundle);
		if (!s || fprintf(f, "%s\n", s) < 0)
			error = ln_error_set(LN_EPERM, "--out %s: write error", path);
		free(s);
		if (error)
			break;
	}
	if (fclose(f) && !error)
		error = ln_error_set(LN_EPERM, "--out %s: %s", path, strerror(errno));
done:
	buf_release(&abs);
	return error;
}

int eval_group_advantages(json_t **adv, json_t **group, const struct eng_result *res, size_t n,
			  const char *id, enum rwd_adv_mode amode, enum rwd_preset preset, double eps)
{
	struct rwd_group g;
	json_t *rewards = json_array(), *gj;
	double m, sd;
	size_t i;
	int error;

	*adv = NULL;
	memset(&g, 0, sizeof g);
	for (i = 0; i < n; i++)
		json_array_append_new(rewards, rwd_number(res[i].reward));
	gj = xjson_pack("{s:s, s:o}", "id", id, "rewards", rewards);
	error = rwd_group_parse(&g, gj);
	if (!error) {
		rwd_mean_std(g.r, g.n, &m, &sd);
		*adv = rwd_group_advantages(&g, amode, preset, eps, sd);
	}
	rwd_group_release(&g);
	if (group && !error)
		*group = gj;
	else
		json_decref(gj);
	return error;
}

/* The group's advantages (new reference in *adv), traced. */
static int group_advantages(struct fe *x, const struct group_opts *go, json_t **adv)
{
	json_t *gj = NULL;
	int error;

	error = eval_group_advantages(adv, &gj, x->res, x->n, x->s.task.task_id ? x->s.task.task_id :
				      eng_base_oid(x->eng), go->amode, go->preset, go->eps);
	if (!error && x->c->trace)
		trace_event(x->c, "advantages", xjson_pack("{s:O, s:s, s:s, s:O?, s:o, s:O}",
			"group", gj, "mode", rwd_adv_mode_name(go->amode), "preset",
			rwd_preset_name(go->preset), "epsilon",
			json_object_get(*adv, "epsilon"), "batchStd",
			go->amode == RWD_ADV_BATCH ? json_incref(json_object_get(*adv, "std"))
						    : json_null(), "result", *adv));
	json_decref(gj);
	return error;
}

/* One member of the group's JSON answer. */
json_t *eval_candidate_json(const struct eng_result *r, const json_t *adv, size_t i)
{
	const char *st = eval_record_status(r);

	return xjson_pack("{s:s, s:O?, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:O?, s:b}",
		"id", r->id, "bundleId", json_object_get(r->bundle, "bundleId"),
		"reward", rwd_number(r->reward), "scorable", r->ep.scorable,
		"reason", r->ep.scorable ? json_null() : xjson_string_lossy(r->ep.reason),
		"rFormat", rwd_number(r->ep.r_format),
		"rOutcome", r->ep.scorable ? rwd_number(r->ep.r_outcome) : json_null(),
		"rProcess", rwd_number(r->ep.r_process),
		"tests", st ? json_string(st) : json_null(),
		"newErrors", (json_int_t)r->new_errors,
		"formatNote", r->usable ? json_null() : json_string(r->format_note),
		"advantage", json_array_get(json_object_get(adv, "advantages"), i),
		"accepted", r->accepted);
}

/* --jsonl: a candidate's line as soon as the engine has scored it (its
 * advantage needs the whole group: the last line has it). */
static void stream_candidate(void *ctx, size_t i, const struct eng_result *r)
{
	struct fe *x = ctx;
	json_t *v = eval_candidate_json(r, NULL, i);

	json_object_del(v, "advantage");
	json_object_set_new(v, "schema", json_string("lanser.group.candidate/1"));
	json_object_set_new(v, "index", json_integer((json_int_t)i));
	eval_print_json_line(x->c, v);
	fflush(x->c->out);
	json_decref(v);
}

static void print_group_json(struct fe *x, const json_t *adv, long long t0)
{
	json_t *cands = json_array(), *out;
	long long diag_ms, tests_ms;
	size_t i;

	for (i = 0; i < x->n; i++)
		json_array_append_new(cands, eval_candidate_json(&x->res[i], adv, i));
	eng_timings(x->eng, &diag_ms, &tests_ms);
	out = xjson_pack("{s:s, s:s, s:o, s:s, s:o, s:O}", "schema", "lanser.group/1",
		"base", eng_base_oid(x->eng),
		"task", x->s.task.task_id ? json_string(x->s.task.task_id) : json_null(),
		"mode", rwd_episode_mode_name(x->emode), "candidates", cands, "advantages", adv);
	json_object_set_new(out, "volatile", xjson_pack("{s:I, s:I, s:I}", "totalMs",
		(json_int_t)(ln_now_ms() - t0), "diagnosticsMs", (json_int_t)diag_ms,
		"testsMs", (json_int_t)tests_ms));
	eval_print_json_line(x->c, out);
	json_decref(out);
}

static void print_group_text(struct fe *x, const struct group_opts *go, const json_t *adv)
{
	FILE *o = x->c->out;
	const char *task = x->s.task.task_id;
	char a[40], rw[40], m[40], s[40];
	int w = 10;   /* the id column: the longest id, at most 40 */
	size_t i;

	for (i = 0; i < x->n; i++) {
		size_t l = strlen(ln_printable(x->res[i].id));
		if ((int)l > w)
			w = l > 40 ? 40 : (int)l;
	}
	fprintf(o, "group%s%s at base %.12s: %zu candidates, reward %s, advantages %s (%s)\n",
		task ? " " : "", task ? ln_printable(task) : "", eng_base_oid(x->eng), x->n,
		rwd_episode_mode_name(x->emode), rwd_adv_mode_name(go->amode),
		rwd_preset_name(go->preset));
	for (i = 0; i < x->n; i++) {
		const struct eng_result *r = &x->res[i];
		const json_t *av = json_array_get(json_object_get(adv, "advantages"), i);
		eval_num_str(rw, sizeof rw, r->reward);
		eval_num_str(a, sizeof a, json_is_number(av) ? json_number_value(av) : NAN);
		fprintf(o, "  %-*s reward %-20s advantage %-22s", w, ln_printable(r->id), rw, a);
		if (!r->usable)
			fprintf(o, "not a usable patch (R_format 0): %s\n",
				ln_printable(r->format_note));
		else if (!r->ep.scorable)
			fprintf(o, "UNSCORABLE: %s\n", ln_printable(r->ep.reason));
		else
			fprintf(o, "format %g outcome %g process %.4g, %ld new error%s, tests %s\n",
				r->ep.r_format, r->ep.r_outcome, r->ep.r_process, r->new_errors,
				r->new_errors == 1 ? "" : "s", ln_printable(eval_record_status(r)));
		if (r->record) {
			char *tf = eng_record_test_files_note(r->record);
			if (tf)
				fprintf(o, "  %-*s %s\n", w, "", ln_printable(tf));
			free(tf);
		}
	}
	eval_num_str(m, sizeof m, json_number_value(json_object_get(adv, "mean")));
	eval_num_str(s, sizeof s, json_is_number(json_object_get(adv, "std")) ?
		json_number_value(json_object_get(adv, "std")) : NAN);
	fprintf(o, "  mean %s, std %s, %lld scored%s\n", m, s,
		(long long)json_integer_value(json_object_get(adv, "scored")),
		json_is_true(json_object_get(adv, "allEqual")) ? ", all equal (no signal)" : "");
}

/* A group none of whose members could be scored gave a trainer nothing:
 * the exit code `lanser eval` gives the first of them (83 a limit or the
 * sandbox, 1 a base that does not build, ...). Otherwise 0, whatever the
 * candidates' outcomes. */
static int group_exit(const struct fe *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->res[i].ep.scorable)
			return 0;
	if (!x->n)
		return 0;
	return ln_error_set(x->res[0].code ? x->res[0].code : LN_ESANDBOX,
			    "no candidate could be scored (%s: %s)", ln_printable(x->res[0].id),
			    ln_printable(x->res[0].ep.reason));
}

int cmd_group(struct cli *c)
{
	struct fe x;
	struct group_opts go;
	json_t *adv = NULL;
	long long t0 = ln_now_ms();
	int error;

	eval_fe_init(&x, c);
	if ((error = group_options(c, &go)) || (error = eval_load_settings(&x)))
		goto done;
	if (c->episode_mode && (error = eval_parse_episode_mode(&x, c->episode_mode)))
		goto done;
	if ((error = group_candidates(&x)) || (error = eval_run_engine(&x, false, c->jsonl ? stream_candidate : NULL)) ||
	    (error = group_advantages(&x, &go, &adv)))
		goto done;
	if (c->out_path && (error = write_bundles(&x, c->out_path)))
		goto done;
	if (c->json || c->jsonl)
		print_group_json(&x, adv, t0);
	else
		print_group_text(&x, &go, adv);
	error = group_exit(&x);
done:
	json_decref(adv);
	eval_fe_release(&x);
	return error;
}
