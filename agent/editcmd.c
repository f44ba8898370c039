/*
 * editcmd.c - the commands that change files: prepare-rename, rename,
 * actions, patch (issue 5; docs/edits.md).
 *
 * Every change, whatever its source (a WorkspaceEdit from the server, a
 * unified diff), becomes one edit set (sandbox/edit.h) and is shown as a
 * diff; only --apply writes it, through one transaction
 * (sandbox/transaction.h). --verify diagnostics keeps the transaction
 * pending while the servers look at the result and rolls it back when
 * new errors appear (exit 82). The bundle records the diff, the files,
 * conflicts, diagnostics before/after and the decision.
 */
#include "agent/cli.h"
#include "agent/position.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "sandbox/edit.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/path.h"
#include "core/proc.h"
#include "selectors/resolve.h"
#include "selectors/selector.h"
#include "selectors/source.h"
#include "sandbox/transaction.h"
#include "lsp/workspace.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ectx {
	struct cli *c;
	struct lsp_workspace *ws;   /* owned unless c->ws */
	json_t *bundle, *facts, *edit;   /* edit: the bundle's "edit" (borrowed) */
	long long started_ms;
};

/* ---- the bundle ---- */

static void options_json(struct ectx *x)
{
	struct cli *c = x->c;
	json_t *o = json_pack("{s:b, s:b}", "apply", c->apply, "allowDirty", c->allow_dirty);

	if (c->commit_msg)
		json_object_set_new(o, "commit", json_string(c->commit_msg));
	if (c->verify) {
		json_object_set_new(o, "verify", json_string("diagnostics"));
		json_object_set_new(o, "maxNewErrors", json_integer(c->max_new_errors));
	}
	if (c->pick)
		json_object_set_new(o, "pick", json_integer(c->pick));
	json_object_set_new(json_object_get(x->bundle, "request"), "options", o);
}

static int ectx_begin(struct ectx *x, struct cli *c, const char *command, bool need_ws)
{
	struct lsp_workspace_opts wo = { 0 };
	json_t *env;

	memset(x, 0, sizeof *x);
	x->c = c;
	x->started_ms = ln_now_ms();
	x->bundle = ln_bundle_new(command);
	x->facts = json_object_get(x->bundle, "facts");
	json_object_set_new(json_object_get(x->bundle, "request"), "indexIo",
			    json_string(ln_enc_name(c->index_io)));
	env = json_object_get(x->bundle, "environment");
	json_object_set_new(env, "configDigest", json_string(c->cfg.digest));
	json_object_set_new(env, "indexIo", json_string(ln_enc_name(c->index_io)));
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
	if (c->ws) {
		x->ws = c->ws;
		return 0;
	}
	wo.root = c->root;
	wo.servers = json_object_get(c->cfg.json, "servers");
	wo.init_ms = c->cfg.init_ms;
	wo.request_ms = c->timeout_ms;
	return lsp_workspace_new(&x->ws, &wo);
}

static void edit_obj(struct ectx *x)
{
	if (!x->edit) {
		x->edit = json_object();
		json_object_set_new(x->bundle, "edit", x->edit);
	}
}

static void print_json(struct ectx *x)
{
	char *s = json_dumps(x->bundle, JSON_COMPACT | JSON_SORT_KEYS);

	if (s) {
		fprintf(x->c->out, "%s\n", s);
		free(s);
	}
}

static int ectx_end(struct ectx *x, int err, void (*human)(struct ectx *))
{
	json_t *vol = json_object_get(json_object_get(x->bundle, "meta"), "volatile");
	char *msg = xstrdup(err ? ln_error_msg() : "");
	int saved = err;

	json_object_set_new(vol, "elapsedMs", json_integer(ln_now_ms() - x->started_ms));
	json_object_set_new(vol, "daemon", json_false());
	if (ln_bundle_finish(x->bundle, err, msg) == 0) {
		if (x->c->json)
			print_json(x);
		else if (human)
			human(x);
	} else if (!err) {
		err = ln_error_code();
	}
	if (x->ws && x->ws != x->c->ws)
		lsp_workspace_free(x->ws);
	json_decref(x->bundle);
	if (saved)
		ln_error_set(saved, "%s", msg ? msg : "");
	free(msg);
	return err;
}

static void note_server(struct ectx *x, struct lsp_server_info *srv)
{
	json_t *servers = json_object_get(json_object_get(x->bundle, "environment"), "servers");
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

static void note_input(struct ectx *x, const char *path, const struct buf *b)
{
	json_t *docs = json_object_get(json_object_get(x->bundle, "inputs"), "documents");
	char hex[LN_SHA256_HEX_SIZE];
	json_t *d;
	size_t i;

	json_array_foreach(docs, i, d)
		if (!strcmp(json_string_value(json_object_get(d, "path")), path))
			return;
	ln_sha256_hex(b->data, b->len, hex);
	json_array_append_new(docs, json_pack("{s:s, s:s}", "path", path, "sha256", hex));
}

/* One fact per file, the normalised diff and the conflicts. */
static void record_edits(struct ectx *x, const struct sbx_edits *e, const char *provenance)
{
	struct buf diff = BUF_INIT;
	json_t *c;
	size_t i;

	edit_obj(x);
	for (i = 0; i < e->n; i++) {
		const struct sbx_file *f = &e->v[i];
		char hex[LN_SHA256_HEX_SIZE];
		json_t *fact = json_pack("{s:s, s:s, s:s, s:s}", "kind", "edit", "path", f->path,
					 "status", sbx_status_name(f->status), "provenance", provenance);
		if (f->from)
			json_object_set_new(fact, "from", json_string(f->from));
		if (f->old_exists) {
			ln_sha256_hex(f->old.data, f->old.len, hex);
			json_object_set_new(fact, "before", json_string(hex));
			note_input(x, f->from && f->status == SBX_RENAMED ? f->from : f->path, &f->old);
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
		json_object_set_new(x->edit, "diff", json_string(diff.data));
	else
		ln_error_clear();
	buf_release(&diff);
	json_object_set_new(x->edit, "conflicts", json_incref(e->conflicts));
	if (!json_object_get(x->edit, "decision"))
		json_object_set_new(x->edit, "decision", json_string("preview"));
}

static void set_decision(struct ectx *x, const char *d)
{
	edit_obj(x);
	json_object_set_new(x->edit, "decision", json_string(d));
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
static json_t *files_to_check(struct ectx *x, const struct sbx_edits *e)
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
static int collect_errors(struct ectx *x, json_t *files, json_t **out, json_t *record)
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
		note_server(x, srv);
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
				json_array_append_new(record, json_pack("{s:s, s:I, s:s}", "path", p,
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
static int apply_edits(struct ectx *x, const struct sbx_edits *e)
{
	struct cli *c = x->c;
	struct sbx_apply_opts o = { c->allow_dirty, false, c->commit_msg };
	struct sbx_txn *t = NULL;
	json_t *files = NULL, *before = NULL, *after = NULL, *rb, *ra, *rep;
	int error, n_new;

	edit_obj(x);
	rep = json_object();
	if (!c->verify) {
		json_t *r2 = NULL;
		error = sbx_apply_edits(c->root, e, &o, &r2);
		if (!error) {
			set_decision(x, "applied");
			json_object_set(x->edit, "commit", json_object_get(r2, "commit"));
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
		int saved = error;
		char *msg = xstrdup(ln_error_msg());
		sbx_txn_free(t);
		ln_error_set(saved, "%s", msg ? msg : "");
		free(msg);
		set_decision(x, "refused");
		goto done;
	}
	n_new = count_new_errors(before, after);
	json_object_set_new(x->edit, "verify", json_pack("{s:s, s:O, s:O, s:O, s:i, s:i}",
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
		int saved = error;
		char *msg = xstrdup(ln_error_msg());
		sbx_txn_free(t);
		ln_error_set(saved, "%s", msg ? msg : "");
		free(msg);
		set_decision(x, "refused");
		goto done;
	}
	sbx_txn_free(t);
	set_decision(x, "applied");
	json_object_set(x->edit, "commit", json_object_get(rep, "commit"));
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

static void print_edit(struct ectx *x)
{
	json_t *d = json_object_get(x->edit, "decision"), *f;
	const char *dec = json_string_value(d);
	size_t i;

	if (!x->edit)
		return;
	if (dec && !strcmp(dec, "preview")) {
		const char *diff = json_string_value(json_object_get(x->edit, "diff"));
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
	if (json_is_string(json_object_get(x->edit, "commit")))
		fprintf(x->c->out, "commit %s\n", json_string_value(json_object_get(x->edit, "commit")));
}

static void print_conflicts(struct ectx *x)
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

static void print_result(struct ectx *x)
{
	int code = (int)json_integer_value(json_object_get(json_object_get(x->bundle, "meta"),
							   "exitCode"));
	json_t *v = json_object_get(x->edit, "verify");

	if (code == ln_exit_code(LN_ECONFLICT))
		print_conflicts(x);
	else if (code == 0)
		print_edit(x);
	if (v)
		fprintf(x->c->err, "lanser: verify: %lld new error(s), %lld allowed: %s\n",
			(long long)json_integer_value(json_object_get(v, "newErrors")),
			(long long)json_integer_value(json_object_get(v, "maxNewErrors")),
			json_string_value(json_object_get(x->edit, "decision")));
}

/* Shared tail of every edit command: preview, or apply. */
static int preview_or_apply(struct ectx *x, const struct sbx_edits *e, const char *prov)
{
	struct sbx_apply_opts o = { x->c->allow_dirty, true, NULL };
	int error;

	record_edits(x, e, prov);
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

/* ---- patch ---- */

static int read_input(struct buf *b, struct cli *c, const char *path)
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
			return ln_error_set(LN_ENOTFOUND, "cannot read the patch %s", path);
	}
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		if (b->len + n > SBX_PATCH_MAX_BYTES) {
			if (f != stdin)
				fclose(f);
			return ln_error_set(LN_EINPUT, "the patch is larger than %zu bytes",
					    SBX_PATCH_MAX_BYTES);
		}
		buf_add(b, tmp, n);
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

int cmd_patch(struct cli *c)
{
	struct ectx x;
	struct sbx_edits e;
	struct buf in = BUF_INIT;
	char hex[LN_SHA256_HEX_SIZE];
	int error;

	if (c->argc != 1) {
		fprintf(c->err, "usage: lanser patch <file|-> [--apply] [--allow-dirty] "
				"[--commit MSG] [--verify diagnostics]\n");
		return ln_error_set(LN_EUSAGE, "patch takes one file (or - for standard input)");
	}
	sbx_edits_init(&e);
	error = ectx_begin(&x, c, "patch", false);
	if (!error)
		error = read_input(&in, c, c->argv[0]);
	ln_sha256_hex(in.data, in.len, hex);
	json_object_set_new(json_object_get(x.bundle, "request"), "target",
			    json_pack("{s:s}", "patchSha256", hex));
	if (!error)
		error = sbx_edits_from_diff(&e, c->root, in.data, in.len);
	if (error == LN_ECONFLICT) {
		int e2 = error;
		char *msg = xstrdup(ln_error_msg());
		record_edits(&x, &e, "patch");
		if (e2)
			ln_error_set(e2, "%s", msg ? msg : "");
		free(msg);
	}
	if (!error)
		error = preview_or_apply(&x, &e, "patch");
	buf_release(&in);
	error = ectx_end(&x, error, print_result);
	sbx_edits_release(&e);
	return error;
}

/* ---- selectors (resolved as for every position command: position.h) ---- */

/* Resolves a selector to a file, its server and an LSP position (and, for
 * a range selector, an LSP range). */
static int resolve_target(struct ectx *x, struct lsp_server_info **srv, char **rel_out,
			  json_t **pos_out, json_t **range_out, const char *text)
{
	struct resolved_position p;
	long srv_col = 0;
	int error, version;
	enum ln_enc enc;

	*srv = NULL;
	*rel_out = NULL;
	*pos_out = NULL;
	if (range_out)
		*range_out = NULL;
	error = resolve_position(&p, x->c, x->ws, x->bundle, text);
	if (error)
		goto done;
	error = lsp_workspace_open(x->ws, srv, &version, p.rel);
	if (error)
		goto done;
	note_server(x, *srv);
	{
		struct buf b = BUF_INIT;
		buf_add(&b, p.text->data, p.text->len);
		note_input(x, p.rel, &b);
		buf_release(&b);
	}
	enc = lsp_session_encoding((*srv)->session);
	error = ln_text_from_byte(p.text, (int)(p.line - 1), p.byte, enc, &srv_col);
	if (error)
		goto done;
	*pos_out = json_pack("{s:i, s:I}", "line", (int)(p.line - 1), "character",
			     (json_int_t)srv_col);
	if (range_out) {
		*range_out = json_pack("{s:O, s:O}", "start", *pos_out, "end", *pos_out);
		if (p.sel.kind == SEL_RANGE) {
			size_t b2;
			long c2;
			if (ln_text_to_byte(p.text, (int)(p.sel.end_line - 1), p.sel.end_col - 1,
					    x->c->index_io, &b2) == 0 &&
			    ln_text_from_byte(p.text, (int)(p.sel.end_line - 1), b2, enc, &c2) == 0)
				json_object_set_new(*range_out, "end", json_pack("{s:i, s:I}", "line",
						    (int)(p.sel.end_line - 1), "character", (json_int_t)c2));
			ln_error_clear();
		}
	}
	*rel_out = p.rel;
	p.rel = NULL;
done:
	resolved_position_release(&p);
	return error;
}

static int need_cap(struct ectx *x, struct lsp_server_info *srv, const char *cap, const char *what)
{
	json_t *caps = json_object_get(x->bundle, "capabilities");
	json_t *per = json_object_get(caps, srv->profile->name);
	const json_t *v = json_object_get(lsp_session_capabilities(srv->session), cap);

	if (!per) {
		per = json_object();
		json_object_set_new(caps, srv->profile->name, per);
	}
	json_object_set_new(per, cap, json_boolean(v && !json_is_false(v) && !json_is_null(v)));
	if (!lsp_session_has_capability(srv->session, cap))
		return ln_error_set(LN_EUNSUPPORTED, "%s does not support %s (%s)",
				    srv->profile->name, what, cap);
	return 0;
}

static int wait_ready(struct ectx *x, struct lsp_server_info *srv)
{
	int r = x->c->no_wait ? 0 : lsp_workspace_wait_ready(x->ws, srv, true, x->c->index_ms);

	if (r < 0)
		return r;
	if (r == 0)
		json_object_set_new(x->bundle, "complete", json_false());
	return 0;
}

/* A server range in the document `rel` as a bundle range (user units). */
static json_t *user_range(struct ectx *x, struct lsp_server_info *srv, const char *rel,
			  const json_t *r)
{
	const struct ln_text *t;
	enum ln_enc enc = lsp_session_encoding(srv->session);
	const json_t *s = json_object_get(r, "start"), *e = json_object_get(r, "end");
	long sl = (long)json_integer_value(json_object_get(s, "line"));
	long el = (long)json_integer_value(json_object_get(e, "line"));
	long sc, ec;

	if (lsp_workspace_text(x->ws, &t, rel) ||
	    ln_text_convert_col(t, (int)sl, (long)json_integer_value(json_object_get(s, "character")),
				enc, x->c->index_io, &sc) ||
	    ln_text_convert_col(t, (int)el, (long)json_integer_value(json_object_get(e, "character")),
				enc, x->c->index_io, &ec)) {
		ln_error_clear();
		return NULL;
	}
	return ln_range_new(sl + 1, sc + 1, el + 1, ec + 1);
}

/* The prepareRename gate: 0 with a fact recorded, LN_ENOTFOUND when the
 * server says nothing can be renamed here. Servers without prepareProvider
 * pass (recorded as "unchecked"). */
static int prepare_gate(struct ectx *x, struct lsp_server_info *srv, const char *rel,
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
				    json_pack("{s:{s:s}, s:O}", "textDocument", "uri", uri, "position", pos),
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
	fact = json_pack("{s:s, s:s, s:s}", "kind", "prepareRename", "path", rel, "provenance", "lsp");
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

static void print_prepare(struct ectx *x)
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
	struct ectx x;
	struct lsp_server_info *srv = NULL;
	char *rel = NULL;
	json_t *pos = NULL;
	bool checked;
	int error;

	if (c->argc != 1) {
		fprintf(c->err, "usage: lanser prepare-rename <selector>\n");
		return ln_error_set(LN_EUSAGE, "prepare-rename takes one selector");
	}
	error = ectx_begin(&x, c, "prepare-rename", true);
	if (!error)
		error = resolve_target(&x, &srv, &rel, &pos, NULL, c->argv[0]);
	if (!error)
		error = need_cap(&x, srv, "renameProvider", "rename");
	if (!error)
		error = wait_ready(&x, srv);
	if (!error)
		error = prepare_gate(&x, srv, rel, pos, &checked);
	if (!error && !checked)
		error = ln_error_set(LN_EUNSUPPORTED, "%s does not support prepareRename",
				     srv->profile->name);
	json_decref(pos);
	free(rel);
	return ectx_end(&x, error, print_prepare);
}

int cmd_rename(struct cli *c)
{
	struct ectx x;
	struct sbx_edits e;
	struct lsp_server_info *srv = NULL;
	char *rel = NULL, *uri = NULL;
	json_t *pos = NULL, *we = NULL;
	bool checked;
	int error;

	if (c->argc != 2) {
		fprintf(c->err, "usage: lanser rename <selector> <new-name> [--apply] "
				"[--allow-dirty] [--commit MSG] [--verify diagnostics]\n");
		return ln_error_set(LN_EUSAGE, "rename takes a selector and a new name");
	}
	sbx_edits_init(&e);
	error = ectx_begin(&x, c, "rename", true);
	if (!error) {
		json_object_set_new(json_object_get(json_object_get(x.bundle, "request"), "options"),
				    "newName", json_string(c->argv[1]));
		error = resolve_target(&x, &srv, &rel, &pos, NULL, c->argv[0]);
	}
	if (!error)
		error = need_cap(&x, srv, "renameProvider", "rename");
	if (!error)
		error = wait_ready(&x, srv);
	if (!error)
		error = prepare_gate(&x, srv, rel, pos, &checked);
	if (!error) {
		uri = lsp_workspace_uri(x.ws, rel);
		error = lsp_session_request(srv->session, &we, "textDocument/rename",
					    json_pack("{s:{s:s}, s:O, s:s}", "textDocument", "uri", uri,
						      "position", pos, "newName", c->argv[1]),
					    c->timeout_ms);
		if (error == LN_EGENERIC)
			error = ln_error_set(LN_ENOTFOUND, "%s cannot rename here: %s",
					     srv->profile->name, ln_error_msg());
	}
	if (!error && json_is_null(we))
		error = ln_error_set(LN_ENOTFOUND, "%s has nothing to rename here", srv->profile->name);
	if (!error)
		error = sbx_edits_from_workspace_edit(&e, c->root, we,
						      lsp_session_encoding(srv->session));
	if (!error)
		error = preview_or_apply(&x, &e, "lsp");
	json_decref(pos);
	json_decref(we);
	free(rel);
	free(uri);
	error = ectx_end(&x, error, print_result);
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

static void print_actions(struct ectx *x)
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

static void print_actions_or_result(struct ectx *x)
{
	if (x->edit)
		print_result(x);
	else
		print_actions(x);
}

int cmd_actions(struct cli *c)
{
	struct ectx x;
	struct sbx_edits e;
	struct lsp_server_info *srv = NULL;
	char *rel = NULL, *uri = NULL;
	json_t *pos = NULL, *range = NULL, *diags = NULL, *ctxd, *res = NULL, *a, *pick = NULL;
	size_t i;
	int error, version;

	if (c->argc != 1) {
		fprintf(c->err, "usage: lanser actions <selector> [--pick N [--apply]]\n");
		return ln_error_set(LN_EUSAGE, "actions takes one selector");
	}
	if (c->apply && !c->pick)
		return ln_error_set(LN_EUSAGE, "actions --apply needs --pick N");
	sbx_edits_init(&e);
	ctxd = json_array();
	error = ectx_begin(&x, c, "actions", true);
	if (!error)
		error = resolve_target(&x, &srv, &rel, &pos, &range, c->argv[0]);
	if (!error)
		error = need_cap(&x, srv, "codeActionProvider", "code actions");
	if (!error)
		error = wait_ready(&x, srv);
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
			json_pack("{s:{s:s}, s:O, s:{s:O}}", "textDocument", "uri", uri, "range", range,
				  "context", "diagnostics", ctxd), c->timeout_ms);
	}
	if (!error && !json_is_array(res) && !json_is_null(res))
		error = ln_error_set(LN_ECRASH, "%s sent malformed code actions", srv->profile->name);
	if (!error) {
		json_array_foreach(res, i, a) {
			const char *title = json_string_value(json_object_get(a, "title"));
			json_t *fact = json_pack("{s:s, s:s, s:I, s:s, s:s}", "kind", "codeAction",
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
			error = sbx_edits_from_workspace_edit(&e, c->root, we,
							      lsp_session_encoding(srv->session));
		if (!error)
			error = preview_or_apply(&x, &e, "lsp");
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
	error = ectx_end(&x, error, print_actions_or_result);
	sbx_edits_release(&e);
	return error;
}
