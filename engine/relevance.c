/*
 * relevance.c - the relevant files of a candidate (engine/relevance.h):
 * the touched files, then the files holding references at the base to the
 * symbols the change touched (documentSymbol, then references, on the
 * engine's servers before any candidate's text reaches them).
 */
#include "engine/relevance.h"
#include "engine/internal.h"

#include "core/err.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"

#include <stdlib.h>
#include <string.h>

bool eng_paths_has(const json_t *a, const char *s)
{
	const json_t *v;
	size_t i;
	json_array_foreach(a, i, v) {
		const char *p = json_string_value(v);
		if (p && !strcmp(p, s))
			return true;
	}
	return false;
}

void eng_paths_sort(json_t *a)
{
	size_t i, j;

	/* insertion sort: a few hundred paths at most (ENG_MAX_RELEVANT) */
	for (i = 1; i < json_array_size(a); i++)
		for (j = i; j > 0 && strcmp(json_string_value(json_array_get(a, j - 1)),
					    json_string_value(json_array_get(a, j))) > 0; j--) {
			json_t *t = json_incref(json_array_get(a, j - 1));
			json_array_set(a, j - 1, json_array_get(a, j));
			json_array_set_new(a, j, t);
		}
}

void eng_touched_symbols(const json_t *syms, long lo, long hi, size_t max, json_t *out)
{
	const json_t *s;
	size_t i;

	json_array_foreach(syms, i, s) {
		const json_t *r = json_object_get(s, "range");
		const json_t *sel = json_object_get(s, "selectionRange");
		long sl, el;
		json_int_t k;
		size_t before;
		if (!r) {      /* SymbolInformation */
			r = json_object_get(json_object_get(s, "location"), "range");
			sel = r;
		}
		sl = (long)json_integer_value(json_object_get(json_object_get(r, "start"), "line"));
		el = (long)json_integer_value(json_object_get(json_object_get(r, "end"), "line"));
		if (el < lo || sl > hi || json_array_size(out) >= max)
			continue;
		before = json_array_size(out);
		/* the parameters and locals of a function are not symbols
		 * other files can depend on: a function is a leaf here */
		k = json_integer_value(json_object_get(s, "kind"));
		if (k != 6 && k != 9 && k != 12)
			eng_touched_symbols(json_object_get(s, "children"), lo, hi, max, out);
		if (json_array_size(out) == before && sel)
			json_array_append(out, json_object_get(sel, "start"));
	}
}

void eng_changed_lines(const char *a, size_t alen, const char *b, size_t blen, long *lo,
		       long *hi)
{
	size_t p = 0, sa = alen, sb = blen, i;
	long line = 0, total = 0;

	while (p < alen && p < blen && a[p] == b[p]) {
		if (a[p] == '\n')
			line++;
		p++;
	}
	*lo = line;
	while (sa > p && sb > p && a[sa - 1] == b[sb - 1]) {
		sa--;
		sb--;
	}
	for (i = 0; i < sa && i < alen; i++)
		if (a[i] == '\n')
			total++;
	*hi = total < *lo ? *lo : total;
}

json_t *eng_touched_files(const struct sbx_edits *e)
{
	json_t *out = json_array();
	size_t i;

	for (i = 0; i < e->n; i++) {
		const struct sbx_file *f = &e->v[i];
		if (!eng_paths_has(out, f->path))
			json_array_append_new(out, json_string(f->path));
		if (f->from && !eng_paths_has(out, f->from))
			json_array_append_new(out, json_string(f->from));
	}
	return out;
}

/* Adds the workspace files of a references answer to `found` (distinct,
 * in the answer's order, at most 2 * ENG_MAX_RELEVANT: enough for
 * add_found, which can skip at most ENG_MAX_RELEVANT of them as already
 * relevant and take at most ENG_MAX_RELEVANT). */
static void add_references(const struct eng *x, const json_t *refs, json_t *found)
{
	const json_t *loc;
	size_t j;

	json_array_foreach(refs, j, loc) {
		char *abs = NULL, *rel = NULL;
		const char *u = json_string_value(json_object_get(loc, "uri"));
		if (u && ln_uri_to_path(&abs, u) == 0 &&
		    ln_path_relativize(&rel, x->wt, abs) == 1 &&
		    !eng_paths_has(found, rel) && json_array_size(found) < 2 * ENG_MAX_RELEVANT)
			json_array_append_new(found, json_string(rel));
		ln_error_clear();
		free(abs);
		free(rel);
	}
}

/* The files of `found` added to `relevant` (those not in it yet, up to
 * ENG_MAX_RELEVANT). */
static void add_found(const json_t *found, json_t *relevant)
{
	const json_t *f;
	size_t j;

	json_array_foreach(found, j, f)
		if (!eng_paths_has(relevant, json_string_value(f)) &&
		    json_array_size(relevant) < ENG_MAX_RELEVANT)
			json_array_append(relevant, (json_t *)f);
}

/* The key of a touched file's references in x->refs_cache: its path at
 * the base and the lines the change touched (the base text is the same for
 * every candidate of the engine). */
#define ENG_REFS_CACHE_MAX 4096   /* entries of x->refs_cache */

static char *refs_key(const char *old, long lo, long hi)
{
	return xasprintf("%ld:%ld:%s", lo, hi, old);
}

/* The references of the symbols `f` touched, added to cd->r.relevant.
 * They are asked of the servers at the base, so the answer depends only on
 * the base text of the file and the lines the change touched: it is kept
 * (x->refs_cache) and reused by the next candidates of the engine that
 * touch the same lines (GRPO groups: one prompt, many completions of the
 * same function), instead of a documentSymbol request that makes the
 * server rebuild the file at its base text, and the references requests.
 * Only a complete answer is kept: the index was ready, and every request
 * was answered. */
static void follow_file(struct eng *x, struct eng_cand *cd, const struct sbx_file *f,
			bool *waited)
{
	const char *old = f->from ? f->from : f->path;
	struct lsp_server_info *srv;
	json_t *syms = NULL, *points, *pt, *found;
	char *uri, *key;
	long lo, hi;
	int version;
	bool whole = true;
	size_t k;

	if (!f->old_exists)
		return;
	eng_changed_lines(f->old.data, f->old.len, f->new.data, f->new.len, &lo, &hi);
	if (f->status == SBX_DELETED) {
		lo = 0;
		hi = 100000000;
	}
	key = refs_key(old, lo, hi);
	found = json_object_get(x->refs_cache, key);
	if (found) {
		add_found(found, cd->r.relevant);
		free(key);
		return;
	}
	if (lsp_workspace_open(x->ws, &srv, &version, old)) {
		ln_error_clear();
		free(key);
		return;
	}
	if (!*waited) {
		/* references need the index (clangd's background index) */
		if (lsp_workspace_wait_ready(x->ws, srv, true, x->o.index_ms) == 0) {
			cd->r.complete = false;
			whole = false;
		}
		*waited = true;
	}
	points = json_array();
	found = json_array();
	uri = lsp_workspace_uri(x->ws, old);
	if (lsp_session_request(srv->session, &syms, "textDocument/documentSymbol",
				xjson_pack("{s:{s:s}}", "textDocument", "uri", uri),
				x->o.request_ms) == 0)
		eng_touched_symbols(syms, lo, hi, ENG_MAX_SYMBOLS, points);
	else
		whole = false;
	ln_error_clear();
	json_array_foreach(points, k, pt) {
		json_t *refs = NULL;
		if (lsp_session_request(srv->session, &refs, "textDocument/references",
					xjson_pack("{s:{s:s}, s:O, s:{s:b}}", "textDocument", "uri",
						   uri, "position", pt, "context",
						   "includeDeclaration", 1),
					x->o.request_ms) == 0)
			add_references(x, refs, found);
		else
			whole = false;
		ln_error_clear();
		json_decref(refs);
	}
	add_found(found, cd->r.relevant);
	if (whole && !cd->r.complete)
		whole = false;   /* an earlier wait of this candidate gave up */
	if (whole) {
		/* bounded: a long-lived server starts over past the cap */
		if (json_object_size(x->refs_cache) >= ENG_REFS_CACHE_MAX)
			json_object_clear(x->refs_cache);
		json_object_set(x->refs_cache, key, found);
	}
	json_decref(found);
	free(key);
	free(uri);
	json_decref(syms);
	json_decref(points);
}

int eng_relevance_compute(struct eng *x, struct eng_cand *cd)
{
	bool waited = false;
	size_t i;

	cd->r.relevant = eng_touched_files(&cd->e);
	for (i = 0; i < cd->e.n; i++)
		follow_file(x, cd, &cd->e.v[i], &waited);
	eng_paths_sort(cd->r.relevant);
	return 0;
}
