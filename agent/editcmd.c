/*
 * editcmd.c - the commands that change files: prepare-rename, rename,
 * actions, patch (issue 5; docs/edits.md). What they share - the bundle's
 * "edit" member, preview, apply, verification, the human output - is in
 * agent/editflow.c; the bundle's envelope is the command context
 * (agent/cmdctx.h), so --trace records edit bundles like query bundles.
 */
#include "agent/cli.h"
#include "agent/cmdctx.h"
#include "agent/editflow.h"
#include "agent/position.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/path.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"
#include "sandbox/edit.h"
#include "selectors/selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- patch ---- */

int cmd_patch(struct cli *c)
{
	struct cmdctx x;
	struct sbx_edits e;
	struct buf in = BUF_INIT;
	char hex[LN_SHA256_HEX_SIZE];
	int error;

	/* the table allows 0 or 1 argument: one of a file and --diff */
	if (c->argc != (c->diff_text ? 0 : 1))
		return ln_error_set(LN_EUSAGE, c->diff_text ? "patch takes --diff or a file, not both"
				    : "patch takes one file (or - for standard input), or --diff TEXT");
	sbx_edits_init(&e);
	error = editflow_begin(&x, c, "patch", false);
	if (!error && c->diff_text) {
		if (strlen(c->diff_text) > SBX_PATCH_MAX_BYTES)
			error = ln_error_set(LN_EINPUT, "the patch is larger than %zu bytes",
					     SBX_PATCH_MAX_BYTES);
		else
			buf_adds(&in, c->diff_text);
	} else if (!error) {
		error = editflow_read_input(&in, c, c->argv[0], SBX_PATCH_MAX_BYTES, "the patch");
	}
	ln_sha256_hex(in.data, in.len, hex);
	json_object_set_new(cmdctx_request(&x), "target",
			    xjson_pack("{s:s}", "patchSha256", hex));
	if (!error)
		error = sbx_edits_from_diff(&e, c->root, in.data, in.len);
	if (error == LN_ECONFLICT) {
		/* the conflicts are the answer: recorded, the error kept */
		struct ln_error_state st;
		ln_error_capture(&st);
		if (editflow_record(&x, &e, "patch") == 0)
			ln_error_restore(&st);
		else
			error = ln_error_code();
	}
	if (!error)
		error = editflow_preview_or_apply(&x, &e, "patch");
	buf_release(&in);
	error = cmdctx_end(&x, error, editflow_print_result);
	sbx_edits_release(&e);
	return error;
}

/* ---- selectors (resolved as for every position command: position.h) ---- */

/* Resolves a selector to a file, its server and an LSP position (and, for
 * a range selector, an LSP range). */
static int resolve_target(struct cmdctx *x, struct lsp_server_info **srv, char **rel_out,
			  json_t **pos_out, json_t **range_out, const char *text)
{
	struct position_resolved p;
	long srv_col = 0;
	int error, version;
	enum ln_enc enc;

	*srv = NULL;
	*rel_out = NULL;
	*pos_out = NULL;
	if (range_out)
		*range_out = NULL;
	error = position_resolve(&p, x, text);
	if (error)
		goto done;
	error = lsp_workspace_open(x->ws, srv, &version, p.rel);
	if (error)
		goto done;
	cmdctx_note_server(x, *srv);
	cmdctx_note_bytes(x, p.rel, p.text->data, p.text->len);
	enc = lsp_session_encoding((*srv)->session);
	error = ln_text_from_byte(p.text, (int)(p.line - 1), p.byte, enc, &srv_col);
	if (error)
		goto done;
	*pos_out = xjson_pack("{s:i, s:I}", "line", (int)(p.line - 1), "character",
			      (json_int_t)srv_col);
	if (range_out) {
		*range_out = xjson_pack("{s:O, s:O}", "start", *pos_out, "end", *pos_out);
		if (p.sel.kind == SEL_RANGE) {
			size_t b2;
			long c2;
			if (ln_text_to_byte(p.text, (int)(p.sel.end_line - 1), p.sel.end_col - 1,
					    ln_text_user_enc(p.text, x->c->index_io), &b2) == 0 &&
			    ln_text_from_byte(p.text, (int)(p.sel.end_line - 1), b2, enc, &c2) == 0)
				json_object_set_new(*range_out, "end", xjson_pack("{s:i, s:I}", "line",
						    (int)(p.sel.end_line - 1), "character", (json_int_t)c2));
			ln_error_clear();
		}
	}
	*rel_out = p.rel;
	p.rel = NULL;
done:
	position_release(&p);
	return error;
}

/* A server range in the document `rel` as a bundle range (user units). */
static json_t *user_range(struct cmdctx *x, struct lsp_server_info *srv, const char *rel,
			  const json_t *r)
{
	const struct ln_text *t;
	json_t *out = NULL;
	bool relabel;

	/* a range that does not fit is left out of the fact, not an error */
	if (lsp_workspace_text(x->ws, &t, rel) ||
	    position_user_range(&out, &relabel, t, lsp_session_encoding(srv->session),
				x->c->index_io, r)) {
		ln_error_clear();
		return NULL;
	}
	return out;
}

/* The prepareRename gate: 0 with a fact recorded, LN_ENOTFOUND when the
 * server says nothing can be renamed here. Servers without prepareProvider
 * pass (recorded as "unchecked"). */
static int prepare_gate(struct cmdctx *x, struct lsp_server_info *srv, const char *rel,
			json_t *pos, bool *checked)
{
	const json_t *rp = json_object_get(lsp_session_capabilities(srv->session), "renameProvider");
	json_t *res = NULL, *range, *fact;
	char *uri;
	int error;

	*checked = false;
	if (!json_is_true(json_object_get(rp, "prepareProvider")))
		return 0;
	*checked = true;
	uri = lsp_workspace_uri(x->ws, rel);
	error = lsp_session_request(srv->session, &res, "textDocument/prepareRename",
				    xjson_pack("{s:{s:s}, s:O}", "textDocument", "uri", uri, "position", pos),
				    x->c->timeout_ms);
	free(uri);
	if (error == LN_EGENERIC)
		return ln_error_set(LN_ENOTFOUND, "%s refuses to rename here: %s", srv->profile->name,
				    ln_error_msg());
	if (error)
		return error;
	if (json_is_null(res) || !json_is_object(res)) {
		json_decref(res);
		return ln_error_set(LN_ENOTFOUND, "nothing to rename at this position (%s)",
				    srv->profile->name);
	}
	range = json_object_get(res, "range") ? json_object_get(res, "range") : res;
	fact = xjson_pack("{s:s, s:s, s:s}", "kind", "prepareRename", "path", rel, "provenance", "lsp");
	if (json_object_get(range, "start")) {
		json_t *r = user_range(x, srv, rel, range);
		if (r)
			json_object_set_new(fact, "range", r);
	}
	if (json_is_string(json_object_get(res, "placeholder")))
		json_object_set(fact, "placeholder", json_object_get(res, "placeholder"));
	json_array_append_new(x->facts, fact);
	json_decref(res);
	return 0;
}

static void print_prepare(struct cmdctx *x)
{
	json_t *f;
	size_t i;

	json_array_foreach(x->facts, i, f) {
		json_t *r = json_object_get(f, "range");
		const char *ph = json_string_value(json_object_get(f, "placeholder"));
		fprintf(x->c->out, "%s:%lld:%lld-%lld:%lld%s%s\n",
			ln_printable(json_string_value(json_object_get(f, "path"))),
			(long long)json_integer_value(json_array_get(r, 0)),
			(long long)json_integer_value(json_array_get(r, 1)),
			(long long)json_integer_value(json_array_get(r, 2)),
			(long long)json_integer_value(json_array_get(r, 3)),
			ph ? "  " : "", ph ? ph : "");
	}
}

int cmd_prepare_rename(struct cli *c)
{
	struct cmdctx x;
	struct lsp_server_info *srv = NULL;
	char *rel = NULL;
	json_t *pos = NULL;
	bool checked;
	int error;

	error = editflow_begin(&x, c, "prepare-rename", true);
	if (!error)
		error = resolve_target(&x, &srv, &rel, &pos, NULL, c->argv[0]);
	if (!error)
		error = cmdctx_require_capability(&x, srv, "renameProvider", "rename");
	if (!error)
		error = cmdctx_wait_ready(&x, srv, true);
	if (!error)
		error = prepare_gate(&x, srv, rel, pos, &checked);
	if (!error && !checked)
		error = ln_error_set(LN_EUNSUPPORTED, "%s does not support prepareRename",
				     srv->profile->name);
	json_decref(pos);
	free(rel);
	return cmdctx_end(&x, error, print_prepare);
}

/* Whether `name` can be an identifier in some language lanser serves:
 * not empty, no ASCII byte but letters, digits, '_' and '$' (TypeScript),
 * not first a digit; other bytes (Python's non-ASCII identifiers) are left
 * to the server. */
/* Moves one position of a server edit in document `t` from the units the
 * server counted in (`from`) to the ones the edit is applied in (`to`). */
static void move_pos(json_t *pos, const struct ln_text *t, enum ln_enc from, enum ln_enc to)
{
	json_t *l = json_object_get(pos, "line"), *c = json_object_get(pos, "character");
	long out;

	if (!json_is_integer(l) || !json_is_integer(c) || json_integer_value(l) < 0 ||
	    json_integer_value(l) >= t->nlines || json_integer_value(c) < 0 ||
	    json_integer_value(c) > 100000000)
		return;  /* left to the edit's own checks */
	if (ln_text_convert_col(t, (int)json_integer_value(l), (long)json_integer_value(c), from,
				to, &out) == 0)
		json_object_set_new(pos, "character", json_integer(out));
	ln_error_clear();
}

static void move_edits(struct cmdctx *x, struct lsp_server_info *srv, const char *uri,
		       json_t *edits)
{
	enum ln_enc enc = lsp_session_encoding(srv->session), wire;
	const struct ln_text *t = NULL;
	char *abs = NULL, *rel = NULL;
	json_t *ed;
	size_t i;

	if (!uri || ln_uri_to_path(&abs, uri) ||
	    ln_path_relativize(&rel, lsp_workspace_root(x->ws), abs) != 1 ||
	    lsp_workspace_text(x->ws, &t, rel))
		goto done;
	wire = lsp_workspace_wire_enc(srv->session, uri, t, enc);
	if (wire == enc)
		goto done;
	json_array_foreach(edits, i, ed) {
		json_t *r = json_object_get(ed, "range");
		move_pos(json_object_get(r, "start"), t, wire, enc);
		move_pos(json_object_get(r, "end"), t, wire, enc);
	}
done:
	ln_error_clear();
	free(abs);
	free(rel);
}

/* A server's WorkspaceEdit is applied in its negotiated units; the edits of
 * a Latin-1 file it has not opened were counted on the file's bytes
 * (lsp_workspace_wire_enc()): those are moved to the negotiated units. */
static void edit_to_session_units(struct cmdctx *x, struct lsp_server_info *srv, json_t *we)
{
	json_t *changes = json_object_get(we, "changes"), *dc = json_object_get(we,
										"documentChanges");
	json_t *v;
	const char *uri;
	size_t i;

	json_object_foreach(changes, uri, v)
		move_edits(x, srv, uri, v);
	json_array_foreach(dc, i, v)
		if (!json_object_get(v, "kind"))
			move_edits(x, srv, json_string_value(json_object_get(
				json_object_get(v, "textDocument"), "uri")), json_object_get(v, "edits"));
}

static bool rename_name_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (!*p || (*p >= '0' && *p <= '9'))
		return false;
	for (; *p; p++)
		if (*p < 0x80 && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				   (*p >= '0' && *p <= '9') || *p == '_' || *p == '$'))
			return false;
	return true;
}

/* A rename through a server that searches only its open files
 * (lsp_profile_searches_open_files) edits only those: open every file it
 * serves first, or say that the edit may miss some (as refs does). */
static int open_rename_scope(struct cmdctx *x, const struct lsp_server_info *srv)
{
	size_t skipped = 0;
	int r;

	if (!lsp_profile_searches_open_files(srv->profile))
		return 0;
	r = lsp_workspace_open_all(x->ws, &skipped, srv->profile, LSP_OPEN_ALL_MAX);
	if (r < 0)
		return r;
	if (r > 0 || skipped) {
		json_object_set_new(x->bundle, "complete", json_false());
		json_object_set_new(x->bundle, "incomplete", xjson_pack("[s]", r > 0 ?
			"the server searches only the files it has open, and the workspace has "
			"too many of its files to open them all: the edit may miss some" :
			"the server searches only the files it has open, and some of its files "
			"could not be opened: the edit may miss them"));
	}
	return 0;
}

/* Whether the WorkspaceEdit `we` touches `uri` (changes or documentChanges). */
static bool edit_touches(const json_t *we, const char *uri)
{
	const json_t *dc = json_object_get(we, "documentChanges"), *d;
	size_t i;

	if (json_object_get(json_object_get(we, "changes"), uri))
		return true;
	json_array_foreach(dc, i, d) {
		const char *u = json_string_value(json_object_get(json_object_get(d, "textDocument"),
								  "uri"));
		if (u && !strcmp(u, uri))
			return true;
	}
	return false;
}

/* A server that searches only its open files may still leave some of the
 * references it reports out of its rename (pyright: the files outside its
 * "include", even when open). Asks for the references and says which
 * files the edit would leave with the old name. */
static int rename_coverage(struct cmdctx *x, struct lsp_server_info *srv, const char *uri,
			   const json_t *pos, const json_t *we)
{
	json_t *refs = NULL, *r;
	char *root = lsp_workspace_uri(x->ws, "x");
	const char *first = NULL;
	size_t i, missed = 0, rootlen = strlen(root) - 1;
	int error;

	if (!lsp_profile_searches_open_files(srv->profile)) {
		free(root);
		return 0;
	}
	error = lsp_session_request(srv->session, &refs, "textDocument/references",
		xjson_pack("{s:{s:s}, s:O, s:{s:b}}", "textDocument", "uri", uri, "position", pos,
			   "context", "includeDeclaration", 1), x->c->timeout_ms);
	if (error) {
		free(root);
		return error;
	}
	json_array_foreach(refs, i, r) {
		const char *u = json_string_value(json_object_get(r, "uri"));
		if (!u || edit_touches(we, u))
			continue;
		if (!first)
			first = u;
		missed++;
	}
	if (missed) {
		char reason[400];
		if (!strncmp(first, root, rootlen))
			first += rootlen;
		snprintf(reason, sizeof reason, "%s reports %zu reference%s that its rename does not "
			 "edit (first in %s; a file outside its project's include)", srv->profile->name,
			 missed, missed == 1 ? "" : "s", ln_printable(first));
		json_object_set_new(x->bundle, "complete", json_false());
		if (!json_is_array(json_object_get(x->bundle, "incomplete")))
			json_object_set_new(x->bundle, "incomplete", json_array());
		json_array_append_new(json_object_get(x->bundle, "incomplete"), json_string(reason));
	}
	json_decref(refs);
	free(root);
	return 0;
}

int cmd_rename(struct cli *c)
{
	struct cmdctx x;
	struct sbx_edits e;
	struct lsp_server_info *srv = NULL;
	char *rel = NULL, *uri = NULL;
	json_t *pos = NULL, *we = NULL;
	bool checked;
	int error;

	sbx_edits_init(&e);
	error = editflow_begin(&x, c, "rename", true);
	if (!error) {
		json_object_set_new(json_object_get(cmdctx_request(&x), "options"),
				    "newName", json_string(c->argv[1]));
		if (!rename_name_ok(c->argv[1]))
			error = ln_error_set(LN_EUSAGE, "'%s' is not a valid name: an identifier is "
					     "letters, digits and '_' (not first a digit)",
					     ln_printable(c->argv[1]));
	}
	if (!error)
		error = resolve_target(&x, &srv, &rel, &pos, NULL, c->argv[0]);
	if (!error)
		error = cmdctx_require_capability(&x, srv, "renameProvider", "rename");
	if (!error)
		error = cmdctx_wait_ready(&x, srv, true);
	if (!error)
		error = open_rename_scope(&x, srv);
	if (!error)
		error = prepare_gate(&x, srv, rel, pos, &checked);
	if (!error) {
		uri = lsp_workspace_uri(x.ws, rel);
		error = lsp_session_request(srv->session, &we, "textDocument/rename",
					    xjson_pack("{s:{s:s}, s:O, s:s}", "textDocument", "uri", uri,
						      "position", pos, "newName", c->argv[1]),
					    c->timeout_ms);
		if (error == LN_EGENERIC)
			error = ln_error_set(LN_ENOTFOUND, "%s cannot rename here: %s",
					     srv->profile->name, ln_error_msg());
	}
	if (!error && json_is_null(we))
		error = ln_error_set(LN_ENOTFOUND, "%s has nothing to rename here", srv->profile->name);
	if (!error)
		error = rename_coverage(&x, srv, uri, pos, we);
	if (!error) {
		edit_to_session_units(&x, srv, we);
		error = sbx_edits_from_workspace_edit(&e, c->root, we,
						      lsp_session_encoding(srv->session));
	}
	if (!error)
		error = editflow_preview_or_apply(&x, &e, "lsp");
	json_decref(pos);
	json_decref(we);
	free(rel);
	free(uri);
	error = cmdctx_end(&x, error, editflow_print_result);
	sbx_edits_release(&e);
	return error;
}

/* ---- code actions ---- */

static bool overlaps_line(const json_t *diag, long line)
{
	const json_t *r = json_object_get(diag, "range");
	long s = (long)json_integer_value(json_object_get(json_object_get(r, "start"), "line"));
	long e = (long)json_integer_value(json_object_get(json_object_get(r, "end"), "line"));
	return s <= line && line <= e;
}

static void print_actions(struct cmdctx *x)
{
	json_t *f;
	size_t i;

	json_array_foreach(x->facts, i, f)
		if (!strcmp(json_string_value(json_object_get(f, "kind")), "codeAction")) {
			const char *k = json_string_value(json_object_get(f, "actionKind"));
			fprintf(x->c->out, "%lld. %s%s%s%s\n",
				(long long)json_integer_value(json_object_get(f, "index")),
				ln_printable(json_string_value(json_object_get(f, "title"))),
				k ? " [" : "", k ? ln_printable(k) : "", k ? "]" : "");
		}
}

static void print_actions_or_result(struct cmdctx *x)
{
	if (json_object_get(x->bundle, "edit"))
		editflow_print_result(x);
	else
		print_actions(x);
}

int cmd_actions(struct cli *c)
{
	struct cmdctx x;
	struct sbx_edits e;
	struct lsp_server_info *srv = NULL;
	char *rel = NULL, *uri = NULL;
	json_t *pos = NULL, *range = NULL, *diags = NULL, *ctxd, *res = NULL, *a, *pick = NULL;
	size_t i;
	int error, version;

	if (c->apply && !c->pick)
		return ln_error_set(LN_EUSAGE, "actions --apply needs --pick N");
	sbx_edits_init(&e);
	ctxd = json_array();
	error = editflow_begin(&x, c, "actions", true);
	if (!error)
		error = resolve_target(&x, &srv, &rel, &pos, &range, c->argv[0]);
	if (!error)
		error = cmdctx_require_capability(&x, srv, "codeActionProvider", "code actions");
	if (!error)
		error = cmdctx_wait_ready(&x, srv, true);
	if (!error) {
		/* the diagnostics at the position are the context quick fixes need */
		uri = lsp_workspace_uri(x.ws, rel);
		error = lsp_workspace_open(x.ws, &srv, &version, rel);
		if (!error)
			error = lsp_session_wait_diagnostics(srv->session, &diags, uri, version,
							     c->cfg.diagnostics_ms);
	}
	if (!error) {
		json_t *d;
		json_array_foreach(diags, i, d)
			if (overlaps_line(d, (long)json_integer_value(json_object_get(pos, "line"))))
				json_array_append(ctxd, d);
		error = lsp_session_request(srv->session, &res, "textDocument/codeAction",
			xjson_pack("{s:{s:s}, s:O, s:{s:O}}", "textDocument", "uri", uri, "range", range,
				  "context", "diagnostics", ctxd), c->timeout_ms);
	}
	if (!error && !json_is_array(res) && !json_is_null(res))
		error = ln_error_set(LN_ECRASH, "%s sent malformed code actions", srv->profile->name);
	if (!error) {
		json_array_foreach(res, i, a) {
			const char *title = json_string_value(json_object_get(a, "title"));
			json_t *fact = xjson_pack("{s:s, s:s, s:I, s:s, s:s}", "kind", "codeAction",
						 "path", rel, "index", (json_int_t)i + 1, "title",
						 title ? title : "", "provenance", "lsp");
			if (json_is_string(json_object_get(a, "kind")))
				json_object_set(fact, "actionKind", json_object_get(a, "kind"));
			json_array_append_new(x.facts, fact);
			if (c->pick == (int)i + 1)
				pick = a;
		}
		if (!c->pick && json_array_size(x.facts) == 0)
			error = ln_error_set(LN_ENOTFOUND, "no code actions at %s", c->argv[0]);
	}
	if (!error && c->pick) {
		json_t *resolved = NULL, *we;
		if (!pick) {
			error = ln_error_set(LN_ENOTFOUND, "there is no action %d (%zu offered)", c->pick,
					     json_array_size(res));
			goto done;
		}
		we = json_object_get(pick, "edit");
		if (!we && json_is_true(json_object_get(json_object_get(lsp_session_capabilities(
			   srv->session), "codeActionProvider"), "resolveProvider"))) {
			error = lsp_session_request(srv->session, &resolved, "codeAction/resolve",
						    json_incref(pick), c->timeout_ms);
			if (error)
				goto done;
			we = json_object_get(resolved, "edit");
		}
		if (!we)
			error = ln_error_set(LN_EUNSUPPORTED, "action %d runs a server command; lanser "
					     "applies only edits", c->pick);
		else
			edit_to_session_units(&x, srv, we);
		if (we)
			error = sbx_edits_from_workspace_edit(&e, c->root, we,
							      lsp_session_encoding(srv->session));
		if (!error)
			error = editflow_preview_or_apply(&x, &e, "lsp");
		json_decref(resolved);
	}
done:
	json_decref(pos);
	json_decref(range);
	json_decref(diags);
	json_decref(ctxd);
	json_decref(res);
	free(rel);
	free(uri);
	error = cmdctx_end(&x, error, print_actions_or_result);
	sbx_edits_release(&e);
	return error;
}

