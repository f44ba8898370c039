/*
 * resolve.c - resolving a selector (resolve.h): the files, candidates and
 * the decision every method shares, cursors and ranges, and the bundle
 * form of a resolution. Symbolic selectors are resolve_symbolic.c, AST
 * paths resolve_ast.c, anchors resolve_anchor.c, relocation relocate.c.
 * The features and constants are defined in docs/selectors.md; these files
 * follow those definitions one to one.
 */
#include "selectors/resolve.h"
#include "selectors/resolve_impl.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "selectors/outline.h"
#include "selectors/tree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sel_file_release(struct sel_file *f)
{
	free(f->rel);
	sel_doc_free(f->doc);
	sel_outline_release(&f->ol);
	memset(f, 0, sizeof *f);
}

/* Makes `path` workspace-relative: cursor/range paths against cwd, the
 * :// forms against the root. */
int sel_norm_path(char **rel, const struct sel_source *src, const char *path, bool shell)
{
	const char *cwd = shell && src->cwd ? src->cwd : src->root;
	int r;

	*rel = NULL;
	if (src->lexical) {
		r = ln_path_lexical_rel(rel, src->root, cwd, path);
		if (r < 0)
			return r;
		if (r == 0) {
			free(*rel);
			*rel = NULL;
			return ln_error_set(LN_EPERM, "path is outside the workspace: %s", path);
		}
		return 0;
	}
	return ln_path_resolve_in_root(rel, NULL, src->root, cwd, path);
}

/* Loads a file (already relative); `need_tree`: fail without a grammar. */
int sel_file_load(struct sel_file *f, const struct sel_source *src, const char *rel,
		  bool need_tree)
{
	enum sel_grammar g = sel_grammar_for_path(rel);
	int error;

	memset(f, 0, sizeof *f);
	f->rel = xstrdup(rel);
	error = src->text(src->ctx, rel, &f->t);
	if (error)
		return error;
	if (g == SEL_GRAMMAR_NONE) {
		if (need_tree)
			return ln_error_set(LN_EUNSUPPORTED, "no tree-sitter grammar for %s "
					    "(supported: .c .h .py .pyi)", rel);
		return 0;
	}
	error = sel_doc_parse(&f->doc, rel, f->t->data, f->t->len, g);
	if (!error)
		error = sel_outline_build(&f->ol, f->doc);
	return error;
}

void sel_add_cand(struct sel_resolution *r, const char *path, size_t start, size_t end,
		  size_t point, double s_ast, double s_module, double j_token, double s_prox,
		  const char *via, const char *label)
{
	struct sel_cand *c;

	r->v = xrealloc(r->v, (r->n + 1) * sizeof *r->v);
	c = &r->v[r->n++];
	memset(c, 0, sizeof *c);
	c->path = xstrdup(path);
	c->label = label ? xstrdup(label) : NULL;
	c->start = start;
	c->end = end;
	c->point = point;
	c->s_ast = s_ast;
	c->s_module = s_module;
	c->j_token = j_token;
	c->s_prox = s_prox;
	c->via = via;
}

static double round6(double x)
{
	return round(x * 1e6) / 1e6;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct sel_cand *x = a, *y = b;
	int c;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	c = strcmp(x->path, y->path);
	if (c)
		return c;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Scores, orders and decides. `sel_text` names the selector in the
 * ambiguity message; `notfound` is the whole message when nothing matched. */
void sel_decide(struct sel_resolution *r, const char *sel_text, const char *notfound)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct sel_cand *c = &r->v[i];
		c->score = round6(SEL_W_AST * c->s_ast + SEL_W_MODULE * c->s_module +
				  SEL_W_TOKEN * c->j_token + SEL_W_PROX * c->s_prox);
	}
	if (r->n > 1)
		qsort(r->v, r->n, sizeof *r->v, cmp_cand);
	free(r->message);
	r->message = NULL;
	if (r->n == 0) {
		r->status = LN_ENOTFOUND;
		r->message = xstrdup(notfound);
	} else if (r->v[0].score < SEL_TAU) {
		struct buf b = BUF_INIT;
		r->status = LN_EAMBIGUOUS;
		buf_addf(&b, "%s is ambiguous: the best of %zu candidates scores %.3f, below tau %.2f",
			 sel_text, r->n, r->v[0].score, SEL_TAU);
		r->message = buf_detach(&b, NULL);
	} else if (r->n > 1 && r->v[0].score - r->v[1].score < SEL_MARGIN - 1e-9) {
		struct buf b = BUF_INIT;
		r->status = LN_EAMBIGUOUS;
		buf_addf(&b, "%s is ambiguous: %zu candidates, the best two score %.3f and %.3f "
			 "(closer than the margin %.2f)", sel_text, r->n, r->v[0].score, r->v[1].score,
			 SEL_MARGIN);
		r->message = buf_detach(&b, NULL);
	} else {
		r->status = 0;
	}
}

int sel_offset_to_pos(const struct ln_text *t, size_t off, enum ln_enc enc, long *line, long *col)
{
	int l0, error;
	size_t b;

	error = ln_text_line_of(t, off, &l0, &b);
	if (!error)
		error = ln_text_from_byte(t, l0, b, ln_text_user_enc(t, enc), col);
	if (error)
		return error;
	*line = l0 + 1;
	*col += 1;
	return 0;
}

int sel_line_of(const struct ln_text *t, size_t off)
{
	int l0 = 0;
	size_t b;

	if (ln_text_line_of(t, off, &l0, &b))
		return t->nlines - 1;
	return l0;
}

/* ---- cursor and range ---- */

static int pos_to_offset(const struct ln_text *t, long line, long col, enum ln_enc enc,
			 const char *text, size_t *out)
{
	size_t b;
	int error = ln_text_to_byte(t, (int)(line - 1), col - 1, ln_text_user_enc(t, enc), &b);

	if (error)
		return ln_error_set(LN_ESELECTOR, "%s: %s", text, ln_error_msg());
	*out = ln_text_offset(t, (int)(line - 1), b);
	return 0;
}

/* A cursor or range selector (path@L3:C5, path@R(3,5->4,1)): its path made
 * relative, its line and column turned into byte offsets in `enc`. */
static int resolve_cursor(struct sel_resolution *r, const struct sel *sel,
			  const struct sel_source *src, enum ln_enc enc)
{
	struct sel_file f;
	char *rel = NULL;
	size_t a, b;
	int error;

	memset(&f, 0, sizeof f);
	error = sel_norm_path(&rel, src, sel->path, true);
	if (error)
		goto done;
	error = src->text(src->ctx, rel, &f.t);
	if (error)
		goto done;
	error = pos_to_offset(f.t, sel->line, sel->col, enc, sel->text, &a);
	if (error)
		goto done;
	b = a;
	if (sel->kind == SEL_RANGE) {
		error = pos_to_offset(f.t, sel->end_line, sel->end_col, enc, sel->text, &b);
		if (error)
			goto done;
	}
	sel_add_cand(r, rel, a, b, a, 1, 1, 1, 1, sel_kind_name(sel->kind), NULL);
	sel_decide(r, sel->text, "");
done:
	free(rel);
	return error;
}

int sel_resolve(struct sel_resolution *r, const struct sel *sel, const struct sel_source *src,
		enum ln_enc enc)
{
	memset(r, 0, sizeof *r);
	r->method = sel_kind_name(sel->kind);
	switch (sel->kind) {
	case SEL_CURSOR:
	case SEL_RANGE:
		return resolve_cursor(r, sel, src, enc);
	case SEL_SYMBOLIC:
		return sel_resolve_symbolic(r, sel, src);
	case SEL_AST:
		return sel_resolve_ast(r, sel, src);
	case SEL_ANCHOR:
		return sel_resolve_anchor(r, sel, src);
	}
	return ln_error_set(LN_ESELECTOR, "unknown selector kind");
}

void sel_resolution_release(struct sel_resolution *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].path);
		free(r->v[i].label);
	}
	free(r->v);
	free(r->origin.path);
	free(r->origin.label);
	free(r->message);
	memset(r, 0, sizeof *r);
}

static bool agree(const json_t *arr, const char *name, int line0, int depth)
{
	const json_t *s;
	size_t i;

	if (depth > 64 || !json_is_array(arr))
		return false;
	json_array_foreach(arr, i, s) {
		const json_t *r = json_object_get(s, "selectionRange");
		const char *n = json_string_value(json_object_get(s, "name"));
		if (!r)
			r = json_object_get(json_object_get(s, "location"), "range");
		if (n && !strcmp(n, name) &&
		    json_integer_value(json_object_get(json_object_get(r, "start"), "line")) == line0 &&
		    json_is_integer(json_object_get(json_object_get(r, "start"), "line")))
			return true;
		if (agree(json_object_get(s, "children"), name, line0, depth + 1))
			return true;
	}
	return false;
}

bool sel_symbols_agree(const json_t *symbols, const char *name, int line0)
{
	return agree(symbols, name, line0, 0);
}

static json_t *range_json(const struct ln_text *t, size_t a, size_t b, enum ln_enc enc)
{
	long sl = 0, sc = 0, el = 0, ec = 0;

	if (!t || sel_offset_to_pos(t, a, enc, &sl, &sc) || sel_offset_to_pos(t, b, enc, &el, &ec))
		return json_null();
	return xjson_pack("[I,I,I,I]", (json_int_t)sl, (json_int_t)sc, (json_int_t)el, (json_int_t)ec);
}

static json_t *cand_json(const struct sel_cand *c, const struct ln_text *t, enum ln_enc enc)
{
	json_t *j = xjson_pack("{s:o, s:o, s:f, s:{s:f, s:f, s:f, s:f}, s:s}",
		"path", xjson_string_lossy(c->path), "range", range_json(t, c->start, c->end, enc),
		"score", round6(c->score), "features",
		"s_ast", round6(c->s_ast), "s_module", round6(c->s_module),
		"J_token", round6(c->j_token), "s_prox", round6(c->s_prox), "via", c->via);
	long l, col;

	if (c->label)
		json_object_set_new(j, "label", json_string(c->label));
	if (t && !sel_offset_to_pos(t, c->point, enc, &l, &col))
		json_object_set_new(j, "point", xjson_pack("[I,I]", (json_int_t)l, (json_int_t)col));
	return j;
}

json_t *sel_resolution_json(const struct sel_resolution *r, const struct sel_source *src,
			    enum ln_enc enc)
{
	json_t *j = xjson_pack("{s:s, s:s, s:f, s:f, s:i, s:{s:f, s:f, s:f, s:f}}",
		"method", r->method, "status", ln_err_name(r->status),
		"tau", SEL_TAU, "margin", SEL_MARGIN, "topK", SEL_TOP_K,
		"weights", "s_ast", SEL_W_AST, "s_module", SEL_W_MODULE, "J_token", SEL_W_TOKEN,
		"s_prox", SEL_W_PROX);
	json_t *cands = json_array();
	size_t i;

	for (i = 0; i < r->n && i < SEL_TOP_K; i++) {
		const struct ln_text *t = NULL;
		if (src->text(src->ctx, r->v[i].path, &t))
			t = NULL;
		json_array_append_new(cands, cand_json(&r->v[i], t, enc));
	}
	ln_error_clear();
	json_object_set_new(j, "candidates", cands);
	json_object_set_new(j, "candidateCount", json_integer((json_int_t)r->n));
	if (r->n) {
		json_t *top = json_array_get(cands, 0);
		json_object_set_new(j, "confidence", json_real(round6(r->v[0].score)));
		if (r->status == 0) {
			json_object_set(j, "path", json_object_get(top, "path"));
			json_object_set(j, "range", json_object_get(top, "range"));
			if (json_object_get(top, "point"))
				json_object_set(j, "point", json_object_get(top, "point"));
		}
	} else {
		json_object_set_new(j, "confidence", json_real(0));
	}
	if (r->relocated) {
		json_t *o = cand_json(&r->origin, r->origin_text, enc);
		json_object_del(o, "score");
		json_object_del(o, "features");
		json_object_set_new(j, "origin", o);
	}
	return j;
}


