/*
 * resolve_anchor.c - content anchors: exact matches, else winnowed k-gram
 * fuzzy windows scored by the relocation formula (resolve_impl.h,
 * docs/selectors.md).
 */
#include "selectors/resolve.h"
#include "selectors/resolve_impl.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "selectors/match.h"
#include "selectors/tree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FUZZY_BUDGET 4000000UL  /* window-lines examined per fuzzy search */

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

double sel_prox(int line, int origin_line, int nlines)
{
	double d = fabs((double)line - (double)origin_line) / (double)(nlines > 0 ? nlines : 1);
	return 1.0 - (d > 1 ? 1 : d);
}

static int cmp_window(const void *a, const void *b)
{
	const struct sel_window *x = a, *y = b;

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
size_t sel_fuzzy_windows(struct sel_window **out, const struct ln_text *t, const struct sel_fp *fp,
			 size_t nfp, int m, size_t max)
{
	struct sel_window *all = NULL, *pick;
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

int sel_resolve_anchor(struct sel_resolution *r, const struct sel *sel,
		       const struct sel_source *src)
{
	struct sel_file f;
	char *rel = NULL;
	const char *p, *text;
	size_t len, i;
	int error, nl, lo = 0, hi, origin = -1, in_window = 0;
	struct buf what = BUF_INIT;

	memset(&f, 0, sizeof f);
	error = sel_norm_path(&rel, src, sel->path, false);
	if (!error)
		error = sel_file_load(&f, src, rel, false);
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
		int l = sel_line_of(f.t, a);
		if (l >= lo && l <= hi) {
			sel_add_cand(r, rel, a, a + sel->snippet_len, a,
				 boundary_alignment(f.doc, a, a + sel->snippet_len), 1, 1,
				 origin >= 0 ? sel_prox(l, origin, nl) : 1, "exact", NULL);
			in_window++;
		}
		if ((size_t)(p - text) + sel->snippet_len >= len)
			break;
	}
	if (!in_window) {
		/* exact matches elsewhere, then fingerprints */
		struct sel_fp *fp;
		struct sel_window *w;
		size_t nfp, nw;
		int m = 1;
		for (p = text; (p = memmem(p, len - (size_t)(p - text), sel->snippet,
					   sel->snippet_len)); p++) {
			size_t a = (size_t)(p - text);
			sel_add_cand(r, rel, a, a + sel->snippet_len, a,
				 boundary_alignment(f.doc, a, a + sel->snippet_len), 1, 1,
				 origin >= 0 ? sel_prox(sel_line_of(f.t, a), origin, nl) : 1, "exact", NULL);
			if (a + sel->snippet_len >= len)
				break;
		}
		for (i = 0; i < sel->snippet_len; i++)
			if (sel->snippet[i] == '\n')
				m++;
		nfp = sel_winnow(&fp, sel->snippet, 0, sel->snippet_len, SEL_K, SEL_W);
		nw = sel_fuzzy_windows(&w, f.t, fp, nfp, m, SEL_TOP_K * 2);
		for (i = 0; i < nw; i++) {
			size_t k;
			bool dup = false;
			for (k = 0; k < r->n; k++)
				if (r->v[k].start < w[i].end && w[i].start < r->v[k].end)
					dup = true;
			if (dup)
				continue;
			sel_add_cand(r, rel, w[i].start, w[i].end, w[i].start,
				 boundary_alignment(f.doc, w[i].start, w[i].end) * w[i].j, 1,
				 sel_token_jaccard(sel->snippet, sel->snippet_len, text + w[i].start,
						   w[i].end - w[i].start),
				 origin >= 0 ? sel_prox(w[i].line, origin, nl) : 1, "fuzzy", NULL);
		}
		free(fp);
		free(w);
	}
	buf_addf(&what, "%s: the snippet is not in %s (no exact match, no fingerprint match "
		 ">= %.1f)", sel->text, rel, SEL_FUZZY_MIN);
	sel_decide(r, sel->text, what.data);
done:
	buf_release(&what);
	free(rel);
	sel_file_release(&f);
	return error;
}
