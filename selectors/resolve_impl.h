/*
 * resolve_impl.h - internal to selector resolution (selectors/resolve.c,
 * resolve_symbolic.c, resolve_ast.c, resolve_anchor.c, relocate.c): the
 * loaded file, candidates, the decision, and the fuzzy windows that
 * anchors and relocation share. Callers outside use resolve.h.
 */
#ifndef LANSER_SEL_RESOLVE_IMPL_H
#define LANSER_SEL_RESOLVE_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/text.h"
#include "selectors/match.h"
#include "selectors/outline.h"
#include "selectors/resolve.h"
#include "selectors/source.h"
#include "selectors/tree.h"

/* One file loaded for resolution. */
struct sel_file {
	char *rel;
	const struct ln_text *t;   /* borrowed from the source */
	struct sel_doc *doc;       /* NULL when no grammar */
	struct sel_outline ol;
};

/* A fuzzy window of the current text (sel_fuzzy_windows). */
struct sel_window {
	size_t start, end;   /* narrowed to the matched fingerprints */
	double j;
	int line;
};

/* Frees what sel_file_load() loaded (the text stays the source's). */
void sel_file_release(struct sel_file *f);

/* Makes `path` workspace-relative: cursor/range paths against cwd, the
 * :// forms against the root. */
int sel_norm_path(char **rel, const struct sel_source *src, const char *path, bool shell);

/* Loads a file (already relative); `need_tree`: fail without a grammar. */
int sel_file_load(struct sel_file *f, const struct sel_source *src, const char *rel,
		  bool need_tree);

/* Adds a candidate [start, end) with its point and its four features
 * (docs/selectors.md); `via` names the method, `label` the fact. */
void sel_add_cand(struct sel_resolution *r, const char *path, size_t start, size_t end,
		  size_t point, double s_ast, double s_module, double j_token, double s_prox,
		  const char *via, const char *label);

/* Scores, orders and decides. `sel_text` names the selector in the
 * ambiguity message; `notfound` is the whole message when nothing matched. */
void sel_decide(struct sel_resolution *r, const char *sel_text, const char *notfound);

/* The 0-based line of byte offset `off`. */
int sel_line_of(const struct ln_text *t, size_t off);

/* s_prox: closeness of `line` to `origin_line` in a file of `nlines`. */
double sel_prox(int line, int origin_line, int nlines);

/* Fuzzy windows of `m` lines whose fingerprints resemble `fp`; at most
 * `max` non-overlapping ones, best first. */
size_t sel_fuzzy_windows(struct sel_window **out, const struct ln_text *t,
			 const struct sel_fp *fp, size_t nfp, int m, size_t max);

/* The methods of sel_resolve() (resolve.h) for one kind of selector. */
int sel_resolve_symbolic(struct sel_resolution *r, const struct sel *sel,
			 const struct sel_source *src);
int sel_resolve_ast(struct sel_resolution *r, const struct sel *sel,
		    const struct sel_source *src);
int sel_resolve_anchor(struct sel_resolution *r, const struct sel *sel,
		       const struct sel_source *src);

#endif
