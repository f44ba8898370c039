/*
 * text.h - a document and the position model.
 *
 * Internally a position is (0-based line, byte offset within that line).
 * Columns in other units (UTF-16 code units, codepoints) exist only at the
 * edges: the command line, bundles and the LSP wire. This module converts
 * between them.
 *
 * Lines. "\n", "\r\n" and a lone "\r" all end a line, as LSP 3.17 specifies
 * ("\n", "\r\n" and "\r" are the line terminators) and as pyright and the
 * TypeScript server count them; a "\r\n" is one terminator, never two. The
 * terminator is not part of the line's content: a column is measured over
 * the content only, so the column just before the "\r" of a "\r\n" line is
 * the end of the line and anything beyond it is past the end.
 * A document with N line terminators has N + 1 lines: the empty document has
 * one empty line, and "a\n" has two lines ("a" and an empty last line whose
 * start is the end of the document), matching LSP, where the position just
 * after a trailing newline is (N, 0).
 *
 * Error messages are written for the person who typed the position: they
 * name lines and columns 1-based (line0 + 1, col + 1) as the command line
 * and bundles do.
 *
 * Thread-safety: a struct ln_text is immutable after ln_text_init(); any
 * number of threads may query it concurrently.
 */
#ifndef LANSER_TEXT_H
#define LANSER_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Column units. */
enum ln_enc {
	LN_ENC_UTF8,      /* bytes */
	LN_ENC_UTF16,     /* UTF-16 code units (a character above U+FFFF counts 2) */
	LN_ENC_CODEPOINT, /* Unicode scalar values ("utf-32" in LSP) */
};

/*
 * Parses an encoding name, case-insensitively: "utf-8"/"utf8",
 * "utf-16"/"utf16", "codepoint", and "utf-32"/"utf32" (the LSP name for
 * codepoint columns). Returns 0 and sets *out, or LN_EUSAGE with the last
 * error set for anything else (including NULL).
 */
int ln_enc_parse(enum ln_enc *out, const char *name);
/* The canonical name: "utf-8", "utf-16" or "codepoint" (the --index-io
 * spelling, recorded in bundles). Static storage; never NULL. */
const char *ln_enc_name(enum ln_enc enc);
/* The LSP PositionEncodingKind: "utf-8", "utf-16" or "utf-32". Static
 * storage; never NULL. */
const char *ln_enc_lsp_name(enum ln_enc enc);

/*
 * A document. Embedded by value: ln_text_init() / ln_text_release().
 * Fields are read-only for callers (use the functions below).
 */
struct ln_text {
	char *data;          /* owned copy, NUL-terminated (data[len] == '\0') */
	size_t len;          /* bytes, excluding the terminating NUL */
	size_t *line_starts; /* owned; line_starts[i] = byte offset of line i */
	int nlines;          /* >= 1 after a successful init */
	bool latin1;         /* ln_text_init_file() found it not UTF-8 (see there) */
};

/*
 * Copies `len` bytes of `data` (which may be NULL when len is 0) and indexes
 * its lines. The content must be text:
 *   - a NUL byte anywhere means binary: LN_EINPUT,
 *     "binary content (NUL byte at line L, byte column C)";
 *   - invalid UTF-8 (bad lead or continuation byte, truncated, overlong,
 *     UTF-16 surrogate, above U+10FFFF): LN_EINPUT,
 *     "invalid UTF-8 at line L, byte column C" (1-based, the first byte of
 *     the first invalid sequence);
 *   - more than INT_MAX lines: LN_EINPUT.
 * A UTF-8 byte order mark is valid UTF-8 and kept as content (U+FEFF).
 * The message names no file; callers add the path.
 * Returns 0, or a negative LN_E* code with the last error set, in which case
 * `t` holds nothing and ln_text_release() is still safe to call on it.
 */
int ln_text_init(struct ln_text *t, const char *data, size_t len);
/*
 * A file's text: like ln_text_init(), except that content which is not
 * UTF-8 (and has no NUL byte) is read as Latin-1 instead of refused
 * (docs/bundle.md, "Files that are not UTF-8"): t->latin1 is set, every
 * byte is one character (U+0000-U+00FF), and in every column unit a
 * character counts 1, except LN_ENC_UTF8, which counts the bytes of the
 * character's UTF-8 form (1 below 0x80, else 2: what a server that is sent
 * the decoded text counts). t->data keeps the file's bytes. Columns shown
 * to users in such a document are bytes whatever --index-io says:
 * ln_text_user_enc(). Valid UTF-8 is always UTF-8.
 */
int ln_text_init_file(struct ln_text *t, const char *data, size_t len);
/* The unit of the columns users see in `t` when they asked for `enc`:
 * LN_ENC_CODEPOINT (one per byte) in a Latin-1 document, else `enc`.
 * NULL `t` gives `enc`. */
enum ln_enc ln_text_user_enc(const struct ln_text *t, enum ln_enc enc);

struct buf;
/* Appends the UTF-8 form of the Latin-1 bytes data[0..len) to `out`. */
void ln_latin1_to_utf8(struct buf *out, const char *data, size_t len);
/* Appends the Latin-1 form of UTF-8 text s[0..len) to `out`. LN_EINPUT
 * (last error names the character) when a character is above U+00FF or the
 * text is not UTF-8; `out` then holds a prefix. */
int ln_utf8_to_latin1(struct buf *out, const char *s, size_t len);

/* Frees what init allocated and leaves `t` empty. Safe on a zeroed struct
 * and after a failed init; idempotent. */
void ln_text_release(struct ln_text *t);

/* Number of lines (>= 1). */
int ln_text_line_count(const struct ln_text *t);
/*
 * The content of line `line0` (not NUL-terminated at the line end: the
 * document continues after it), its length without the terminator in
 * *len_without_eol (may be NULL). Returns a pointer into t->data, valid
 * until ln_text_release(), or NULL when the line does not exist.
 */
const char *ln_text_line(const struct ln_text *t, int line0, size_t *len_without_eol);

/*
 * The length of line `line0`'s content in `enc` units into *out_units.
 * Returns 0, or LN_ESELECTOR when the line does not exist.
 */
int ln_text_line_units(const struct ln_text *t, int line0, enum ln_enc enc, long *out_units);

/*
 * Converts a 0-based column in `enc` units on line `line0` into a byte
 * offset within the line. A column equal to the line's length is valid (the
 * end of the line). Fails with LN_ESELECTOR and the last error set:
 *   "line 12 is past the end of the file (10 lines)"
 *   "line 0 is before the start of the file"                     (line0 < 0)
 *   "column 41 is past the end of line 3 (length 12)"   (length in enc units)
 *   "column 0 is before the start of line 3"                       (col < 0)
 *   "column 5 splits a character on line 3"
 * (the last one for a UTF-8 column inside a multibyte character or a UTF-16
 * column between the two halves of a surrogate pair).
 */
int ln_text_to_byte(const struct ln_text *t, int line0, long col_units, enum ln_enc enc,
		    size_t *out_byte_in_line);

/*
 * The reverse: a byte offset within line `line0` into a 0-based column in
 * `enc` units. Clamps nothing. Fails with LN_ESELECTOR for a line that does
 * not exist, "byte column 14 is past the end of line 3 (length 12 bytes)"
 * (shown 1-based, like columns: byte_in_line 13 here), or "byte column 5
 * splits a character on line 3" when the offset is inside a UTF-8 sequence.
 */
int ln_text_from_byte(const struct ln_text *t, int line0, size_t byte_in_line, enum ln_enc enc,
		      long *out_col_units);

/*
 * Converts a column on line `line0` from one encoding to another; same
 * errors as ln_text_to_byte() (a column that splits a character in `from`
 * is an error, never rounded).
 */
int ln_text_convert_col(const struct ln_text *t, int line0, long col, enum ln_enc from,
			enum ln_enc to, long *out);

/*
 * Clamps a position a server sent, as the LSP specification says
 * ("if the character value is greater than the line length it defaults
 * back to the line length"): a column past the end of line `*line0` becomes
 * the line's length; a line past the end of the document becomes the end of
 * the last line; a negative line or column becomes 0; a column inside a
 * character (a UTF-8 column within a multibyte sequence, a UTF-16 column
 * between the halves of a surrogate pair) moves back to its start. Returns
 * whether anything changed. Never fails.
 */
bool ln_text_clamp(const struct ln_text *t, long *line0, long *col, enum ln_enc enc);

/*
 * Absolute byte offset of (line0, byte_in_line) in the document. Returns
 * (size_t)-1 when the line does not exist or byte_in_line is past the end
 * of the line's content; does not check for splitting a character.
 */
size_t ln_text_offset(const struct ln_text *t, int line0, size_t byte_in_line);

/*
 * The line and byte-in-line of an absolute byte offset (0 <= offset <= len;
 * offset == len is the end of the last line). An offset on a line terminator
 * maps to the end of that line's content, except the "\n" of a "\r\n"
 * (the middle of the terminator), which is an error.
 * Returns 0, or LN_ESELECTOR with the last error set:
 *   "offset 99 is past the end of the file (42 bytes)"
 *   "offset 7 splits a \r\n line break"
 */
int ln_text_line_of(const struct ln_text *t, size_t offset, int *line0, size_t *byte_in_line);

/* Length of the well-formed UTF-8 sequence at s[0..n) (n > 0), or 0 when
 * it is not well-formed (Unicode Table 3-7: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
size_t ln_utf8_seq_len(const unsigned char *s, size_t n);
/* The value of a hex digit (either case), or -1 (percent-encoding). */
int ln_hex_value(int c);
/* Whether the `len` bytes at `s` are well-formed UTF-8 (what jansson's
 * json_pack "s" accepts; NUL bytes included). */
bool ln_utf8_valid(const char *s, size_t len);
#endif
