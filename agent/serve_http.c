/*
 * serve_http.c - the HTTP side of `lanser serve` on libmicrohttpd
 * (agent/serve.h; docs/serve.md, "API").
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION): a scoring
 * request blocks its own thread until its jobs are done or its deadline
 * passes, never the others. Limits on what a client can hold: connections
 * (--max-connections), an idle timeout per connection (slowloris), a
 * deadline for a whole body, the body size (413: by Content-Length before
 * reading, or as it grows), the queue (503 with Retry-After).
 */
#include "agent/serve.h"

#include "agent/eval.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "rewards/advantage.h"

#include <math.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SRV_MAX_SAMPLES 4096

static struct {
	struct MHD_Daemon *d;
	struct srv_http_opts o;
	pthread_mutex_t lock;
	int inflight;
	bool quiescing;
} H = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct conn {
	enum srv_endpoint ep;
	long long t0;
	struct buf body;
	bool too_big, counted;
};

/* ---- answers ---- */

static enum MHD_Result answer(struct MHD_Connection *mc, struct conn *cn, int status,
			      const char *type, char *data, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", "1");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	if (status == 413 || status == 503)
		MHD_add_response_header(r, "Connection", "close");
	ret = MHD_queue_response(mc, (unsigned)status, r);
	MHD_destroy_response(r);
	srv_metrics_request(cn->ep, status, (double)(ln_now_ms() - cn->t0) / 1000.0);
	return ret;
}

static enum MHD_Result answer_json(struct MHD_Connection *mc, struct conn *cn, int status,
				   json_t *v)
{
	char *s = jcs_dumps(v);
	size_t n;

	json_decref(v);
	if (!s)
		s = xstrdup("{}");
	n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n++] = '\n';
	s[n] = '\0';
	return answer(mc, cn, status, "application/json", s, n);
}

static enum MHD_Result answer_error(struct MHD_Connection *mc, struct conn *cn, int status,
				    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result answer_error(struct MHD_Connection *mc, struct conn *cn, int status,
				    const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	json_t *v;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	v = xjson_pack("{s:o, s:b}", "error", xjson_string_lossy(b.data), "retryable",
		       status == 503);
	buf_release(&b);
	return answer_json(mc, cn, status, v);
}

/* ---- requests ---- */

/* Constant time in the length of the longer string. */
static bool token_ok(const char *got, const char *want)
{
	size_t gn = got ? strlen(got) : 0, wn = strlen(want), n = gn > wn ? gn : wn, i;
	unsigned char diff = (unsigned char)(gn != wn);

	for (i = 0; i < n; i++)
		diff |= (unsigned char)((i < gn ? got[i] : 0) ^ (i < wn ? want[i] : 0));
	return got && diff == 0;
}

static bool authorized(struct MHD_Connection *mc)
{
	const char *h;

	if (!H.o.token)
		return true;
	h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
	if (!h || strncmp(h, "Bearer ", 7))
		return token_ok(NULL, H.o.token);
	return token_ok(h + 7, H.o.token);
}

static size_t task_index(const char *id)
{
	size_t i;
	if (!id)
		return H.o.ntasks == 1 ? 0 : SIZE_MAX;
	for (i = 0; i < H.o.ntasks; i++)
		if (!strcmp(H.o.tasks[i].id, id))
			return i;
	return SIZE_MAX;
}

#define SRV_BASE_MAX 256

/* Whether revision `rev` (a request's or a label's "base") names the
 * commit task t is scored at: its name in the tasks file or a prefix of its
 * commit id (at least 4 hex digits) at once, else resolved in the task's
 * repository (a branch, a tag, another spelling). false with `why` set
 * when not (unknown, or another commit). */
static bool base_matches(const struct srv_task *t, const char *rev, char *why, size_t n)
{
	char oid[41];
	size_t len = strlen(rev), i;

	if (!len || len > SRV_BASE_MAX) {
		snprintf(why, n, "\"base\" must be 1-%d bytes", SRV_BASE_MAX);
		return false;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)rev[i] < 0x20 || rev[i] == 0x7f) {
			snprintf(why, n, "\"base\" holds a control character");
			return false;
		}
	if (!strcmp(rev, t->base_name))
		return true;
	if (len >= 4 && len <= 40 && strspn(rev, "0123456789abcdef") == len &&
	    !strncmp(rev, t->base_oid, len))
		return true;
	if (eng_resolve_commit(oid, t->s.root, rev)) {
		snprintf(why, n, "unknown base '%.*s' of task %s: %s", SRV_BASE_MAX, rev, t->id,
			 ln_error_msg());
		ln_error_clear();
		return false;
	}
	if (strcmp(oid, t->base_oid)) {
		/* through a buf: the message may be cut at n bytes, which is fine */
		struct buf b = BUF_INIT;
		buf_addf(&b, "base '%s' is commit %s, but task %s is scored at %s (its base '%s'): "
			 "one task per base, in the tasks file", rev, oid, t->id, t->base_oid,
			 t->base_name);
		snprintf(why, n, "%s", b.data);
		buf_release(&b);
		return false;
	}
	return true;
}

/* A label: a task id, or JSON text (or an object) {"task": id, "base":
 * rev}. *base: the label's base (NULL when none), valid while `label`
 * and `*hold` live (json_decref(*hold) after). */
static size_t label_task(const json_t *label, char *shown, size_t size, const char **base,
			 json_t **hold)
{
	const char *s = json_string_value(label);
	const json_t *obj = NULL;
	json_t *v = NULL;
	size_t k;

	*base = NULL;
	if (s && s[0] == '{') {
		v = json_loads(s, 0, NULL);
		obj = v;
	} else if (!s && json_is_object(label)) {
		obj = label;
	}
	if (json_is_object(obj)) {
		s = json_string_value(json_object_get(obj, "task"));
		*base = json_string_value(json_object_get(obj, "base"));
	}
	snprintf(shown, size, "%s", s ? s : "(none)");
	k = task_index(s && *s ? s : NULL);
	*hold = v;
	return k;
}

static int deadline_of(const json_t *req)
{
	json_t *d = json_object_get(req, "deadlineMs");
	if (!d)
		d = json_object_get(req, "deadline_ms");
	if (json_is_integer(d) && json_integer_value(d) > 0 &&
	    json_integer_value(d) < H.o.deadline_ms)
		return (int)json_integer_value(d);
	return H.o.deadline_ms;
}

static void set_text(struct srv_sample *s, const char *text, size_t len)
{
	s->text = xmalloc(len + 1);
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
}

/* Counts and hands out the outcome of every sample (metrics). */
static void count_samples(const struct srv_req *r)
{
	size_t i;
	for (i = 0; i < r->n; i++) {
		const struct srv_sample *s = &r->s[i];
		srv_metrics_sample(s->have_res && s->res.ep.scorable, s->why);
	}
}

static double sample_reward(const struct srv_sample *s)
{
	return s->have_res ? s->res.reward : NAN;
}

/* Runs a parsed request: 0, 503 when the queue is full, 400 when the
 * request names more tasks than the queue holds. */
static int run_request(struct srv_req *r, int deadline_ms)
{
	int e;

	r->deadline = ln_now_ms() + deadline_ms;
	if ((e = srv_pool_submit(r))) {
		if (e == -2)
			return 400;
		srv_metrics_rejected();
		return 503;
	}
	srv_req_wait(r, deadline_ms);
	count_samples(r);
	return 0;
}

/* POST /get_reward: OpenRLHF's remote reward protocol. */
static enum MHD_Result get_reward(struct MHD_Connection *mc, struct conn *cn, json_t *req)
{
	json_t *q = json_object_get(req, "query"), *p = json_object_get(req, "prompts");
	json_t *labels = json_object_get(req, "labels");
	json_t *rewards, *logs, *scorable, *rf, *ro, *rp, *reason, *bid, *task, *commit;
	struct srv_req *r;
	size_t i, n;
	int status;

	if (!json_is_array(q))
		return answer_error(mc, cn, 400, "\"query\" must be an array of strings");
	n = json_array_size(q);
	if (n > SRV_MAX_SAMPLES)
		return answer_error(mc, cn, 400, "at most %d samples per request", SRV_MAX_SAMPLES);
	if ((p && !json_is_null(p) && (!json_is_array(p) || json_array_size(p) != n)) ||
	    (labels && !json_is_null(labels) && (!json_is_array(labels) ||
						 json_array_size(labels) != n)))
		return answer_error(mc, cn, 400, "\"prompts\" and \"labels\" must be arrays as long "
				    "as \"query\"");
	r = srv_req_new(n);
	for (i = 0; i < n; i++) {
		struct srv_sample *s = &r->s[i];
		const char *qs = json_string_value(json_array_get(q, i));
		const char *ps = json_string_value(json_array_get(p, i)), *base;
		json_t *hold;
		size_t ql = json_string_length(json_array_get(q, i)), pl;
		char shown[80];
		snprintf(s->id, sizeof s->id, "c%zu", i + 1);
		if (!qs) {
			srv_req_unref(r);
			return answer_error(mc, cn, 400, "query[%zu] is not a string", i);
		}
		/* OpenRLHF sends prompt + response: the completion is what follows */
		pl = ps ? json_string_length(json_array_get(p, i)) : 0;
		if (ps && pl <= ql && !memcmp(qs, ps, pl))
			set_text(s, qs + pl, ql - pl);
		else
			set_text(s, qs, ql);
		s->task = label_task(json_array_get(labels, i), shown, sizeof shown, &base, &hold);
		if (s->task == SIZE_MAX) {
			s->done = true;
			s->why = SRV_WHY_UNKNOWN_TASK;
			snprintf(s->reason, sizeof s->reason, "unknown task '%s' (labels name a task "
				 "of the server's tasks file)", shown);
		} else if (base && !base_matches(&H.o.tasks[s->task], base, s->reason,
						 sizeof s->reason)) {
			s->done = true;
			s->why = SRV_WHY_BASE;
			s->task = SIZE_MAX;
		}
		json_decref(hold);
	}
	if ((status = run_request(r, deadline_of(req)))) {
		srv_req_unref(r);
		return answer_error(mc, cn, status, status == 503 ? "the queue is full: retry later" :
				    "the samples name more tasks than the queue holds (--queue)");
	}
	rewards = json_array();
	commit = json_array();
	scorable = json_array();
	rf = json_array();
	ro = json_array();
	rp = json_array();
	reason = json_array();
	bid = json_array();
	task = json_array();
	for (i = 0; i < n; i++) {
		const struct srv_sample *s = &r->s[i];
		const struct eng_result *er = s->have_res ? &s->res : NULL;
		bool ok = er && er->ep.scorable;
		json_array_append_new(rewards, rwd_number(sample_reward(s)));
		json_array_append_new(scorable, json_integer(ok));
		json_array_append_new(rf, er ? rwd_number(er->ep.r_format) : json_null());
		json_array_append_new(ro, ok ? rwd_number(er->ep.r_outcome) : json_null());
		json_array_append_new(rp, er ? rwd_number(er->ep.r_process) : json_null());
		json_array_append_new(reason, ok ? json_null() : xjson_string_lossy(s->reason));
		json_array_append_new(bid, er ? json_incref(json_object_get(er->bundle, "bundleId"))
					      : json_null());
		json_array_append_new(task, s->task == SIZE_MAX ? json_null() :
					    json_string(H.o.tasks[s->task].id));
		json_array_append_new(commit, s->task == SIZE_MAX ? json_null() :
				      json_string(H.o.tasks[s->task].base_oid));
	}
	srv_req_unref(r);
	logs = xjson_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "scorable", scorable,
			  "r_format", rf, "r_outcome", ro, "r_process", rp, "reason", reason,
			  "bundle_id", bid, "task", task, "base_commit", commit);
	return answer_json(mc, cn, 200, xjson_pack("{s:O, s:o, s:o}", "rewards", rewards,
						   "scores", rewards, "extra_logs", logs));
}

static json_t *steps_json(const struct eng_result *r)
{
	if (!r->diagnosed)
		return json_array();
	return xjson_pack("[{s:o, s:o, s:o, s:o, s:o, s:o}]", "D0", rwd_number(r->step.d_prev),
			  "D", rwd_number(r->step.d), "S", rwd_number(r->step.s), "c0",
			  rwd_number(r->step.c_prev), "c", rwd_number(r->step.c), "reward",
			  rwd_number(r->ep.r_process));
}

/* POST /score: one group of one task. */
static enum MHD_Result score(struct MHD_Connection *mc, struct conn *cn, json_t *req)
{
	json_t *cs = json_object_get(req, "completions"), *adv = NULL, *cands, *out;
	const char *tid = json_string_value(json_object_get(req, "task"));
	const char *am = json_string_value(json_object_get(req, "advantage"));
	const char *pr = json_string_value(json_object_get(req, "preset"));
	json_t *eps = json_object_get(req, "eps");
	bool steps = json_is_true(json_object_get(req, "steps"));
	enum rwd_adv_mode amode = RWD_ADV_GRPO;
	enum rwd_preset preset = RWD_PRESET_TRL;
	struct eng_result *view;
	struct srv_req *r;
	size_t k = task_index(tid), i, n;
	int status;

	json_t *jbase = json_object_get(req, "base");
	char why[400];

	if (k == SIZE_MAX)
		return answer_error(mc, cn, 404, "unknown task '%s'", tid ? tid : "(none)");
	if (jbase && !json_is_null(jbase) && (!json_is_string(jbase) ||
					      !base_matches(&H.o.tasks[k], json_string_value(jbase),
							    why, sizeof why)))
		return answer_error(mc, cn, 400, "%s", json_is_string(jbase) ? why :
				    "\"base\" must be a string (a branch, tag or commit id)");
	if (!json_is_array(cs) || !json_array_size(cs))
		return answer_error(mc, cn, 400, "\"completions\" must be a non-empty array");
	n = json_array_size(cs);
	if (n > ENG_MAX_CANDIDATES)
		return answer_error(mc, cn, 400, "at most %d completions", ENG_MAX_CANDIDATES);
	if ((am && (rwd_adv_mode_parse(&amode, am) || amode == RWD_ADV_STEP)) ||
	    (pr && rwd_preset_parse(&preset, pr)))
		return answer_error(mc, cn, 400, "\"advantage\" is grpo, dr_grpo or batch; \"preset\" "
				    "trl, verl or openrlhf");
	if (eps && (!json_is_number(eps) || !(json_number_value(eps) >= 0) ||
		    !isfinite(json_number_value(eps))))
		return answer_error(mc, cn, 400, "\"eps\" must be a number >= 0");
	r = srv_req_new(n);
	for (i = 0; i < n; i++) {
		json_t *c = json_array_get(cs, i), *t = c;
		const char *id = json_string_value(json_object_get(c, "id"));
		struct srv_sample *s = &r->s[i];
		if (json_is_object(c)) {
			t = json_object_get(c, "completion");
			if (!t)
				t = json_object_get(c, "patch");
		}
		if (!json_is_string(t)) {
			srv_req_unref(r);
			return answer_error(mc, cn, 400, "completions[%zu] is not a string nor "
					    "{\"completion\": string}", i);
		}
		/* ids as `lanser group --in` gives them */
		if (!id || !*id || strlen(id) > 64 || strpbrk(id, "/\n\t "))
			snprintf(s->id, sizeof s->id, "c%zu", i + 1);
		else
			snprintf(s->id, sizeof s->id, "%s", id);
		set_text(s, json_string_value(t), json_string_length(t));
		s->task = k;
	}
	if ((status = run_request(r, deadline_of(req)))) {
		srv_req_unref(r);
		return answer_error(mc, cn, status, status == 503 ? "the queue is full: retry later" :
				    "the samples name more tasks than the queue holds (--queue)");
	}
	view = xcalloc(n, sizeof *view);
	for (i = 0; i < n; i++) {
		if (r->s[i].have_res)
			view[i] = r->s[i].res;
		view[i].reward = sample_reward(&r->s[i]);
	}
	eval_group_advantages(&adv, NULL, view, n, H.o.tasks[k].s.task.task_id ?
			      H.o.tasks[k].s.task.task_id : H.o.tasks[k].id, amode, preset,
			      eps ? json_number_value(eps) : -1);
	cands = json_array();
	for (i = 0; i < n; i++) {
		const struct srv_sample *s = &r->s[i];
		json_t *c;
		if (s->have_res) {
			c = eval_candidate_json(&s->res, adv, i);
			if (!s->res.ep.scorable)
				json_object_set_new(c, "reason", xjson_string_lossy(s->reason));
			if (steps)
				json_object_set_new(c, "steps", steps_json(&s->res));
		} else {
			c = xjson_pack("{s:s, s:n, s:n, s:b, s:o, s:n, s:n, s:n, s:n, s:n, s:n, s:n, "
				       "s:b}", "id", s->id, "bundleId", "reward", "scorable", false,
				       "reason", xjson_string_lossy(s->reason), "rFormat", "rOutcome",
				       "rProcess", "tests", "newErrors", "formatNote", "advantage",
				       "accepted", false);
			if (steps)
				json_object_set_new(c, "steps", json_array());
		}
		json_array_append_new(cands, c);
	}
	out = xjson_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "schema", "lanser.score/1", "task",
			 H.o.tasks[k].id, "base", H.o.tasks[k].base_name, "baseCommit",
			 H.o.tasks[k].base_oid, "mode",
			 rwd_episode_mode_name(H.o.emode), "candidates", cands, "advantages",
			 adv ? adv : json_null());
	free(view);
	srv_req_unref(r);
	return answer_json(mc, cn, 200, out);
}

/* ---- routing ---- */

static enum srv_endpoint route(const char *url)
{
	if (!strcmp(url, "/get_reward"))
		return SRV_EP_GET_REWARD;
	if (!strcmp(url, "/score"))
		return SRV_EP_SCORE;
	if (!strcmp(url, "/healthz"))
		return SRV_EP_HEALTHZ;
	if (!strcmp(url, "/readyz"))
		return SRV_EP_READYZ;
	if (!strcmp(url, "/metrics"))
		return SRV_EP_METRICS;
	return SRV_EP_OTHER;
}

static bool quiescing(void)
{
	bool q;
	pthread_mutex_lock(&H.lock);
	q = H.quiescing;
	pthread_mutex_unlock(&H.lock);
	return q;
}

static enum MHD_Result first_call(struct MHD_Connection *mc, struct conn *cn, const char *method)
{
	bool post = !strcmp(method, "POST");
	bool scoring = cn->ep == SRV_EP_GET_REWARD || cn->ep == SRV_EP_SCORE;
	const char *cl;

	if (cn->ep == SRV_EP_OTHER)
		return answer_error(mc, cn, 404, "no such endpoint (see docs/serve.md)");
	if (scoring != post)
		return answer_error(mc, cn, 405, "%s needs %s", scoring ? "scoring" : "this endpoint",
				    scoring ? "POST" : "GET");
	if (cn->ep != SRV_EP_HEALTHZ && cn->ep != SRV_EP_READYZ && !authorized(mc))
		return answer_error(mc, cn, 401, "a bearer token is needed (Authorization: Bearer "
				    "...)");
	if (scoring && quiescing())
		return answer_error(mc, cn, 503, "shutting down: retry on another replica");
	cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > H.o.max_body)
		return answer_error(mc, cn, 413, "the body is larger than %zu bytes", H.o.max_body);
	if (scoring) {
		pthread_mutex_lock(&H.lock);
		H.inflight++;
		cn->counted = true;
		pthread_mutex_unlock(&H.lock);
	}
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *mc, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct conn *cn = *con_cls;
	json_error_t je;
	json_t *req;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (!cn) {
		cn = xcalloc(1, sizeof *cn);
		buf_init(&cn->body);
		cn->t0 = ln_now_ms();
		cn->ep = route(url);
		*con_cls = cn;
		ret = first_call(mc, cn, method);
		return ret;
	}
	if (*upload_size) {
		if (ln_now_ms() - cn->t0 > H.o.body_ms)
			return MHD_NO;            /* a body trickling in: drop the connection */
		if (cn->body.len + *upload_size > H.o.max_body)
			cn->too_big = true;
		else
			buf_add(&cn->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	switch (cn->ep) {
	case SRV_EP_HEALTHZ:
		return answer(mc, cn, 200, "text/plain", xstrdup("ok\n"), 3);
	case SRV_EP_READYZ:
		if (quiescing())
			return answer(mc, cn, 503, "text/plain", xstrdup("draining\n"), 9);
		return srv_pool_ready() ? answer(mc, cn, 200, "text/plain", xstrdup("ready\n"), 6)
					: answer(mc, cn, 503, "text/plain", xstrdup("warming\n"), 8);
	case SRV_EP_METRICS: {
		char *m = srv_metrics_render();
		return answer(mc, cn, 200, "text/plain; version=0.0.4", m, strlen(m));
	}
	default:
		break;
	}
	if (cn->too_big)
		return answer_error(mc, cn, 413, "the body is larger than %zu bytes", H.o.max_body);
	req = json_loadb(cn->body.data, cn->body.len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(req)) {
		json_decref(req);
		return answer_error(mc, cn, 400, "the body is not a JSON object: %s",
				    req ? "another JSON value" : je.text);
	}
	ret = cn->ep == SRV_EP_GET_REWARD ? get_reward(mc, cn, req) : score(mc, cn, req);
	json_decref(req);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *mc, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (!cn)
		return;
	if (cn->counted) {
		pthread_mutex_lock(&H.lock);
		H.inflight--;
		pthread_mutex_unlock(&H.lock);
	}
	buf_release(&cn->body);
	free(cn);
	*con_cls = NULL;
}

int srv_http_start(const struct srv_http_opts *o, unsigned *port_out)
{
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;

	H.o = *o;
	H.quiescing = false;
	H.inflight = 0;
	if (o->ipv6)
		flags |= MHD_USE_IPv6;
	H.d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL,
			       MHD_OPTION_SOCK_ADDR, o->addr,
			       MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conns,
			       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->conn_timeout_s,
			       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
			       MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
			       MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			       MHD_OPTION_END);
	if (!H.d)
		return ln_error_set(LN_EGENERIC, "cannot listen (address in use, or not available)");
	info = MHD_get_daemon_info(H.d, MHD_DAEMON_INFO_BIND_PORT);
	*port_out = info ? info->port : 0;
	return 0;
}

void srv_http_quiesce(void)
{
	pthread_mutex_lock(&H.lock);
	H.quiescing = true;
	pthread_mutex_unlock(&H.lock);
	/* the listening socket is closed: new connections are refused */
	if (H.d) {
		MHD_socket s = MHD_quiesce_daemon(H.d);
		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
}

int srv_http_inflight(void)
{
	int n;
	pthread_mutex_lock(&H.lock);
	n = H.inflight;
	pthread_mutex_unlock(&H.lock);
	return n;
}

void srv_http_stop(void)
{
	if (H.d)
		MHD_stop_daemon(H.d);
	H.d = NULL;
}
