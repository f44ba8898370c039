/*
 * testrun.h - a task's build and tests in the sandbox, for `lanser test`
 * and for the engine (engine/engine.h), which runs the tests of every
 * candidate it scores through it.
 *
 * eng_test_run() runs a task's build and tests: in place in the workspace
 * when the task has no base and no candidate, else each candidate in a git
 * worktree of its own at the base (docs/sandbox.md). It prunes what a
 * crashed earlier run left first (worktrees, cgroups). Thread-safe against
 * other eng_test_run() calls on other workspaces; on the same repository
 * two calls use distinct worktrees but share its git directory. It never
 * prints: notes go to opts->note.
 */
#ifndef LANSER_ENGINE_TESTRUN_H
#define LANSER_ENGINE_TESTRUN_H

#include <signal.h>

#include <jansson.h>

#include "core/text.h"
#include "sandbox/task.h"

struct eng_test_opts {
	const char *root;            /* the workspace (canonical absolute path) */
	const char *config_digest;   /* "sha256:..." of its .lanser.json (bundles) */
	enum ln_enc index_io;        /* recorded in the bundles */
	int jobs;                    /* candidates at once; 0: 2 */
	/* a note for the user (pruned worktrees, a record that could not be
	 * finished): one line without newline; may be NULL */
	void (*note)(void *ctx, const char *text);
	void *note_ctx;
	/* set to non-zero to cancel: every tree is killed, the records say
	 * "cancelled"; may be NULL */
	volatile sig_atomic_t *cancel;
	/* progress of a candidate ("building", "testing", then what the run
	 * came to: "tests passed", "build failed", "not applied", ... as in
	 * engine/engine.h), from the worker threads; may be NULL */
	void (*progress)(void *ctx, const char *candidate, const char *phase);
	void *progress_ctx;
	/* a candidate's outcome record is made (index: its place in t->cands),
	 * from the worker threads as each candidate finishes; the record is
	 * borrowed (incref it to keep it) and not changed any more by the
	 * run; may be NULL */
	void (*done)(void *ctx, size_t index, json_t *record);
	void *done_ctx;
	/* candidate worktrees kept from one call to the next (the engine's),
	 * or NULL: each call makes its own and removes them. When *keep holds
	 * enough worktrees at the base, they are reset to it (untracked and
	 * ignored files removed, sandbox/worktree.h) and used instead of new
	 * ones; when it does not, or a reset fails, they are removed and new
	 * ones made. Afterwards they are left in *keep, the caller's to free
	 * (sbx_wt_free). Not for a call that reuses the base build (more
	 * candidates than worktrees and a build command): it makes its own. */
	struct sbx_wtset **keep;
};

/*
 * Evaluates the task. *records (new reference) gets a JSON array with one
 * outcome record per candidate, in the task's order (one record in place);
 * each record's meta.exitCode is that candidate's code. Returns 0 when
 * records were made, else an LN_E* code with the last error set (the
 * repository or base revision unusable: LN_EINPUT, LN_ENOTFOUND,
 * LN_ESANDBOX; no test command: LN_ECONFIG). `t` may be completed (base
 * "HEAD", the "base" candidate) but stays the caller's.
 */
int eng_test_run(struct sbx_task *t, const struct eng_test_opts *o, json_t **records);

/* When more candidates than worktrees are run and the task has a build
 * command, each worktree builds the base once and every candidate it
 * serves starts from that build's outputs (sandbox/worktree.h; the record's
 * meta.volatile.reusedBaseBuild). Set this environment variable (any value)
 * to build every candidate from scratch instead (bench/). */
#define ENG_NO_BUILD_REUSE_ENV "LANSER_NO_BUILD_REUSE"

/*
 * Why a record's run failed, for a person: the last `max_lines` non-empty
 * lines of the failing step's output (the build's when the build failed,
 * else the test command's; its stdout, then its stderr), from the record's
 * meta.volatile.output, leaving out lines that report a passing or skipped
 * test (pytest's "PASSED "/"SKIPPED ", TAP's "ok ", Unity's ":PASS",
 * ctest's "Test #N ... Passed"); each stream's tail is preceded by up to
 * ENG_FAILURE_LINES earlier lines of that stream that report a failure
 * ("FAIL", "not ok ", " error:", "Error: ", "Traceback", "Assertion",
 * "***Failed", pytest's "E   "; not a "==" ruler) and a "    ..." line.
 * The worktree's path (meta.volatile.worktree) followed by "/" is taken
 * out of every line. Each line is cut at 200 bytes. Returns a malloc'd text ending in a newline, or NULL when the
 * record passed or kept no output.
 */
#define ENG_FAILURE_LINES 5
char *eng_record_failure_tail(const json_t *record, size_t max_lines);

/*
 * When a candidate's build or tests hit a limit of the box and the base was
 * run to tell whose limit it is (outcome.baseRun): a sentence for a person
 * saying which limits were hit and whether the base stays within them (the
 * candidate's outcome) or hits them too (unscorable). Malloc'd, no newline;
 * NULL when the record has no such run.
 */
char *eng_record_limit_note(const json_t *record);

/*
 * When the task protects test files ("testFiles") and the candidate's patch
 * changed some of them (outcome.patch.testFilesReset): one sentence naming
 * them (at most the first 8) and saying they were put back to the base's
 * bytes before the build and the tests. Malloc'd, no newline; NULL when
 * none was reset.
 */
char *eng_record_test_files_note(const json_t *record);

#endif
