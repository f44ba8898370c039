/*
 * serve_metrics.c - counters of `lanser serve` and their Prometheus text
 * exposition format 0.0.4 (docs/serve.md, "Metrics"). One mutex: updates
 * are a few per request.
 */
#include "agent/serve.h"

#include "core/buf.h"

#include <pthread.h>
#include <string.h>

static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
				  60, 120, 300 };
#define NBUCKETS (sizeof buckets / sizeof *buckets)
#define NSTATUS 7

static const int statuses[NSTATUS] = { 200, 400, 401, 404, 405, 413, 503 };
static const char *const ep_names[SRV_EP_COUNT] = { "get_reward", "score", "healthz", "readyz",
						    "metrics", "other" };
static const char *const why_names[SRV_WHY_COUNT] = { "test_timeout", "deadline", "engine",
						      "unknown_task", "shutdown", "other", "ls_crash",
						      "base" };

static struct {
	pthread_mutex_t lock;
	unsigned long long req[SRV_EP_COUNT][NSTATUS + 1];   /* last: any other status */
	unsigned long long hist[SRV_EP_COUNT][NBUCKETS];
	unsigned long long hist_count[SRV_EP_COUNT];
	double hist_sum[SRV_EP_COUNT];
	unsigned long long scored, unscorable[SRV_WHY_COUNT], rejected, restarts;
} m = { .lock = PTHREAD_MUTEX_INITIALIZER };

const char *srv_why_name(enum srv_why w)
{
	return w < SRV_WHY_COUNT ? why_names[w] : "other";
}

void srv_metrics_init(void)
{
	pthread_mutex_lock(&m.lock);
	memset(m.req, 0, sizeof m.req);
	memset(m.hist, 0, sizeof m.hist);
	memset(m.hist_count, 0, sizeof m.hist_count);
	memset(m.hist_sum, 0, sizeof m.hist_sum);
	m.scored = m.rejected = m.restarts = 0;
	memset(m.unscorable, 0, sizeof m.unscorable);
	pthread_mutex_unlock(&m.lock);
}

void srv_metrics_request(enum srv_endpoint ep, int status, double seconds)
{
	size_t i, k = NSTATUS;

	for (i = 0; i < NSTATUS; i++)
		if (statuses[i] == status)
			k = i;
	pthread_mutex_lock(&m.lock);
	m.req[ep][k]++;
	for (i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			m.hist[ep][i]++;
	m.hist_count[ep]++;
	m.hist_sum[ep] += seconds;
	pthread_mutex_unlock(&m.lock);
}

void srv_metrics_sample(bool scorable, enum srv_why why)
{
	pthread_mutex_lock(&m.lock);
	if (scorable)
		m.scored++;
	else
		m.unscorable[why < SRV_WHY_COUNT ? why : SRV_WHY_OTHER]++;
	pthread_mutex_unlock(&m.lock);
}

void srv_metrics_rejected(void)
{
	pthread_mutex_lock(&m.lock);
	m.rejected++;
	pthread_mutex_unlock(&m.lock);
}

void srv_metrics_ls_restart(void)
{
	pthread_mutex_lock(&m.lock);
	m.restarts++;
	pthread_mutex_unlock(&m.lock);
}

char *srv_metrics_render(void)
{
	struct buf b = BUF_INIT;
	int depth, qmax, workers, busy, engines;
	double busy_s;
	size_t e, i;

	srv_pool_gauges(&depth, &qmax, &workers, &busy, &busy_s, &engines);
	pthread_mutex_lock(&m.lock);
	buf_adds(&b, "# HELP lanser_requests_total HTTP requests answered, by endpoint and status.\n"
		     "# TYPE lanser_requests_total counter\n");
	for (e = 0; e < SRV_EP_COUNT; e++)
		for (i = 0; i <= NSTATUS; i++)
			if (m.req[e][i])
				buf_addf(&b, "lanser_requests_total{endpoint=\"%s\",code=\"%s%d\"} %llu\n",
					 ep_names[e], i < NSTATUS ? "" : "other",
					 i < NSTATUS ? statuses[i] : 0, m.req[e][i]);
	buf_adds(&b, "# HELP lanser_request_duration_seconds Time from a request's arrival to its "
		     "answer.\n# TYPE lanser_request_duration_seconds histogram\n");
	for (e = 0; e < SRV_EP_COUNT; e++) {
		if (!m.hist_count[e])
			continue;
		for (i = 0; i < NBUCKETS; i++)
			buf_addf(&b, "lanser_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} "
				 "%llu\n", ep_names[e], buckets[i], m.hist[e][i]);
		buf_addf(&b, "lanser_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n"
			 "lanser_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
			 "lanser_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
			 ep_names[e], m.hist_count[e], ep_names[e], m.hist_sum[e], ep_names[e],
			 m.hist_count[e]);
	}
	buf_addf(&b, "# HELP lanser_samples_scored_total Samples that got a reward.\n"
		 "# TYPE lanser_samples_scored_total counter\nlanser_samples_scored_total %llu\n",
		 m.scored);
	buf_adds(&b, "# HELP lanser_samples_unscorable_total Samples answered null, by reason.\n"
		     "# TYPE lanser_samples_unscorable_total counter\n");
	for (i = 0; i < SRV_WHY_COUNT; i++)
		buf_addf(&b, "lanser_samples_unscorable_total{reason=\"%s\"} %llu\n", why_names[i],
			 m.unscorable[i]);
	buf_addf(&b, "# HELP lanser_timeouts_total Samples past a deadline: the request's, or their "
		 "tests' wall-clock limit.\n# TYPE lanser_timeouts_total counter\n"
		 "lanser_timeouts_total %llu\n",
		 m.unscorable[SRV_WHY_DEADLINE] + m.unscorable[SRV_WHY_TEST_TIMEOUT]);
	buf_addf(&b, "# HELP lanser_rejected_total Requests refused with 503 because the queue was "
		 "full.\n# TYPE lanser_rejected_total counter\nlanser_rejected_total %llu\n",
		 m.rejected);
	buf_addf(&b, "# HELP lanser_queue_depth Jobs waiting for a worker.\n"
		 "# TYPE lanser_queue_depth gauge\nlanser_queue_depth %d\n"
		 "# HELP lanser_queue_capacity Jobs the queue holds at most.\n"
		 "# TYPE lanser_queue_capacity gauge\nlanser_queue_capacity %d\n"
		 "# HELP lanser_workers Worker threads.\n# TYPE lanser_workers gauge\n"
		 "lanser_workers %d\n"
		 "# HELP lanser_workers_busy Workers scoring now.\n# TYPE lanser_workers_busy gauge\n"
		 "lanser_workers_busy %d\n"
		 "# HELP lanser_worker_busy_seconds_total Time workers spent scoring (utilisation: "
		 "its rate over lanser_workers).\n# TYPE lanser_worker_busy_seconds_total counter\n"
		 "lanser_worker_busy_seconds_total %.3f\n", depth, qmax, workers, busy, busy_s);
	buf_addf(&b, "# HELP lanser_ls_restarts_total Language-server sets restarted after a "
		 "server crashed.\n# TYPE lanser_ls_restarts_total counter\n"
		 "lanser_ls_restarts_total %llu\n"
		 "# HELP lanser_engines Warm engines open (a worktree and its language servers "
		 "each).\n# TYPE lanser_engines gauge\nlanser_engines %d\n"
		 "# HELP lanser_ready Every task's language servers are warm.\n"
		 "# TYPE lanser_ready gauge\nlanser_ready %d\n", m.restarts, engines,
		 srv_pool_ready() ? 1 : 0);
	pthread_mutex_unlock(&m.lock);
	return buf_detach(&b, NULL);
}
