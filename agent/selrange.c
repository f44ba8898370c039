/*
 * selrange.c - the text a selector or a file name stands for (selrange.h).
 */
#include "agent/selrange.h"
#include "agent/cmdctx.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/path.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "sandbox/jail.h"
#include "selectors/source.h"

#include <stdlib.h>
#include <string.h>

bool selrange_is_selector(const char *arg)
{
	struct sel s;
	bool ok;

	ok = sel_parse(&s, arg, strlen(arg), NULL) == 0;
	sel_release(&s);
	ln_error_clear();
	return ok;
}

int selrange_line_of(const struct ln_text *t, size_t off)
{
	int lo = 0, hi = t->nlines - 1;

	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;
		if (t->line_starts[mid] <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

size_t selrange_line_end(const struct ln_text *t, int line0)
{
	size_t end = line0 + 1 < t->nlines ? t->line_starts[line0 + 1] : t->len;

	if (end > t->line_starts[line0] && t->data[end - 1] == '\n')
		end--;
	if (end > t->line_starts[line0] && t->data[end - 1] == '\r')
		end--;
	return end;
}

/* No file inside .git, none the path jail refuses lexically. */
static int check_rel(const char *rel)
{
	if (sbx_jail_check_lexical(rel))
		return ln_error_set(LN_EPERM, "%s", ln_error_msg());
	return 0;
}

static int ambiguous(struct selrange *r)
{
	struct buf b = BUF_INIT;
	size_t i;
	int code = r->res.status;

	buf_adds(&b, r->res.message ? r->res.message : (code == LN_EAMBIGUOUS ? "ambiguous" :
							  "not found"));
	for (i = 0; i < r->res.n && i < 3; i++) {
		const struct sel_cand *k = &r->res.v[i];
		const struct ln_text *t = NULL;
		long line = 0, col = 0;
		if (sel_files_source(r->files)->text(sel_files_source(r->files)->ctx, k->path, &t) == 0)
			sel_offset_to_pos(t, k->start, LN_ENC_UTF8, &line, &col);
		buf_addf(&b, "%s %s:%ld (score %.2f%s%s)", i ? ";" : "; candidates:",
			 ln_printable(k->path), line, k->score, k->label ? ", " : "",
			 k->label ? ln_printable(k->label) : "");
	}
	ln_error_clear();
	code = ln_error_set(code, "%s", b.data);
	buf_release(&b);
	return code;
}

int selrange_resolve(struct selrange *r, struct cmdctx *x, const char *arg)
{
	struct cli *c = x->c;
	const struct sel_source *src;
	json_t *req = cmdctx_request(x);
	int error;

	memset(r, 0, sizeof *r);
	error = sel_files_new_fs(&r->files, c->root, c->cwd);
	if (error)
		return error;
	src = sel_files_source(r->files);
	r->is_selector = selrange_is_selector(arg);
	if (!r->is_selector) {
		char *lex = NULL;
		ln_path_lexical_rel(&lex, c->root, c->cwd, arg);
		error = cmdctx_target_path(x, lex ? lex : arg);
		free(lex);
		if (!error)
			error = ln_path_resolve_in_root(&r->rel_owned, NULL, c->root, c->cwd, arg);
		if (error)
			return error;
		r->rel = r->rel_owned;
		if ((error = check_rel(r->rel)))
			return error;
		if ((error = src->text(src->ctx, r->rel, &r->text)))
			return error;
		cmdctx_note_bytes(x, r->rel, r->text->data, r->text->len);
		r->start = 0;
		r->end = r->text->len;
		return 0;
	}
	error = sel_parse(&r->sel, arg, strlen(arg), NULL);
	if (error)
		return error;
	json_object_set_new(req, "target", sel_to_json(&r->sel));
	error = sel_resolve(&r->res, &r->sel, src, c->index_io);
	if (error)
		return error;
	json_object_set_new(x->bundle, "resolution",
			    sel_resolution_json(&r->res, src, c->index_io));
	if (r->res.status)
		return ambiguous(r);
	r->rel = r->res.v[0].path;
	if ((error = check_rel(r->rel)))
		return error;
	if ((error = src->text(src->ctx, r->rel, &r->text)))
		return error;
	cmdctx_note_bytes(x, r->rel, r->text->data, r->text->len);
	r->start = r->res.v[0].start;
	r->end = r->res.v[0].end;
	if (r->start > r->end || r->end > r->text->len)
		return ln_error_set(LN_EGENERIC, "the selector resolved outside its file");
	return 0;
}

void selrange_release(struct selrange *r)
{
	sel_resolution_release(&r->res);
	sel_release(&r->sel);
	sel_files_free(r->files);
	free(r->rel_owned);
	memset(r, 0, sizeof *r);
}
