/*
 * resolve_ast.c - AST-path selectors: steps with node types and predicates
 * matched over the tree-sitter tree (resolve_impl.h, docs/selectors.md).
 */
#include "selectors/resolve.h"
#include "selectors/resolve_impl.h"
#include "core/buf.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "selectors/tree.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FRONTIER 10000
#define MAX_AST_DEPTH 512

/* ---- AST paths ---- */

/* The node's text as selectors and bundles hold it: UTF-8 (a Latin-1
 * document's bytes converted, docs/bundle.md) appended to `out`. */
static void node_text(struct buf *out, const struct sel_doc *doc, TSNode n)
{
	size_t a = ts_node_start_byte(n), b = ts_node_end_byte(n);

	if (doc->latin1)
		ln_latin1_to_utf8(out, doc->text + a, b - a);
	else
		buf_add(out, doc->text + a, b - a);
}

static bool text_eq(const struct sel_doc *doc, TSNode n, const char *value)
{
	struct buf t = BUF_INIT;
	bool eq;

	if (ts_node_is_null(n))
		return false;
	node_text(&t, doc, n);
	eq = strlen(value) == t.len && !memcmp(t.data, value, t.len);
	buf_release(&t);
	return eq;
}

static bool preds_hold(TSNode n, const struct sel_step *st, const struct sel_doc *doc)
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
		if (!text_eq(doc, v, p->value))
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
			 const struct sel_doc *doc, int depth)
{
	uint32_t i, n = ts_node_named_child_count(m);

	if (depth > MAX_AST_DEPTH)
		return;
	for (i = 0; i < n; i++) {
		TSNode c = ts_node_named_child(m, i);
		const char *t = ts_node_type(c);
		if (!strcmp(t, st->type)) {
			if (preds_hold(c, st, doc))
				nodes_add(out, c);
			continue;
		}
		if (mtype && !strcmp(t, mtype))
			continue;
		step_matches(out, c, mtype, st, doc, depth + 1);
	}
}

int sel_resolve_ast(struct sel_resolution *r, const struct sel *sel,
		    const struct sel_source *src)
{
	struct sel_file f;
	struct nodes cur = { NULL, 0 }, next = { NULL, 0 };
	char *rel = NULL;
	size_t i, k;
	int s, error;

	memset(&f, 0, sizeof f);
	error = sel_norm_path(&rel, src, sel->path, false);
	if (!error)
		error = sel_file_load(&f, src, rel, true);
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
			step_matches(&here, cur.v[i], mtype, st, f.doc, 0);
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
		if (!ts_node_is_null(name)) {
			buf_addch(&label, ' ');
			node_text(&label, f.doc, name);
		}
		sel_add_cand(r, rel, a, b, ts_node_is_null(name) ? a : ts_node_start_byte(name), 1, 1, 1, 1,
			 "ast", label.data);
		buf_release(&label);
	}
	{
		struct buf what = BUF_INIT;
		buf_addf(&what, "%s: no node matches the path", sel->text);
		sel_decide(r, sel->text, what.data);
		buf_release(&what);
	}
done:
	free(cur.v);
	free(rel);
	sel_file_release(&f);
	return error;
}
