#include "lsp/session.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "lsp/jsonrpc.h"
#include "core/path.h"
#include "core/proc.h"
#include "core/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STDERR_TAIL 2048
#define LOG_CAP (256 * 1024)

struct pending {
	long long id;
	json_t *response;   /* the whole response message once it arrived */
};

struct doc {
	char *uri;
	int version;
	char hash[65];
	long long synced_seq;   /* message sequence number at the last sync */
	json_t *diags;          /* last published diagnostics */
	int diag_version;       /* -1: the server sent no version */
	long long diag_seq;     /* sequence number when they arrived */
	bool has_diags;
	bool open;
};

struct progress {
	char *token;
	char *title;
	bool active;
	bool ended;
};

struct lsp_session {
	char *name;
	char *root;
	struct ln_proc proc;
	struct lsp_reader reader;
	struct buf outq;
	struct buf frame;
	json_t *settings;
	json_t *caps;
	char *server_name, *server_version;
	enum ln_enc enc;
	long long next_id;
	long long seq;          /* counts frames received */
	struct pending *pend;
	size_t npend, cappend;
	struct doc *docs;
	size_t ndocs, capdocs;
	struct progress *prog;
	size_t nprog, capprog;
	struct buf logs;        /* window/logMessage texts, capped */
	int stderr_fd;
	char errtail[STDERR_TAIL];
	size_t errtail_len;
	int error;              /* sticky */
	bool unresponsive;      /* a request timed out: skip the polite shutdown */
	bool versioned_diags;   /* the server puts versions on its diagnostics */
	char errmsg[512];
	lsp_record_fn record;
	void *record_ctx;
	long long dispatched;   /* frames dispatched so far (pump records) */
	bool replaying;         /* no server: replays `replay` (trace replay) */
	struct lsp_replay replay;
};

static int fail(struct lsp_session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Marks the session dead with a sticky error and stops the server. */
static int fail(struct lsp_session *s, int code, const char *fmt, ...)
{
	va_list ap;

	if (!s->error) {
		va_start(ap, fmt);
		vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
		va_end(ap);
		s->error = code;
		if (!s->replaying) {
			ln_proc_kill(&s->proc, SIGKILL);
			ln_proc_release(&s->proc, 0);
		}
	}
	return ln_error_set(s->error, "%s", s->errmsg);
}

static int sticky(struct lsp_session *s)
{
	return ln_error_set(s->error, "%s", s->errmsg);
}

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

const char *lsp_session_stderr_tail(const struct lsp_session *s)
{
	return s->errtail;
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

static int replay_send(struct lsp_session *s, char *body, size_t len);

static int send_msg(struct lsp_session *s, json_t *msg)
{
	char *body;
	size_t len;

	if (s->error) {
		json_decref(msg);
		return sticky(s);
	}
	body = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!body)
		return ln_error_set(LN_EGENERIC, "cannot encode a message for %s", s->name);
	len = strlen(body);
	if (s->replaying)
		return replay_send(s, body, len);
	if (s->record)
		s->record(s->record_ctx, '>', body, len);
	lsp_frame_encode(&s->outq, body, len);
	free(body);
	return 0;
}

static struct doc *find_doc(struct lsp_session *s, const char *uri)
{
	size_t i;
	for (i = 0; i < s->ndocs; i++)
		if (!strcmp(s->docs[i].uri, uri))
			return &s->docs[i];
	return NULL;
}

static struct doc *get_doc(struct lsp_session *s, const char *uri)
{
	struct doc *d = find_doc(s, uri);

	if (d)
		return d;
	if (s->ndocs == s->capdocs) {
		s->capdocs = s->capdocs ? s->capdocs * 2 : 8;
		s->docs = xrealloc(s->docs, s->capdocs * sizeof *s->docs);
	}
	d = &s->docs[s->ndocs++];
	memset(d, 0, sizeof *d);
	d->uri = xstrdup(uri);
	d->diag_version = -1;
	return d;
}

static char *token_str(json_t *tok)
{
	char tmp[32];

	if (json_is_string(tok))
		return xstrdup(json_string_value(tok));
	if (json_is_integer(tok)) {
		snprintf(tmp, sizeof tmp, "#%lld", (long long)json_integer_value(tok));
		return xstrdup(tmp);
	}
	return NULL;
}

static struct progress *get_progress(struct lsp_session *s, const char *token)
{
	size_t i;
	struct progress *p;

	for (i = 0; i < s->nprog; i++)
		if (!strcmp(s->prog[i].token, token))
			return &s->prog[i];
	if (s->nprog >= 4096)
		return NULL; /* a hostile server cannot grow this without bound */
	if (s->nprog == s->capprog) {
		s->capprog = s->capprog ? s->capprog * 2 : 8;
		s->prog = xrealloc(s->prog, s->capprog * sizeof *s->prog);
	}
	p = &s->prog[s->nprog++];
	memset(p, 0, sizeof *p);
	p->token = xstrdup(token);
	return p;
}

static void on_progress(struct lsp_session *s, json_t *params)
{
	char *tok = token_str(json_object_get(params, "token"));
	json_t *val = json_object_get(params, "value");
	const char *kind = json_string_value(json_object_get(val, "kind"));
	struct progress *p;

	if (!tok || !kind)
		goto done;
	p = get_progress(s, tok);
	if (!p)
		goto done;
	if (!strcmp(kind, "begin")) {
		const char *title = json_string_value(json_object_get(val, "title"));
		p->active = true;
		free(p->title);
		p->title = title ? xstrdup(title) : NULL;
	} else if (!strcmp(kind, "end")) {
		p->active = false;
		p->ended = true;
	}
done:
	free(tok);
}

static void on_diagnostics(struct lsp_session *s, json_t *params)
{
	const char *uri = json_string_value(json_object_get(params, "uri"));
	json_t *diags = json_object_get(params, "diagnostics");
	json_t *ver = json_object_get(params, "version");
	struct doc *d;

	if (!uri || !json_is_array(diags))
		return;
	/* A server that versions its diagnostics sends unversioned ones only
	 * to clear a closed document (clangd on didClose): those describe no
	 * version we could wait for, and arriving after a reopen they would
	 * pass for the new version's. */
	if (json_is_integer(ver))
		s->versioned_diags = true;
	else if (s->versioned_diags)
		return;
	d = get_doc(s, uri);
	json_decref(d->diags);
	d->diags = json_incref(diags);
	d->diag_version = json_is_integer(ver) ? (int)json_integer_value(ver) : -1;
	d->diag_seq = s->seq;
	d->has_diags = true;
}

/* Answers for the server-to-client requests servers wait on. */
static json_t *configuration_answer(struct lsp_session *s, json_t *params)
{
	json_t *items = json_object_get(params, "items"), *item, *res = json_array();
	size_t i;

	json_array_foreach(items, i, item) {
		const char *section = json_string_value(json_object_get(item, "section"));
		json_t *v = NULL;
		if (section && s->settings) {
			/* "python.analysis" walks nested objects */
			char *dup = xstrdup(section), *p = dup, *dot;
			v = s->settings;
			while (v && p) {
				dot = strchr(p, '.');
				if (dot)
					*dot = '\0';
				v = json_object_get(v, p);
				p = dot ? dot + 1 : NULL;
			}
			free(dup);
		} else if (!section) {
			v = s->settings;
		}
		json_array_append_new(res, v ? json_deep_copy(v) : json_null());
	}
	return res;
}

static void on_server_request(struct lsp_session *s, json_t *msg, const char *method)
{
	json_t *id = json_object_get(msg, "id");
	json_t *params = json_object_get(msg, "params");
	json_t *reply = json_pack("{s:s, s:O}", "jsonrpc", "2.0", "id", id);

	if (!strcmp(method, "workspace/configuration")) {
		json_object_set_new(reply, "result", configuration_answer(s, params));
	} else if (!strcmp(method, "client/registerCapability") ||
		   !strcmp(method, "client/unregisterCapability") ||
		   !strcmp(method, "window/workDoneProgress/create") ||
		   !strcmp(method, "window/showMessageRequest") ||
		   !strcmp(method, "workspace/codeLens/refresh") ||
		   !strcmp(method, "workspace/semanticTokens/refresh") ||
		   !strcmp(method, "workspace/inlayHint/refresh") ||
		   !strcmp(method, "workspace/diagnostic/refresh")) {
		json_object_set_new(reply, "result", json_null());
	} else if (!strcmp(method, "workspace/workspaceFolders")) {
		char *uri = ln_uri_from_path(s->root);
		json_object_set_new(reply, "result",
			json_pack("[{s:s, s:s}]", "uri", uri, "name", "workspace"));
		free(uri);
	} else if (!strcmp(method, "workspace/applyEdit")) {
		/* lanser applies edits itself, through its guarded path. */
		json_object_set_new(reply, "result",
			json_pack("{s:b, s:s}", "applied", 0, "failureReason",
				  "lanser applies edits itself"));
	} else {
		json_object_set_new(reply, "error", json_pack("{s:i, s:s}", "code", -32601,
			"message", "method not supported by lanser"));
	}
	send_msg(s, reply);
}

static struct pending *find_pending(struct lsp_session *s, long long id)
{
	size_t i;
	for (i = 0; i < s->npend; i++)
		if (s->pend[i].id == id)
			return &s->pend[i];
	return NULL;
}

static void drop_pending(struct lsp_session *s, long long id)
{
	size_t i;
	for (i = 0; i < s->npend; i++) {
		if (s->pend[i].id == id) {
			json_decref(s->pend[i].response);
			s->pend[i] = s->pend[--s->npend];
			return;
		}
	}
}

static int dispatch(struct lsp_session *s, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *msg;
	const char *method;
	json_t *id;

	s->seq++;
	s->dispatched++;
	if (s->record)
		s->record(s->record_ctx, '<', body, len);
	msg = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
	if (!msg || !json_is_object(msg)) {
		json_decref(msg);
		return fail(s, LN_ECRASH, "%s sent a malformed message (%s)", s->name,
			    msg ? "not an object" : jerr.text);
	}
	method = json_string_value(json_object_get(msg, "method"));
	id = json_object_get(msg, "id");
	if (method && id) {
		on_server_request(s, msg, method);
	} else if (method) {
		json_t *params = json_object_get(msg, "params");
		if (!strcmp(method, "textDocument/publishDiagnostics"))
			on_diagnostics(s, params);
		else if (!strcmp(method, "$/progress"))
			on_progress(s, params);
		else if (!strcmp(method, "window/logMessage")) {
			const char *m = json_string_value(json_object_get(params, "message"));
			if (m && s->logs.len < LOG_CAP) {
				buf_adds(&s->logs, m);
				buf_addch(&s->logs, '\n');
			}
		}
		/* logMessage, showMessage, telemetry: nothing to do */
	} else if (json_is_integer(id)) {
		struct pending *p = find_pending(s, json_integer_value(id));
		if (p && !p->response)
			p->response = json_incref(msg);
	}
	json_decref(msg);
	return 0;
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
	return fail(s, LN_ECRASH, "%s %s%s%s", s->name, st, line[0] ? "; last stderr: " : "",
		    line);
}

static int replay_pump(struct lsp_session *s);

/* One round of I/O with the server (see lsp_session_pump). */
static int pump_io(struct lsp_session *s, int timeout_ms)
{
	struct pollfd pfd[3];
	int n = 0, i_out = -1, i_err = -1, i_in = -1, r;
	char chunk[65536];

	if (s->error)
		return sticky(s);
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
		return fail(s, LN_EGENERIC, "poll: %s", strerror(errno));
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
					return fail(s, LN_ECRASH, "%s: %s", s->name, ln_error_msg());
				for (;;) {
					int k = lsp_reader_next(&s->reader, &s->frame);
					if (k < 0)
						return fail(s, LN_ECRASH, "%s: %s", s->name, ln_error_msg());
					if (k == 0)
						break;
					if (dispatch(s, s->frame.data, s->frame.len))
						return sticky(s);
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

int lsp_session_pump(struct lsp_session *s, int timeout_ms)
{
	long long before = s->dispatched;
	bool was_dead = s->error != 0;
	int error;

	if (s->replaying)
		return replay_pump(s);
	error = pump_io(s, timeout_ms);
	/* The end of every pump on a live session is recorded, with what it
	 * dispatched, so a replay hands the same frames to the same call. */
	if (s->record && !was_dead) {
		json_t *m = json_pack("{s:I}", "n", (json_int_t)(s->dispatched - before));
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

bool lsp_session_deadline(struct lsp_session *s, bool passed)
{
	struct lsp_replay_item it;

	if (s->replaying) {
		if (s->replay.peek(s->replay.ctx, &it) == 1 && it.dir == 'd') {
			s->replay.advance(s->replay.ctx);
			return true;
		}
		return false;
	}
	if (passed && s->record)
		s->record(s->record_ctx, 'd', "{}", 2);
	return passed;
}

static int response_result(struct lsp_session *s, json_t **out, json_t *resp,
			   const char *method)
{
	json_t *err = json_object_get(resp, "error");

	if (err) {
		json_int_t code = json_integer_value(json_object_get(err, "code"));
		const char *m = json_string_value(json_object_get(err, "message"));
		if (!m)
			m = "(no message)";
		switch (code) {
		case -32800:
			return ln_error_set(LN_ECANCELLED, "%s cancelled %s: %s", s->name, method, m);
		case -32801:
			return ln_error_set(LN_EMODIFIED, "%s: content modified during %s: %s",
					    s->name, method, m);
		case -32601:
			return ln_error_set(LN_EUNSUPPORTED, "%s does not support %s: %s",
					    s->name, method, m);
		default:
			return ln_error_set(LN_EGENERIC, "%s failed %s (code %lld): %s", s->name,
					    method, (long long)code, m);
		}
	}
	*out = json_object_get(resp, "result");
	*out = *out ? json_incref(*out) : json_null();
	return 0;
}

int lsp_session_request(struct lsp_session *s, json_t **out, const char *method,
			json_t *params, int timeout_ms)
{
	long long id, deadline;
	json_t *msg;
	struct pending *p;
	int error;

	*out = NULL;
	if (s->error) {
		json_decref(params);
		return sticky(s);
	}
	id = ++s->next_id;
	msg = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)id,
			"method", method);
	if (params)
		json_object_set_new(msg, "params", params);
	if (s->npend == s->cappend) {
		s->cappend = s->cappend ? s->cappend * 2 : 8;
		s->pend = xrealloc(s->pend, s->cappend * sizeof *s->pend);
	}
	s->pend[s->npend++] = (struct pending){ .id = id, .response = NULL };
	error = send_msg(s, msg);
	if (error)
		goto done;
	deadline = ln_now_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
	for (;;) {
		long long now;
		p = find_pending(s, id);
		if (p && p->response) {
			error = response_result(s, out, p->response, method);
			goto done;
		}
		now = ln_now_ms();
		if (lsp_session_deadline(s, now >= deadline)) {
			error = ln_error_set(LN_ETIMEOUT, "%s did not answer %s within %d ms",
					     s->name, method, timeout_ms);
			s->unresponsive = true;
			send_msg(s, json_pack("{s:s, s:s, s:{s:I}}", "jsonrpc", "2.0", "method",
					      "$/cancelRequest", "params", "id", (json_int_t)id));
			lsp_session_pump(s, 0);
			goto done;
		}
		error = lsp_session_pump(s, deadline > now ? (int)(deadline - now) : 0);
		if (error)
			goto done;
	}
done:
	drop_pending(s, id);
	return error;
}

int lsp_session_notify(struct lsp_session *s, const char *method, json_t *params)
{
	json_t *msg = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	int error;

	json_object_set_new(msg, "params", params ? params : json_object());
	error = send_msg(s, msg);
	if (!error)
		error = lsp_session_pump(s, 0);
	return error;
}

static int sync_doc(struct lsp_session *s, int *version_out, const char *uri,
		    const char *language_id, const char *text, size_t len, bool force)
{
	char hash[65];
	struct doc *d;
	int error;

	if (s->error)
		return sticky(s);
	ln_sha256_hex(text, len, hash);
	d = get_doc(s, uri);
	if (d->open && !force && !strcmp(d->hash, hash)) {
		if (version_out)
			*version_out = d->version;
		return 0;
	}
	d->version++;
	memcpy(d->hash, hash, sizeof hash);
	if (!d->open) {
		d->open = true;
		error = lsp_session_notify(s, "textDocument/didOpen",
			json_pack("{s:{s:s, s:s, s:i, s:s%}}", "textDocument", "uri", uri,
				  "languageId", language_id, "version", d->version, "text",
				  text, len));
	} else {
		error = lsp_session_notify(s, "textDocument/didChange",
			json_pack("{s:{s:s, s:i}, s:[{s:s%}]}", "textDocument", "uri", uri,
				  "version", d->version, "contentChanges", "text", text, len));
	}
	/* get_doc may have moved the array: look the document up again. */
	d = find_doc(s, uri);
	if (d)
		d->synced_seq = s->seq;
	if (version_out)
		*version_out = d ? d->version : 0;
	return error;
}

int lsp_session_sync_doc(struct lsp_session *s, int *version_out, const char *uri,
			 const char *language_id, const char *text, size_t len)
{
	return sync_doc(s, version_out, uri, language_id, text, len, false);
}

int lsp_session_resync_doc(struct lsp_session *s, int *version_out, const char *uri,
			   const char *language_id, const char *text, size_t len)
{
	return sync_doc(s, version_out, uri, language_id, text, len, true);
}

size_t lsp_session_open_count(const struct lsp_session *s)
{
	return s->ndocs;
}

int lsp_session_doc_version(const struct lsp_session *s, const char *uri)
{
	size_t i;
	for (i = 0; i < s->ndocs; i++)
		if (s->docs[i].open && !strcmp(s->docs[i].uri, uri))
			return s->docs[i].version;
	return 0;
}

const char *lsp_session_open_uri(const struct lsp_session *s, size_t i)
{
	return i < s->ndocs && s->docs[i].open ? s->docs[i].uri : NULL;
}

int lsp_session_pid(const struct lsp_session *s)
{
	return (int)s->proc.pid;
}

void lsp_session_poll_fds(const struct lsp_session *s, int *out_fd, int *err_fd)
{
	*out_fd = s->error ? -1 : s->proc.out_fd;
	*err_fd = s->error ? -1 : s->proc.err_fd;
}

long long lsp_session_requests_sent(const struct lsp_session *s)
{
	return s->next_id;
}

int lsp_session_close_doc(struct lsp_session *s, const char *uri)
{
	struct doc *d = find_doc(s, uri);

	if (!d || !d->open)
		return 0;
	d->open = false;
	d->has_diags = false;
	return lsp_session_notify(s, "textDocument/didClose",
				  json_pack("{s:{s:s}}", "textDocument", "uri", uri));
}

int lsp_session_wait_diagnostics(struct lsp_session *s, json_t **out, const char *uri,
				 int version, int timeout_ms)
{
	long long deadline = ln_now_ms() + timeout_ms;
	int error;

	*out = NULL;
	for (;;) {
		struct doc *d = find_doc(s, uri);
		long long now;
		if (d && d->has_diags &&
		    (d->diag_version == version ||
		     (d->diag_version < 0 && d->diag_seq > d->synced_seq))) {
			*out = json_incref(d->diags);
			return 0;
		}
		now = ln_now_ms();
		if (lsp_session_deadline(s, now >= deadline))
			return ln_error_set(LN_ETIMEOUT,
				"%s published no diagnostics for version %d of %s within %d ms",
				s->name, version, uri, timeout_ms);
		error = lsp_session_pump(s, deadline > now ? (int)(deadline - now) : 0);
		if (error)
			return error;
	}
}

/* Any token matching `needle` (NULL: any) with active (want_ended false)
 * or ended (want_ended true) set. */
static bool progress_any(const struct lsp_session *s, const char *needle, bool want_ended)
{
	size_t i;

	for (i = 0; i < s->nprog; i++) {
		const struct progress *p = &s->prog[i];
		if (!(want_ended ? p->ended : p->active))
			continue;
		if (!needle || strstr(p->token, needle) || (p->title && strstr(p->title, needle)))
			return true;
	}
	return false;
}

bool lsp_session_progress_ended(const struct lsp_session *s, const char *needle)
{
	return progress_any(s, needle, true);
}

bool lsp_session_progress_active(const struct lsp_session *s, const char *needle)
{
	return progress_any(s, needle, false);
}

bool lsp_session_log_seen(const struct lsp_session *s, const char *needle)
{
	return memmem(s->logs.data, s->logs.len, needle, strlen(needle)) != NULL;
}

const json_t *lsp_session_capabilities(const struct lsp_session *s)
{
	return s->caps;
}

enum ln_enc lsp_session_encoding(const struct lsp_session *s)
{
	return s->enc;
}

const char *lsp_session_server_name(const struct lsp_session *s)
{
	return s->server_name;
}

const char *lsp_session_server_version(const struct lsp_session *s)
{
	return s->server_version;
}

bool lsp_session_has_capability(const struct lsp_session *s, const char *cap)
{
	json_t *v = json_object_get(s->caps, cap);
	return v && !json_is_false(v) && !json_is_null(v);
}

int lsp_session_error(const struct lsp_session *s)
{
	return s->error;
}

static json_t *client_capabilities(void)
{
	return json_pack(
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
	s = xcalloc(1, sizeof *s);
	s->name = xstrdup(o->name ? o->name : o->argv[0]);
	s->root = xstrdup(o->root);
	s->stderr_fd = o->stderr_fd;
	s->record = o->record;
	s->record_ctx = o->record_ctx;
	s->settings = o->settings ? json_incref(o->settings) : NULL;
	s->enc = LN_ENC_UTF16;
	lsp_reader_init(&s->reader, o->max_frame);
	buf_init(&s->outq);
	buf_init(&s->frame);
	buf_init(&s->logs);

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
	params = json_pack("{s:o, s:{s:s, s:s}, s:s, s:s, s:[{s:s, s:s}], s:o, s:s}",
			   "processId", o->no_process_id ? json_null() : json_integer(getpid()),
			   "clientInfo", "name", "lanser", "version", LANSER_VERSION,
			   "rootUri", root_uri, "rootPath", o->root,
			   "workspaceFolders", "uri", root_uri, "name", "workspace",
			   "capabilities", client_capabilities(),
			   "trace", "off");
	if (o->init_options)
		json_object_set(params, "initializationOptions", o->init_options);
	error = lsp_session_request(s, &res, "initialize", params,
				    o->init_timeout_ms > 0 ? o->init_timeout_ms : 30000);
	params = NULL;
	if (error) {
		if (error == LN_ETIMEOUT)
			fail(s, LN_ETIMEOUT, "%s did not answer initialize within %d ms", s->name,
			     o->init_timeout_ms > 0 ? o->init_timeout_ms : 30000);
		else if (!s->error)
			fail(s, error, "%s", ln_error_msg());
		error = sticky(s);
		goto done;
	}
	if (!json_is_object(res) || !json_is_object(json_object_get(res, "capabilities"))) {
		error = fail(s, LN_ECRASH, "%s: initialize answer has no capabilities", s->name);
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
					   json_pack("{s:O}", "settings", s->settings));
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

void lsp_session_free(struct lsp_session *s)
{
	size_t i;
	json_t *res = NULL;

	if (!s)
		return;
	if (!s->replaying && !s->error && !s->unresponsive && s->proc.pid > 0) {
		int saved = ln_error_code();
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", ln_error_msg());
		if (!lsp_session_request(s, &res, "shutdown", NULL, 2000)) {
			json_decref(res);
			send_msg(s, json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", "exit"));
			/* flush the exit notification, then give the server a moment */
			{
				long long deadline = ln_now_ms() + 200;
				while (s->outq.len && !s->error && ln_now_ms() < deadline)
					lsp_session_pump(s, 50);
			}
			if (s->proc.in_fd >= 0) {
				close(s->proc.in_fd);
				s->proc.in_fd = -1;
			}
			ln_proc_wait(&s->proc, 1000);
		}
		ln_error_set(saved, "%s", msg);
	}
	ln_proc_release(&s->proc, 500);
	lsp_reader_release(&s->reader);
	buf_release(&s->outq);
	buf_release(&s->frame);
	buf_release(&s->logs);
	for (i = 0; i < s->npend; i++)
		json_decref(s->pend[i].response);
	free(s->pend);
	for (i = 0; i < s->ndocs; i++) {
		free(s->docs[i].uri);
		json_decref(s->docs[i].diags);
	}
	free(s->docs);
	for (i = 0; i < s->nprog; i++) {
		free(s->prog[i].token);
		free(s->prog[i].title);
	}
	free(s->prog);
	json_decref(s->settings);
	json_decref(s->caps);
	free(s->server_name);
	free(s->server_version);
	free(s->name);
	free(s->root);
	free(s);
}

/* ---- traces and replay ---- */

void lsp_session_set_recorder(struct lsp_session *s, lsp_record_fn fn, void *ctx)
{
	s->record = fn;
	s->record_ctx = fn ? ctx : NULL;
}

json_t *lsp_session_snapshot(const struct lsp_session *s)
{
	json_t *docs = json_array(), *prog = json_array(), *snap;
	char *settings;
	size_t i;

	for (i = 0; i < s->ndocs; i++) {
		const struct doc *d = &s->docs[i];
		json_array_append_new(docs, json_pack("{s:s, s:i, s:s, s:I, s:O?, s:i, s:I, s:b, s:b}",
			"uri", d->uri, "version", d->version, "hash", d->hash,
			"syncedSeq", (json_int_t)d->synced_seq, "diags", d->diags,
			"diagVersion", d->diag_version, "diagSeq", (json_int_t)d->diag_seq,
			"hasDiags", d->has_diags, "open", d->open));
	}
	for (i = 0; i < s->nprog; i++)
		json_array_append_new(prog, json_pack("{s:s, s:s?, s:b, s:b}", "token", s->prog[i].token,
			"title", s->prog[i].title, "active", s->prog[i].active, "ended", s->prog[i].ended));
	/* settings go back to the server (configuration answers), so they are
	 * kept as text: the member order of the messages a replay builds must
	 * be the original's, and a trace writes its objects with sorted keys */
	settings = s->settings ? json_dumps(s->settings, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	snap = json_pack("{s:s, s:s, s:O?, s:s?, s:s?, s:s, s:I, s:I, s:b, s:b, s:i, s:s, s:s?, "
			 "s:s%, s:o, s:o}",
		"name", s->name, "root", s->root, "capabilities", s->caps,
		"serverName", s->server_name, "serverVersion", s->server_version,
		"encoding", ln_enc_lsp_name(s->enc), "nextId", (json_int_t)s->next_id,
		"seq", (json_int_t)s->seq, "versionedDiags", s->versioned_diags,
		"unresponsive", s->unresponsive, "error", s->error, "errmsg", s->errmsg,
		"settings", settings, "logs", s->logs.data, s->logs.len,
		"docs", docs, "progress", prog);
	free(settings);
	return snap;
}

static int snap_fail(const char *what)
{
	return ln_error_set(LN_ETRACE, "server snapshot: %s", what);
}

/* Restores one field set of a snapshot; every value is untrusted. */
static int restore(struct lsp_session *s, const json_t *j)
{
	const json_t *v, *docs, *prog, *d;
	const char *str;
	size_t i;

	if (!json_is_object(j))
		return snap_fail("not an object");
	if (!json_is_string(json_object_get(j, "name")) || !json_is_string(json_object_get(j, "root")))
		return snap_fail("name and root must be strings");
	s->name = xstrdup(json_string_value(json_object_get(j, "name")));
	s->root = xstrdup(json_string_value(json_object_get(j, "root")));
	v = json_object_get(j, "capabilities");
	if (!json_is_object(v))
		return snap_fail("capabilities must be an object");
	s->caps = json_deep_copy(v);
	str = json_string_value(json_object_get(j, "encoding"));
	if (!str || ln_enc_parse(&s->enc, str))
		return snap_fail("unknown encoding");
	if ((str = json_string_value(json_object_get(j, "serverName"))))
		s->server_name = xstrdup(str);
	if ((str = json_string_value(json_object_get(j, "serverVersion"))))
		s->server_version = xstrdup(str);
	if (!json_is_integer(json_object_get(j, "nextId")) || !json_is_integer(json_object_get(j, "seq")) ||
	    !json_is_integer(json_object_get(j, "error")))
		return snap_fail("nextId, seq and error must be integers");
	s->next_id = json_integer_value(json_object_get(j, "nextId"));
	s->seq = json_integer_value(json_object_get(j, "seq"));
	s->versioned_diags = json_is_true(json_object_get(j, "versionedDiags"));
	s->unresponsive = json_is_true(json_object_get(j, "unresponsive"));
	s->error = (int)json_integer_value(json_object_get(j, "error"));
	if (s->error && (s->error > 0 || s->error < -255))
		return snap_fail("error is not an LN_E* code");
	snprintf(s->errmsg, sizeof s->errmsg, "%s",
		 json_string_value(json_object_get(j, "errmsg")) ? json_string_value(
			 json_object_get(j, "errmsg")) : "");
	v = json_object_get(j, "settings");
	if (json_is_string(v)) {
		s->settings = json_loadb(json_string_value(v), json_string_length(v),
					 JSON_DECODE_ANY, NULL);
		if (!s->settings)
			return snap_fail("settings are not JSON text");
	}
	v = json_object_get(j, "logs");
	if (json_is_string(v) && json_string_length(v) <= LOG_CAP)
		buf_add(&s->logs, json_string_value(v), json_string_length(v));
	docs = json_object_get(j, "docs");
	prog = json_object_get(j, "progress");
	if (!json_is_array(docs) || json_array_size(docs) > 100000 || !json_is_array(prog) ||
	    json_array_size(prog) > 4096)
		return snap_fail("docs and progress must be arrays (at most 100000 and 4096)");
	json_array_foreach(docs, i, d) {
		struct doc *doc;
		const char *uri = json_string_value(json_object_get(d, "uri"));
		const char *hash = json_string_value(json_object_get(d, "hash"));
		if (!uri || !hash || strlen(hash) > 64 || !json_is_integer(json_object_get(d, "version")))
			return snap_fail("a document needs uri, hash and version");
		doc = get_doc(s, uri);
		doc->version = (int)json_integer_value(json_object_get(d, "version"));
		snprintf(doc->hash, sizeof doc->hash, "%s", hash);
		doc->synced_seq = json_integer_value(json_object_get(d, "syncedSeq"));
		v = json_object_get(d, "diags");
		doc->diags = json_is_array(v) ? json_deep_copy(v) : NULL;
		doc->diag_version = (int)json_integer_value(json_object_get(d, "diagVersion"));
		doc->diag_seq = json_integer_value(json_object_get(d, "diagSeq"));
		doc->has_diags = json_is_true(json_object_get(d, "hasDiags")) && doc->diags;
		doc->open = json_is_true(json_object_get(d, "open"));
	}
	json_array_foreach(prog, i, d) {
		const char *tok = json_string_value(json_object_get(d, "token"));
		const char *title = json_string_value(json_object_get(d, "title"));
		struct progress *p;
		if (!tok)
			return snap_fail("a progress token must be a string");
		p = get_progress(s, tok);
		if (!p)
			return snap_fail("too many progress tokens");
		free(p->title);
		p->title = title ? xstrdup(title) : NULL;
		p->active = json_is_true(json_object_get(d, "active"));
		p->ended = json_is_true(json_object_get(d, "ended"));
	}
	return 0;
}

int lsp_session_replay_new(struct lsp_session **out, const json_t *snapshot,
			   const struct lsp_replay *src)
{
	struct lsp_session *s = xcalloc(1, sizeof *s);
	int error;

	*out = NULL;
	s->replaying = true;
	s->replay = *src;
	s->stderr_fd = -1;
	s->proc.in_fd = s->proc.out_fd = s->proc.err_fd = -1;
	lsp_reader_init(&s->reader, 0);
	buf_init(&s->outq);
	buf_init(&s->frame);
	buf_init(&s->logs);
	error = restore(s, snapshot);
	if (error) {
		if (!s->name)
			s->name = xstrdup("replay");
		if (!s->root)
			s->root = xstrdup("/");
		lsp_session_free(s);
		return error;
	}
	*out = s;
	return 0;
}

static void clip(char *out, size_t n, const char *body, size_t len)
{
	size_t k = len < n - 4 ? len : n - 4;
	memcpy(out, body, k);
	if (k < len)
		memcpy(out + k, "...", 4);
	else
		out[k] = '\0';
}

static int replay_send(struct lsp_session *s, char *body, size_t len)
{
	struct lsp_replay_item it;
	char got[120], want[120];
	int r = s->replay.peek(s->replay.ctx, &it);

	clip(got, sizeof got, body, len);
	if (r != 1) {
		free(body);
		return fail(s, LN_EREPLAY, "replay: lanser sends %s to %s, but the trace ends there",
			    got, s->name);
	}
	if (it.dir != '>' || it.len != len || memcmp(it.body, body, len)) {
		free(body);
		clip(want, sizeof want, it.body ? it.body : "", it.body ? it.len : 0);
		return fail(s, LN_EREPLAY, "replay: line %ld: lanser sends %s to %s, the trace has "
			    "'%c' %s", it.line, got, s->name, it.dir, want);
	}
	s->replay.advance(s->replay.ctx);
	free(body);
	return 0;
}

/* Dispatches the recorded frames of one pump call, up to its 'p' record. */
static int replay_pump(struct lsp_session *s)
{
	struct lsp_replay_item it;
	long long n = 0;

	if (s->error)
		return sticky(s);
	for (;;) {
		if (s->replay.peek(s->replay.ctx, &it) != 1)
			return fail(s, LN_EREPLAY, "replay: lanser reads from %s, but the trace ends "
				    "there", s->name);
		if (it.dir == '<') {
			/* dispatch may send (answers to server requests): the
			 * item is consumed first */
			struct buf body = BUF_INIT;
			buf_add(&body, it.body, it.len);
			s->replay.advance(s->replay.ctx);
			n++;
			if (dispatch(s, body.data, body.len)) {
				buf_release(&body);
				return sticky(s);
			}
			buf_release(&body);
			continue;
		}
		if (it.dir == 'p') {
			json_t *m = json_loadb(it.body, it.len, 0, NULL);
			long line = it.line;
			json_int_t want = json_integer_value(json_object_get(m, "n"));
			json_t *e = json_object_get(m, "error");
			s->replay.advance(s->replay.ctx);
			if (!m || want != n) {
				json_decref(m);
				return fail(s, LN_EREPLAY, "replay: line %ld: the pump of %s dispatched "
					    "%lld frames, the trace says %lld", line, s->name, n,
					    (long long)want);
			}
			if (json_is_integer(e) && json_integer_value(e) < 0 &&
			    json_integer_value(e) > -256) {
				const char *msg = json_string_value(json_object_get(m, "message"));
				int code = (int)json_integer_value(e);
				char copy[512];
				snprintf(copy, sizeof copy, "%s", msg ? msg : "");
				json_decref(m);
				return fail(s, code, "%s", copy);
			}
			json_decref(m);
			return 0;
		}
		return fail(s, LN_EREPLAY, "replay: line %ld: lanser reads from %s here, the trace "
			    "has '%c'", it.line, s->name, it.dir);
	}
}
