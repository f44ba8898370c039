/*
 * testrun_int.h - what testrun.c and testbuild.c share (not an API):
 * the state of one eng_test_run call and of one record in the making.
 */
#ifndef LANSER_ENGINE_TESTRUN_INT_H
#define LANSER_ENGINE_TESTRUN_INT_H

#include "engine/testrun.h"

#include "core/buf.h"
#include "core/text.h"
#include "sandbox/outcome.h"
#include "sandbox/run.h"
#include "sandbox/task.h"
#include "sandbox/worktree.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

struct tctx {
	const struct eng_test_opts *o;   /* notes */
	enum ln_enc index_io;
	struct sbx_task *t;
	const char *root;            /* the workspace (canonical) */
	bool candidates;             /* worktrees from a base, else in place */
	char base_oid[41];
	char **env;                  /* NULL-terminated "K=V" */
	json_t *env_json;            /* the same, sorted */
	struct sbx_wtset *wts;
	char config_digest[72];      /* of the workspace's .lanser.json */
	pthread_mutex_t git_lock, q_lock, base_lock;
	int base_build;              /* 0: not tried; 1: the base builds; -1: it does not */
	json_t *base_build_run;      /* the base build's run (run_json), when tried */
	int base_limits;             /* 0: not tried; 1: the base stays within the
					limits; -1: it does not, or it is not known */
	json_t *base_limits_run;     /* the base's build and test runs, when tried */
	size_t next;
	/* reusing the base build (sandbox/worktree.h): per worktree 0 not
	 * tried, 1 outputs saved, -1 none */
	bool reuse;
	int *outputs;
	json_t **records;
	int *codes;
	volatile sig_atomic_t *cancel;   /* never NULL while running */
};

/* One record in the making (evaluate and its steps). */
struct rec {
	const char *dir;             /* where the commands run */
	size_t wt;                   /* its worktree (candidates) */
	json_t *rec, *req, *outc, *vol, *durations, *output;
	struct sbx_result br, tr;
	struct sbx_tests tests;
	struct buf msg;
	const char *status;
	bool isolated, ran_any;
	char iso_note[256];
	size_t failed;               /* failed or errored tests */
	size_t errors;               /* of which errored */
	char *patch;
	size_t patch_len;
};

/* A note for the user (o->note), printf-style. */
void eng_tr_note(const struct tctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A command's run as the record's JSON (exit code or signal, limits). */
json_t *eng_tr_run_json(const struct sbx_result *r);
/* The last `max` bytes of captured output, as valid-enough text. */
json_t *eng_tr_tail_json(const struct buf *b, size_t max);
/* Runs one sandboxed step in `dir`; fills *r. 0 or the runner's error. */
int eng_tr_step(struct tctx *x, const char *dir, char **argv, struct sbx_result *r);
/* Whether a run hit a limit of the box (output beyond its cap aside). */
bool eng_tr_hit_limit(const struct sbx_result *r);
/* Whether the base's build and tests end within the limits (run once per
 * run, in r's worktree): whose limit a candidate hit. */
bool eng_tr_base_within_limits(struct tctx *x, struct rec *r);
/* Whether the base builds (built once per run, in worktree wt). */
bool eng_tr_base_builds(struct tctx *x, struct rec *r, size_t wt);
/* The base built in worktree wt and its outputs kept aside (reuse). */
void eng_tr_prepare_outputs(struct tctx *x, size_t wt, bool used);
/* The build command of r. 0, or the code with r->status set. */
int eng_tr_run_build(struct tctx *x, struct rec *r, size_t wt);

/* engine/testfiles.c: after the candidate's patch in r's worktree (report:
 * sbx_patch_apply's), every file it changed, created or deleted that
 * matches the task's testFiles back to the base's bytes, created ones
 * removed. *reset gets their paths, sorted (a new array, empty when none).
 * Call with git_lock held. 0, or LN_ESANDBOX (the harness's failure). */
int eng_tr_reset_test_files(struct tctx *x, struct rec *r, const json_t *report,
			    json_t **reset);

#endif
