/*
 * query.c - the read-only query commands at a position: def, refs, hover.
 * (symbols and diag: agent/docquery.c.)
 *
 * Each builds one Analysis Bundle through the command context
 * (agent/cmdctx.h). Positions arrive and leave in the user's --index-io
 * unit, 1-based; they are converted to the server's negotiated encoding
 * only when talking to it, through the exact document text the server was
 * sent (agent/position.h).
 */
#include "agent/cli.h"
#include "agent/cmdctx.h"
#include "agent/position.h"
#include "agent/mdtext.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"
#include "selectors/resolve.h"
#include "selectors/tree.h"
#include "selectors/outline.h"
#include "selectors/selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cross-checks a symbolic selector's structural answer with the server's
 * own symbols: recorded, never fatal unless the server died. */
static int cross_check(struct cmdctx *x, struct lsp_server_info *srv,
		       const struct position_resolved *p)
{
	json_t *syms = NULL;
	char *uri = lsp_workspace_uri(x->ws, p->rel);
	int e = lsp_session_request(srv->session, &syms, "textDocument/documentSymbol",
				    xjson_pack("{s:{s:s}}", "textDocument", "uri", uri),
				    x->c->timeout_ms);

	free(uri);
	json_object_set_new(json_object_get(x->bundle, "resolution"), "crossCheck",
		xjson_pack("{s:s, s:s, s:o}", "server", srv->profile->name,
			   "method", "textDocument/documentSymbol", "agrees",
			   e ? json_null() : json_boolean(sel_symbols_agree(
				   syms, p->sel.qual[p->sel.nqual - 1], (int)(p->line - 1)))));
	json_decref(syms);
	if (e == LN_ECRASH)
		return e;
	ln_error_clear();
	return 0;
}

static bool ident_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

/* The C-style identifier at (line0, byte), malloc'd, or NULL when there is
 * none (at most 256 bytes: longer names are not looked at). */
static char *word_at(const struct ln_text *t, int line0, size_t byte)
{
	size_t len = 0, b, e;
	const char *l = t ? ln_text_line(t, line0, &len) : NULL;

	if (!l || byte > len)
		return NULL;
	for (b = byte; b > 0 && ident_char(l[b - 1]); b--)
		;
	for (e = byte; e < len && ident_char(l[e]); e++)
		;
	if (e == b || e - b > 256)
		return NULL;
	return xstrndup(l + b, e - b);
}

/* Resolves any selector (position.h), opens the file in its server,
 * cross-checks a symbolic selector with the server's symbols, and gives
 * the LSP position in the server's units, the file (*rel_out) and the
 * identifier under the cursor (*word_out, NULL when there is none). */
/* Whether the cursor (line0, byte) is on the name of a function
 * definition (not a prototype), by tree-sitter (sel_definition_name_at).
 * False for a language lanser does not parse. */
static bool on_definition_name(const char *rel, const struct ln_text *t, int line0, size_t byte)
{
	struct sel_doc *doc = NULL;
	bool yes = false;

	if (line0 < 0 || line0 >= t->nlines)
		return false;
	if (sel_doc_parse(&doc, rel, t->data, t->len, sel_grammar_for_path(rel)) == 0)
		yes = sel_definition_name_at(doc, t->line_starts[line0] + byte);
	ln_error_clear();
	sel_doc_free(doc);
	return yes;
}

static int resolve_cursor(struct cmdctx *x, struct lsp_server_info **srv, char **rel_out,
			  json_t **pos_out, char **word_out, bool *at_def, const char *text)
{
	struct position_resolved p;
	long srv_col = 0;
	int error, version;

	*srv = NULL;
	*rel_out = NULL;
	*pos_out = NULL;
	*word_out = NULL;
	error = position_resolve(&p, x, text);
	if (error)
		goto done;
	*word_out = word_at(p.text, (int)(p.line - 1), p.byte);
	if (at_def)
		*at_def = on_definition_name(p.rel, p.text, (int)(p.line - 1), p.byte);
	cmdctx_note_document(x, p.rel);
	error = lsp_workspace_open(x->ws, srv, &version, p.rel);
	if (error)
		goto done;
	cmdctx_note_server(x, *srv);
	if (p.sel.kind == SEL_SYMBOLIC && p.sel.role != SEL_ROLE_BODY &&
	    p.sel.role != SEL_ROLE_DOC &&
	    lsp_session_has_capability((*srv)->session, "documentSymbolProvider")) {
		error = cross_check(x, *srv, &p);
		if (error)
			goto done;
	}
	error = ln_text_from_byte(p.text, (int)(p.line - 1), p.byte,
				  lsp_session_encoding((*srv)->session), &srv_col);
	if (error)
		goto done;
	*pos_out = xjson_pack("{s:i, s:I}", "line", (int)(p.line - 1), "character",
			      (json_int_t)srv_col);
	*rel_out = p.rel;
	p.rel = NULL;
done:
	position_release(&p);
	return error;
}

/* Adds Location | Location[] | LocationLink[] | null as facts. */
static int add_locations(struct cmdctx *x, struct lsp_server_info *srv, const char *rel,
			 const char *kind, json_t *res)
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
		error = position_location_fact(x, &fact, kind, uri, range, srv);
		if (error)
			break;
		json_object_set_new(fact, "provenance", json_string("lsp"));
		json_array_append_new(x->facts, fact);
	}
	json_decref(one);
	return error;
}

static void print_locations(struct cmdctx *x)
{
	json_t *f;
	size_t i;

	if (json_array_size(x->facts) == 0)
		fprintf(x->c->out, "(no results)\n");
	json_array_foreach(x->facts, i, f) {
		json_t *r = json_object_get(f, "range");
		fprintf(x->c->out, "%s:%lld:%lld%s\n",
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

static int add_hover(struct cmdctx *x, struct lsp_server_info *srv, const char *rel,
		     const char *kind, json_t *res)
{
	const json_t *contents = json_object_get(res, "contents");
	struct buf text = BUF_INIT;
	json_t *fact;
	int error;

	if (!contents)
		return 0; /* null answer: nothing there */
	hover_text(&text, contents);
	fact = xjson_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "path", rel,
			  "contents", text.data, "provenance", "lsp");
	buf_release(&text);
	if (json_object_get(res, "range")) {
		const struct ln_text *t = NULL;
		/* Without the text the range stays in the server's units, and
		 * the fact says which (position_set_range). */
		if (lsp_workspace_text(x->ws, &t, rel) != 0) {
			t = NULL;
			ln_error_clear();
		}
		error = position_set_range(fact, t, lsp_session_encoding(srv->session),
					   x->c->index_io, json_object_get(res, "range"));
		if (error) {
			json_decref(fact);
			return error;
		}
	}
	json_array_append_new(x->facts, fact);
	return 0;
}

/* The human form prints the server's Markdown as plain text (the bundle
 * keeps it as sent). */
static void print_hover(struct cmdctx *x)
{
	struct buf text = BUF_INIT;
	json_t *f;
	size_t i;

	json_array_foreach(x->facts, i, f) {
		buf_reset(&text);
		agent_md_plain(&text, json_string_value(json_object_get(f, "contents")));
		fprintf(x->c->out, "%s\n", ln_printable_text(text.data));
	}
	buf_release(&text);
}

/* ---- answers a server may leave out (docs/bundle.md, "complete") ---- */

/* Sets complete to false and adds `reason` to the bundle's "incomplete"
 * list (once). */
static void mark_incomplete(struct cmdctx *x, const char *reason)
{
	json_t *list = json_object_get(x->bundle, "incomplete"), *r;
	size_t i;

	json_object_set_new(x->bundle, "complete", json_false());
	if (!list) {
		list = json_array();
		json_object_set_new(x->bundle, "incomplete", list);
	}
	json_array_foreach(list, i, r)
		if (!strcmp(json_string_value(r), reason))
			return;
	json_array_append_new(list, json_string(reason));
}

/* The most references the server returns, 0 for no cap. clangd cuts its
 * answer at --limit-references (1,000 when the flag is absent); the
 * built-in profile passes 0, a trusted configuration's own command line
 * keeps whatever it says. */
static long references_cap(const struct lsp_profile *p)
{
	const char *base;
	long cap = 1000;
	size_t i;

	if (!p->argv || !p->argv[0])
		return 0;
	base = strrchr(p->argv[0], '/');
	base = base ? base + 1 : p->argv[0];
	if (strncmp(base, "clangd", 6) != 0)
		return 0;
	for (i = 1; p->argv[i]; i++) {
		const char *a = p->argv[i], *v = NULL;
		if (a[0] == '-' && a[1] == '-')
			a++;
		if (!strncmp(a, "-limit-references=", 18))
			v = a + 18;
		else if (!strcmp(a, "-limit-references") && p->argv[i + 1])
			v = p->argv[++i];
		if (v)
			cap = strtol(v, NULL, 10);
	}
	return cap > 0 ? cap : 0;
}

/* Classes of answers a server version is known to miss. `profile` and a
 * substring of the server's version say which server; `command` and
 * `macro` (the target is a macro) say which queries. */
static const struct known_miss {
	const char *profile, *version, *command;
	bool macro;
	const char *reason;
} known_misses[] = {
	{ "clangd", "clangd version 14.", "refs", true,
	  "clangd 14 misses references to a macro that are inside another macro's definition" },
};

/* Whether `name` is #defined on some line of `path`'s text. */
static bool defines_macro(struct cmdctx *x, const char *path, const char *name)
{
	const struct ln_text *t = NULL;
	size_t nlen = strlen(name);
	int i;

	if (!path || lsp_workspace_text(x->ws, &t, path) != 0) {
		ln_error_clear();
		return false;
	}
	for (i = 0; i < ln_text_line_count(t); i++) {
		size_t len = 0, k = 0;
		const char *l = ln_text_line(t, i, &len);
		while (k < len && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (k >= len || l[k++] != '#')
			continue;
		while (k < len && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (len - k < 7 || strncmp(l + k, "define", 6) || (l[k + 6] != ' ' && l[k + 6] != '\t'))
			continue;
		k += 6;
		while (k < len && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (len - k >= nlen && !strncmp(l + k, name, nlen) &&
		    (k + nlen == len || !ident_char(l[k + nlen])))
			return true;
	}
	return false;
}

/* Whether the target `word` is a macro: #defined in the cursor's file or in
 * a file the answer names. */
static bool target_is_macro(struct cmdctx *x, const char *rel, const char *word)
{
	json_t *f;
	size_t i;

	if (!word)
		return false;
	if (defines_macro(x, rel, word))
		return true;
	json_array_foreach(x->facts, i, f)
		if (!json_is_true(json_object_get(f, "external")) &&
		    defines_macro(x, json_string_value(json_object_get(f, "path")), word))
			return true;
	return false;
}

/* Marks an answer that the server may have cut or is known to miss part
 * of. `raw` is the server's result. */
static void note_limits(struct cmdctx *x, const struct lsp_server_info *srv, const char *command,
			const char *rel, const char *word, const json_t *raw)
{
	long cap = references_cap(srv->profile);
	size_t i;

	if (!strcmp(command, "refs") && cap > 0) {
		/* clangd cuts before it drops the declaration (--no-decl) */
		size_t n = json_array_size(raw) + (x->c->no_decl ? 1 : 0);
		if (n >= (size_t)cap) {
			char reason[160];
			snprintf(reason, sizeof reason, "%s returns at most %ld references "
				 "(--limit-references): this answer may be cut", srv->profile->name, cap);
			mark_incomplete(x, reason);
		}
	}
	for (i = 0; i < sizeof known_misses / sizeof known_misses[0]; i++) {
		const struct known_miss *m = &known_misses[i];
		if (strcmp(m->profile, srv->profile->name) || strcmp(m->command, command) ||
		    !srv->version || !strstr(srv->version, m->version))
			continue;
		if (m->macro && !target_is_macro(x, rel, word))
			continue;
		mark_incomplete(x, m->reason);
	}
}

/* A workspace-wide query (references) to a server that searches only the
 * files it has open: open all of them first, so that the answer does not
 * depend on what this daemon happened to open before; where that cannot
 * be done, say so. */
static int open_search_scope(struct cmdctx *x, const struct lsp_server_info *srv)
{
	size_t skipped = 0;
	char reason[200];
	int r;

	if (!lsp_profile_searches_open_files(srv->profile))
		return 0;
	r = lsp_workspace_open_all(x->ws, &skipped, srv->profile, LSP_OPEN_ALL_MAX);
	if (r < 0)
		return r;
	if (r > 0) {
		snprintf(reason, sizeof reason, "%s searches only the files it has open, and the "
			 "workspace has more than %d of its files: lanser opened none", srv->profile->name,
			 LSP_OPEN_ALL_MAX);
		mark_incomplete(x, reason);
	} else if (skipped) {
		snprintf(reason, sizeof reason, "%s searches only the files it has open, and %zu of "
			 "its files could not be opened (binary, not UTF-8 or too large)",
			 srv->profile->name, skipped);
		mark_incomplete(x, reason);
	}
	return 0;
}

/* One request at a cursor, described once per command. */
/* The uri and range of a Location or LocationLink, or false. */
static bool location_of(const json_t *item, const char **uri, const json_t **range)
{
	*uri = json_string_value(json_object_get(item, "uri"));
	*range = json_object_get(item, "range");
	if (!*uri) {
		*uri = json_string_value(json_object_get(item, "targetUri"));
		*range = json_object_get(item, "targetSelectionRange");
		if (!*range)
			*range = json_object_get(item, "targetRange");
	}
	return *uri && json_is_object(*range);
}

/* Whether a range ({start, end} of {line, character}) holds a position. */
static bool range_holds(const json_t *range, const json_t *pos)
{
	const json_t *a = json_object_get(range, "start"), *b = json_object_get(range, "end");
	json_int_t l = json_integer_value(json_object_get(pos, "line"));
	json_int_t ch = json_integer_value(json_object_get(pos, "character"));
	json_int_t al = json_integer_value(json_object_get(a, "line"));
	json_int_t ac = json_integer_value(json_object_get(a, "character"));
	json_int_t bl = json_integer_value(json_object_get(b, "line"));
	json_int_t bc = json_integer_value(json_object_get(b, "character"));

	return (l > al || (l == al && ch >= ac)) && (l < bl || (l == bl && ch <= bc));
}

/*
 * Asked at a definition, clangd answers the declaration (an editor's
 * toggle: "go to definition" on a definition jumps to the prototype), so
 * `def c://src/util.c#max_int` named src/util.h. `def` answers where the
 * symbol is defined. When the cursor is on a definition's name (by
 * tree-sitter: on_definition_name) and the answer is one location that
 * does not hold it, the definition is asked again at that location; when
 * that answer holds the cursor, the server agrees the cursor is the
 * definition, and that second answer (the server's own range for it)
 * replaces the first. Any other second answer leaves the first as it was.
 * (The round trip alone cannot tell: from a prototype clangd answers the
 * definition, and from there the prototype again.)
 */
static int definition_at_definition(struct cmdctx *x, struct lsp_server_info *srv,
				    const char *uri, const json_t *pos, json_t **res)
{
	const json_t *one = json_is_array(*res) && json_array_size(*res) == 1
				    ? json_array_get(*res, 0) : json_is_object(*res) ? *res : NULL;
	const json_t *range, *back_range, *item;
	const char *at, *back_uri;
	json_t *back = NULL;
	size_t i;
	bool holds = false;
	int error;

	if (!one || !location_of(one, &at, &range) ||
	    (!strcmp(at, uri) && range_holds(range, pos)))
		return 0;
	/* the server answers only for a document it has been sent: a
	 * location outside the workspace is left as it is */
	{
		struct lsp_server_info *other = NULL;
		char *abs = NULL, *rel = NULL;
		int version;
		error = ln_uri_to_path(&abs, at);
		if (!error) {
			int in = ln_path_relativize(&rel, lsp_workspace_root(x->ws), abs);
			error = in == 1 ? 0 : in < 0 ? in : LN_ENOTFOUND;
		}
		if (!error)
			error = lsp_workspace_open(x->ws, &other, &version, rel);
		if (!error && other != srv)
			error = LN_ENOTFOUND;
		free(abs);
		free(rel);
		if (error) {
			if (error == LN_ECRASH)
				return error;
			ln_error_clear();
			return 0;
		}
	}
	error = lsp_session_request(srv->session, &back, "textDocument/definition",
				    xjson_pack("{s:{s:s}, s:O}", "textDocument", "uri", at, "position",
					       json_object_get(range, "start")),
				    x->c->timeout_ms);
	if (error) {
		json_decref(back);
		if (error == LN_ECRASH)
			return error;
		ln_error_clear();   /* the first answer stands */
		return 0;
	}
	if (json_is_object(back)) {
		json_t *arr = json_array();
		json_array_append_new(arr, back);
		back = arr;
	}
	json_array_foreach(back, i, item)
		if (location_of(item, &back_uri, &back_range) && !strcmp(back_uri, uri) &&
		    range_holds(back_range, pos))
			holds = true;
	if (holds && json_array_size(back) == 1) {
		json_decref(*res);
		*res = back;
	} else {
		json_decref(back);
	}
	return 0;
}

struct position_cmd {
	const char *command;
	const char *method;       /* LSP request */
	const char *cap;          /* server capability it needs */
	const char *kind;         /* kind of the facts */
	bool need_index;          /* the answer depends on the workspace index */
	bool with_decl_context;   /* references: send context.includeDeclaration */
	bool empty_ok;            /* an empty answer is an answer, not NOT_FOUND */
	bool workspace_wide;      /* the answer covers every file (open_search_scope) */
	int (*add)(struct cmdctx *, struct lsp_server_info *, const char *rel, const char *kind,
		   json_t *res);
	void (*human)(struct cmdctx *);
};

static int position_query(struct cli *c, const struct position_cmd *pc)
{
	struct cmdctx x;
	struct lsp_server_info *srv = NULL;
	char *uri = NULL, *rel = NULL, *word = NULL;
	json_t *pos = NULL, *res = NULL, *params;
	bool at_def = false;
	int error;

	cmdctx_begin(&x, c, pc->command, CMDCTX_QUERY);
	error = cmdctx_open_workspace(&x);
	if (error)
		return cmdctx_abandon(&x, error);
	if (pc->with_decl_context)
		json_object_set_new(cmdctx_request(&x), "options",
				    xjson_pack("{s:b}", "includeDeclaration", !c->no_decl));
	error = resolve_cursor(&x, &srv, &rel, &pos, &word, &at_def, c->argv[0]);
	if (error)
		goto done;
	error = cmdctx_require_capability(&x, srv, pc->cap, pc->command);
	if (error)
		goto done;
	error = cmdctx_wait_ready(&x, srv, pc->need_index);
	if (!error && pc->workspace_wide)
		error = open_search_scope(&x, srv);
	if (error)
		goto done;
	uri = lsp_workspace_uri(x.ws, rel);
	params = xjson_pack("{s:{s:s}, s:O}", "textDocument", "uri", uri, "position", pos);
	if (pc->with_decl_context)
		json_object_set_new(params, "context",
				    xjson_pack("{s:b}", "includeDeclaration", !c->no_decl));
	error = lsp_session_request(srv->session, &res, pc->method, params, c->timeout_ms);
	if (!error && at_def && !strcmp(pc->command, "def"))
		error = definition_at_definition(&x, srv, uri, pos, &res);
	if (error)
		goto done;
	error = pc->add(&x, srv, rel, pc->kind, res);
	if (!error)
		note_limits(&x, srv, pc->command, rel, word, res);
	if (!error && json_array_size(x.facts) == 0 && !pc->empty_ok)
		error = ln_error_set(LN_ENOTFOUND, "%s: no %s found at %s", pc->command, pc->kind,
				     c->argv[0]);
done:
	json_decref(res);
	json_decref(pos);
	free(uri);
	free(rel);
	free(word);
	return cmdctx_end(&x, error, pc->human);
}

int cmd_def(struct cli *c)
{
	static const struct position_cmd pc = {
		"def", "textDocument/definition", "definitionProvider", "definition",
		true, false, false, false, add_locations, print_locations,
	};
	return position_query(c, &pc);
}

int cmd_refs(struct cli *c)
{
	static const struct position_cmd pc = {
		"refs", "textDocument/references", "referencesProvider", "reference",
		true, true, true, true, add_locations, print_locations,
	};
	return position_query(c, &pc);
}

int cmd_hover(struct cli *c)
{
	static const struct position_cmd pc = {
		"hover", "textDocument/hover", "hoverProvider", "hover",
		false, false, false, false, add_hover, print_hover,
	};
	return position_query(c, &pc);
}

