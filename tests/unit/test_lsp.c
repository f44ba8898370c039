#include "tests/unit/harness.h"
#include "core/err.h"
#include "lsp/jsonrpc.h"
#include "core/proc.h"
#include "lsp/session.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(lsp_jsonrpc__frames_split_at_every_byte)
{
	const char *body = "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":\"\xc3\xa9\xe2\x9c\x93\"}";
	struct buf wire = BUF_INIT, out = BUF_INIT;
	size_t i;

	lsp_frame_encode(&wire, body, strlen(body));
	lsp_frame_encode(&wire, body, strlen(body));
	/* wherever the wire is cut, both frames come out, whole, exactly once */
	for (i = 0; i <= wire.len; i++) {
		struct lsp_reader r;
		int k, frames = 0;
		lsp_reader_init(&r, 0);
		CHECK_EQ_INT(lsp_reader_feed(&r, wire.data, i), 0);
		while ((k = lsp_reader_next(&r, &out)) == 1) {
			CHECK_EQ_STR(out.data, body);
			frames++;
		}
		CHECK_EQ_INT(k, 0);
		CHECK_EQ_INT(lsp_reader_feed(&r, wire.data + i, wire.len - i), 0);
		while ((k = lsp_reader_next(&r, &out)) == 1) {
			CHECK_EQ_STR(out.data, body);
			frames++;
		}
		CHECK_EQ_INT(k, 0);
		CHECK_EQ_INT(frames, 2);
		lsp_reader_release(&r);
	}
	buf_release(&wire);
	buf_release(&out);
}

TEST(lsp_jsonrpc__content_length_counts_bytes_not_characters)
{
	/* 3 characters, 7 bytes: a character-counting reader loses the next frame. */
	const char wire[] = "Content-Length: 7\r\n\r\n\"\xc3\xa9\xe2\x9c\x93\"Content-Length: 2\r\n\r\n{}";
	struct lsp_reader r;
	struct buf out = BUF_INIT;

	lsp_reader_init(&r, 0);
	lsp_reader_feed(&r, wire, sizeof wire - 1);
	CHECK_EQ_INT(lsp_reader_next(&r, &out), 1);
	CHECK_EQ_INT(out.len, 7);
	CHECK_EQ_INT(lsp_reader_next(&r, &out), 1);
	CHECK_EQ_STR(out.data, "{}");
	lsp_reader_release(&r);
	buf_release(&out);
}

static int feed_one(const char *wire, size_t max_body)
{
	struct lsp_reader r;
	struct buf out = BUF_INIT;
	int k;

	lsp_reader_init(&r, max_body);
	lsp_reader_feed(&r, wire, strlen(wire));
	k = lsp_reader_next(&r, &out);
	lsp_reader_release(&r);
	buf_release(&out);
	return k;
}

TEST(lsp_jsonrpc__rejects_malformed_and_oversized_headers)
{
	CHECK_EQ_INT(feed_one("Content-Length: abc\r\n\r\n", 0), LN_ECRASH);
	CHECK_EQ_INT(feed_one("Content-Length: -5\r\n\r\n", 0), LN_ECRASH);
	CHECK_EQ_INT(feed_one("Content-Length: 12 x\r\n\r\n", 0), LN_ECRASH);
	CHECK_EQ_INT(feed_one("Content-Type: text\r\n\r\n", 0), LN_ECRASH);
	CHECK_EQ_INT(feed_one("garbage without colon\r\n\r\n", 0), LN_ECRASH);
	CHECK_EQ_INT(feed_one("Content-Length: 2000000000\r\n\r\n", 0), LN_ECRASH);
	CHECK_EQ_INT(feed_one("Content-Length: 99999999999999999999999\r\n\r\n", 0), LN_ECRASH);
	CHECK_EQ_INT(feed_one("Content-Length: 11\r\n\r\n", 10), LN_ECRASH);
	CHECK_EQ_INT(feed_one("content-length: 2\r\nContent-Type: x; charset=utf-8\r\n\r\n{}", 0), 1);
	CHECK_EQ_INT(feed_one("Content-Length: 2\r\n", 0), 0); /* incomplete: wait */
	{
		/* an endless header line is refused once it passes the cap */
		char *big = malloc(LSP_MAX_HEADER + 100);
		memset(big, 'x', LSP_MAX_HEADER + 99);
		big[LSP_MAX_HEADER + 99] = '\0';
		CHECK_EQ_INT(feed_one(big, 0), LN_ECRASH);
		free(big);
	}
}

static const char *fakels(void)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/tests/fakels/fakels", test_repo_root());
	return path;
}

static int start_fake(struct lsp_session **s, const char *mode)
{
	const char *argv[] = { fakels(), "--mode", mode, NULL };
	struct lsp_session_opts o = { 0 };

	o.name = "fake";
	o.argv = argv;
	o.root = "/tmp";
	o.init_timeout_ms = 3000;
	o.stderr_fd = -1;
	return lsp_session_start(s, &o);
}

TEST(lsp_session__answers_server_requests_and_tracks_progress)
{
	struct lsp_session *s = NULL;
	json_t *res = NULL, *diags = NULL;
	int version = 0;

	if (access(fakels(), X_OK) != 0) {
		test_fail(__FILE__, __LINE__, "%s not built", fakels());
		return;
	}
	CHECK_EQ_INT(start_fake(&s, "server-requests"), 0);
	CHECK_EQ_STR(lsp_session_server_name(s), "fakels");
	CHECK_EQ_INT(lsp_session_sync_doc(s, &version, "file:///tmp/a.fake", "fake", "x\n", 2), 0);
	CHECK_EQ_INT(version, 1);
	/* The fake holds this answer until all three server requests were answered. */
	CHECK_EQ_INT(lsp_session_request(s, &res, "textDocument/hover",
		json_pack("{s:{s:s}, s:{s:i, s:i}}", "textDocument", "uri", "file:///tmp/a.fake",
			  "position", "line", 0, "character", 0), 3000), 0);
	CHECK(json_is_object(res));
	CHECK(lsp_session_progress_ended(s, "tok1"));
	CHECK_EQ_INT(lsp_session_wait_diagnostics(s, &diags, "file:///tmp/a.fake", 1, 3000), 0);
	CHECK_EQ_INT(json_array_size(diags), 1);
	/* unchanged text: no new version */
	CHECK_EQ_INT(lsp_session_sync_doc(s, &version, "file:///tmp/a.fake", "fake", "x\n", 2), 0);
	CHECK_EQ_INT(version, 1);
	CHECK_EQ_INT(lsp_session_sync_doc(s, &version, "file:///tmp/a.fake", "fake", "y\n", 2), 0);
	CHECK_EQ_INT(version, 2);
	json_decref(res);
	json_decref(diags);
	lsp_session_free(s);
}

/* pyright under load publishes a version's diagnostics twice, the first
 * set partial: a client that waits for "the diagnostics of version N"
 * takes the partial one. With pull diagnostics declared, the session asks
 * and gets the final set, following the server's registrations (a newer
 * one replacing an older one must not leave the provider unregistered). */
TEST(lsp_session__pull_diagnostics_take_the_final_set)
{
	const char *argv[] = { fakels(), "--mode", "two-phase-diags", NULL };
	struct lsp_session_opts o = { 0 };
	struct lsp_session *s = NULL;
	json_t *diags = NULL, *snap;
	int version = 0;

	o.name = "fake";
	o.argv = argv;
	o.root = "/tmp";
	o.init_timeout_ms = 3000;
	o.stderr_fd = -1;
	/* push: the first publication for the version is the partial one */
	CHECK_EQ_INT(lsp_session_start(&s, &o), 0);
	CHECK(!lsp_session_pulls_diagnostics(s));
	CHECK_EQ_INT(lsp_session_sync_doc(s, &version, "file:///tmp/a.fake", "fake", "x\n", 2), 0);
	CHECK_EQ_INT(lsp_session_wait_diagnostics(s, &diags, "file:///tmp/a.fake", version, 3000), 0);
	CHECK_EQ_INT(json_array_size(diags), 0);
	json_decref(diags);
	diags = NULL;
	lsp_session_free(s);

	o.pull_diagnostics = true;
	CHECK_EQ_INT(lsp_session_start(&s, &o), 0);
	CHECK(lsp_session_pulls_diagnostics(s));
	CHECK_EQ_INT(lsp_session_sync_doc(s, &version, "file:///tmp/a.fake", "fake", "x\n", 2), 0);
	CHECK_EQ_INT(lsp_session_wait_diagnostics(s, &diags, "file:///tmp/a.fake", version, 3000), 0);
	CHECK_EQ_INT(json_array_size(diags), 2);
	json_decref(diags);
	diags = NULL;
	/* a change: asked again, the answer is for the new text */
	CHECK_EQ_INT(lsp_session_sync_doc(s, &version, "file:///tmp/a.fake", "fake", "y\n", 2), 0);
	CHECK_EQ_INT(version, 2);
	CHECK_EQ_INT(lsp_session_wait_diagnostics(s, &diags, "file:///tmp/a.fake", version, 3000), 0);
	CHECK_EQ_INT(json_array_size(diags), 2);
	/* the snapshot keeps the live registration only */
	snap = lsp_session_snapshot(s);
	CHECK(json_is_true(json_object_get(snap, "pullDeclared")));
	CHECK_EQ_INT(json_array_size(json_object_get(snap, "pullIds")), 1);
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(snap, "pullIds"), 0)), "pull-b");
	json_decref(snap);
	json_decref(diags);
	lsp_session_free(s);
}

TEST(lsp_session__timeout_keeps_session_and_crash_is_sticky)
{
	struct lsp_session *s = NULL;
	json_t *res = NULL;
	long long t0;

	CHECK_EQ_INT(start_fake(&s, "hang"), 0);
	t0 = ln_now_ms();
	CHECK_EQ_INT(lsp_session_request(s, &res, "textDocument/hover", json_object(), 300),
		     LN_ETIMEOUT);
	CHECK(ln_now_ms() - t0 >= 300);
	CHECK_EQ_INT(lsp_session_error(s), 0);
	lsp_session_free(s);

	CHECK_EQ_INT(start_fake(&s, "crash-on-request"), 0);
	CHECK_EQ_INT(lsp_session_request(s, &res, "textDocument/hover", json_object(), 3000),
		     LN_ECRASH);
	CHECK(strstr(ln_error_msg(), "status 3") != NULL);
	CHECK_EQ_INT(lsp_session_request(s, &res, "textDocument/hover", json_object(), 3000),
		     LN_ECRASH);
	lsp_session_free(s);
	/* no zombie: every child of ours has been reaped */
	CHECK(waitpid(-1, NULL, WNOHANG) <= 0);
}

TEST(lsp_session__missing_server_and_silent_initialize)
{
	struct lsp_session *s = NULL;
	const char *argv[] = { "/nonexistent/lanser-no-such-server", NULL };
	struct lsp_session_opts o = { 0 };

	o.name = "ghost";
	o.argv = argv;
	o.root = "/tmp";
	o.stderr_fd = -1;
	CHECK_EQ_INT(lsp_session_start(&s, &o), LN_ENOSERVER);
	CHECK(s == NULL);
	CHECK_EQ_INT(start_fake(&s, "no-init"), LN_ETIMEOUT);
	CHECK(s == NULL);
	CHECK(waitpid(-1, NULL, WNOHANG) <= 0);
}
