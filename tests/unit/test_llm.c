/*
 * test_llm.c - the model client (agent/llm.h).
 *
 * The TEST()s feed the reply readers bytes without a network: event
 * streams split at every byte, tool calls in fragments, malformed and
 * truncated replies, error bodies, Retry-After, and where settings come
 * from. The transport is tested over real HTTP by
 * tests/integration/t_llm.sh, which starts tests/model/fake_openai.py and
 * runs this binary's driver mode:
 *
 *   tests/unit/run __llm --url URL [--model M] [--stream] [--retries N]
 *       [--timeout MS] [--connect-timeout MS] [--max-response N]
 *       [--backoff MS] [--max-wait MS] [--sampling JSON] [--tools JSON]
 *       [--messages JSON] [--chats N] [--root DIR [--trust]] [--key-env NAME]
 *
 * It prints one JSON line per chat {"rc", "status", "message", "finish_reason",
 * "prompt_tokens", "completion_tokens", "http_status", "attempts",
 * "deltas": [...], "base_url_from"}, "lanser: MESSAGE" on stderr for an
 * error, and exits with the error's exit code. Without --url the base URL
 * comes from OPENAI_BASE_URL or the configuration under --root. SIGINT
 * sets the cancel flag.
 */
#include "tests/unit/harness.h"
#include "agent/llm.h"
#include "agent/llm_impl.h"
#include "core/config.h"
#include "core/err.h"
#include "core/trust.h"
#include "core/xjson.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

struct deltas {
	struct buf all;
	int calls;
};

static void collect(void *ctx, const char *text, size_t len)
{
	struct deltas *d = ctx;

	buf_add(&d->all, text, len);
	d->calls++;
}

static const char sse_sample[] =
	": keep-alive\r\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	"event: message\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\u00e9\"}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\","
	"\"type\":\"function\",\"function\":{\"name\":\"def\",\"arguments\":\"\"}}]}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"c2\","
	"\"function\":{\"name\":\"read\",\"arguments\":\"{\\\"pa\"}}]}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
	"\"function\":{\"arguments\":\"{\\\"sel\\\":\"}}]}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
	"\"function\":{\"arguments\":\"\\\"a.c@L1\\\"}\"}}]}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,"
	"\"function\":{\"arguments\":\"th\\\":\\\"x\\\"}\"}}]}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5}}\n\n"
	"data: [DONE]\n\n";

/* Feeds text in pieces of `step` bytes (0: all at once). */
static int feed(struct llm_stream *s, const char *text, size_t step)
{
	size_t n = strlen(text), i;
	int e;

	if (!step)
		return llm_stream_feed(s, text, n);
	for (i = 0; i < n; i += step)
		if ((e = llm_stream_feed(s, text + i, n - i < step ? n - i : step)))
			return e;
	return 0;
}

/* ---- event streams ------------------------------------------------------ */

TEST(llm_stream__assembles_content_and_tool_calls_split_at_every_byte)
{
	static const size_t steps[] = { 0, 1, 2, 3, 7, 64 };

	for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
		struct llm_stream s;
		struct llm_reply r = { 0 };
		struct deltas d = { BUF_INIT, 0 };
		json_t *calls;
		char *args0, *args1;

		llm_stream_init(&s, collect, &d);
		CHECK_EQ_INT(feed(&s, sse_sample, steps[k]), 0);
		CHECK_EQ_INT(llm_stream_finish(&s, &r), 0);
		CHECK_EQ_STR(json_string_value(json_object_get(r.message, "content")), "Hello \xc3\xa9");
		CHECK_EQ_STR(d.all.data, "Hello \xc3\xa9");
		CHECK_EQ_STR(r.finish_reason, "tool_calls");
		CHECK_EQ_INT(r.prompt_tokens, 12);
		CHECK_EQ_INT(r.completion_tokens, 5);
		calls = json_object_get(r.message, "tool_calls");
		CHECK_EQ_INT(json_array_size(calls), 2);
		args0 = (char *)json_string_value(json_object_get(json_object_get(json_array_get(calls, 0),
									  "function"), "arguments"));
		args1 = (char *)json_string_value(json_object_get(json_object_get(json_array_get(calls, 1),
									  "function"), "arguments"));
		CHECK_EQ_STR(args0, "{\"sel\":\"a.c@L1\"}");
		CHECK_EQ_STR(args1, "{\"path\":\"x\"}");
		CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(calls, 1), "id")), "c2");
		CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_array_get(calls, 0),
						 "function"), "name")), "def");
		llm_reply_release(&r);
		llm_stream_release(&s);
		buf_release(&d.all);
	}
}

TEST(llm_stream__multi_line_data_and_a_last_event_without_blank_line)
{
	struct llm_stream s;
	struct llm_reply r = { 0 };

	llm_stream_init(&s, NULL, NULL);
	CHECK_EQ_INT(feed(&s, "data: {\"choices\":[{\"index\":0,\n"
			      "data: \"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}", 5), 0);
	CHECK_EQ_INT(llm_stream_finish(&s, &r), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(r.message, "content")), "ok");
	CHECK(!json_object_get(r.message, "tool_calls"));
	CHECK_EQ_STR(r.finish_reason, "stop");
	CHECK_EQ_INT(r.prompt_tokens, -1);
	llm_reply_release(&r);
	llm_stream_release(&s);
}

TEST(llm_stream__ends_before_done_is_a_truncated_stream)
{
	struct llm_stream s;
	struct llm_reply r = { 0 };

	llm_stream_init(&s, NULL, NULL);
	CHECK_EQ_INT(feed(&s, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n", 0), 0);
	CHECK_EQ_INT(llm_stream_finish(&s, &r), LN_EMODEL);
	CHECK(strstr(ln_error_msg(), "ended before its end") != NULL);
	CHECK(r.message == NULL);
	llm_stream_release(&s);
}

TEST(llm_stream__rejects_malformed_events)
{
	static const char *const bad[] = {
		"data: {not json\n\n",
		"data: [1,2]\n\n",
		"data: {\"choices\":[{\"delta\":{\"content\":5}}]}\n\n",
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":{}}}]}\n\n",
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":128}]}}]}\n\n",
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}\n\n",
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":\"0\"}]}}]}\n\n",
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[7]}}]}\n\n",
		NULL,
	};
	for (int i = 0; bad[i]; i++) {
		struct llm_stream s;
		llm_stream_init(&s, NULL, NULL);
		if (feed(&s, bad[i], 0) != LN_EINPUT) {
			test_fail(__FILE__, __LINE__, "case %d not LN_EINPUT: %s", i, bad[i]);
			llm_stream_release(&s);
			return;
		}
		llm_stream_release(&s);
	}
}

TEST(llm_stream__a_tool_call_without_a_name_is_malformed)
{
	struct llm_stream s;
	struct llm_reply r = { 0 };

	llm_stream_init(&s, NULL, NULL);
	CHECK_EQ_INT(feed(&s, "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
			      "{\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n",
			  0), 0);
	CHECK_EQ_INT(llm_stream_finish(&s, &r), LN_EINPUT);
	llm_stream_release(&s);
}

TEST(llm_stream__an_error_event_is_the_servers_error)
{
	struct llm_stream s;

	llm_stream_init(&s, NULL, NULL);
	CHECK_EQ_INT(feed(&s, "data: {\"error\":{\"message\":\"out of memory on GPU\"}}\n\n", 0), LN_EMODEL);
	CHECK(strstr(ln_error_msg(), "out of memory on GPU") != NULL);
	llm_stream_release(&s);
}

/* ---- whole completions -------------------------------------------------- */

TEST(llm_parse__completion_with_tool_calls_and_usage)
{
	const char *body = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
			   "\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\",\"function\":"
			   "{\"name\":\"refs\",\"arguments\":\"{\\\"sel\\\":\\\"x\\\"}\"}},"
			   "{\"function\":{\"name\":\"finish\",\"arguments\":{\"ok\":true}}}]},"
			   "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":100,"
			   "\"completion_tokens\":20}}";
	struct llm_reply r = { 0 };
	struct deltas d = { BUF_INIT, 0 };
	json_t *calls;

	r.prompt_tokens = r.completion_tokens = -1;
	CHECK_EQ_INT(llm_parse_completion(body, strlen(body), &r, collect, &d), 0);
	CHECK(json_is_null(json_object_get(r.message, "content")));
	CHECK_EQ_INT(d.calls, 0);
	calls = json_object_get(r.message, "tool_calls");
	CHECK_EQ_INT(json_array_size(calls), 2);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(calls, 1), "id")), "call_1");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_array_get(calls, 1), "function"),
						       "arguments")), "{\"ok\":true}");
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(calls, 0), "type")), "function");
	CHECK_EQ_STR(r.finish_reason, "tool_calls");
	CHECK_EQ_INT(r.prompt_tokens, 100);
	CHECK_EQ_INT(r.completion_tokens, 20);
	llm_reply_release(&r);
	buf_release(&d.all);
}

TEST(llm_parse__content_is_handed_to_on_delta_once)
{
	const char *body = "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
			   "{\"type\":\"text\",\"text\":\"b\"}]},\"finish_reason\":\"stop\"}]}";
	struct llm_reply r = { 0 };
	struct deltas d = { BUF_INIT, 0 };

	CHECK_EQ_INT(llm_parse_completion(body, strlen(body), &r, collect, &d), 0);
	CHECK_EQ_INT(d.calls, 1);
	CHECK_EQ_STR(d.all.data, "ab");
	CHECK_EQ_STR(json_string_value(json_object_get(r.message, "content")), "ab");
	llm_reply_release(&r);
	buf_release(&d.all);
}

TEST(llm_parse__malformed_completions_are_bad_input)
{
	static const char *const bad[] = {
		"", "{", "[]", "{\"choices\":[]}", "{\"choices\":[{\"message\":\"hi\"}]}",
		"{\"choices\":[{\"message\":{\"content\":3}}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":{}}}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{}}]}}]}",
		"{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":5,\"function\":{\"name\":\"x\"}}]}}]}",
		NULL,
	};
	for (int i = 0; bad[i]; i++) {
		struct llm_reply r = { 0 };
		int e = llm_parse_completion(bad[i], strlen(bad[i]), &r, NULL, NULL);
		if (e != LN_EINPUT || r.message) {
			test_fail(__FILE__, __LINE__, "case %d (%s): %d", i, bad[i], e);
			llm_reply_release(&r);
			return;
		}
	}
}

TEST(llm_parse__error_text_prefers_the_servers_message_and_scrubs_the_key)
{
	struct buf b = BUF_INIT;
	char msg[256];

	const char *e1 = "{\"error\":{\"message\":\"Incorrect API key sk-SECRET123\",\"type\":\"x\"}}";
	const char *e3 = "<html>\x1b[31m</html>\n";

	llm_error_text(&b, e1, strlen(e1));
	snprintf(msg, sizeof msg, "%s", b.data);
	llm_scrub(msg, "sk-SECRET123");
	CHECK_EQ_STR(msg, "Incorrect API key ***");
	buf_reset(&b);
	llm_error_text(&b, "{\"detail\":\"Not Found\"}", 22);
	CHECK_EQ_STR(b.data, "Not Found");
	buf_reset(&b);
	llm_error_text(&b, e3, strlen(e3));
	CHECK_EQ_STR(b.data, "<html>\\x1b[31m</html>");
	buf_reset(&b);
	llm_error_text(&b, "", 0);
	CHECK_EQ_STR(b.data, "(empty body)");
	buf_release(&b);
	snprintf(msg, sizeof msg, "kk a kk");
	llm_scrub(msg, "kk");
	CHECK_EQ_STR(msg, "** a **");
}

TEST(llm_parse__retry_after_seconds)
{
	CHECK_EQ_INT(llm_retry_after_parse(" 3\r\n", 4), 3);
	CHECK_EQ_INT(llm_retry_after_parse("120", 3), 120);
	CHECK_EQ_INT(llm_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 29), -1);
	CHECK_EQ_INT(llm_retry_after_parse("", 0), -1);
	CHECK_EQ_INT(llm_retry_after_parse("-1", 2), -1);
	CHECK_EQ_INT(llm_retry_after_parse("99999999999999999999999", 23), 86400);
}

/* ---- settings ----------------------------------------------------------- */

static void save_env(const char *name, char **saved)
{
	const char *v = getenv(name);
	*saved = v ? strdup(v) : NULL;
	unsetenv(name);
}

static void restore_env(const char *name, char *saved)
{
	if (saved)
		setenv(name, saved, 1);
	else
		unsetenv(name);
	free(saved);
}

TEST(llm_config__flag_beats_environment_beats_configuration)
{
	struct ln_config cfg = { 0 };
	struct llm_opts o;
	struct llm_settings s;
	struct llm_flags f = { 0 };
	char *sb, *sk, *sm;
	int e1, e2, e3, e4;
	char from1[32], from2[32], from3[32], key3[32], model3[32];

	save_env("OPENAI_BASE_URL", &sb);
	save_env("OPENAI_API_KEY", &sk);
	save_env("OPENAI_MODEL", &sm);
	cfg.json = json_loads("{\"model\":{\"baseUrl\":\"http://cfg/v1\",\"model\":\"m-cfg\",\"apiKeyEnv\":"
			      "\"LLM_TEST_KEY\",\"retries\":0,\"stream\":true,\"sampling\":{\"temperature\":0.5,"
			      "\"seed\":1}}}", 0, NULL);
	setenv("LLM_TEST_KEY", "from-cfg-var", 1);
	setenv("OPENAI_API_KEY", "from-openai-var", 1);

	e1 = llm_opts_resolve(&o, &s, &cfg, NULL);
	snprintf(from1, sizeof from1, "%s|%s", o.base_url ? o.base_url : "", s.base_url_from);
	snprintf(key3, sizeof key3, "%s", o.api_key ? o.api_key : "");
	snprintf(model3, sizeof model3, "%s", o.model ? o.model : "");
	CHECK(o.retries < 0 && o.stream);
	CHECK_EQ_DBL(json_real_value(json_object_get(o.sampling, "temperature")), 0.5, 0);
	llm_settings_release(&s);

	setenv("OPENAI_BASE_URL", "http://env/v1", 1);
	e2 = llm_opts_resolve(&o, &s, &cfg, NULL);
	snprintf(from2, sizeof from2, "%s|%s", o.base_url ? o.base_url : "", s.base_url_from);
	llm_settings_release(&s);

	f.base_url = "http://flag/v1";
	f.stream = -1;
	f.sampling = json_pack("{s:f}", "temperature", 0.0);
	e3 = llm_opts_resolve(&o, &s, &cfg, &f);
	snprintf(from3, sizeof from3, "%s|%s", o.base_url ? o.base_url : "", s.base_url_from);
	CHECK(!o.stream);
	CHECK_EQ_DBL(json_real_value(json_object_get(o.sampling, "temperature")), 0.0, 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(o.sampling, "seed")), 1);
	llm_settings_release(&s);
	json_decref((json_t *)f.sampling);

	unsetenv("OPENAI_BASE_URL");
	json_object_del(json_object_get(cfg.json, "model"), "baseUrl");
	e4 = llm_opts_resolve(&o, &s, &cfg, NULL);
	llm_settings_release(&s);

	json_decref(cfg.json);
	unsetenv("LLM_TEST_KEY");
	restore_env("OPENAI_BASE_URL", sb);
	restore_env("OPENAI_API_KEY", sk);
	restore_env("OPENAI_MODEL", sm);
	CHECK_EQ_INT(e1, 0);
	CHECK_EQ_STR(from1, "http://cfg/v1|.lanser.json");
	CHECK_EQ_STR(key3, "from-cfg-var");
	CHECK_EQ_STR(model3, "m-cfg");
	CHECK_EQ_INT(e2, 0);
	CHECK_EQ_STR(from2, "http://env/v1|OPENAI_BASE_URL");
	CHECK_EQ_INT(e3, 0);
	CHECK_EQ_STR(from3, "http://flag/v1|flag");
	CHECK_EQ_INT(e4, LN_ECONFIG);
}

TEST(llm_config__wrong_types_are_bad_config)
{
	static const char *const bad[] = {
		"{\"model\":3}", "{\"model\":{\"baseUrl\":1}}", "{\"model\":{\"retries\":-1}}",
		"{\"model\":{\"stream\":\"yes\"}}", "{\"model\":{\"sampling\":[]}}",
		"{\"model\":{\"apiKeyEnv\":\"A B\"}}", "{\"model\":{\"basurl\":\"http://x\"}}", NULL,
	};
	for (int i = 0; bad[i]; i++) {
		struct ln_config cfg = { 0 };
		struct llm_opts o;
		struct llm_settings s;
		struct llm_flags f = { .base_url = "http://x/v1" };
		int e;

		cfg.json = json_loads(bad[i], 0, NULL);
		e = llm_opts_resolve(&o, &s, &cfg, &f);
		llm_settings_release(&s);
		json_decref(cfg.json);
		if (e != LN_ECONFIG) {
			test_fail(__FILE__, __LINE__, "case %d (%s): %d", i, bad[i], e);
			return;
		}
	}
}

TEST(llm_config__untrusted_configuration_loses_where_the_key_goes)
{
	json_t *cfg = json_loads("{\"model\": {\"baseUrl\": \"http://evil/v1\", \"apiKeyEnv\": \"AWS_SECRET\","
				 " \"model\": \"m\", \"sampling\": {\"seed\": 1}}}", 0, NULL);
	json_t *ign;
	char *a, *b;

	CHECK(cfg != NULL);
	ign = ln_trust_filter(cfg);
	a = json_dumps(ign, JSON_COMPACT);
	b = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(ign);
	json_decref(cfg);
	CHECK_EQ_STR(a, "[\"model.apiKeyEnv\",\"model.baseUrl\"]");
	CHECK_EQ_STR(b, "{\"model\":{\"model\":\"m\",\"sampling\":{\"seed\":1}}}");
	free(a);
	free(b);
}

TEST(llm_open__refuses_urls_that_are_not_http)
{
	struct llm_client *c = NULL;
	struct llm_opts o = { .base_url = "file:///etc/passwd" };

	CHECK_EQ_INT(llm_open(&c, &o), LN_EUSAGE);
	CHECK(c == NULL);
	o.base_url = "ftp://x/v1";
	CHECK_EQ_INT(llm_open(&c, &o), LN_EUSAGE);
	o.base_url = "http://user:pw@127.0.0.1:9/v1/";
	CHECK_EQ_INT(llm_open(&c, &o), 0);
	llm_close(c);
}

/* The client keeps its own copy of the sampling parameters: the caller's
 * object (agent/agentcmd.c frees it with the settings it came from) may be
 * gone before the first request. The request body is built before any
 * connection: a member the client owns is still refused, an allowed one
 * gets as far as the (refused) connection. */
TEST(llm_open__keeps_its_own_sampling)
{
	struct llm_client *c = NULL;
	struct llm_opts o = { .base_url = "http://127.0.0.1:1/v1", .retries = -1,
			      .connect_timeout_ms = 2000, .timeout_ms = 2000 };
	struct llm_reply r;
	json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "hi");

	o.sampling = json_pack("{s:f, s:s}", "temperature", 0.5, "model", "mine");
	CHECK_EQ_INT(llm_open(&c, &o), 0);
	json_decref(o.sampling);
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(llm_chat(c, msgs, NULL, NULL, NULL, &r), LN_EUSAGE);
	CHECK(strstr(ln_error_msg(), "\"model\"") != NULL);
	llm_reply_release(&r);
	llm_close(c);

	o.sampling = json_pack("{s:f, s:i}", "temperature", 0.5, "seed", 7);
	CHECK_EQ_INT(llm_open(&c, &o), 0);
	json_decref(o.sampling);
	memset(&r, 0, sizeof r);
	CHECK(llm_chat(c, msgs, NULL, NULL, NULL, &r) != LN_EUSAGE);
	llm_reply_release(&r);
	llm_close(c);
	json_decref(msgs);
}

/* ---- the driver for tests/integration/t_llm.sh -------------------------- */

static volatile sig_atomic_t drv_cancel;

static void on_sigint(int sig)
{
	drv_cancel = 1;
}

static void drv_delta(void *ctx, const char *text, size_t len)
{
	json_array_append_new(ctx, xjson_stringn_lossy(text, len));
}

static json_t *drv_json(const char *opt, const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!j)
		fprintf(stderr, "lanser: %s: %s\n", opt, jerr.text);
	return j;
}

int test_llm_main(int argc, char **argv)
{
	struct llm_flags f = { 0 };
	struct llm_opts o;
	struct llm_settings s = { 0 };
	struct ln_config cfg = { 0 };
	struct llm_client *c = NULL;
	json_t *messages = NULL, *tools = NULL, *sampling = NULL;
	const char *root = NULL;
	int chats = 1, backoff = 0, max_wait = 0, error = 0, i;
	struct sigaction sa = { .sa_handler = on_sigint };

	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;
		if (!strcmp(a, "--stream")) {
			f.stream = 1;
			takes = false;
		} else if (!strcmp(a, "--trust")) {
			ln_trust_set_cli(true, NULL);
			takes = false;
		} else if (!v) {
			fprintf(stderr, "lanser: %s needs a value\n", a);
			return 129;
		} else if (!strcmp(a, "--url")) {
			f.base_url = v;
		} else if (!strcmp(a, "--model")) {
			f.model = v;
		} else if (!strcmp(a, "--key-env")) {
			f.api_key_env = v;
		} else if (!strcmp(a, "--retries")) {
			f.retries = atoi(v);
		} else if (!strcmp(a, "--timeout")) {
			f.timeout_ms = atoi(v);
		} else if (!strcmp(a, "--connect-timeout")) {
			f.connect_timeout_ms = atoi(v);
		} else if (!strcmp(a, "--max-response")) {
			f.max_response = (size_t)atol(v);
		} else if (!strcmp(a, "--backoff")) {
			backoff = atoi(v);
		} else if (!strcmp(a, "--max-wait")) {
			max_wait = atoi(v);
		} else if (!strcmp(a, "--chats")) {
			chats = atoi(v);
		} else if (!strcmp(a, "--root")) {
			root = v;
		} else if (!strcmp(a, "--sampling")) {
			if (!(sampling = drv_json(a, v)))
				return 129;
			f.sampling = sampling;
		} else if (!strcmp(a, "--messages")) {
			if (!(messages = drv_json(a, v)))
				return 129;
		} else if (!strcmp(a, "--tools")) {
			if (!(tools = drv_json(a, v)))
				return 129;
		} else {
			fprintf(stderr, "lanser: unknown option %s\n", a);
			return 129;
		}
		i += takes;
	}
	sigaction(SIGINT, &sa, NULL);
	if (!messages)
		messages = xjson_pack("[{s:s, s:s}]", "role", "user", "content", "Say hello.");
	if (root && (error = ln_config_load(&cfg, root)))
		goto done;
	if ((error = llm_opts_resolve(&o, &s, root ? &cfg : NULL, &f)))
		goto done;
	o.cancel = &drv_cancel;
	o.backoff_ms = backoff;
	o.max_wait_ms = max_wait;
	if ((error = llm_open(&c, &o)))
		goto done;
	for (i = 0; i < chats; i++) {
		struct llm_reply r;
		json_t *deltas = json_array(), *line;
		char *txt;

		error = llm_chat(c, messages, tools, drv_delta, deltas, &r);
		line = xjson_pack("{s:i, s:s, s:O?, s:s, s:I, s:I, s:i, s:i, s:o, s:s}", "rc", error,
				  "status", ln_err_name(error), "message", r.message, "finish_reason",
				  r.finish_reason, "prompt_tokens", (json_int_t)r.prompt_tokens,
				  "completion_tokens", (json_int_t)r.completion_tokens, "http_status",
				  r.http_status, "attempts", r.attempts, "deltas", deltas, "base_url_from",
				  s.base_url_from ? s.base_url_from : "");
		txt = json_dumps(line, JSON_COMPACT);
		printf("%s\n", txt);
		fflush(stdout);
		free(txt);
		json_decref(line);
		llm_reply_release(&r);
		if (error)
			break;
	}
done:
	if (error)
		fprintf(stderr, "lanser: %s\n", ln_error_msg());
	llm_close(c);
	llm_settings_release(&s);
	if (root)
		ln_config_release(&cfg);
	json_decref(messages);
	json_decref(tools);
	json_decref(sampling);
	return ln_exit_code(error);
}
