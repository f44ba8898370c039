/*
 * query.c - the read-only query commands: def, refs, hover, symbols, diag.
 *
 * Each builds one Analysis Bundle (core/bundle.h). Positions arrive and
 * leave in the user's --index-io unit, 1-based; they are converted to the
 * server's negotiated encoding only when talking to it, through the exact
 * document text the server was sent.
 */
#include "agent/cli.h"
#include "agent/position.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/path.h"
#include "core/proc.h"
#include "selectors/resolve.h"
#include "selectors/selector.h"
#include "selectors/source.h"
#include "agent/trace.h"
#include "lsp/workspace.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct query {
	struct cli *c;
	struct lsp_workspace *ws;
	json_t *bundle;           /* owned */
	json_t *facts;            /* borrowed from bundle */
	long long started_ms;
	FILE *debug;
};

/* ---- selectors (the DSL: selectors/selector.h, resolution: resolve.h) ---- */

/* The resolver reads documents through the workspace, so it resolves
 * against the very bytes the server is sent. */
static int parse_cursor_text(void *ctx, const char *rel, const struct ln_text **out)
{
	return lsp_workspace_text(ctx, out, rel);
}

static int parse_cursor_files(void *ctx, json_t **out)
{
	int error;

	/* a disk probe: recorded in traces, answered from them in replay */
	if (lsp_workspace_replaying(ctx))
		return lsp_workspace_probe_get(ctx, "selectorFiles", "", out);
	error = sel_workspace_files(out, lsp_workspace_root(ctx));
	lsp_workspace_probe_put(ctx, "selectorFiles", "", error ? NULL : *out, error);
	return error;
}

/* ---- environment and inputs recorded in the bundle ---- */

static void note_server(struct query *q, struct lsp_server_info *srv)
{
	json_t *servers = json_object_get(json_object_get(q->bundle, "environment"), "servers");
	json_t *s;
	size_t i;

	json_array_foreach(servers, i, s)
		if (!strcmp(json_string_value(json_object_get(s, "profile")), srv->profile->name))
			return;
	json_array_append_new(servers, json_pack("{s:s, s:s, s:s}",
		"profile", srv->profile->name,
		"version", srv->version ? srv->version : "unknown",
		"positionEncoding", ln_enc_lsp_name(lsp_session_encoding(srv->session))));
}

static void note_document(struct query *q, const char *path)
{
	json_t *docs = json_object_get(json_object_get(q->bundle, "inputs"), "documents");
	const char *digest = lsp_workspace_text_digest(q->ws, path);
	json_t *d;
	size_t i;

	if (!digest)
		return;
	json_array_foreach(docs, i, d)
		if (!strcmp(json_string_value(json_object_get(d, "path")), path))
			return;
	json_array_append_new(docs, json_pack("{s:s, s:s}", "path", path, "sha256", digest));
}

static void note_capability(struct query *q, struct lsp_server_info *srv, const char *cap)
{
	json_t *caps = json_object_get(q->bundle, "capabilities");
	json_t *per = json_object_get(caps, srv->profile->name);
	const json_t *v = json_object_get(lsp_session_capabilities(srv->session), cap);

	if (!per) {
		per = json_object();
		json_object_set_new(caps, srv->profile->name, per);
	}
	json_object_set_new(per, cap, json_boolean(v && !json_is_false(v) && !json_is_null(v)));
}

/* ---- positions ---- */

/* Converts an LSP range from the server's units into a bundle range in the
 * user's units. Returns 0 and *out, or an error when the server's range
 * does not fit the document. */
static int convert_range(struct query *q, json_t **out, const struct ln_text *t,
			 enum ln_enc srv_enc, const json_t *range)
{
	const json_t *s = json_object_get(range, "start"), *e = json_object_get(range, "end");
	json_t *ls = json_object_get(s, "line"), *cs = json_object_get(s, "character");
	json_t *le = json_object_get(e, "line"), *ce = json_object_get(e, "character");
	long sc, ec;
	int error;

	*out = NULL;
	if (!json_is_integer(ls) || !json_is_integer(cs) || !json_is_integer(le) ||
	    !json_is_integer(ce) || json_integer_value(ls) < 0 || json_integer_value(le) < 0 ||
	    json_integer_value(ls) > 100000000 || json_integer_value(le) > 100000000)
		return ln_error_set(LN_ECRASH, "server sent a malformed range");
	if (!t) {
		*out = ln_range_new((long)json_integer_value(ls) + 1, (long)json_integer_value(cs) + 1,
				    (long)json_integer_value(le) + 1, (long)json_integer_value(ce) + 1);
		return 0;
	}
	error = ln_text_convert_col(t, (int)json_integer_value(ls), (long)json_integer_value(cs),
				    srv_enc, q->c->index_io, &sc);
	if (!error)
		error = ln_text_convert_col(t, (int)json_integer_value(le),
					    (long)json_integer_value(ce), srv_enc, q->c->index_io, &ec);
	if (error)
		return ln_error_set(LN_ECRASH, "server position does not fit the document: %s",
				    ln_error_msg());
	*out = ln_range_new((long)json_integer_value(ls) + 1, sc + 1,
			    (long)json_integer_value(le) + 1, ec + 1);
	return 0;
}

/* Builds {path, external?, range} for a location in any file. Positions in
 * files that cannot be read as text stay in the server's units and the fact
 * says so ("encoding"). */
static int location_fact(struct query *q, json_t **out, const char *kind, const char *uri,
			 const json_t *range, struct lsp_server_info *srv)
{
	char *abs = NULL, *rel = NULL;
	const struct ln_text *t = NULL;
	json_t *fact = NULL, *r = NULL;
	enum ln_enc enc = lsp_session_encoding(srv->session);
	int inside, error;

	*out = NULL;
	error = ln_uri_to_path(&abs, uri);
	if (error) {
		/* Not a file: URI (e.g. a virtual document); keep the URI. */
		fact = json_pack("{s:s, s:s, s:b}", "kind", kind, "path", uri, "external", 1);
		error = 0;
		if (convert_range(q, &r, NULL, enc, range) == 0)
			json_object_set_new(fact, "range", r);
		json_object_set_new(fact, "encoding", json_string(ln_enc_name(enc)));
		*out = fact;
		return 0;
	}
	inside = ln_path_relativize(&rel, lsp_workspace_root(q->ws), abs);
	if (inside < 0) {
		error = inside;
		goto done;
	}
	fact = json_pack("{s:s, s:s}", "kind", kind, "path", rel);
	if (!inside)
		json_object_set_new(fact, "external", json_true());
	if (lsp_workspace_text(q->ws, &t, inside ? rel : abs) == 0) {
		if (inside)
			note_document(q, rel);
	} else {
		t = NULL;
	}
	error = convert_range(q, &r, t, enc, range);
	if (error)
		goto done;
	json_object_set_new(fact, "range", r);
	if (!t && enc != q->c->index_io)
		json_object_set_new(fact, "encoding", json_string(ln_enc_name(enc)));
	*out = fact;
	fact = NULL;
done:
	json_decref(fact);
	free(abs);
	free(rel);
	return error;
}

/* ---- shared flow ---- */

/* LANSER_DEBUG_FRAMES=FILE appends every LSP frame (">" sent, "<" received)
 * to FILE, one per line: a debugging aid until traces land. */
static void debug_frame(void *ctx, char dir, const char *body, size_t len)
{
	FILE *f = ctx;
	fprintf(f, "%c %.*s\n", dir, (int)len, body);
	fflush(f);
}

static int query_begin(struct query *q, struct cli *c, const char *command)
{
	struct lsp_workspace_opts wo = { 0 };
	int error;

	memset(q, 0, sizeof *q);
	q->c = c;
	q->started_ms = ln_now_ms();
	q->bundle = ln_bundle_new(command);
	q->facts = json_object_get(q->bundle, "facts");
	json_object_set_new(json_object_get(q->bundle, "request"), "indexIo",
			    json_string(ln_enc_name(c->index_io)));
	json_object_set_new(json_object_get(q->bundle, "environment"), "configDigest",
			    json_string(c->cfg.digest));
	json_object_set_new(json_object_get(q->bundle, "environment"), "indexIo",
			    json_string(ln_enc_name(c->index_io)));
	wo.root = c->root;
	wo.servers = json_object_get(c->cfg.json, "servers");
	wo.init_ms = c->cfg.init_ms;
	wo.request_ms = c->timeout_ms;
	if (getenv("LANSER_DEBUG_FRAMES")) {
		q->debug = fopen(getenv("LANSER_DEBUG_FRAMES"), "a");
		if (q->debug) {
			wo.record = debug_frame;
			wo.record_ctx = q->debug;
		}
	}
	if (c->ws) {
		q->ws = c->ws;
		trace_attach(c, q->ws);
		return 0;
	}
	/* `trace replay`: the same query against the recorded data alone */
	wo.replay = trace_replayer(c);
	if (wo.replay)
		wo.record = NULL;
	error = lsp_workspace_new(&q->ws, &wo);
	if (!error) {
		trace_attach(c, q->ws);
	} else {
		/* callers return at once: nothing else owns these yet */
		json_decref(q->bundle);
		q->bundle = NULL;
		q->facts = NULL;
		if (q->debug)
			fclose(q->debug);
		q->debug = NULL;
	}
	return error;
}

/* Prints the bundle (--json) or the human form, and frees everything. */
static int query_end(struct query *q, int err, void (*human)(struct query *))
{
	json_t *vol;
	char *msg = xstrdup(err ? ln_error_msg() : "");
	int saved = err;

	vol = json_object_get(json_object_get(q->bundle, "meta"), "volatile");
	json_object_set_new(vol, "elapsedMs", json_integer(ln_now_ms() - q->started_ms));
	json_object_set_new(vol, "daemon", json_boolean(q->c->in_daemon));
	if (q->c->in_daemon)
		json_object_set_new(vol, "cacheHit", json_false());
	q->c->cacheable = true;
	q->c->complete = json_is_true(json_object_get(q->bundle, "complete"));
	if (ln_bundle_finish(q->bundle, err, msg) == 0) {
		trace_bundle(q->c, q->ws, q->bundle);
		if (q->c->json) {
			char *s = json_dumps(q->bundle, JSON_COMPACT | JSON_SORT_KEYS);
			if (s) {
				fprintf(q->c->out, "%s\n", s);
				free(s);
			}
		} else if (!err && human) {
			human(q);
		}
	} else if (!err) {
		err = ln_error_code();
	}
	if (!err && !q->c->json && !json_is_true(json_object_get(q->bundle, "complete")))
		fprintf(q->c->err, "lanser: note: the server was not ready; the answer may be "
				"incomplete (see --wait-index)\n");
	if (q->ws != q->c->ws) {
		lsp_workspace_set_recorder(q->ws, NULL);
		lsp_workspace_free(q->ws);
	}
	json_decref(q->bundle);
	if (q->debug)
		fclose(q->debug);
	if (saved)
		ln_error_set(saved, "%s", msg);
	free(msg);
	return err;
}

int resolve_position(struct resolved_position *p, struct cli *c, struct lsp_workspace *ws,
		     json_t *bundle, const char *text)
{
	struct sel_resolution res;
	struct sel_source src = { parse_cursor_text, parse_cursor_files, ws, c->root, c->cwd,
				  lsp_workspace_replaying(ws) };
	json_t *request = json_object_get(bundle, "request");
	char *lex = NULL;
	int error, l0;

	memset(p, 0, sizeof *p);
	memset(&res, 0, sizeof res);
	error = sel_parse(&p->sel, text, strlen(text), NULL);
	if (error) {
		json_object_set_new(request, "target", json_string(text));
		return error;
	}
	if (p->sel.kind == SEL_CURSOR) {
		long line = p->sel.line, col = p->sel.col;
		/* Recorded workspace-relative even when resolution fails, so
		 * error bundles hash the same from any directory. */
		ln_path_lexical_rel(&lex, c->root, c->cwd, p->sel.path);
		json_object_set_new(request, "target",
				    json_pack("{s:s, s:I, s:I}", "path", lex ? lex : p->sel.path,
					      "line", (json_int_t)line, "col", (json_int_t)col));
		error = lsp_workspace_resolve_path(ws, &p->rel, c->cwd, p->sel.path);
		if (error)
			goto done;
		json_object_set_new(request, "target",
				    json_pack("{s:s, s:I, s:I}", "path", p->rel, "line",
					      (json_int_t)line, "col", (json_int_t)col));
		error = lsp_workspace_text(ws, &p->text, p->rel);
		if (error)
			goto done;
		error = ln_text_to_byte(p->text, (int)(line - 1), col - 1, c->index_io, &p->byte);
		if (error) {
			error = ln_error_set(LN_ESELECTOR, "%s: %s", text, ln_error_msg());
			goto done;
		}
		p->line = line;
		json_object_set_new(bundle, "resolution",
				    json_pack("{s:s, s:s, s:o}", "method", "cursor", "path", p->rel,
					      "range", ln_range_new(line, col, line, col)));
	} else {
		json_t *target = sel_to_json(&p->sel);
		if (p->sel.kind == SEL_RANGE) {
			ln_path_lexical_rel(&lex, c->root, c->cwd, p->sel.path);
			if (lex)
				json_object_set_new(target, "path", json_string(lex));
		}
		json_object_set_new(request, "target", target);
		error = sel_resolve(&res, &p->sel, &src, c->index_io);
		if (error)
			goto done;
		json_object_set_new(bundle, "resolution", sel_resolution_json(&res, &src, c->index_io));
		if (res.status) {
			error = ln_error_set(res.status, "%s", res.message ? res.message : text);
			goto done;
		}
		p->rel = xstrdup(res.v[0].path);
		error = lsp_workspace_text(ws, &p->text, p->rel);
		if (!error)
			error = ln_text_line_of(p->text, res.v[0].point, &l0, &p->byte);
		if (error)
			goto done;
		p->line = l0 + 1;
	}
done:
	sel_resolution_release(&res);
	free(lex);
	return error;
}

void resolved_position_release(struct resolved_position *p)
{
	sel_release(&p->sel);
	free(p->rel);
	memset(p, 0, sizeof *p);
}

/* Resolves any selector (see resolve_position), opens the file in its
 * server, cross-checks a symbolic selector with the server's symbols, and
 * gives the LSP position in the server's units. */
static int resolve_cursor(struct query *q, struct lsp_server_info **srv, char **uri_out,
			  json_t **pos_out, const char *text)
{
	struct resolved_position p;
	long srv_col = 0;
	int error, version;

	*srv = NULL;
	*uri_out = NULL;
	*pos_out = NULL;
	error = resolve_position(&p, q->c, q->ws, q->bundle, text);
	if (error)
		goto done;
	note_document(q, p.rel);
	error = lsp_workspace_open(q->ws, srv, &version, p.rel);
	if (error)
		goto done;
	note_server(q, *srv);
	if (p.sel.kind == SEL_SYMBOLIC && p.sel.role != SEL_ROLE_BODY &&
	    p.sel.role != SEL_ROLE_DOC &&
	    lsp_session_has_capability((*srv)->session, "documentSymbolProvider")) {
		/* Cross-check the structural answer with the server's own
		 * symbols: recorded, never fatal unless the server died. */
		json_t *syms = NULL;
		char *uri = lsp_workspace_uri(q->ws, p.rel);
		int e = lsp_session_request((*srv)->session, &syms, "textDocument/documentSymbol",
					    json_pack("{s:{s:s}}", "textDocument", "uri", uri),
					    q->c->timeout_ms);
		free(uri);
		json_object_set_new(json_object_get(q->bundle, "resolution"), "crossCheck",
			json_pack("{s:s, s:s, s:o}", "server", (*srv)->profile->name,
				  "method", "textDocument/documentSymbol", "agrees",
				  e ? json_null() : json_boolean(sel_symbols_agree(
					  syms, p.sel.qual[p.sel.nqual - 1], (int)(p.line - 1)))));
		json_decref(syms);
		if (e == LN_ECRASH) {
			error = e;
			goto done;
		}
		ln_error_clear();
	}
	error = ln_text_from_byte(p.text, (int)(p.line - 1), p.byte,
				  lsp_session_encoding((*srv)->session), &srv_col);
	if (error)
		goto done;
	*uri_out = lsp_workspace_uri(q->ws, p.rel);
	*pos_out = json_pack("{s:i, s:I}", "line", (int)(p.line - 1), "character",
			     (json_int_t)srv_col);
done:
	resolved_position_release(&p);
	return error;
}

static int wait_ready(struct query *q, struct lsp_server_info *srv, bool need_index)
{
	int r;

	if (q->c->no_wait)
		r = 0;
	else
		r = lsp_workspace_wait_ready(q->ws, srv, need_index, q->c->index_ms);
	if (r < 0)
		return r;
	if (r == 0)
		json_object_set_new(q->bundle, "complete", json_false());
	return 0;
}

static int require_capability(struct query *q, struct lsp_server_info *srv, const char *cap,
			      const char *what)
{
	note_capability(q, srv, cap);
	if (!lsp_session_has_capability(srv->session, cap))
		return ln_error_set(LN_EUNSUPPORTED, "%s does not support %s (%s)",
				    srv->profile->name, what, cap);
	return 0;
}

/* Adds Location | Location[] | LocationLink[] | null as facts. */
static int add_locations(struct query *q, struct lsp_server_info *srv, const char *kind,
			 json_t *res)
{
	json_t *item, *one = NULL;
	size_t i;
	int error = 0;

	if (json_is_null(res))
		return 0;
	if (json_is_object(res)) {
		one = json_array();
		json_array_append(one, res);
		res = one;
	}
	if (!json_is_array(res))
		return ln_error_set(LN_ECRASH, "%s sent a malformed location list", srv->profile->name);
	json_array_foreach(res, i, item) {
		const char *uri = json_string_value(json_object_get(item, "uri"));
		const json_t *range = json_object_get(item, "range");
		json_t *fact;
		if (!uri) { /* LocationLink */
			uri = json_string_value(json_object_get(item, "targetUri"));
			range = json_object_get(item, "targetSelectionRange");
			if (!range)
				range = json_object_get(item, "targetRange");
		}
		if (!uri || !range) {
			error = ln_error_set(LN_ECRASH, "%s sent a malformed location",
					     srv->profile->name);
			break;
		}
		error = location_fact(q, &fact, kind, uri, range, srv);
		if (error)
			break;
		json_object_set_new(fact, "provenance", json_string("lsp"));
		json_array_append_new(q->facts, fact);
	}
	json_decref(one);
	return error;
}

static void print_locations(struct query *q)
{
	json_t *f;
	size_t i;

	if (json_array_size(q->facts) == 0)
		fprintf(q->c->out, "(no results)\n");
	json_array_foreach(q->facts, i, f) {
		json_t *r = json_object_get(f, "range");
		fprintf(q->c->out, "%s:%lld:%lld%s\n",
			ln_printable(json_string_value(json_object_get(f, "path"))),
		       (long long)json_integer_value(json_array_get(r, 0)),
		       (long long)json_integer_value(json_array_get(r, 1)),
		       json_is_true(json_object_get(f, "external")) ? "  (external)" : "");
	}
}

/* MarkupContent | MarkedString | MarkedString[] -> one text, parts
 * separated by a blank line. */
static void hover_text(struct buf *out, const json_t *contents)
{
	const json_t *part;
	const char *v;
	size_t i;

	if (json_is_array(contents)) {
		json_array_foreach(contents, i, part)
			hover_text(out, part);
		return;
	}
	v = json_is_string(contents) ? json_string_value(contents)
				     : json_string_value(json_object_get(contents, "value"));
	if (!v || !*v)
		return;
	if (out->len)
		buf_adds(out, "\n\n");
	buf_adds(out, v);
}

static int add_hover(struct query *q, struct lsp_server_info *srv, const char *kind,
		     json_t *res)
{
	const char *path = json_string_value(json_object_get(
		json_object_get(q->bundle, "resolution"), "path"));
	const json_t *contents = json_object_get(res, "contents");
	struct buf text = BUF_INIT;
	json_t *fact;
	int error = 0;

	if (!contents)
		return 0; /* null answer: nothing there */
	hover_text(&text, contents);
	fact = json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "path", path,
			 "contents", text.data, "provenance", "lsp");
	buf_release(&text);
	if (json_object_get(res, "range")) {
		const struct ln_text *t = NULL;
		json_t *r;
		lsp_workspace_text(q->ws, &t, path);
		error = convert_range(q, &r, t, lsp_session_encoding(srv->session),
				      json_object_get(res, "range"));
		if (error) {
			json_decref(fact);
			return error;
		}
		json_object_set_new(fact, "range", r);
	}
	json_array_append_new(q->facts, fact);
	return 0;
}

static void print_hover(struct query *q)
{
	json_t *f;
	size_t i;

	json_array_foreach(q->facts, i, f)
		fprintf(q->c->out, "%s\n",
			ln_printable_text(json_string_value(json_object_get(f, "contents"))));
}

/* One request at a cursor, described once per command. */
struct position_cmd {
	const char *command;
	const char *method;       /* LSP request */
	const char *cap;          /* server capability it needs */
	const char *kind;         /* kind of the facts */
	bool need_index;          /* the answer depends on the workspace index */
	bool with_decl_context;   /* references: send context.includeDeclaration */
	bool empty_ok;            /* an empty answer is an answer, not NOT_FOUND */
	int (*add)(struct query *, struct lsp_server_info *, const char *kind, json_t *res);
	void (*human)(struct query *);
};

static int position_query(struct cli *c, const struct position_cmd *pc)
{
	struct query q;
	struct lsp_server_info *srv = NULL;
	char *uri = NULL;
	json_t *pos = NULL, *res = NULL, *params;
	int error;

	if (c->argc != 1) {
		fprintf(c->err, "usage: lanser %s <path@L<line>:C<col>>\n", pc->command);
		return ln_error_set(LN_EUSAGE, "%s takes exactly one selector", pc->command);
	}
	error = query_begin(&q, c, pc->command);
	if (error)
		return error;
	if (pc->with_decl_context)
		json_object_set_new(json_object_get(q.bundle, "request"), "options",
				    json_pack("{s:b}", "includeDeclaration", !c->no_decl));
	error = resolve_cursor(&q, &srv, &uri, &pos, c->argv[0]);
	if (error)
		goto done;
	error = require_capability(&q, srv, pc->cap, pc->command);
	if (error)
		goto done;
	error = wait_ready(&q, srv, pc->need_index);
	if (error)
		goto done;
	params = json_pack("{s:{s:s}, s:O}", "textDocument", "uri", uri, "position", pos);
	if (pc->with_decl_context)
		json_object_set_new(params, "context",
				    json_pack("{s:b}", "includeDeclaration", !c->no_decl));
	error = lsp_session_request(srv->session, &res, pc->method, params, c->timeout_ms);
	if (error)
		goto done;
	error = pc->add(&q, srv, pc->kind, res);
	if (!error && json_array_size(q.facts) == 0 && !pc->empty_ok)
		error = ln_error_set(LN_ENOTFOUND, "%s: no %s found at %s", pc->command, pc->kind,
				     c->argv[0]);
done:
	json_decref(res);
	json_decref(pos);
	free(uri);
	return query_end(&q, error, pc->human);
}

int cmd_def(struct cli *c)
{
	static const struct position_cmd pc = {
		"def", "textDocument/definition", "definitionProvider", "definition",
		true, false, false, add_locations, print_locations,
	};
	return position_query(c, &pc);
}

int cmd_refs(struct cli *c)
{
	static const struct position_cmd pc = {
		"refs", "textDocument/references", "referencesProvider", "reference",
		true, true, true, add_locations, print_locations,
	};
	return position_query(c, &pc);
}

int cmd_hover(struct cli *c)
{
	static const struct position_cmd pc = {
		"hover", "textDocument/hover", "hoverProvider", "hover",
		false, false, false, add_hover, print_hover,
	};
	return position_query(c, &pc);
}

/* ---- symbols ---- */

static const char *symbol_kind_name(json_int_t k)
{
	static const char *const names[] = { "", "File", "Module", "Namespace", "Package",
		"Class", "Method", "Property", "Field", "Constructor", "Enum", "Interface",
		"Function", "Variable", "Constant", "String", "Number", "Boolean", "Array",
		"Object", "Key", "Null", "EnumMember", "Struct", "Event", "Operator",
		"TypeParameter" };
	if (k >= 1 && k < (json_int_t)(sizeof names / sizeof names[0]))
		return names[k];
	return "Unknown";
}

/* Copies src[skey] into dst[dkey] when it is a non-empty string. */
static void copy_nonempty(json_t *dst, const char *dkey, const json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);

	if (json_is_string(v) && *json_string_value(v))
		json_object_set(dst, dkey, v);
}

/* DocumentSymbol[] (hierarchical: children get a dotted container) or
 * SymbolInformation[] (documentSymbol from older servers, workspace/symbol). */
static int add_symbols(struct query *q, struct lsp_server_info *srv, const char *path,
		       const char *container, json_t *arr, int depth)
{
	enum ln_enc enc = lsp_session_encoding(srv->session);
	const struct ln_text *t = NULL;
	json_t *s;
	size_t i;
	int error = 0;

	if (depth > 64)
		return ln_error_set(LN_ECRASH, "%s sent symbols nested too deeply", srv->profile->name);
	json_array_foreach(arr, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		json_t *loc = json_object_get(s, "location"), *fact, *r = NULL, *sr = NULL;
		if (!name)
			return ln_error_set(LN_ECRASH, "%s sent a symbol without a name",
					    srv->profile->name);
		if (loc) {
			const char *uri = json_string_value(json_object_get(loc, "uri"));
			if (!uri)
				return ln_error_set(LN_ECRASH, "%s sent a symbol without a uri",
						    srv->profile->name);
			error = location_fact(q, &fact, "symbol", uri, json_object_get(loc, "range"),
					      srv);
			if (error)
				return error;
			json_object_set_new(fact, "name", json_string(name));
			copy_nonempty(fact, "container", s, "containerName");
		} else {
			if (!t && (error = lsp_workspace_text(q->ws, &t, path)))
				return error;
			error = convert_range(q, &r, t, enc, json_object_get(s, "range"));
			if (!error)
				error = convert_range(q, &sr, t, enc, json_object_get(s, "selectionRange"));
			if (error) {
				json_decref(r);
				return error;
			}
			fact = json_pack("{s:s, s:s, s:s, s:o, s:o}", "kind", "symbol", "name", name,
					 "path", path, "range", r, "selectionRange", sr);
			if (container)
				json_object_set_new(fact, "container", json_string(container));
		}
		json_object_set_new(fact, "symbolKind", json_string(
			symbol_kind_name(json_integer_value(json_object_get(s, "kind")))));
		copy_nonempty(fact, "detail", s, "detail");
		json_object_set_new(fact, "provenance", json_string("lsp"));
		json_array_append_new(q->facts, fact);
		if (json_is_array(json_object_get(s, "children"))) {
			struct buf full = BUF_INIT;
			buf_addf(&full, "%s%s%s", container ? container : "", container ? "." : "",
				 name);
			error = add_symbols(q, srv, path, full.data, json_object_get(s, "children"),
					    depth + 1);
			buf_release(&full);
			if (error)
				return error;
		}
	}
	return 0;
}

static void print_symbols(struct query *q)
{
	json_t *f;
	size_t i;

	json_array_foreach(q->facts, i, f) {
		json_t *r = json_object_get(f, "selectionRange");
		const char *cont = json_string_value(json_object_get(f, "container"));
		if (!r)
			r = json_object_get(f, "range");
		fprintf(q->c->out, "%-12s %s%s%s  %s:%lld:%lld\n",
		       json_string_value(json_object_get(f, "symbolKind")),
		       cont ? ln_printable(cont) : "", cont ? "." : "",
		       ln_printable(json_string_value(json_object_get(f, "name"))),
		       ln_printable(json_string_value(json_object_get(f, "path"))),
		       (long long)json_integer_value(json_array_get(r, 0)),
		       (long long)json_integer_value(json_array_get(r, 1)));
	}
}

int cmd_symbols(struct cli *c)
{
	struct query q;
	struct lsp_server_info *srv = NULL;
	json_t *res = NULL, *files = NULL;
	char *rel = NULL, *uri = NULL;
	int error, version;

	if ((c->workspace && c->argc > 1) || (!c->workspace && c->argc != 1)) {
		fprintf(c->err, "usage: lanser symbols <file>\n"
				"       lanser symbols --workspace [query]\n");
		return ln_error_set(LN_EUSAGE, "symbols takes one file, or --workspace and a query");
	}
	error = query_begin(&q, c, "symbols");
	if (error)
		return error;
	if (!c->workspace) {
		char *lex = NULL;
		ln_path_lexical_rel(&lex, c->root, c->cwd, c->argv[0]);
		json_object_set_new(json_object_get(q.bundle, "request"), "target",
				    json_pack("{s:s}", "path", lex ? lex : c->argv[0]));
		free(lex);
		error = lsp_workspace_resolve_path(q.ws, &rel, c->cwd, c->argv[0]);
		if (error)
			goto done;
		error = lsp_workspace_open(q.ws, &srv, &version, rel);
		if (error)
			goto done;
		note_server(&q, srv);
		note_document(&q, rel);
		error = require_capability(&q, srv, "documentSymbolProvider", "document symbols");
		if (error)
			goto done;
		error = wait_ready(&q, srv, false);
		if (error)
			goto done;
		uri = lsp_workspace_uri(q.ws, rel);
		error = lsp_session_request(srv->session, &res, "textDocument/documentSymbol",
					    json_pack("{s:{s:s}}", "textDocument", "uri", uri),
					    c->timeout_ms);
		if (error)
			goto done;
		if (json_is_array(res))
			error = add_symbols(&q, srv, rel, NULL, res, 0);
	} else {
		/* One server per language present in the workspace; each gets
		 * one of its files opened so that it loads the project. */
		const char *query = c->argc ? c->argv[0] : "";
		const struct lsp_profiles *ps = lsp_workspace_profiles(q.ws);
		size_t i, j;
		json_t *f;

		json_object_set_new(json_object_get(q.bundle, "request"), "target",
				    json_pack("{s:s}", "query", query));
		error = lsp_workspace_source_files(q.ws, &files);
		if (error)
			goto done;
		for (i = 0; i < ps->n; i++) {
			const struct lsp_profile *p = &ps->v[i];
			const char *first = NULL;
			if (!p->enabled)
				continue;
			json_array_foreach(files, j, f)
				if (lsp_profiles_for_path(ps, json_string_value(f), NULL) == p) {
					first = json_string_value(f);
					break;
				}
			if (!first)
				continue;
			error = lsp_workspace_open(q.ws, &srv, &version, first);
			if (error)
				goto done;
			/* Servers answer workspace symbols from their index plus the
			 * files they have built: wait until the file just opened is
			 * built (its diagnostics are out), so a fresh process answers
			 * like a warm daemon that opened it long ago. */
			if (!c->no_wait) {
				json_t *dg = NULL;
				char *furi = lsp_workspace_uri(q.ws, first);
				lsp_session_wait_diagnostics(srv->session, &dg, furi, version,
							     c->cfg.diagnostics_ms);
				json_decref(dg);
				free(furi);
			}
			note_server(&q, srv);
			error = require_capability(&q, srv, "workspaceSymbolProvider",
						   "workspace symbols");
			if (error)
				goto done;
			error = wait_ready(&q, srv, true);
			if (error)
				goto done;
			json_decref(res);
			res = NULL;
			error = lsp_session_request(srv->session, &res, "workspace/symbol",
						    json_pack("{s:s}", "query", query), c->timeout_ms);
			if (error)
				goto done;
			if (json_is_array(res))
				error = add_symbols(&q, srv, "", NULL, res, 0);
			if (error)
				goto done;
		}
		/* Workspace symbols are the workspace's: servers report symbols of
		 * external files (system headers, site-packages) only for the files
		 * they happen to have open, which would make the answer depend on
		 * earlier requests (docs/daemon.md). */
		for (i = json_array_size(q.facts); i-- > 0;)
			if (json_is_true(json_object_get(json_array_get(q.facts, i), "external")))
				json_array_remove(q.facts, i);
		if (!srv)
			error = ln_error_set(LN_ENOSERVER,
					     "no file in the workspace is served by a language server");
	}
done:
	json_decref(res);
	json_decref(files);
	free(rel);
	free(uri);
	return query_end(&q, error, print_symbols);
}

/* ---- diagnostics ---- */

static const char *severity_name(json_int_t s)
{
	switch (s) {
	case 1: return "error";
	case 2: return "warning";
	case 3: return "information";
	case 4: return "hint";
	default: return "error"; /* LSP: absent severity is the client's call */
	}
}

static int add_diagnostics(struct query *q, struct lsp_server_info *srv, const char *rel,
			   json_t *diags)
{
	const struct ln_text *t;
	json_t *d;
	size_t i;
	int error;

	error = lsp_workspace_text(q->ws, &t, rel);
	if (error)
		return error;
	json_array_foreach(diags, i, d) {
		json_t *r, *fact, *code = json_object_get(d, "code");
		const char *msg = json_string_value(json_object_get(d, "message"));
		error = convert_range(q, &r, t, lsp_session_encoding(srv->session),
				      json_object_get(d, "range"));
		if (error)
			return error;
		fact = json_pack("{s:s, s:s, s:o, s:s, s:s}", "kind", "diagnostic", "path", rel,
				 "range", r,
				 "severity", severity_name(json_integer_value(json_object_get(d, "severity"))),
				 "message", msg ? msg : "");
		if (json_is_string(code))
			json_object_set(fact, "code", code);
		else if (json_is_integer(code)) {
			char tmp[32];
			snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(code));
			json_object_set_new(fact, "code", json_string(tmp));
		}
		if (json_is_string(json_object_get(d, "source")))
			json_object_set(fact, "source", json_object_get(d, "source"));
		json_object_set_new(fact, "provenance", json_string("lsp"));
		json_array_append_new(q->facts, fact);
	}
	return 0;
}

static void print_diagnostics(struct query *q)
{
	json_t *f;
	size_t i;
	int counts[2] = { 0, 0 };

	json_array_foreach(q->facts, i, f) {
		json_t *r = json_object_get(f, "range");
		const char *sev = json_string_value(json_object_get(f, "severity"));
		const char *code = json_string_value(json_object_get(f, "code"));
		fprintf(q->c->out, "%s:%lld:%lld: %s: %s%s%s%s\n",
		       ln_printable(json_string_value(json_object_get(f, "path"))),
		       (long long)json_integer_value(json_array_get(r, 0)),
		       (long long)json_integer_value(json_array_get(r, 1)), sev,
		       ln_printable_text(json_string_value(json_object_get(f, "message"))),
		       code ? " [" : "", code ? ln_printable(code) : "", code ? "]" : "");
		counts[strcmp(sev, "error") ? 1 : 0]++;
	}
	fprintf(q->c->out, "%d error%s, %d other\n", counts[0], counts[0] == 1 ? "" : "s", counts[1]);
}

int cmd_diag(struct cli *c)
{
	struct query q;
	json_t *files = json_array(), *f;
	size_t i;
	int error;
	struct opened { struct lsp_server_info *srv; int version; } *opened = NULL;

	error = query_begin(&q, c, "diag");
	if (error) {
		json_decref(files);
		return error;
	}
	if (c->argc == 0 || c->workspace) {
		json_decref(files);
		error = lsp_workspace_source_files(q.ws, &files);
		if (error) {
			files = json_array();
			goto done;
		}
		json_object_set_new(json_object_get(q.bundle, "request"), "target",
				    json_pack("{s:b}", "workspace", 1));
	} else {
		for (i = 0; i < (size_t)c->argc; i++) {
			char *rel = NULL;
			error = lsp_workspace_resolve_path(q.ws, &rel, c->cwd, c->argv[i]);
			if (error)
				goto done;
			json_array_append_new(files, json_string(rel));
			free(rel);
		}
		json_object_set_new(json_object_get(q.bundle, "request"), "target",
				    json_pack("{s:O}", "paths", files));
	}
	opened = xcalloc(json_array_size(files) + 1, sizeof *opened);
	/* Open everything first so the servers work on all files at once. */
	json_array_foreach(files, i, f) {
		error = lsp_workspace_open(q.ws, &opened[i].srv, &opened[i].version,
					   json_string_value(f));
		if (error)
			goto done;
		note_server(&q, opened[i].srv);
		note_document(&q, json_string_value(f));
	}
	json_array_foreach(files, i, f) {
		json_t *diags = NULL;
		char *uri = lsp_workspace_uri(q.ws, json_string_value(f));
		error = lsp_session_wait_diagnostics(opened[i].srv->session, &diags, uri,
						     opened[i].version, c->cfg.diagnostics_ms);
		free(uri);
		if (error)
			goto done;
		error = add_diagnostics(&q, opened[i].srv, json_string_value(f), diags);
		json_decref(diags);
		if (error)
			goto done;
	}
done:
	free(opened);
	json_decref(files);
	return query_end(&q, error, print_diagnostics);
}
