/*
 * resolve.h - resolving a parsed selector to places in the workspace, with
 * a score, its features and a decision (docs/selectors.md, "Scores,
 * confidence and ambiguity").
 *
 *   score = 0.5*s_ast + 0.2*s_module + 0.2*J_token + 0.1*s_prox
 *
 * Candidates are ordered by score (descending), then path, then range
 * (start, end): a total, deterministic order. The decision:
 *   no candidate                                   -> LN_ENOTFOUND
 *   top score < SEL_TAU, or top - second < SEL_MARGIN -> LN_EAMBIGUOUS
 *   otherwise                                      -> 0 (the top candidate)
 *
 * Relocation (sel_relocate): the selector is resolved in a snapshot (an
 * older version of the files, e.g. a git revision) and the place found
 * there is carried to today's file: identical content maps exactly;
 * otherwise the enclosing definition is found again by its structural
 * chain (kinds and names of enclosing symbols), else by winnowed k-gram
 * fingerprints of its text, and the target is mapped inside it by token
 * occurrence.
 *
 * Thread-safety: a resolution uses only its arguments and the tree cache
 * (tree.h), which is thread-safe.
 */
#ifndef LANSER_SEL_RESOLVE_H
#define LANSER_SEL_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "selectors/selector.h"
#include "core/text.h"

#define SEL_W_AST 0.5
#define SEL_W_MODULE 0.2
#define SEL_W_TOKEN 0.2
#define SEL_W_PROX 0.1
#define SEL_TAU 0.7           /* the lowest confident top score */
#define SEL_MARGIN 0.1        /* a second candidate closer than this is a tie */
#define SEL_TOP_K 5           /* alternatives reported */
#define SEL_FUZZY_MIN 0.5     /* fingerprint Jaccard below which a window is no candidate */
#define SEL_ANCHOR_CTX 24     /* default ?ctx= when ?line= is given */
#define SEL_MAX_FILES 2000    /* files searched by a selector without a file */

/*
 * Where the resolver reads files. `text` returns a borrowed document for a
 * workspace-relative path, valid until the resolution is released, or an
 * LN_E* code (LN_ENOTFOUND for a missing file). `files` lists the
 * workspace's files (relative, sorted) as a new JSON array; it is only
 * needed for selectors that name no file.
 * Paths in selectors are made workspace-relative first: cursor and range
 * paths against `cwd` (as a shell would), the :// forms against `root`;
 * both must stay inside root (LN_EPERM). With `lexical` set the file need
 * not exist on disk (a snapshot).
 */
struct sel_source {
	int (*text)(void *ctx, const char *rel, const struct ln_text **out);
	int (*files)(void *ctx, json_t **out);
	void *ctx;
	const char *root, *cwd;
	bool lexical;
};

struct sel_cand {
	char *path;
	size_t start, end;        /* absolute byte offsets in the document */
	size_t point;             /* where position-taking commands point */
	double s_ast, s_module, j_token, s_prox, score;
	const char *via;          /* "cursor", "range", "symbol", "ast", "exact",
				     "fuzzy", "snapshot", "structural" (static) */
	char *label;              /* e.g. "function list_push" (may be NULL) */
};

struct sel_resolution {
	int status;               /* 0, LN_EAMBIGUOUS or LN_ENOTFOUND */
	const char *method;       /* the selector kind, or "relocate" */
	struct sel_cand *v;       /* sorted; v[0] is the answer when status == 0 */
	size_t n;
	/* relocation only */
	bool relocated;
	struct sel_cand origin;   /* the place in the snapshot (offsets in the old text) */
	const struct ln_text *origin_text;  /* borrowed from the snapshot source */
	char *message;            /* why not found / ambiguous, or NULL */
};

/*
 * Resolves `sel` in the files of `src`. Returns 0 with *out filled (its
 * status says resolved / ambiguous / not found), or a negative LN_E* code
 * for a failure that is not a resolution outcome: LN_ESELECTOR (a line or
 * column outside the file), LN_EPERM (path outside the workspace),
 * LN_ENOTFOUND (the file does not exist), LN_EINPUT, LN_EUNSUPPORTED
 * (no grammar for the language). *out must be released in every case.
 * Columns of cursor and range selectors are in `enc` units.
 */
int sel_resolve(struct sel_resolution *out, const struct sel *sel, const struct sel_source *src,
		enum ln_enc enc);

/* Resolves `sel` in `old` (a snapshot) and relocates the result into
 * `cur`. Same returns as sel_resolve; an origin that is not unique in the
 * snapshot is reported as the snapshot's ambiguity / not-found. */
int sel_relocate(struct sel_resolution *out, const struct sel *sel, const struct sel_source *old,
		 const struct sel_source *cur, enum ln_enc enc);

void sel_resolution_release(struct sel_resolution *r);

/*
 * The "resolution" object of a bundle (new reference): method, status,
 * path, range and point of the answer (when resolved), confidence, the
 * weights, tau, margin, topK, the top-k candidates with their features, and
 * for relocation the origin. Ranges are 1-based in `enc` units, end
 * exclusive. Numbers are rounded to 6 decimals so the JSON is stable.
 */
json_t *sel_resolution_json(const struct sel_resolution *r, const struct sel_source *src,
			    enum ln_enc enc);

/*
 * Cross-check with a language server: whether `symbols` (a
 * textDocument/documentSymbol answer: DocumentSymbol[] or
 * SymbolInformation[], borrowed) holds a symbol named `name` whose
 * selectionRange (or location range) starts on 0-based line `line0`.
 * Lines only: they mean the same in every position encoding. Depth-capped.
 */
bool sel_symbols_agree(const json_t *symbols, const char *name, int line0);

/* A byte offset of a document as a 1-based (line, col) in `enc` units. */
int sel_offset_to_pos(const struct ln_text *t, size_t off, enum ln_enc enc, long *line,
		      long *col);

#endif
