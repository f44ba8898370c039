/*
 * position.c - selectors resolved for the position commands, and server
 * ranges converted back to the user's units (see position.h).
 */
#include "agent/position.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/ignore.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "selectors/resolve.h"
#include "selectors/source.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The resolver reads documents through the workspace, so it resolves
 * against the very bytes the server is sent. */
static int source_text(void *ctx, const char *rel, const struct ln_text **out)
{
	return lsp_workspace_text(ctx, out, rel);
}

static int source_files(void *ctx, json_t **out)
{
	int error;

	/* a disk probe: recorded in traces, answered from them in replay */
	if (lsp_workspace_replaying(ctx))
		return lsp_workspace_probe_get(ctx, "selectorFiles", "", out);
	error = sel_workspace_files(out, lsp_workspace_root(ctx));
	lsp_workspace_probe_put(ctx, "selectorFiles", "", error ? NULL : *out, error);
	return error;
}

static json_t *cursor_target(const char *path, long line, long col)
{
	return xjson_pack("{s:s, s:I, s:I}", "path", path, "line", (json_int_t)line, "col",
			  (json_int_t)col);
}

static int resolve_cursor(struct position_resolved *p, struct cmdctx *x, const char *text)
{
	struct cli *c = x->c;
	json_t *request = cmdctx_request(x), *target;
	long line = p->sel.line, col = p->sel.col;
	char *lex = NULL;
	int error;

	/* Recorded workspace-relative even when resolution fails, so error
	 * bundles hash the same from any directory. */
	ln_path_lexical_rel(&lex, c->root, c->cwd, p->sel.path);
	json_object_set_new(request, "target", cursor_target(lex ? lex : p->sel.path, line, col));
	free(lex);
	error = lsp_workspace_resolve_path(x->ws, &p->rel, c->cwd, p->sel.path);
	if (error)
		return error;
	/* the file it resolved to (a symlink's target, say) must fit a bundle */
	error = cmdctx_pack(&target, LN_ESELECTOR, p->rel, "{s:s, s:I, s:I}", "path", p->rel,
			    "line", (json_int_t)line, "col", (json_int_t)col);
	if (error)
		return error;
	json_object_set_new(request, "target", target);
	error = lsp_workspace_text(x->ws, &p->text, p->rel);
	if (error)
		return error;
	error = ln_text_to_byte(p->text, (int)(line - 1), col - 1,
				ln_text_user_enc(p->text, c->index_io), &p->byte);
	if (error)
		return ln_error_set(LN_ESELECTOR, "%s: %s", text, ln_error_msg());
	p->line = line;
	json_object_set_new(x->bundle, "resolution",
			    xjson_pack("{s:s, s:s, s:o}", "method", "cursor", "path", p->rel,
				       "range", ln_range_new(line, col, line, col)));
	return 0;
}

int position_resolve(struct position_resolved *p, struct cmdctx *x, const char *text)
{
	struct cli *c = x->c;
	struct sel_resolution res;
	struct sel_source src = { source_text, source_files, x->ws, c->root, c->cwd,
				  lsp_workspace_replaying(x->ws) };
	json_t *request = cmdctx_request(x), *target;
	char *lex = NULL;
	int error, l0;

	memset(p, 0, sizeof *p);
	memset(&res, 0, sizeof res);
	error = sel_parse(&p->sel, text, strlen(text), NULL);
	if (error) {
		json_object_set_new(request, "target", json_string(text));
		return error;
	}
	if (p->sel.kind == SEL_CURSOR)
		return resolve_cursor(p, x, text);
	target = sel_to_json(&p->sel);
	if (p->sel.kind == SEL_RANGE) {
		ln_path_lexical_rel(&lex, c->root, c->cwd, p->sel.path);
		if (lex)
			json_object_set_new(target, "path", json_string(lex));
	}
	json_object_set_new(request, "target", target);
	error = sel_resolve(&res, &p->sel, &src, c->index_io);
	if (error)
		goto done;
	json_object_set_new(x->bundle, "resolution", sel_resolution_json(&res, &src, c->index_io));
	if (res.status) {
		error = ln_error_set(res.status, "%s", res.message ? res.message : text);
		goto done;
	}
	p->rel = xstrdup(res.v[0].path);
	error = lsp_workspace_text(x->ws, &p->text, p->rel);
	if (!error)
		error = ln_text_line_of(p->text, res.v[0].point, &l0, &p->byte);
	if (error)
		goto done;
	p->line = l0 + 1;
done:
	sel_resolution_release(&res);
	free(lex);
	return error;
}

void position_release(struct position_resolved *p)
{
	sel_release(&p->sel);
	free(p->rel);
	memset(p, 0, sizeof *p);
}

int position_user_range(json_t **out, bool *relabel, const struct ln_text *t,
			enum ln_enc srv, enum ln_enc user, const json_t *range)
{
	const json_t *s = json_object_get(range, "start"), *e = json_object_get(range, "end");
	json_t *ls = json_object_get(s, "line"), *cs = json_object_get(s, "character");
	json_t *le = json_object_get(e, "line"), *ce = json_object_get(e, "character");
	long sl, sc, el, ec;
	int error;

	*out = NULL;
	*relabel = false;
	if (!json_is_integer(ls) || !json_is_integer(cs) || !json_is_integer(le) ||
	    !json_is_integer(ce) || json_integer_value(ls) < 0 || json_integer_value(le) < 0 ||
	    json_integer_value(ls) > 100000000 || json_integer_value(le) > 100000000)
		return ln_error_set(LN_ECRASH, "server sent a malformed range");
	if (!t) {
		*out = ln_range_new((long)json_integer_value(ls) + 1, (long)json_integer_value(cs) + 1,
				    (long)json_integer_value(le) + 1, (long)json_integer_value(ce) + 1);
		*relabel = srv != user;
		return 0;
	}
	/* a position past the end of its line (a diagnostic at a missing '}')
	 * is clamped as the LSP specification says, never a failed request */
	user = ln_text_user_enc(t, user);   /* bytes in a Latin-1 document */
	sl = (long)json_integer_value(ls);
	el = (long)json_integer_value(le);
	sc = json_integer_value(cs) > LONG_MAX / 2 ? LONG_MAX / 2 : (long)json_integer_value(cs);
	ec = json_integer_value(ce) > LONG_MAX / 2 ? LONG_MAX / 2 : (long)json_integer_value(ce);
	ln_text_clamp(t, &sl, &sc, srv);
	ln_text_clamp(t, &el, &ec, srv);
	error = ln_text_convert_col(t, (int)sl, sc, srv, user, &sc);
	if (!error)
		error = ln_text_convert_col(t, (int)el, ec, srv, user, &ec);
	if (error)
		return ln_error_set(LN_ECRASH, "server position does not fit the document: %s",
				    ln_error_msg());
	*out = ln_range_new(sl + 1, sc + 1, el + 1, ec + 1);
	return 0;
}

int position_set_range(json_t *fact, const struct ln_text *t, enum ln_enc srv, enum ln_enc user,
		       const json_t *range)
{
	json_t *r;
	bool relabel;
	int error = position_user_range(&r, &relabel, t, srv, user, range);

	if (error)
		return error;
	json_object_set_new(fact, "range", r);
	if (relabel)
		json_object_set_new(fact, "encoding", json_string(ln_enc_name(srv)));
	return 0;
}

/* An answer in an ignored copy of a project file (build/include/x.h, which
 * the compilation database points a server at) names the project file
 * instead (core/ignore.h, ln_ignore_twin): same bytes, same positions. A
 * disk probe, recorded in traces; a trace without it keeps the path. */
static void ignored_twin(struct cmdctx *x, char **rel)
{
	static __thread struct ln_ignore *ig;
	static __thread char *ig_root;
	const char *root = lsp_workspace_root(x->ws);
	json_t *v = NULL;
	char *twin = NULL;

	if (lsp_workspace_replaying(x->ws)) {
		if (lsp_workspace_probe_get(x->ws, "ignoredTwin", *rel, &v) == 0 && json_is_string(v))
			twin = xstrdup(json_string_value(v));
		json_decref(v);
		ln_error_clear();
	} else {
		/* a file of the daemon's snapshot is not ignored: no git call
		 * (a refs answer on a large tree names a thousand files) */
		if (lsp_workspace_tracked(x->ws, *rel))
			return;
		if (!ig_root || strcmp(ig_root, root)) {
			ln_ignore_free(ig);
			free(ig_root);
			ig = ln_ignore_new(root, NULL);
			ig_root = xstrdup(root);
		}
		if (!ln_ignore_path(ig, *rel, false))
			return;
		ln_ignore_twin(ig, *rel, &twin);
		v = twin ? json_string(twin) : json_null();
		lsp_workspace_probe_put(x->ws, "ignoredTwin", *rel, v, 0);
		json_decref(v);
	}
	if (twin) {
		free(*rel);
		*rel = twin;
	}
}

int position_location_fact(struct cmdctx *x, json_t **out, const char *kind, const char *uri,
			   const json_t *range, struct lsp_server_info *srv)
{
	char *abs = NULL, *rel = NULL;
	const struct ln_text *t = NULL;
	json_t *fact = NULL, *r = NULL;
	enum ln_enc enc = lsp_session_encoding(srv->session);
	bool relabel;
	int inside, error;

	*out = NULL;
	error = ln_uri_to_path(&abs, uri);
	if (error) {
		/* Not a file: URI (e.g. a virtual document); keep the URI, and
		 * the server's units, whatever the user asked for. */
		fact = xjson_pack("{s:s, s:s, s:b}", "kind", kind, "path", uri, "external", 1);
		if (position_user_range(&r, &relabel, NULL, enc, x->c->index_io, range) == 0)
			json_object_set_new(fact, "range", r);
		ln_error_clear();
		json_object_set_new(fact, "encoding", json_string(ln_enc_name(enc)));
		*out = fact;
		return 0;
	}
	inside = ln_path_relativize(&rel, lsp_workspace_root(x->ws), abs);
	if (inside < 0) {
		error = inside;
		goto done;
	}
	if (inside == 1)
		ignored_twin(x, &rel);
	error = cmdctx_pack(&fact, LN_EINPUT, rel, "{s:s, s:s}", "kind", kind, "path", rel);
	if (error)
		goto done;
	if (!inside)
		json_object_set_new(fact, "external", json_true());
	if (lsp_workspace_text(x->ws, &t, inside ? rel : abs) == 0) {
		if (inside)
			cmdctx_note_document(x, rel);
	} else {
		/* unreadable as text (binary, too large, gone): server units */
		t = NULL;
		ln_error_clear();
	}
	if (t)
		enc = lsp_workspace_wire_enc(srv->session, uri, t, enc);
	error = position_set_range(fact, t, enc, x->c->index_io, range);
	if (error)
		goto done;
	*out = fact;
	fact = NULL;
done:
	json_decref(fact);
	free(abs);
	free(rel);
	return error;
}
