/*
 * agentcmd.c - `lanser agent` (docs/agent.md): one task (--task), or
 * rollouts (--tasks, agent/rollout.c). The model is the live client
 * (agent/llm.h); the episode is agent/episode.c; the result is printed for
 * a person or as one JSON line (--json).
 */
#include "agent/agentcmd.h"

#include "agent/cli.h"
#include "agent/llm.h"
#include "agent/trace.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "engine/engine.h"
#include "engine/testrun.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t agent_cancel;

static void on_signal(int sig)
{
	(void)sig;
	agent_cancel = 1;
}

/* ---- the live model ---- */

struct live {
	struct llm_client *client;
	FILE *echo;    /* streamed text for a person, or NULL */
	size_t echoed; /* bytes of the current reply shown */
	char last;     /* the last byte shown */
};

static void on_delta(void *ctx, const char *text, size_t len)
{
	struct live *l = ctx;
	if (l->echo && len) {
		fwrite(text, 1, len, l->echo);
		fflush(l->echo);
		l->echoed += len;
		l->last = text[len - 1];
	}
}

static int live_chat(void *ctx, const json_t *messages, const json_t *tools, struct agent_reply *out)
{
	struct live *l = ctx;
	struct llm_reply r;
	int error;

	memset(&r, 0, sizeof r);
	l->echoed = 0;
	error = llm_chat(l->client, messages, tools, l->echo ? on_delta : NULL, l, &r);
	if (l->echo && !error && !l->echoed) {
		/* a server that did not stream: its text all at once */
		const char *t = json_string_value(json_object_get(r.message, "content"));
		if (t)
			on_delta(l, t, strlen(t));
	}
	if (l->echo && l->echoed && l->last != '\n') {
		fputc('\n', l->echo);
		fflush(l->echo);
	}
	out->message = r.message;
	r.message = NULL;
	snprintf(out->finish_reason, sizeof out->finish_reason, "%s", r.finish_reason);
	out->prompt_tokens = r.prompt_tokens;
	out->completion_tokens = r.completion_tokens;
	out->http_status = r.http_status;
	out->attempts = r.attempts;
	llm_reply_release(&r);
	return error;
}

/* The client from the options, the environment and .lanser.json
 * "model" (llm_opts_resolve). */
static int live_open(struct live *l, struct cli *c, json_t **sampling, bool stream)
{
	struct llm_flags f;
	struct llm_opts o;
	struct llm_settings s;
	int error;

	memset(&f, 0, sizeof f);
	memset(&s, 0, sizeof s);
	*sampling = json_object();
	if (c->temperature)
		json_object_set_new(*sampling, "temperature", json_real(strtod(c->temperature, NULL)));
	if (c->seed_set)
		json_object_set_new(*sampling, "seed", json_integer(c->seed));
	if (c->max_tokens)
		json_object_set_new(*sampling, "max_tokens", json_integer(c->max_tokens));
	f.base_url = c->llm_base_url;
	f.model = c->llm_model;
	f.api_key_env = c->llm_key_env;
	f.stream = c->stream || stream ? 1 : 0;
	f.sampling = json_object_size(*sampling) ? *sampling : NULL;
	error = llm_opts_resolve(&o, &s, &c->cfg, &f);
	if (!error) {
		o.cancel = &agent_cancel;
		error = llm_open(&l->client, &o);
	}
	llm_settings_release(&s);      /* the client copied what it keeps */
	return error;
}

/* ---- the task's settings ---- */

int agent_settings_load(struct eng_settings *s, struct cli *c, const struct agent_task *t)
{
	struct eng_source src;
	char *root = NULL;
	int error;

	memset(&src, 0, sizeof src);
	src.from = ENG_CONFIG_BASE;
	if (t->workspace) {
		root = realpath(t->workspace, NULL);
		if (!root) {
			memset(s, 0, sizeof *s);
			sbx_task_init(&s->task);
			return ln_error_set(LN_ENOTFOUND, "task workspace %s: not found",
					    t->workspace);
		}
	}
	src.root = root ? root : c->root;
	src.cwd = c->cwd;
	src.base = t->base;
	src.tests = t->tests;
	src.no_isolation = c->no_isolation;
	error = eng_settings_load(s, &src);
	if (!error && t->test_files) {
		/* the task's list replaces the configuration's, as a test task's
		 * does ([] protects nothing) */
		json_decref(s->task.test_files);
		s->task.test_files = json_deep_copy(t->test_files);
	}
	free(root);
	return error;
}

/* ---- printing ---- */

static void num_text(char *out, size_t n, const json_t *v)
{
	if (!json_is_number(v))
		snprintf(out, n, "null");
	else
		snprintf(out, n, "%.6g", json_number_value(v));
}

void agent_print_result(FILE *o, const json_t *r)
{
	const json_t *st, *ep = json_object_get(json_object_get(r, "rewards"), "episode");
	const json_t *terms = json_object_get(ep, "terms"), *b = json_object_get(r, "budgets");
	const json_t *u = json_object_get(r, "usage"), *tests = json_object_get(r, "tests");
	const char *diff = json_string_value(json_object_get(r, "diff"));
	char a[40], f[40], oc[40], p[40];
	size_t i;

	fprintf(o, "agent: %s, stopped by %s%s%s\n",
		ln_printable(json_string_value(json_object_get(r, "sample"))),
		ln_printable(json_string_value(json_object_get(r, "stop"))),
		json_object_get(r, "stopDetail") ? ": " : "",
		json_object_get(r, "stopDetail") ?
		ln_printable(json_string_value(json_object_get(r, "stopDetail"))) : "");
	if (json_is_string(json_object_get(r, "summary")))
		fprintf(o, "  summary: %s\n", ln_printable(json_string_value(json_object_get(r,
			"summary"))));
	json_array_foreach(json_object_get(r, "steps"), i, st) {
		const json_t *rw = json_object_get(st, "reward");
		fprintf(o, "  step %lld: %s %s", (long long)json_integer_value(json_object_get(st,
			"step")), ln_printable(json_string_value(json_object_get(st, "tool"))),
			ln_printable(json_string_value(json_object_get(st, "code"))));
		if (rw) {
			const json_t *t = json_object_get(rw, "terms");
			char d0[40], d[40];
			num_text(a, sizeof a, json_object_get(rw, "reward"));
			num_text(d0, sizeof d0, json_object_get(t, "D0"));
			num_text(d, sizeof d, json_object_get(t, "D"));
			fprintf(o, "  reward %s (D %s -> %s, S %g)", a, d0, d,
				json_number_value(json_object_get(t, "S")));
		}
		fputc('\n', o);
		if (rw) {
			const json_t *nf;
			size_t k;
			json_array_foreach(json_object_get(rw, "introduced"), k, nf) {
				if (k == 3)
					break;
				fprintf(o, "      new %s: %s:%lld: %s\n",
					ln_printable(json_string_value(json_object_get(nf, "severity"))),
					ln_printable(json_string_value(json_object_get(nf, "path"))),
					(long long)json_integer_value(json_array_get(json_object_get(nf,
						"range"), 0)),
					ln_printable(json_string_value(json_object_get(nf, "message"))));
			}
		}
	}
	if (json_is_object(tests)) {
		json_t *rec = xjson_pack("{s:{s:{s:O*}}}", "outcome", "patch", "testFilesReset",
					 json_object_get(tests, "testFilesReset"));
		char *tf = eng_record_test_files_note(rec);
		fprintf(o, "  tests: %s\n", ln_printable(json_string_value(json_object_get(tests,
			"status"))));
		if (tf)
			fprintf(o, "  %s\n", ln_printable(tf));
		free(tf);
		json_decref(rec);
	}
	if (ep) {
		num_text(a, sizeof a, json_object_get(ep, "reward"));
		num_text(f, sizeof f, json_object_get(terms, "format"));
		num_text(oc, sizeof oc, json_object_get(terms, "outcome"));
		num_text(p, sizeof p, json_object_get(terms, "process"));
		fprintf(o, "  episode reward (%s): %s  [R_format %s, R_outcome %s, R_process %s]\n",
			ln_printable(json_string_value(json_object_get(ep, "mode"))), a, f, oc, p);
	}
	fprintf(o, "  budgets: %lld/%lld steps, %lld tokens, %lld ms; model: %lld requests\n",
		(long long)json_integer_value(json_object_get(json_object_get(b, "steps"), "used")),
		(long long)json_integer_value(json_object_get(json_object_get(b, "steps"), "max")),
		(long long)json_integer_value(json_object_get(json_object_get(b, "tokens"), "used")),
		(long long)json_integer_value(json_object_get(json_object_get(b, "wallMs"), "used")),
		(long long)json_integer_value(json_object_get(u, "requests")));
	if (diff && *diff)
		fprintf(o, "  diff against %.12s:\n%s", ln_printable(json_string_value(
			json_object_get(r, "base"))), ln_printable_text(diff));
	else if (diff)
		fprintf(o, "  no change\n");
}

void agent_print_json(FILE *o, const json_t *v)
{
	char *s = jcs_dumps(v);
	fprintf(o, "%s\n", s ? s : "{}");
	free(s);
}

/* ---- one task ---- */

static void trace_hook(void *ctx, const char *type, json_t *fields)
{
	trace_event(ctx, type, fields);
}

int agent_run_task(struct cli *c, const struct agent_task *t, struct agent_model model,
		   json_t **out)
{
	struct eng_settings s;
	struct agent_episode_opts o;
	int error;

	*out = NULL;
	error = agent_settings_load(&s, c, t);
	if (error) {
		eng_settings_release(&s);
		return error;
	}
	memset(&o, 0, sizeof o);
	o.c = c;
	o.task = t;
	o.settings = &s;
	o.sample = c->sample_id ? c->sample_id : "s1";
	o.model = model;
	o.mode = RWD_EP_PGRPO;
	if (c->episode_mode)
		rwd_episode_mode_parse(&o.mode, c->episode_mode);
	o.cancel = &agent_cancel;
	if (c->trace) {
		o.trace = trace_hook;
		o.trace_ctx = c;
	}
	if (!c->json && c->err)
		o.progress = c->err;
	error = agent_episode_run(out, &o);
	eng_settings_release(&s);
	return error;
}

int cmd_agent(struct cli *c)
{
	struct agent_task t;
	struct live live;
	struct agent_model model;
	struct sigaction sa, old_int, old_term;
	json_t *sampling = NULL, *res = NULL;
	int error;

	agent_task_init(&t);
	memset(&live, 0, sizeof live);
	if (c->argc > 0) {
		error = ln_error_set(LN_EUSAGE, "agent takes no arguments (see --task, --tasks)");
		goto done;
	}
	if (c->agent_tasks) {
		if (c->task_path) {
			error = ln_error_set(LN_EUSAGE, "--task and --tasks: give one");
			goto done;
		}
		error = agent_rollouts(c);
		goto done;
	}
	if (c->samples > 1) {
		error = ln_error_set(LN_EUSAGE, "--samples is for rollouts (--tasks FILE)");
		goto done;
	}
	if (!c->task_path) {
		/* the interactive session: a person at a terminal */
		if (!isatty(STDIN_FILENO) || !c->out || !isatty(fileno(c->out)) || c->json) {
			error = ln_error_set(LN_EUSAGE, "agent without --task FILE (or --tasks FILE "
					     "for rollouts) is an interactive session: it needs a "
					     "terminal on stdin and stdout, without --json");
			goto done;
		}
		t.id = xstrdup("session");
		t.instruction = xstrdup("");
		if ((error = agent_task_apply_cli(&t, c)) ||
		    (error = live_open(&live, c, &sampling, true)))
			goto done;
		live.echo = c->out;
		model.chat = live_chat;
		model.ctx = &live;
		agent_cancel = 0;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;   /* no SA_RESTART: Ctrl-C ends a read */
		sigaction(SIGINT, &sa, &old_int);
		error = agent_interactive(c, &t, model, &agent_cancel);
		sigaction(SIGINT, &old_int, NULL);
		goto done;
	}
	if (c->yes) {
		error = ln_error_set(LN_EUSAGE, "--yes is for the interactive session (agent "
				     "without --task)");
		goto done;
	}
	if ((error = agent_task_load(&t, c->task_path)))
		goto done;
	if ((error = agent_task_apply_cli(&t, c)) ||
	    (error = live_open(&live, c, &sampling, false)))
		goto done;
	model.chat = live_chat;
	model.ctx = &live;
	/* streamed text as it comes, for a person watching */
	if (c->stream && !c->json && c->err && isatty(fileno(c->err)))
		live.echo = c->err;
	agent_cancel = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	error = agent_run_task(c, &t, model, &res);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (res) {
		struct ln_error_state st;
		ln_error_capture(&st);
		if (c->json)
			agent_print_json(c->out, res);
		else
			agent_print_result(c->out, res);
		ln_error_restore(&st);
	}
done:
	json_decref(res);
	json_decref(sampling);
	llm_close(live.client);
	agent_task_release(&t);
	return error;
}
