/*
 * llm_impl.h - the parts of the model client that read what a server sent
 * (agent/llm_parse.c), apart from the transport (agent/llm.c) so that unit
 * tests feed them bytes without a network (tests/unit/test_llm.c).
 */
#ifndef LANSER_AGENT_LLM_IMPL_H
#define LANSER_AGENT_LLM_IMPL_H

#include "agent/llm.h"
#include "core/buf.h"

struct llm_call_acc {           /* one streamed tool call, assembled by index */
	struct buf id, name, args;
	bool used;
};

/*
 * Server-sent events of a streamed chat completion: framing (lines,
 * "data:" fields, blank line ends an event, ":" comments, "[DONE]") by
 * hand, each event's data parsed with jansson, deltas assembled.
 */
struct llm_stream {
	struct buf line;        /* the line being read */
	struct buf data;        /* the data of the event being read */
	bool in_event;          /* data: lines seen since the last dispatch */
	struct buf content;
	bool has_content;
	struct llm_call_acc calls[LLM_MAX_TOOL_CALLS];
	int ncalls;             /* highest used index + 1 */
	bool done;              /* "[DONE]" seen */
	char finish_reason[32];
	long prompt_tokens, completion_tokens;
	size_t events, deltas;  /* events parsed, text deltas handed to on_delta */
	llm_delta_fn on_delta;
	void *ctx;
};

void llm_stream_init(struct llm_stream *s, llm_delta_fn on_delta, void *ctx);
void llm_stream_release(struct llm_stream *s);
/* Feeds n bytes of the body. 0, LN_EINPUT (an event that is not a chunk),
 * or LN_EMODEL (an event carrying an "error" object). Data after [DONE]
 * is ignored. */
int llm_stream_feed(struct llm_stream *s, const char *p, size_t n);
/* The body ended: an unterminated last event is dispatched, then the reply
 * is built. LN_EMODEL when the stream ended before "[DONE]" and before a
 * finish_reason (truncated). */
int llm_stream_finish(struct llm_stream *s, struct llm_reply *out);

/* A whole (non-streamed) chat completion body. on_delta gets the content
 * once. 0, LN_EINPUT or LN_EMODEL (a body with an "error" object). */
int llm_parse_completion(const char *body, size_t len, struct llm_reply *out,
			 llm_delta_fn on_delta, void *ctx);

/* The server's own words from an error body: error.message, error (a
 * string), message or detail, else the start of the body; made printable
 * and cut at about 300 bytes. Appended to b. */
void llm_error_text(struct buf *b, const char *body, size_t len);

/* Replaces every occurrence of key (when non-empty) in s by "***", in place. */
void llm_scrub(char *s, const char *key);

/* Retry-After as seconds (a delta-seconds value; an HTTP date or garbage
 * is -1). Leading and trailing blanks are allowed. */
long llm_retry_after_parse(const char *v, size_t n);

#endif
