/*
 * relevance.h - which files a candidate's diagnostics are counted over
 * (docs/rewards.md, "Relevant files"): the files it touched plus the files
 * holding references, at the base, to the symbols it touched. The pure
 * parts are here, with their contracts; the engine asks the language
 * servers for the document symbols and references (engine/internal.h).
 */
#ifndef LANSER_ENGINE_RELEVANCE_H
#define LANSER_ENGINE_RELEVANCE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "sandbox/edit.h"

#define ENG_MAX_SYMBOLS 16      /* touched symbols per file whose references are followed */
#define ENG_MAX_RELEVANT 256    /* relevant files per candidate (references add up to it) */

/*
 * The lines [*lo, *hi] (0-based, of the old text `a`) that a change to `b`
 * touched: everything between the common prefix and the common suffix of
 * the two texts. One region: a diff with two distant hunks makes it span
 * both, which only adds symbols (up to ENG_MAX_SYMBOLS). *hi >= *lo.
 */
void eng_changed_lines(const char *a, size_t alen, const char *b, size_t blen, long *lo,
		       long *hi);

/*
 * Appends to `out` the selection start ({"line", "character"}) of the
 * innermost symbols of a documentSymbol answer (DocumentSymbol trees or
 * flat SymbolInformation) whose range overlaps lines [lo, hi] (0-based),
 * at most `max` in all. A function, method or constructor is a leaf: its
 * parameters and locals are not symbols other files depend on.
 */
void eng_touched_symbols(const json_t *syms, long lo, long hi, size_t max, json_t *out);

/* The files an edit set touches: every path, and every old name of a
 * rename, once each, in edit order (new reference). */
json_t *eng_touched_files(const struct sbx_edits *e);

/* True when the array of strings `a` holds `s`. */
bool eng_paths_has(const json_t *a, const char *s);
/* Sorts an array of strings bytewise (strcmp): the order of every output. */
void eng_paths_sort(json_t *a);

#endif
