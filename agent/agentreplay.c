/*
 * agentreplay.c - `lanser trace replay [--verify]` of an agent run
 * (docs/trace.md, "Agent runs"): the episode runs again from its recorded
 * task and base, with the model's recorded replies in place of a server
 * (each request must be the recorded one: its digest), the tools and the
 * engine for real; every tool bundle id and every reward must come out as
 * recorded.
 */
#include "agent/agentcmd.h"

#include "agent/cli.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "engine/engine.h"
#include "rewards/tracefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct recorded {
	const char *file;
	const struct rwd_trace_ev *const *ev;
	size_t n, next;
	long turn;
	char *msg;
	size_t msize;
};

static int code_of(const char *name)
{
	int c;

	for (c = -1; c >= -255; c--)
		if (name && !strcmp(ln_err_name(c), name))
			return c;
	return LN_EMODEL;
}

/* The model: the next recorded reply, for the same request. */
static int rec_chat(void *ctx, const json_t *messages, const json_t *tools, struct agent_reply *out)
{
	struct recorded *r = ctx;
	const struct rwd_trace_ev *e = NULL;
	const json_t *resp, *usage;
	char digest[LN_SHA256_HEX_SIZE];
	const char *want;

	while (r->next < r->n && !e) {
		if (!strcmp(r->ev[r->next]->type, "model"))
			e = r->ev[r->next];
		r->next++;
	}
	r->turn++;
	if (!e) {
		snprintf(r->msg, r->msize, "%s: the replayed episode asks the model a %ld%s time; the "
			 "recorded run did not", r->file, r->turn, r->turn == 1 ? "st" : "th");
		return ln_error_set(LN_EREPLAY, "%s", r->msg);
	}
	agent_request_digest(digest, messages, tools);
	want = json_string_value(json_object_get(json_object_get(e->ev, "request"), "digest"));
	if (!want || strcmp(want, digest)) {
		snprintf(r->msg, r->msize, "%s:%ld: model event (turn %ld): the replayed episode "
			 "sends another conversation (request digest %.16s..., recorded %.16s...)",
			 r->file, e->line, r->turn, digest, want ? want : "(none)");
		return ln_error_set(LN_EREPLAY, "%s", r->msg);
	}
	if (json_object_get(e->ev, "error")) {
		const char *m = json_string_value(json_object_get(e->ev, "message"));
		return ln_error_set(code_of(json_string_value(json_object_get(e->ev, "error"))),
				    "(recorded) %s", m ? m : "model error");
	}
	resp = json_object_get(e->ev, "response");
	usage = json_object_get(resp, "usage");
	out->message = json_deep_copy(json_object_get(resp, "message"));
	snprintf(out->finish_reason, sizeof out->finish_reason, "%s",
		 json_string_value(json_object_get(resp, "finishReason")) ?: "");
	out->prompt_tokens = (long)json_integer_value(json_object_get(usage, "promptTokens"));
	out->completion_tokens = (long)json_integer_value(json_object_get(usage, "completionTokens"));
	out->http_status = (int)json_integer_value(json_object_get(resp, "httpStatus"));
	out->attempts = (int)json_integer_value(json_object_get(resp, "attempts"));
	return 0;
}

static void collect(void *ctx, const char *type, json_t *fields)
{
	json_t *all = ctx;

	json_object_set_new(fields, "type", json_string(type));
	json_array_append_new(all, fields);
}

/* What must be equal: a tool event's name, code and bundle id; a reward
 * event's kind, terms, reward (and R_process's steps). */
static json_t *key_of(const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));

	if (!strcmp(type, "tool"))
		return xjson_pack("{s:s, s:O?, s:O?, s:O?}", "type", type, "name",
				  json_object_get(ev, "name"), "code", json_object_get(ev, "code"),
				  "bundleId", json_object_get(ev, "bundleId"));
	return xjson_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:O?}", "type", type, "kind",
			  json_object_get(ev, "kind"), "step", json_object_get(ev, "step"), "terms",
			  json_object_get(ev, "terms"), "reward", json_object_get(ev, "reward"),
			  "processSteps", json_object_get(ev, "processSteps"));
}

static bool checked(const char *type)
{
	return !strcmp(type, "tool") || !strcmp(type, "reward");
}

static int compare(const struct recorded *r, const json_t *got, size_t *bundles, size_t *rewards)
{
	size_t i = 0, k = 0;
	const json_t *g;

	for (;;) {
		const struct rwd_trace_ev *e = NULL;
		json_t *a, *b;
		char *sa, *sb;
		bool same;
		while (i < r->n && !checked(r->ev[i]->type))
			i++;
		while ((g = json_array_get(got, k)) &&
		       !checked(json_string_value(json_object_get(g, "type"))))
			k++;
		if (i >= r->n && !g)
			return 0;
		if (i >= r->n || !g) {
			snprintf(r->msg, r->msize, "%s: agent run: the replay %s", r->file, g ?
				 "produced more tool calls or rewards than were recorded" :
				 "stopped before the recorded events");
			return LN_EREPLAY;
		}
		e = r->ev[i];
		a = key_of(e->ev);
		b = key_of(g);
		sa = jcs_dumps(a);
		sb = jcs_dumps(b);
		same = sa && sb && !strcmp(sa, sb);
		if (!same)
			snprintf(r->msg, r->msize, "%s:%ld: %s event (step %lld) differs: recorded "
				 "%.300s, replayed %.300s", r->file, e->line, e->type,
				 (long long)json_integer_value(json_object_get(e->ev, "step")),
				 sa ? sa : "?", sb ? sb : "?");
		if (!strcmp(e->type, "tool") && json_object_get(e->ev, "bundleId") &&
		    !json_is_null(json_object_get(e->ev, "bundleId")))
			(*bundles)++;
		if (!strcmp(e->type, "reward"))
			(*rewards)++;
		free(sa);
		free(sb);
		json_decref(a);
		json_decref(b);
		if (!same)
			return LN_EREPLAY;
		i++;
		k++;
	}
}

int agent_replay_run(struct cli *c, const char *file, const struct rwd_trace_ev *const *ev,
		     size_t n, char *msg, size_t msize)
{
	const struct rwd_trace_ev *agent = NULL, *req = NULL;
	struct recorded rec;
	struct agent_task t;
	struct eng_settings s;
	struct agent_episode_opts o;
	struct cli rc;
	json_t *got = json_array(), *result = NULL, *opts;
	const char *root, *cwd, *base;
	size_t i, bundles = 0, rewards = 0;
	bool have_s = false;
	int error;

	for (i = 0; i < n; i++) {
		if (!agent && !strcmp(ev[i]->type, "agent"))
			agent = ev[i];
		if (!req && !strcmp(ev[i]->type, "request"))
			req = ev[i];
	}
	agent_task_init(&t);
	memset(&s, 0, sizeof s);
	if (!agent && req && json_object_get(json_object_get(req->ev, "options"), "tasks")) {
		/* the rollouts' own run: its episodes are runs of their own */
		error = 0;
		goto done;
	}
	root = json_string_value(json_object_get(req ? req->ev : NULL, "root"));
	cwd = json_string_value(json_object_get(req ? req->ev : NULL, "cwd"));
	base = json_string_value(json_object_get(agent ? agent->ev : NULL, "base"));
	if (!agent || !root || !cwd || !base) {
		error = ln_error_set(LN_ETRACE, "%s:%ld: an agent run without its %s", file,
				     ev[n - 1]->line, !agent ? "agent event (the episode did not "
				     "start)" : "request root, cwd or base");
		goto done;
	}
	if (json_is_true(json_object_get(agent->ev, "interactive"))) {
		/* a person's answers (confirmations, /undo) are not recorded */
		error = ln_error_set(LN_EUNSUPPORTED, "%s:%ld: an interactive agent session is not "
				     "replayed (trace export takes it)", file, agent->line);
		goto done;
	}
	error = agent_task_from_json(&t, json_object_get(agent->ev, "task"), file, NULL);
	if (error) {
		error = ln_error_set(LN_ETRACE, "%s:%ld: agent event: %s", file, agent->line,
				     ln_error_msg());
		goto done;
	}
	free(t.base);
	t.base = xstrdup(base);    /* the commit itself: a branch may have moved */
	opts = json_object_get(req->ev, "options");
	rc = *c;
	rc.root = (char *)root;
	rc.cwd = (char *)cwd;
	rc.trace = NULL;
	rc.json = true;
	rc.no_isolation = json_is_true(json_object_get(opts, "noIsolation"));
	{
		/* the timeouts in force when the run was recorded */
		const json_t *ct = json_object_get(req->ev, "configTimes");
		rc.cfg.request_ms = (int)json_integer_value(json_object_get(ct, "requestMs"));
		rc.cfg.init_ms = (int)json_integer_value(json_object_get(ct, "initMs"));
		rc.cfg.index_ms = (int)json_integer_value(json_object_get(ct, "indexMs"));
		rc.cfg.diagnostics_ms = (int)json_integer_value(json_object_get(ct, "diagnosticsMs"));
		rc.timeout_ms = json_is_integer(json_object_get(opts, "timeoutMs")) ?
			(int)json_integer_value(json_object_get(opts, "timeoutMs")) : rc.cfg.request_ms;
		rc.index_ms = json_is_integer(json_object_get(opts, "waitIndexMs")) ?
			(int)json_integer_value(json_object_get(opts, "waitIndexMs")) : rc.cfg.index_ms;
	}
	have_s = true;     /* initialised by the load, even when it fails */
	if ((error = agent_settings_load(&s, &rc, &t)))
		goto done;
	memset(&rec, 0, sizeof rec);
	rec.file = file;
	rec.ev = ev;
	rec.n = n;
	rec.msg = msg;
	rec.msize = msize;
	memset(&o, 0, sizeof o);
	o.c = &rc;
	o.task = &t;
	o.settings = &s;
	o.sample = json_string_value(json_object_get(agent->ev, "sample"));
	o.model.chat = rec_chat;
	o.model.ctx = &rec;
	if (rwd_episode_mode_parse(&o.mode, json_string_value(json_object_get(agent->ev, "mode"))
				   ?: "p-grpo"))
		o.mode = RWD_EP_PGRPO;
	o.trace = collect;
	o.trace_ctx = got;
	error = agent_episode_run(&result, &o);
	if (error == LN_EREPLAY)
		goto done;
	/* a recorded model failure replays as the same failure */
	if (error && !json_object_get(json_object_get(result, "error"), "code"))
		goto done;
	error = compare(&rec, got, &bundles, &rewards);
	if (error)
		goto done;
	if (c->replay_verify)
		fprintf(c->out, "verified: agent run %s (%s): %zu tool bundle%s and %zu reward%s "
			"recomputed by running the episode again with the recorded model replies, "
			"all equal\n", ev[0]->run, o.sample ? o.sample : "s1", bundles,
			bundles == 1 ? "" : "s", rewards, rewards == 1 ? "" : "s");
	else
		agent_print_json(c->out, result);
done:
	if (error == LN_EREPLAY && !msg[0])
		snprintf(msg, msize, "%s", ln_error_msg());
	json_decref(result);
	json_decref(got);
	if (have_s)
		eng_settings_release(&s);
	agent_task_release(&t);
	return error;
}
