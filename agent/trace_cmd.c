/*
 * trace_cmd.c - the `lanser trace` command: list, show and export here,
 * replay in agent/trace_replay.c (docs/trace.md).
 */
#include "agent/cli.h"
#include "agent/trace_int.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "rewards/reward.h"
#include "rewards/tracefile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void trace_runs_of(const struct rwd_trace_file *f, struct trace_run **out, size_t *nout)
{
	json_t *index = json_object(); /* run id -> position in *out */
	size_t i;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < f->n; i++) {
		struct trace_run *r;
		const struct rwd_trace_ev *e = &f->v[i];
		json_t *at = json_object_get(index, e->run);
		if (!at) {
			struct trace_run nr = { e->run, NULL, 0 };
			trace_push((void **)out, nout, sizeof nr, &nr);
			json_object_set_new(index, e->run, json_integer((json_int_t)(*nout - 1)));
			r = &(*out)[*nout - 1];
		} else {
			r = &(*out)[json_integer_value(at)];
		}
		trace_push((void **)&r->ev, &r->n, sizeof e, &e);
	}
	json_decref(index);
}

void trace_runs_free(struct trace_run *r, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		free(r[i].ev);
	free(r);
}

const struct rwd_trace_ev *trace_run_find(const struct trace_run *r, const char *type)
{
	size_t i;
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->ev[i]->type, type))
			return r->ev[i];
	return NULL;
}

static void summary(FILE *out, const struct rwd_trace_ev *e)
{
	const json_t *ev = e->ev;
	const char *s;

	fprintf(out, "%6ld  %s  %4lld  %-8s ", e->line, ln_printable(e->run), e->seq,
		ln_printable(e->type));
	if (!strcmp(e->type, "frame")) {
		json_t *m = json_loads(json_string_value(json_object_get(ev, "body")), 0, NULL);
		const char *method = json_string_value(json_object_get(m, "method"));
		json_t *id = json_object_get(m, "id");
		fprintf(out, "%s %s %s", ln_printable(json_string_value(json_object_get(ev, "server"))),
			ln_printable(json_string_value(json_object_get(ev, "dir"))),
			method ? ln_printable(method) : "(response)");
		if (json_is_integer(id))
			fprintf(out, " #%lld", (long long)json_integer_value(id));
		json_decref(m);
	} else if (!strcmp(e->type, "bundle")) {
		fprintf(out, "%s %s exit %lld",
			ln_printable(json_string_value(json_object_get(ev, "command"))),
			ln_printable(json_string_value(json_object_get(ev, "bundleId"))),
			(long long)json_integer_value(json_object_get(json_object_get(
				json_object_get(ev, "bundle"), "meta"), "exitCode")));
	} else if (!strcmp(e->type, "request")) {
		size_t i;
		fprintf(out, "%s", ln_printable(json_string_value(json_object_get(ev, "command"))));
		for (i = 0; i < json_array_size(json_object_get(ev, "args")); i++)
			fprintf(out, " %s", ln_printable(json_string_value(json_array_get(
				json_object_get(ev, "args"), i))));
	} else if (!strcmp(e->type, "document")) {
		fprintf(out, "%s %s", ln_printable(json_string_value(json_object_get(ev, "path"))),
			(s = json_string_value(json_object_get(ev, "sha256"))) ? ln_printable(s) :
			"(unreadable)");
	} else if (!strcmp(e->type, "probe")) {
		fprintf(out, "%s", ln_printable(json_string_value(json_object_get(ev, "name"))));
	} else if (!strcmp(e->type, "server") || !strcmp(e->type, "pump") ||
		   !strcmp(e->type, "deadline")) {
		fprintf(out, "%s", ln_printable(json_string_value(json_object_get(ev, "server"))));
		if (!strcmp(e->type, "pump"))
			fprintf(out, " n=%lld", (long long)json_integer_value(json_object_get(ev, "n")));
	} else if (!strcmp(e->type, "reward")) {
		char t[40];
		trace_num_text(t, json_object_get(ev, "reward"));
		fprintf(out, "%s %s", ln_printable(json_string_value(json_object_get(ev, "kind"))),
			t);
	} else if (!strcmp(e->type, "end")) {
		fprintf(out, "exit %lld", (long long)json_integer_value(json_object_get(ev, "exitCode")));
	} else if (!strcmp(e->type, "header")) {
		fprintf(out, "lanser %s", ln_printable(json_string_value(json_object_get(ev, "lanser"))));
	}
	fputc('\n', out);
}

static bool wanted(struct cli *c, const struct rwd_trace_ev *e, const char *run)
{
	if (c->event_kind && strcmp(c->event_kind, e->type))
		return false;
	return !run || !strncmp(e->run, run, strlen(run));
}

static int trace_list_show(struct cli *c, const char *file, bool show, const char *run)
{
	struct rwd_trace_file f;
	size_t i;
	int error = rwd_trace_read(&f, file);

	if (error)
		return error;
	for (i = 0; i < f.n; i++) {
		if (!wanted(c, &f.v[i], run))
			continue;
		if (show) {
			char *s = jcs_dumps(f.v[i].ev);
			if (s)
				fprintf(c->out, "%s\n", s);
			free(s);
		} else {
			summary(c->out, &f.v[i]);
		}
	}
	rwd_trace_file_release(&f);
	return 0;
}

static const char *prompt_of(const struct trace_run *r, struct buf *tmp)
{
	const struct rwd_trace_ev *req = trace_run_find(r, "request");
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->ev[i]->type, "model") &&
		    !strcmp(json_string_value(json_object_get(r->ev[i]->ev, "role")) ?: "", "user"))
			return json_string_value(json_object_get(r->ev[i]->ev, "content")) ?: "";
	buf_reset(tmp);
	if (req) {
		const json_t *args = json_object_get(req->ev, "args");
		buf_addf(tmp, "lanser %s", json_string_value(json_object_get(req->ev, "command")));
		for (i = 0; i < json_array_size(args); i++)
			buf_addf(tmp, " %s", json_string_value(json_array_get(args, i)) ?: "");
	}
	return tmp->data;
}

/* The completion: the last assistant message, else the answer's facts. */
static char *completion_of(const struct trace_run *r)
{
	const struct rwd_trace_ev *be = trace_run_find(r, "bundle");
	size_t i;

	for (i = r->n; i-- > 0;)
		if (!strcmp(r->ev[i]->type, "model") &&
		    !strcmp(json_string_value(json_object_get(r->ev[i]->ev, "role")) ?: "", "assistant"))
			return xstrdup(json_string_value(json_object_get(r->ev[i]->ev, "content")) ?: "");
	if (be)
		return jcs_dumps(json_object_get(json_object_get(be->ev, "bundle"), "facts"));
	return xstrdup("");
}

/* The run's reward: the last episode reward, else the mean of its step
 * rewards, else 1/0 by the bundle's exit status; NAN when unscorable. */
static double reward_of(const struct trace_run *r)
{
	const struct rwd_trace_ev *be = trace_run_find(r, "bundle");
	double sum = 0;
	size_t i, k = 0;

	for (i = r->n; i-- > 0;)
		if (!strcmp(r->ev[i]->type, "reward") &&
		    !strcmp(json_string_value(json_object_get(r->ev[i]->ev, "kind")), "episode")) {
			const json_t *v = json_object_get(r->ev[i]->ev, "reward");
			return json_is_number(v) ? json_number_value(v) : NAN;
		}
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->ev[i]->type, "reward") &&
		    json_is_number(json_object_get(r->ev[i]->ev, "reward"))) {
			sum += json_number_value(json_object_get(r->ev[i]->ev, "reward"));
			k++;
		}
	if (k)
		return sum / (double)k;
	if (be)
		return json_integer_value(json_object_get(json_object_get(json_object_get(be->ev,
			"bundle"), "meta"), "exitCode")) == 0 ? 1.0 : 0.0;
	return NAN;
}

/* The event of `type` (and reward `kind`, when given) about candidate
 * `id` in run r, or NULL. */
static const json_t *cand_event(const struct trace_run *r, const char *type, const char *kind,
				const char *id)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const json_t *ev = r->ev[i]->ev;
		if (strcmp(r->ev[i]->type, type) ||
		    strcmp(json_string_value(json_object_get(ev, "candidate")) ?: "", id))
			continue;
		if (kind && strcmp(json_string_value(json_object_get(ev, "kind")) ?: "", kind))
			continue;
		return ev;
	}
	return NULL;
}

/*
 * One row per scored candidate of an eval/group run (docs/trace.md,
 * "Exports of eval and group traces"): completion = its patch text, its
 * reward, its advantage and group id (the run's advantages event), its
 * step rewards; unscorable candidates (reward null) are left out, as they
 * are from the advantage statistics. Returns the number of candidates
 * the run has (0: not an eval/group run).
 */
static size_t export_candidates(struct cli *c, const struct trace_run *r, const char *fmt,
				const char *prompt)
{
	const struct rwd_trace_ev *adv_ev = trace_run_find(r, "advantages");
	const json_t *adv = adv_ev ? json_object_get(adv_ev->ev, "result") : NULL;
	const json_t *grp = adv_ev ? json_object_get(adv_ev->ev, "group") : NULL;
	const char *gid = json_string_value(json_object_get(grp, "id")) ?: r->id;
	size_t i, k = 0, j;

	for (i = 0; i < r->n; i++) {
		const json_t *ep = r->ev[i]->ev, *edit, *step, *rv, *terms, *av;
		const char *id = json_string_value(json_object_get(ep, "candidate"));
		const char *patch;
		json_t *steps, *row;
		char *line;
		bool good;
		if (strcmp(r->ev[i]->type, "reward") || !id ||
		    strcmp(json_string_value(json_object_get(ep, "kind")) ?: "", "episode"))
			continue;
		k++;
		rv = json_object_get(ep, "reward");
		if (!json_is_number(rv))
			continue;   /* unscorable */
		edit = cand_event(r, "edit", NULL, id);
		step = cand_event(r, "reward", "step", id);
		patch = json_string_value(json_object_get(edit, "patch")) ?: "";
		terms = json_object_get(ep, "terms");
		/* the advantage of the k-th member, when it is this reward */
		av = json_array_get(json_object_get(adv, "advantages"), k - 1);
		if (!json_equal(json_array_get(json_object_get(grp, "rewards"), k - 1), (json_t *)rv))
			av = NULL;
		steps = json_array();
		for (j = 0; j < r->n; j++)
			if (r->ev[j]->ev != ep && !strcmp(r->ev[j]->type, "reward") &&
			    !strcmp(json_string_value(json_object_get(r->ev[j]->ev, "candidate")) ?: "",
				    id) &&
			    !strcmp(json_string_value(json_object_get(r->ev[j]->ev, "kind")) ?: "",
				    "step"))
				json_array_append(steps, json_object_get(r->ev[j]->ev, "reward"));
		if (!strcmp(fmt, "trl")) {
			row = xjson_pack("{s:s, s:s, s:O, s:O?, s:s, s:s, s:O}", "prompt", prompt,
				"completion", patch, "reward", rv, "advantage", av, "group", gid,
				"id", id, "step_rewards", steps);
		} else if (!strcmp(fmt, "openrlhf")) {
			row = xjson_pack("{s:s, s:s, s:O, s:O?, s:s, s:s, s:O}", "input", prompt,
				"output", patch, "reward", rv, "advantage", av, "group", gid,
				"id", id, "step_rewards", steps);
		} else if (!strcmp(fmt, "verl")) {
			row = xjson_pack("{s:s, s:[{s:s, s:s}], s:s, s:{s:s, s:O}, "
				"s:{s:s, s:s, s:I, s:s, s:O, s:O?, s:O}}",
				"data_source", "lanser", "prompt", "role", "user", "content", prompt,
				"ability", "code", "reward_model", "style", "rule", "ground_truth", rv,
				"extra_info", "run", r->id, "uid", gid, "index", (json_int_t)(k - 1),
				"response", patch, "reward", rv, "advantage", av,
				"step_rewards", steps);
		} else {
			/* the PRM rule (docs/trace.md): the patch step is good when the
			 * candidate's tests passed and it added no diagnostic weight */
			const json_t *st = json_object_get(step, "terms");
			good = json_is_number(json_object_get(terms, "outcome")) &&
			       json_number_value(json_object_get(terms, "outcome")) == 1 &&
			       json_is_number(json_object_get(terms, "format")) &&
			       json_number_value(json_object_get(terms, "format")) == 1 &&
			       (!st || json_number_value(json_object_get(st, "D")) <=
					       json_number_value(json_object_get(st, "D0")));
			row = xjson_pack("{s:s, s:[s], s:[b], s:s, s:s}", "prompt", prompt,
				"completions", patch, "labels", good, "group", gid, "id", id);
		}
		json_decref(steps);
		line = jcs_dumps(row);
		if (line)
			fprintf(c->out, "%s\n", line);
		free(line);
		json_decref(row);
	}
	return k;
}

static int trace_export(struct cli *c, const char *file)
{
	struct rwd_trace_file f;
	struct trace_run *runs = NULL;
	size_t nruns = 0, i, j;
	struct buf tmp = BUF_INIT;
	const char *fmtname = c->format ? c->format : "";
	int error;

	if (strcmp(fmtname, "trl") && strcmp(fmtname, "openrlhf") && strcmp(fmtname, "verl") &&
	    strcmp(fmtname, "prm"))
		return ln_error_set(LN_EUSAGE, "trace export needs --format trl, openrlhf, verl or prm");
	error = rwd_trace_read(&f, file);
	if (error)
		return error;
	trace_runs_of(&f, &runs, &nruns);
	/* agent episodes: multi-turn rows, grouped by task (trace_agent.c) */
	trace_export_agent(c, runs, nruns, fmtname);
	for (i = 0; i < nruns; i++) {
		const struct trace_run *r = &runs[i];
		const struct rwd_trace_ev *req = trace_run_find(r, "request");
		const char *prompt;
		char *completion;
		double rw;
		json_t *row;
		char *line;
		if (!req || !strcmp(json_string_value(json_object_get(req->ev, "command")) ?: "",
				    "agent"))
			continue;
		prompt = prompt_of(r, &tmp);
		if (export_candidates(c, r, fmtname, prompt))
			continue;
		completion = completion_of(r);
		if (!completion)
			completion = xstrdup("");
		rw = reward_of(r);
		if (!strcmp(fmtname, "trl")) {
			row = xjson_pack("{s:s, s:s, s:o}", "prompt", prompt, "completion",
					completion, "reward", rwd_number(rw));
		} else if (!strcmp(fmtname, "openrlhf")) {
			row = xjson_pack("{s:s, s:s, s:o}", "input", prompt, "output",
					completion, "reward", rwd_number(rw));
		} else if (!strcmp(fmtname, "verl")) {
			row = xjson_pack("{s:s, s:[{s:s, s:s}], s:s, s:{s:s, s:o}, s:{s:s, s:s, s:o}}",
				"data_source", "lanser", "prompt", "role", "user", "content", prompt,
				"ability", "code", "reward_model", "style", "rule", "ground_truth",
				rwd_number(rw), "extra_info", "run", r->id, "response",
				completion, "reward", rwd_number(rw));
		} else {
			json_t *steps = json_array(), *labels = json_array();
			for (j = 0; j < r->n; j++) {
				const json_t *ev = r->ev[j]->ev;
				const json_t *v = json_object_get(ev, "reward");
				char *terms;
				if (strcmp(r->ev[j]->type, "reward") ||
				    strcmp(json_string_value(json_object_get(ev, "kind")), "step"))
					continue;
				terms = jcs_dumps(json_object_get(ev, "terms"));
				json_array_append_new(steps, json_string(terms ? terms : ""));
				free(terms);
				json_array_append_new(labels, json_boolean(json_is_number(v) &&
									  json_number_value(v) > 0));
			}
			if (json_array_size(steps) == 0) {
				json_array_append_new(steps, json_string(completion));
				json_array_append_new(labels, json_boolean(rw > 0));
			}
			row = xjson_pack("{s:s, s:o, s:o}", "prompt", prompt, "completions", steps,
					"labels", labels);
		}
		free(completion);
		/* every string above is non-NULL by construction (xjson_pack) */
		line = jcs_dumps(row);
		if (line)
			fprintf(c->out, "%s\n", line);
		free(line);
		json_decref(row);
	}
	buf_release(&tmp);
	trace_runs_free(runs, nruns);
	rwd_trace_file_release(&f);
	return 0;
}

int cmd_trace(struct cli *c)
{
	const char *sub = c->argv[0];   /* 2 or 3 arguments: the table's count */

	if (c->argc == 3 && !strcmp(sub, "list"))
		return trace_list_show(c, c->argv[1], false, c->argv[2]);
	if (c->argc == 2 && !strcmp(sub, "list"))
		return trace_list_show(c, c->argv[1], false, NULL);
	if ((c->argc == 2 || c->argc == 3) && !strcmp(sub, "show"))
		return trace_list_show(c, c->argv[1], true, c->argc == 3 ? c->argv[2] : NULL);
	if (c->argc == 2 && !strcmp(sub, "replay"))
		return trace_replay_file(c, c->argv[1]);
	if (c->argc == 2 && !strcmp(sub, "export"))
		return trace_export(c, c->argv[1]);
	if (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "replay") &&
	    strcmp(sub, "export"))
		return ln_error_set(LN_EUSAGE, "unknown trace command '%s' (list FILE [RUN], show "
				    "FILE [RUN], replay FILE or export FILE)", sub);
	return ln_error_set(LN_EUSAGE, "trace %s takes one FILE, without a run id", sub);
}

