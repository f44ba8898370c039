/*
 * engine.h - the evaluation engine: scores candidate patches against one
 * base revision of one repository (docs/eval.md, "The engine API").
 *
 * What it does for every candidate: the diff applied in memory to ONE base
 * worktree (jail, conflicts: R_format), diagnostics before (base texts) and
 * after (the candidate's texts as overlays on the same warm language
 * servers) over the relevant files (engine/relevance.h), the tests of the
 * task in a sandboxed worktree of the candidate's own (engine/testrun.h,
 * meanwhile in another thread), the rewards (rewards/reward.h), the policy
 * verdict and the eval bundle. Front ends (agent/eval.c: `lanser eval`,
 * `lanser group`; next the agent loop and the reward server) turn their
 * options into an eng_opts, call eng_eval() or eng_eval_group(), and print
 * or serve the results. Nothing here prints, reads argv or exits.
 *
 * Lifecycle:
 *
 *     struct eng_settings s;            eng_settings_load(&s, &src);
 *     struct eng *e;                    eng_open(&e, &opts);  (opts.settings = &s)
 *     struct eng_result r;              eng_eval(e, &cand, &r); ... eng_result_release(&r);
 *                                       eng_close(e); eng_settings_release(&s);
 *
 * Ownership: the settings are borrowed by the engine for its whole life;
 * a candidate's strings are borrowed for the duration of the call; every
 * result and everything in it belongs to the caller (eng_result_release).
 *
 * Threads: one engine is used by one thread at a time (its servers have one
 * view of a file: candidates are diagnosed one after the other). Distinct
 * engines (of one repository or several) may run in distinct threads at
 * once: their worktrees, servers and temporary folders are their own (one
 * engine already runs its tests in a second thread beside its servers; two
 * engines in one process are not yet exercised by a test). The last-error
 * message (core/err.h) is per thread. Signals are the caller's: set
 * opts->cancel from a handler.
 *
 * Errors: every function returns 0 or an LN_E* code with the last error set.
 * A candidate that cannot be scored is NOT an error of eng_eval(): its
 * result says so (ep.scorable false, ep.reason, code).
 */
#ifndef LANSER_ENGINE_ENGINE_H
#define LANSER_ENGINE_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/config.h"
#include "core/text.h"
#include "rewards/reward.h"
#include "sandbox/task.h"

/* ---- settings: .lanser.json, the task file, the options ---- */

/* The acceptance policy (.lanser.json "policy", docs/eval.md). */
struct eng_policy {
	long max_new_errors;     /* -1: no bound */
	bool require_tests;
	bool has_min_reward;
	double min_reward;
};

/* Where the configuration comes from. */
enum eng_config_from {
	/* the workspace's working tree (`lanser test`): src->cfg when the
	 * task names no other workspace, else that workspace's .lanser.json */
	ENG_CONFIG_WORKTREE,
	/* `<base>:.lanser.json` of the repository, read through libgit2
	 * (`eval`, `group`, the reward server): never the working tree's, which
	 * may be the candidate itself */
	ENG_CONFIG_BASE,
};

/* What a front end's options say; every member borrowed, NULL when absent. */
struct eng_source {
	enum eng_config_from from;
	const char *root;            /* the workspace (canonical absolute path) */
	const char *cwd;             /* resolves the task file's "workspace" */
	const struct ln_config *cfg; /* root's configuration (ENG_CONFIG_WORKTREE) */
	const char *task_path;       /* --task FILE */
	const char *base;            /* --base REV */
	const char *tests;           /* --tests id,... (FAIL_TO_PASS) */
	const char *const *test_files; /* --test-files GLOB...: replace the */
	size_t ntest_files;          /* configuration's and task's testFiles */
	const char *const *patches;  /* --patch FILE...: added to the task's */
	size_t npatches;             /* candidates (ENG_CONFIG_WORKTREE only) */
	bool no_isolation;           /* --no-isolation */
};

struct eng_settings {
	struct sbx_task task;        /* configuration, then task file, then options */
	char *root;                  /* the workspace the task runs in (malloc'd) */
	char digest[72];             /* "sha256:..." of its configuration */
	struct eng_policy policy;    /* ENG_CONFIG_BASE only (else the defaults) */
	json_t *servers;             /* "servers" of the configuration (owned; {} when none) */
	json_t *ignored;             /* untrusted members ignored (owned), or NULL */
	char *config_source;         /* the configuration file read (malloc'd), or NULL */
};

/*
 * Loads the settings of a test run (ENG_CONFIG_WORKTREE) or an evaluation
 * (ENG_CONFIG_BASE): the configuration (of the workspace the task file
 * names, if any), the task file, then the options. Evaluations always get
 * a base (else "HEAD") and parse the policy. Messages name the file they
 * are about. LN_ECONFIG (bad configuration or task), LN_EINPUT (not a git
 * repository), LN_ENOTFOUND (base revision or task file missing). `out` is
 * initialised even on failure: release it either way.
 */
int eng_settings_load(struct eng_settings *out, const struct eng_source *src);
void eng_settings_release(struct eng_settings *s);

/* Parses .lanser.json "policy" of `cfg` (absent: maxNewErrors 0, tests
 * required, no minimum reward). LN_ECONFIG naming the member. */
int eng_policy_parse(struct eng_policy *out, const json_t *cfg);
/* The policy as recorded in a bundle (new reference). */
json_t *eng_policy_json(const struct eng_policy *p);

/* ---- the engine ---- */

/* A trace event (docs/trace.md): `fields` is taken over. */
typedef void (*eng_trace_fn)(void *ctx, const char *type, json_t *fields);
/* A note for the user (pruned worktrees, unboxed servers); one line, no
 * newline. The engine never prints. */
typedef void (*eng_note_fn)(void *ctx, const char *text);

/* Progress of one candidate, for a person watching (docs/eval.md): phase
 * "applied", "not a patch" (no diff in it), "not applied" (a diff that does
 * not apply to the base, or that the jail refuses), "diagnosed",
 * "building", "testing", then what
 * the test run came to ("tests passed", "tests failed", "build failed",
 * "base build failed", "not applied", "limit hit", "cancelled", "test
 * error"), and "scored" or "unscorable". Called from the engine's threads (the tests run beside the
 * diagnostics): the callee serialises its output. */
typedef void (*eng_progress_fn)(void *ctx, const char *candidate, const char *phase);

struct eng_result;
/* A candidate's final result, as soon as it is scored (for a front end that
 * streams, `lanser group --jsonl`): `index` is its place in the call's
 * candidates. Called in the thread that called eng_eval_group(), in the
 * order candidates finish (their diagnostics and their tests), before the
 * call returns; `r` is borrowed for the call. When the call fails after
 * that (cancelled), the results already reported are not returned. */
typedef void (*eng_result_fn)(void *ctx, size_t index, const struct eng_result *r);

struct eng_opts {
	const struct eng_settings *settings;   /* borrowed for the engine's life */
	enum rwd_episode_mode mode;            /* the episode reward (p-grpo by default) */
	struct rwd_weights weights;            /* of the process reward */
	enum ln_enc index_io;                  /* column unit of the bundles */
	int init_ms;                           /* server start */
	int request_ms;                        /* per request */
	int index_ms;                          /* wait for the servers' index */
	int diagnostics_ms;                    /* wait for a file's diagnostics */
	int jobs;                              /* test worktrees at once; 0: 2 */
	bool no_isolation;                     /* servers run unboxed (docs/sandbox.md) */
	/* eval: an unusable patch's own code (LN_ECONFLICT, LN_EPERM, ...) is
	 * the bundle's exit code; group: such a candidate is a result,
	 * rejected by the policy (LN_EPOLICY) */
	bool patch_error_is_code;
	volatile sig_atomic_t *cancel;         /* non-zero: stop (LN_ECANCELLED); may be NULL */
	eng_trace_fn trace;                    /* may be NULL */
	void *trace_ctx;
	eng_note_fn note;                      /* may be NULL */
	void *note_ctx;
	eng_progress_fn progress;              /* may be NULL */
	void *progress_ctx;
	eng_result_fn result;                  /* may be NULL */
	void *result_ctx;
};

struct eng;

/*
 * Opens the engine on the base revision of settings->task (its "base"):
 * a linked worktree of it in the workspace's state folder and one set of
 * language servers on that worktree (boxed unless opts->no_isolation).
 * *out belongs to the caller (eng_close). LN_EINPUT / LN_ENOTFOUND (no
 * repository, no such revision), LN_ESANDBOX (worktree), server errors.
 */
int eng_open(struct eng **out, const struct eng_opts *opts);
/* Starts the engine's language servers (one per language of the base)
 * and waits until they are ready, index included, for at most timeout_ms:
 * what a long-lived front end does before it says it is ready, so that its
 * first candidate does not pay the servers' start. 1 ready, 0 timeout (the
 * servers go on starting; a later candidate waits as usual). */
int eng_warm(struct eng *e, int timeout_ms);
/* Stops the servers and removes the worktree. NULL is fine. */
void eng_close(struct eng *e);
/* The base commit's full hex id (40 characters). */
const char *eng_base_oid(const struct eng *e);
/* The canonical path of the base worktree (volatile: differs per run). */
const char *eng_worktree(const struct eng *e);
/* Crashes of the engine's language servers so far (they are not restarted
 * by the engine: a long-lived front end reopens the engine). */
unsigned long eng_server_crashes(const struct eng *e);
/* Looks at the engine's language servers now (without waiting): one that
 * died since the last call (killed, crashed while idle) is reaped and
 * counted in eng_server_crashes(). Returns how many were found dead. A
 * long-lived front end calls it before and after using the engine: a
 * server's death is otherwise noticed only by the next request sent to it,
 * which then fails. */
int eng_check_servers(struct eng *e);
/* Why the engine can no longer score (its base worktree or its servers'
 * view of it could not be put back after a candidate: every later
 * candidate is unscorable), or NULL while it can. Reopen it. */
const char *eng_broken(const struct eng *e);
/* The full hex id (40 characters, NUL-terminated, into out) of the commit
 * that revision `rev` (a branch, tag, full or abbreviated commit id, any
 * git revision expression) names in the repository at `root`.
 * LN_EINPUT (no repository), LN_ENOTFOUND (no such commit; ambiguous). */
int eng_resolve_commit(char out[41], const char *root, const char *rev);
/* Wall-clock milliseconds of the last call's diagnostics and tests. */
void eng_timings(const struct eng *e, long long *diag_ms, long long *tests_ms);

/* One candidate: its id and the diff text. patch NULL: the completion held
 * no usable text and format_note says why (R_format 0). Borrowed. */
struct eng_candidate {
	const char *id;              /* [A-Za-z0-9._-], at most 64 bytes */
	const char *patch;
	size_t len;                  /* at most SBX_PATCH_MAX_BYTES */
	const char *format_note;     /* why there is no patch, or NULL */
};

/* What scoring one candidate produced: the bundle and its typed terms. */
struct eng_result {
	char *id;
	json_t *bundle;              /* the eval bundle (docs/eval.md) */
	/* 0: accepted; LN_EPOLICY: rejected by the policy; else the cause of
	 * an unusable patch (patch_error_is_code) or of an unscorable one */
	int code;
	bool usable;                 /* the diff parsed and applies: R_format 1 */
	int apply_code;              /* sbx_edits_from_diff's code */
	char apply_msg[300];
	char format_note[200];       /* why R_format is 0 ("" when usable) */
	bool diagnosed;              /* diagnostics before/after were computed */
	bool complete;               /* the servers were ready (bundle "complete") */
	struct rwd_diag_delta dd;    /* when diagnosed */
	struct rwd_step step;        /* the one process-reward step (diagnosed) */
	struct rwd_episode ep;       /* R_format, R_outcome, R_process; scorable,
				      * reason: the unscorable reason */
	double reward;               /* NAN when unscorable */
	long new_errors;             /* introduced facts of severity "error" */
	bool accepted;               /* the policy verdict */
	json_t *reasons;             /* strings: why it was rejected */
	json_t *introduced;          /* the new diagnostic facts ("symbol": container) */
	json_t *relevant;            /* the relevant files (sorted), or NULL */
	json_t *record;              /* the test outcome record, or NULL */
};

/*
 * Scores `n` candidates as one group (at most ENG_MAX_CANDIDATES): the
 * diagnostics before are taken for all of them at the base before any
 * candidate's text reaches a server; their tests run meanwhile, opts->jobs
 * at once. results[0..n) are filled (release each) when 0 is returned;
 * else nothing is filled: LN_ECANCELLED when opts->cancel was set,
 * LN_EUSAGE for more than ENG_MAX_CANDIDATES or a candidate without an id,
 * LN_ESANDBOX when the call's folder (the patches for the tests) cannot
 * be written in the workspace's state folder. When the base
 * worktree cannot be put back after a candidate, every later candidate
 * (in this call and in later calls) is unscorable with a reason saying so.
 */
#define ENG_MAX_CANDIDATES 1024
int eng_eval_group(struct eng *e, const struct eng_candidate *cands, size_t n,
		   struct eng_result *results);
/* One candidate: eng_eval_group with n = 1. */
int eng_eval(struct eng *e, const struct eng_candidate *cand, struct eng_result *result);
void eng_result_release(struct eng_result *r);

/*
 * eng_eval without the tests: the diff, the relevant files, diagnostics
 * before (at the base) and after, the process-reward step (r->dd,
 * r->step, r->introduced). The episode is unscorable ("tests not run"),
 * r->code 0 unless the diff or the diagnostics failed. The agent loop
 * scores each of its mutating steps with it (docs/agent.md).
 */
int eng_diagnose(struct eng *e, const struct eng_candidate *cand, struct eng_result *result);

/*
 * The unified diff (git's format, `a/` `b/` prefixes) of the work tree at
 * `wt` (a git work tree, e.g. a linked worktree) against commit `base_oid`:
 * tracked changes and untracked files that are not ignored, without
 * tool caches (.cache/). *out is malloc'd (NUL-terminated, *len bytes),
 * possibly empty. LN_ESANDBOX on git errors, LN_EINPUT when the diff
 * would exceed SBX_PATCH_MAX_BYTES.
 */
int eng_worktree_diff(char **out, size_t *len, const char *wt, const char *base_oid,
		      const json_t *skip);
/* skip (may be NULL): an array of untracked paths eng_worktree_diff leaves
 * out (what a test run left in the tree: its builds are not the change). */

/* The untracked, not ignored files of work tree `wt` (tool caches left
 * out) as a sorted JSON array of paths (new reference), or NULL with an
 * error set (LN_ESANDBOX). */
json_t *eng_worktree_untracked(const char *wt);

/* The workspace's generated compilation database (untracked: it is not in
 * a worktree) copied into the worktree `wt` at the same place, its paths
 * rewritten for the worktree's; nothing when there is none or `wt` has
 * one. eng_worktree_diff leaves such a copy out. */
void eng_copy_cdb(const char *root, const char *wt);

/* Test hook (integration tests only, docs/eval.md): when the environment
 * variable LANSER_ENGINE_SIMULATE_RESTORE_FAILURE names a candidate id, the
 * restore of the base worktree after that candidate fails as if a write
 * had failed. */
#define ENG_RESTORE_FAULT_ENV "LANSER_ENGINE_SIMULATE_RESTORE_FAILURE"

#endif
