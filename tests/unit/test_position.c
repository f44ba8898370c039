/*
 * test_position.c - server ranges back in the user's units (agent/position.h):
 * a range converted through the document text, and a range that has to stay
 * in the server's units because the text is not available, which the fact
 * must then label (the hover bug of issue 18, item 7).
 */
#include "tests/unit/harness.h"
#include "agent/position.h"
#include "core/err.h"
#include "core/text.h"

#include <jansson.h>
#include <stdlib.h>

static json_t *lsp_range(int sl, int sc, int el, int ec)
{
	return json_pack("{s:{s:i, s:i}, s:{s:i, s:i}}", "start", "line", sl, "character", sc,
			 "end", "line", el, "character", ec);
}

static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

TEST(agent_position__utf16_range_converted_through_the_text)
{
	/* "é😀x": é is 1 UTF-16 unit, 😀 two; x starts at UTF-16 column 3,
	 * codepoint column 2 */
	struct ln_text t;
	json_t *fact = json_object(), *r = lsp_range(0, 3, 0, 4);
	char *s;

	CHECK_EQ_INT(ln_text_init(&t, "\xc3\xa9\xf0\x9f\x98\x80x\n", 8), 0);
	CHECK_EQ_INT(position_set_range(fact, &t, LN_ENC_UTF16, LN_ENC_CODEPOINT, r), 0);
	s = dump(fact);
	CHECK_EQ_STR(s, "{\"range\":[1,3,1,4]}");
	free(s);
	json_decref(fact);
	json_decref(r);
	ln_text_release(&t);
}

TEST(agent_position__range_without_text_is_labelled_with_the_server_unit)
{
	json_t *fact = json_object(), *r = lsp_range(0, 3, 0, 4);
	char *s;

	CHECK_EQ_INT(position_set_range(fact, NULL, LN_ENC_UTF16, LN_ENC_CODEPOINT, r), 0);
	s = dump(fact);
	/* columns stay in UTF-16, and the fact says so */
	CHECK_EQ_STR(s, "{\"encoding\":\"utf-16\",\"range\":[1,4,1,5]}");
	free(s);
	json_decref(fact);
	fact = json_object();
	CHECK_EQ_INT(position_set_range(fact, NULL, LN_ENC_UTF16, LN_ENC_UTF16, r), 0);
	s = dump(fact);
	/* the user asked for the server's unit: nothing to label */
	CHECK_EQ_STR(s, "{\"range\":[1,4,1,5]}");
	free(s);
	json_decref(fact);
	json_decref(r);
}

TEST(agent_position__malformed_range_is_a_server_error_a_misfitting_one_is_clamped)
{
	struct ln_text t;
	json_t *out = NULL, *r = json_pack("{s:{s:s, s:i}, s:{s:i, s:i}}", "start", "line", "x",
					   "character", 0, "end", "line", 0, "character", 0);
	bool relabel;
	char *s;

	CHECK_EQ_INT(position_user_range(&out, &relabel, NULL, LN_ENC_UTF16, LN_ENC_UTF8, r),
		     LN_ECRASH);
	CHECK(out == NULL);
	json_decref(r);
	/* LSP: past the end of a line is the end of the line; past the
	 * document, its end (issue 12, item 8: it failed the request) */
	r = lsp_range(0, 0, 5, 0);   /* line 5 of a one-line text */
	CHECK_EQ_INT(ln_text_init(&t, "abc\n", 4), 0);
	CHECK_EQ_INT(position_user_range(&out, &relabel, &t, LN_ENC_UTF16, LN_ENC_UTF8, r), 0);
	s = dump(out);
	CHECK_EQ_STR(s, "[1,1,2,1]");
	free(s);
	json_decref(out);
	json_decref(r);
	r = lsp_range(0, 2, 0, 40);  /* a column past the end of "abc" */
	CHECK_EQ_INT(position_user_range(&out, &relabel, &t, LN_ENC_UTF16, LN_ENC_UTF8, r), 0);
	s = dump(out);
	CHECK_EQ_STR(s, "[1,3,1,4]");
	free(s);
	json_decref(out);
	json_decref(r);
	ln_text_release(&t);
}
