/*
 * serve_pool.c - the bounded queue, the workers and the warm engines of
 * `lanser serve` (agent/serve.h).
 *
 * Up to --engines-per-task engines per task: the first opened in the
 * background at start (so that /readyz can say when every task is warm),
 * the others when the task's jobs overlap (every open one busy), and kept:
 * their language servers stay warm between requests. An engine is used by
 * one thread at a time (engine/engine.h): a worker takes a free engine of
 * the task for one eng_eval_group() call (engine_take), so jobs of one
 * task run on distinct engines at once, and wait only when all of the
 * task's engines are busy. A task's
 * servers are checked before and after every job (eng_check_servers): when
 * one died, or the engine is broken, the engine is closed and opened again
 * (lanser_ls_restarts_total), and a job it failed is scored once more.
 */
#include "agent/serve.h"

#include "core/err.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "engine/extract.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
	struct srv_req *req;
	size_t task;
	struct job *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, **tail;
	int depth, max;
	bool stopping;
	pthread_t *threads;
	int nthreads, busy;
	double busy_s;
	pthread_t warmer;
	bool have_warmer;
	struct srv_task *tasks;
	size_t ntasks;
	size_t nwarm;
	int nengines;                /* open engines, all tasks */
} P = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* ---- requests ---- */

struct srv_req *srv_req_new(size_t n)
{
	struct srv_req *r = xcalloc(1, sizeof *r);
	pthread_condattr_t ca;

	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->refs = 1;
	r->n = n;
	r->s = xcalloc(n ? n : 1, sizeof *r->s);
	return r;
}

void srv_req_unref(struct srv_req *r)
{
	size_t i;
	int left;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	left = --r->refs;
	pthread_mutex_unlock(&r->lock);
	if (left)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->s[i].text);
		if (r->s[i].have_res)
			eng_result_release(&r->s[i].res);
	}
	free(r->s);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Marks sample i done without a result (r->lock held). */
static void sample_fail(struct srv_sample *s, enum srv_why why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void sample_fail(struct srv_sample *s, enum srv_why why, const char *fmt, ...)
{
	va_list ap;

	if (s->done)
		return;
	s->done = true;
	s->why = why;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof s->reason, fmt, ap);
	va_end(ap);
}

int srv_pool_submit(struct srv_req *r)
{
	bool *named = xcalloc(P.ntasks ? P.ntasks : 1, sizeof *named);
	size_t i, njobs = 0;
	int error = 0;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n; i++) {
		if (r->s[i].task == SIZE_MAX)
			continue;
		if (!named[r->s[i].task])
			njobs++;
		named[r->s[i].task] = true;
	}
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_lock(&P.lock);
	if ((int)njobs > P.max) {
		error = -2;          /* never fits: not worth a retry */
	} else if (P.stopping || P.depth + (int)njobs > P.max) {
		error = -1;
	} else {
		for (i = 0; i < P.ntasks; i++) {
			struct job *j;
			if (!named[i])
				continue;
			j = xcalloc(1, sizeof *j);
			j->req = r;
			j->task = i;
			*P.tail = j;
			P.tail = &j->next;
			P.depth++;
		}
		pthread_mutex_lock(&r->lock);
		r->refs += (int)njobs;
		r->pending = njobs;
		pthread_mutex_unlock(&r->lock);
		pthread_cond_broadcast(&P.cond);
	}
	pthread_mutex_unlock(&P.lock);
	free(named);
	return error;
}

static void timespec_at(struct timespec *ts, long long ms_from_now)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms_from_now / 1000;
	ts->tv_nsec += (ms_from_now % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void srv_req_wait(struct srv_req *r, int deadline_ms)
{
	struct timespec ts;
	size_t i;

	timespec_at(&ts, deadline_ms);
	pthread_mutex_lock(&r->lock);
	while (r->pending > 0)
		if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT)
			break;
	r->answered = true;
	for (i = 0; i < r->n; i++)
		sample_fail(&r->s[i], SRV_WHY_DEADLINE, "deadline: not scored within the request's "
			    "%d ms", deadline_ms);
	pthread_mutex_unlock(&r->lock);
}

/* ---- engines ---- */

static void engine_note(void *ctx, const char *text)
{
	const struct srv_task *t = ctx;
	srv_log("task %s: %s", t->id, text);
}

/* Whether engine slot x of task t lost a language server (or can no
 * longer put its base back) since it was opened or last checked: then it is
 * closed, and counted as a restart (slot_engine opens it again). The
 * caller holds the slot (x->busy). */
static bool engine_lost(struct srv_task *t, struct srv_engine *x)
{
	const char *broken;

	if (!x->eng)
		return false;
	eng_check_servers(x->eng);
	broken = eng_broken(x->eng);
	if (eng_server_crashes(x->eng) == x->crashes && !broken)
		return false;
	srv_log("task %s: %s: restarting the servers of engine %d", t->id,
		broken ? broken : "a language server died", (int)(x - t->engines) + 1);
	eng_close(x->eng);
	x->eng = NULL;
	pthread_mutex_lock(&P.lock);
	P.nengines--;
	pthread_mutex_unlock(&P.lock);
	srv_metrics_ls_restart();
	return true;
}

/* The engine of slot x, opened (again) when needed; the caller holds the
 * slot. */
static struct eng *slot_engine(struct srv_task *t, struct srv_engine *x)
{
	int error;

	engine_lost(t, x);
	if (x->eng)
		return x->eng;
	error = eng_open(&x->eng, &t->o);
	if (error) {
		snprintf(x->open_error, sizeof x->open_error, "%s", ln_error_msg());
		srv_log("task %s: cannot open an engine: %s", t->id, x->open_error);
		x->eng = NULL;
		return NULL;
	}
	x->crashes = eng_server_crashes(x->eng);
	x->open_error[0] = '\0';
	pthread_mutex_lock(&P.lock);
	P.nengines++;
	pthread_mutex_unlock(&P.lock);
	return x->eng;
}

/* Task t has scored with, or warmed, an engine: /readyz counts it. */
static void mark_warm(struct srv_task *t)
{
	pthread_mutex_lock(&P.lock);
	if (!t->warm) {
		t->warm = true;
		P.nwarm++;
	}
	pthread_mutex_unlock(&P.lock);
}

/* Takes an engine slot of task t for one job, waiting while all are busy:
 * a free open engine first (warm servers), else a free slot never opened
 * (or closed after a crash) that the caller opens: a second engine costs
 * a worktree and a server start, paid only when the task's jobs overlap. */
static struct srv_engine *engine_take(struct srv_task *t)
{
	struct srv_engine *x = NULL;
	int i;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		for (i = 0; i < t->engines_max && !x; i++)
			if (!t->engines[i].busy && t->engines[i].eng)
				x = &t->engines[i];
		for (i = 0; i < t->engines_max && !x; i++)
			if (!t->engines[i].busy)
				x = &t->engines[i];
		if (x)
			break;
		pthread_cond_wait(&t->cond, &t->lock);
	}
	x->busy = true;
	pthread_mutex_unlock(&t->lock);
	return x;
}

static void engine_give(struct srv_task *t, struct srv_engine *x)
{
	pthread_mutex_lock(&t->lock);
	x->busy = false;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void *warm_main(void *arg)
{
	size_t i;
	(void)arg;
	for (i = 0; i < P.ntasks; i++) {
		struct srv_task *t = &P.tasks[i];
		struct srv_engine *x;
		pthread_mutex_lock(&P.lock);
		if (P.stopping) {
			pthread_mutex_unlock(&P.lock);
			break;
		}
		pthread_mutex_unlock(&P.lock);
		x = engine_take(t);
		/* warm means the servers run and have indexed the base, not
		 * only that the worktree exists: /readyz says so only then,
		 * and the first sample does not pay the servers' start */
		if (slot_engine(t, x)) {
			if (!eng_warm(x->eng, t->o.index_ms > 0 ? t->o.index_ms : 120000))
				srv_log("task %s: the language servers were not ready in time", t->id);
			mark_warm(t);
		}
		engine_give(t, x);
	}
	/* The servers started here die with the thread that started them
	 * (PR_SET_PDEATHSIG follows the creating thread, not the process):
	 * this thread lives as long as the workers. */
	pthread_mutex_lock(&P.lock);
	while (!P.stopping)
		pthread_cond_wait(&P.cond, &P.lock);
	pthread_mutex_unlock(&P.lock);
	return NULL;
}

bool srv_pool_ready(void)
{
	bool ready;
	pthread_mutex_lock(&P.lock);
	ready = P.ntasks > 0 && P.nwarm == P.ntasks;
	pthread_mutex_unlock(&P.lock);
	return ready;
}

/* ---- one job: the samples of one request for one task ---- */

static void run_job(struct job *j)
{
	struct srv_req *r = j->req;
	struct srv_task *t = &P.tasks[j->task];
	struct eng_base_reader *base = NULL;
	struct eng_candidate *ec = NULL;
	struct eng_extract *ex = NULL;
	struct eng_result *res = NULL;
	size_t *idx = NULL, n = 0, i;
	struct srv_engine *x;
	struct eng *e;
	char open_error[300] = "";
	bool crashed = false;
	int error;

	pthread_mutex_lock(&r->lock);
	if (r->answered || ln_now_ms() > r->deadline) {
		for (i = 0; i < r->n; i++)
			if (r->s[i].task == j->task)
				sample_fail(&r->s[i], SRV_WHY_DEADLINE, "deadline: the request's "
					    "deadline passed while it waited in the queue");
		pthread_mutex_unlock(&r->lock);
		goto done;
	}
	idx = xcalloc(r->n, sizeof *idx);
	for (i = 0; i < r->n; i++)
		if (r->s[i].task == j->task)
			idx[n++] = i;
	pthread_mutex_unlock(&r->lock);

	/* the texts are the request's and never change: read without the lock */
	ec = xcalloc(n, sizeof *ec);
	ex = xcalloc(n, sizeof *ex);
	res = xcalloc(n, sizeof *res);
	if (eng_base_reader_open(&base, t->s.root, t->s.task.base))
		base = NULL;
	for (i = 0; i < n; i++) {
		const struct srv_sample *s = &r->s[idx[i]];
		eng_extract_patch(&ex[i], s->text, s->len, base ? eng_base_reader_read : NULL, base);
		ec[i].id = s->id;
		ec[i].patch = ex[i].patch;
		ec[i].len = ex[i].len;
		ec[i].format_note = ex[i].patch ? NULL : ex[i].note;
	}
	eng_base_reader_free(base);

	x = engine_take(t);
	e = slot_engine(t, x);
	error = e ? eng_eval_group(e, ec, n, res) : LN_ESANDBOX;
	/* A server that died under this job failed some of its samples
	 * ("clangd exited ..."), not because of them: the engine is reopened
	 * and the job scored once more while the request has time. A second
	 * loss (a completion that crashes the server every time) stands: those
	 * samples are null with reason ls_crash. */
	if (e && engine_lost(t, x)) {
		crashed = true;
		if (!error && ln_now_ms() < r->deadline) {
			for (i = 0; i < n; i++)
				eng_result_release(&res[i]);
			memset(res, 0, n * sizeof *res);
			e = slot_engine(t, x);
			error = e ? eng_eval_group(e, ec, n, res) : LN_ESANDBOX;
			crashed = e && engine_lost(t, x);
		}
	}
	if (!e)
		snprintf(open_error, sizeof open_error, "%s", x->open_error);
	else
		mark_warm(t);
	engine_give(t, x);

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < n; i++) {
		struct srv_sample *s = &r->s[idx[i]];
		if (!e) {
			sample_fail(s, SRV_WHY_ENGINE, "engine: %s", open_error);
		} else if (error) {
			sample_fail(s, error == LN_ECANCELLED ? SRV_WHY_SHUTDOWN : SRV_WHY_ENGINE,
				    "engine: %s", ln_error_msg());
		} else if (r->answered || s->done) {
			eng_result_release(&res[i]);
		} else {
			s->res = res[i];
			s->have_res = true;
			s->done = true;
			if (!res[i].ep.scorable && crashed) {
				s->why = SRV_WHY_LS_CRASH;
				snprintf(s->reason, sizeof s->reason, "a language server died while "
					 "scoring (restarted: retry the sample): %s",
					 res[i].ep.reason);
			} else if (!res[i].ep.scorable) {
				s->why = strstr(res[i].ep.reason, "wall") ? SRV_WHY_TEST_TIMEOUT
									   : SRV_WHY_OTHER;
				snprintf(s->reason, sizeof s->reason, "%s", res[i].ep.reason);
			}
		}
	}
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < n; i++)
		eng_extract_release(&ex[i]);
done:
	free(ec);
	free(ex);
	free(res);
	free(idx);
	pthread_mutex_lock(&r->lock);
	r->pending--;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	srv_req_unref(r);
}

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct job *j;
		long long t0;
		pthread_mutex_lock(&P.lock);
		while (!P.head && !P.stopping)
			pthread_cond_wait(&P.cond, &P.lock);
		if (!P.head) {
			pthread_mutex_unlock(&P.lock);
			return NULL;
		}
		j = P.head;
		P.head = j->next;
		if (!P.head)
			P.tail = &P.head;
		P.depth--;
		P.busy++;
		pthread_mutex_unlock(&P.lock);
		t0 = ln_now_ms();
		run_job(j);
		free(j);
		pthread_mutex_lock(&P.lock);
		P.busy--;
		P.busy_s += (double)(ln_now_ms() - t0) / 1000.0;
		pthread_mutex_unlock(&P.lock);
	}
}

int srv_pool_start(struct srv_task *tasks, size_t ntasks, int workers, int queue_max)
{
	int i;

	size_t k;

	P.tasks = tasks;
	P.ntasks = ntasks;
	P.nwarm = 0;
	P.nengines = 0;
	for (k = 0; k < ntasks; k++) {
		struct srv_task *t = &tasks[k];
		if (t->engines_max < 1)
			t->engines_max = 1;
		t->engines = xcalloc((size_t)t->engines_max, sizeof *t->engines);
		t->o.note = engine_note;
		t->o.note_ctx = t;
		t->o.settings = &t->s;
	}
	P.head = NULL;
	P.tail = &P.head;
	P.max = queue_max;
	P.stopping = false;
	P.threads = xcalloc((size_t)workers, sizeof *P.threads);
	for (i = 0; i < workers; i++) {
		if (pthread_create(&P.threads[i], NULL, worker_main, NULL))
			return ln_error_set(LN_EGENERIC, "cannot start worker threads: %s",
					    strerror(errno));
		P.nthreads++;
	}
	if (pthread_create(&P.warmer, NULL, warm_main, NULL) == 0)
		P.have_warmer = true;
	return 0;
}

void srv_pool_stop(void)
{
	size_t i;
	int k;

	pthread_mutex_lock(&P.lock);
	P.stopping = true;
	pthread_cond_broadcast(&P.cond);
	pthread_mutex_unlock(&P.lock);
	for (k = 0; k < P.nthreads; k++)
		pthread_join(P.threads[k], NULL);
	/* after the workers: the servers it started serve their last jobs */
	if (P.have_warmer)
		pthread_join(P.warmer, NULL);
	P.have_warmer = false;
	free(P.threads);
	P.threads = NULL;
	P.nthreads = 0;
	for (i = 0; i < P.ntasks; i++) {
		for (k = 0; k < P.tasks[i].engines_max; k++)
			eng_close(P.tasks[i].engines[k].eng);
		free(P.tasks[i].engines);
		P.tasks[i].engines = NULL;
	}
	P.nengines = 0;
}

void srv_pool_gauges(int *queue_depth, int *queue_max, int *workers, int *busy,
		     double *busy_seconds, int *engines)
{
	pthread_mutex_lock(&P.lock);
	*queue_depth = P.depth;
	*queue_max = P.max;
	*workers = P.nthreads;
	*busy = P.busy;
	*busy_seconds = P.busy_s;
	*engines = P.nengines;
	pthread_mutex_unlock(&P.lock);
}
