/*
 * episode.h - one agent episode (`lanser agent`, docs/agent.md): a model
 * works on a task through lanser's tools, in a linked worktree of the
 * task's base, until it calls finish, a budget is spent or the user stops
 * it; every mutating step is scored by the evaluation engine
 * (eng_diagnose) and the end by the same pipeline as `lanser eval`
 * (eng_eval on the episode's final diff).
 *
 *   agent/agenttask.c   the task file and its budgets
 *   agent/episode.c     the loop: model turns, tool calls, budgets
 *   agent/epscore.c     the worktree, the engine, step and episode rewards
 *   agent/agentcmd.c    `lanser agent`: one task, rollouts, printing
 *   agent/agentreplay.c `trace replay` of an agent run
 *
 * The model is a function (struct agent_model): the live client
 * (agent/llm.h) or, for replay, the recorded responses of a trace.
 */
#ifndef LANSER_AGENT_EPISODE_H
#define LANSER_AGENT_EPISODE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "rewards/reward.h"

struct cli;
struct eng_settings;

#define AGENT_TASK_SCHEMA "lanser.agent-task/1"
#define AGENT_RESULT_SCHEMA "lanser.agent/1"
#define AGENT_MAX_INSTRUCTION ((size_t)256 << 10)
#define AGENT_MAX_ARGUMENTS ((size_t)1 << 20)   /* one tool call's arguments text */
#define AGENT_DEFAULT_STEPS 30
#define AGENT_STUCK_REPEATS 3    /* the same failing call this many times in a row ends it */

struct agent_budget {
	long steps;     /* model turns + tool calls; > 0 */
	long tokens;    /* prompt + completion tokens; 0: none */
	long wall_ms;   /* 0: none */
};

/* A task (docs/agent.md, "Task files"). Strings malloc'd, NULL when absent. */
struct agent_task {
	char *id;
	char *instruction;
	char *workspace;   /* absolute; NULL: the current workspace */
	char *base;        /* NULL: HEAD */
	char *tests;       /* FAIL_TO_PASS ids, comma-separated */
	json_t *test_files; /* "testFiles": globs (owned array), or NULL: the
			     * configuration's (docs/sandbox.md, "Test files") */
	struct agent_budget budget;
};

void agent_task_init(struct agent_task *t);
void agent_task_release(struct agent_task *t);
/* Reads a task object; `what` names its source in messages, `dir`
 * resolves a relative "workspace". LN_ECONFIG naming the member. */
int agent_task_from_json(struct agent_task *t, const json_t *obj, const char *what,
			 const char *dir);
/* A task file (at most 1 MiB). LN_ENOTFOUND, LN_ECONFIG. */
int agent_task_load(struct agent_task *t, const char *path);
/* The task as agent_task_from_json reads it (new reference). */
json_t *agent_task_json(const struct agent_task *t);
/* The command line's options over the task's (base, tests, testFiles,
 * budgets). LN_EUSAGE for an empty or too long --test-files glob. */
int agent_task_apply_cli(struct agent_task *t, const struct cli *c);

/* What the model answered: the assistant message and its usage. */
struct agent_reply {
	json_t *message;           /* {"role":"assistant","content","tool_calls"?} */
	char finish_reason[32];
	long prompt_tokens, completion_tokens;   /* -1: not said */
	int http_status, attempts;
};

/* A model: 0 and *out filled, or an LN_E* code with the last error set.
 * out->message belongs to the caller. */
struct agent_model {
	int (*chat)(void *ctx, const json_t *messages, const json_t *tools, struct agent_reply *out);
	void *ctx;
};

/* The SHA-256 (hex) of a model request's canonical {messages, tools}: the
 * trace records it, replay checks the conversation against it. */
void agent_request_digest(char out[65], const json_t *messages, const json_t *tools);

/* A trace sink: `fields` taken over. */
typedef void (*agent_trace_fn)(void *ctx, const char *type, json_t *fields);

struct agent_episode_opts {
	struct cli *c;                      /* the command line (root, config, exec) */
	const struct agent_task *task;
	const struct eng_settings *settings; /* the task's evaluation settings (ENG_CONFIG_BASE) */
	const char *sample;                 /* the episode's id ("s1") */
	struct agent_model model;
	enum rwd_episode_mode mode;
	volatile sig_atomic_t *cancel;
	agent_trace_fn trace;               /* may be NULL */
	void *trace_ctx;
	FILE *progress;                     /* one line per step for a person, or NULL */
	/* an interactive session (agent/interactive.c): requests come from a
	 * person, a reply without a tool call answers the request, finish ends
	 * the request (not the session), the step budget is per request, and
	 * every applied mutating step can be undone (agent_episode_undo) */
	bool interactive;
	const struct agent_episode_hooks *hooks;   /* may be NULL */
};

/* What a front end sees of each tool call (all members may be NULL). */
struct agent_episode_hooks {
	void *ctx;
	/* a call is about to run: its tool name and arguments text */
	void (*call)(void *ctx, long step, const char *tool, const char *args);
	/* a mutating call was previewed (the tool's text: its diff): true
	 * applies it, false tells the model the user declined; NULL applies */
	bool (*confirm)(void *ctx, long step, const char *tool, const char *preview);
	/* its outcome: code (LN_E*), the text the model reads, the step's
	 * reward (mutating steps; NULL otherwise) */
	void (*result)(void *ctx, long step, const char *tool, int code, const char *text,
		       const json_t *reward);
};

/*
 * Runs one episode. *out is its result (docs/agent.md, "The result"):
 * schema, task, sample, base, stop, summary, diff, steps[], rewards
 * {steps[], episode}, tests, budgets, usage, eval (the final eval
 * bundle's id). Returns 0 when the episode ran to a stop (finish or a
 * budget: see "stop"), or the LN_E* code that ended it (the model server
 * failed: LN_EMODEL, LN_ETIMEOUT, ...; LN_ECANCELLED; a worktree or engine
 * failure); *out is filled in both cases when the worktree could be made.
 */
int agent_episode_run(json_t **out, const struct agent_episode_opts *o);

/*
 * The same episode in parts, for a session of several requests
 * (agent/interactive.c); agent_episode_run is open, one request with the
 * task's instruction, close.
 *
 * agent_episode_open: the worktree, the engine and the tools (o and what
 * it points to must outlive the episode). LN_E* from the scorer or the
 * tools; nothing is left behind.
 * agent_episode_request: `text` as the user's message, then model turns
 * and tool calls until the episode stops (finish, a budget, stuck,
 * cancel) or, when o->interactive, the model answers without a call or
 * calls finish. 0, or the LN_E* that ended it (LN_ECANCELLED, the model
 * server's); an interactive session goes on after either: its cancel flag
 * and stop are cleared by the next request.
 * agent_episode_undo: puts the worktree back exactly as it was before the
 * last applied mutating step not yet undone (o->interactive only) and
 * drops that step's reward; *step its number. LN_ENOTFOUND when there is
 * none; LN_ESANDBOX when the tree could not be restored exactly.
 * agent_episode_diff: the worktree's current diff against the base
 * (malloc'd, *len bytes), or NULL with an error set.
 * agent_episode_running: the scored steps so far, the sum of their
 * rewards and R_process (the mean of their bounded rewards).
 * agent_episode_close: scores the end (tests, episode reward), fills
 * *out with the result as agent_episode_run does (stop "exit" for an
 * interactive session that ended without one), frees e. `error` is the
 * LN_E* that ended the episode (0: none); returns it, or the scoring's.
 */
struct agent_episode;
int agent_episode_open(struct agent_episode **out, const struct agent_episode_opts *o);
int agent_episode_request(struct agent_episode *e, const char *text);
int agent_episode_undo(struct agent_episode *e, long *step);
char *agent_episode_diff(struct agent_episode *e, size_t *len);
void agent_episode_running(const struct agent_episode *e, size_t *n, double *sum,
			   double *process);
const char *agent_episode_worktree(const struct agent_episode *e);
const char *agent_episode_base(const struct agent_episode *e);
int agent_episode_close(struct agent_episode *e, json_t **out, int error);

/* ---- epscore.c: the engine side of an episode ---- */

struct agent_scorer;
/* A worktree of settings->task.base for the agent and an engine on the
 * same base for the rewards. LN_E* from sbx_wt_create / eng_open. */
int agent_scorer_open(struct agent_scorer **out, const struct agent_episode_opts *o);
void agent_scorer_close(struct agent_scorer *s);
/* The worktree the agent works in (canonical path) and the base commit. */
const char *agent_scorer_worktree(const struct agent_scorer *s);
const char *agent_scorer_base(const struct agent_scorer *s);
/*
 * Scores a mutating step: the worktree's diff against the base through
 * eng_diagnose; D_{t-1} is the previous step's D_t, adjusted by the
 * base diagnostics of files that became relevant only now; S_t = ok;
 * c_t = confidence. Returns the step's reward JSON (new reference):
 * {"step", "tool", "terms": {D0, D, S, c, c0}, "reward" (the delta
 * functional), "bounded", "introduced", "relevant"}.
 */
json_t *agent_scorer_step(struct agent_scorer *s, long step, const char *tool, bool ok,
			  double confidence);
/* The episode: final diff, tests and reward through eng_eval, with
 * R_process the mean of the steps' bounded rewards. Fills
 * result["diff"], ["rewards"]["episode"], ["tests"], ["eval"].
 * unscorable non-NULL: the episode was cut short by a failure that is not
 * the model's (its server): scored, but unscorable with that reason (a null
 * reward in its group). */
int agent_scorer_finish(struct agent_scorer *s, json_t *result, const char *unscorable);
/* Build products of a test run are not the agent's change: the untracked
 * files before a call that runs the tree's code (agent_scorer_untracked;
 * NULL when git cannot say), and after it agent_scorer_ignore_new, which
 * takes `before` and leaves every file that appeared since out of the
 * step and final diffs. */
json_t *agent_scorer_untracked(struct agent_scorer *s);
void agent_scorer_ignore_new(struct agent_scorer *s, json_t *before);

/* Undo (interactive sessions): a mark is the worktree's diff against the
 * base and the scorer's state before a step; agent_scorer_rollback resets
 * the worktree to the base (sbx_wt_reset: untracked and ignored files go
 * too), applies the marked diff through the transaction (sbx_patch_apply)
 * and checks that the worktree's diff is then byte for byte the marked
 * one; the steps scored since the mark are dropped. The mark is consumed
 * either way. agent_scorer_mark: NULL with an error set when the diff
 * cannot be taken. */
struct agent_scorer_mark;
struct agent_scorer_mark *agent_scorer_mark(struct agent_scorer *s);
int agent_scorer_rollback(struct agent_scorer *s, struct agent_scorer_mark *m);
void agent_scorer_mark_free(struct agent_scorer_mark *m);
/* The worktree's diff against the base (as agent_scorer_finish takes it). */
int agent_scorer_diff(struct agent_scorer *s, char **out, size_t *len);
/* The scored steps: how many, the sum of their rewards, R_process. */
void agent_scorer_running(const struct agent_scorer *s, size_t *n, double *sum,
			  double *process);

#endif
