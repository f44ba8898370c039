#include "tests/unit/harness.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"

#include <stdlib.h>

/* Text from a C string literal. */
static int text_of(struct ln_text *t, const char *s)
{
	return ln_text_init(t, s, strlen(s));
}

static size_t to_byte(const struct ln_text *t, int line0, long col, enum ln_enc enc)
{
	size_t b = (size_t)-1;

	if (ln_text_to_byte(t, line0, col, enc, &b) != 0)
		return (size_t)-1;
	return b;
}

static long from_byte(const struct ln_text *t, int line0, size_t b, enum ln_enc enc)
{
	long c = -1;

	if (ln_text_from_byte(t, line0, b, enc, &c) != 0)
		return -1;
	return c;
}

TEST(core_text__encoding_names_parse_and_print)
{
	enum ln_enc e;

	CHECK_EQ_INT(ln_enc_parse(&e, "utf-8"), 0);
	CHECK_EQ_INT(e, LN_ENC_UTF8);
	CHECK_EQ_INT(ln_enc_parse(&e, "UTF8"), 0);
	CHECK_EQ_INT(e, LN_ENC_UTF8);
	CHECK_EQ_INT(ln_enc_parse(&e, "utf-16"), 0);
	CHECK_EQ_INT(e, LN_ENC_UTF16);
	CHECK_EQ_INT(ln_enc_parse(&e, "utf16"), 0);
	CHECK_EQ_INT(e, LN_ENC_UTF16);
	CHECK_EQ_INT(ln_enc_parse(&e, "codepoint"), 0);
	CHECK_EQ_INT(e, LN_ENC_CODEPOINT);
	e = LN_ENC_UTF8;
	CHECK_EQ_INT(ln_enc_parse(&e, "utf-32"), 0);
	CHECK_EQ_INT(e, LN_ENC_CODEPOINT);
	CHECK_EQ_INT(ln_enc_parse(&e, "latin1"), LN_EUSAGE);
	CHECK_EQ_STR(ln_error_msg(),
		     "unknown position encoding 'latin1' (expected utf-8, utf-16 or codepoint)");
	CHECK_EQ_INT(ln_enc_parse(&e, NULL), LN_EUSAGE);
	CHECK_EQ_STR(ln_enc_name(LN_ENC_UTF8), "utf-8");
	CHECK_EQ_STR(ln_enc_name(LN_ENC_UTF16), "utf-16");
	CHECK_EQ_STR(ln_enc_name(LN_ENC_CODEPOINT), "codepoint");
	CHECK_EQ_STR(ln_enc_lsp_name(LN_ENC_CODEPOINT), "utf-32");
	CHECK_EQ_STR(ln_enc_lsp_name(LN_ENC_UTF16), "utf-16");
}

TEST(core_text__ascii_columns_equal_bytes_in_every_encoding)
{
	struct ln_text t;
	size_t n;
	const char *line;

	CHECK_EQ_INT(text_of(&t, "int main(void)\n{\n\treturn 0;\n}\n"), 0);
	CHECK_EQ_INT(ln_text_line_count(&t), 5);
	line = ln_text_line(&t, 2, &n);
	CHECK(line != NULL);
	CHECK_EQ_INT(n, 10);
	CHECK(strncmp(line, "\treturn 0;", n) == 0);
	CHECK_EQ_INT(to_byte(&t, 2, 8, LN_ENC_UTF8), 8);
	CHECK_EQ_INT(to_byte(&t, 2, 8, LN_ENC_UTF16), 8);
	CHECK_EQ_INT(to_byte(&t, 2, 8, LN_ENC_CODEPOINT), 8);
	CHECK_EQ_INT(from_byte(&t, 0, 14, LN_ENC_UTF16), 14);
	CHECK_EQ_INT(ln_text_offset(&t, 2, 1), 18);
	ln_text_release(&t);
}

TEST(core_text__cjk_character_is_three_bytes_one_unit)
{
	struct ln_text t;
	long units;

	/* "a中文b": a(1) 中(3) 文(3) b(1) */
	CHECK_EQ_INT(text_of(&t, "a\xe4\xb8\xad\xe6\x96\x87" "b"), 0);
	CHECK_EQ_INT(to_byte(&t, 0, 3, LN_ENC_CODEPOINT), 7);
	CHECK_EQ_INT(to_byte(&t, 0, 3, LN_ENC_UTF16), 7);
	CHECK_EQ_INT(to_byte(&t, 0, 4, LN_ENC_UTF8), 4);
	CHECK_EQ_INT(from_byte(&t, 0, 4, LN_ENC_CODEPOINT), 2);
	CHECK_EQ_INT(ln_text_line_units(&t, 0, LN_ENC_CODEPOINT, &units), 0);
	CHECK_EQ_INT(units, 4);
	CHECK_EQ_INT(ln_text_line_units(&t, 0, LN_ENC_UTF8, &units), 0);
	CHECK_EQ_INT(units, 8);
	ln_text_release(&t);
}

TEST(core_text__utf16_column_after_emoji)
{
	struct ln_text t;
	long col;

	/* "x😀y": 😀 is U+1F600, 4 bytes, 2 UTF-16 units, 1 codepoint. */
	CHECK_EQ_INT(text_of(&t, "x\xf0\x9f\x98\x80y"), 0);
	CHECK_EQ_INT(to_byte(&t, 0, 3, LN_ENC_UTF16), 5);
	CHECK_EQ_INT(to_byte(&t, 0, 2, LN_ENC_CODEPOINT), 5);
	CHECK_EQ_INT(from_byte(&t, 0, 5, LN_ENC_UTF16), 3);
	CHECK_EQ_INT(from_byte(&t, 0, 5, LN_ENC_CODEPOINT), 2);
	CHECK_EQ_INT(ln_text_convert_col(&t, 0, 3, LN_ENC_UTF16, LN_ENC_CODEPOINT, &col), 0);
	CHECK_EQ_INT(col, 2);
	CHECK_EQ_INT(ln_text_convert_col(&t, 0, 2, LN_ENC_CODEPOINT, LN_ENC_UTF16, &col), 0);
	CHECK_EQ_INT(col, 3);
	CHECK_EQ_INT(ln_text_convert_col(&t, 0, 4, LN_ENC_UTF16, LN_ENC_UTF8, &col), 0);
	CHECK_EQ_INT(col, 6);
	ln_text_release(&t);
}

TEST(core_text__clamp_follows_the_lsp_specification)
{
	struct ln_text t;
	long l, c;

	/* "ab" then "x😀y" (😀: 4 bytes, 2 UTF-16 units) */
	CHECK_EQ_INT(text_of(&t, "ab\nx\xf0\x9f\x98\x80y"), 0);
	l = 0, c = 9;        /* past the end of "ab": its end */
	CHECK(ln_text_clamp(&t, &l, &c, LN_ENC_UTF16));
	CHECK_EQ_INT(l, 0);
	CHECK_EQ_INT(c, 2);
	l = 7, c = 0;        /* past the last line: the end of the document */
	CHECK(ln_text_clamp(&t, &l, &c, LN_ENC_UTF16));
	CHECK_EQ_INT(l, 1);
	CHECK_EQ_INT(c, 4);
	l = 1, c = 2;        /* between the halves of the surrogate pair: its start */
	CHECK(ln_text_clamp(&t, &l, &c, LN_ENC_UTF16));
	CHECK_EQ_INT(c, 1);
	l = 1, c = 3;        /* inside the UTF-8 sequence */
	CHECK(ln_text_clamp(&t, &l, &c, LN_ENC_UTF8));
	CHECK_EQ_INT(c, 1);
	l = 1, c = 3;        /* in range: unchanged */
	CHECK(!ln_text_clamp(&t, &l, &c, LN_ENC_UTF16));
	CHECK_EQ_INT(c, 3);
	l = -1, c = -4;
	CHECK(ln_text_clamp(&t, &l, &c, LN_ENC_CODEPOINT));
	CHECK_EQ_INT(l, 0);
	CHECK_EQ_INT(c, 0);
	ln_text_release(&t);
}

TEST(core_text__column_inside_surrogate_pair_or_utf8_sequence_is_refused)
{
	struct ln_text t;
	size_t b;
	long col;

	CHECK_EQ_INT(text_of(&t, "x\xf0\x9f\x98\x80y\n"), 0);
	CHECK_EQ_INT(ln_text_to_byte(&t, 0, 2, LN_ENC_UTF16, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "column 3 splits a character on line 1");
	CHECK_EQ_INT(ln_text_to_byte(&t, 0, 3, LN_ENC_UTF8, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "column 4 splits a character on line 1");
	CHECK_EQ_INT(ln_text_from_byte(&t, 0, 2, LN_ENC_UTF16, &col), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "byte column 3 splits a character on line 1");
	CHECK_EQ_INT(ln_text_convert_col(&t, 0, 2, LN_ENC_UTF16, LN_ENC_CODEPOINT, &col),
		     LN_ESELECTOR);
	ln_text_release(&t);
}

TEST(core_text__combining_mark_counts_as_its_own_codepoint)
{
	struct ln_text t;
	long units;

	/* "e\u0301x": e + COMBINING ACUTE ACCENT (2 bytes) + x. */
	CHECK_EQ_INT(text_of(&t, "e\xcc\x81x"), 0);
	CHECK_EQ_INT(ln_text_line_units(&t, 0, LN_ENC_CODEPOINT, &units), 0);
	CHECK_EQ_INT(units, 3);
	CHECK_EQ_INT(ln_text_line_units(&t, 0, LN_ENC_UTF16, &units), 0);
	CHECK_EQ_INT(units, 3);
	CHECK_EQ_INT(to_byte(&t, 0, 1, LN_ENC_CODEPOINT), 1);
	CHECK_EQ_INT(to_byte(&t, 0, 2, LN_ENC_CODEPOINT), 3);
	CHECK_EQ_INT(from_byte(&t, 0, 3, LN_ENC_CODEPOINT), 2);
	ln_text_release(&t);
}

TEST(core_text__crlf_content_excludes_the_carriage_return)
{
	struct ln_text t;
	size_t n, b;
	int line;

	CHECK_EQ_INT(text_of(&t, "ab\r\ncd\r\n"), 0);
	CHECK_EQ_INT(ln_text_line_count(&t), 3);
	CHECK(ln_text_line(&t, 0, &n) != NULL);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(to_byte(&t, 0, 2, LN_ENC_UTF16), 2);
	CHECK_EQ_INT(ln_text_to_byte(&t, 0, 3, LN_ENC_UTF16, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "column 4 is past the end of line 1 (length 2)");
	CHECK_EQ_INT(ln_text_offset(&t, 1, 0), 4);
	CHECK_EQ_INT(ln_text_offset(&t, 2, 0), 8);
	CHECK_EQ_INT(ln_text_offset(&t, 0, 3), (size_t)-1);
	/* Offsets on the terminator: the '\r' is the end of line 0, the '\n'
	 * splits the terminator. */
	CHECK_EQ_INT(ln_text_line_of(&t, 2, &line, &n), 0);
	CHECK_EQ_INT(line, 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ln_text_line_of(&t, 3, &line, &n), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "offset 3 splits a \\r\\n line break");
	CHECK_EQ_INT(ln_text_line_of(&t, 5, &line, &n), 0);
	CHECK_EQ_INT(line, 1);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(ln_text_line_of(&t, 8, &line, &n), 0);
	CHECK_EQ_INT(line, 2);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(ln_text_line_of(&t, 9, &line, &n), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "offset 9 is past the end of the file (8 bytes)");
	ln_text_release(&t);
}

TEST(core_text__lone_cr_ends_a_line_like_lsp)
{
	struct ln_text t;
	size_t n;
	const char *l;
	int line;

	/* Mixed terminators: "a\rb\nc\r\nd" is four lines. */
	CHECK_EQ_INT(text_of(&t, "a\rb\nc\r\nd"), 0);
	CHECK_EQ_INT(ln_text_line_count(&t), 4);
	l = ln_text_line(&t, 1, &n);
	CHECK(l && n == 1 && l[0] == 'b');
	l = ln_text_line(&t, 3, &n);
	CHECK(l && n == 1 && l[0] == 'd');
	CHECK_EQ_INT(ln_text_line_of(&t, 1, &line, &n), 0);
	CHECK_EQ_INT(line, 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(ln_text_line_of(&t, 2, &line, &n), 0);
	CHECK_EQ_INT(line, 1);
	CHECK_EQ_INT(n, 0);
	ln_text_release(&t);

	/* "\r\r\n" is a lone CR then a CRLF: three lines, all empty. */
	CHECK_EQ_INT(text_of(&t, "\r\r\n"), 0);
	CHECK_EQ_INT(ln_text_line_count(&t), 3);
	CHECK(ln_text_line(&t, 1, &n) != NULL);
	CHECK_EQ_INT(n, 0);
	ln_text_release(&t);
}

TEST(core_text__empty_file_has_one_empty_line)
{
	struct ln_text t;
	size_t b, n;
	int line;

	CHECK_EQ_INT(ln_text_init(&t, NULL, 0), 0);
	CHECK_EQ_INT(ln_text_line_count(&t), 1);
	CHECK(ln_text_line(&t, 0, &n) != NULL);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(to_byte(&t, 0, 0, LN_ENC_UTF16), 0);
	CHECK_EQ_INT(ln_text_to_byte(&t, 0, 1, LN_ENC_CODEPOINT, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "column 2 is past the end of line 1 (length 0)");
	CHECK_EQ_INT(ln_text_to_byte(&t, 1, 0, LN_ENC_CODEPOINT, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "line 2 is past the end of the file (1 lines)");
	CHECK_EQ_INT(ln_text_line_of(&t, 0, &line, &n), 0);
	CHECK_EQ_INT(line, 0);
	CHECK_EQ_STR(t.data, "");
	ln_text_release(&t);
	ln_text_release(&t); /* idempotent */
}

TEST(core_text__last_line_without_trailing_newline)
{
	struct ln_text t;
	size_t n;
	int line;

	CHECK_EQ_INT(text_of(&t, "one\ntwo"), 0);
	CHECK_EQ_INT(ln_text_line_count(&t), 2);
	CHECK(ln_text_line(&t, 1, &n) != NULL);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(to_byte(&t, 1, 3, LN_ENC_CODEPOINT), 3);
	CHECK_EQ_INT(ln_text_offset(&t, 1, 3), 7);
	CHECK_EQ_INT(ln_text_line_of(&t, 7, &line, &n), 0);
	CHECK_EQ_INT(line, 1);
	CHECK_EQ_INT(n, 3);
	ln_text_release(&t);

	/* With the newline, the position after it is the start of line 2. */
	CHECK_EQ_INT(text_of(&t, "one\ntwo\n"), 0);
	CHECK_EQ_INT(ln_text_line_count(&t), 3);
	CHECK_EQ_INT(ln_text_line_of(&t, 8, &line, &n), 0);
	CHECK_EQ_INT(line, 2);
	CHECK_EQ_INT(n, 0);
	ln_text_release(&t);
}

TEST(core_text__past_end_errors_name_the_position_one_based)
{
	struct ln_text t;
	size_t b;
	long col;
	int i;
	char doc[256];
	size_t len = 0;

	/* Ten lines; line 3 (1-based) is 12 characters long. */
	for (i = 0; i < 10; i++) {
		const char *l = i == 2 ? "twelve chars" : "x";
		size_t n = strlen(l);
		memcpy(doc + len, l, n);
		len += n;
		if (i < 9)
			doc[len++] = '\n';
	}
	CHECK_EQ_INT(ln_text_init(&t, doc, len), 0);
	CHECK_EQ_INT(ln_text_line_count(&t), 10);
	CHECK_EQ_INT(ln_text_to_byte(&t, 11, 0, LN_ENC_CODEPOINT, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "line 12 is past the end of the file (10 lines)");
	CHECK_EQ_INT(ln_text_to_byte(&t, -1, 0, LN_ENC_CODEPOINT, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "line 0 is before the start of the file");
	CHECK_EQ_INT(ln_text_to_byte(&t, 2, 39, LN_ENC_CODEPOINT, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "column 40 is past the end of line 3 (length 12)");
	CHECK_EQ_INT(ln_text_to_byte(&t, 2, 13, LN_ENC_UTF8, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "column 14 is past the end of line 3 (length 12)");
	CHECK_EQ_INT(ln_text_to_byte(&t, 2, -1, LN_ENC_UTF16, &b), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "column 0 is before the start of line 3");
	CHECK_EQ_INT(to_byte(&t, 2, 12, LN_ENC_UTF16), 12);
	CHECK_EQ_INT(ln_text_from_byte(&t, 2, 13, LN_ENC_UTF16, &col), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "byte column 14 is past the end of line 3 (length 12 bytes)");
	CHECK_EQ_INT(ln_text_from_byte(&t, 10, 0, LN_ENC_UTF16, &col), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "line 11 is past the end of the file (10 lines)");
	CHECK(ln_text_line(&t, 10, NULL) == NULL);
	CHECK_EQ_INT(ln_text_line_units(&t, 10, LN_ENC_UTF8, &col), LN_ESELECTOR);
	CHECK_EQ_INT(ln_text_offset(&t, 10, 0), (size_t)-1);
	ln_text_release(&t);
}

/*
 * Every character boundary of a mixed line, through all three encodings:
 * byte -> units -> byte is the identity, and unit conversions between any
 * two encodings agree with going through bytes.
 */
TEST(core_text__every_boundary_round_trips_through_all_encodings)
{
	/* a, é (2), 中 (3), 😀 (4), e + U+0301 (1 + 2), 𝄞 (4), tab, z */
	static const char line[] = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" "e\xcc\x81"
				   "\xf0\x9d\x84\x9e\tz";
	static const size_t bounds[] = { 0, 1, 3, 6, 10, 11, 13, 17, 18, 19 };
	static const long u16[] = { 0, 1, 2, 3, 5, 6, 7, 9, 10, 11 };
	static const long cps[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const enum ln_enc encs[] = { LN_ENC_UTF8, LN_ENC_UTF16, LN_ENC_CODEPOINT };
	struct ln_text t;
	size_t i, b, n;
	int e, f;

	CHECK_EQ_INT(text_of(&t, line), 0);
	CHECK(ln_text_line(&t, 0, &n) != NULL);
	CHECK_EQ_INT(n, 19);
	for (i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
		long want[3] = { (long)bounds[i], u16[i], cps[i] };

		for (e = 0; e < 3; e++) {
			long col = -1;

			CHECK_EQ_INT(ln_text_from_byte(&t, 0, bounds[i], encs[e], &col), 0);
			CHECK_EQ_INT(col, want[e]);
			CHECK_EQ_INT(ln_text_to_byte(&t, 0, col, encs[e], &b), 0);
			CHECK_EQ_INT(b, bounds[i]);
			for (f = 0; f < 3; f++) {
				long out = -1;

				CHECK_EQ_INT(ln_text_convert_col(&t, 0, want[e], encs[e], encs[f], &out),
					     0);
				CHECK_EQ_INT(out, want[f]);
			}
		}
	}
	/* Every non-boundary byte is refused in both directions. */
	for (b = 0; b <= n; b++) {
		int boundary = 0;
		long col;
		size_t out;

		for (i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
			boundary |= bounds[i] == b;
		CHECK_EQ_INT(ln_text_from_byte(&t, 0, b, LN_ENC_UTF16, &col) == 0, boundary);
		CHECK_EQ_INT(ln_text_to_byte(&t, 0, (long)b, LN_ENC_UTF8, &out) == 0, boundary);
	}
	ln_text_release(&t);
}

TEST(core_text__binary_content_is_rejected)
{
	struct ln_text t;
	static const char bin[] = "ok\nab\0cd";

	CHECK_EQ_INT(ln_text_init(&t, bin, sizeof bin - 1), LN_EINPUT);
	CHECK_EQ_STR(ln_error_msg(), "binary content (NUL byte at line 2, byte column 3)");
	CHECK(t.data == NULL && t.line_starts == NULL);
	ln_text_release(&t);
}

TEST(core_text__nul_far_into_a_large_file_is_still_binary)
{
	struct ln_text t;
	size_t len = 100000;
	char *big = malloc(len);

	CHECK(big != NULL);
	memset(big, 'a', len);
	big[len - 1] = '\0';
	CHECK_EQ_INT(ln_text_init(&t, big, len), LN_EINPUT);
	CHECK_EQ_STR(ln_error_msg(), "binary content (NUL byte at line 1, byte column 100000)");
	free(big);
}

TEST(core_text__invalid_utf8_is_rejected_with_its_position)
{
	static const struct { const char *s; const char *msg; } cases[] = {
		{ "ab\ncd\xff", "invalid UTF-8 at line 2, byte column 3" },
		{ "\x80", "invalid UTF-8 at line 1, byte column 1" },
		{ "x\xc0\xaf", "invalid UTF-8 at line 1, byte column 2" },         /* overlong '/' */
		{ "x\r\ny\xe0\x80\xaf", "invalid UTF-8 at line 2, byte column 2" }, /* overlong */
		{ "\xed\xa0\x80", "invalid UTF-8 at line 1, byte column 1" },       /* surrogate */
		{ "\xf4\x90\x80\x80", "invalid UTF-8 at line 1, byte column 1" },   /* > U+10FFFF */
		{ "a\rb\xe4\xb8", "invalid UTF-8 at line 2, byte column 2" },      /* truncated */
		{ "\xe4\xb8x", "invalid UTF-8 at line 1, byte column 1" },          /* bad cont. */
		{ "\xf8\x88\x80\x80\x80", "invalid UTF-8 at line 1, byte column 1" },
	};
	struct ln_text t;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_EQ_INT(text_of(&t, cases[i].s), LN_EINPUT);
		CHECK_EQ_STR(ln_error_msg(), cases[i].msg);
	}
	/* The largest scalar value and a BOM are fine. */
	CHECK_EQ_INT(text_of(&t, "\xef\xbb\xbfx\xf4\x8f\xbf\xbf"), 0);
	ln_text_release(&t);
}

TEST(core_text__file_that_is_not_utf8_is_read_as_latin1)
{
	/* a comment holding "café" in Latin-1, then f at byte 11 (0-based) */
	static const char s[] = "/* caf\xe9 */ f\r\n\xe9\xe9x";
	struct ln_text t;
	size_t b;
	long col;

	CHECK_EQ_INT(ln_text_init_file(&t, s, sizeof s - 1), 0);
	CHECK(t.latin1);
	CHECK_EQ_INT(t.nlines, 2);
	CHECK_EQ_INT(t.len, sizeof s - 1);
	CHECK(!memcmp(t.data, s, sizeof s - 1));   /* the bytes, unchanged */
	/* one unit per byte, except the UTF-8 form a server counts */
	CHECK_EQ_INT(ln_text_from_byte(&t, 0, 11, LN_ENC_CODEPOINT, &col), 0);
	CHECK_EQ_INT(col, 11);
	CHECK_EQ_INT(ln_text_from_byte(&t, 0, 11, LN_ENC_UTF16, &col), 0);
	CHECK_EQ_INT(col, 11);
	CHECK_EQ_INT(ln_text_from_byte(&t, 0, 11, LN_ENC_UTF8, &col), 0);
	CHECK_EQ_INT(col, 12);
	CHECK_EQ_INT(ln_text_to_byte(&t, 1, 4, LN_ENC_UTF8, &b), 0);
	CHECK_EQ_INT(b, 2);
	CHECK_EQ_INT(ln_text_to_byte(&t, 1, 1, LN_ENC_UTF8, &b), LN_ESELECTOR);  /* inside é */
	CHECK_EQ_INT(ln_text_user_enc(&t, LN_ENC_UTF8), LN_ENC_CODEPOINT);
	ln_text_release(&t);

	/* valid UTF-8 stays UTF-8; NUL is still binary */
	CHECK_EQ_INT(ln_text_init_file(&t, "caf\xc3\xa9", 5), 0);
	CHECK(!t.latin1);
	CHECK_EQ_INT(ln_text_user_enc(&t, LN_ENC_UTF8), LN_ENC_UTF8);
	ln_text_release(&t);
	CHECK_EQ_INT(ln_text_init_file(&t, "\xe9\0", 2), LN_EINPUT);
}

TEST(core_text__latin1_round_trips_and_refuses_what_it_cannot_hold)
{
	struct buf u = BUF_INIT, l = BUF_INIT;
	static const char bytes[] = "a\x80\xe9\xff";

	ln_latin1_to_utf8(&u, bytes, 4);
	CHECK_EQ_STR(u.data, "a\xc2\x80\xc3\xa9\xc3\xbf");
	CHECK_EQ_INT(ln_utf8_to_latin1(&l, u.data, u.len), 0);
	CHECK_EQ_INT(l.len, 4);
	CHECK(!memcmp(l.data, bytes, 4));
	buf_reset(&l);
	CHECK_EQ_INT(ln_utf8_to_latin1(&l, "x\xe2\x82\xac", 4), LN_EINPUT);   /* € */
	CHECK_EQ_STR(ln_error_msg(), "'\xe2\x82\xac' (at byte 2) is not a Latin-1 character "
		     "(above U+00FF)");
	buf_release(&u);
	buf_release(&l);
}
