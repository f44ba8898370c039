/*
 * resolve_symbolic.c - symbolic selectors (py://pkg.mod#Class.method,
 * c://file#fn): the files a module names, qualified-name matching, roles
 * (resolve_impl.h, docs/selectors.md).
 */
#include "selectors/resolve.h"
#include "selectors/resolve_impl.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "selectors/match.h"

#include <stdlib.h>
#include <string.h>

/* ---- symbolic ---- */

/* The selector language whose scheme searches `path` (ts:// reads .ts,
 * .mts, .cts and .tsx; js:// reads .js, .jsx, .mjs and .cjs). */
static enum sel_lang lang_of_path(const char *path)
{
	switch (sel_grammar_for_path(path)) {
	case SEL_GRAMMAR_C: return SEL_LANG_C;
	case SEL_GRAMMAR_PYTHON: return SEL_LANG_PY;
	case SEL_GRAMMAR_TS: case SEL_GRAMMAR_TSX: return SEL_LANG_TS;
	case SEL_GRAMMAR_JS: return SEL_LANG_JS;
	default: return SEL_LANG_NONE;
	}
}

/* The files a symbolic selector searches (new array of relative paths). */
static int symbolic_files(json_t **out, const struct sel *sel, const struct sel_source *src)
{
	json_t *files = NULL, *all = NULL, *f;
	size_t i;
	int error = 0;

	*out = json_array();
	if (sel->path) {
		char *rel = NULL;
		error = sel_norm_path(&rel, src, sel->path, false);
		if (error)
			return error;
		json_array_append_new(*out, json_string(rel));
		free(rel);
		return 0;
	}
	if (sel->lang == SEL_LANG_PY && sel->module) {
		static const char *const pre[] = { "", "", "src/", "src/", "" };
		static const char *const suf[] = { ".py", "/__init__.py", ".py", "/__init__.py", ".pyi" };
		struct buf mod = BUF_INIT;
		const char *m;
		for (m = sel->module; *m; m++)
			buf_addch(&mod, *m == '.' ? '/' : *m);
		for (i = 0; i < sizeof pre / sizeof pre[0]; i++) {
			struct buf p = BUF_INIT;
			const struct ln_text *t;
			buf_addf(&p, "%s%s%s", pre[i], mod.data, suf[i]);
			if (src->text(src->ctx, p.data, &t) == 0) {
				json_array_append_new(*out, json_string(p.data));
				buf_release(&p);
				break;
			}
			buf_release(&p);
		}
		buf_release(&mod);
		ln_error_clear();
		return 0;
	}
	if (!src->files)
		return ln_error_set(LN_EUNSUPPORTED, "a selector without a file needs the workspace file list");
	error = src->files(src->ctx, &all);
	if (error)
		return error;
	json_array_foreach(all, i, f) {
		const char *p = json_string_value(f);
		if (lang_of_path(p) == sel->lang)
			json_array_append(*out, f);
	}
	json_decref(all);
	json_decref(files);
	return 0;
}

/* Trailing components of the selector's name that equal the symbol's
 * qualified chain; 0 when the last one differs or the selector asks for
 * more containers than match. */
static int qual_match(const struct sel *sel, const char *qual, int *chain_len)
{
	const char *parts[SEL_OUTLINE_MAX_DEPTH + 1];
	char *copy = xstrdup(qual), *p, *save = NULL;
	int n = 0, m = 0;

	for (p = copy; p && n <= SEL_OUTLINE_MAX_DEPTH; ) {
		char *dot = strchr(p, '.');
		if (dot)
			*dot = '\0';
		parts[n++] = p;
		p = dot ? dot + 1 : NULL;
	}
	(void)save;
	while (m < sel->nqual && m < n && !strcmp(sel->qual[sel->nqual - 1 - m], parts[n - 1 - m]))
		m++;
	free(copy);
	*chain_len = n;
	return m == sel->nqual ? m : 0;
}

static double qual_jaccard(const struct sel *sel, const char *qual)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	const char *p;
	double j;
	int i;

	for (i = 0; i < sel->nqual; i++)
		buf_addf(&a, "%s ", sel->qual[i]);
	for (p = qual; *p; p++)
		buf_addch(&b, *p == '.' ? ' ' : *p);
	j = sel_token_jaccard(a.data, a.len, b.data, b.len);
	buf_release(&a);
	buf_release(&b);
	return j;
}

static bool role_range(const struct sel_symbol *s, enum sel_role role, const char *text,
		       size_t *a, size_t *b, size_t *point)
{
	*point = s->name_start;
	switch (role) {
	case SEL_ROLE_DEF:
		*a = s->start; *b = s->end;
		return true;
	case SEL_ROLE_NAME:
		*a = s->name_start; *b = s->name_end;
		return true;
	case SEL_ROLE_BODY:
		if (s->body_start == s->body_end)
			return false;
		*a = *point = s->body_start; *b = s->body_end;
		return true;
	case SEL_ROLE_SIG:
		*a = s->start;
		*b = s->body_start != s->body_end ? s->body_start : s->end;
		while (*b > *a && strchr(" \t\r\n", text[*b - 1]))
			(*b)--;
		return true;
	case SEL_ROLE_DOC:
		if (s->doc_start == s->doc_end)
			return false;
		*a = *point = s->doc_start; *b = s->doc_end;
		return true;
	}
	return false;
}

int sel_resolve_symbolic(struct sel_resolution *r, const struct sel *sel,
			 const struct sel_source *src)
{
	json_t *files = NULL, *fj;
	size_t i, k, nfull = 0;
	int error, missing_role = 0;
	struct buf what = BUF_INIT;

	error = symbolic_files(&files, sel, src);
	if (error)
		goto done;
	if (json_array_size(files) > SEL_MAX_FILES) {
		error = ln_error_set(LN_EINPUT, "more than %d files to search; name the file",
				     SEL_MAX_FILES);
		goto done;
	}
	json_array_foreach(files, i, fj) {
		struct sel_file f;
		error = sel_file_load(&f, src, json_string_value(fj), true);
		if (error == LN_EINPUT && !sel->path) { /* skip unreadable files in a search */
			sel_file_release(&f);
			error = 0;
			ln_error_clear();
			continue;
		}
		if (error) {
			sel_file_release(&f);
			goto done;
		}
		for (k = 0; k < f.ol.n; k++) {
			const struct sel_symbol *s = &f.ol.v[k];
			int chain, m;
			size_t a, b, point;
			struct buf label = BUF_INIT;
			if (strcmp(s->name, sel->qual[sel->nqual - 1]))
				continue;
			m = qual_match(sel, s->qual, &chain);
			if (!m)
				continue;
			if (!role_range(s, sel->role, f.t->data, &a, &b, &point)) {
				missing_role++;
				continue;
			}
			buf_addf(&label, "%s%s %s", s->definition ? "" : "declared ", s->kind, s->qual);
			sel_add_cand(r, f.rel, a, b, point,
				 (double)m / (double)(chain > sel->nqual ? chain : sel->nqual) *
					 (s->definition ? 1.0 : 0.6),
				 1.0, qual_jaccard(sel, s->qual), 1.0, "symbol", label.data);
			buf_release(&label);
		}
		sel_file_release(&f);
	}
	if (sel->overload) {
		/* The N-th full match in (path, position) order. */
		struct sel_cand keep;
		size_t j;
		int hit = -1;
		for (k = 0; k < r->n; k++)
			if (r->v[k].s_ast >= 1.0 - 1e-9 || r->v[k].s_ast >= 0.6 - 1e-9)
				nfull++;
		/* r->v is in file order then document order already */
		for (k = 0, j = 0; k < r->n; k++)
			if (++j == (size_t)sel->overload) {
				hit = (int)k;
				break;
			}
		if (hit < 0) {
			for (k = 0; k < r->n; k++) {
				free(r->v[k].path);
				free(r->v[k].label);
			}
			r->n = 0;
			buf_addf(&what, "%s: there is no overload %ld (%zu found)", sel->text,
				 sel->overload, nfull);
		} else {
			keep = r->v[hit];
			for (k = 0; k < r->n; k++)
				if ((int)k != hit) {
					free(r->v[k].path);
					free(r->v[k].label);
				}
			r->v[0] = keep;
			r->n = 1;
			r->v[0].s_ast = 1.0;
		}
	}
	if (r->n == 1 && !sel->overload) {
		/* The only symbol of that name where the selector looks (py://#scaled
		 * for Circle.scaled, unique in the project): nothing else can be
		 * meant, so no ambiguity however partial the qualname was. Only a
		 * score that would fall below tau changes. */
		struct sel_cand *c = &r->v[0];
		if (SEL_W_AST * c->s_ast + SEL_W_MODULE * c->s_module + SEL_W_TOKEN * c->j_token +
			    SEL_W_PROX * c->s_prox < SEL_TAU)
			c->s_ast = 1.0;
	}
	if (!what.len) {
		if (missing_role && !r->n)
			buf_addf(&what, "%s: the symbol has no %s", sel->text, sel_role_name(sel->role));
		else
			buf_addf(&what, "%s: no such symbol", sel->text);
	}
	sel_decide(r, sel->text, what.data);
done:
	buf_release(&what);
	json_decref(files);
	return error;
}
