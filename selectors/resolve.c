/*
 * resolve.c - structural, anchor and relocation resolution (resolve.h).
 * The features and constants are defined in docs/selectors.md; this file
 * follows those definitions one to one.
 */
#include "selectors/resolve.h"
#include "core/buf.h"
#include "core/err.h"
#include "selectors/match.h"
#include "selectors/outline.h"
#include "core/path.h"
#include "selectors/tree.h"
#include "core/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRONTIER 10000
#define MAX_AST_DEPTH 512
#define FUZZY_BUDGET 4000000UL  /* window-lines examined per fuzzy search */

/* One file loaded for resolution. */
struct file {
	char *rel;
	const struct ln_text *t;   /* borrowed from the source */
	struct sel_doc *doc;       /* NULL when no grammar */
	struct sel_outline ol;
};

static void file_release(struct file *f)
{
	free(f->rel);
	sel_doc_free(f->doc);
	sel_outline_release(&f->ol);
	memset(f, 0, sizeof *f);
}

/* Makes `path` workspace-relative: cursor/range paths against cwd, the
 * :// forms against the root. */
static int norm_path(char **rel, const struct sel_source *src, const char *path, bool shell)
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
static int file_load(struct file *f, const struct sel_source *src, const char *rel, bool need_tree)
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

static void add_cand(struct sel_resolution *r, const char *path, size_t start, size_t end,
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
static void decide(struct sel_resolution *r, const char *sel_text, const char *notfound)
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
		error = ln_text_from_byte(t, l0, b, enc, col);
	if (error)
		return error;
	*line = l0 + 1;
	*col += 1;
	return 0;
}

static int line_of(const struct ln_text *t, size_t off)
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
	int error = ln_text_to_byte(t, (int)(line - 1), col - 1, enc, &b);

	if (error)
		return ln_error_set(LN_ESELECTOR, "%s: %s", text, ln_error_msg());
	*out = ln_text_offset(t, (int)(line - 1), b);
	return 0;
}

static int resolve_position(struct sel_resolution *r, const struct sel *sel,
			    const struct sel_source *src, enum ln_enc enc)
{
	struct file f;
	char *rel = NULL;
	size_t a, b;
	int error;

	memset(&f, 0, sizeof f);
	error = norm_path(&rel, src, sel->path, true);
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
	add_cand(r, rel, a, b, a, 1, 1, 1, 1, sel_kind_name(sel->kind), NULL);
	decide(r, sel->text, "");
done:
	free(rel);
	return error;
}

/* ---- symbolic ---- */

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

/* The files a symbolic selector searches (new array of relative paths). */
static int symbolic_files(json_t **out, const struct sel *sel, const struct sel_source *src)
{
	json_t *files = NULL, *all = NULL, *f;
	size_t i;
	int error = 0;

	*out = json_array();
	if (sel->lang == SEL_LANG_TS || sel->lang == SEL_LANG_JS)
		return ln_error_set(LN_EUNSUPPORTED, "%s:// selectors need a TypeScript/JavaScript "
				    "tree-sitter grammar, which lanser does not bundle yet",
				    sel_lang_name(sel->lang));
	if (sel->path) {
		char *rel = NULL;
		error = norm_path(&rel, src, sel->path, false);
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
		bool want = sel->lang == SEL_LANG_PY ? (has_suffix(p, ".py") || has_suffix(p, ".pyi"))
						     : (has_suffix(p, ".c") || has_suffix(p, ".h"));
		if (want)
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

static int resolve_symbolic(struct sel_resolution *r, const struct sel *sel,
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
		struct file f;
		error = file_load(&f, src, json_string_value(fj), true);
		if (error == LN_EINPUT && !sel->path) { /* skip unreadable files in a search */
			file_release(&f);
			error = 0;
			ln_error_clear();
			continue;
		}
		if (error) {
			file_release(&f);
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
			add_cand(r, f.rel, a, b, point,
				 (double)m / (double)(chain > sel->nqual ? chain : sel->nqual) *
					 (s->definition ? 1.0 : 0.6),
				 1.0, qual_jaccard(sel, s->qual), 1.0, "symbol", label.data);
			buf_release(&label);
		}
		file_release(&f);
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
	if (!what.len) {
		if (missing_role && !r->n)
			buf_addf(&what, "%s: the symbol has no %s", sel->text, sel_role_name(sel->role));
		else
			buf_addf(&what, "%s: no such symbol", sel->text);
	}
	decide(r, sel->text, what.data);
done:
	buf_release(&what);
	json_decref(files);
	return error;
}

/* ---- AST paths ---- */

static bool text_eq(const char *text, TSNode n, const char *value)
{
	size_t a, b;

	if (ts_node_is_null(n))
		return false;
	a = ts_node_start_byte(n);
	b = ts_node_end_byte(n);
	return strlen(value) == b - a && !memcmp(text + a, value, b - a);
}

static bool preds_hold(TSNode n, const struct sel_step *st, const char *text)
{
	int i;

	for (i = 0; i < st->npreds; i++) {
		const struct sel_pred *p = &st->preds[i];
		TSNode v;
		if (!p->field)
			continue;
		v = ts_node_child_by_field_name(n, p->field, (uint32_t)strlen(p->field));
		if (ts_node_is_null(v) && !strcmp(p->field, "name"))
			v = sel_node_name(n);
		if (!text_eq(text, v, p->value))
			return false;
	}
	return true;
}

struct nodes {
	TSNode *v;
	size_t n;
};

static void nodes_add(struct nodes *ns, TSNode n)
{
	if (ns->n >= MAX_FRONTIER)
		return;
	ns->v = xrealloc(ns->v, (ns->n + 1) * sizeof *ns->v);
	ns->v[ns->n++] = n;
}

/* The nearest descendants of m of the step's type (docs/selectors.md):
 * not below another node of that type, nor below a node of m's type. */
static void step_matches(struct nodes *out, TSNode m, const char *mtype, const struct sel_step *st,
			 const char *text, int depth)
{
	uint32_t i, n = ts_node_named_child_count(m);

	if (depth > MAX_AST_DEPTH)
		return;
	for (i = 0; i < n; i++) {
		TSNode c = ts_node_named_child(m, i);
		const char *t = ts_node_type(c);
		if (!strcmp(t, st->type)) {
			if (preds_hold(c, st, text))
				nodes_add(out, c);
			continue;
		}
		if (mtype && !strcmp(t, mtype))
			continue;
		step_matches(out, c, mtype, st, text, depth + 1);
	}
}

static int resolve_ast(struct sel_resolution *r, const struct sel *sel, const struct sel_source *src)
{
	struct file f;
	struct nodes cur = { NULL, 0 }, next = { NULL, 0 };
	char *rel = NULL;
	size_t i, k;
	int s, error;

	memset(&f, 0, sizeof f);
	error = norm_path(&rel, src, sel->path, false);
	if (!error)
		error = file_load(&f, src, rel, true);
	if (error)
		goto done;
	nodes_add(&cur, sel_doc_root(f.doc));
	for (s = 0; s < sel->nsteps; s++) {
		const struct sel_step *st = &sel->steps[s];
		long index = 0;
		for (k = 0; k < (size_t)st->npreds; k++)
			if (!st->preds[k].field)
				index = st->preds[k].index;
		for (i = 0; i < cur.n; i++) {
			struct nodes here = { NULL, 0 };
			const char *mtype = s == 0 ? NULL : ts_node_type(cur.v[i]);
			step_matches(&here, cur.v[i], mtype, st, f.doc->text, 0);
			if (index) {
				if ((size_t)index <= here.n)
					nodes_add(&next, here.v[index - 1]);
			} else {
				for (k = 0; k < here.n; k++)
					nodes_add(&next, here.v[k]);
			}
			free(here.v);
		}
		free(cur.v);
		cur = next;
		next.v = NULL;
		next.n = 0;
	}
	for (i = 0; i < cur.n; i++) {
		TSNode n = cur.v[i], name = sel_node_name(n);
		size_t a = ts_node_start_byte(n), b = ts_node_end_byte(n);
		struct buf label = BUF_INIT;
		buf_adds(&label, ts_node_type(n));
		if (!ts_node_is_null(name))
			buf_addf(&label, " %.*s", (int)(ts_node_end_byte(name) - ts_node_start_byte(name)),
				 f.doc->text + ts_node_start_byte(name));
		add_cand(r, rel, a, b, ts_node_is_null(name) ? a : ts_node_start_byte(name), 1, 1, 1, 1,
			 "ast", label.data);
		buf_release(&label);
	}
	{
		struct buf what = BUF_INIT;
		buf_addf(&what, "%s: no node matches the path", sel->text);
		decide(r, sel->text, what.data);
		buf_release(&what);
	}
done:
	free(cur.v);
	free(rel);
	file_release(&f);
	return error;
}

/* ---- anchors ---- */

/* 1 when both ends of [a, b) (whitespace trimmed) fall on token
 * boundaries of the tree, 0.5 for one end, 0 for none; 1 without a tree. */
static double boundary_alignment(const struct sel_doc *doc, size_t a, size_t b)
{
	TSNode root, la, lb;
	double s = 0;

	if (!doc)
		return 1.0;
	while (a < b && strchr(" \t\r\n", doc->text[a]))
		a++;
	while (b > a && strchr(" \t\r\n", doc->text[b - 1]))
		b--;
	if (a >= b)
		return 0;
	root = sel_doc_root(doc);
	la = ts_node_descendant_for_byte_range(root, (uint32_t)a, (uint32_t)a + 1);
	lb = ts_node_descendant_for_byte_range(root, (uint32_t)b - 1, (uint32_t)b);
	if (ts_node_start_byte(la) == a)
		s += 0.5;
	if (ts_node_end_byte(lb) == b)
		s += 0.5;
	return s;
}

static double prox(int line, int origin_line, int nlines)
{
	double d = fabs((double)line - (double)origin_line) / (double)(nlines > 0 ? nlines : 1);
	return 1.0 - (d > 1 ? 1 : d);
}

struct window {
	size_t start, end;   /* narrowed to the matched fingerprints */
	double j;
	int line;
};

static int cmp_window(const void *a, const void *b)
{
	const struct window *x = a, *y = b;

	if (x->j != y->j)
		return x->j > y->j ? -1 : 1;
	return x->line - y->line;
}

static bool word_byte(char c)
{
	unsigned char u = (unsigned char)c;
	return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
	       u == '_' || u >= 0x80;
}

/* Widens the fingerprint span [*s, *e) of window [a, b) to whole tokens,
 * and to the window's non-blank edges when fewer than k non-space bytes
 * lie outside it (winnowing keeps one k-gram in w, so the first and last
 * few bytes of a match are never fingerprinted themselves). */
static void snap(const char *text, size_t a, size_t b, size_t *s, size_t *e)
{
	size_t i, ns = 0;

	for (i = a; i < *s; i++)
		if (!strchr(" \t\r\n", text[i]))
			ns++;
	if (ns < SEL_K)
		for (*s = a; *s < b && strchr(" \t\r\n", text[*s]); (*s)++)
			;
	for (ns = 0, i = *e; i < b; i++)
		if (!strchr(" \t\r\n", text[i]))
			ns++;
	if (ns < SEL_K)
		for (*e = b; *e > *s && strchr(" \t\r\n", text[*e - 1]); (*e)--)
			;
	while (*s > a && word_byte(text[*s - 1]) && word_byte(text[*s]))
		(*s)--;
	while (*e < b && *e > 0 && word_byte(text[*e - 1]) && word_byte(text[*e]))
		(*e)++;
}

/* Fuzzy windows of `m` lines whose fingerprints resemble `fp`; at most
 * `max` non-overlapping ones, best first. */
static size_t fuzzy_windows(struct window **out, const struct ln_text *t, const struct sel_fp *fp,
			    size_t nfp, int m, size_t max)
{
	struct window *all = NULL, *pick;
	size_t nall = 0, npick = 0, i, k;
	int line, nl = ln_text_line_count(t);

	*out = NULL;
	if (m < 1)
		m = 1;
	if ((unsigned long)nl * (unsigned long)m > FUZZY_BUDGET)
		return 0;
	for (line = 0; line + m <= nl; line++) {
		size_t a = t->line_starts[line], b, len, nw;
		struct sel_fp *w;
		double j;
		ln_text_line(t, line + m - 1, &len);
		b = t->line_starts[line + m - 1] + len;
		nw = sel_winnow(&w, t->data, a, b, SEL_K, SEL_W);
		j = sel_fp_jaccard(fp, nfp, w, nw);
		if (j >= SEL_FUZZY_MIN) {
			size_t s = b, e = a;
			for (k = 0; k < nw; k++)
				if (sel_fp_has(fp, nfp, w[k].hash)) {
					if (w[k].start < s)
						s = w[k].start;
					if (w[k].end > e)
						e = w[k].end;
				}
			if (s >= e) {
				s = a;
				e = b;
			}
			snap(t->data, a, b, &s, &e);
			all = xrealloc(all, (nall + 1) * sizeof *all);
			all[nall].start = s;
			all[nall].end = e;
			all[nall].j = j;
			all[nall].line = line;
			nall++;
		}
		free(w);
	}
	if (nall)
		qsort(all, nall, sizeof *all, cmp_window);
	pick = xmalloc((nall ? nall : 1) * sizeof *pick);
	for (i = 0; i < nall && npick < max; i++) {
		bool overlap = false;
		for (k = 0; k < npick; k++)
			if (all[i].start < pick[k].end && pick[k].start < all[i].end)
				overlap = true;
		if (!overlap)
			pick[npick++] = all[i];
	}
	free(all);
	*out = pick;
	return npick;
}

static int resolve_anchor(struct sel_resolution *r, const struct sel *sel, const struct sel_source *src)
{
	struct file f;
	char *rel = NULL;
	const char *p, *text;
	size_t len, i;
	int error, nl, lo = 0, hi, origin = -1, in_window = 0;
	struct buf what = BUF_INIT;

	memset(&f, 0, sizeof f);
	error = norm_path(&rel, src, sel->path, false);
	if (!error)
		error = file_load(&f, src, rel, false);
	if (error)
		goto done;
	text = f.t->data;
	len = f.t->len;
	nl = ln_text_line_count(f.t);
	hi = nl - 1;
	if (sel->anchor_line) {
		long ctx = sel->ctx >= 0 ? sel->ctx : SEL_ANCHOR_CTX;
		origin = (int)(sel->anchor_line - 1);
		lo = origin - ctx < 0 ? 0 : (int)(origin - ctx);
		hi = origin + ctx > nl - 1 ? nl - 1 : (int)(origin + ctx);
	}
	/* exact matches inside the window first */
	for (p = text; (p = memmem(p, len - (size_t)(p - text), sel->snippet, sel->snippet_len)); p++) {
		size_t a = (size_t)(p - text);
		int l = line_of(f.t, a);
		if (l >= lo && l <= hi) {
			add_cand(r, rel, a, a + sel->snippet_len, a,
				 boundary_alignment(f.doc, a, a + sel->snippet_len), 1, 1,
				 origin >= 0 ? prox(l, origin, nl) : 1, "exact", NULL);
			in_window++;
		}
		if ((size_t)(p - text) + sel->snippet_len >= len)
			break;
	}
	if (!in_window) {
		/* exact matches elsewhere, then fingerprints */
		struct sel_fp *fp;
		struct window *w;
		size_t nfp, nw;
		int m = 1;
		for (p = text; (p = memmem(p, len - (size_t)(p - text), sel->snippet,
					   sel->snippet_len)); p++) {
			size_t a = (size_t)(p - text);
			add_cand(r, rel, a, a + sel->snippet_len, a,
				 boundary_alignment(f.doc, a, a + sel->snippet_len), 1, 1,
				 origin >= 0 ? prox(line_of(f.t, a), origin, nl) : 1, "exact", NULL);
			if (a + sel->snippet_len >= len)
				break;
		}
		for (i = 0; i < sel->snippet_len; i++)
			if (sel->snippet[i] == '\n')
				m++;
		nfp = sel_winnow(&fp, sel->snippet, 0, sel->snippet_len, SEL_K, SEL_W);
		nw = fuzzy_windows(&w, f.t, fp, nfp, m, SEL_TOP_K * 2);
		for (i = 0; i < nw; i++) {
			size_t k;
			bool dup = false;
			for (k = 0; k < r->n; k++)
				if (r->v[k].start < w[i].end && w[i].start < r->v[k].end)
					dup = true;
			if (dup)
				continue;
			add_cand(r, rel, w[i].start, w[i].end, w[i].start,
				 boundary_alignment(f.doc, w[i].start, w[i].end) * w[i].j, 1,
				 sel_token_jaccard(sel->snippet, sel->snippet_len, text + w[i].start,
						   w[i].end - w[i].start),
				 origin >= 0 ? prox(w[i].line, origin, nl) : 1, "fuzzy", NULL);
		}
		free(fp);
		free(w);
	}
	buf_addf(&what, "%s: the snippet is not in %s (no exact match, no fingerprint match "
		 ">= %.1f)", sel->text, rel, SEL_FUZZY_MIN);
	decide(r, sel->text, what.data);
done:
	buf_release(&what);
	free(rel);
	file_release(&f);
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
		return resolve_position(r, sel, src, enc);
	case SEL_SYMBOLIC:
		return resolve_symbolic(r, sel, src);
	case SEL_AST:
		return resolve_ast(r, sel, src);
	case SEL_ANCHOR:
		return resolve_anchor(r, sel, src);
	}
	return ln_error_set(LN_ESELECTOR, "unknown selector kind");
}

/* ---- relocation ---- */

/* A place inside a unit, by token: the occurrence-th token with this text
 * (1-based), and the byte delta from that token's start. */
struct tokpos {
	const char *tok;
	size_t toklen;
	int occurrence;
	long delta;
	bool valid;
};

static struct tokpos token_position(const char *text, size_t ua, size_t ub, size_t off)
{
	struct sel_tok *t;
	size_t n = sel_tokenize(&t, text, ua, ub), i, j;
	struct tokpos tp = { NULL, 0, 0, 0, false };

	for (i = 0; i < n; i++)
		if (t[i].end > off || i == n - 1)
			break;
	if (i < n) {
		tp.tok = text + t[i].start;
		tp.toklen = t[i].end - t[i].start;
		tp.delta = (long)off - (long)t[i].start;
		for (j = 0; j <= i; j++)
			if (t[j].end - t[j].start == tp.toklen &&
			    !memcmp(text + t[j].start, tp.tok, tp.toklen))
				tp.occurrence++;
		tp.valid = true;
	}
	free(t);
	return tp;
}

static bool map_position(const struct tokpos *tp, const char *text, size_t ua, size_t ub,
			 size_t *out)
{
	struct sel_tok *t;
	size_t n, i;
	int seen = 0;
	bool ok = false;

	if (!tp->valid)
		return false;
	n = sel_tokenize(&t, text, ua, ub);
	for (i = 0; i < n; i++)
		if (t[i].end - t[i].start == tp->toklen && !memcmp(text + t[i].start, tp->tok, tp->toklen) &&
		    ++seen == tp->occurrence) {
			long v = (long)t[i].start + tp->delta;
			if (v < (long)ua)
				v = (long)ua;
			if (v > (long)ub)
				v = (long)ub;
			*out = (size_t)v;
			ok = true;
			break;
		}
	free(t);
	return ok;
}

static double chain_similarity(const struct sel_symbol *a, const struct sel_symbol *b)
{
	if (!a && !b)
		return 1.0;
	if (!a || !b || strcmp(a->kind, b->kind))
		return 0.0;
	if (!strcmp(a->qual, b->qual))
		return 1.0;
	return !strcmp(a->name, b->name) ? 0.5 : 0.0;
}

static void whole_lines(const struct ln_text *t, size_t a, size_t b, int extra, size_t *ua, size_t *ub)
{
	int la = line_of(t, a) - extra, lb = line_of(t, b) + extra, nl = ln_text_line_count(t);
	size_t len;

	if (la < 0)
		la = 0;
	if (lb > nl - 1)
		lb = nl - 1;
	*ua = t->line_starts[la];
	ln_text_line(t, lb, &len);
	*ub = t->line_starts[lb] + len;
}

static void copy_cand(struct sel_cand *dst, const struct sel_cand *src)
{
	*dst = *src;
	dst->path = xstrdup(src->path);
	dst->label = src->label ? xstrdup(src->label) : NULL;
}

int sel_relocate(struct sel_resolution *r, const struct sel *sel, const struct sel_source *old,
		 const struct sel_source *cur, enum ln_enc enc)
{
	struct sel_resolution o;
	struct file fo, fc;
	const struct sel_symbol *so = NULL;
	struct sel_cand *org;
	size_t ua, ub, i;
	struct tokpos ts, te, tpt;
	bool whole;
	int error;

	memset(&fo, 0, sizeof fo);
	memset(&fc, 0, sizeof fc);
	error = sel_resolve(&o, sel, old, enc);
	memset(r, 0, sizeof *r);
	r->method = "relocate";
	if (error || o.status) {
		/* Not unique in the snapshot: that is the answer. */
		r->status = o.status;
		r->v = o.v;
		r->n = o.n;
		if (o.message) {
			struct buf b = BUF_INIT;
			buf_addf(&b, "in the snapshot: %s", o.message);
			r->message = buf_detach(&b, NULL);
		}
		free(o.message);
		return error;
	}
	copy_cand(&r->origin, &o.v[0]);
	org = &r->origin;
	r->relocated = true;
	sel_resolution_release(&o);
	error = file_load(&fo, old, org->path, false);
	if (error)
		goto done;
	r->origin_text = fo.t;
	error = file_load(&fc, cur, org->path, false);
	if (error == LN_ENOTFOUND) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "%s no longer exists", org->path);
		r->status = LN_ENOTFOUND;
		r->message = buf_detach(&b, NULL);
		error = 0;
		goto done;
	}
	if (error)
		goto done;
	if (fo.t->len == fc.t->len && !memcmp(fo.t->data, fc.t->data, fc.t->len)) {
		add_cand(r, org->path, org->start, org->end, org->point, 1, 1, 1, 1, "snapshot",
			 org->label);
		decide(r, sel->text, "");
		goto done;
	}
	/* The unit: the innermost symbol around the target, else its lines. */
	so = fo.doc ? sel_outline_enclosing(&fo.ol, org->start, org->end) : NULL;
	if (so) {
		ua = so->start;
		ub = so->end;
	} else {
		whole_lines(fo.t, org->start, org->end, 2, &ua, &ub);
	}
	whole = org->start == ua && org->end == ub;
	ts = token_position(fo.t->data, ua, ub, org->start);
	te = token_position(fo.t->data, ua, ub, org->end > org->start ? org->end - 1 : org->start);
	te.delta += org->end > org->start ? 1 : 0;
	tpt = token_position(fo.t->data, ua, ub, org->point);
	{
		struct cu { size_t a, b; const struct sel_symbol *sym; const char *via; double j; } *units = NULL;
		size_t nunits = 0;
		int ol = line_of(fo.t, ua), nl = ln_text_line_count(fc.t);
		if (so && fc.doc)
			for (i = 0; i < fc.ol.n; i++)
				if (!strcmp(fc.ol.v[i].kind, so->kind) && !strcmp(fc.ol.v[i].qual, so->qual)) {
					units = xrealloc(units, (nunits + 1) * sizeof *units);
					units[nunits].a = fc.ol.v[i].start;
					units[nunits].b = fc.ol.v[i].end;
					units[nunits].sym = &fc.ol.v[i];
					units[nunits].via = "structural";
					nunits++;
				}
		if (!nunits) {
			struct sel_fp *fp;
			struct window *w;
			size_t nfp = sel_winnow(&fp, fo.t->data, ua, ub, SEL_K, SEL_W), nw, k;
			int m = line_of(fo.t, ub) - line_of(fo.t, ua) + 1;
			nw = fuzzy_windows(&w, fc.t, fp, nfp, m, SEL_TOP_K * 2);
			for (k = 0; k < nw; k++) {
				size_t wa, wb;
				whole_lines(fc.t, w[k].start, w[k].end, 0, &wa, &wb);
				units = xrealloc(units, (nunits + 1) * sizeof *units);
				units[nunits].a = wa;
				units[nunits].b = wb;
				units[nunits].sym = fc.doc ? sel_outline_enclosing(&fc.ol, w[k].start, w[k].end) : NULL;
				/* a symbol that is the unit itself counts, not one that merely contains it */
				units[nunits].via = "fuzzy";
				nunits++;
			}
			free(fp);
			free(w);
		}
		for (i = 0; i < nunits; i++) {
			size_t a, b, pt;
			double s_ast;
			if (whole) {
				a = units[i].a;
				b = units[i].b;
				pt = a;
				if (!map_position(&tpt, fc.t->data, a, b, &pt))
					pt = a;
			} else {
				if (!map_position(&ts, fc.t->data, units[i].a, units[i].b, &a))
					continue;
				if (org->end == org->start)
					b = a;
				else if (!map_position(&te, fc.t->data, units[i].a, units[i].b, &b) || b < a)
					continue;
				if (org->point == org->start)
					pt = a;
				else if (!map_position(&tpt, fc.t->data, units[i].a, units[i].b, &pt))
					pt = a;
			}
			s_ast = !strcmp(units[i].via, "structural") ? 1.0
								     : chain_similarity(so, units[i].sym);
			add_cand(r, org->path, a, b, pt, s_ast, 1.0,
				 sel_token_jaccard(fo.t->data + ua, ub - ua, fc.t->data + units[i].a,
						   units[i].b - units[i].a),
				 prox(line_of(fc.t, units[i].a), ol, nl), units[i].via, org->label);
		}
		free(units);
	}
	{
		struct buf what = BUF_INIT;
		buf_addf(&what, "%s: the place it named in the snapshot is gone (no definition with "
			 "the same name and kind, no similar text)", sel->text);
		decide(r, sel->text, what.data);
		buf_release(&what);
	}
done:
	/* fo's text stays borrowed from the source; only our parse goes */
	file_release(&fo);
	file_release(&fc);
	return error;
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
	return json_pack("[I,I,I,I]", (json_int_t)sl, (json_int_t)sc, (json_int_t)el, (json_int_t)ec);
}

static json_t *cand_json(const struct sel_cand *c, const struct ln_text *t, enum ln_enc enc)
{
	json_t *j = json_pack("{s:s, s:o, s:f, s:{s:f, s:f, s:f, s:f}, s:s}",
		"path", c->path, "range", range_json(t, c->start, c->end, enc),
		"score", round6(c->score), "features",
		"s_ast", round6(c->s_ast), "s_module", round6(c->s_module),
		"J_token", round6(c->j_token), "s_prox", round6(c->s_prox), "via", c->via);
	long l, col;

	if (c->label)
		json_object_set_new(j, "label", json_string(c->label));
	if (t && !sel_offset_to_pos(t, c->point, enc, &l, &col))
		json_object_set_new(j, "point", json_pack("[I,I]", (json_int_t)l, (json_int_t)col));
	return j;
}

json_t *sel_resolution_json(const struct sel_resolution *r, const struct sel_source *src,
			    enum ln_enc enc)
{
	json_t *j = json_pack("{s:s, s:s, s:f, s:f, s:i, s:{s:f, s:f, s:f, s:f}}",
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
