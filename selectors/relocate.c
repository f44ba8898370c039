/*
 * relocate.c - relocation (paper Algorithm 1): the target resolved in the
 * snapshot, then found again in the current files by structure or by
 * fuzzy windows, token positions mapped into the new unit (resolve.h,
 * docs/selectors.md).
 */
#include "selectors/resolve.h"
#include "selectors/resolve_impl.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "selectors/match.h"
#include "selectors/outline.h"

#include <stdlib.h>
#include <string.h>

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
	int la = sel_line_of(t, a) - extra, lb = sel_line_of(t, b) + extra, nl = ln_text_line_count(t);
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

/* A place in the current file the target's unit may have moved to. */
struct unit {
	size_t a, b;
	const struct sel_symbol *sym;
	const char *via;
};

/* The places of the unit [ua, ub) of the old file in the current one:
 * symbols of the same kind and qualified name, else fuzzy windows. */
static size_t find_units(struct unit **out, const struct sel_file *fo, const struct sel_file *fc,
			 const struct sel_symbol *so, size_t ua, size_t ub)
{
	struct unit *units = NULL;
	size_t nunits = 0, i;

	if (so && fc->doc)
		for (i = 0; i < fc->ol.n; i++)
			if (!strcmp(fc->ol.v[i].kind, so->kind) && !strcmp(fc->ol.v[i].qual, so->qual)) {
				units = xrealloc(units, (nunits + 1) * sizeof *units);
				units[nunits].a = fc->ol.v[i].start;
				units[nunits].b = fc->ol.v[i].end;
				units[nunits].sym = &fc->ol.v[i];
				units[nunits].via = "structural";
				nunits++;
			}
	if (!nunits) {
		struct sel_fp *fp;
		struct sel_window *w;
		size_t nfp = sel_winnow(&fp, fo->t->data, ua, ub, SEL_K, SEL_W), nw, k;
		int m = sel_line_of(fo->t, ub) - sel_line_of(fo->t, ua) + 1;
		nw = sel_fuzzy_windows(&w, fc->t, fp, nfp, m, SEL_TOP_K * 2);
		for (k = 0; k < nw; k++) {
			size_t wa, wb;
			whole_lines(fc->t, w[k].start, w[k].end, 0, &wa, &wb);
			units = xrealloc(units, (nunits + 1) * sizeof *units);
			units[nunits].a = wa;
			units[nunits].b = wb;
			units[nunits].sym = fc->doc ? sel_outline_enclosing(&fc->ol, w[k].start, w[k].end)
						    : NULL;
			/* a symbol that is the unit itself counts, not one that merely contains it */
			units[nunits].via = "fuzzy";
			nunits++;
		}
		free(fp);
		free(w);
	}
	*out = units;
	return nunits;
}

/* Maps the target's token positions into every unit and adds the
 * candidates with their features. */
static void score_units(struct sel_resolution *r, const struct sel_cand *org,
			const struct sel_file *fo, const struct sel_file *fc,
			const struct sel_symbol *so, size_t ua, size_t ub,
			const struct unit *units, size_t nunits)
{
	bool whole = org->start == ua && org->end == ub;
	int ol = sel_line_of(fo->t, ua), nl = ln_text_line_count(fc->t);
	struct tokpos ts, te, tpt;
	size_t i;

	ts = token_position(fo->t->data, ua, ub, org->start);
	te = token_position(fo->t->data, ua, ub, org->end > org->start ? org->end - 1 : org->start);
	te.delta += org->end > org->start ? 1 : 0;
	tpt = token_position(fo->t->data, ua, ub, org->point);
	for (i = 0; i < nunits; i++) {
		size_t a, b, pt;
		double s_ast;
		if (whole) {
			a = units[i].a;
			b = units[i].b;
			pt = a;
			if (!map_position(&tpt, fc->t->data, a, b, &pt))
				pt = a;
		} else {
			if (!map_position(&ts, fc->t->data, units[i].a, units[i].b, &a))
				continue;
			if (org->end == org->start)
				b = a;
			else if (!map_position(&te, fc->t->data, units[i].a, units[i].b, &b) || b < a)
				continue;
			if (org->point == org->start)
				pt = a;
			else if (!map_position(&tpt, fc->t->data, units[i].a, units[i].b, &pt))
				pt = a;
		}
		s_ast = !strcmp(units[i].via, "structural") ? 1.0 : chain_similarity(so, units[i].sym);
		sel_add_cand(r, org->path, a, b, pt, s_ast, 1.0,
			     sel_token_jaccard(fo->t->data + ua, ub - ua, fc->t->data + units[i].a,
					       units[i].b - units[i].a),
			     sel_prox(sel_line_of(fc->t, units[i].a), ol, nl), units[i].via,
			     org->label);
	}
}

int sel_relocate(struct sel_resolution *r, const struct sel *sel, const struct sel_source *old,
		 const struct sel_source *cur, enum ln_enc enc)
{
	struct sel_resolution o;
	struct sel_file fo, fc;
	const struct sel_symbol *so = NULL;
	struct sel_cand *org;
	struct unit *units;
	size_t ua, ub, nunits;
	struct buf what = BUF_INIT;
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
	error = sel_file_load(&fo, old, org->path, false);
	if (error)
		goto done;
	r->origin_text = fo.t;
	error = sel_file_load(&fc, cur, org->path, false);
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
		sel_add_cand(r, org->path, org->start, org->end, org->point, 1, 1, 1, 1, "snapshot",
			     org->label);
		sel_decide(r, sel->text, "");
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
	nunits = find_units(&units, &fo, &fc, so, ua, ub);
	score_units(r, org, &fo, &fc, so, ua, ub, units, nunits);
	free(units);
	buf_addf(&what, "%s: the place it named in the snapshot is gone (no definition with "
		 "the same name and kind, no similar text)", sel->text);
	sel_decide(r, sel->text, what.data);
	buf_release(&what);
done:
	/* fo's text stays borrowed from the source; only our parse goes */
	sel_file_release(&fo);
	sel_file_release(&fc);
	return error;
}
