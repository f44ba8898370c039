/*
 * session_diag.c - a document's diagnostics (session.h,
 * lsp_session_wait_diagnostics): published ones for the version sent, or
 * asked for where publications cannot be trusted to be final (LSP pull
 * diagnostics; tsserver's synchronous diagnostics).
 */
#include "lsp/session.h"
#include "lsp/session_impl.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/*
 * typescript-language-server publishes diagnostics without a version: the
 * first message after an open is an empty "clear" sent before tsserver has
 * checked anything, and the syntactic, semantic and suggestion results
 * follow in as many messages as the timing gives. None of them says it is
 * the final one for the text we sent. The server also offers tsserver's
 * synchronous diagnostics through its "typescript.tsserverRequest"
 * command; asked after the sync, they describe exactly that text. So a
 * server offering the command is asked, and its published messages are
 * not waited for.
 */
#define TS_REQUEST_COMMAND "typescript.tsserverRequest"

static bool offers_command(const struct lsp_session *s, const char *command)
{
	json_t *cmds = json_object_get(json_object_get(s->caps, "executeCommandProvider"),
				       "commands");
	json_t *c;
	size_t i;

	json_array_foreach(cmds, i, c)
		if (json_is_string(c) && !strcmp(json_string_value(c), command))
			return true;
	return false;
}

/* tsserver's 1-based {line, offset} as an LSP position (clamped to 0..INT_MAX). */
static json_t *ts_position(const json_t *loc)
{
	json_int_t line = json_integer_value(json_object_get(loc, "line"));
	json_int_t off = json_integer_value(json_object_get(loc, "offset"));

	line = line < 1 ? 0 : line > INT_MAX ? INT_MAX : line - 1;
	off = off < 1 ? 0 : off > INT_MAX ? INT_MAX : off - 1;
	return xjson_pack("{s:I, s:I}", "line", line, "character", off);
}

/* One tsserver diagnostic as typescript-language-server would publish it
 * (range, message, severity, code, source); NULL when it has no text. */
static json_t *ts_diagnostic(const json_t *d)
{
	const char *text = json_string_value(json_object_get(d, "text"));
	const char *cat = json_string_value(json_object_get(d, "category"));
	const char *source = json_string_value(json_object_get(d, "source"));
	json_t *code = json_object_get(d, "code"), *o;
	int severity = 1; /* "error" and anything unknown, as the server does */

	if (!text || !json_is_object(d))
		return NULL;
	if (cat && !strcmp(cat, "warning"))
		severity = 2;
	else if (cat && !strcmp(cat, "suggestion"))
		severity = 4;
	o = xjson_pack("{s:{s:o, s:o}, s:o, s:i, s:o}", "range",
		       "start", ts_position(json_object_get(d, "start")),
		       "end", ts_position(json_object_get(d, "end")),
		       "message", xjson_string_lossy(text), "severity", severity,
		       "source", xjson_string_lossy(source ? source : "typescript"));
	if (json_is_integer(code) || json_is_string(code))
		json_object_set(o, "code", code);
	return o;
}

static int ts_pull_diagnostics(struct lsp_session *s, json_t **out, const char *uri,
			       int timeout_ms)
{
	static const char *const kinds[] = { "syntacticDiagnosticsSync",
					     "semanticDiagnosticsSync",
					     "suggestionDiagnosticsSync" };
	long long deadline = ln_now_ms() + timeout_ms;
	json_t *all = json_array(), *res = NULL, *body, *d;
	int error = 0;
	size_t k, i;

	for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		long long left = deadline - ln_now_ms();
		error = lsp_session_request(s, &res, "workspace/executeCommand",
			xjson_pack("{s:s, s:[s, {s:s}]}", "command", TS_REQUEST_COMMAND,
				   "arguments", kinds[k], "file", uri),
			left > 0 ? (int)left : 0);
		if (error == LN_ETIMEOUT)
			ln_error_set(LN_ETIMEOUT, "%s gave no %s for %s within %d ms", s->name,
				     kinds[k], uri, timeout_ms);
		if (error)
			break;
		body = json_object_get(res, "body");
		if (!json_is_true(json_object_get(res, "success")) || !json_is_array(body)) {
			error = ln_error_set(LN_EGENERIC, "%s answered %s for %s without diagnostics",
					     s->name, kinds[k], uri);
			break;
		}
		json_array_foreach(body, i, d) {
			json_t *o = ts_diagnostic(d);
			if (o)
				json_array_append_new(all, o);
		}
		json_decref(res);
		res = NULL;
	}
	json_decref(res);
	if (error) {
		json_decref(all);
		return error;
	}
	*out = all;
	return 0;
}

/*
 * LSP pull diagnostics. pyright publishes a version's diagnostics more
 * than once (after binding, then after checking) and under load the first
 * message, for the right version, lacks the checker's errors: nothing in
 * it says it is not the last. Asked with textDocument/diagnostic, it
 * checks the file and answers with the final set for the text it has.
 * Requests are answered in order after the didOpen/didChange sent before
 * them, so the answer is for the version last synced.
 */
#define PULL_RETRIES 20

static bool pull_offered(const struct lsp_session *s)
{
	return s->npull_ids > 0 || lsp_session_has_capability(s, "diagnosticProvider");
}

static int lsp_pull_diagnostics(struct lsp_session *s, json_t **out, const char *uri,
				int timeout_ms)
{
	long long deadline = ln_now_ms() + timeout_ms;
	json_t *res = NULL, *items;
	const char *kind;
	int error = 0, tries = 0;

	for (;;) {
		long long now = ln_now_ms();
		if (!pull_offered(s)) {
			/* the registration follows `initialized` closely */
			if (lsp_session_deadline(s, now >= deadline))
				return ln_error_set(LN_ETIMEOUT,
					"%s did not offer pull diagnostics within %d ms (for %s)",
					s->name, timeout_ms, uri);
			error = lsp_session_pump(s, deadline > now ? (int)(deadline - now) : 0);
			if (error)
				return error;
			continue;
		}
		if (lsp_session_deadline(s, now >= deadline))
			return ln_error_set(LN_ETIMEOUT, "%s gave no diagnostics for %s within %d ms",
					    s->name, uri, timeout_ms);
		error = lsp_session_request(s, &res, "textDocument/diagnostic",
			xjson_pack("{s:{s:s}}", "textDocument", "uri", uri), (int)(deadline - now));
		if ((error == LN_ECANCELLED || error == LN_EMODIFIED) && ++tries < PULL_RETRIES)
			continue;   /* the server asks to be asked again */
		if (error == LN_ETIMEOUT)
			ln_error_set(LN_ETIMEOUT, "%s gave no diagnostics for %s within %d ms",
				     s->name, uri, timeout_ms);
		if (error)
			return error;
		break;
	}
	kind = json_string_value(json_object_get(res, "kind"));
	items = json_object_get(res, "items");
	/* No previousResultId is ever sent, so "unchanged" is malformed too. */
	if (!kind || strcmp(kind, "full") || !json_is_array(items)) {
		json_decref(res);
		return ln_error_set(LN_EGENERIC, "%s answered textDocument/diagnostic for %s "
				    "without a full report", s->name, uri);
	}
	*out = json_incref(items);
	json_decref(res);
	return 0;
}

bool lsp_session_pulls_diagnostics(const struct lsp_session *s)
{
	return s->pull_declared || offers_command(s, TS_REQUEST_COMMAND);
}

int lsp_session_wait_diagnostics(struct lsp_session *s, json_t **out, const char *uri,
				 int version, int timeout_ms)
{
	long long deadline = ln_now_ms() + timeout_ms;
	int error;

	*out = NULL;
	if (offers_command(s, TS_REQUEST_COMMAND))
		return ts_pull_diagnostics(s, out, uri, timeout_ms);
	if (s->pull_declared)
		return lsp_pull_diagnostics(s, out, uri, timeout_ms);
	for (;;) {
		struct doc *d = lsp_session_find_doc(s, uri);
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
