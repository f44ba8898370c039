/*
 * fuzz_llm.c - libFuzzer target for the model client's reply readers
 * (agent/llm_impl.h): a whole chat completion (first byte even) or a
 * server-sent event stream (first byte odd) from the rest of the input.
 *
 * Beyond "no crash, no sanitizer report, no leak", checks on every input:
 * a failure is LN_EINPUT or LN_EMODEL and leaves no message; a success
 * gives {"role": "assistant", "content": string or null, "tool_calls"?:
 * non-empty array of {"id": string, "type": "function", "function":
 * {"name": string, "arguments": string}}}; and a stream read whole and
 * read one byte at a time gives the same result and the same text deltas.
 */
#include "agent/llm_impl.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void collect(void *ctx, const char *text, size_t len)
{
	buf_add(ctx, text, len);
}

static void check_message(const json_t *m)
{
	json_t *c = json_object_get(m, "content"), *tcs = json_object_get(m, "tool_calls"), *tc;
	size_t i;

	if (!json_is_object(m) || strcmp(json_string_value(json_object_get(m, "role")), "assistant"))
		abort();
	if (!json_is_string(c) && !json_is_null(c))
		abort();
	if (!tcs)
		return;
	if (!json_is_array(tcs) || !json_array_size(tcs) || json_array_size(tcs) > LLM_MAX_TOOL_CALLS)
		abort();
	json_array_foreach(tcs, i, tc) {
		json_t *fn = json_object_get(tc, "function");
		if (!json_is_string(json_object_get(tc, "id")) ||
		    !json_is_string(json_object_get(fn, "name")) ||
		    !json_is_string(json_object_get(fn, "arguments")))
			abort();
	}
}

/* Reads the stream fed in pieces of `step` bytes (0: whole). */
static int read_stream(const char *p, size_t n, size_t step, struct llm_reply *r, struct buf *deltas)
{
	struct llm_stream s;
	int e = 0;
	size_t i;

	llm_stream_init(&s, collect, deltas);
	if (!step) {
		e = llm_stream_feed(&s, p, n);
	} else {
		for (i = 0; i < n && !e; i += step)
			e = llm_stream_feed(&s, p + i, n - i < step ? n - i : step);
	}
	if (!e)
		e = llm_stream_finish(&s, r);
	llm_stream_release(&s);
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llm_reply a = { 0 }, b = { 0 };
	struct buf da = BUF_INIT, db = BUF_INIT;
	const char *p = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	int ea, eb;

	if (size == 0)
		return 0;
	if (!(data[0] & 1)) {
		ea = llm_parse_completion(p, n, &a, collect, &da);
		if (ea && ea != LN_EINPUT && ea != LN_EMODEL)
			abort();
		if (ea ? a.message != NULL : a.message == NULL)
			abort();
		if (!ea)
			check_message(a.message);
		goto done;
	}
	ea = read_stream(p, n, 0, &a, &da);
	eb = read_stream(p, n, 1, &b, &db);
	if (ea != eb || (ea && ea != LN_EINPUT && ea != LN_EMODEL))
		abort();
	if (da.len != db.len || memcmp(da.data, db.data, da.len))
		abort();
	if (!ea) {
		check_message(a.message);
		if (!json_equal(a.message, b.message) || strcmp(a.finish_reason, b.finish_reason) ||
		    a.prompt_tokens != b.prompt_tokens || a.completion_tokens != b.completion_tokens)
			abort();
	}
done:
	json_decref(a.message);
	json_decref(b.message);
	buf_release(&da);
	buf_release(&db);
	return 0;
}
