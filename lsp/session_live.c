/*
 * session_live.c - the live transport of a session (session_impl.h): a
 * server process spawned with pipes, pumped with poll(), its stderr kept
 * for messages, every frame and pump recorded when a recorder is set; and
 * lsp_session_start(), the initialize handshake.
 */
#include "lsp/session.h"
#include "lsp/session_impl.h"
#include "core/err.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add_stderr(struct lsp_session *s, const char *data, size_t n)
{
	if (s->stderr_fd >= 0) {
		if (write(s->stderr_fd, data, n) < 0) { /* log is best effort */ }
	}
	if (n >= STDERR_TAIL - 1) {
		data += n - (STDERR_TAIL - 1);
		n = STDERR_TAIL - 1;
	}
	if (s->errtail_len + n >= STDERR_TAIL) {
		size_t drop = s->errtail_len + n - (STDERR_TAIL - 1);
		memmove(s->errtail, s->errtail + drop, s->errtail_len - drop);
		s->errtail_len -= drop;
	}
	memcpy(s->errtail + s->errtail_len, data, n);
	s->errtail_len += n;
	s->errtail[s->errtail_len] = '\0';
}

/* The last non-empty stderr line, for one-line error messages. */
static const char *last_err_line(struct lsp_session *s, char *out, size_t n)
{
	size_t end = s->errtail_len, start;

	while (end > 0 && (s->errtail[end - 1] == '\n' || s->errtail[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && s->errtail[start - 1] != '\n')
		start--;
	if (end - start >= n)
		start = end - (n - 1);
	memcpy(out, s->errtail + start, end - start);
	out[end - start] = '\0';
	return out;
}

static int handle_eof(struct lsp_session *s)
{
	char st[96], line[200];

	ln_proc_wait(&s->proc, 1000);
	if (s->proc.pid == 0)
		ln_proc_status_str(&s->proc.status, st, sizeof st);
	else
		snprintf(st, sizeof st, "closed its output");
	last_err_line(s, line, sizeof line);
	return lsp_session_fail(s, LN_ECRASH, "%s %s%s%s", s->name, st, line[0] ? "; last stderr: " : "",
		    line);
}

/* One round of I/O with the server (see lsp_session_pump). */
static int pump_io(struct lsp_session *s, int timeout_ms)
{
	struct pollfd pfd[3];
	int n = 0, i_out = -1, i_err = -1, i_in = -1, r;
	char chunk[65536];

	if (s->error)
		return lsp_session_sticky(s);
	if (s->proc.out_fd >= 0) {
		i_out = n;
		pfd[n++] = (struct pollfd){ .fd = s->proc.out_fd, .events = POLLIN };
	}
	if (s->proc.err_fd >= 0) {
		i_err = n;
		pfd[n++] = (struct pollfd){ .fd = s->proc.err_fd, .events = POLLIN };
	}
	if (s->outq.len && s->proc.in_fd >= 0) {
		i_in = n;
		pfd[n++] = (struct pollfd){ .fd = s->proc.in_fd, .events = POLLOUT };
	}
	r = poll(pfd, (nfds_t)n, timeout_ms);
	if (r < 0) {
		if (errno == EINTR)
			return 0;
		return lsp_session_fail(s, LN_EGENERIC, "poll: %s", strerror(errno));
	}
	if (i_in >= 0 && (pfd[i_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
		ssize_t w = write(s->proc.in_fd, s->outq.data, s->outq.len);
		if (w > 0)
			buf_consume(&s->outq, (size_t)w);
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			return handle_eof(s);
	}
	if (i_err >= 0 && (pfd[i_err].revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t got = read(s->proc.err_fd, chunk, sizeof chunk);
		if (got > 0) {
			add_stderr(s, chunk, (size_t)got);
		} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
			close(s->proc.err_fd);
			s->proc.err_fd = -1;
		}
	}
	if (i_out >= 0 && (pfd[i_out].revents & (POLLIN | POLLHUP | POLLERR))) {
		/* Bounded work per pump: read what is there, then hand out frames. */
		int rounds;
		for (rounds = 0; rounds < 64; rounds++) {
			ssize_t got = read(s->proc.out_fd, chunk, sizeof chunk);
			if (got > 0) {
				int err = lsp_reader_feed(&s->reader, chunk, (size_t)got);
				if (err)
					return lsp_session_fail(s, LN_ECRASH, "%s: %s", s->name, ln_error_msg());
				for (;;) {
					int k = lsp_reader_next(&s->reader, &s->frame);
					if (k < 0)
						return lsp_session_fail(s, LN_ECRASH, "%s: %s", s->name, ln_error_msg());
					if (k == 0)
						break;
					if (lsp_session_dispatch(s, s->frame.data, s->frame.len))
						return lsp_session_sticky(s);
				}
				if ((size_t)got < sizeof chunk)
					break;
			} else if (got == 0) {
				/* Drain stderr so the message can quote it. */
				while (s->proc.err_fd >= 0) {
					ssize_t e = read(s->proc.err_fd, chunk, sizeof chunk);
					if (e <= 0)
						break;
					add_stderr(s, chunk, (size_t)e);
				}
				return handle_eof(s);
			} else {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return handle_eof(s);
			}
		}
	}
	return 0;
}

static int live_send(struct lsp_session *s, char *body, size_t len)
{
	if (s->record)
		s->record(s->record_ctx, '>', body, len);
	lsp_frame_encode(&s->outq, body, len);
	free(body);
	return 0;
}

/* A pump on a live session; its end is recorded for replay. */
static int live_pump(struct lsp_session *s, int timeout_ms)
{
	long long before = s->dispatched;
	bool was_dead = s->error != 0;
	int error;

	error = pump_io(s, timeout_ms);
	/* The end of every pump on a live session is recorded, with what it
	 * dispatched, so a replay hands the same frames to the same call. */
	if (s->record && !was_dead) {
		json_t *m = xjson_pack("{s:I}", "n", (json_int_t)(s->dispatched - before));
		char *body;
		if (s->error) {
			json_object_set_new(m, "error", json_integer(s->error));
			json_object_set_new(m, "message", json_string(s->errmsg));
		}
		body = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		if (body) {
			s->record(s->record_ctx, 'p', body, strlen(body));
			free(body);
		}
	}
	return error;
}

static bool live_deadline(struct lsp_session *s, bool passed)
{
	if (passed && s->record)
		s->record(s->record_ctx, 'd', "{}", 2);
	return passed;
}

static void live_stop(struct lsp_session *s)
{
	ln_proc_kill(&s->proc, SIGKILL);
	ln_proc_release(&s->proc, 0);
}

/* The polite end: shutdown, exit, a moment for the server to go. */
static void live_close(struct lsp_session *s)
{
	struct ln_error_state saved;
	json_t *res = NULL;
	long long deadline;

	if (s->error || s->unresponsive || s->proc.pid <= 0)
		return;
	ln_error_capture(&saved);
	if (!lsp_session_request(s, &res, "shutdown", NULL, 2000)) {
		json_decref(res);
		lsp_session_send(s, xjson_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", "exit"));
		/* flush the exit notification, then give the server a moment */
		deadline = ln_now_ms() + 200;
		while (s->outq.len && !s->error && ln_now_ms() < deadline)
			lsp_session_pump(s, 50);
		if (s->proc.in_fd >= 0) {
			close(s->proc.in_fd);
			s->proc.in_fd = -1;
		}
		ln_proc_wait(&s->proc, 1000);
	}
	ln_error_restore(&saved);
}

const struct lsp_transport lsp_transport_live = {
	.send = live_send,
	.pump = live_pump,
	.deadline = live_deadline,
	.stop = live_stop,
	.close = live_close,
};

static json_t *client_capabilities(bool pull_diagnostics)
{
	json_t *caps = xjson_pack(
		"{s:{s:[s,s]}, s:[s,s], s:{s:b}, "
		"s:{s:b, s:b, s:{s:b}, s:{s:b}}, "
		"s:{s:{s:b, s:b}, s:{s:b, s:b, s:b}, s:{s:b}, s:{s:b}, s:{s:b}, s:{}, "
		"s:{s:[s,s]}, s:{s:b}, s:{s:b}, s:{s:{s:{s:[s,s,s,s,s,s,s,s]}}}}}",
		"general", "positionEncodings", "utf-8", "utf-16",
		"offsetEncoding", "utf-8", "utf-16",
		"window", "workDoneProgress", 1,
		"workspace", "configuration", 1, "workspaceFolders", 1,
		"symbol", "dynamicRegistration", 0,
		"didChangeConfiguration", "dynamicRegistration", 0,
		"textDocument",
		"synchronization", "didSave", 1, "dynamicRegistration", 0,
		"publishDiagnostics", "relatedInformation", 1, "versionSupport", 1,
		"codeDescriptionSupport", 1,
		"definition", "linkSupport", 1,
		"declaration", "linkSupport", 1,
		"typeDefinition", "linkSupport", 1,
		"references",
		"hover", "contentFormat", "markdown", "plaintext",
		"documentSymbol", "hierarchicalDocumentSymbolSupport", 1,
		"rename", "prepareSupport", 1,
		"codeAction", "codeActionLiteralSupport", "codeActionKind", "valueSet",
		"", "quickfix", "refactor", "refactor.extract", "refactor.inline",
		"refactor.rewrite", "source", "source.organizeImports");

	if (pull_diagnostics)
		json_object_set_new(json_object_get(caps, "textDocument"), "diagnostic",
			xjson_pack("{s:b, s:b}", "dynamicRegistration", 1, "relatedDocumentSupport", 0));
	return caps;
}

int lsp_session_start(struct lsp_session **out, const struct lsp_session_opts *o)
{
	struct lsp_session *s;
	struct ln_proc_opts po = { 0 };
	json_t *params = NULL, *res = NULL;
	char *root_uri = NULL;
	int error = -1;
	const char *enc;

	*out = NULL;
	s = lsp_session_alloc(o->max_frame);
	s->tr = &lsp_transport_live;
	s->name = xstrdup(o->name ? o->name : o->argv[0]);
	s->root = xstrdup(o->root);
	s->stderr_fd = o->stderr_fd;
	s->record = o->record;
	s->record_ctx = o->record_ctx;
	s->settings = o->settings ? json_incref(o->settings) : NULL;
	s->enc = LN_ENC_UTF16;
	s->pull_declared = o->pull_diagnostics;

	po.argv = o->argv;
	po.cwd = o->root;
	po.env = o->env;
	po.in = po.out = po.err = LN_STDIO_PIPE;
	po.new_pgrp = true;
	po.die_with_parent = true;
	error = ln_proc_spawn(&s->proc, &po);
	if (error) {
		error = ln_error_set(LN_ENOSERVER, "%s: %s", s->name, ln_error_msg());
		goto done;
	}

	root_uri = ln_uri_from_path(o->root);
	params = xjson_pack("{s:o, s:{s:s, s:s}, s:s, s:s, s:[{s:s, s:s}], s:o, s:s}",
			   "processId", o->no_process_id ? json_null() : json_integer(getpid()),
			   "clientInfo", "name", "lanser", "version", LANSER_VERSION,
			   "rootUri", root_uri, "rootPath", o->root,
			   "workspaceFolders", "uri", root_uri, "name", "workspace",
			   "capabilities", client_capabilities(o->pull_diagnostics),
			   "trace", "off");
	if (o->init_options)
		json_object_set(params, "initializationOptions", o->init_options);
	error = lsp_session_request(s, &res, "initialize", params,
				    o->init_timeout_ms > 0 ? o->init_timeout_ms : 30000);
	params = NULL;
	if (error) {
		if (error == LN_ETIMEOUT)
			lsp_session_fail(s, LN_ETIMEOUT, "%s did not answer initialize within %d ms", s->name,
			     o->init_timeout_ms > 0 ? o->init_timeout_ms : 30000);
		else if (!s->error)
			lsp_session_fail(s, error, "%s", ln_error_msg());
		error = lsp_session_sticky(s);
		goto done;
	}
	if (!json_is_object(res) || !json_is_object(json_object_get(res, "capabilities"))) {
		error = lsp_session_fail(s, LN_ECRASH, "%s: initialize answer has no capabilities", s->name);
		goto done;
	}
	s->caps = json_incref(json_object_get(res, "capabilities"));
	enc = json_string_value(json_object_get(s->caps, "positionEncoding"));
	if (!enc)
		enc = json_string_value(json_object_get(res, "offsetEncoding")); /* clangd <= 14 */
	/* Absent or unknown: LSP's default, UTF-16. */
	if (!enc || ln_enc_parse(&s->enc, enc))
		s->enc = LN_ENC_UTF16;
	{
		json_t *si = json_object_get(res, "serverInfo");
		const char *n = json_string_value(json_object_get(si, "name"));
		const char *v = json_string_value(json_object_get(si, "version"));
		s->server_name = n ? xstrdup(n) : NULL;
		s->server_version = v ? xstrdup(v) : NULL;
	}
	error = lsp_session_notify(s, "initialized", json_object());
	if (error)
		goto done;
	if (s->settings)
		error = lsp_session_notify(s, "workspace/didChangeConfiguration",
					   xjson_pack("{s:O}", "settings", s->settings));
done:
	json_decref(res);
	json_decref(params);
	free(root_uri);
	if (error) {
		lsp_session_free(s);
		return error;
	}
	*out = s;
	return 0;
}
