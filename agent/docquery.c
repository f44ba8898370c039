/*
 * docquery.c - the read-only queries over whole documents: symbols (of a
 * file, or --workspace) and diag. (Queries at a position: agent/query.c.)
 *
 * Each builds one Analysis Bundle through the command context
 * (agent/cmdctx.h); ranges come back in the user's --index-io units
 * (agent/position.h).
 */
#include "agent/cli.h"
#include "agent/cmdctx.h"
#include "agent/position.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static int add_symbols(struct cmdctx *x, struct lsp_server_info *srv, const char *path,
		       const char *container, json_t *arr, int depth)
{
	enum ln_enc enc = lsp_session_encoding(srv->session);
	const struct ln_text *t = NULL;
	json_t *s;
	size_t i;
	bool relabel;
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
			error = position_location_fact(x, &fact, "symbol", uri,
						       json_object_get(loc, "range"), srv);
			if (error)
				return error;
			json_object_set_new(fact, "name", json_string(name));
			copy_nonempty(fact, "container", s, "containerName");
		} else {
			if (!t && (error = lsp_workspace_text(x->ws, &t, path)))
				return error;
			error = position_user_range(&r, &relabel, t, enc, x->c->index_io,
						    json_object_get(s, "range"));
			if (!error)
				error = position_user_range(&sr, &relabel, t, enc, x->c->index_io,
							    json_object_get(s, "selectionRange"));
			if (error) {
				json_decref(r);
				return error;
			}
			error = cmdctx_pack(&fact, LN_EINPUT, path, "{s:s, s:s, s:s, s:o, s:o}",
					    "kind", "symbol", "name", name, "path", path, "range", r,
					    "selectionRange", sr);
			if (error)
				return error;
			if (container)
				json_object_set_new(fact, "container", json_string(container));
		}
		json_object_set_new(fact, "symbolKind", json_string(
			symbol_kind_name(json_integer_value(json_object_get(s, "kind")))));
		copy_nonempty(fact, "detail", s, "detail");
		json_object_set_new(fact, "provenance", json_string("lsp"));
		json_array_append_new(x->facts, fact);
		if (json_is_array(json_object_get(s, "children"))) {
			struct buf full = BUF_INIT;
			buf_addf(&full, "%s%s%s", container ? container : "", container ? "." : "",
				 name);
			error = add_symbols(x, srv, path, full.data, json_object_get(s, "children"),
					    depth + 1);
			buf_release(&full);
			if (error)
				return error;
		}
	}
	return 0;
}

static void print_symbols(struct cmdctx *x)
{
	json_t *f;
	size_t i;

	json_array_foreach(x->facts, i, f) {
		json_t *r = json_object_get(f, "selectionRange");
		const char *cont = json_string_value(json_object_get(f, "container"));
		if (!r)
			r = json_object_get(f, "range");
		fprintf(x->c->out, "%-12s %s%s%s  %s:%lld:%lld\n",
		       json_string_value(json_object_get(f, "symbolKind")),
		       cont ? ln_printable(cont) : "", cont ? "." : "",
		       ln_printable(json_string_value(json_object_get(f, "name"))),
		       ln_printable(json_string_value(json_object_get(f, "path"))),
		       (long long)json_integer_value(json_array_get(r, 0)),
		       (long long)json_integer_value(json_array_get(r, 1)));
	}
}

/* symbols <file>: the server's documentSymbol answer. */
static int document_symbols(struct cmdctx *x)
{
	struct cli *c = x->c;
	struct lsp_server_info *srv = NULL;
	json_t *res = NULL;
	char *rel = NULL, *uri = NULL, *lex = NULL;
	int error, version;

	ln_path_lexical_rel(&lex, c->root, c->cwd, c->argv[0]);
	error = cmdctx_target_path(x, lex ? lex : c->argv[0]);
	free(lex);
	if (error)
		return error;
	error = lsp_workspace_resolve_path(x->ws, &rel, c->cwd, c->argv[0]);
	if (error)
		goto done;
	error = lsp_workspace_open(x->ws, &srv, &version, rel);
	if (error)
		goto done;
	cmdctx_note_server(x, srv);
	cmdctx_note_document(x, rel);
	error = cmdctx_require_capability(x, srv, "documentSymbolProvider", "document symbols");
	if (error)
		goto done;
	error = cmdctx_wait_ready(x, srv, false);
	if (error)
		goto done;
	uri = lsp_workspace_uri(x->ws, rel);
	error = lsp_session_request(srv->session, &res, "textDocument/documentSymbol",
				    xjson_pack("{s:{s:s}}", "textDocument", "uri", uri),
				    c->timeout_ms);
	if (!error && json_is_array(res))
		error = add_symbols(x, srv, rel, NULL, res, 0);
done:
	json_decref(res);
	free(rel);
	free(uri);
	return error;
}

/* One server's workspace/symbol answer, once it has loaded the project
 * through `first`, one of its files. */
static int server_symbols(struct cmdctx *x, struct lsp_server_info **srv, const char *first,
			  const char *query)
{
	struct cli *c = x->c;
	json_t *res = NULL;
	int error, version;

	error = lsp_workspace_open(x->ws, srv, &version, first);
	if (error)
		return error;
	/* Servers answer workspace symbols from their index plus the files
	 * they have built: wait until the file just opened is built (its
	 * diagnostics are out), so a fresh process answers like a warm daemon
	 * that opened it long ago. */
	if (!c->no_wait) {
		json_t *dg = NULL;
		char *furi = lsp_workspace_uri(x->ws, first);
		lsp_session_wait_diagnostics((*srv)->session, &dg, furi, version,
					     c->cfg.diagnostics_ms);
		json_decref(dg);
		free(furi);
	}
	cmdctx_note_server(x, *srv);
	error = cmdctx_require_capability(x, *srv, "workspaceSymbolProvider", "workspace symbols");
	if (!error)
		error = cmdctx_wait_ready(x, *srv, true);
	if (!error)
		error = lsp_session_request((*srv)->session, &res, "workspace/symbol",
					    xjson_pack("{s:s}", "query", query), c->timeout_ms);
	if (!error && json_is_array(res))
		error = add_symbols(x, *srv, "", NULL, res, 0);
	json_decref(res);
	return error;
}

/* symbols --workspace [query]: one server per language present in the
 * workspace; each gets one of its files opened so that it loads the
 * project. */
static int workspace_symbols(struct cmdctx *x)
{
	struct cli *c = x->c;
	const char *query = c->argc ? c->argv[0] : "";
	const struct lsp_profiles *ps = lsp_workspace_profiles(x->ws);
	struct lsp_server_info *srv = NULL;
	json_t *files = NULL, *f;
	size_t i, j;
	int error;

	json_object_set_new(cmdctx_request(x), "target", xjson_pack("{s:s}", "query", query));
	error = lsp_workspace_source_files(x->ws, &files);
	if (error)
		return error;
	for (i = 0; i < ps->n && !error; i++) {
		const struct lsp_profile *p = &ps->v[i];
		const char *first = NULL;
		if (!p->enabled)
			continue;
		json_array_foreach(files, j, f)
			if (lsp_profiles_for_path(ps, json_string_value(f), NULL) == p) {
				first = json_string_value(f);
				break;
			}
		if (first)
			error = server_symbols(x, &srv, first, query);
	}
	json_decref(files);
	if (error)
		return error;
	/* Workspace symbols are the workspace's: servers report symbols of
	 * external files (system headers, site-packages) only for the files
	 * they happen to have open, which would make the answer depend on
	 * earlier requests (docs/daemon.md). */
	for (i = json_array_size(x->facts); i-- > 0;)
		if (json_is_true(json_object_get(json_array_get(x->facts, i), "external")))
			json_array_remove(x->facts, i);
	if (!srv)
		return ln_error_set(LN_ENOSERVER,
				    "no file in the workspace is served by a language server");
	return 0;
}

int cmd_symbols(struct cli *c)
{
	struct cmdctx x;
	int error;

	/* at most one argument: the table's count (agent_cmdline_parse) */
	if (!c->workspace && c->argc != 1)
		return ln_error_set(LN_EUSAGE, "symbols takes one file, or --workspace and an "
				    "optional query");
	cmdctx_begin(&x, c, "symbols", CMDCTX_QUERY);
	error = cmdctx_open_workspace(&x);
	if (error)
		return cmdctx_abandon(&x, error);
	error = c->workspace ? workspace_symbols(&x) : document_symbols(&x);
	return cmdctx_end(&x, error, print_symbols);
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

static int add_diagnostics(struct cmdctx *x, struct lsp_server_info *srv, const char *rel,
			   json_t *diags)
{
	const struct ln_text *t;
	json_t *d;
	size_t i;
	bool relabel;
	int error;

	error = lsp_workspace_text(x->ws, &t, rel);
	if (error)
		return error;
	json_array_foreach(diags, i, d) {
		json_t *r, *fact, *code = json_object_get(d, "code");
		const char *msg = json_string_value(json_object_get(d, "message"));
		error = position_user_range(&r, &relabel, t, lsp_session_encoding(srv->session),
					    x->c->index_io, json_object_get(d, "range"));
		if (error)
			return error;
		fact = xjson_pack("{s:s, s:s, s:o, s:s, s:s}", "kind", "diagnostic", "path", rel,
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
		json_array_append_new(x->facts, fact);
	}
	return 0;
}

/* Workspace diag: a file's own problem becomes a "fileError" fact (its
 * exit code and message) and the answer goes on without its diagnostics,
 * "complete": false. Returns 0. */
static int file_error(struct cmdctx *x, const char *rel, int code)
{
	struct buf msg = BUF_INIT, root = BUF_INIT;
	const char *m = ln_error_msg(), *hit;
	json_t *fact;

	/* no absolute workspace path in anything hashed */
	buf_addf(&root, "%s/", x->c->root);
	while ((hit = strstr(m, root.data)) != NULL) {
		buf_add(&msg, m, (size_t)(hit - m));
		m = hit + root.len;
	}
	buf_adds(&msg, m);
	fact = xjson_pack("{s:s, s:s, s:s, s:o, s:s}", "kind", "fileError", "path", rel,
			  "provenance", "lanser", "message", xjson_string_lossy(msg.data), "code",
			  ln_err_name(code));
	buf_release(&msg);
	buf_release(&root);

	json_array_append_new(x->facts, fact);
	json_object_set_new(x->bundle, "complete", json_false());
	ln_error_clear();
	return 0;
}

static void print_diagnostics(struct cmdctx *x)
{
	json_t *f;
	size_t i;
	int counts[2] = { 0, 0 };

	json_array_foreach(x->facts, i, f) {
		json_t *r = json_object_get(f, "range");
		const char *sev = json_string_value(json_object_get(f, "severity"));
		if (!strcmp(json_string_value(json_object_get(f, "kind")), "fileError")) {
			fprintf(x->c->out, "%s: not checked: %s\n",
				ln_printable(json_string_value(json_object_get(f, "path"))),
				ln_printable_text(json_string_value(json_object_get(f, "message"))));
			continue;
		}
		const char *code = json_string_value(json_object_get(f, "code"));
		fprintf(x->c->out, "%s:%lld:%lld: %s: %s%s%s%s\n",
		       ln_printable(json_string_value(json_object_get(f, "path"))),
		       (long long)json_integer_value(json_array_get(r, 0)),
		       (long long)json_integer_value(json_array_get(r, 1)), sev,
		       ln_printable_text(json_string_value(json_object_get(f, "message"))),
		       code ? " [" : "", code ? ln_printable(code) : "", code ? "]" : "");
		counts[strcmp(sev, "error") ? 1 : 0]++;
	}
	fprintf(x->c->out, "%d error%s, %d other\n", counts[0], counts[0] == 1 ? "" : "s", counts[1]);
}

int cmd_diag(struct cli *c)
{
	struct cmdctx x;
	json_t *files = json_array(), *f;
	size_t i;
	int error;
	struct opened { struct lsp_server_info *srv; int version; } *opened = NULL;
	bool workspace = c->argc == 0 || c->workspace;

	cmdctx_begin(&x, c, "diag", CMDCTX_QUERY);
	error = cmdctx_open_workspace(&x);
	if (error) {
		json_decref(files);
		return cmdctx_abandon(&x, error);
	}
	if (workspace) {
		json_decref(files);
		error = lsp_workspace_source_files(x.ws, &files);
		if (error) {
			files = json_array();
			goto done;
		}
		json_object_set_new(cmdctx_request(&x), "target",
				    xjson_pack("{s:b}", "workspace", 1));
	} else {
		for (i = 0; i < (size_t)c->argc; i++) {
			char *rel = NULL;
			json_t *s;
			error = lsp_workspace_resolve_path(x.ws, &rel, c->cwd, c->argv[i]);
			if (error)
				goto done;
			s = json_string(rel);
			if (!s)
				error = ln_error_set(LN_EUSAGE, "%s: a path must be UTF-8 text",
						     ln_printable(c->argv[i]));
			free(rel);
			if (error)
				goto done;
			json_array_append_new(files, s);
		}
		json_object_set_new(cmdctx_request(&x), "target",
				    xjson_pack("{s:O}", "paths", files));
	}
	opened = xcalloc(json_array_size(files) + 1, sizeof *opened);
	/* Open everything first so the servers work on all files at once. */
	json_array_foreach(files, i, f) {
		error = lsp_workspace_open(x.ws, &opened[i].srv, &opened[i].version,
					   json_string_value(f));
		if (error && workspace && error == LN_EINPUT) {
			/* one unusable file (too large, not UTF-8, binary) is that
			 * file's problem, not the workspace answer's */
			error = file_error(&x, json_string_value(f), error);
			opened[i].srv = NULL;
			continue;
		}
		if (error)
			goto done;
		cmdctx_note_server(&x, opened[i].srv);
		cmdctx_note_document(&x, json_string_value(f));
	}
	json_array_foreach(files, i, f) {
		json_t *diags = NULL;
		char *uri;
		if (!opened[i].srv)
			continue;
		uri = lsp_workspace_uri(x.ws, json_string_value(f));
		error = lsp_session_wait_diagnostics(opened[i].srv->session, &diags, uri,
						     opened[i].version, c->cfg.diagnostics_ms);
		free(uri);
		if (error)
			goto done;
		error = add_diagnostics(&x, opened[i].srv, json_string_value(f), diags);
		json_decref(diags);
		if (error && workspace)
			error = file_error(&x, json_string_value(f), error);
		if (error)
			goto done;
	}
done:
	free(opened);
	json_decref(files);
	return cmdctx_end(&x, error, print_diagnostics);
}
