/*
 * trace_agent.c - `lanser trace export` of agent runs (docs/trace.md,
 * "Exports of agent runs"): one multi-turn training row per episode, from
 * its recorded events alone: the conversation as the model saw it (the
 * `model` events' new messages and responses, then the answers to the last
 * reply's calls from the `tool` events), the episode reward, the step
 * rewards, the group (the task id) and the group-relative advantage
 * computed as `lanser agent --tasks` does (rewards/advantage.h, preset
 * trl, the rollout's --advantage mode when the trace has its run), and for
 * prm a label per scored step (docs/rewards.md, "PRM labels").
 */
#include "agent/cli.h"
#include "agent/trace_int.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "rewards/advantage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* One episode: what its row needs. */
struct episode {
	const struct trace_run *r;
	const char *group;         /* the task id */
	const char *id;            /* the sample */
	const json_t *ep;          /* its episode reward event, or NULL */
	json_t *messages;          /* the conversation */
	json_t *adv;               /* its advantage (null when undefined) */
	size_t index;              /* its place in its group */
};

/* The conversation of run r. */
static json_t *messages_of(const struct trace_run *r)
{
	json_t *m = json_array(), *last = NULL, *answered = json_object();
	const json_t *v;
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		const json_t *ev = r->ev[i]->ev;
		if (strcmp(r->ev[i]->type, "model"))
			continue;
		json_array_foreach(json_object_get(json_object_get(ev, "request"), "new"), j, v) {
			json_array_append(m, (json_t *)v);
			if (!strcmp(str(v, "role"), "tool"))
				json_object_set_new(answered, str(v, "tool_call_id"), json_true());
		}
		v = json_object_get(json_object_get(ev, "response"), "message");
		if (json_is_object(v)) {
			json_array_append(m, (json_t *)v);
			last = (json_t *)v;
		}
	}
	/* the last reply's calls were answered after the last request: their
	 * tool events hold what the model would have read */
	json_array_foreach(json_object_get(last, "tool_calls"), j, v) {
		const char *id = str(v, "id");
		size_t k;
		if (json_object_get(answered, id))
			continue;
		for (k = 0; k < r->n; k++)
			if (!strcmp(r->ev[k]->type, "tool") && !strcmp(str(r->ev[k]->ev, "call"), id)) {
				json_array_append_new(m, xjson_pack("{s:s, s:s, s:O}", "role", "tool",
					"tool_call_id", id, "content",
					json_object_get(r->ev[k]->ev, "text")));
				break;
			}
	}
	json_decref(answered);
	return m;
}

/* Whether step `step` of r was undone (an interactive session's /undo). */
static bool undone(const struct trace_run *r, json_int_t step)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->ev[i]->type, "undo") &&
		    json_integer_value(json_object_get(r->ev[i]->ev, "step")) == step)
			return true;
	return false;
}

/* The PRM label of a scored step (docs/rewards.md): its safe-apply checks
 * passed and it added no diagnostic weight. */
static bool step_good(const json_t *terms)
{
	const json_t *s = json_object_get(terms, "S"), *d = json_object_get(terms, "D"),
		     *d0 = json_object_get(terms, "D0");

	return json_is_number(s) && json_number_value(s) == 1 && json_is_number(d) &&
	       json_is_number(d0) && json_number_value(d) <= json_number_value(d0);
}

/* A scored step as a PRM completion: the call the model made. */
static json_t *step_text(const struct trace_run *r, json_int_t step)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const json_t *ev = r->ev[i]->ev;
		if (!strcmp(r->ev[i]->type, "tool") &&
		    json_integer_value(json_object_get(ev, "step")) == step)
			return json_sprintf("%s %s", str(ev, "name"), str(ev, "arguments"));
	}
	return json_sprintf("step %lld", (long long)step);
}

static void emit(struct cli *c, json_t *row)
{
	char *line = jcs_dumps(row);

	if (line)
		fprintf(c->out, "%s\n", line);
	free(line);
	json_decref(row);
}

static void export_one(struct cli *c, const struct episode *e, const char *fmt)
{
	const json_t *rv = json_object_get(e->ep, "reward"), *terms = json_object_get(e->ep, "terms");
	json_t *prompt = json_array(), *completion = json_array(), *steps = json_array();
	json_t *labels = json_array(), *texts = json_array(), *v;
	const char *instruction = "";
	bool in_prompt = true;
	size_t i;

	/* the prompt: the messages up to the first user message */
	json_array_foreach(e->messages, i, v) {
		json_array_append(in_prompt ? prompt : completion, v);
		if (in_prompt && !strcmp(str(v, "role"), "user")) {
			in_prompt = false;
			instruction = str(v, "content");
		}
	}
	for (i = 0; i < e->r->n; i++) {
		const json_t *ev = e->r->ev[i]->ev;
		json_int_t step = json_integer_value(json_object_get(ev, "step"));
		if (strcmp(e->r->ev[i]->type, "reward") || strcmp(str(ev, "kind"), "step") ||
		    undone(e->r, step))
			continue;
		json_array_append(steps, json_object_get(ev, "reward"));
		json_array_append_new(texts, step_text(e->r, step));
		json_array_append_new(labels, json_boolean(step_good(json_object_get(ev, "terms"))));
	}
	if (!strcmp(fmt, "trl")) {
		emit(c, xjson_pack("{s:O, s:O, s:O, s:O, s:s, s:s, s:O}", "prompt", prompt,
			"completion", completion, "reward", rv, "advantage", e->adv, "group", e->group,
			"id", e->id, "step_rewards", steps));
	} else if (!strcmp(fmt, "openrlhf")) {
		emit(c, xjson_pack("{s:O, s:O, s:O, s:O, s:s, s:s, s:O}", "input", prompt,
			"output", completion, "reward", rv, "advantage", e->adv, "group", e->group,
			"id", e->id, "step_rewards", steps));
	} else if (!strcmp(fmt, "verl")) {
		emit(c, xjson_pack("{s:s, s:O, s:s, s:{s:s, s:O}, s:{s:s, s:s, s:s, s:I, s:O, s:O, "
			"s:O, s:O}}", "data_source", "lanser", "prompt", prompt, "ability", "code",
			"reward_model", "style", "rule", "ground_truth", rv, "extra_info", "run",
			e->r->id, "uid", e->group, "id", e->id, "index", (json_int_t)e->index,
			"messages", completion, "reward", rv, "advantage", e->adv, "step_rewards",
			steps));
	} else {
		/* the end of the episode is a step too: good when its diff was
		 * usable and its tests passed */
		const json_t *f = json_object_get(terms, "format"), *o = json_object_get(terms,
											 "outcome");
		const struct rwd_trace_ev *oc = trace_run_find(e->r, "outcome");
		const char *status = oc ? str(json_object_get(json_object_get(oc->ev, "record"),
							      "outcome"), "status") : "";
		json_array_append_new(texts, json_sprintf("finish (tests: %s)",
							  *status ? status : "none"));
		json_array_append_new(labels, json_boolean(json_is_number(f) &&
			json_number_value(f) == 1 && json_is_number(o) && json_number_value(o) == 1));
		emit(c, xjson_pack("{s:s, s:O, s:O, s:s, s:s}", "prompt", instruction,
			"completions", texts, "labels", labels, "group", e->group, "id", e->id));
	}
	json_decref(prompt);
	json_decref(completion);
	json_decref(steps);
	json_decref(labels);
	json_decref(texts);
}

/* The advantage mode of the rollouts recorded in the file (their run's
 * --advantage), else grpo. */
static enum rwd_adv_mode adv_mode(const struct trace_run *runs, size_t nruns)
{
	enum rwd_adv_mode m = RWD_ADV_GRPO;
	size_t i;

	for (i = 0; i < nruns; i++) {
		const struct rwd_trace_ev *req = trace_run_find(&runs[i], "request");
		const json_t *o = req ? json_object_get(req->ev, "options") : NULL;
		const char *a = json_string_value(json_object_get(o, "advantage"));
		if (strcmp(str(req ? req->ev : NULL, "command"), "agent") ||
		    !json_object_get(o, "tasks") || !a)
			continue;
		if (rwd_adv_mode_parse(&m, a) || m == RWD_ADV_STEP)
			m = RWD_ADV_GRPO;
		ln_error_clear();
	}
	return m;
}

size_t trace_export_agent(struct cli *c, const struct trace_run *runs, size_t nruns,
			  const char *fmt)
{
	struct episode *e = NULL;
	size_t n = 0, i, j;
	json_t *groups = json_object();   /* group id -> [episode index] */
	enum rwd_adv_mode mode = adv_mode(runs, nruns);
	const char *gid;
	json_t *members;

	for (i = 0; i < nruns; i++) {
		const struct rwd_trace_ev *ag = trace_run_find(&runs[i], "agent");
		struct episode x;
		if (!ag)
			continue;
		memset(&x, 0, sizeof x);
		x.r = &runs[i];
		x.group = json_string_value(json_object_get(json_object_get(ag->ev, "task"), "id"));
		if (!x.group)
			x.group = str(ag->ev, "base");
		x.id = str(ag->ev, "sample");
		for (j = runs[i].n; j-- > 0;)
			if (!strcmp(runs[i].ev[j]->type, "reward") &&
			    !strcmp(str(runs[i].ev[j]->ev, "kind"), "episode")) {
				x.ep = runs[i].ev[j]->ev;
				break;
			}
		/* unscorable (or unfinished) episodes are left out, as they are
		 * from their group's statistics */
		if (!json_is_number(json_object_get(x.ep, "reward")))
			continue;
		x.messages = messages_of(x.r);
		trace_push((void **)&e, &n, sizeof x, &x);
		if (!json_object_get(groups, x.group))
			json_object_set_new(groups, x.group, json_array());
		json_array_append_new(json_object_get(groups, x.group), json_integer((json_int_t)n - 1));
	}
	/* each group's advantages: the rollouts' code (agent/rollout.c) */
	json_object_foreach(groups, gid, members) {
		struct rwd_group g;
		json_t *rewards = json_array(), *gj, *adv = NULL, *m;
		double mean, sd;
		memset(&g, 0, sizeof g);
		json_array_foreach(members, j, m)
			json_array_append(rewards, json_object_get(e[json_integer_value(m)].ep, "reward"));
		gj = xjson_pack("{s:s, s:o}", "id", gid, "rewards", rewards);
		if (rwd_group_parse(&g, gj) == 0) {
			rwd_mean_std(g.r, g.n, &mean, &sd);
			adv = rwd_group_advantages(&g, mode, RWD_PRESET_TRL, -1, sd);
		}
		ln_error_clear();
		json_array_foreach(members, j, m) {
			struct episode *x = &e[json_integer_value(m)];
			json_t *a = json_array_get(json_object_get(adv, "advantages"), j);
			x->adv = a ? json_incref(a) : json_null();
			x->index = j;
		}
		json_decref(adv);
		json_decref(gj);
		rwd_group_release(&g);
	}
	for (i = 0; i < n; i++) {
		export_one(c, &e[i], fmt);
		json_decref(e[i].messages);
		json_decref(e[i].adv);
	}
	json_decref(groups);
	free(e);
	return n;
}
