/*
 * testrun.c - a task's build and tests in the sandbox (engine/testrun.h):
 * in place, or each candidate in a git worktree of its own at the base,
 * several at once; one outcome record per candidate (docs/sandbox.md).
 */
#include "engine/testrun.h"
#include "engine/testrun_int.h"

#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/path.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "engine/engine.h"
#include "sandbox/isolate.h"
#include "sandbox/outcome.h"
#include "sandbox/run.h"
#include "sandbox/txn.h"
#include "sandbox/worktree.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* The environment of every sandboxed command (an allow-list: nothing of
 * lanser's own environment leaks in; the task's "env" adds to it). */
static const char *const base_env[][2] = {
	{ "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
	{ "HOME", "/tmp" },
	{ "TMPDIR", "/tmp" },
	{ "LANG", "C.UTF-8" },
	{ "LC_ALL", "C.UTF-8" },
	{ "TERM", "dumb" },
	{ "PYTHONDONTWRITEBYTECODE", "1" },
	{ "PYTHONHASHSEED", "0" },
};


void eng_tr_note(const struct tctx *x, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (!x->o->note)
		return;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	x->o->note(x->o->note_ctx, b.data);
	buf_release(&b);
}

static void build_env(struct tctx *x)
{
	json_t *all = json_object(), *v;
	const char *k;
	size_t i, n = 0;

	for (i = 0; i < sizeof base_env / sizeof base_env[0]; i++)
		json_object_set_new(all, base_env[i][0], json_string(base_env[i][1]));
	json_object_foreach(x->t->env, k, v)
		json_object_set(all, k, v);
	x->env = xcalloc(json_object_size(all) + 1, sizeof *x->env);
	x->env_json = json_array();
	json_object_foreach(all, k, v) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "%s=%s", k, json_string_value(v));
		json_array_append_new(x->env_json, json_string(b.data));
		x->env[n++] = buf_detach(&b, NULL);
	}
	json_decref(all);
	/* sorted for the digest */
	{
		size_t a, bb;
		for (a = 1; a < json_array_size(x->env_json); a++)
			for (bb = a; bb > 0 && strcmp(json_string_value(json_array_get(x->env_json, bb - 1)),
						     json_string_value(json_array_get(x->env_json, bb))) > 0; bb--) {
				json_t *t1 = json_incref(json_array_get(x->env_json, bb - 1));
				json_array_set(x->env_json, bb - 1, json_array_get(x->env_json, bb));
				json_array_set_new(x->env_json, bb, t1);
			}
	}
}


static void count_tests(const struct sbx_tests *t, json_t *counts, size_t *failed,
			size_t *errors)
{
	size_t i, n[4] = { 0, 0, 0, 0 };

	for (i = 0; i < t->n; i++)
		n[t->v[i].status]++;
	json_object_set_new(counts, "passed", json_integer((json_int_t)n[SBX_T_PASS]));
	json_object_set_new(counts, "failed", json_integer((json_int_t)n[SBX_T_FAIL]));
	json_object_set_new(counts, "error", json_integer((json_int_t)n[SBX_T_ERROR]));
	json_object_set_new(counts, "skipped", json_integer((json_int_t)n[SBX_T_SKIP]));
	*failed = n[SBX_T_FAIL] + n[SBX_T_ERROR];
	*errors = n[SBX_T_ERROR];
}

/* Parses the results of a test run. 0, or LN_EINPUT with *perr set. */
static int parse_results(struct tctx *x, const char *dir, const struct sbx_result *r,
			 struct sbx_tests *tests, enum sbx_format *fmt, struct buf *msg)
{
	struct sbx_parse_error pe;
	struct buf data = BUF_INIT;
	int error = 0;

	*fmt = x->t->format;
	if (*fmt == SBX_FMT_AUTO)
		*fmt = x->t->junit_path ? SBX_FMT_JUNIT : sbx_format_detect(r->out.data, r->out.len);
	switch (*fmt) {
	case SBX_FMT_NONE:
	case SBX_FMT_AUTO:
		return 0;
	case SBX_FMT_TAP:
		error = sbx_parse_tap(tests, r->out.data, r->out.len, &pe);
		if (error)
			buf_addf(msg, "test output (TAP): %s", ln_error_msg());
		break;
	case SBX_FMT_PYTEST:
		error = sbx_parse_pytest(tests, r->out.data, r->out.len, &pe);
		if (error)
			buf_addf(msg, "test output (pytest): %s", ln_error_msg());
		break;
	case SBX_FMT_JUNIT: {
		char *abs = NULL;
		if (!x->t->junit_path) {
			error = ln_error_set(LN_EINPUT, "results.format is junit but results.junit "
					     "names no file");
			buf_addf(msg, "%s", ln_error_msg());
			break;
		}
		error = ln_path_resolve_in_root(NULL, &abs, dir, dir, x->t->junit_path);
		if (!error)
			error = buf_read_file(&data, abs, LN_FILE_MAX_BYTES);
		free(abs);
		if (error) {
			buf_addf(msg, "JUnit results %s: %s", x->t->junit_path, ln_error_msg());
			error = ln_error_set(LN_EINPUT, "%s", msg->data);
			break;
		}
		error = sbx_parse_junit(tests, data.data, data.len, &pe);
		if (error)
			buf_addf(msg, "%s:%s", x->t->junit_path, ln_error_msg());
		break;
	}
	}
	buf_release(&data);
	return error ? LN_EINPUT : 0;
}

static size_t listed_passed(json_t *outc)
{
	return json_array_size(json_object_get(json_object_get(outc, "FAIL_TO_PASS"), "passed")) +
	       json_array_size(json_object_get(json_object_get(outc, "PASS_TO_PASS"), "passed"));
}

static char *read_patch(const char *path, size_t *len, int *error)
{
	struct buf b = BUF_INIT;

	*error = buf_read_file(&b, path, SBX_PATCH_MAX_BYTES);
	if (*error) {
		*error = ln_error_set(*error, "patch %s: %s", path, ln_error_msg());
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, len);
}


/* The request: what was asked, without absolute paths. */
static void record_request(struct tctx *x, struct rec *r, const struct sbx_candidate *cand)
{
	json_t *req = r->req, *env = json_object_get(r->rec, "environment");

	json_object_set_new(req, "indexIo", json_string(ln_enc_name(x->index_io)));
	json_object_set_new(env, "indexIo", json_string(ln_enc_name(x->index_io)));
	json_object_set_new(env, "configDigest", json_string(x->config_digest));
	json_object_set_new(req, "candidate", cand && cand->id ? json_string(cand->id) : json_null());
	json_object_set_new(req, "task", x->t->task_id ? json_string(x->t->task_id) : json_null());
	json_object_set_new(req, "base", x->candidates ? json_string(x->base_oid) : json_null());
	json_object_set_new(req, "build", x->t->build_argv ? sbx_argv_json(x->t->build_argv)
							      : json_null());
	json_object_set_new(req, "test", sbx_argv_json(x->t->test_argv));
	json_object_set_new(req, "results", json_string(sbx_format_name(x->t->format)));
	/* copies: records are built in several threads at once */
	json_object_set_new(req, "FAIL_TO_PASS", json_deep_copy(x->t->f2p));
	json_object_set_new(req, "PASS_TO_PASS", json_deep_copy(x->t->p2p));
	json_object_set_new(req, "limits", sbx_limits_json(&x->t->limits));
	if (json_array_size(x->t->test_files))
		json_object_set_new(req, "testFiles", json_deep_copy(x->t->test_files));
	json_object_set_new(req, "isolation", json_string(x->t->iso == SBX_ISO_NONE ? "none" :
							   x->t->iso == SBX_ISO_REQUIRED ? "required"
											 : "auto"));
	json_object_set_new(req, "patch", json_null());
	json_object_set_new(r->outc, "patch", json_null());
	json_object_set_new(r->outc, "build", json_null());
	json_object_set_new(r->outc, "test", json_null());
	if (x->candidates)
		json_object_set_new(r->vol, "worktree", json_string(r->dir));
}

/* Back to the base, then the patch, through the transactional path.
 * `error` is read_patch's. 0, or the code with r->status and r->msg set. */
static int apply_candidate(struct tctx *x, struct rec *r, size_t wt, bool reset, int error)
{
	long long t0 = ln_now_ms();
	json_t *report = NULL, *tf_reset = NULL;
	int e = 0;

	pthread_mutex_lock(&x->git_lock);
	if (!error && (reset || x->outputs[wt] > 0))
		error = sbx_wt_reset(x->wts, wt);
	if (!error && r->patch) {
		struct sbx_apply_opts ao = { false, false, NULL };
		error = sbx_patch_apply(r->dir, r->patch, r->patch_len, &ao, &report);
		/* the candidate is scored on the base's tests (docs/rewards.md) */
		if (!error && json_array_size(x->t->test_files))
			e = eng_tr_reset_test_files(x, r, report, &tf_reset);
	}
	pthread_mutex_unlock(&x->git_lock);
	/* the base build's outputs, under what the patch changed (older than
	 * it); a failure is the harness's, not the candidate's */
	if (!error && !e && x->outputs[wt] > 0) {
		e = sbx_wt_restore_outputs(x->wts, wt);
		if (!e)
			json_object_set_new(r->vol, "reusedBaseBuild", json_true());
	}
	if (e) {
		json_decref(report);
		json_decref(tf_reset);
		r->status = "error";
		buf_addf(&r->msg, "%s", ln_error_msg());
		return e;
	}
	json_object_set_new(r->durations, "applyMs", json_integer(ln_now_ms() - t0));
	if (r->patch || error) {
		json_t *p = xjson_pack("{s:s, s:s, s:o}", "status", error ? "failed" : "applied",
				       "code", ln_err_name(error), "report",
				       report ? report : json_null());
		if (json_array_size(x->t->test_files))
			json_object_set_new(p, "testFilesReset", tf_reset ? tf_reset : json_array());
		json_object_set_new(r->outc, "patch", p);
	} else {
		json_decref(report);
		json_decref(tf_reset);
	}
	if (error) {
		r->status = "patch-failed";
		buf_addf(&r->msg, "the patch does not apply: %s", ln_error_msg());
	}
	return error;
}


/* The verdict of a test run whose results were parsed (perror_: the
 * parser's code, perr its message). 0, or the code with r->status set. */
static int judge_tests(struct tctx *x, struct rec *r, bool resolved, int perror_,
		       const struct buf *perr)
{
	const struct sbx_result *tr = &r->tr;
	size_t listed = json_array_size(x->t->f2p) + json_array_size(x->t->p2p);
	int error = 0;

	if (tr->cancelled) {
		r->status = "cancelled";
		error = ln_error_set(LN_ECANCELLED, "cancelled during the tests");
	} else if (eng_tr_hit_limit(tr)) {
		json_t *h = sbx_hits_json(tr->hits & ~(unsigned)SBX_HIT_OUTPUT);
		char *s = json_dumps(h, JSON_COMPACT);
		if (eng_tr_base_within_limits(x, r)) {
			/* the candidate's doing: its tests did not pass (docs/rewards.md) */
			r->status = "failed";
			error = ln_error_set(LN_EGENERIC, "tests failed: they hit a limit (%s) that "
					     "the base's tests stay within", s ? s : "");
		} else {
			r->status = "limit";
			error = ln_error_set(LN_ESANDBOX, "the tests hit a limit: %s", s ? s : "");
		}
		free(s);
		json_decref(h);
	} else if (perror_) {
		r->status = "error";
		error = ln_error_set(LN_EINPUT, "%s", perr->data);
	} else if (!tr->exited || tr->exitcode != 0 || r->failed > 0 || (listed && !resolved)) {
		char st[96];
		sbx_result_status_str(tr, st, sizeof st);
		r->status = "failed";
		if (!tr->exited || tr->exitcode != 0 || r->failed > 0)
			error = ln_error_set(LN_EGENERIC, "tests failed (%zu failed, %zu error%s; "
					     "the test command %s)", r->failed - r->errors,
					     r->errors, r->errors == 1 ? "" : "s", st);
		else
			error = ln_error_set(LN_EGENERIC, "not resolved: %zu of the %zu "
					     "FAIL_TO_PASS/PASS_TO_PASS tests did not pass "
					     "(failed, skipped or missing)",
					     listed - listed_passed(r->outc), listed);
	}
	if (error)
		buf_addf(&r->msg, "%s", perror_ && !tr->cancelled &&
			 !eng_tr_hit_limit(tr) ? perr->data : ln_error_msg());
	return error;
}

/* The test command and its results. 0, or the code with r->status set. */
static int run_tests(struct tctx *x, struct rec *r)
{
	struct sbx_result *tr = &r->tr, *br = &r->br;
	enum sbx_format fmt;
	struct buf perr = BUF_INIT;
	json_t *counts;
	bool resolved = false;
	int error, perror_;

	/* a results file of an earlier run must not pass for this one */
	if (x->t->junit_path) {
		char *abs = NULL;
		if (ln_path_resolve_in_root(NULL, &abs, r->dir, r->dir, x->t->junit_path) == 0)
			unlink(abs);
		free(abs);
		ln_error_clear();
	}
	error = eng_tr_step(x, r->dir, x->t->test_argv, tr);
	r->ran_any = r->ran_any || error == 0;
	r->isolated = tr->isolated && r->isolated;
	if (!r->iso_note[0])
		snprintf(r->iso_note, sizeof r->iso_note, "%s", tr->iso_note);
	json_object_set_new(r->durations, "testMs", json_integer(tr->wall_ms));
	json_object_set_new(r->output, "test", xjson_pack("{s:o, s:o}",
		"stdout", eng_tr_tail_json(&tr->out, 4096), "stderr", eng_tr_tail_json(&tr->err, 4096)));
	json_object_set_new(r->vol, "cpuMs", json_integer(tr->cpu_ms + br->cpu_ms));
	json_object_set_new(r->vol, "uid", json_integer(tr->uid));
	json_object_set_new(r->vol, "maxRssKiB", json_integer(tr->max_rss_kib > br->max_rss_kib ?
							       tr->max_rss_kib : br->max_rss_kib));
	if (error) {
		r->status = "error";
		buf_addf(&r->msg, "test: %s", ln_error_msg());
		return error;
	}
	json_object_set_new(r->outc, "test", eng_tr_run_json(tr));
	counts = json_object();
	perror_ = parse_results(x, r->dir, tr, &r->tests, &fmt, &perr);
	sbx_tests_sort(&r->tests);
	/* with no per-test result, the exit status is the outcome (docs/rewards.md) */
	json_object_set_new(r->outc, "results", xjson_pack("{s:s, s:o, s:s}", "format",
		sbx_format_name(fmt), "error", perror_ ? json_string(perr.data) : json_null(),
		"outcomeFrom", r->tests.n ? "tests" : "exitStatus"));
	json_object_set_new(r->outc, "tests", sbx_tests_json(&r->tests));
	count_tests(&r->tests, counts, &r->failed, &r->errors);
	json_object_set_new(r->outc, "counts", counts);
	if (json_array_size(x->t->f2p) || json_array_size(x->t->p2p)) {
		json_t *flips = sbx_flips_json(&r->tests, x->t->f2p, x->t->p2p, &resolved);
		json_object_update(r->outc, flips);
		json_decref(flips);
	}
	error = judge_tests(x, r, resolved, perror_, &perr);
	buf_release(&perr);
	return error;
}

/* Status, isolation, the sandbox's environment digest, the volatile
 * fields; then the record is finished (its id computed). */
static int finish_record(struct tctx *x, struct rec *r, int error)
{
	const char *iso = !r->ran_any ? "n/a" : r->isolated ? "namespaces" : "none";
	json_t *digest_in;
	char d[LN_JSON_DIGEST_SIZE] = "";

	json_object_set_new(r->outc, "status", json_string(r->status));
	json_object_set_new(r->rec, "outcome", r->outc);
	r->outc = NULL;
	json_object_set_new(r->rec, "isolation", json_string(iso));
	digest_in = xjson_pack("{s:o, s:o, s:o, s:o, s:s}", "env", json_deep_copy(x->env_json),
		"limits", sbx_limits_json(&x->t->limits),
		"build", x->t->build_argv ? sbx_argv_json(x->t->build_argv) : json_null(),
		"test", sbx_argv_json(x->t->test_argv), "isolation", iso);
	ln_json_digest(d, digest_in);
	json_decref(digest_in);
	json_object_set_new(json_object_get(r->rec, "environment"), "sandbox",
			    xjson_pack("{s:s, s:o}", "digest", d, "env", json_deep_copy(x->env_json)));
	if (r->iso_note[0])
		json_object_set_new(r->vol, "isolationNote", json_string(r->iso_note));
	json_object_set_new(r->vol, "durationMs", r->durations);
	json_object_set_new(r->vol, "output", r->output);
	r->durations = r->output = NULL;
	{
		struct ln_error_state st;
		ln_error_capture(&st);
		if (ln_bundle_finish(r->rec, error, r->msg.len ? r->msg.data : NULL))
			eng_tr_note(x, "lanser: cannot finish the outcome record: %s", ln_error_msg());
		ln_error_restore(&st);
	}
	if (error)
		ln_error_set(error, "%s", r->msg.data);
	return error;
}

static void progress(const struct tctx *x, const struct sbx_candidate *cand, const char *phase)
{
	if (x->o->progress && cand && cand->id)
		x->o->progress(x->o->progress_ctx, cand->id, phase);
}

/* The phase that ends a candidate's test run: what happened, from the
 * record's status (docs/eval.md, "Progress"). */
static const char *done_phase(const char *status)
{
	static const char *const words[][2] = {
		{ "passed", "tests passed" }, { "failed", "tests failed" },
		{ "build-failed", "build failed" }, { "base-build-failed", "base build failed" },
		{ "patch-failed", "not applied" }, { "limit", "limit hit" },
		{ "cancelled", "cancelled" }, { "error", "test error" },
	};
	size_t i;

	for (i = 0; status && i < sizeof words / sizeof *words; i++)
		if (!strcmp(status, words[i][0]))
			return words[i][1];
	return "tested";
}

/*
 * Evaluates one candidate (or the workspace in place) in its worktree;
 * *out gets the outcome record. Returns the record's code.
 */
static int evaluate(struct tctx *x, size_t wt, const struct sbx_candidate *cand, bool reset,
		    json_t **out)
{
	struct rec r;
	int error = 0;

	memset(&r, 0, sizeof r);
	r.dir = x->candidates ? sbx_wt_path(x->wts, wt) : x->root;
	r.wt = wt;
	r.rec = ln_bundle_new("test");
	r.req = json_object_get(r.rec, "request");
	r.vol = json_object_get(json_object_get(r.rec, "meta"), "volatile");
	r.outc = json_object();
	r.durations = json_object();
	r.output = json_object();
	r.status = "passed";
	r.isolated = true;
	buf_init(&r.msg);
	sbx_result_init(&r.br);
	sbx_result_init(&r.tr);
	sbx_tests_init(&r.tests);

	record_request(x, &r, cand);
	if (cand && cand->patch_path) {
		r.patch = read_patch(cand->patch_path, &r.patch_len, &error);
		if (r.patch) {
			char hex[LN_SHA256_HEX_SIZE], digest[72];
			ln_sha256_hex(r.patch, r.patch_len, hex);
			snprintf(digest, sizeof digest, "sha256:%s", hex);
			json_object_set_new(r.req, "patch", xjson_pack("{s:s, s:I}", "sha256", digest,
								       "bytes", (json_int_t)r.patch_len));
		}
	}
	if (x->candidates && x->reuse && x->outputs[wt] == 0 && !error && !*x->cancel)
		eng_tr_prepare_outputs(x, wt, reset);
	if (x->candidates)
		error = apply_candidate(x, &r, wt, reset, error);
	if (!error && x->t->build_argv) {
		progress(x, cand, "building");
		error = eng_tr_run_build(x, &r, wt);
	}
	if (!error) {
		progress(x, cand, "testing");
		error = run_tests(x, &r);
	}
	error = finish_record(x, &r, error);
	progress(x, cand, done_phase(r.status));
	*out = r.rec;
	sbx_result_release(&r.br);
	sbx_result_release(&r.tr);
	sbx_tests_release(&r.tests);
	buf_release(&r.msg);
	free(r.patch);
	return error;
}

struct worker {
	struct tctx *x;
	size_t wt;
	pthread_t th;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct tctx *x = w->x;
	bool used = false;

	for (;;) {
		size_t k;
		pthread_mutex_lock(&x->q_lock);
		k = x->next++;
		pthread_mutex_unlock(&x->q_lock);
		if (k >= x->t->ncands)
			break;
		x->codes[k] = evaluate(x, w->wt, &x->t->cands[k], used, &x->records[k]);
		used = true;
		if (x->o->done)
			x->o->done(x->o->done_ctx, k, x->records[k]);
	}
	return NULL;
}

/* Whether this call keeps its worktrees for the next (o->keep). */
static bool keeps(const struct tctx *x)
{
	return x->o->keep && !x->reuse;
}

/* The candidates' worktrees: the kept ones when they serve (enough of
 * them, at this base, each reset to it), else new ones. */
static int take_worktrees(struct tctx *x, size_t jobs)
{
	struct sbx_wtset **keep = x->o->keep;
	char oid[41];
	size_t i = 0;

	if (keeps(x) && *keep && sbx_wt_count(*keep) >= jobs &&
	    eng_resolve_commit(oid, x->root, x->t->base) == 0) {
		sbx_wt_base(*keep, x->base_oid);
		if (!strcmp(oid, x->base_oid))
			for (i = 0; i < jobs && sbx_wt_reset(*keep, i) == 0; i++)
				;
		if (i == jobs && jobs > 0) {
			x->wts = *keep;
			*keep = NULL;
			return 0;
		}
	}
	ln_error_clear();
	if (keeps(x)) {
		sbx_wt_free(*keep);
		*keep = NULL;
	}
	return sbx_wt_create(&x->wts, x->root, x->t->base, jobs, x->base_oid);
}

int eng_test_run(struct sbx_task *t, const struct eng_test_opts *o, json_t **records_out)
{
	struct tctx x;
	volatile sig_atomic_t no_cancel = 0;
	size_t i, jobs, n;
	int error = 0;

	*records_out = NULL;
	memset(&x, 0, sizeof x);
	x.o = o;
	x.index_io = o->index_io;
	x.t = t;
	x.root = o->root;
	x.cancel = o->cancel ? o->cancel : &no_cancel;
	snprintf(x.config_digest, sizeof x.config_digest, "%s", o->config_digest);
	x.candidates = t->base || t->ncands > 0;
	if (!t->test_argv)
		return ln_error_set(LN_ECONFIG, "no test command");
	pthread_mutex_init(&x.git_lock, NULL);
	pthread_mutex_init(&x.q_lock, NULL);
	pthread_mutex_init(&x.base_lock, NULL);
	build_env(&x);

	/* a crashed earlier run may have left cgroups and worktrees */
	sbx_cgroup_prune();
	if (x.candidates) {
		int pruned = sbx_wt_prune(x.root);
		if (pruned > 0)
			eng_tr_note(&x, "lanser: note: pruned %d stale candidate worktree%s of an "
			     "earlier run", pruned, pruned == 1 ? "" : "s");
		if (!t->base)
			t->base = xstrdup("HEAD");
		if (t->ncands == 0) {
			/* --base alone: the base revision itself is the candidate */
			struct sbx_candidate *cd = xcalloc(1, sizeof *cd);
			cd->id = xstrdup("base");
			t->cands = cd;
			t->ncands = 1;
		}
	}
	n = x.candidates ? t->ncands : 1;
	x.records = xcalloc(n, sizeof *x.records);
	x.codes = xcalloc(n, sizeof *x.codes);
	x.outputs = xcalloc(n, sizeof *x.outputs);

	if (!x.candidates) {
		x.codes[0] = evaluate(&x, 0, NULL, false, &x.records[0]);
	} else {
		struct worker *w;
		jobs = o->jobs > 0 ? (size_t)o->jobs : 2;
		if (jobs > t->ncands)
			jobs = t->ncands;
		/* worth it when a worktree serves several candidates */
		x.reuse = t->build_argv && t->ncands > jobs && !getenv(ENG_NO_BUILD_REUSE_ENV);
		error = take_worktrees(&x, jobs);
		if (error)
			goto done;
		w = xcalloc(jobs, sizeof *w);
		for (i = 0; i < jobs; i++) {
			w[i].x = &x;
			w[i].wt = i;
			if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
				error = ln_error_set(LN_EGENERIC, "cannot start a worker thread");
				jobs = i;
				*x.cancel = 1;
				break;
			}
		}
		for (i = 0; i < jobs; i++)
			pthread_join(w[i].th, NULL);
		free(w);
		if (keeps(&x))
			*o->keep = x.wts;
		else
			sbx_wt_free(x.wts);
		x.wts = NULL;
		if (error)
			goto done;
	}
	*records_out = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(*records_out, x.records[i]);
		x.records[i] = NULL;
	}
done:
	for (i = 0; x.records && i < n; i++)
		json_decref(x.records[i]);
	free(x.records);
	free(x.codes);
	free(x.outputs);
	if (x.env) {
		for (i = 0; x.env[i]; i++)
			free(x.env[i]);
		free(x.env);
	}
	json_decref(x.env_json);
	pthread_mutex_destroy(&x.git_lock);
	pthread_mutex_destroy(&x.q_lock);
	pthread_mutex_destroy(&x.base_lock);
	json_decref(x.base_build_run);
	json_decref(x.base_limits_run);
	return error;
}
