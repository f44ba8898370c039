/*
 * editflow.c - what every edit command shares (see editflow.h): the
 * bundle's request options and "edit" member, the preview, the apply
 * through one transaction, the verification by diagnostics before and
 * after, and the human output.
 */
#include "agent/cmdctx.h"
#include "agent/editflow.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"
#include "sandbox/edit.h"
#include "sandbox/transaction.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the bundle ---- */

static void options_json(struct cmdctx *x)
{
	struct cli *c = x->c;
	json_t *o = xjson_pack("{s:b, s:b}", "apply", c->apply, "allowDirty", c->allow_dirty);

	if (c->commit_msg)
		json_object_set_new(o, "commit", json_string(c->commit_msg));
	if (c->verify) {
		json_object_set_new(o, "verify", json_string("diagnostics"));
		json_object_set_new(o, "maxNewErrors", json_integer(c->max_new_errors));
	}
	if (c->pick)
		json_object_set_new(o, "pick", json_integer(c->pick));
	json_object_set_new(cmdctx_request(x), "options", o);
}

/* The preview diff as a JSON string: a line of a Latin-1 file (not UTF-8,
 * docs/bundle.md) is shown in its UTF-8 form. */
static json_t *diff_text(const struct buf *diff)
{
	struct buf u = BUF_INIT;
	size_t i = 0, j;
	json_t *v;

	if (ln_utf8_valid(diff->data, diff->len))
		return json_stringn(diff->data, diff->len);
	while (i < diff->len) {
		const char *nl = memchr(diff->data + i, '\n', diff->len - i);
		j = nl ? (size_t)(nl - diff->data) + 1 : diff->len;
		if (ln_utf8_valid(diff->data + i, j - i))
			buf_add(&u, diff->data + i, j - i);
		else
			ln_latin1_to_utf8(&u, diff->data + i, j - i);
		i = j;
	}
	v = json_stringn(u.data, u.len);
	buf_release(&u);
	return v ? v : json_string("");
}

int editflow_begin(struct cmdctx *x, struct cli *c, const char *command, bool need_ws)
{
	/* human output after an error too: conflicts are printed */
	cmdctx_begin(x, c, command, CMDCTX_HUMAN_ON_ERROR);
	if (c->verify && *c->verify && strcmp(c->verify, "diagnostics"))
		return ln_error_set(LN_EUSAGE, "--verify takes 'diagnostics' (got '%s')", c->verify);
	if (!c->max_new_errors_set) {
		/* the threshold's default comes from .lanser.json */
		json_t *v = json_object_get(json_object_get(c->cfg.json, "verify"), "maxNewErrors");
		if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
			  json_integer_value(v) > 100000))
			return ln_error_set(LN_ECONFIG, ".lanser.json: verify.maxNewErrors must be an "
					    "integer from 0 to 100000");
		if (v)
			c->max_new_errors = (int)json_integer_value(v);
	}
	options_json(x);
	if (!need_ws && !c->verify)
		return 0;
	return cmdctx_open_workspace(x);
}

json_t *editflow_edit(struct cmdctx *x)
{
	json_t *edit = json_object_get(x->bundle, "edit");

	if (!edit) {
		edit = json_object();
		json_object_set_new(x->bundle, "edit", edit);
	}
	return edit;
}

/* One fact per file, the normalised diff and the conflicts. */
/* Whether s can be a JSON string (UTF-8 text). */
static bool is_text(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

int editflow_record(struct cmdctx *x, const struct sbx_edits *e, const char *provenance)
{
	json_t *edit;
	struct buf diff = BUF_INIT;
	json_t *c;
	size_t i;

	/* names come from a diff or a server's URIs: a bundle holds only
	 * UTF-8 text, and a fact must not silently go missing */
	for (i = 0; i < e->n; i++)
		if (!is_text(e->v[i].path) || (e->v[i].from && !is_text(e->v[i].from)))
			return ln_error_set(LN_EINPUT, "the edit names a file whose name is not UTF-8 "
					    "text (%s): refused", ln_printable(e->v[i].from &&
					    !is_text(e->v[i].from) ? e->v[i].from : e->v[i].path));
	edit = editflow_edit(x);

	for (i = 0; i < e->n; i++) {
		const struct sbx_file *f = &e->v[i];
		char hex[LN_SHA256_HEX_SIZE];
		json_t *fact = xjson_pack("{s:s, s:s, s:s, s:s}", "kind", "edit", "path", f->path,
					  "status", sbx_status_name(f->status), "provenance", provenance);
		if (f->from)
			json_object_set_new(fact, "from", json_string(f->from));
		if (f->old_exists) {
			ln_sha256_hex(f->old.data, f->old.len, hex);
			json_object_set_new(fact, "before", json_string(hex));
			cmdctx_note_bytes(x, f->from && f->status == SBX_RENAMED ? f->from : f->path,
					  f->old.data, f->old.len);
		}
		if (f->new_exists) {
			ln_sha256_hex(f->new.data, f->new.len, hex);
			json_object_set_new(fact, "after", json_string(hex));
		}
		json_array_append_new(x->facts, fact);
	}
	json_array_foreach(e->conflicts, i, c) {
		json_t *fact = json_deep_copy(c);
		json_object_set_new(fact, "kind", json_string("conflict"));
		json_object_set_new(fact, "provenance", json_string(provenance));
		json_array_append_new(x->facts, fact);
	}
	if (e->n && sbx_edits_diff(&diff, e) == 0)
		json_object_set_new(edit, "diff", diff_text(&diff));
	else
		ln_error_clear();
	buf_release(&diff);
	json_object_set_new(edit, "conflicts", json_incref(e->conflicts));
	if (!json_object_get(edit, "decision"))
		json_object_set_new(edit, "decision", json_string("preview"));
	return 0;
}

static void set_decision(struct cmdctx *x, const char *d)
{
	json_object_set_new(editflow_edit(x), "decision", json_string(d));
}

/* ---- verification: diagnostics before and after ---- */

static bool is_header(const char *p)
{
	const char *dot = strrchr(p, '.');
	return dot && (!strcmp(dot, ".h") || !strcmp(dot, ".hpp") || !strcmp(dot, ".hh") ||
		       !strcmp(dot, ".hxx"));
}

/* The files whose diagnostics can change: the touched ones, every source
 * file of a language whose header changed (C/C++), and the Python files
 * that mention a changed module's name. At most 64. */
static json_t *files_to_check(struct cmdctx *x, const struct sbx_edits *e)
{
	json_t *out = json_array(), *all = NULL, *f;
	const struct lsp_profiles *ps = lsp_workspace_profiles(x->ws);
	size_t i, j;

#define ADD(p) do { bool dup_ = false; json_t *g_; size_t k_;                     \
		json_array_foreach(out, k_, g_) if (!strcmp(json_string_value(g_), p)) dup_ = true; \
		if (!dup_ && json_array_size(out) < 64) json_array_append_new(out, json_string(p)); } while (0)
	for (i = 0; i < e->n; i++)
		if (lsp_profiles_for_path(ps, e->v[i].path, NULL)) {
			ADD(e->v[i].path);
		}
	if (lsp_workspace_source_files(x->ws, &all) != 0) {
		ln_error_clear();
		return out;
	}
	for (i = 0; i < e->n; i++) {
		const char *p = e->v[i].path;
		const char *slash = strrchr(p, '/'), *base = slash ? slash + 1 : p;
		const char *dot = strrchr(base, '.');
		if (is_header(p)) {
			json_array_foreach(all, j, f) {
				const char *q = json_string_value(f);
				const char *d2 = strrchr(q, '.');
				if (d2 && (!strcmp(d2, ".c") || !strcmp(d2, ".cc") || !strcmp(d2, ".cpp")))
					ADD(q);
			}
		} else if (dot && !strcmp(dot, ".py")) {
			char mod[256];
			snprintf(mod, sizeof mod, "%.*s", (int)(dot - base), base);
			json_array_foreach(all, j, f) {
				const char *q = json_string_value(f);
				const char *d2 = strrchr(q, '.');
				const struct ln_text *t;
				if (!d2 || strcmp(d2, ".py") || lsp_workspace_text(x->ws, &t, q) != 0) {
					ln_error_clear();
					continue;
				}
				if (strstr(t->data, mod))
					ADD(q);
			}
		}
	}
#undef ADD
	json_decref(all);
	return out;
}

/* {path: [error messages]} for the files that exist now. */
static int collect_errors(struct cmdctx *x, json_t *files, json_t **out, json_t *record)
{
	json_t *res = json_object(), *f;
	size_t i;
	int error = 0;

	json_array_foreach(files, i, f) {
		const char *p = json_string_value(f);
		struct lsp_server_info *srv;
		json_t *diags = NULL, *d, *list = json_array();
		int version;
		size_t k;
		char *uri;
		{
			struct buf abs = BUF_INIT;
			int gone;
			buf_addf(&abs, "%s/%s", x->c->root, p);
			gone = access(abs.data, F_OK) != 0;
			buf_release(&abs);
			if (gone) {
				json_decref(list);
				continue;   /* deleted by the change (or before it) */
			}
		}
		error = lsp_workspace_open(x->ws, &srv, &version, p);
		if (error) {
			json_decref(list);
			break;
		}
		cmdctx_note_server(x, srv);
		uri = lsp_workspace_uri(x->ws, p);
		error = lsp_session_wait_diagnostics(srv->session, &diags, uri, version,
						     x->c->cfg.diagnostics_ms);
		free(uri);
		if (error) {
			json_decref(list);
			break;
		}
		json_array_foreach(diags, k, d) {
			json_int_t sev = json_integer_value(json_object_get(d, "severity"));
			const char *msg = json_string_value(json_object_get(d, "message"));
			json_int_t line = json_integer_value(json_object_get(json_object_get(
				json_object_get(d, "range"), "start"), "line"));
			if (sev == 1 || sev == 0) {
				json_array_append_new(list, json_string(msg ? msg : ""));
				json_array_append_new(record, xjson_pack("{s:s, s:I, s:s}", "path", p,
					"line", line + 1, "message", msg ? msg : ""));
			}
		}
		json_decref(diags);
		json_object_set_new(res, p, list);
	}
	if (error) {
		json_decref(res);
		return error;
	}
	*out = res;
	return 0;
}

/* Errors in `after` not matched one-for-one (path + message) in `before`. */
static int count_new_errors(json_t *before, json_t *after)
{
	const char *p;
	json_t *list;
	int n = 0;

	json_object_foreach(after, p, list) {
		json_t *old = json_deep_copy(json_object_get(before, p)), *m;
		size_t i, k;
		if (!old)
			old = json_array();
		json_array_foreach(list, i, m) {
			bool found = false;
			for (k = 0; k < json_array_size(old); k++)
				if (json_equal(json_array_get(old, k), m)) {
					json_array_remove(old, k);
					found = true;
					break;
				}
			if (!found)
				n++;
		}
		json_decref(old);
	}
	return n;
}

/* Applies `e` (after --apply), verified when asked. */
static int apply_edits(struct cmdctx *x, const struct sbx_edits *e)
{
	struct cli *c = x->c;
	struct sbx_apply_opts o = { c->allow_dirty, false, c->commit_msg };
	struct sbx_txn *t = NULL;
	json_t *files = NULL, *before = NULL, *after = NULL, *rb, *ra, *rep;
	json_t *edit = editflow_edit(x);
	struct ln_error_state st;
	int error, n_new;

	rep = json_object();
	if (!c->verify) {
		json_t *r2 = NULL;
		error = sbx_apply_edits(c->root, e, &o, &r2);
		if (!error) {
			set_decision(x, "applied");
			json_object_set(edit, "commit", json_object_get(r2, "commit"));
		} else {
			set_decision(x, "refused");
		}
		json_decref(r2);
		json_decref(rep);
		return error;
	}
	/* before: what the servers say about today's files */
	rb = json_array();
	ra = json_array();
	files = files_to_check(x, e);
	error = collect_errors(x, files, &before, rb);
	if (!error)
		error = sbx_txn_begin(&t, c->root, e, &o);
	if (!error) {
		/* After: fresh servers over the new files. A server that had
		 * the old text open may keep what it derived from it (clangd 14
		 * keeps an includer's preamble across a header's didChange), and
		 * an answer from stale state would let a breaking edit through. */
		struct lsp_workspace_opts wo = { 0 };
		struct lsp_workspace *before_ws = x->ws;
		wo.root = c->root;
		wo.servers = json_object_get(c->cfg.json, "servers");
		wo.init_ms = c->cfg.init_ms;
		wo.request_ms = c->timeout_ms;
		error = lsp_workspace_new(&x->ws, &wo);
		if (!error) {
			error = collect_errors(x, files, &after, ra);
			lsp_workspace_free(x->ws);
		}
		x->ws = before_ws;
	}
	if (error) {
		ln_error_capture(&st);
		sbx_txn_free(t);
		ln_error_restore(&st);
		set_decision(x, "refused");
		goto done;
	}
	n_new = count_new_errors(before, after);
	json_object_set_new(edit, "verify", xjson_pack("{s:s, s:O, s:O, s:O, s:i, s:i}",
		"method", "diagnostics", "files", files, "before", rb, "after", ra,
		"newErrors", n_new, "maxNewErrors", c->max_new_errors));
	if (n_new > c->max_new_errors) {
		error = sbx_txn_free(t);
		if (!error) {
			error = ln_error_set(LN_EROLLEDBACK, "verification found %d new error%s "
					     "(at most %d allowed): rolled back", n_new,
					     n_new == 1 ? "" : "s", c->max_new_errors);
		}
		set_decision(x, "rolledBack");
		goto done;
	}
	error = sbx_txn_commit(t, rep);
	if (error) {
		ln_error_capture(&st);
		sbx_txn_free(t);
		ln_error_restore(&st);
		set_decision(x, "refused");
		goto done;
	}
	sbx_txn_free(t);
	set_decision(x, "applied");
	json_object_set(edit, "commit", json_object_get(rep, "commit"));
done:
	json_decref(rb);
	json_decref(ra);
	json_decref(rep);
	json_decref(files);
	json_decref(before);
	json_decref(after);
	return error;
}

/* ---- human output ---- */

static void print_edit(struct cmdctx *x)
{
	json_t *edit = json_object_get(x->bundle, "edit");
	json_t *d = json_object_get(edit, "decision"), *f;
	const char *dec = json_string_value(d);
	size_t i;

	if (!edit)
		return;
	if (dec && !strcmp(dec, "preview")) {
		const char *diff = json_string_value(json_object_get(edit, "diff"));
		if (diff)
			fputs(diff, x->c->out);
		fprintf(x->c->err, "lanser: preview only (nothing written); --apply writes it\n");
		return;
	}
	json_array_foreach(x->facts, i, f)
		if (!strcmp(json_string_value(json_object_get(f, "kind")), "edit")) {
			const char *from = json_string_value(json_object_get(f, "from"));
			fprintf(x->c->out, "%-9s %s%s%s\n", json_string_value(json_object_get(f, "status")),
				from ? ln_printable(from) : "", from ? " -> " : "",
				ln_printable(json_string_value(json_object_get(f, "path"))));
		}
	if (json_is_string(json_object_get(edit, "commit")))
		fprintf(x->c->out, "commit %s\n", json_string_value(json_object_get(edit, "commit")));
}

static void print_conflicts(struct cmdctx *x)
{
	json_t *f;
	size_t i;

	json_array_foreach(x->facts, i, f)
		if (!strcmp(json_string_value(json_object_get(f, "kind")), "conflict"))
			fprintf(x->c->out, "conflict %s hunk %lld %s: %s\n",
				ln_printable(json_string_value(json_object_get(f, "path"))),
				(long long)json_integer_value(json_object_get(f, "hunk")),
				ln_printable(json_string_value(json_object_get(f, "header"))),
				ln_printable(json_string_value(json_object_get(f, "reason"))));
}

void editflow_print_result(struct cmdctx *x)
{
	int code = (int)json_integer_value(json_object_get(json_object_get(x->bundle, "meta"),
							   "exitCode"));
	json_t *edit = json_object_get(x->bundle, "edit");
	json_t *v = json_object_get(edit, "verify");

	if (code == ln_exit_code(LN_ECONFLICT))
		print_conflicts(x);
	else if (code == 0)
		print_edit(x);
	if (v)
		fprintf(x->c->err, "lanser: verify: %lld new error(s), %lld allowed: %s\n",
			(long long)json_integer_value(json_object_get(v, "newErrors")),
			(long long)json_integer_value(json_object_get(v, "maxNewErrors")),
			json_string_value(json_object_get(edit, "decision")));
}

/* Shared tail of every edit command: preview, or apply. */
int editflow_preview_or_apply(struct cmdctx *x, const struct sbx_edits *e, const char *prov)
{
	struct sbx_apply_opts o = { x->c->allow_dirty, true, NULL };
	int error;

	error = editflow_record(x, e, prov);
	if (error)
		return error;
	if (!e->n)
		return ln_error_set(LN_ENOTFOUND, "the edit changes nothing");
	if (!x->c->apply) {
		/* a preview still checks everything an apply would */
		error = sbx_txn_begin(&(struct sbx_txn *){ NULL }, x->c->root, e, &o);
		if (error == LN_EDIRTY || error == LN_ENOTFOUND) {
			/* worth knowing, but a preview is still a preview */
			fprintf(x->c->err, "lanser: note: %s\n", ln_error_msg());
			ln_error_clear();
			error = 0;
		}
		return error;
	}
	return apply_edits(x, e);
}

int editflow_read_input(struct buf *b, struct cli *c, const char *path, size_t max,
			const char *what)
{
	FILE *f = strcmp(path, "-") ? NULL : stdin;
	char tmp[65536];
	size_t n;

	if (!f) {
		struct buf p = BUF_INIT;
		if (path[0] == '/')
			buf_adds(&p, path);
		else
			buf_addf(&p, "%s/%s", c->cwd, path);
		f = fopen(p.data, "rb");
		buf_release(&p);
		if (!f)
			return ln_error_set(LN_ENOTFOUND, "cannot read %s %s", what,
					    ln_printable(path));
	}
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		if (b->len + n > max) {
			if (f != stdin)
				fclose(f);
			return ln_error_set(LN_EINPUT, "%s is larger than %zu bytes", what, max);
		}
		buf_add(b, tmp, n);
	}
	if (f != stdin)
		fclose(f);
	return 0;
}
