/* The trace file (rewards/tracefile.h): writing under concurrency, strict
 * reading; and the replaying LSP session (lsp/session.h) in lockstep. */
#include "tests/unit/harness.h"
#include "core/buf.h"
#include "core/err.h"
#include "lsp/session.h"
#include "rewards/tracefile.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmpfile_path(const char *name)
{
	static char path[256];
	snprintf(path, sizeof path, "/tmp/lanser-test-trace-%d-%s", (int)getpid(), name);
	unlink(path);
	return path;
}

TEST(test_trace__write_then_read_back)
{
	char *path = tmpfile_path("rw");
	struct rwd_trace *t;
	struct rwd_trace_file f;

	CHECK_EQ_INT(rwd_trace_open(&t, path, json_pack("{s:s}", "lanser", "0.1.0")), 0);
	CHECK_EQ_INT(rwd_trace_event(t, "reward", json_pack("{s:s, s:{}, s:f}", "kind", "step",
							    "terms", "reward", 0.5)), 0);
	CHECK_EQ_INT(rwd_trace_event(t, "end", json_pack("{s:i}", "exitCode", 0)), 0);
	CHECK_EQ_INT(rwd_trace_close(t), 0);
	CHECK_EQ_INT(rwd_trace_read(&f, path), 0);
	CHECK_EQ_INT(f.n, 3);
	CHECK_EQ_STR(f.v[0].type, "header");
	CHECK_EQ_STR(json_string_value(json_object_get(f.v[0].ev, "schema")), RWD_TRACE_SCHEMA);
	CHECK_EQ_INT(f.v[2].seq, 2);
	CHECK_EQ_INT(f.v[2].line, 3);
	CHECK_EQ_STR(f.v[1].run, f.v[0].run);
	rwd_trace_file_release(&f);
	unlink(path);
}

TEST(test_trace__concurrent_writers_never_interleave)
{
	/* 8 processes x 300 events of ~3 KiB each into one file */
	char *path = tmpfile_path("conc");
	struct rwd_trace_file f;
	int i, status, ok = 1;

	for (i = 0; i < 8; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct rwd_trace *t;
			char big[3000];
			int k;
			memset(big, 'a' + i, sizeof big - 1);
			big[sizeof big - 1] = '\0';
			if (rwd_trace_open(&t, path, NULL))
				_exit(1);
			for (k = 0; k < 300; k++)
				if (rwd_trace_event(t, "note", json_pack("{s:s, s:i}", "text", big, "k", k)))
					_exit(1);
			_exit(rwd_trace_close(t) ? 1 : 0);
		}
	}
	for (i = 0; i < 8; i++) {
		wait(&status);
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	CHECK(ok);
	CHECK_EQ_INT(rwd_trace_read(&f, path), 0);
	CHECK_EQ_INT(f.n, 8 * 301);
	rwd_trace_file_release(&f);
	unlink(path);
}

static int parse(const char *text, struct rwd_trace_file *f)
{
	return rwd_trace_parse(f, "t.jsonl", text, strlen(text));
}

#define H(run) "{\"lanser\":\"x\",\"run\":\"" run "\",\"schema\":\"lanser.trace/1\",\"seq\":0,\"type\":\"header\"}\n"

TEST(test_trace__reader_rejects_malformed_traces_with_the_line)
{
	struct rwd_trace_file f;

	CHECK_EQ_INT(parse(H("a") "{\"type\":\"end\",\"run\":\"a\",\"seq\":1,\"exitCode\":0}", &f),
		     LN_ETRACE);
	CHECK(strstr(ln_error_msg(), "t.jsonl:2: truncated"));
	CHECK_EQ_INT(parse(H("a") "{\"type\":\"end\",\"run\":\"a\",\"seq\":2,\"exitCode\":0}\n", &f),
		     LN_ETRACE);
	CHECK(strstr(ln_error_msg(), "t.jsonl:2: run a: event seq 2 where 1 comes next"));
	CHECK_EQ_INT(parse("{\"type\":\"end\",\"run\":\"b\",\"seq\":1,\"exitCode\":0}\n", &f),
		     LN_ETRACE);
	CHECK(strstr(ln_error_msg(), "t.jsonl:1: event of run b before its header"));
	CHECK_EQ_INT(parse(H("a") H("a"), &f), LN_ETRACE);
	CHECK(strstr(ln_error_msg(), "t.jsonl:2: a second header"));
	CHECK_EQ_INT(parse(H("a") "{nope\n", &f), LN_ETRACE);
	CHECK(strstr(ln_error_msg(), "t.jsonl:2: not JSON"));
	CHECK_EQ_INT(parse(H("a") "[1,2]\n", &f), LN_ETRACE);
	CHECK(strstr(ln_error_msg(), "t.jsonl:2: not a trace event"));
	CHECK_EQ_INT(parse(H("a") "{\"type\":\"frame\",\"run\":\"a\",\"seq\":1,\"server\":\"s\","
			   "\"dir\":\"?\",\"body\":\"{}\"}\n", &f), LN_ETRACE);
	CHECK(strstr(ln_error_msg(), "frame dir"));
	CHECK_EQ_INT(parse(H("a") "{\"type\":\"bundle\",\"run\":\"a\",\"seq\":1}\n", &f), LN_ETRACE);
	CHECK(strstr(ln_error_msg(), "bundle event without a valid \"bundle\""));
	/* a version this lanser does not know is refused; 1 and 2 are read */
	CHECK_EQ_INT(parse("{\"lanser\":\"x\",\"run\":\"a\",\"schema\":\"lanser.trace/3\",\"seq\":0,"
			   "\"type\":\"header\"}\n", &f), LN_EVERSION);
	CHECK_EQ_INT(parse("{\"lanser\":\"x\",\"run\":\"a\",\"schema\":\"lanser.trace/2\",\"seq\":0,"
			   "\"type\":\"header\"}\n", &f), 0);
	rwd_trace_file_release(&f);
	CHECK_EQ_INT(parse("{\"lanser\":\"x\",\"run\":\"a\",\"schema\":\"lanser.trace/1\",\"seq\":0,"
			   "\"type\":\"header\"}\n", &f), 0);
	rwd_trace_file_release(&f);
	CHECK_EQ_INT(parse("", &f), LN_ETRACE);
	CHECK_EQ_INT(parse(H("a") "{\"type\":\"end\",\"run\":\"a\",\"seq\":1,\"exitCode\":0,"
			   "\"exitCode\":1}\n", &f), LN_ETRACE); /* duplicate keys */
	/* interleaved runs are fine */
	CHECK_EQ_INT(parse(H("a") H("b") "{\"type\":\"end\",\"run\":\"b\",\"seq\":1,\"exitCode\":0}\n"
			   "{\"type\":\"end\",\"run\":\"a\",\"seq\":1,\"exitCode\":0}\n", &f), 0);
	CHECK_EQ_INT(f.n, 4);
	rwd_trace_file_release(&f);
}

/* ---- a replaying session ---- */

struct script {
	struct lsp_replay_item *v;
	size_t n, pos;
};

static int s_peek(void *ctx, struct lsp_replay_item *out)
{
	struct script *s = ctx;
	if (s->pos >= s->n)
		return 0;
	*out = s->v[s->pos];
	return 1;
}

static void s_advance(void *ctx)
{
	((struct script *)ctx)->pos++;
}

static json_t *snapshot(void)
{
	return json_pack("{s:s, s:s, s:{s:b}, s:s, s:i, s:i, s:i, s:s, s:[], s:[]}", "name", "fake",
			 "root", "/w", "capabilities", "definitionProvider", 1, "encoding", "utf-16",
			 "nextId", 4, "seq", 10, "error", 0, "errmsg", "", "docs", "progress");
}

#define ITEM(d, b, l) { d, b, sizeof(b) - 1, l }

TEST(test_trace__replay_session_answers_from_the_recording)
{
	/* request #5: sent, one empty pump, then the answer in the next pump */
	struct lsp_replay_item items[] = {
		ITEM('>', "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"textDocument/hover\"}", 10),
		ITEM('p', "{\"n\":0}", 11),
		ITEM('<', "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"contents\":\"int x\"}}", 12),
		ITEM('p', "{\"n\":1}", 13),
	};
	struct script sc = { items, 4, 0 };
	struct lsp_replay src = { s_peek, s_advance, &sc };
	struct lsp_session *s;
	json_t *snap = snapshot(), *res = NULL;

	CHECK_EQ_INT(lsp_session_replay_new(&s, snap, &src), 0);
	json_decref(snap);
	CHECK(lsp_session_has_capability(s, "definitionProvider"));
	CHECK_EQ_INT(lsp_session_request(s, &res, "textDocument/hover", NULL, 1000), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(res, "contents")), "int x");
	CHECK_EQ_INT(sc.pos, 4);
	json_decref(res);
	lsp_session_free(s);
}

TEST(test_trace__replay_session_detects_divergence_and_deadlines)
{
	struct lsp_replay_item items[] = {
		ITEM('>', "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"textDocument/definition\"}", 20),
	};
	struct lsp_replay_item timed[] = {
		ITEM('>', "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"textDocument/hover\"}", 30),
		ITEM('p', "{\"n\":0}", 31),
		ITEM('d', "{}", 32),
		ITEM('>', "{\"jsonrpc\":\"2.0\",\"method\":\"$/cancelRequest\",\"params\":{\"id\":5}}", 33),
		ITEM('p', "{\"n\":0}", 34),
	};
	struct script sc = { items, 1, 0 }, sc2 = { timed, 5, 0 };
	struct lsp_replay src = { s_peek, s_advance, &sc }, src2 = { s_peek, s_advance, &sc2 };
	struct lsp_session *s;
	json_t *snap = snapshot(), *res = NULL;

	CHECK_EQ_INT(lsp_session_replay_new(&s, snap, &src), 0);
	CHECK_EQ_INT(lsp_session_request(s, &res, "textDocument/hover", NULL, 1000), LN_EREPLAY);
	CHECK(strstr(ln_error_msg(), "replay: line 20: lanser sends"));
	lsp_session_free(s);
	/* a recorded deadline ends the wait at once, whatever the timeout */
	CHECK_EQ_INT(lsp_session_replay_new(&s, snap, &src2), 0);
	CHECK_EQ_INT(lsp_session_request(s, &res, "textDocument/hover", NULL, 3600000), LN_ETIMEOUT);
	CHECK_EQ_INT(sc2.pos, 5);
	lsp_session_free(s);
	json_object_set_new(snap, "encoding", json_string("ebcdic"));
	CHECK_EQ_INT(lsp_session_replay_new(&s, snap, &src2), LN_ETRACE);
	json_decref(snap);
}
