/*
 * match.h - text similarity used by resolution: tokens, token Jaccard, and
 * winnowed k-gram fingerprints (Schleimer, Wilkerson, Aiken 2003).
 *
 * Tokens: maximal runs of identifier characters ([A-Za-z0-9_] and any
 * non-ASCII byte) and single punctuation bytes; whitespace separates and is
 * never a token. Fingerprints are taken over the text with all whitespace
 * removed, so re-indenting or re-wrapping code leaves them unchanged: every
 * k-gram is hashed (64-bit FNV-1a), and in every window of w consecutive
 * hashes the minimum (the rightmost on ties) is kept, once per position.
 * A text shorter than k non-space bytes has one fingerprint: its whole
 * normalized text. Pure functions; thread-safe.
 */
#ifndef LANSER_SEL_MATCH_H
#define LANSER_SEL_MATCH_H

#include <stddef.h>
#include <stdint.h>

#define SEL_K 7
#define SEL_W 4

struct sel_tok {
	size_t start, end;      /* byte offsets into the text */
};

/* Tokens of text[start, end) into *out (malloc'd; free()). Returns the count. */
size_t sel_tokenize(struct sel_tok **out, const char *text, size_t start, size_t end);

/* |A ∩ B| / |A ∪ B| over the sets of token texts; 1 when both are empty. */
double sel_token_jaccard(const char *a, size_t alen, const char *b, size_t blen);

struct sel_fp {
	uint64_t hash;
	size_t start, end;      /* original byte span of the k-gram */
};

/* Winnowed fingerprints of text[start, end) into *out (malloc'd; free()).
 * Returns the count (0 for text without non-space bytes). */
size_t sel_winnow(struct sel_fp **out, const char *text, size_t start, size_t end, int k, int w);

/* Jaccard similarity of the two fingerprint hash sets; 0 when either is
 * empty. */
double sel_fp_jaccard(const struct sel_fp *a, size_t na, const struct sel_fp *b, size_t nb);

/* Whether hash h is among a's fingerprints. */
int sel_fp_has(const struct sel_fp *a, size_t na, uint64_t h);

#endif
