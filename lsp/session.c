/*
 * session.c - the client side of LSP over a transport (session_impl.h):
 * requests matched by id, server-to-client requests answered, documents,
 * diagnostics and progress (session.h; a document's diagnostics are
 * session_diag.c). The live server is
 * session_live.c; snapshots and trace replay are session_replay.c.
 */
#include "lsp/session.h"
#include "lsp/session_impl.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marks the session dead with a sticky error and stops the other side. */
int lsp_session_fail(struct lsp_session *s, int code, const char *fmt, ...)
{
	va_list ap;

	if (!s->error) {
		va_start(ap, fmt);
		vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
		va_end(ap);
		s->error = code;
		if (s->tr->stop)
			s->tr->stop(s);
	}
	return ln_error_set(s->error, "%s", s->errmsg);
}

int lsp_session_sticky(struct lsp_session *s)
{
	return ln_error_set(s->error, "%s", s->errmsg);
}

int lsp_session_send(struct lsp_session *s, json_t *msg)
{
	char *body;

	if (s->error) {
		json_decref(msg);
		return lsp_session_sticky(s);
	}
	body = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!body)
		return ln_error_set(LN_EGENERIC, "cannot encode a message for %s", s->name);
	return s->tr->send(s, body, strlen(body));
}

struct lsp_session *lsp_session_alloc(size_t max_frame)
{
	struct lsp_session *s = xcalloc(1, sizeof *s);

	s->stderr_fd = -1;
	s->proc.in_fd = s->proc.out_fd = s->proc.err_fd = -1;
	lsp_reader_init(&s->reader, max_frame);
	buf_init(&s->outq);
	buf_init(&s->frame);
	buf_init(&s->logs);
	return s;
}

struct doc *lsp_session_find_doc(struct lsp_session *s, const char *uri)
{
	size_t i;
	for (i = 0; i < s->ndocs; i++)
		if (!strcmp(s->docs[i].uri, uri))
			return &s->docs[i];
	return NULL;
}

struct doc *lsp_session_get_doc(struct lsp_session *s, const char *uri)
{
	struct doc *d = lsp_session_find_doc(s, uri);

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

struct progress *lsp_session_get_progress(struct lsp_session *s, const char *token)
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
	p->percentage = -1;
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
	p = lsp_session_get_progress(s, tok);
	if (!p)
		goto done;
	if (!strcmp(kind, "begin") || !strcmp(kind, "report")) {
		json_t *pct = json_object_get(val, "percentage");
		if (json_is_integer(pct) && json_integer_value(pct) >= 0 &&
		    json_integer_value(pct) <= 100)
			p->percentage = (int)json_integer_value(pct);
		else if (kind[0] == 'b')
			p->percentage = -1;
	}
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
	d = lsp_session_get_doc(s, uri);
	json_decref(d->diags);
	d->diags = json_incref(diags);
	d->diag_version = json_is_integer(ver) ? (int)json_integer_value(ver) : -1;
	d->diag_seq = s->seq;
	d->has_diags = true;
}

/* Registrations we act on: the pull-diagnostics provider (pyright
 * registers it dynamically after `initialized`). LSP spells the
 * unregistration list "unregisterations". */
void lsp_session_pull_id(struct lsp_session *s, const char *id, bool add)
{
	size_t k;

	for (k = 0; k < s->npull_ids; k++)
		if (!strcmp(s->pull_ids[k], id))
			break;
	if (add && k == s->npull_ids && s->npull_ids < LSP_PULL_IDS_MAX)
		s->pull_ids[s->npull_ids++] = xstrdup(id);
	else if (!add && k < s->npull_ids) {
		free(s->pull_ids[k]);
		s->pull_ids[k] = s->pull_ids[--s->npull_ids];
	}
}

static void on_registration(struct lsp_session *s, json_t *params, bool add)
{
	json_t *regs = json_object_get(params, add ? "registrations" : "unregisterations"), *r;
	size_t i;

	json_array_foreach(regs, i, r) {
		const char *m = json_string_value(json_object_get(r, "method"));
		const char *id = json_string_value(json_object_get(r, "id"));
		if (m && id && !strcmp(m, "textDocument/diagnostic"))
			lsp_session_pull_id(s, id, add);
	}
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
	json_t *reply = xjson_pack("{s:s, s:O}", "jsonrpc", "2.0", "id", id);

	if (!strcmp(method, "client/registerCapability"))
		on_registration(s, params, true);
	else if (!strcmp(method, "client/unregisterCapability"))
		on_registration(s, params, false);
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
		char *uri = ln_uri_from_path(s->root);   /* absolute: never NULL */
		json_object_set_new(reply, "result",
			uri ? xjson_pack("[{s:s, s:s}]", "uri", uri, "name", "workspace")
			    : json_null());
		free(uri);
	} else if (!strcmp(method, "workspace/applyEdit")) {
		/* lanser applies edits itself, through its guarded path. */
		json_object_set_new(reply, "result",
			xjson_pack("{s:b, s:s}", "applied", 0, "failureReason",
				  "lanser applies edits itself"));
	} else {
		json_object_set_new(reply, "error", xjson_pack("{s:i, s:s}", "code", -32601,
			"message", "method not supported by lanser"));
	}
	lsp_session_send(s, reply);
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

int lsp_session_dispatch(struct lsp_session *s, const char *body, size_t len)
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
		return lsp_session_fail(s, LN_ECRASH, "%s sent a malformed message (%s)", s->name,
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

int lsp_session_pump(struct lsp_session *s, int timeout_ms)
{
	return s->tr->pump(s, timeout_ms);
}

bool lsp_session_deadline(struct lsp_session *s, bool passed)
{
	return s->tr->deadline(s, passed);
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
		case -32802: /* ServerCancelled (LSP 3.17) */
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
		return lsp_session_sticky(s);
	}
	id = ++s->next_id;
	msg = xjson_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)id,
			"method", method);
	if (params)
		json_object_set_new(msg, "params", params);
	if (s->npend == s->cappend) {
		s->cappend = s->cappend ? s->cappend * 2 : 8;
		s->pend = xrealloc(s->pend, s->cappend * sizeof *s->pend);
	}
	s->pend[s->npend++] = (struct pending){ .id = id, .response = NULL };
	error = lsp_session_send(s, msg);
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
			lsp_session_send(s, xjson_pack("{s:s, s:s, s:{s:I}}", "jsonrpc", "2.0", "method",
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
	json_t *msg = xjson_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	int error;

	json_object_set_new(msg, "params", params ? params : json_object());
	error = lsp_session_send(s, msg);
	if (!error)
		error = lsp_session_pump(s, 0);
	return error;
}

int lsp_session_sync_doc(struct lsp_session *s, int *version_out, const char *uri,
			 const char *language_id, const char *text, size_t len)
{
	char hash[65];
	struct doc *d;
	int error;

	if (s->error)
		return lsp_session_sticky(s);
	ln_sha256_hex(text, len, hash);
	d = lsp_session_get_doc(s, uri);
	if (d->open && !strcmp(d->hash, hash)) {
		if (version_out)
			*version_out = d->version;
		return 0;
	}
	d->version++;
	memcpy(d->hash, hash, sizeof hash);
	if (!d->open) {
		if (!language_id)   /* a profile type without one: no didOpen */
			return ln_error_set(LN_EGENERIC, "%s: no language id for %s", s->name, uri);
		d->open = true;
		error = lsp_session_notify(s, "textDocument/didOpen",
			xjson_pack("{s:{s:s, s:s, s:i, s:s%}}", "textDocument", "uri", uri,
				  "languageId", language_id, "version", d->version, "text",
				  text, len));
	} else {
		error = lsp_session_notify(s, "textDocument/didChange",
			xjson_pack("{s:{s:s, s:i}, s:[{s:s%}]}", "textDocument", "uri", uri,
				  "version", d->version, "contentChanges", "text", text, len));
	}
	/* get_doc may have moved the array: look the document up again. */
	d = lsp_session_find_doc(s, uri);
	if (d)
		d->synced_seq = s->seq;
	if (version_out)
		*version_out = d ? d->version : 0;
	return error;
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
	struct doc *d = lsp_session_find_doc(s, uri);

	if (!d || !d->open)
		return 0;
	d->open = false;
	d->has_diags = false;
	return lsp_session_notify(s, "textDocument/didClose",
				  xjson_pack("{s:{s:s}}", "textDocument", "uri", uri));
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

const char *lsp_session_progress_now(const struct lsp_session *s, const char *needle,
				     int *percentage)
{
	size_t i;

	*percentage = -1;
	for (i = 0; i < s->nprog; i++) {
		const struct progress *p = &s->prog[i];
		if (!p->active || (needle && !strstr(p->token, needle) &&
				   !(p->title && strstr(p->title, needle))))
			continue;
		*percentage = p->percentage;
		return p->title ? p->title : p->token;
	}
	return NULL;
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

bool lsp_session_has_capability(const struct lsp_session *s, const char *cap)
{
	json_t *v = json_object_get(s->caps, cap);
	return v && !json_is_false(v) && !json_is_null(v);
}

int lsp_session_error(const struct lsp_session *s)
{
	return s->error;
}

void lsp_session_free(struct lsp_session *s)
{
	size_t i;

	if (!s)
		return;
	if (s->tr && s->tr->close)
		s->tr->close(s);
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
	for (i = 0; i < s->npull_ids; i++)
		free(s->pull_ids[i]);
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
