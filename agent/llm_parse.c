/*
 * llm_parse.c - reading a model server's replies (agent/llm_impl.h): whole
 * chat completions, server-sent event streams with their deltas assembled,
 * error bodies and Retry-After. All of it is untrusted input; sizes are
 * bounded by the transport's body cap and LLM_MAX_TOOL_CALLS.
 */
#include "agent/llm_impl.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_TEXT_MAX 300

void llm_stream_init(struct llm_stream *s, llm_delta_fn on_delta, void *ctx)
{
	memset(s, 0, sizeof *s);
	buf_init(&s->line);
	buf_init(&s->data);
	buf_init(&s->content);
	for (int i = 0; i < LLM_MAX_TOOL_CALLS; i++) {
		buf_init(&s->calls[i].id);
		buf_init(&s->calls[i].name);
		buf_init(&s->calls[i].args);
	}
	s->prompt_tokens = s->completion_tokens = -1;
	s->on_delta = on_delta;
	s->ctx = ctx;
}

void llm_stream_release(struct llm_stream *s)
{
	buf_release(&s->line);
	buf_release(&s->data);
	buf_release(&s->content);
	for (int i = 0; i < LLM_MAX_TOOL_CALLS; i++) {
		buf_release(&s->calls[i].id);
		buf_release(&s->calls[i].name);
		buf_release(&s->calls[i].args);
	}
}

void llm_error_text(struct buf *b, const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL), *e;
	const char *msg = NULL;
	size_t n;

	if (json_is_object(j)) {
		e = json_object_get(j, "error");
		if (json_is_object(e))
			msg = json_string_value(json_object_get(e, "message"));
		else
			msg = json_string_value(e);
		if (!msg)
			msg = json_string_value(json_object_get(j, "message"));
		if (!msg)
			msg = json_string_value(json_object_get(j, "detail"));
	}
	if (msg) {
		n = strlen(msg);
		buf_add_printable(b, msg, n > ERROR_TEXT_MAX ? ERROR_TEXT_MAX : n);
	} else {
		n = len > ERROR_TEXT_MAX ? ERROR_TEXT_MAX : len;
		while (n > 0 && isspace((unsigned char)body[n - 1]))
			n--;
		if (n == 0)
			buf_adds(b, "(empty body)");
		else
			buf_add_printable(b, body, n);
	}
	if ((msg && strlen(msg) > ERROR_TEXT_MAX) || (!msg && len > ERROR_TEXT_MAX))
		buf_adds(b, "...");
	json_decref(j);
}

void llm_scrub(char *s, const char *key)
{
	size_t kl = key ? strlen(key) : 0;
	char *p;

	if (kl == 0)
		return;
	while ((p = strstr(s, key))) {
		size_t rest = strlen(p + kl);
		if (kl >= 3) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + kl, rest + 1);
		} else {
			memset(p, '*', kl);
		}
	}
}

long llm_retry_after_parse(const char *v, size_t n)
{
	size_t i = 0, end = n;
	long secs = 0;

	while (i < end && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (end > i && isspace((unsigned char)v[end - 1]))
		end--;
	if (i == end)
		return -1;
	for (; i < end; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (secs > 86400)
			return 86400;  /* a day is as good as forever: the caller caps it */
		secs = secs * 10 + (v[i] - '0');
	}
	return secs;
}

/* usage.prompt_tokens / completion_tokens when they are non-negative integers. */
static void read_usage(const json_t *usage, long *prompt, long *completion)
{
	json_t *p = json_object_get(usage, "prompt_tokens"), *c = json_object_get(usage, "completion_tokens");

	if (json_is_integer(p) && json_integer_value(p) >= 0)
		*prompt = (long)json_integer_value(p);
	if (json_is_integer(c) && json_integer_value(c) >= 0)
		*completion = (long)json_integer_value(c);
}

static void set_finish(char dst[32], const json_t *fr)
{
	const char *v = json_string_value(fr);

	if (v)
		snprintf(dst, 32, "%s", v);
}

/* A body or event whose "error" is set: the server failed mid-way. */
static int server_error(const json_t *j, const char *what)
{
	struct buf b = BUF_INIT;
	char *txt = json_dumps(j, JSON_COMPACT);
	int e;

	llm_error_text(&b, txt, strlen(txt));
	e = ln_error_set(LN_EMODEL, "the model server sent an error %s: %s", what, b.data);
	free(txt);
	buf_release(&b);
	return e;
}

/* Content may be a string, null, or (some servers) an array of parts
 * {"type":"text","text":...}; appended to b. false when it is none of these. */
static bool add_content(struct buf *b, const json_t *content, bool *has)
{
	size_t i;
	json_t *part;

	if (!content || json_is_null(content))
		return true;
	if (json_is_string(content)) {
		buf_add(b, json_string_value(content), json_string_length(content));
		*has = true;
		return true;
	}
	if (!json_is_array(content))
		return false;
	json_array_foreach(content, i, part) {
		json_t *t = json_object_get(part, "text");
		if (!json_is_string(t))
			return false;
		buf_add(b, json_string_value(t), json_string_length(t));
		*has = true;
	}
	return true;
}

/* An "arguments" member as JSON text: a string as it is, an object or
 * array serialised (Ollama), absent or "" as "{}". */
static void add_arguments(struct buf *b, const json_t *a)
{
	if (json_is_string(a)) {
		buf_add(b, json_string_value(a), json_string_length(a));
	} else if (a && !json_is_null(a)) {
		char *t = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
		if (t)
			buf_adds(b, t);
		free(t);
	}
}

static json_t *tool_call_new(const char *id, size_t idlen, const char *name, size_t namelen,
			     const char *args, size_t argslen, int index)
{
	json_t *idj = idlen ? xjson_stringn_lossy(id, idlen) : json_sprintf("call_%d", index);

	return xjson_pack("{s:o, s:s, s:{s:o, s:o}}", "id", idj, "type", "function", "function",
			  "name", xjson_stringn_lossy(name, namelen), "arguments",
			  argslen ? xjson_stringn_lossy(args, argslen) : json_string("{}"));
}

int llm_parse_completion(const char *body, size_t len, struct llm_reply *out,
			 llm_delta_fn on_delta, void *ctx)
{
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr), *choice, *msg, *calls, *call, *tcs = NULL;
	struct buf content = BUF_INIT, args = BUF_INIT;
	bool has = false;
	int error = LN_EINPUT;
	size_t i;

	if (!j) {
		error = ln_error_set(LN_EINPUT, "the model server's reply is not JSON (line %d, column %d: %s)",
				     jerr.line, jerr.column, jerr.text);
		goto done;
	}
	if (!json_is_object(j)) {
		error = ln_error_set(LN_EINPUT, "the model server's reply is not a JSON object");
		goto done;
	}
	if (json_object_get(j, "error") && !json_is_null(json_object_get(j, "error"))) {
		error = server_error(j, "instead of a completion");
		goto done;
	}
	choice = json_array_get(json_object_get(j, "choices"), 0);
	msg = json_object_get(choice, "message");
	if (!json_is_object(msg)) {
		error = ln_error_set(LN_EINPUT, "the model server's reply has no choices[0].message object");
		goto done;
	}
	if (!add_content(&content, json_object_get(msg, "content"), &has)) {
		error = ln_error_set(LN_EINPUT, "choices[0].message.content is neither text nor null");
		goto done;
	}
	calls = json_object_get(msg, "tool_calls");
	if (calls && !json_is_null(calls)) {
		if (!json_is_array(calls) || json_array_size(calls) > LLM_MAX_TOOL_CALLS) {
			error = ln_error_set(LN_EINPUT, "choices[0].message.tool_calls is not an array of "
					     "at most %d calls", LLM_MAX_TOOL_CALLS);
			goto done;
		}
		tcs = json_array();
		json_array_foreach(calls, i, call) {
			json_t *fn = json_object_get(call, "function"), *id = json_object_get(call, "id");
			json_t *name = json_object_get(fn, "name");
			if (!json_is_string(name) || (id && !json_is_null(id) && !json_is_string(id))) {
				error = ln_error_set(LN_EINPUT, "tool_calls[%zu] has no function name "
						     "(or an id that is not a string)", i);
				goto done;
			}
			buf_reset(&args);
			add_arguments(&args, json_object_get(fn, "arguments"));
			json_array_append_new(tcs, tool_call_new(json_string_value(id),
								 id ? json_string_length(id) : 0,
								 json_string_value(name),
								 json_string_length(name), args.data,
								 args.len, (int)i));
		}
	}
	out->message = xjson_pack("{s:s, s:o}", "role", "assistant", "content",
				  has ? xjson_stringn_lossy(content.data, content.len) : json_null());
	if (tcs && json_array_size(tcs))
		json_object_set(out->message, "tool_calls", tcs);
	set_finish(out->finish_reason, json_object_get(choice, "finish_reason"));
	read_usage(json_object_get(j, "usage"), &out->prompt_tokens, &out->completion_tokens);
	if (on_delta && content.len)
		on_delta(ctx, content.data, content.len);
	error = 0;
done:
	json_decref(tcs);
	json_decref(j);
	buf_release(&content);
	buf_release(&args);
	return error;
}

/* One delta.tool_calls element. */
static int stream_tool_call(struct llm_stream *s, const json_t *tc, size_t pos)
{
	json_t *ix = json_object_get(tc, "index"), *fn = json_object_get(tc, "function");
	json_t *id = json_object_get(tc, "id"), *name = json_object_get(fn, "name");
	json_int_t index = ix ? (json_is_integer(ix) ? json_integer_value(ix) : -1) : (json_int_t)pos;
	struct llm_call_acc *a;

	if (!json_is_object(tc) || index < 0 || index >= LLM_MAX_TOOL_CALLS)
		return ln_error_set(LN_EINPUT, "event %zu: a streamed tool call has an index that is not "
				    "an integer in [0, %d)", s->events, LLM_MAX_TOOL_CALLS);
	a = &s->calls[index];
	a->used = true;
	if (index + 1 > s->ncalls)
		s->ncalls = (int)index + 1;
	/* The first piece names the call; later pieces may repeat the id and
	 * name (some servers do) and only add arguments. */
	if (json_is_string(id) && a->id.len == 0)
		buf_add(&a->id, json_string_value(id), json_string_length(id));
	if (json_is_string(name) && a->name.len == 0)
		buf_add(&a->name, json_string_value(name), json_string_length(name));
	add_arguments(&a->args, json_object_get(fn, "arguments"));
	return 0;
}

static int stream_event(struct llm_stream *s)
{
	json_error_t jerr;
	json_t *j, *choice, *delta, *tcs, *tc, *content;
	int error = 0;
	size_t i, before;
	bool has = false;

	if (s->done)
		return 0;
	if (s->data.len == 6 && !memcmp(s->data.data, "[DONE]", 6)) {
		s->done = true;
		return 0;
	}
	s->events++;
	j = json_loadb(s->data.data, s->data.len, 0, &jerr);
	if (!json_is_object(j)) {
		error = ln_error_set(LN_EINPUT, "event %zu of the model server's stream is not a JSON "
				     "object (column %d: %s)", s->events, jerr.column,
				     j ? "not an object" : jerr.text);
		goto done;
	}
	if (json_object_get(j, "error") && !json_is_null(json_object_get(j, "error"))) {
		error = server_error(j, "in its stream");
		goto done;
	}
	read_usage(json_object_get(j, "usage"), &s->prompt_tokens, &s->completion_tokens);
	choice = json_array_get(json_object_get(j, "choices"), 0);
	if (!choice)
		goto done;  /* e.g. the usage chunk */
	delta = json_object_get(choice, "delta");
	content = json_object_get(delta, "content");
	before = s->content.len;
	if (!add_content(&s->content, content, &has)) {
		error = ln_error_set(LN_EINPUT, "event %zu: delta.content is neither text nor null",
				     s->events);
		goto done;
	}
	if (has)
		s->has_content = true;
	if (s->content.len > before && s->on_delta) {
		s->deltas++;
		s->on_delta(s->ctx, s->content.data + before, s->content.len - before);
	}
	tcs = json_object_get(delta, "tool_calls");
	if (tcs && !json_is_null(tcs)) {
		if (!json_is_array(tcs)) {
			error = ln_error_set(LN_EINPUT, "event %zu: delta.tool_calls is not an array",
					     s->events);
			goto done;
		}
		json_array_foreach(tcs, i, tc)
			if ((error = stream_tool_call(s, tc, i)))
				goto done;
	}
	set_finish(s->finish_reason, json_object_get(choice, "finish_reason"));
done:
	json_decref(j);
	return error;
}

/* A complete line (without its end) of the event stream. */
static int stream_line(struct llm_stream *s, const char *l, size_t n)
{
	int error;

	if (n == 0) {           /* a blank line ends the event */
		if (!s->in_event)
			return 0;
		error = stream_event(s);
		buf_reset(&s->data);
		s->in_event = false;
		return error;
	}
	if (l[0] == ':')        /* a comment (keep-alive) */
		return 0;
	if (n >= 5 && !memcmp(l, "data:", 5)) {
		l += 5, n -= 5;
		if (n && l[0] == ' ')
			l++, n--;
		if (s->in_event)
			buf_addch(&s->data, '\n');
		buf_add(&s->data, l, n);
		s->in_event = true;
	}
	return 0;               /* event:, id:, retry: and unknown fields */
}

int llm_stream_feed(struct llm_stream *s, const char *p, size_t n)
{
	size_t i, start = 0;
	int error;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		buf_add(&s->line, p + start, i - start);
		start = i + 1;
		if (s->line.len && s->line.data[s->line.len - 1] == '\r')
			s->line.len--;
		error = stream_line(s, s->line.data, s->line.len);
		buf_reset(&s->line);
		if (error)
			return error;
	}
	buf_add(&s->line, p + start, n - start);
	return 0;
}

int llm_stream_finish(struct llm_stream *s, struct llm_reply *out)
{
	json_t *tcs;
	int error, i;

	if (s->line.len) {      /* a last line without its newline */
		if (s->line.data[s->line.len - 1] == '\r')
			s->line.len--;
		if ((error = stream_line(s, s->line.data, s->line.len)))
			return error;
		buf_reset(&s->line);
	}
	if (s->in_event) {
		error = stream_event(s);
		s->in_event = false;
		if (error)
			return error;
	}
	if (!s->done && !s->finish_reason[0])
		return ln_error_set(LN_EMODEL, "the model server's stream ended before its end "
				    "(no [DONE] and no finish_reason after %zu events)", s->events);
	tcs = json_array();
	for (i = 0; i < s->ncalls; i++) {
		struct llm_call_acc *a = &s->calls[i];
		if (!a->used)
			continue;
		if (a->name.len == 0) {
			json_decref(tcs);
			return ln_error_set(LN_EINPUT, "streamed tool call %d has no function name", i);
		}
		json_array_append_new(tcs, tool_call_new(a->id.data, a->id.len, a->name.data, a->name.len,
							 a->args.data, a->args.len, i));
	}
	out->message = xjson_pack("{s:s, s:o}", "role", "assistant", "content",
				  s->has_content ? xjson_stringn_lossy(s->content.data, s->content.len)
						 : json_null());
	if (json_array_size(tcs))
		json_object_set(out->message, "tool_calls", tcs);
	json_decref(tcs);
	memcpy(out->finish_reason, s->finish_reason, sizeof out->finish_reason);
	out->prompt_tokens = s->prompt_tokens;
	out->completion_tokens = s->completion_tokens;
	return 0;
}
