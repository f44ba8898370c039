/*
 * episode.c - the agent loop (agent/episode.h, docs/agent.md): model turn,
 * tool calls, tool results back to the model, until finish, a budget, or
 * cancel. Everything the model sends is untrusted: a call that cannot run
 * (arguments that are not JSON or too large, an unknown tool, a schema
 * violation, a path outside the workspace or in .git) becomes the tool's
 * result text, never a crash; the worktree is only changed through the
 * tools' jail and transaction.
 */
#include "agent/episode.h"

#include "agent/cli.h"
#include "agent/command.h"
#include "agent/tools.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP_TEXT_MAX 4096     /* a tool's text as kept in the result (the model gets more) */

static const char system_prompt[] =
	"You are a coding agent working in a git worktree through lanser's tools. "
	"Positions are 1-based. Selectors name code (docs/selectors.md): a symbol "
	"(c://src/util.c#max_int, py://pkg.mod#Class.method, with a role :body, :sig, :doc), "
	"a position (src/util.c@L10:C5), a range (src/util.c@R(10,1->12,1)) or a content "
	"anchor (anchor://src/app.py#\"def load(\"). "
	"Look before you change: def, refs, hover, symbols, outline, diag, read, search. "
	"Mutating tools (edit, rename, patch, actions) write at once in your private worktree; "
	"each change is checked by the language server and scored. "
	"Run the tests with the test tool. When the task is done, call finish with a short "
	"summary. Tool errors are told to you as the tool's result: read them and adapt.";

#define UNDO_MAX 64            /* applied steps an interactive session can undo */

struct undo_mark {
	long step;                 /* the step it undoes */
	struct agent_scorer_mark *mark;
};

struct agent_episode {
	const struct agent_episode_opts *o;
	struct agent_scorer *sc;
	struct agent_tools *tools;
	struct cli wc;             /* the command line, rooted in the worktree */
	json_t *messages;          /* the conversation sent to the model */
	size_t sent;               /* messages already traced */
	json_t *tools_json;        /* OpenAI "tools" */
	json_t *result;
	json_t *steps;             /* result.steps */
	json_t *step_rewards;      /* result.rewards.steps */
	long used, ptok, ctok, requests, attempts;
	long long t0;
	char last_fail[72];        /* digest of the last failing call */
	int repeats;
	double c_prev;
	const char *stop;
	char stop_detail[300];
	long turn_base;            /* x->used when the request began (per-request budget) */
	struct undo_mark undo[UNDO_MAX];
	size_t nundo;
	bool opened;               /* the "agent" event was traced */
};
#define ep agent_episode

static void trace(struct ep *x, const char *type, json_t *fields)
{
	if (x->o->trace)
		x->o->trace(x->o->trace_ctx, type, fields);
	else
		json_decref(fields);
}

/* The tools as OpenAI function tools, without eval and group (they score
 * candidates; the episode is scored for the model), plus finish. */
static json_t *openai_tools(void)
{
	json_t *all = agent_tools_json(false), *out = json_array(), *t;
	size_t i;

	json_array_foreach(all, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		if (!strcmp(name, "eval") || !strcmp(name, "group"))
			continue;
		json_array_append_new(out, xjson_pack("{s:s, s:{s:s, s:O, s:O}}", "type", "function",
			"function", "name", name, "description", json_object_get(t, "description"),
			"parameters", json_object_get(t, "inputSchema")));
	}
	json_decref(all);
	json_array_append_new(out, xjson_pack("{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}}, "
		"s:[s], s:b}}}", "type", "function", "function", "name", "finish", "description",
		"end the task: the worktree's changes are the result", "parameters", "type", "object",
		"properties", "summary", "type", "string", "description", "what was done, briefly",
		"required", "summary", "additionalProperties", false));
	return out;
}

/* Monotonic milliseconds with a fraction: a step's own time. */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static long long elapsed(const struct ep *x)
{
	return ln_now_ms() - x->t0;
}

/* Whether a budget is spent; sets x->stop. */
static bool over_budget(struct ep *x)
{
	const struct agent_budget *b = &x->o->task->budget;

	if (x->o->cancel && *x->o->cancel)
		x->stop = "cancelled";
	else if (x->used - x->turn_base >= b->steps)
		x->stop = "steps";
	else if (b->tokens && x->ptok + x->ctok >= b->tokens)
		x->stop = "tokens";
	else if (b->wall_ms && elapsed(x) >= b->wall_ms)
		x->stop = "wall";
	return x->stop != NULL;
}

static void progress(struct ep *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct ep *x, const char *fmt, ...)
{
	va_list ap;

	if (!x->o->progress)
		return;
	va_start(ap, fmt);
	fprintf(x->o->progress, "[%s] ", x->o->sample ? x->o->sample : "agent");
	vfprintf(x->o->progress, fmt, ap);
	fputc('\n', x->o->progress);
	va_end(ap);
	fflush(x->o->progress);
}

void agent_request_digest(char out[LN_SHA256_HEX_SIZE], const json_t *messages, const json_t *tools)
{
	json_t *req = xjson_pack("{s:O, s:O}", "messages", messages, "tools", tools);
	char *canon = jcs_dumps(req);

	ln_sha256_hex(canon ? canon : "", canon ? strlen(canon) : 0, out);
	free(canon);
	json_decref(req);
}

/* One model turn; the reply appended to the conversation. */
static int model_turn(struct ep *x, struct agent_reply *rep)
{
	json_t *fresh = json_array();
	char digest[LN_SHA256_HEX_SIZE];
	size_t i;
	int error;

	for (i = x->sent; i < json_array_size(x->messages); i++)
		json_array_append(fresh, json_array_get(x->messages, i));
	x->sent = json_array_size(x->messages);
	/* the request's digest: replay checks it sends the same conversation */
	agent_request_digest(digest, x->messages, x->tools_json);
	memset(rep, 0, sizeof *rep);
	rep->prompt_tokens = rep->completion_tokens = -1;
	error = x->o->model.chat(x->o->model.ctx, x->messages, x->tools_json, rep);
	x->requests++;
	x->attempts += rep->attempts > 0 ? rep->attempts : 1;
	if (rep->prompt_tokens > 0)
		x->ptok += rep->prompt_tokens;
	if (rep->completion_tokens > 0)
		x->ctok += rep->completion_tokens;
	if (error) {
		trace(x, "model", xjson_pack("{s:I, s:{s:I, s:o, s:s}, s:s, s:o}", "turn",
			(json_int_t)x->requests, "request", "messages",
			(json_int_t)json_array_size(x->messages), "new", fresh, "digest", digest,
			"error", ln_err_name(error), "message", xjson_string_lossy(ln_error_msg())));
		return error;
	}
	if (!json_is_object(rep->message))
		rep->message = xjson_pack("{s:s, s:s}", "role", "assistant", "content", "");
	trace(x, "model", xjson_pack("{s:I, s:{s:I, s:o, s:s}, s:{s:O, s:s, s:{s:I, s:I}, s:i, s:i}}",
		"turn", (json_int_t)x->requests, "request", "messages",
		(json_int_t)json_array_size(x->messages), "new", fresh, "digest", digest,
		"response", "message", rep->message, "finishReason", rep->finish_reason, "usage",
		"promptTokens", (json_int_t)rep->prompt_tokens, "completionTokens",
		(json_int_t)rep->completion_tokens, "httpStatus", rep->http_status, "attempts",
		rep->attempts));
	json_array_append(x->messages, rep->message);
	x->sent++;
	return 0;
}

/* The selector confidence of a tool's bundle (1 when it resolved none). */
static double bundle_confidence(const json_t *b)
{
	const json_t *c = json_object_get(json_object_get(b, "resolution"), "confidence");

	if (json_is_number(c) && json_number_value(c) >= 0 && json_number_value(c) <= 1)
		return json_number_value(c);
	return 1;
}

static bool is_mutating(const struct agent_command *cmd)
{
	return cmd && (cmd->flags & AGENT_CMD_WRITES) && strcmp(cmd->name, "test");
}

/* Keeps the state before an applied step; the oldest goes past UNDO_MAX. */
static void undo_push(struct ep *x, long step, struct agent_scorer_mark *m)
{
	if (x->nundo == UNDO_MAX) {
		agent_scorer_mark_free(x->undo[0].mark);
		memmove(x->undo, x->undo + 1, (UNDO_MAX - 1) * sizeof *x->undo);
		x->nundo--;
	}
	x->undo[x->nundo].step = step;
	x->undo[x->nundo++].mark = m;
}

/* Runs one call: the tool result text for the model in *text (malloc'd). */
static void run_call(struct ep *x, const json_t *call, bool *finished)
{
	const json_t *fn = json_object_get(call, "function");
	const char *id = json_string_value(json_object_get(call, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	const json_t *argv = json_object_get(fn, "arguments");
	const char *atext = json_string_value(argv);
	size_t alen = json_string_length(argv);
	const struct agent_command *cmd = name ? agent_tool_find(name) : NULL;
	const struct agent_episode_hooks *hooks = x->o->hooks;
	struct agent_tool_result r;
	json_t *args = NULL, *step, *reward = NULL;
	json_error_t je;
	char digest[LN_SHA256_HEX_SIZE], buf[600];
	char *text = NULL;
	bool called = false;
	int code = 0;
	double t0 = now_ms();

	x->used++;
	memset(&r, 0, sizeof r);
	if (hooks && hooks->call)
		hooks->call(hooks->ctx, x->used, name ? name : "", atext ? atext : "{}");
	if (!atext && json_is_object(argv)) {   /* a server that sent an object */
		args = json_incref((json_t *)argv);
		alen = 2;
	}
	if (!name || !*name) {
		code = LN_EUSAGE;
		snprintf(buf, sizeof buf, "the tool call has no function name");
	} else if (argv && !atext && !args && !json_is_null(argv)) {
		code = LN_EUSAGE;
		snprintf(buf, sizeof buf, "the arguments of %.64s must be a JSON object (or its "
			 "text)", name);
	} else if (alen > AGENT_MAX_ARGUMENTS) {
		code = LN_EINPUT;
		snprintf(buf, sizeof buf, "the arguments of %.64s are %zu bytes; at most %zu are "
			 "taken (edit a smaller range, or patch a file in several steps)", name, alen,
			 AGENT_MAX_ARGUMENTS);
	} else if (!args && !(args = json_loadb(atext ? atext : "{}", atext && alen ? alen : 2,
					       JSON_REJECT_DUPLICATES, &je))) {
		code = LN_EUSAGE;
		snprintf(buf, sizeof buf, "the arguments of %.64s are not valid JSON: %s (line %d, "
			 "column %d); send one JSON object", name, je.text, je.line, je.column);
	} else if (!json_is_object(args)) {
		code = LN_EUSAGE;
		snprintf(buf, sizeof buf, "the arguments of %.64s must be a JSON object", name);
	} else if (!strcmp(name, "finish")) {
		const char *s = json_string_value(json_object_get(args, "summary"));
		json_object_set_new(x->result, "summary", xjson_string_lossy(s ? s : ""));
		*finished = true;
		snprintf(buf, sizeof buf, "finished");
	} else if (!strcmp(name, "eval") || !strcmp(name, "group")) {
		code = LN_EUSAGE;
		snprintf(buf, sizeof buf, "%s is not a tool of the agent (the episode is scored for "
			 "you)", name);
	} else {
		json_t *a = json_deep_copy(args), *before;
		bool runs_code, can_apply = is_mutating(cmd) && agent_option_by_json(cmd, "apply");
		bool declined = false;
		struct agent_scorer_mark *mark = NULL;
		/* earlier steps' changes are uncommitted: they are the episode */
		if (is_mutating(cmd) && agent_option_by_json(cmd, "allowDirty"))
			json_object_set_new(a, "allowDirty", json_true());
		if (can_apply && hooks && hooks->confirm) {
			/* a person sees the change (the tool's preview) before it
			 * is written; a preview that fails is left to the real
			 * call, which fails the same way and is scored as usual */
			if (agent_tool_call(x->tools, name, a, &r) == 0 &&
			    !hooks->confirm(hooks->ctx, x->used, name, r.text))
				declined = true;
			agent_tool_result_release(&r);
			memset(&r, 0, sizeof r);
			ln_error_clear();
		}
		if (declined) {
			code = LN_ECANCELLED;
			snprintf(buf, sizeof buf, "the user declined this %s: nothing was written; "
				 "ask the user, or change it", name);
		} else {
			/* the worktree is the agent's own: mutations apply at once */
			if (can_apply) {
				/* in the order the loop always sent them */
				bool dirty = json_object_get(a, "allowDirty") != NULL;
				json_object_del(a, "allowDirty");
				json_object_set_new(a, "apply", json_true());
				if (dirty)
					json_object_set_new(a, "allowDirty", json_true());
			}
			/* a test run builds in the tree: what it leaves is not the change */
			runs_code = cmd && (cmd->flags & AGENT_CMD_WRITES) && !is_mutating(cmd);
			before = runs_code ? agent_scorer_untracked(x->sc) : NULL;
			if (x->o->interactive && is_mutating(cmd) && !(mark = agent_scorer_mark(x->sc)))
				ln_error_clear();   /* no undo for this step, said below */
			code = agent_tool_call(x->tools, name, a, &r);
			if (before)
				agent_scorer_ignore_new(x->sc, before);
			called = true;
			snprintf(buf, sizeof buf, "%s", r.message);
			if (mark && code == 0)
				undo_push(x, x->used, mark);
			else
				agent_scorer_mark_free(mark);
		}
		json_decref(a);
	}
	if (called)
		text = xstrdup(r.text ? r.text : "");
	else if (code)
		text = xasprintf("error %s (exit %d): %s", ln_err_name(code), ln_exit_code(code), buf);
	else
		text = xstrdup(buf);
	progress(x, "step %ld: %s -> %s", x->used, name ? ln_printable(name) : "(none)",
		 code ? ln_err_name(code) : "ok");
	/* a mutating step is scored: its diff against the base, by the engine */
	if (called && is_mutating(cmd) && code != LN_EUSAGE) {
		double c = code ? x->c_prev : bundle_confidence(r.bundle);
		reward = agent_scorer_step(x->sc, x->used, name, code == 0, c);
		if (reward) {
			x->c_prev = c;
			json_array_append(x->step_rewards, reward);
		}
	}
	step = xjson_pack("{s:I, s:s?, s:s?, s:o, s:s, s:b, s:o}", "step", (json_int_t)x->used,
		"call", id, "tool", name, "arguments", args ? json_incref(args) :
		xjson_stringn_lossy(atext ? atext : "", alen > STEP_TEXT_MAX ? STEP_TEXT_MAX : alen),
		"code", ln_err_name(code), "ok", code == 0, "text",
		xjson_stringn_lossy(text, strlen(text) > STEP_TEXT_MAX ? STEP_TEXT_MAX : strlen(text)));
	if (r.bundle && json_object_get(r.bundle, "bundleId"))
		json_object_set(step, "bundleId", json_object_get(r.bundle, "bundleId"));
	/* lanser's own time for the call (the tool, and the step's reward) */
	json_object_set_new(step, "ms", json_real((double)(long long)((now_ms() - t0) * 1000) / 1000));
	if (reward)
		json_object_set(step, "reward", reward);
	json_array_append(x->steps, step);
	trace(x, "tool", xjson_pack("{s:I, s:s?, s:s?, s:o, s:s, s:o, s:O?, s:O?}", "step",
		(json_int_t)x->used, "call", id, "name", name, "arguments",
		xjson_stringn_lossy(atext ? atext : "{}", alen > AGENT_MAX_ARGUMENTS ? 0 : alen),
		"code", ln_err_name(code), "text", xjson_string_lossy(text), "bundleId",
		json_object_get(step, "bundleId"), "bundle", r.bundle));
	if (reward)
		trace(x, "reward", xjson_pack("{s:s, s:s, s:I, s:O, s:O, s:O}", "kind", "step",
			"candidate", x->o->sample ? x->o->sample : "agent", "step", (json_int_t)x->used,
			"functional", json_object_get(reward, "functional"), "terms",
			json_object_get(reward, "terms"), "reward", json_object_get(reward, "reward")));
	if (hooks && hooks->result)
		hooks->result(hooks->ctx, x->used, name ? name : "", code, text, reward);
	json_decref(reward);
	json_decref(step);
	/* the same failing call again and again: stuck */
	if (code) {
		char *key = xasprintf("%s\037%.*s", name ? name : "", (int)(alen > 65536 ? 65536 : alen),
				      atext ? atext : "");
		ln_sha256_hex(key, strlen(key), digest);
		free(key);
		x->repeats = strcmp(digest, x->last_fail) ? 1 : x->repeats + 1;
		snprintf(x->last_fail, sizeof x->last_fail, "%s", digest);
		if (x->repeats >= AGENT_STUCK_REPEATS) {
			x->stop = "stuck";
			snprintf(x->stop_detail, sizeof x->stop_detail, "the same failing %s call %d "
				 "times in a row", name ? ln_printable(name) : "(none)", x->repeats);
		}
	} else {
		x->repeats = 0;
		x->last_fail[0] = '\0';
	}
	json_array_append_new(x->messages, xjson_pack("{s:s, s:s, s:o}", "role", "tool",
		"tool_call_id", id ? id : "", "content", xjson_string_lossy(text)));
	free(text);
	json_decref(args);
	agent_tool_result_release(&r);
}

/* The loop proper. */
static int loop(struct ep *x)
{
	int error = 0;

	while (!over_budget(x)) {
		struct agent_reply rep;
		const json_t *calls, *call;
		bool finished = false;
		size_t i;

		error = model_turn(x, &rep);
		if (error) {
			json_decref(rep.message);
			x->stop = error == LN_ECANCELLED ? "cancelled" : "model-error";
			snprintf(x->stop_detail, sizeof x->stop_detail, "%s", ln_error_msg());
			return error;
		}
		calls = json_object_get(rep.message, "tool_calls");
		if (!json_array_size(calls) && x->o->interactive) {
			/* the model's answer to the person (already shown) */
			x->used++;
			json_decref(rep.message);
			break;
		}
		if (!json_array_size(calls)) {
			/* a reply without a call: a step; the model is asked to act */
			x->used++;
			progress(x, "step %ld: a reply without a tool call", x->used);
			json_array_append_new(x->messages, xjson_pack("{s:s, s:s}", "role", "user",
				"content", "Call a tool to go on, or finish with a summary."));
			json_decref(rep.message);
			continue;
		}
		json_array_foreach(calls, i, call) {
			if (i > 0 && over_budget(x)) {
				/* every call gets an answer, even unrun ones */
				json_array_append_new(x->messages, xjson_pack("{s:s, s:s?, s:s}", "role",
					"tool", "tool_call_id", json_string_value(json_object_get(call,
					"id")), "content", "not run: the step budget is spent"));
				continue;
			}
			run_call(x, call, &finished);
			if (finished || (x->stop && !strcmp(x->stop, "stuck")))
				break;
		}
		json_decref(rep.message);
		if (finished) {
			x->stop = "finish";
			break;
		}
		if (x->stop)
			break;
	}
	return 0;
}

static int open_tools(struct ep *x)
{
	struct agent_tools_opts to;

	/* tools run in the worktree: the same command line, rooted there */
	x->wc = *x->o->c;
	x->wc.root = (char *)agent_scorer_worktree(x->sc);
	x->wc.cwd = x->wc.root;
	x->wc.trace = NULL;
	x->wc.trace_path = NULL;
	memset(&to, 0, sizeof to);
	to.c = &x->wc;
	to.use_daemon = false;
	to.cancel = x->o->cancel;
	return agent_tools_open(&x->tools, &to);
}

static json_t *budgets_json(const struct ep *x)
{
	const struct agent_budget *b = &x->o->task->budget;

	return xjson_pack("{s:{s:I, s:I}, s:{s:I, s:o}, s:{s:I, s:o}}", "steps", "used",
		(json_int_t)x->used, "max", (json_int_t)b->steps, "tokens", "used",
		(json_int_t)(x->ptok + x->ctok), "max", b->tokens ? json_integer(b->tokens) : json_null(),
		"wallMs", "used", (json_int_t)elapsed(x), "max",
		b->wall_ms ? json_integer(b->wall_ms) : json_null());
}

int agent_episode_open(struct agent_episode **out, const struct agent_episode_opts *o)
{
	struct ep *x = xcalloc(1, sizeof *x);
	int error;

	*out = NULL;
	x->o = o;
	x->t0 = ln_now_ms();
	x->c_prev = 1;
	error = agent_scorer_open(&x->sc, o);
	if (error) {
		free(x);
		return error;
	}
	x->steps = json_array();
	x->step_rewards = json_array();
	x->result = xjson_pack("{s:s, s:s?, s:s, s:s, s:O, s:{s:O}}", "schema", AGENT_RESULT_SCHEMA,
		"task", o->task->id, "sample", o->sample ? o->sample : "s1", "base",
		agent_scorer_base(x->sc), "steps", x->steps, "rewards", "steps", x->step_rewards);
	json_object_set_new(x->result, "meta", xjson_pack("{s:{s:s}}", "volatile", "worktree",
							  agent_scorer_worktree(x->sc)));
	error = open_tools(x);
	if (error) {
		struct ln_error_state st;
		ln_error_capture(&st);
		json_decref(x->result);
		x->result = NULL;
		agent_episode_close(x, NULL, error);
		return ln_error_restore(&st);
	}
	x->tools_json = openai_tools();
	x->messages = xjson_pack("[{s:s, s:s}]", "role", "system", "content", system_prompt);
	progress(x, "working in %s", agent_scorer_worktree(x->sc));
	*out = x;
	return 0;
}

int agent_episode_request(struct agent_episode *x, const char *text)
{
	int error;

	if (x->o->interactive) {
		/* a new request: what stopped the last one is over */
		x->stop = NULL;
		x->stop_detail[0] = '\0';
		x->turn_base = x->used;
		x->repeats = 0;
		x->last_fail[0] = '\0';
	}
	json_array_append_new(x->messages, xjson_pack("{s:s, s:s}", "role", "user", "content",
						      text ? text : ""));
	if (!x->opened) {
		/* what replay needs to run the episode again */
		json_t *ev = xjson_pack("{s:o, s:s, s:s, s:s}", "task", agent_task_json(x->o->task),
			"sample", x->o->sample ? x->o->sample : "s1", "base", agent_scorer_base(x->sc),
			"mode", rwd_episode_mode_name(x->o->mode));
		if (x->o->interactive)
			json_object_set_new(ev, "interactive", json_true());
		trace(x, "agent", ev);
		x->opened = true;
	}
	error = loop(x);
	if (!error && x->stop && !strcmp(x->stop, "cancelled"))
		error = ln_error_set(LN_ECANCELLED, "cancelled (Ctrl-C)");
	if (x->o->interactive && error) {
		/* every call of the last reply has its answer (loop), so the
		 * conversation can go on */
		x->stop = NULL;
	}
	return error;
}

int agent_episode_undo(struct agent_episode *x, long *step)
{
	struct undo_mark u;
	size_t i;
	json_t *st;
	int error;

	*step = 0;
	if (!x->nundo)
		return ln_error_set(LN_ENOTFOUND, "nothing to undo");
	u = x->undo[--x->nundo];
	*step = u.step;
	error = agent_scorer_rollback(x->sc, u.mark);
	if (error)
		return error;
	/* the step's reward is no longer part of the episode */
	for (i = json_array_size(x->step_rewards); i-- > 0;)
		if (json_integer_value(json_object_get(json_array_get(x->step_rewards, i), "step")) >=
		    u.step)
			json_array_remove(x->step_rewards, i);
	json_array_foreach(x->steps, i, st)
		if (json_integer_value(json_object_get(st, "step")) == u.step)
			json_object_set_new(st, "undone", json_true());
	x->c_prev = 1;
	if (json_array_size(x->step_rewards))
		x->c_prev = json_number_value(json_object_get(json_object_get(json_array_get(
			x->step_rewards, json_array_size(x->step_rewards) - 1), "terms"), "c"));
	trace(x, "undo", xjson_pack("{s:I}", "step", (json_int_t)u.step));
	/* the model must know: its next request sees the tree as it is */
	json_array_append_new(x->messages, xjson_pack("{s:s, s:o}", "role", "user", "content",
		json_sprintf("(lanser) The user undid step %ld: the worktree is back as it was "
			     "before it.", u.step)));
	return 0;
}

char *agent_episode_diff(struct agent_episode *x, size_t *len)
{
	char *d = NULL;

	*len = 0;
	if (agent_scorer_diff(x->sc, &d, len))
		return NULL;
	return d;
}

void agent_episode_running(const struct agent_episode *x, size_t *n, double *sum, double *process)
{
	agent_scorer_running(x->sc, n, sum, process);
}

const char *agent_episode_worktree(const struct agent_episode *x)
{
	return agent_scorer_worktree(x->sc);
}

const char *agent_episode_base(const struct agent_episode *x)
{
	return agent_scorer_base(x->sc);
}

int agent_episode_close(struct agent_episode *x, json_t **out, int error)
{
	size_t i;

	if (out)
		*out = NULL;
	agent_tools_close(x->tools);
	x->tools = NULL;
	if (x->o->interactive && !x->stop && !error)
		x->stop = "exit";
	if (x->result && (!error || error == LN_EMODEL || error == LN_ETIMEOUT ||
			  error == LN_EINPUT)) {
		/* the work done so far is scored all the same (not when cancelled);
		 * the model's error is the episode's */
		struct ln_error_state st;
		int e2;
		ln_error_capture(&st);
		e2 = agent_scorer_finish(x->sc, x->result, error ? x->stop_detail : NULL);
		if (error)
			ln_error_restore(&st);
		else
			error = e2;
	}
	if (x->result) {
		json_object_set_new(x->result, "stop", json_string(x->stop ? x->stop : "error"));
		if (x->stop_detail[0])
			json_object_set_new(x->result, "stopDetail",
					    xjson_string_lossy(x->stop_detail));
		json_object_set_new(x->result, "budgets", budgets_json(x));
		json_object_set_new(x->result, "usage", xjson_pack("{s:I, s:I, s:I, s:I}",
			"promptTokens", (json_int_t)x->ptok, "completionTokens", (json_int_t)x->ctok,
			"requests", (json_int_t)x->requests, "attempts", (json_int_t)x->attempts));
		if (error)
			json_object_set_new(x->result, "error", xjson_pack("{s:s, s:i, s:o}", "code",
				ln_err_name(error), "exit", ln_exit_code(error), "message",
				xjson_string_lossy(ln_error_msg())));
	}
	for (i = 0; i < x->nundo; i++)
		agent_scorer_mark_free(x->undo[i].mark);
	agent_scorer_close(x->sc);
	json_decref(x->messages);
	json_decref(x->tools_json);
	json_decref(x->steps);
	json_decref(x->step_rewards);
	if (out)
		*out = x->result;
	else
		json_decref(x->result);
	free(x);
	return error;
}

int agent_episode_run(json_t **out, const struct agent_episode_opts *o)
{
	struct agent_episode *x;
	int error;

	*out = NULL;
	error = agent_episode_open(&x, o);
	if (error)
		return error;
	error = agent_episode_request(x, o->task->instruction);
	return agent_episode_close(x, out, error);
}
