#include "core/text.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int ln_enc_parse(enum ln_enc *out, const char *name)
{
	if (name && (!strcasecmp(name, "utf-8") || !strcasecmp(name, "utf8"))) {
		*out = LN_ENC_UTF8;
		return 0;
	}
	if (name && (!strcasecmp(name, "utf-16") || !strcasecmp(name, "utf16"))) {
		*out = LN_ENC_UTF16;
		return 0;
	}
	if (name && (!strcasecmp(name, "codepoint") || !strcasecmp(name, "utf-32") ||
		     !strcasecmp(name, "utf32"))) {
		*out = LN_ENC_CODEPOINT;
		return 0;
	}
	return ln_error_set(LN_EUSAGE,
			    "unknown position encoding '%s' (expected utf-8, utf-16 or codepoint)",
			    name ? name : "");
}

const char *ln_enc_name(enum ln_enc enc)
{
	switch (enc) {
	case LN_ENC_UTF8: return "utf-8";
	case LN_ENC_UTF16: return "utf-16";
	case LN_ENC_CODEPOINT: return "codepoint";
	}
	return "codepoint";
}

const char *ln_enc_lsp_name(enum ln_enc enc)
{
	switch (enc) {
	case LN_ENC_UTF8: return "utf-8";
	case LN_ENC_UTF16: return "utf-16";
	case LN_ENC_CODEPOINT: return "utf-32";
	}
	return "utf-32";
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..n), or 0 when it is not
 * well-formed (Unicode Table 3-7: no overlongs, no surrogates, <= U+10FFFF).
 */
size_t ln_utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		len = 2;
	} else if (c < 0xF0) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c < 0xF5) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

int ln_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool ln_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < len) {
		k = ln_utf8_seq_len(u + i, len - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* Length of the character whose (valid) lead byte is c; in a Latin-1
 * document every byte is one character. */
static size_t char_len(const struct ln_text *t, unsigned char c)
{
	if (c < 0x80 || t->latin1)
		return 1;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	return 4;
}

/* Units of the character of `clen` bytes led by `c`. A Latin-1 byte is one
 * code point (U+0000-U+00FF: one UTF-16 unit) whose UTF-8 form, the one a
 * server is sent, takes 2 bytes from 0x80 on. */
static long char_units(const struct ln_text *t, unsigned char c, size_t clen, enum ln_enc enc)
{
	if (t->latin1)
		return enc == LN_ENC_UTF8 && c >= 0x80 ? 2 : 1;
	switch (enc) {
	case LN_ENC_UTF8: return (long)clen;
	case LN_ENC_UTF16: return clen == 4 ? 2 : 1;
	case LN_ENC_CODEPOINT: return 1;
	}
	return 1;
}

/* Offset where the terminator after data[from] starts (or len), and the
 * offset just past that terminator (== len at the end of the document). */
static size_t next_eol(const char *d, size_t len, size_t from, size_t *after)
{
	size_t i;

	for (i = from; i < len; i++) {
		if (d[i] == '\n') {
			*after = i + 1;
			return i;
		}
		if (d[i] == '\r') {
			*after = (i + 1 < len && d[i + 1] == '\n') ? i + 2 : i + 1;
			return i;
		}
	}
	*after = len;
	return len;
}

/* 1-based line and byte column of absolute offset `off` (used only for
 * error messages, before the line index exists). */
static void locate(const char *d, size_t len, size_t off, long *line, size_t *col)
{
	size_t start = 0, after;
	long l = 1;

	for (;;) {
		next_eol(d, len, start, &after);
		if (off < after || after >= len)
			break;
		start = after;
		l++;
	}
	*line = l;
	*col = off - start + 1;
}

static int text_init(struct ln_text *t, const char *data, size_t len, bool latin1_ok)
{
	const unsigned char *u = (const unsigned char *)data;
	const char *nul;
	size_t i, after, nlines, k;
	int error = -1;

	memset(t, 0, sizeof *t);
	if (len && (nul = memchr(data, '\0', len)) != NULL) {
		long line;
		size_t col;

		locate(data, len, (size_t)(nul - data), &line, &col);
		error = ln_error_set(LN_EINPUT, "binary content (NUL byte at line %ld, byte column %zu)",
				     line, col);
		goto done;
	}

	/* Validate and count line terminators in one pass. */
	nlines = 1;
	for (i = 0; i < len;) {
		size_t n = t->latin1 ? 1 : ln_utf8_seq_len(u + i, len - i);

		if (!n && latin1_ok) {
			/* not UTF-8: every byte is one Latin-1 character; count
			 * the lines again from the start */
			t->latin1 = true;
			nlines = 1;
			i = 0;
			continue;
		}
		if (!n) {
			long line;
			size_t col;

			locate(data, len, i, &line, &col);
			error = ln_error_set(LN_EINPUT, "invalid UTF-8 at line %ld, byte column %zu",
					     line, col);
			goto done;
		}
		if (u[i] == '\n' || (u[i] == '\r' && !(i + 1 < len && u[i + 1] == '\n')))
			nlines++;
		if (nlines > INT_MAX) {
			error = ln_error_set(LN_EINPUT, "too many lines (more than %d)", INT_MAX);
			goto done;
		}
		i += n;
	}

	t->data = xcalloc(len + 1, 1);
	if (len)
		memcpy(t->data, data, len);
	t->len = len;
	t->line_starts = xcalloc(nlines, sizeof *t->line_starts);
	t->nlines = (int)nlines;
	t->line_starts[0] = 0;
	for (k = 1, i = 0; k < nlines; k++) {
		next_eol(t->data, len, i, &after);
		t->line_starts[k] = after;
		i = after;
	}
	error = 0;
done:
	if (error)
		ln_text_release(t);
	return error;
}

int ln_text_init(struct ln_text *t, const char *data, size_t len)
{
	return text_init(t, data, len, false);
}

int ln_text_init_file(struct ln_text *t, const char *data, size_t len)
{
	return text_init(t, data, len, true);
}

enum ln_enc ln_text_user_enc(const struct ln_text *t, enum ln_enc enc)
{
	return t && t->latin1 ? LN_ENC_CODEPOINT : enc;
}

void ln_latin1_to_utf8(struct buf *out, const char *data, size_t len)
{
	size_t i;

	buf_grow(out, len + len / 4);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c < 0x80) {
			buf_addch(out, c);
		} else {
			buf_addch(out, 0xC0 | (c >> 6));
			buf_addch(out, 0x80 | (c & 0x3F));
		}
	}
}

int ln_utf8_to_latin1(struct buf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < len) {
		k = ln_utf8_seq_len(u + i, len - i);
		if (k == 1) {
			buf_addch(out, u[i]);
		} else if (k == 2 && u[i] <= 0xC3) {
			buf_addch(out, ((u[i] & 0x03) << 6) | (u[i + 1] & 0x3F));
		} else if (k) {
			char ch[5] = { 0 };
			memcpy(ch, s + i, k);
			return ln_error_set(LN_EINPUT, "'%s' (at byte %zu) is not a Latin-1 "
					    "character (above U+00FF)", ch, i + 1);
		} else {
			return ln_error_set(LN_EINPUT, "invalid UTF-8 at byte %zu", i + 1);
		}
		i += k;
	}
	return 0;
}

void ln_text_release(struct ln_text *t)
{
	free(t->data);
	free(t->line_starts);
	memset(t, 0, sizeof *t);
}

int ln_text_line_count(const struct ln_text *t)
{
	return t->nlines;
}

static int line_exists(const struct ln_text *t, int line0)
{
	return line0 >= 0 && line0 < t->nlines;
}

/* Byte offset (absolute) where line0's content ends. */
static size_t content_end(const struct ln_text *t, int line0)
{
	size_t s, start = t->line_starts[line0];

	if (line0 == t->nlines - 1)
		return t->len;
	s = t->line_starts[line0 + 1];
	if (t->data[s - 1] == '\n') {
		s--;
		if (s > start && t->data[s - 1] == '\r')
			s--;
	} else {
		s--; /* a lone '\r' */
	}
	return s;
}

static int bad_line(const struct ln_text *t, int line0)
{
	if (line0 < 0)
		return ln_error_set(LN_ESELECTOR, "line %ld is before the start of the file",
				    (long)line0 + 1);
	return ln_error_set(LN_ESELECTOR, "line %ld is past the end of the file (%d lines)",
			    (long)line0 + 1, t->nlines);
}

const char *ln_text_line(const struct ln_text *t, int line0, size_t *len_without_eol)
{
	if (!line_exists(t, line0))
		return NULL;
	if (len_without_eol)
		*len_without_eol = content_end(t, line0) - t->line_starts[line0];
	return t->data + t->line_starts[line0];
}

/* Units in p[0..n), where n is on a character boundary. */
static long count_units(const struct ln_text *t, const char *p, size_t n, enum ln_enc enc)
{
	size_t i = 0;
	long units = 0;

	if (enc == LN_ENC_UTF8 && !t->latin1)
		return (long)n;
	while (i < n) {
		size_t clen = char_len(t, (unsigned char)p[i]);
		units += char_units(t, (unsigned char)p[i], clen, enc);
		i += clen;
	}
	return units;
}

int ln_text_line_units(const struct ln_text *t, int line0, enum ln_enc enc, long *out_units)
{
	const char *p;
	size_t n;

	p = ln_text_line(t, line0, &n);
	if (!p)
		return bad_line(t, line0);
	*out_units = count_units(t, p, n, enc);
	return 0;
}

int ln_text_to_byte(const struct ln_text *t, int line0, long col_units, enum ln_enc enc,
		    size_t *out_byte_in_line)
{
	const char *p;
	size_t n, i = 0;
	long u = 0;

	p = ln_text_line(t, line0, &n);
	if (!p)
		return bad_line(t, line0);
	if (col_units < 0)
		return ln_error_set(LN_ESELECTOR, "column %ld is before the start of line %ld",
				    col_units + 1, (long)line0 + 1);
	if (enc == LN_ENC_UTF8 && !t->latin1) {
		if ((unsigned long)col_units > n)
			goto past_end;
		if ((size_t)col_units < n && ((unsigned char)p[col_units] & 0xC0) == 0x80)
			goto split;
		*out_byte_in_line = (size_t)col_units;
		return 0;
	}
	while (i < n && u < col_units) {
		size_t clen = char_len(t, (unsigned char)p[i]);
		u += char_units(t, (unsigned char)p[i], clen, enc);
		i += clen;
	}
	if (u == col_units) {
		*out_byte_in_line = i;
		return 0;
	}
	if (u > col_units)
		goto split;
past_end:
	return ln_error_set(LN_ESELECTOR, "column %lu is past the end of line %ld (length %ld)",
			    (unsigned long)col_units + 1, (long)line0 + 1, count_units(t, p, n, enc));
split:
	return ln_error_set(LN_ESELECTOR, "column %lu splits a character on line %ld",
			    (unsigned long)col_units + 1, (long)line0 + 1);
}

int ln_text_from_byte(const struct ln_text *t, int line0, size_t byte_in_line, enum ln_enc enc,
		      long *out_col_units)
{
	const char *p;
	size_t n;

	p = ln_text_line(t, line0, &n);
	if (!p)
		return bad_line(t, line0);
	if (byte_in_line > n)
		return ln_error_set(LN_ESELECTOR,
				    "byte column %zu is past the end of line %ld (length %zu bytes)",
				    byte_in_line + 1, (long)line0 + 1, n);
	if (!t->latin1 && byte_in_line < n && ((unsigned char)p[byte_in_line] & 0xC0) == 0x80)
		return ln_error_set(LN_ESELECTOR, "byte column %zu splits a character on line %ld",
				    byte_in_line + 1, (long)line0 + 1);
	*out_col_units = count_units(t, p, byte_in_line, enc);
	return 0;
}

int ln_text_convert_col(const struct ln_text *t, int line0, long col, enum ln_enc from,
			enum ln_enc to, long *out)
{
	size_t b;
	int error;

	error = ln_text_to_byte(t, line0, col, from, &b);
	if (error)
		return error;
	return ln_text_from_byte(t, line0, b, to, out);
}

bool ln_text_clamp(const struct ln_text *t, long *line0, long *col, enum ln_enc enc)
{
	long l = *line0, c = *col, u = 0;
	const char *p;
	size_t n = 0, i = 0;

	if (l < 0)
		l = 0;
	if (c < 0)
		c = 0;
	if (l >= t->nlines) {
		l = t->nlines - 1;
		c = LONG_MAX;
	}
	p = ln_text_line(t, (int)l, &n);
	if (!p)
		n = 0;
	/* walk whole characters up to the column: past the end stops at the
	 * end, inside a character stops at its start */
	while (i < n) {
		size_t clen = char_len(t, (unsigned char)p[i]);
		long cu = char_units(t, (unsigned char)p[i], clen, enc);
		if (u + cu > c)
			break;
		u += cu;
		i += clen;
	}
	c = u;
	if (l == *line0 && c == *col)
		return false;
	*line0 = l;
	*col = c;
	return true;
}

size_t ln_text_offset(const struct ln_text *t, int line0, size_t byte_in_line)
{
	size_t n;

	if (!ln_text_line(t, line0, &n) || byte_in_line > n)
		return (size_t)-1;
	return t->line_starts[line0] + byte_in_line;
}

int ln_text_line_of(const struct ln_text *t, size_t offset, int *line0, size_t *byte_in_line)
{
	int lo = 0, hi = t->nlines - 1;

	if (offset > t->len)
		return ln_error_set(LN_ESELECTOR, "offset %zu is past the end of the file (%zu bytes)",
				    offset, t->len);
	/* The last line whose start is <= offset. */
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;
		if (t->line_starts[mid] <= offset)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (offset > content_end(t, lo))
		return ln_error_set(LN_ESELECTOR, "offset %zu splits a \\r\\n line break", offset);
	*line0 = lo;
	*byte_in_line = offset - t->line_starts[lo];
	return 0;
}
