/*
 * editsel.c - `lanser edit <selector> --text STR | --with FILE|-`
 * (docs/commands.md, docs/edits.md): replaces the text a selector resolves
 * to (a function's body, a range, an anchor) with new text. The selector
 * is resolved on today's files, as `locate` resolves it, so an edit
 * written against an older view of the file still lands on the right
 * lines; an ambiguous or unresolved selector changes nothing.
 *
 * The change becomes one whole-file edit set (sandbox/edit.h) and takes
 * the path of every edit command (agent/editflow.h): a diff preview by
 * default, --apply through the jail and one transaction, --verify
 * diagnostics rolling back an edit that brings new errors, the dirty-tree
 * rule, --commit.
 */
#include "agent/cli.h"
#include "agent/cmdctx.h"
#include "agent/editflow.h"
#include "agent/selrange.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "sandbox/edit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The new text: at most this many bytes (a function body, not a file;
 * `patch` takes whole files). */
#define EDIT_MAX_TEXT ((size_t)1 << 20)

static int new_text(struct buf *b, struct cli *c)
{
	struct ln_text t;
	int error;

	if (!!c->edit_text == !!c->edit_with)
		return ln_error_set(LN_EUSAGE, "edit takes the new text with --text STR or --with "
				    "FILE (one of them)");
	if (c->edit_text) {
		if (strlen(c->edit_text) > EDIT_MAX_TEXT)
			return ln_error_set(LN_EINPUT, "the new text is larger than %zu bytes",
					    EDIT_MAX_TEXT);
		buf_adds(b, c->edit_text);
	} else if ((error = editflow_read_input(b, c, c->edit_with, EDIT_MAX_TEXT, "the new text"))) {
		return error;
	}
	/* the file stays text: no NUL, valid UTF-8 */
	memset(&t, 0, sizeof t);
	error = ln_text_init(&t, b->data, b->len);
	ln_text_release(&t);
	if (error)
		return ln_error_set(LN_EINPUT, "the new text is not UTF-8 text: %s", ln_error_msg());
	return 0;
}

/*
 * Whole lines for a range that starts after its line's indentation (a
 * Python block, a brace on a line of its own) or ends at the end of its
 * line. `read` shows a selector's whole lines, and a model sends back what
 * it read: new text that begins with the very indentation before the range
 * replaces from the line's start (else the first line is indented twice),
 * and new text that ends with a newline replaces through the line's end
 * (else a blank line is added). Anything else is taken as it is.
 */
static void whole_lines(size_t *start, size_t *end, const char *d, size_t len, const struct buf *repl)
{
	size_t ls = *start, e = *end, i;

	while (ls > 0 && (d[ls - 1] == ' ' || d[ls - 1] == '\t'))
		ls--;
	/* only blanks before the range on its line, and the text begins with them */
	if (ls < *start && (ls == 0 || d[ls - 1] == '\n') && *start - ls <= repl->len) {
		for (i = 0; i < *start - ls && repl->data[i] == d[ls + i]; i++)
			;
		if (i == *start - ls)
			*start = ls;
	}
	if (repl->len && repl->data[repl->len - 1] == '\n') {
		while (e < len && (d[e] == ' ' || d[e] == '\t'))
			e++;
		if (e < len && d[e] == '\n')
			*end = e + 1;
	}
}

int cmd_edit(struct cli *c)
{
	struct cmdctx x;
	struct selrange r;
	struct sbx_edits e;
	struct buf repl = BUF_INIT, file = BUF_INIT;
	int error;

	memset(&r, 0, sizeof r);
	if (c->argc != 1) {
		fprintf(c->err, "usage: lanser edit <selector> (--text STR | --with FILE) [--apply] "
				"[--allow-dirty] [--commit MSG] [--verify diagnostics]\n");
		return ln_error_set(LN_EUSAGE, "edit takes one selector");
	}
	sbx_edits_init(&e);
	error = editflow_begin(&x, c, "edit", false);
	if (!error)
		error = new_text(&repl, c);
	if (!error && !selrange_is_selector(c->argv[0]))
		error = ln_error_set(LN_ESELECTOR, "edit takes a selector (a function body "
				     "c://src/a.c#f:body, a range src/a.c@R(3,1->5,1), an anchor), "
				     "not a file name: '%s' (whole files are `patch`)",
				     ln_printable(c->argv[0]));
	if (!error)
		error = selrange_resolve(&r, &x, c->argv[0]);
	if (!error)
		whole_lines(&r.start, &r.end, r.text->data, r.text->len, &repl);
	if (!error) {
		buf_add(&file, r.text->data, r.start);
		if (!r.text->latin1)
			buf_add(&file, repl.data, repl.len);
		else if (ln_utf8_to_latin1(&file, repl.data, repl.len))
			/* the file stays Latin-1 (docs/bundle.md) */
			error = ln_error_set(LN_EINPUT, "%s is Latin-1 (not UTF-8) and cannot hold "
					     "the new text: %s", ln_printable(r.rel), ln_error_msg());
	}
	if (!error) {
		buf_add(&file, r.text->data + r.end, r.text->len - r.end);
		error = sbx_edits_replace_file(&e, c->root, r.rel, file.data, file.len);
	}
	/* the file on disk must be the one the selector was resolved in */
	if (!error && e.n == 1 && (e.v[0].old.len != r.text->len ||
				   memcmp(e.v[0].old.data, r.text->data, r.text->len)))
		error = ln_error_set(LN_EMODIFIED, "%s changed while the edit was prepared; run it "
				     "again", ln_printable(r.rel));
	if (!error)
		error = editflow_preview_or_apply(&x, &e, "lanser");
	buf_release(&repl);
	buf_release(&file);
	selrange_release(&r);
	error = cmdctx_end(&x, error, editflow_print_result);
	sbx_edits_release(&e);
	return error;
}
