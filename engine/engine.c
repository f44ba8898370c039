/*
 * engine.c - the evaluation engine's object and its calls (engine/engine.h):
 * open (the base worktree and its servers), one call over a group of
 * candidates (diffs in memory, tests in a thread of their own, the
 * diagnostics passes one candidate at a time, scoring), close.
 */
#include "engine/internal.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/proc.h"
#include "core/state.h"
#include "core/xalloc.h"
#include "engine/testrun.h"
#include "lsp/workspace.h"
#include "sandbox/worktree.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void eng_note(const struct eng *e, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (!e->o.note)
		return;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	e->o.note(e->o.note_ctx, b.data);
	buf_release(&b);
}

bool eng_cancelled(const struct eng *e)
{
	return e->o.cancel && *e->o.cancel;
}

int eng_open(struct eng **out, const struct eng_opts *opts)
{
	struct eng *e;
	int error;

	*out = NULL;
	if (!opts->settings || !opts->settings->task.base || !opts->settings->root)
		return ln_error_set(LN_EUSAGE, "the evaluation engine needs settings with a base "
				    "revision (ENG_CONFIG_BASE)");
	e = xcalloc(1, sizeof *e);
	e->o = *opts;
	e->s = opts->settings;
	e->servers_cfg = e->s->servers ? json_deep_copy(e->s->servers) : json_object();
	e->servers_env = json_array();
	e->before_cache = json_object();
	e->after_hash = json_object();
	e->refs_cache = json_object();
	e->private_cache = json_object();
	error = eng_base_setup(e);
	if (error) {
		struct ln_error_state st;
		ln_error_capture(&st);
		eng_close(e);
		return ln_error_restore(&st);
	}
	*out = e;
	return 0;
}

void eng_close(struct eng *e)
{
	if (!e)
		return;
	lsp_workspace_free(e->ws);
	sbx_wt_free(e->test_wts);
	sbx_wt_free(e->wts);
	free(e->wt);
	json_decref(e->servers_cfg);
	json_decref(e->servers_env);
	json_decref(e->before_cache);
	json_decref(e->after_hash);
	json_decref(e->refs_cache);
	json_decref(e->private_cache);
	free(e);
}

const char *eng_base_oid(const struct eng *e)
{
	return e->base_oid;
}

const char *eng_worktree(const struct eng *e)
{
	return e->wt;
}

int eng_warm(struct eng *e, int timeout_ms)
{
	if (!e || !e->ws)
		return 0;
	lsp_workspace_warm(e->ws);
	return lsp_workspace_wait_all_ready(e->ws, timeout_ms);
}

unsigned long eng_server_crashes(const struct eng *e)
{
	return e && e->ws ? lsp_workspace_crashes(e->ws) : 0;
}

int eng_check_servers(struct eng *e)
{
	if (!e || !e->ws)
		return 0;
	/* a dead server's pipe is at EOF: the pump gives its session the sticky
	 * error the reap looks for */
	lsp_workspace_pump(e->ws);
	return lsp_workspace_reap(e->ws);
}

const char *eng_broken(const struct eng *e)
{
	return e && e->broken[0] ? e->broken : NULL;
}

void eng_timings(const struct eng *e, long long *diag_ms, long long *tests_ms)
{
	*diag_ms = e->t_diag_ms;
	*tests_ms = e->t_tests_ms;
}

void eng_result_release(struct eng_result *r)
{
	free(r->id);
	json_decref(r->bundle);
	json_decref(r->reasons);
	json_decref(r->introduced);
	json_decref(r->relevant);
	json_decref(r->record);
	memset(r, 0, sizeof *r);
}

static void cand_init(struct eng_cand *cd, const struct eng_candidate *c)
{
	memset(cd, 0, sizeof *cd);
	cd->r.id = xstrdup(c->id);
	cd->r.complete = true;
	cd->r.reasons = json_array();
	cd->r.reward = NAN;
	if (c->format_note)
		snprintf(cd->r.format_note, sizeof cd->r.format_note, "%s", c->format_note);
	cd->patch = c->patch;
	cd->len = c->patch ? c->len : 0;
	sbx_edits_init(&cd->e);
}

static void cand_release(struct eng_cand *cd)
{
	eng_result_release(&cd->r);
	free(cd->patch_file);
	sbx_edits_release(&cd->e);
	json_decref(cd->arrived);
	json_decref(cd->before);
	json_decref(cd->after);
}

/* The diffs, in memory against the base: R_format. */
static void parse_diffs(struct eng *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		struct eng_cand *cd = &e->v[i];
		struct eng_result *r = &cd->r;
		if (!cd->patch) {
			r->apply_code = LN_EINPUT;
			continue;
		}
		r->apply_code = sbx_edits_from_diff(&cd->e, e->wt, cd->patch, cd->len);
		if (!r->apply_code && cd->e.n == 0)
			r->apply_code = ln_error_set(LN_EINPUT, "the patch changes no file");
		if (r->apply_code) {
			snprintf(r->apply_msg, sizeof r->apply_msg, "%s", ln_error_msg());
			if (!r->format_note[0])
				snprintf(r->format_note, sizeof r->format_note, "%s: %s",
					 ln_err_name(r->apply_code), ln_error_msg());
		}
		r->usable = r->apply_code == 0;
		ln_error_clear();
	}
}

/* Writes every usable candidate's patch bytes to the call's temporary
 * folder (the tests apply them in worktrees of their own). */
static int stage_patches(struct eng *e)
{
	struct buf b = BUF_INIT;
	char *state = NULL;
	size_t i;
	int error;

	error = ln_state_workspace_dir(&state, e->s->root);
	if (error)
		return error;
	buf_addf(&b, "%s/eval-%ld-XXXXXX", state, (long)getpid());
	free(state);
	if (!mkdtemp(b.data)) {
		error = ln_error_set(LN_ESANDBOX, "cannot create %s: %s", b.data, strerror(errno));
		buf_release(&b);
		return error;
	}
	e->tmpdir = buf_detach(&b, NULL);
	for (i = 0; i < e->n; i++) {
		struct eng_cand *cd = &e->v[i];
		int fd;
		if (!cd->r.usable)
			continue;
		buf_reset(&b);
		buf_addf(&b, "%s/%zu.diff", e->tmpdir, i);
		fd = open(b.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || ln_write_all(fd, cd->patch, cd->len) < 0) {
			error = ln_error_set(LN_ESANDBOX, "cannot write %s: %s", b.data,
					     strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		close(fd);
		cd->patch_file = buf_detach(&b, NULL);
	}
	buf_release(&b);
	return error;
}

/* A candidate's record, from a test worker: handed to the scoring thread. */
static void test_done(void *ctx, size_t k, json_t *record)
{
	struct eng *e = ctx;

	pthread_mutex_lock(&e->lock);
	if (k < e->ntests && record) {
		struct eng_cand *cd = &e->v[e->test_map[k]];
		json_decref(cd->arrived);
		cd->arrived = json_incref(record);
		cd->tested = true;
		pthread_cond_broadcast(&e->cond);
	}
	pthread_mutex_unlock(&e->lock);
}

/* The tests of every usable candidate (in a thread of their own, while the
 * diagnostics run): the settings' task with these candidates. */
static void *tests_main(void *arg)
{
	struct eng *e = arg;
	struct sbx_task t = e->s->task;   /* a shallow copy: only cands differ */
	struct eng_test_opts o;
	size_t i, n = 0;
	long long t0 = ln_now_ms();

	t.cands = xcalloc(e->n + 1, sizeof *t.cands);
	for (i = 0; i < e->n; i++) {
		if (!e->v[i].r.usable)
			continue;
		t.cands[n].id = e->v[i].r.id;
		t.cands[n].patch_path = e->v[i].patch_file;
		e->test_map[n] = i;
		n++;
	}
	t.ncands = n;
	e->ntests = n;
	e->records = NULL;
	e->tests_code = 0;
	if (n > 0) {
		memset(&o, 0, sizeof o);
		o.root = e->s->root;
		o.config_digest = e->s->digest;
		o.index_io = e->o.index_io;
		o.jobs = e->o.jobs > 0 ? e->o.jobs : 2;
		o.cancel = e->o.cancel;
		o.progress = e->o.progress;
		o.progress_ctx = e->o.progress_ctx;
		o.done = test_done;
		o.done_ctx = e;
		o.keep = &e->test_wts;
		e->tests_code = eng_test_run(&t, &o, &e->records);
		if (e->tests_code)
			snprintf(e->tests_msg, sizeof e->tests_msg, "%s", ln_error_msg());
	}
	free(t.cands);
	e->t_tests_ms = ln_now_ms() - t0;
	pthread_mutex_lock(&e->lock);
	e->tests_over = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* A candidate the engine cannot diagnose any more: the base is damaged. */
static bool mark_broken(struct eng *e, struct eng_cand *cd)
{
	if (!e->broken[0])
		return false;
	cd->diag_code = LN_ESANDBOX;
	snprintf(cd->diag_msg, sizeof cd->diag_msg, "%s", e->broken);
	return true;
}

static void progress(struct eng *e, const struct eng_cand *cd, const char *phase)
{
	if (e->o.progress)
		e->o.progress(e->o.progress_ctx, cd->r.id, phase);
}

/* A candidate's rewards, verdict and bundle, reported at once. */
static void score_one(struct eng *e, struct eng_cand *cd, size_t i)
{
	eng_score(e, cd);
	eng_judge(e, cd);
	if (e->o.patch_error_is_code && !cd->r.usable)
		cd->r.code = cd->r.apply_code;
	eng_make_bundle(e, cd);
	cd->scored = true;
	progress(e, cd, cd->r.ep.scorable ? "scored" : "unscorable");
	if (e->o.result)
		e->o.result(e->o.result_ctx, i, &cd->r);
}

/* Scores every candidate whose diagnostics and tests are done (a usable
 * one whose record never came: once the tests are over); with `wait`,
 * until every candidate is scored or the call is cancelled. */
static void score_ready(struct eng *e, bool wait)
{
	for (;;) {
		size_t i, found = e->n, left;
		pthread_mutex_lock(&e->lock);
		for (;;) {
			for (i = 0, left = 0; i < e->n && found == e->n; i++) {
				struct eng_cand *cd = &e->v[i];
				if (cd->scored)
					continue;
				left++;
				if (cd->diag_done && (!cd->r.usable || cd->tested || e->tests_over))
					found = i;
			}
			if (found < e->n || !left || !wait || eng_cancelled(e))
				break;
			pthread_cond_wait(&e->cond, &e->lock);
		}
		if (found < e->n) {
			e->v[found].r.record = e->v[found].arrived;
			e->v[found].arrived = NULL;
		}
		pthread_mutex_unlock(&e->lock);
		if (found == e->n || eng_cancelled(e))
			return;
		score_one(e, &e->v[found], found);
	}
}

/* The two diagnostics passes: before for every candidate (at the base,
 * before any candidate's text reaches a server), then after, one
 * candidate at a time (a server has one view of a file). */
static void diagnose(struct eng *e)
{
	long long t0 = ln_now_ms();
	size_t i;

	for (i = 0; i < e->n; i++) {
		struct eng_cand *cd = &e->v[i];
		if (!cd->r.usable || eng_cancelled(e) || mark_broken(e, cd))
			continue;
		cd->diag_code = eng_diag_before(e, cd);
		if (cd->diag_code) {
			snprintf(cd->diag_msg, sizeof cd->diag_msg, "%s", ln_error_msg());
			ln_error_clear();
		}
	}
	for (i = 0; i < e->n; i++) {
		struct eng_cand *cd = &e->v[i];
		if (cd->r.usable && !cd->diag_code && !eng_cancelled(e) && !mark_broken(e, cd)) {
			cd->diag_code = eng_diag_after(e, cd);
			progress(e, cd, "diagnosed");
			if (cd->diag_code) {
				snprintf(cd->diag_msg, sizeof cd->diag_msg, "%s", ln_error_msg());
				ln_error_clear();
				if (eng_restore_base(e, cd))
					ln_error_clear();   /* e->broken says why */
			}
		}
		pthread_mutex_lock(&e->lock);
		cd->diag_done = true;
		pthread_mutex_unlock(&e->lock);
		score_ready(e, false);   /* whoever's tests are already done */
	}
	e->t_diag_ms = ln_now_ms() - t0;
}

/* Diffs, tests (threaded) and diagnostics of the call's candidates; the
 * outcome records handed to the candidates in order. */
static int run(struct eng *e)
{
	pthread_t th;
	bool threaded = false;
	size_t i;
	int error;

	parse_diffs(e);
	for (i = 0; i < e->n; i++)
		progress(e, &e->v[i], e->v[i].r.usable ? "applied" :
			 e->v[i].r.apply_code == LN_EINPUT ? "not a patch" : "not applied");
	e->records = NULL;
	e->tests_code = 0;
	if (e->no_tests) {
		e->tests_over = true;   /* eng_diagnose: no record will come */
	} else {
		error = stage_patches(e);
		if (error)
			return error;
		if (pthread_create(&th, NULL, tests_main, e) == 0)
			threaded = true;
		else
			tests_main(e);
	}
	diagnose(e);
	score_ready(e, true);    /* the rest, as their tests finish */
	if (threaded)
		pthread_join(th, NULL);
	if (eng_cancelled(e))
		return ln_error_set(LN_ECANCELLED, "cancelled");
	return 0;
}

/* The results in the candidates' order; their trace events too (a trace
 * does not depend on which test finished first). */
static void take_results(struct eng *e, struct eng_result *results)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		struct eng_cand *cd = &e->v[i];
		eng_trace_candidate(e, cd);
		results[i] = cd->r;
		memset(&cd->r, 0, sizeof cd->r);
	}
}

int eng_eval_group(struct eng *e, const struct eng_candidate *cands, size_t n,
		   struct eng_result *results)
{
	struct ln_error_state st;
	size_t i;
	int error;

	if (n > ENG_MAX_CANDIDATES)
		return ln_error_set(LN_EUSAGE, "at most %d candidates", ENG_MAX_CANDIDATES);
	for (i = 0; i < n; i++)
		if (!cands[i].id || !*cands[i].id)
			return ln_error_set(LN_EUSAGE, "candidate %zu has no id", i + 1);
	e->started = ln_now_ms();
	e->v = xcalloc(n ? n : 1, sizeof *e->v);
	e->n = n;
	e->t_diag_ms = e->t_tests_ms = 0;
	e->test_map = xcalloc(n ? n : 1, sizeof *e->test_map);
	e->ntests = 0;
	e->tests_over = false;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	for (i = 0; i < n; i++)
		cand_init(&e->v[i], &cands[i]);
	error = run(e);
	if (!error)
		take_results(e, results);
	ln_error_capture(&st);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e->test_map);
	e->test_map = NULL;
	for (i = 0; i < n; i++)
		cand_release(&e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
	if (e->tmpdir) {
		sbx_rmtree(e->tmpdir);
		free(e->tmpdir);
		e->tmpdir = NULL;
	}
	json_decref(e->records);
	e->records = NULL;
	return error ? ln_error_restore(&st) : 0;
}

int eng_eval(struct eng *e, const struct eng_candidate *cand, struct eng_result *result)
{
	return eng_eval_group(e, cand, 1, result);
}

int eng_diagnose(struct eng *e, const struct eng_candidate *cand, struct eng_result *result)
{
	int error;

	e->no_tests = true;
	error = eng_eval_group(e, cand, 1, result);
	e->no_tests = false;
	return error;
}
