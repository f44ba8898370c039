/*
 * serve.h - the parts of `lanser serve` (docs/serve.md), the reward server
 * for GRPO trainers:
 *
 *   serve.c          the command: options, tasks.jsonl, listening address and
 *                    token, signals (TERM drains), start and stop
 *   serve_http.c     HTTP on libmicrohttpd (one thread per connection):
 *                    routes, body limits, bearer token, the JSON of
 *                    /get_reward and /score
 *   serve_pool.c     the bounded queue, the worker pool and the warm engines
 *                    of each task (engine/engine.h), deadlines
 *   serve_metrics.c  counters and the Prometheus text of /metrics
 *
 * Threads: connection threads parse a request into a srv_req, enqueue one
 * job per task it names and wait (up to the request's deadline) for the
 * workers. A worker takes a job, takes a free engine of the task (one
 * thread at a time per engine: engine.h; another is opened, up to
 * --engines-per-task, when all are busy), turns completions into patches
 * (engine/extract.h) and scores them with eng_eval_group(). A srv_req is
 * reference-counted: a worker may finish after the connection answered
 * (its deadline passed) and the results are then dropped.
 */
#ifndef LANSER_AGENT_SERVE_H
#define LANSER_AGENT_SERVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "engine/engine.h"

struct cli;
struct sockaddr;

/* ---- metrics (serve_metrics.c) ---- */

enum srv_endpoint { SRV_EP_GET_REWARD, SRV_EP_SCORE, SRV_EP_HEALTHZ, SRV_EP_READYZ,
		    SRV_EP_METRICS, SRV_EP_OTHER, SRV_EP_COUNT };

/* Why a sample has no reward (the label of lanser_samples_unscorable_total). */
enum srv_why { SRV_WHY_TEST_TIMEOUT, SRV_WHY_DEADLINE, SRV_WHY_ENGINE, SRV_WHY_UNKNOWN_TASK,
	       SRV_WHY_SHUTDOWN, SRV_WHY_OTHER, SRV_WHY_LS_CRASH, SRV_WHY_BASE, SRV_WHY_COUNT };

void srv_metrics_init(void);
void srv_metrics_request(enum srv_endpoint ep, int status, double seconds);
void srv_metrics_sample(bool scorable, enum srv_why why);
void srv_metrics_rejected(void);          /* 503: queue full */
void srv_metrics_ls_restart(void);
/* The Prometheus text (malloc'd); gauges read from the pool. */
char *srv_metrics_render(void);
const char *srv_why_name(enum srv_why w);

/* ---- the pool (serve_pool.c) ---- */

/* One warm engine of a task: a worktree of its base and its language
 * servers. Used by the worker that marked it busy, alone. */
struct srv_engine {
	struct eng *eng;             /* NULL until opened (or after a failure) */
	unsigned long crashes;       /* eng_server_crashes() when opened or checked */
	char open_error[300];        /* why the last open failed */
	bool busy;                   /* taken by a worker (under the task's lock) */
};

struct srv_task {
	char *id;
	char *base_name;             /* the base as the tasks file names it ("HEAD" when not) */
	char base_oid[41];           /* its commit, resolved once at start: s.task.base */
	struct eng_settings s;
	struct eng_opts o;
	pthread_mutex_t lock;        /* guards the busy flags of engines[] */
	pthread_cond_t cond;         /* an engine became free */
	/* engines_max slots, opened as the task's jobs overlap: jobs of one
	 * task run on distinct engines at once (--engines-per-task) */
	struct srv_engine *engines;
	int engines_max;
	bool warm;                   /* one engine was opened once (under P.lock) */
};

struct srv_sample {
	char id[72];
	char *text;                  /* the completion (owned) */
	size_t len;
	size_t task;                 /* index into the task table, or SIZE_MAX */
	bool done;
	struct eng_result res;       /* when done and have_res */
	bool have_res;
	enum srv_why why;            /* when done without a result */
	char reason[300];
};

struct srv_req {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* CLOCK_MONOTONIC */
	int refs;
	size_t pending;              /* jobs not yet finished */
	long long deadline;          /* ln_now_ms() value */
	struct srv_sample *s;
	size_t n;
	bool answered;               /* the connection has answered: drop results */
};

/* Starts `workers` threads and a bounded queue of `queue_max` jobs over the
 * tasks (borrowed for the pool's life). A thread opens every engine in the
 * background (readyz). */
int srv_pool_start(struct srv_task *tasks, size_t ntasks, int workers, int queue_max);
/* Stops taking jobs, lets the workers finish the queued ones, joins them
 * and closes the engines. */
void srv_pool_stop(void);
/* Every task's engine is open. */
bool srv_pool_ready(void);
void srv_pool_gauges(int *queue_depth, int *queue_max, int *workers, int *busy,
		     double *busy_seconds, int *engines);

struct srv_req *srv_req_new(size_t n);
void srv_req_unref(struct srv_req *r);
/* Enqueues one job per task named by the samples (samples without a task
 * are finished at once). 0, -1 when the queue has no room for them all now
 * (nothing enqueued: answer 503), -2 when they name more tasks than the
 * queue holds at all (answer 400). */
int srv_pool_submit(struct srv_req *r);
/* Waits until every job is done or the deadline passes; then marks the
 * request answered and marks every unfinished sample (deadline). Returns
 * with r->lock NOT held; the samples are stable afterwards. */
void srv_req_wait(struct srv_req *r, int deadline_ms);

/* ---- HTTP (serve_http.c) ---- */

struct srv_http_opts {
	const struct sockaddr *addr;
	bool ipv6;
	const char *token;           /* NULL: no token asked */
	size_t max_body;
	int conn_timeout_s;          /* idle connection timeout (slowloris) */
	int body_ms;                 /* a whole request body within this time */
	int max_conns;
	int deadline_ms;             /* default and ceiling of a request's deadline */
	struct srv_task *tasks;      /* to resolve labels */
	size_t ntasks;
	enum rwd_episode_mode emode;
};

int srv_http_start(const struct srv_http_opts *o, unsigned *port_out);
/* Stops accepting; requests still arriving are answered 503. */
void srv_http_quiesce(void);
/* Requests being answered now. */
int srv_http_inflight(void);
void srv_http_stop(void);

/* serve.c: notes on stderr, serialised. */
void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
