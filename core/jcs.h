/*
 * jcs.h - RFC 8785 JSON Canonicalization Scheme (JCS) for jansson values.
 *
 * The canonical form is what bundle ids and config digests hash (see
 * hash.h: ln_json_digest), so it must be byte-for-byte stable:
 *
 *   - no whitespace anywhere;
 *   - object members sorted by name, names compared as arrays of UTF-16
 *     code units (so a name holding a character above U+FFFF, written as a
 *     surrogate pair D800..DBFF, sorts before one holding U+E000..U+FFFF);
 *   - strings carry only the escapes JSON requires: \" \\ \b \f \n \r \t,
 *     other control characters below U+0020 as \u00xx (lowercase hex),
 *     everything else as literal UTF-8;
 *   - numbers written as ECMAScript's Number.prototype.toString writes an
 *     IEEE-754 double: shortest round-trip digits, exponent form when the
 *     magnitude is >= 1e21 or < 1e-6 ("1e+21", "1e-7"), -0 as "0".
 *     jansson integers are converted to double first, so 2^53+1 comes out
 *     as 9007199254740992, exactly as a JavaScript producer would write it.
 *
 * Nothing here keeps state; every function is thread-safe as long as the
 * value is not modified concurrently.
 */
#ifndef LANSER_JCS_H
#define LANSER_JCS_H

#include <jansson.h>

#include "core/buf.h"

/* Deepest accepted nesting of arrays and objects (the top-level container
 * counts as depth 1). Deeper values fail rather than recurse without end. */
#define JCS_MAX_DEPTH 512

/*
 * Appends the canonical JSON text of `value` to `out`.
 *
 * Returns 0, or a negative LN_E* code with the last error set:
 *   LN_EGENERIC  a real that is NaN or infinite, nesting deeper than
 *                JCS_MAX_DEPTH, a string or member name that is not valid
 *                UTF-8 (overlong forms, surrogates and code points above
 *                U+10FFFF are invalid), a NULL value, or out of memory.
 * On failure `out` is restored to the length it had on entry; its earlier
 * contents are never touched. `value` is only read (borrowed).
 */
int jcs_serialize(struct buf *out, const json_t *value);

/*
 * Returns the canonical JSON text of `value` as a malloc'd NUL-terminated
 * string the caller frees with free(), or NULL with the last error set
 * (same failures as jcs_serialize).
 */
char *jcs_dumps(const json_t *value);

/*
 * Writes the ECMAScript Number::toString form of a finite double into
 * `out` (at most 32 bytes including the NUL are ever needed; `size` must be
 * at least 32). Returns 0, or LN_EGENERIC with the last error set when `d`
 * is NaN or infinite or `size` is too small. Exposed for tests and for
 * callers that format single numbers the canonical way.
 */
int jcs_format_number(char *out, size_t size, double d);

#endif
