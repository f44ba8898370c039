/*
 * diag.c - diagnostics of a candidate on the engine's warm servers: before
 * (the base texts, cached per file), after (its texts as overlays, the
 * files it removes taken out), then the base put back (docs/eval.md, "The
 * pipeline", step 3).
 */
#include "engine/internal.h"

#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"
#include "selectors/outline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *severity_name(json_int_t s)
{
	switch (s) {
	case 2: return "warning";
	case 3: return "information";
	case 4: return "hint";
	default: return "error";
	}
}

static void note_server(struct eng *x, struct lsp_server_info *srv)
{
	lsp_server_note(x->servers_env, srv);
}

/* A server's text, with the worktree's absolute path taken out (it changes
 * from run to run and must not reach a hashed field). */
static json_t *clean_text(struct eng *x, const char *s)
{
	struct buf b = BUF_INIT;
	size_t wl = strlen(x->wt);
	const char *hit;
	json_t *v;

	while ((hit = strstr(s, x->wt))) {
		buf_add(&b, s, (size_t)(hit - s));
		s = hit + wl;
		if (*s == '/')
			s++;
	}
	buf_adds(&b, s);
	v = json_stringn_nocheck(b.data, b.len);
	buf_release(&b);
	return v;
}

static long conv_col(const struct ln_text *t, enum ln_enc from, enum ln_enc to, json_int_t line,
		     json_int_t col)
{
	long out;

	if (line < 0 || line > 100000000 || col < 0)
		return (long)col + 1;
	if (ln_text_convert_col(t, (int)line, (long)col, from, ln_text_user_enc(t, to), &out))
		return (long)col + 1;
	return out + 1;
}

/* Annotates the diagnostic facts facts[from..] of `rel` with "symbol": the
 * qualified name of the innermost symbol (tree-sitter outline of the text
 * the server saw) holding the diagnostic's start: part of the matching key
 * (rewards.md), so the same message in two functions is two diagnostics,
 * and a diagnostic that moved with its function is the same one. */
static void annotate_symbols(const char *rel, const struct ln_text *t, enum ln_enc enc,
			     json_t *facts, size_t from, json_t *raw)
{
	enum sel_grammar g = sel_grammar_for_path(rel);
	struct sel_outline ol = { NULL, 0 };
	struct sel_doc *doc = NULL;
	size_t i;

	if (g == SEL_GRAMMAR_NONE || sel_doc_parse(&doc, NULL, t->data, t->len, g) ||
	    sel_outline_build(&ol, doc)) {
		ln_error_clear();
		sel_doc_free(doc);
		return;
	}
	for (i = from; i < json_array_size(facts); i++) {
		const json_t *st = json_object_get(json_object_get(json_array_get(raw, i - from),
								   "range"), "start");
		json_int_t line = json_integer_value(json_object_get(st, "line"));
		const struct sel_symbol *sym;
		size_t byte;
		if (line < 0 || line >= t->nlines ||
		    ln_text_to_byte(t, (int)line, (long)json_integer_value(json_object_get(st,
					"character")), enc, &byte)) {
			ln_error_clear();
			continue;
		}
		byte += t->line_starts[line];
		sym = sel_outline_enclosing(&ol, byte, byte);
		if (sym && sym->qual)
			json_object_set_new(json_array_get(facts, i), "symbol", json_string(sym->qual));
	}
	sel_outline_release(&ol);
	sel_doc_free(doc);
}

static struct lsp_server_info *server_of(struct eng *x, const char *rel)
{
	const struct lsp_profile *p = lsp_profiles_for_path(lsp_workspace_profiles(x->ws), rel,
							     NULL);
	struct lsp_server_info *srv = NULL;

	if (!p || lsp_workspace_server(x->ws, &srv, p)) {
		ln_error_clear();
		return NULL;
	}
	return srv;
}

/* Closes `rel` in its server (if one reads it): servers skip the rebuild
 * of a document whose own text did not change (clangd does), so the next
 * open rebuilds it against the files it depends on as they are now. */
static void close_for_rebuild(struct eng *x, const char *rel)
{
	struct lsp_server_info *srv = server_of(x, rel);
	char *uri;

	if (srv) {
		uri = lsp_workspace_uri(x->ws, rel);
		lsp_session_close_doc(srv->session, uri);
		free(uri);
	}
	ln_error_clear();
}

/* Gives the server of `rel` its text as it is now (the overlay when one is
 * set): *srv and *version for diag_collect. 1 when no server reads the
 * file (it has no diagnostics). */
static int diag_sync(struct eng *x, const char *rel, struct lsp_server_info **srv, int *version)
{
	int error = lsp_workspace_open(x->ws, srv, version, rel);

	if (error == LN_ENOSERVER) {
		ln_error_clear();
		return 1;
	}
	if (error)
		return error;
	note_server(x, *srv);
	return 0;
}

/* Waits for the diagnostics of version `version` of `rel` (diag_sync) and
 * appends them to `facts`. */
static int diag_collect(struct eng *x, const char *rel, struct lsp_server_info *srv, int version,
			json_t *facts, bool *complete)
{
	const struct ln_text *t;
	json_t *diags = NULL, *d;
	enum ln_enc enc;
	char *uri;
	int error;
	size_t i, first;

	error = lsp_workspace_text(x->ws, &t, rel);
	if (error)
		return error;
	uri = lsp_workspace_uri(x->ws, rel);
	error = lsp_session_wait_diagnostics(srv->session, &diags, uri, version,
						     x->o.diagnostics_ms);
	free(uri);
	if (error == LN_ETIMEOUT) {
		*complete = false;
		return ln_error_set(LN_ETIMEOUT, "%s: no diagnostics from %s within %d ms", rel,
				    srv->profile->name, x->o.diagnostics_ms);
	}
	if (error)
		return error;
	enc = lsp_session_encoding(srv->session);
	first = json_array_size(facts);
	json_array_foreach(diags, i, d) {
		const json_t *r = json_object_get(d, "range"), *s = json_object_get(r, "start");
		const json_t *e = json_object_get(r, "end"), *code = json_object_get(d, "code");
		const char *msg = json_string_value(json_object_get(d, "message"));
		json_int_t sl = json_integer_value(json_object_get(s, "line"));
		json_int_t el = json_integer_value(json_object_get(e, "line"));
		json_t *fact = xjson_pack("{s:s, s:s, s:o, s:s, s:o, s:s}", "kind", "diagnostic",
			"path", rel, "range", ln_range_new((long)sl + 1,
				conv_col(t, enc, x->o.index_io, sl,
					 json_integer_value(json_object_get(s, "character"))),
				(long)el + 1, conv_col(t, enc, x->o.index_io, el,
					 json_integer_value(json_object_get(e, "character")))),
			"severity", severity_name(json_integer_value(json_object_get(d, "severity"))),
			"message", clean_text(x, msg ? msg : ""), "provenance", "lsp");
		if (json_is_string(code)) {
			json_object_set_new(fact, "code", json_string(json_string_value(code)));
		} else if (json_is_integer(code)) {
			char tmp[32];
			snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(code));
			json_object_set_new(fact, "code", json_string(tmp));
		}
		if (json_is_string(json_object_get(d, "source")))
			json_object_set(fact, "source", json_object_get(d, "source"));
		json_array_append_new(facts, fact);
	}
	annotate_symbols(rel, t, enc, facts, first, diags);
	json_decref(diags);
	return 0;
}

/* Diagnostics of `rel` as the server sees it now (the overlay when one is
 * set), appended to `facts`. */
static int diag_file(struct eng *x, const char *rel, json_t *facts, bool *complete)
{
	struct lsp_server_info *srv;
	int version, error = diag_sync(x, rel, &srv, &version);

	if (error)
		return error > 0 ? 0 : error;
	return diag_collect(x, rel, srv, version, facts, complete);
}

bool eng_exists_in_wt(const struct eng *x, const char *rel)
{
	struct buf b = BUF_INIT;
	bool r;
	buf_addf(&b, "%s/%s", x->wt, rel);
	r = access(b.data, F_OK) == 0;
	buf_release(&b);
	return r;
}

static const struct sbx_file *edit_of(const struct eng_cand *cd, const char *rel, bool *gone)
{
	size_t i;
	*gone = false;
	for (i = 0; i < cd->e.n; i++) {
		if (!strcmp(cd->e.v[i].path, rel)) {
			*gone = !cd->e.v[i].new_exists;
			return &cd->e.v[i];
		}
		if (cd->e.v[i].from && !strcmp(cd->e.v[i].from, rel)) {
			*gone = true;
			return &cd->e.v[i];
		}
	}
	return NULL;
}

/* The path a file had before the change, when the change removes it (a
 * deletion, or the old name of a rename); NULL otherwise. */
static const char *removed_path(const struct sbx_file *f)
{
	if (!f->old_exists)
		return NULL;
	if (f->from)
		return f->from;
	return f->new_exists ? NULL : f->path;
}

/* Overlays cannot remove a file: a file the candidate deletes (or renames
 * away) is taken out of the base worktree - lanser's own, never the user's
 * tree - and closed in its server, which is told through
 * didChangeWatchedFiles, so that the files that include or import it see it
 * gone; restore_files writes it back byte for byte. type: 3 deleted, 1 created. */
static void watched_change(struct eng *x, const char *rel, int type)
{
	struct lsp_server_info *srv = server_of(x, rel);
	char *uri;

	if (!srv)
		return;
	uri = lsp_workspace_uri(x->ws, rel);
	if (type == 3)
		lsp_session_close_doc(srv->session, uri);
	lsp_session_notify(srv->session, "workspace/didChangeWatchedFiles",
			   xjson_pack("{s:[{s:s, s:i}]}", "changes", "uri", uri, "type", type));
	free(uri);
}

static void remove_files(struct eng *x, struct eng_cand *cd)
{
	size_t i;

	for (i = 0; i < cd->e.n; i++) {
		const char *rel = removed_path(&cd->e.v[i]);
		struct buf abs = BUF_INIT;
		if (!rel)
			continue;
		buf_addf(&abs, "%s/%s", x->wt, rel);
		if (unlink(abs.data) == 0) {
			cd->removed = true;
			watched_change(x, rel, 3);
		}
		buf_release(&abs);
	}
}

/* The test hook of engine.h (ENG_RESTORE_FAULT_ENV): true when the
 * restore after this candidate is to fail. */
static bool restore_fault(const struct eng_cand *cd)
{
	const char *id = getenv(ENG_RESTORE_FAULT_ENV);
	return id && *id && !strcmp(id, cd->r.id);
}

/* Writes back what remove_files took out. A file that is already there
 * was not removed (O_EXCL); any other failure leaves the base damaged. */
static int restore_files(struct eng *x, struct eng_cand *cd)
{
	size_t i;
	int error = 0;

	if (!cd->removed)
		return 0;
	for (i = 0; i < cd->e.n; i++) {
		const struct sbx_file *f = &cd->e.v[i];
		const char *rel = removed_path(f);
		struct buf abs = BUF_INIT;
		int fd = -1;
		if (!rel)
			continue;
		buf_addf(&abs, "%s/%s", x->wt, rel);
		if (restore_fault(cd))
			errno = EIO;   /* the file stays out, as after a failed write */
		else
			fd = open(abs.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
				  f->old_mode ? f->old_mode & 07777 : 0644);
		if (fd >= 0) {
			if (ln_write_all(fd, f->old.data, f->old.len) < 0 && !error)
				error = ln_error_set(LN_ESANDBOX, "cannot restore %s in the base "
						     "worktree: %s", rel, strerror(errno));
			close(fd);
			watched_change(x, rel, 1);
		} else if (errno != EEXIST && !error) {
			error = ln_error_set(LN_ESANDBOX, "cannot restore %s in the base worktree: %s",
					     rel, restore_fault(cd) ? "simulated failure ("
					     ENG_RESTORE_FAULT_ENV ")" : strerror(errno));
		}
		buf_release(&abs);
	}
	cd->removed = false;
	return error;
}

/* Puts back what remove_files took out, drops the candidate's overlays and
 * puts the servers' view of the files it touched back to the base texts
 * (didChange, no wait: a later answer is matched to its document version).
 * Files re-analysed as dependents keep their base text and are rebuilt
 * again whenever a later candidate needs them; their base diagnostics were
 * cached before any overlay. A failure marks the engine broken (x->broken):
 * what a later candidate would see is no longer the base. */
int eng_restore_base(struct eng *x, struct eng_cand *cd)
{
	size_t i;
	int error = restore_files(x, cd);

	lsp_workspace_drop_overlays(x->ws);
	for (i = 0; i < cd->e.n; i++) {
		const struct sbx_file *f = &cd->e.v[i];
		struct lsp_server_info *srv;
		int version;
		if (!f->new_exists)
			continue;
		if (eng_exists_in_wt(x, f->path)) {
			int e2 = lsp_workspace_open(x->ws, &srv, &version, f->path);
			if (e2 && e2 != LN_ENOSERVER && !error)
				error = ln_error_set(e2, "cannot give %s its base text back: %s",
						     f->path, ln_error_msg());
		} else if ((srv = server_of(x, f->path))) {
			/* a file the candidate added: gone again */
			char *uri = lsp_workspace_uri(x->ws, f->path);
			lsp_session_close_doc(srv->session, uri);
			free(uri);
		}
	}
	if (error && !x->broken[0])
		snprintf(x->broken, sizeof x->broken, "the base worktree was not restored after "
			 "candidate %s: %s", cd->r.id, ln_error_msg());
	if (!error)
		ln_error_clear();
	return error;
}

/* Relevance and diagnostics before: at the base, for every candidate
 * before any candidate's change reaches a server (references and the index
 * must be those of the base; a file one candidate deletes is re-indexed
 * when it comes back). Cached per file: the base is the same for all. */
int eng_diag_before(struct eng *x, struct eng_cand *cd)
{
	json_t *f;
	size_t i;
	int error;

	cd->before = json_array();
	error = eng_relevance_compute(x, cd);
	json_array_foreach(cd->r.relevant, i, f) {
		const char *rel = json_string_value(f);
		json_t *cached = json_object_get(x->before_cache, rel);
		if (error)
			break;
		if (!cached) {
			cached = json_array();
			if (eng_exists_in_wt(x, rel))
				error = diag_file(x, rel, cached, &cd->r.complete);
			if (error) {
				json_decref(cached);
				break;
			}
			json_object_set_new(x->before_cache, rel, cached);
		}
		json_array_extend(cd->before, cached);
	}
	return error;
}

/* The candidate's texts on the servers: the files it removes taken out,
 * its texts as overlays, the touched files synced. */
static int apply_overlays(struct eng *x, struct eng_cand *cd)
{
	size_t i;
	int error = 0;

	remove_files(x, cd);
	for (i = 0; i < cd->e.n && !error; i++)
		if (cd->e.v[i].new_exists)
			error = lsp_workspace_set_overlay(x->ws, cd->e.v[i].path, cd->e.v[i].new.data,
							  cd->e.v[i].new.len);
	for (i = 0; i < cd->e.n && !error; i++) {
		struct lsp_server_info *srv;
		int version;
		if (!cd->e.v[i].new_exists)
			continue;
		error = lsp_workspace_open(x->ws, &srv, &version, cd->e.v[i].path);
		if (error == LN_ENOSERVER) {
			ln_error_clear();
			error = 0;
		}
	}
	return error;
}

/* Diagnostics after: every relevant file re-analysed against the
 * candidate's texts, then the base put back. A failed restore is this
 * candidate's error only when its own diagnostics succeeded (they were
 * taken before the restore); it breaks the engine for the next ones. */
/* Whether the server gets for `rel` the very text it was given for the
 * previous candidate; remembers this one's. clangd 14 publishes nothing for
 * a text equal to the one it built last (the base text in between is never
 * built): two equal candidates in a row, as GRPO groups often hold, left the
 * second without diagnostics. Such a file is closed and opened again. Only
 * for clangd: pyright's "clear" message on a close would be taken for the
 * answer. */
static bool same_as_last(struct eng *x, const char *rel)
{
	const struct lsp_profile *p = lsp_profiles_for_path(lsp_workspace_profiles(x->ws), rel, NULL);
	const struct ln_text *t;
	char hash[LN_SHA256_HEX_SIZE];
	const char *last;
	bool same;

	if (!p || strcmp(p->name, "clangd") || lsp_workspace_text(x->ws, &t, rel)) {
		ln_error_clear();
		return false;
	}
	ln_sha256_hex(t->data, t->len, hash);
	last = json_string_value(json_object_get(x->after_hash, rel));
	same = last && !strcmp(last, hash);
	json_object_set_new(x->after_hash, rel, json_string(hash));
	return same;
}

static bool served_by_clangd(struct eng *x, const char *rel)
{
	const struct lsp_profile *p = lsp_profiles_for_path(lsp_workspace_profiles(x->ws), rel, NULL);
	return p && !strcmp(p->name, "clangd");
}

/* Whether the candidate only changes, in place, C-family source files that
 * no other translation unit sees (eng_source_private), all read by clangd:
 * then a relevant file it does not touch (one that merely references the
 * changed symbols) compiles exactly as at the base, and its diagnostics
 * after are its diagnostics before. Rebuilding it (close, open: clangd
 * builds its preamble again) would give the same facts at the price of a
 * full compile per candidate. */
static bool change_is_private(struct eng *x, const struct eng_cand *cd)
{
	size_t i;

	for (i = 0; i < cd->e.n; i++) {
		const struct sbx_file *f = &cd->e.v[i];
		if (f->status != SBX_MODIFIED || f->from || !f->old_exists || !f->new_exists ||
		    !served_by_clangd(x, f->path) || !eng_source_private(x, f->path))
			return false;
	}
	return cd->e.n > 0;
}

/* One relevant file of the after pass. */
struct after_file {
	const char *rel;
	const struct sbx_file *ed;   /* the candidate's change of it, or NULL */
	struct lsp_server_info *srv;
	int version;
	/* 0 synced; 1 no server; 2 not synced; 3 unaffected: its facts
	 * before stand (change_is_private) */
	int state;
};

/* Gives the servers every relevant file's text, then collects each file's
 * diagnostics: the servers analyse the files at once (clangd builds each
 * on a thread of its own, after its debounce) instead of one after the
 * other. What each file's diagnostics describe is the same as one file at
 * a time: every overlay is set before any file is synced, the files that
 * are closed to be rebuilt are all closed first, and the changed files are
 * opened before the files that depend on them. Facts come in the order of
 * the relevant files; the first error in that order is the answer. */
int eng_diag_after(struct eng *x, struct eng_cand *cd)
{
	struct ln_error_state st, sst;
	struct after_file *v;
	size_t i, n = 0, stop;
	int error, pass, serr = 0;
	bool private;

	cd->after = json_array();
	private = change_is_private(x, cd);
	error = apply_overlays(x, cd);
	v = xcalloc(json_array_size(cd->r.relevant) + 1, sizeof *v);
	for (i = 0; i < json_array_size(cd->r.relevant) && !error; i++) {
		const char *rel = json_string_value(json_array_get(cd->r.relevant, i));
		bool gone;
		const struct sbx_file *ed = edit_of(cd, rel, &gone);
		if (gone || (!ed && !eng_exists_in_wt(x, rel)))
			continue;
		v[n].rel = rel;
		v[n].ed = ed;
		if (!ed && private && served_by_clangd(x, rel) &&
		    json_object_get(x->before_cache, rel)) {
			v[n++].state = 3;
			continue;
		}
		if (ed == NULL || same_as_last(x, rel))
			close_for_rebuild(x, rel);
		v[n].state = 2;
		n++;
	}
	/* the changed files first (their texts are what the others see) */
	stop = n;
	for (pass = 0; pass < 2 && !error && !serr; pass++)
		for (i = 0; i < n && !serr; i++) {
			int e2;
			if ((v[i].ed != NULL) != (pass == 0) || v[i].state == 3)
				continue;
			e2 = diag_sync(x, v[i].rel, &v[i].srv, &v[i].version);
			if (e2 < 0) {
				serr = e2;
				stop = i;
			} else {
				v[i].state = e2;
			}
		}
	/* the files before one that could not be synced are answered first,
	 * as one file at a time would have */
	if (serr)
		ln_error_capture(&sst);
	for (i = 0; i < stop && !error; i++)
		if (v[i].state == 0)
			error = diag_collect(x, v[i].rel, v[i].srv, v[i].version, cd->after,
					     &cd->r.complete);
		else if (v[i].state == 3)
			json_array_extend(cd->after, json_object_get(x->before_cache, v[i].rel));
	if (!error && serr)
		error = ln_error_restore(&sst);
	free(v);
	ln_error_capture(&st);
	if (eng_restore_base(x, cd))
		ln_error_clear();   /* x->broken says why; this candidate's facts stand */
	return error ? ln_error_restore(&st) : 0;
}
