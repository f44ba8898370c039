/*
 * llm.c - the model client's transport (agent/llm.h): one libcurl easy
 * handle per client (its connection is kept alive between requests), a
 * write callback that enforces the body cap and feeds the event-stream
 * reader, a header callback for Retry-After and the content type, a
 * progress callback for cancellation, and the retry loop.
 */
#include "agent/llm.h"
#include "agent/llm_impl.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct llm_client {
	CURL *curl;
	char *url;              /* {base_url}/chat/completions */
	char *origin;           /* scheme://host[:port] for messages (no user info, no path) */
	char *model, *api_key;
	struct llm_opts o;      /* strings above; sampling a copy of our own; cancel borrowed */
	unsigned int seed;      /* jitter */
};

/* The state of one attempt, shared with the callbacks. */
struct xfer {
	struct llm_client *c;
	struct buf body;        /* the body (not streaming, or an error reply) */
	size_t received;
	bool oversize, decided, sse;
	long status;
	long retry_after;       /* seconds, -1: none */
	bool event_stream;      /* Content-Type: text/event-stream */
	struct llm_stream *st;
	int stream_error;       /* the event reader's LN_E* (its message is set) */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* scheme://host[:port] of url, for messages: never the user info (which may
 * hold a password), the path or the query. */
static char *url_origin(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *r;

	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		curl_url_cleanup(u);
		return NULL;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	r = port ? xasprintf("%s://%s:%s", scheme, host, port) : xasprintf("%s://%s", scheme, host);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

int llm_open(struct llm_client **out, const struct llm_opts *o)
{
	struct llm_client *c;
	char *origin;
	size_t n;

	*out = NULL;
	if (!o->base_url || (strncasecmp(o->base_url, "http://", 7) && strncasecmp(o->base_url, "https://", 8)))
		return ln_error_set(LN_EUSAGE, "the model server's base URL must start with http:// or https://");
	if (!(origin = url_origin(o->base_url)))
		return ln_error_set(LN_EUSAGE, "the model server's base URL is not a valid URL");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		free(origin);
		return ln_error_set(LN_EGENERIC, "libcurl: %s", curl_easy_strerror(curl_init_rc));
	}
	c = xcalloc(1, sizeof *c);
	c->o = *o;
	c->origin = origin;
	n = strlen(o->base_url);
	while (n > 0 && o->base_url[n - 1] == '/')
		n--;
	c->url = xasprintf("%.*s/chat/completions", (int)n, o->base_url);
	c->model = o->model ? xstrdup(o->model) : NULL;
	c->api_key = o->api_key && *o->api_key ? xstrdup(o->api_key) : NULL;
	c->o.base_url = NULL;   /* only url and origin are used from here on */
	c->o.model = c->model;
	c->o.api_key = c->api_key;
	/* our own copy: the caller's object may go (rollout workers freed it
	 * with the settings it came from and crashed in the next request) */
	c->o.sampling = o->sampling ? json_deep_copy(o->sampling) : NULL;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = LLM_DEFAULT_TIMEOUT_MS;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = LLM_DEFAULT_CONNECT_TIMEOUT_MS;
	if (c->o.retries == 0)
		c->o.retries = LLM_DEFAULT_RETRIES;
	else if (c->o.retries < 0)
		c->o.retries = 0;
	if (c->o.max_response == 0)
		c->o.max_response = LLM_DEFAULT_MAX_RESPONSE;
	if (c->o.backoff_ms <= 0)
		c->o.backoff_ms = LLM_DEFAULT_BACKOFF_MS;
	if (c->o.max_wait_ms <= 0)
		c->o.max_wait_ms = LLM_DEFAULT_MAX_WAIT_MS;
	c->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)c;
	if (!(c->curl = curl_easy_init())) {
		llm_close(c);
		return ln_error_set(LN_EGENERIC, "libcurl: cannot create a handle");
	}
	*out = c;
	return 0;
}

void llm_close(struct llm_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->api_key) {       /* do not leave the key in freed memory */
		volatile char *p = c->api_key;
		while (*p)
			*p++ = 0;
	}
	free(c->api_key);
	json_decref(c->o.sampling);
	free(c->model);
	free(c->url);
	free(c->origin);
	free(c);
}

void llm_reply_release(struct llm_reply *r)
{
	json_decref(r->message);
	r->message = NULL;
}

static bool cancelled(const struct llm_client *c)
{
	return c->o.cancel && *c->o.cancel;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	if (len >= 5 && !strncasecmp(p, "HTTP/", 5)) {  /* a new response (after 100 Continue) */
		x->retry_after = -1;
		x->event_stream = false;
	} else if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		x->retry_after = llm_retry_after_parse(p + 12, len - 12);
	} else if (len > 13 && !strncasecmp(p, "Content-Type:", 13)) {
		size_t i = 13;
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		x->event_stream = len - i >= 17 && !strncasecmp(p + i, "text/event-stream", 17);
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	if (!x->decided) {
		/* The status decides what the body is: an event stream only for
		 * a 2xx reply the server marked as one; anything else (an
		 * error, a server that ignored "stream") is read whole. */
		curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &x->status);
		x->sse = x->st && x->status >= 200 && x->status < 300 && x->event_stream;
		x->decided = true;
	}
	if (len > x->c->o.max_response - x->received) {
		x->oversize = true;
		return 0;       /* CURLE_WRITE_ERROR */
	}
	x->received += len;
	if (!x->sse) {
		buf_add(&x->body, p, len);
		return len;
	}
	if (x->stream_error)
		return 0;
	if ((x->stream_error = llm_stream_feed(x->st, p, len)))
		return 0;
	return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	return cancelled(ud) ? 1 : 0;
}

/* The request body; LN_EUSAGE when sampling sets a member we own. */
static int request_body(struct llm_client *c, const json_t *messages, const json_t *tools, char **out)
{
	static const char *const owned[] = { "model", "messages", "tools", "stream", "stream_options", NULL };
	json_t *req, *v;
	const char *k;

	*out = NULL;
	if (!json_is_array(messages))
		return ln_error_set(LN_EUSAGE, "llm_chat: messages must be an array");
	req = xjson_pack("{s:O, s:b}", "messages", messages, "stream", c->o.stream);
	if (c->model)
		json_object_set_new(req, "model", json_string(c->model));
	if (json_is_array(tools) && json_array_size(tools))
		json_object_set(req, "tools", (json_t *)tools);
	if (c->o.stream)  /* usage in the last chunk (OpenAI, vLLM; others ignore it) */
		json_object_set_new(req, "stream_options", xjson_pack("{s:b}", "include_usage", 1));
	json_object_foreach(c->o.sampling, k, v) {
		for (int i = 0; owned[i]; i++)
			if (!strcmp(k, owned[i])) {
				json_decref(req);
				return ln_error_set(LN_EUSAGE, "sampling parameters may not set \"%s\"", k);
			}
		json_object_set(req, k, v);
	}
	*out = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!*out)
		return ln_error_set(LN_EUSAGE, "llm_chat: the request cannot be serialised as JSON");
	return 0;
}

/* Sleeps ms in short slices; LN_ECANCELLED when *cancel is set meanwhile. */
static int wait_ms(struct llm_client *c, long ms)
{
	while (ms > 0) {
		long slice = ms > 50 ? 50 : ms;
		struct timespec ts = { slice / 1000, (slice % 1000) * 1000000L };
		if (cancelled(c))
			return ln_error_set(LN_ECANCELLED, "cancelled while waiting to retry the model server");
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return cancelled(c) ? ln_error_set(LN_ECANCELLED, "cancelled") : 0;
}

static bool retryable_status(long s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static bool retryable_curl(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_SEND_ERROR ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE ||
	       rc == CURLE_SSL_CONNECT_ERROR;
}

/*
 * One attempt. Returns 0, or an LN_E* code with the message set; *retry
 * says whether another attempt may help (and nothing was handed to
 * on_delta yet), *wait_hint the server's Retry-After in ms (-1: none).
 */
static int attempt(struct llm_client *c, struct curl_slist *hdrs, const char *body,
		   llm_delta_fn on_delta, void *ctx, struct llm_reply *out, bool *retry, long *wait_hint)
{
	struct llm_stream st;
	struct xfer x = { .c = c, .body = BUF_INIT, .retry_after = -1 };
	CURL *h = c->curl;
	CURLcode rc;
	int error;
	struct buf msg = BUF_INIT;

	*retry = false;
	*wait_hint = -1;
	llm_stream_init(&st, on_delta, ctx);
	x.st = &st;     /* also when not asked for: a server may stream anyway */
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "lanser/" LANSER_VERSION);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x.status);
	out->http_status = (int)x.status;

	if (rc == CURLE_ABORTED_BY_CALLBACK || cancelled(c)) {
		error = ln_error_set(LN_ECANCELLED, "the model request was cancelled");
	} else if (x.oversize) {
		error = ln_error_set(LN_EINPUT, "the model server's reply is larger than %zu bytes",
				     c->o.max_response);
	} else if (x.stream_error) {
		error = x.stream_error;  /* its message is set */
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		curl_off_t connected = 0;
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
		if (connected > 0)
			error = ln_error_set(LN_ETIMEOUT, "the model server at %s did not answer within %d ms",
					     c->origin, c->o.timeout_ms);
		else
			error = ln_error_set(LN_ETIMEOUT, "could not connect to the model server at %s within "
					     "%d ms", c->origin, c->o.connect_timeout_ms);
	} else if (rc != CURLE_OK && x.received) {
		*retry = retryable_curl(rc) && st.deltas == 0;
		error = ln_error_set(LN_EMODEL, "the model server at %s broke off its reply after %zu bytes: %s",
				     c->origin, x.received, curl_easy_strerror(rc));
	} else if (rc != CURLE_OK) {
		*retry = retryable_curl(rc);
		error = ln_error_set(LN_EMODEL, "cannot talk to the model server at %s: %s", c->origin,
				     curl_easy_strerror(rc));
	} else if (x.status < 200 || x.status >= 300) {
		llm_error_text(&msg, x.body.data, x.body.len);
		*retry = retryable_status(x.status);
		if (x.retry_after >= 0)
			*wait_hint = x.retry_after * 1000;
		error = ln_error_set(LN_EMODEL, "the model server at %s answered HTTP %ld: %s", c->origin,
				     x.status, msg.data);
	} else if (x.sse) {
		error = llm_stream_finish(&st, out);
		if (error == LN_EMODEL && st.deltas == 0 && !st.ncalls)
			*retry = true;  /* truncated before anything reached the caller */
	} else {
		error = llm_parse_completion(x.body.data, x.body.len, out, on_delta, ctx);
	}
	llm_stream_release(&st);
	buf_release(&x.body);
	buf_release(&msg);
	return error;
}

int llm_chat(struct llm_client *c, const json_t *messages, const json_t *tools,
	     llm_delta_fn on_delta, void *ctx, struct llm_reply *out)
{
	struct curl_slist *hdrs = NULL;
	char *body = NULL, *auth = NULL;
	int error, attempts = 1 + c->o.retries;
	bool retry;
	long hint;
	struct ln_error_state es;

	memset(out, 0, sizeof *out);
	out->prompt_tokens = out->completion_tokens = -1;
	if ((error = request_body(c, messages, tools, &body)))
		goto done;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, c->o.stream ? "Accept: text/event-stream" : "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (c->api_key) {
		auth = xasprintf("Authorization: Bearer %s", c->api_key);
		hdrs = curl_slist_append(hdrs, auth);
	}
	for (;;) {
		if (cancelled(c)) {
			error = ln_error_set(LN_ECANCELLED, "the model request was cancelled");
			break;
		}
		out->attempts++;
		error = attempt(c, hdrs, body, on_delta, ctx, out, &retry, &hint);
		if (!error || !retry || out->attempts >= attempts)
			break;
		{
			/* Exponential backoff with up to 50% jitter, or the
			 * server's Retry-After; both capped. */
			long ms = (long)c->o.backoff_ms << (out->attempts - 1 < 16 ? out->attempts - 1 : 16);
			ms += ms > 1 ? (long)(rand_r(&c->seed) % (unsigned long)(ms / 2 + 1)) : 0;
			if (hint >= 0)
				ms = hint;
			if (ms > c->o.max_wait_ms)
				ms = c->o.max_wait_ms;
			if ((error = wait_ms(c, ms)))
				break;
		}
	}
	if (error && out->attempts > 1 && error == LN_EMODEL) {
		ln_error_capture(&es);
		ln_error_set(LN_EMODEL, "%s (after %d attempts)", es.msg, out->attempts);
	}
done:
	if (error) {
		/* A server may quote the key back (an "invalid key sk-..." message). */
		ln_error_capture(&es);
		llm_scrub(es.msg, c->api_key);
		ln_error_restore(&es);
		if (out->message) {
			json_decref(out->message);
			out->message = NULL;
		}
	}
	if (auth) {
		volatile char *p = auth;
		while (*p)
			*p++ = 0;
	}
	free(auth);
	curl_slist_free_all(hdrs);
	free(body);
	return error;
}
