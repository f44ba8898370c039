/*
 * testcmd.c - `lanser test`: runs the build and the tests of the workspace,
 * or of candidate patches in their own worktrees, in the sandbox
 * (engine/testrun.h), and prints a summary or the outcome records
 * (docs/sandbox.md).
 */
#include "agent/cli.h"

#include "core/err.h"
#include "core/buf.h"
#include "engine/engine.h"
#include "engine/testrun.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t *cancel_flag;
static struct sigaction prev_int, prev_term; /* the handlers we replaced while we run */

/*
 * Ctrl-C and TERM cancel the runs. A front end that runs `test` as one of
 * its calls (the agent's session, `lanser mcp`) has its own handler for
 * the same signal, which ours replaces while the tests run: it is called
 * after ours, so the front end hears it too (the session's request ends
 * as cancelled instead of going on with the model; mcp tells its own
 * cancel from a Ctrl-C by the signal's origin, hence SA_SIGINFO).
 */
static void on_signal(int sig, siginfo_t *info, void *uctx)
{
	const struct sigaction *prev = sig == SIGINT ? &prev_int : &prev_term;

	if (cancel_flag)
		*cancel_flag = 1;
	if (prev->sa_flags & SA_SIGINFO) {
		/* never ourselves (a test run inside a test run, two threads) */
		if (prev->sa_sigaction && prev->sa_sigaction != on_signal)
			prev->sa_sigaction(sig, info, uctx);
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
	}
}

static void print_summary(FILE *out, json_t *rec)
{
	json_t *o = json_object_get(rec, "outcome"), *counts = json_object_get(o, "counts");
	json_t *req = json_object_get(rec, "request");
	const char *cand = json_string_value(json_object_get(req, "candidate"));
	const char *msg = json_string_value(json_object_get(json_object_get(json_object_get(rec,
					"meta"), "volatile"), "message"));
	json_t *dur = json_object_get(json_object_get(json_object_get(rec, "meta"), "volatile"),
				      "durationMs");

	fprintf(out, "%s%s%s: %s", cand ? "candidate " : "", cand ? ln_printable(cand) : "",
		cand ? "" : "test", json_string_value(json_object_get(o, "status")));
	if (counts)
		fprintf(out, " (%lld passed, %lld failed, %lld errors, %lld skipped)",
			(long long)json_integer_value(json_object_get(counts, "passed")),
			(long long)json_integer_value(json_object_get(counts, "failed")),
			(long long)json_integer_value(json_object_get(counts, "error")),
			(long long)json_integer_value(json_object_get(counts, "skipped")));
	if (json_object_get(o, "resolved"))
		fprintf(out, ", FAIL_TO_PASS %zu/%zu, PASS_TO_PASS %zu/%zu: %s",
			json_array_size(json_object_get(json_object_get(o, "FAIL_TO_PASS"), "passed")),
			json_array_size(json_object_get(req, "FAIL_TO_PASS")),
			json_array_size(json_object_get(json_object_get(o, "PASS_TO_PASS"), "passed")),
			json_array_size(json_object_get(req, "PASS_TO_PASS")),
			json_is_true(json_object_get(o, "resolved")) ? "resolved" : "not resolved");
	fprintf(out, " [isolation %s, build %lld ms, test %lld ms]\n",
		json_string_value(json_object_get(rec, "isolation")),
		(long long)json_integer_value(json_object_get(dur, "buildMs")),
		(long long)json_integer_value(json_object_get(dur, "testMs")));
	{
		char *tf = eng_record_test_files_note(rec);
		if (tf)
			fprintf(out, "  %s\n", ln_printable(tf));
		free(tf);
	}
	if (msg && strcmp(json_string_value(json_object_get(o, "status")), "passed"))
		fprintf(out, "  %s\n", ln_printable(msg));
	if (json_is_string(json_object_get(json_object_get(o, "results"), "outcomeFrom")) &&
	    !strcmp(json_string_value(json_object_get(json_object_get(o, "results"), "outcomeFrom")),
		    "exitStatus"))
		fprintf(out, "  no per-test results: the outcome is the test command's exit status\n");
	{
		char *tail = eng_record_failure_tail(rec, 12);
		if (tail)
			fprintf(out, "  last lines of its output:\n%s", ln_printable_text(tail));
		free(tail);
	}
	{
		json_t *tests = json_object_get(o, "tests");
		size_t i;
		for (i = 0; i < json_array_size(tests); i++) {
			const char *st = json_string_value(json_object_get(json_array_get(tests, i),
									   "status"));
			if (strcmp(st, "passed") && strcmp(st, "skipped"))
				fprintf(out, "  %s %s\n", st, ln_printable(json_string_value(json_object_get(
						json_array_get(tests, i), "id"))));
		}
	}
}

/* The LN_E* code of a record (its meta.exitCode, negated). */
static int record_code(json_t *rec)
{
	json_int_t ec = json_integer_value(json_object_get(json_object_get(rec, "meta"),
							   "exitCode"));
	return ec ? -(int)ec : 0;
}

static const char *record_str(json_t *rec, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(rec, a), b));
}

static void print_argv(FILE *out, char *const *argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		fprintf(out, "%s%s", i ? " " : "", ln_printable(argv[i]));
}

/* Which build and test commands, and why (text output, --explain). */
static void print_choice(FILE *out, const struct sbx_task *t, bool explain)
{
	const json_t *g;
	size_t i;

	if (t->build_argv) {
		fprintf(out, "build: ");
		print_argv(out, t->build_argv);
		fprintf(out, "\n");
	}
	fprintf(out, "test: ");
	print_argv(out, t->test_argv);
	if (t->test_reason)
		fprintf(out, "\n  chosen by discovery: %s\n", ln_printable(t->test_reason));
	else
		fprintf(out, "\n  set by the configuration (.lanser.json \"test\") or the task file\n");
	if (json_object_get(t->env, "PYTHONPATH"))
		fprintf(out, "  environment: PYTHONPATH=%s\n",
			ln_printable(json_string_value(json_object_get(t->env, "PYTHONPATH"))));
	if (json_array_size(t->test_files)) {
		fprintf(out, "test files (put back to the base after a candidate's patch):");
		json_array_foreach(t->test_files, i, g)
			fprintf(out, " %s", ln_printable(json_string_value(g)));
		fprintf(out, "\n");
	} else if (explain && (json_array_size(t->f2p) || json_array_size(t->p2p))) {
		fprintf(out, "test files: none protected: a candidate's patch may change the tests "
			"FAIL_TO_PASS/PASS_TO_PASS name (set \"testFiles\" or --test-files)\n");
	}
}

static void note_hook(void *ctx, const char *text)
{
	FILE *err = ctx;
	if (err)
		fprintf(err, "%s\n", text);
}

int cmd_test(struct cli *c)
{
	struct eng_settings set;
	struct eng_source src;
	struct eng_test_opts o;
	struct sigaction sa;
	static volatile sig_atomic_t cancel;
	json_t *records = NULL, *rec;
	bool warned = false, loaded = false;
	size_t i;
	int error;

	/* the workspace's configuration (of the workspace the task names, if
	 * another), the task file, the options (engine/settings.c) */
	memset(&src, 0, sizeof src);
	src.from = ENG_CONFIG_WORKTREE;
	src.root = c->root;
	src.cwd = c->cwd;
	src.cfg = &c->cfg;
	src.task_path = c->task_path;
	src.base = c->base;
	src.tests = c->tests;
	src.test_files = c->test_files;
	src.ntest_files = (size_t)c->ntest_files;
	src.patches = c->patches;
	src.npatches = (size_t)c->npatches;
	src.no_isolation = c->no_isolation;
	error = eng_settings_load(&set, &src);
	loaded = true;
	if (error)
		goto done;
	if (c->explain || !c->json)
		print_choice(c->json ? c->err : c->out, &set.task, c->explain);
	memset(&o, 0, sizeof o);
	o.root = set.root;
	o.config_digest = set.digest;
	o.index_io = c->index_io;
	o.jobs = c->jobs;
	o.note = note_hook;
	o.note_ctx = c->err;
	o.cancel = &cancel;

	/* Ctrl-C and TERM cancel the runs: the trees are killed, the
	 * worktrees removed, the records say "cancelled" */
	cancel = 0;
	cancel_flag = &cancel;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGINT, &sa, &prev_int);
	sigaction(SIGTERM, &sa, &prev_term);
	error = eng_test_run(&set.task, &o, &records);
	sigaction(SIGINT, &prev_int, NULL);
	sigaction(SIGTERM, &prev_term, NULL);
	cancel_flag = NULL;
	if (error)
		goto done;

	/* every record, in candidate order; loud when not isolated */
	json_array_foreach(records, i, rec) {
		const char *iso = json_string_value(json_object_get(rec, "isolation"));
		if (iso && !strcmp(iso, "none") && !warned) {
			const char *note = json_string_value(json_object_get(json_object_get(
				json_object_get(rec, "meta"), "volatile"), "isolationNote"));
			fprintf(c->err, "lanser: WARNING: TESTS RAN WITHOUT ISOLATION (resource "
				"limits only; \"isolation\": \"none\"): %s\n",
				note ? note : "namespaces unavailable");
			warned = true;
		}
		if (c->json) {
			char *s = json_dumps(rec, JSON_COMPACT);
			fprintf(c->out, "%s\n", s ? s : "{}");
			free(s);
		} else {
			print_summary(c->out, rec);
		}
	}
	if (json_array_size(records) == 1) {
		rec = json_array_get(records, 0);
		error = record_code(rec);
		if (error) {
			const char *m = json_string_value(json_object_get(json_object_get(
				json_object_get(rec, "meta"), "volatile"), "message"));
			ln_error_set(error, "%s", m ? m : ln_err_name(error));
		}
	} else {
		/* a group: failing candidates are results, not errors; only a
		 * candidate that could not be evaluated at all fails the command */
		json_array_foreach(records, i, rec) {
			const char *st = record_str(rec, "outcome", "status");
			int code = record_code(rec);
			if (code && st && (!strcmp(st, "error") || !strcmp(st, "cancelled"))) {
				error = ln_error_set(code, "candidate %s: %s",
						     record_str(rec, "request", "candidate"),
						     ln_err_name(code));
				break;
			}
		}
	}
done:
	json_decref(records);
	if (loaded)
		eng_settings_release(&set);
	return error;
}
