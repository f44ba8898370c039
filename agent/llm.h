/*
 * llm.h - the model client: OpenAI-compatible `POST {base_url}/chat/completions`
 * over libcurl, with tool calling and streaming (server-sent events), so that
 * one client talks to vLLM, llama.cpp's server, Ollama, SGLang and hosted APIs
 * (issue 15, item 1; docs/agent.md "Model server").
 *
 * Everything a server sends is untrusted: the body is capped (max_response),
 * parsed with jansson, and a reply that is not a chat completion is
 * LN_EINPUT, never a crash. The API key goes into the Authorization header
 * and nowhere else: not in an error message (a server message that quotes it
 * has it replaced by "***"), a trace, a log or the terminal.
 *
 * Errors (core/err.h, docs/exit-codes.md):
 *   LN_ETIMEOUT    the request did not finish within timeout_ms (not retried)
 *   LN_ECANCELLED  *cancel became non-zero (checked during the transfer and
 *                  while waiting to retry)
 *   LN_EINPUT      malformed reply: not JSON, not a chat completion, a broken
 *                  event stream, or a body over max_response bytes
 *   LN_EMODEL      the server could not be reached, kept failing (429, 500,
 *                  502, 503, 504, connection errors) after 1 + retries
 *                  attempts, closed a stream before its end, or refused the
 *                  request (another 4xx/5xx: the message carries the HTTP
 *                  status and the server's error.message)
 *   LN_ECONFIG     llm_opts_resolve: nothing says where the model server is,
 *                  or the "model" member of .lanser.json has a wrong type
 *   LN_EUSAGE      sampling tries to set a member the client owns
 *                  (model, messages, tools, stream, stream_options)
 *
 * Not thread-safe per client: one llm_client per thread (clients on
 * different threads are independent).
 */
#ifndef LANSER_AGENT_LLM_H
#define LANSER_AGENT_LLM_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct ln_config;

#define LLM_DEFAULT_TIMEOUT_MS 120000
#define LLM_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define LLM_DEFAULT_RETRIES 3
#define LLM_DEFAULT_MAX_RESPONSE ((size_t)8 << 20)
#define LLM_DEFAULT_BACKOFF_MS 500
#define LLM_DEFAULT_MAX_WAIT_MS 60000
#define LLM_MAX_TOOL_CALLS 128   /* tool calls in one reply */

struct llm_opts {
	const char *base_url;      /* e.g. http://127.0.0.1:8080/v1 ; POST {base_url}/chat/completions
				      (http and https only; redirects are not followed) */
	const char *model;         /* NULL: the request has no "model" member */
	const char *api_key;       /* may be NULL; never printed, logged, traced or put in an error message */
	int timeout_ms;            /* whole request; 0: 120000 */
	int connect_timeout_ms;    /* 0: 10000 */
	int retries;               /* on 429/5xx/connection errors, with backoff honouring Retry-After;
				      0: default 3; negative: no retry */
	size_t max_response;       /* cap on a response body in bytes; 0: 8 MiB */
	bool stream;               /* server-sent events */
	json_t *sampling;          /* copied by llm_open: temperature, top_p, max_tokens, seed ... passed through as given; may be NULL */
	volatile sig_atomic_t *cancel; /* non-zero: abort the transfer (LN_ECANCELLED); may be NULL */
	/* Added fields (zero: the default). */
	int backoff_ms;            /* first retry waits this long, doubling each time, plus up to
				      50% jitter; 0: 500 */
	int max_wait_ms;           /* cap on one wait between attempts, Retry-After included; 0: 60000 */
};

struct llm_client;
/* Copies what it needs from o (strings and sampling included; cancel stays
 * borrowed and must outlive the client). LN_EUSAGE for a missing or
 * non-http(s) base_url. *out belongs to the caller (llm_close). */
int llm_open(struct llm_client **out, const struct llm_opts *o);
void llm_close(struct llm_client *c);

/* Called for each streamed text delta (and once with the whole content when not streaming). */
typedef void (*llm_delta_fn)(void *ctx, const char *text, size_t len);

struct llm_reply {
	json_t *message;        /* the assistant message: {"role":"assistant","content":...,"tool_calls":[{"id","type":"function","function":{"name","arguments": "<JSON text>"}}]} (streamed deltas assembled);
				   content is a string or null; tool_calls is present only when non-empty;
				   arguments is always a string (an object sent by the server is serialised) */
	char finish_reason[32]; /* "stop", "tool_calls", "length", ... ("" when the server did not say) */
	long prompt_tokens, completion_tokens; /* -1 when the server did not say */
	int http_status;        /* of the last attempt (0: no HTTP response) */
	int attempts;           /* how many requests it took */
};

/* messages, tools: OpenAI chat-completions arrays (borrowed; tools may be NULL
 * or empty). on_delta may be NULL. Returns 0 or an LN_E* code (see the top of
 * this file) with the last error set; `out` is filled in both cases
 * (http_status and attempts say what happened) and must be released. */
int llm_chat(struct llm_client *c, const json_t *messages, const json_t *tools,
	     llm_delta_fn on_delta, void *ctx, struct llm_reply *out);
void llm_reply_release(struct llm_reply *r);

/*
 * Where the settings come from (docs/agent.md "Model server"). Each field,
 * in this order of precedence:
 *   base_url   flags->base_url, $OPENAI_BASE_URL, .lanser.json model.baseUrl
 *   model      flags->model, $OPENAI_MODEL, model.model
 *   api_key    the environment variable named by flags->api_key_env, else by
 *              model.apiKeyEnv, else $OPENAI_API_KEY (the key itself is never
 *              a flag nor a config member: both end up in shell histories,
 *              process lists and repositories)
 *   the rest   model.timeoutMs, connectTimeoutMs, retries, maxResponseBytes,
 *              stream (bool), sampling (object), each overridden by the
 *              corresponding flag when that is set (non-zero / non-NULL)
 * In an untrusted configuration (core/trust.h) model.baseUrl and
 * model.apiKeyEnv are removed before anything reads them: a repository must
 * not choose where the key goes nor which variable is sent.
 */
struct llm_flags {
	const char *base_url, *model, *api_key_env;
	int timeout_ms, connect_timeout_ms, retries; /* 0: not given (retries < 0: none) */
	size_t max_response;
	int stream;             /* 0: not given, 1: stream, -1: do not */
	const json_t *sampling; /* merged over model.sampling member by member; may be NULL */
};

/* Strings and the sampling object that the llm_opts filled by
 * llm_opts_resolve point into. */
struct llm_settings {
	char *base_url, *model, *api_key;
	json_t *sampling;
	const char *base_url_from; /* "flag", "OPENAI_BASE_URL", ".lanser.json" (static) */
};

/* Fills o (and s, which o points into; release s after the last use of o).
 * cfg may be NULL (no configuration), flags may be NULL. LN_ECONFIG when no
 * base URL is set anywhere or a member of "model" has a wrong type. */
int llm_opts_resolve(struct llm_opts *o, struct llm_settings *s, const struct ln_config *cfg,
		     const struct llm_flags *flags);
void llm_settings_release(struct llm_settings *s);

#endif
