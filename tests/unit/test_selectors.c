/*
 * test_selectors.c - the selector parser, driven by tests/selectors/parse.txt
 * (one case per line), plus properties that hold for every valid case.
 */
#include "tests/unit/harness.h"
#include "core/buf.h"
#include "core/err.h"
#include "selectors/selector.h"

#include <stdlib.h>

/* Decodes the input column of a case line: \\ \t \n \xHH; everything else
 * is literal. Returns the decoded length. */
static size_t unescape(char *out, const char *in, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (in[i] == '\\' && i + 1 < n) {
			char c = in[++i];
			if (c == 't') out[o++] = '\t';
			else if (c == 'n') out[o++] = '\n';
			else if (c == 'x' && i + 2 < n) {
				char hex[3] = { in[i + 1], in[i + 2], 0 };
				out[o++] = (char)strtol(hex, NULL, 16);
				i += 2;
			} else out[o++] = c;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

static char *parsed_form(const char *s, size_t n)
{
	struct sel sel;
	struct sel_error err;
	char *out;

	if (sel_parse(&sel, s, n, &err)) {
		size_t len = strlen(err.text) + 8;
		out = malloc(len);
		snprintf(out, len, "error %s", err.text);
	} else {
		json_t *j = sel_to_json(&sel);
		out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
	}
	sel_release(&sel);
	return out;
}

TEST(sel_parse__cases_file_matches)
{
	struct buf file = BUF_INIT, path = BUF_INIT;
	char *line, *save = NULL;
	int n = 0, bad = 0;

	buf_addf(&path, "%s/tests/selectors/parse.txt", test_repo_root());
	CHECK_EQ_INT(buf_read_file(&file, path.data, 1 << 20), 0);
	for (line = file.data; line && *line; ) {
		char *nl = strchr(line, '\n'), *sep;
		if (nl)
			*nl = '\0';
		save = nl ? nl + 1 : NULL;
		sep = strstr(line, "\t=> ");
		if (line[0] != '#' && line[0] && sep) {
			char in[8192];
			size_t len = unescape(in, line, (size_t)(sep - line));
			char *got = parsed_form(in, len);
			n++;
			if (strcmp(got, sep + 4)) {
				test_fail(__FILE__, __LINE__, "case %s\n    expected: %s\n    got:      %s",
					  line, sep + 4, got);
				bad++;
			}
			free(got);
		} else if (line[0] != '#' && line[0]) {
			test_fail(__FILE__, __LINE__, "malformed case line: %s", line);
			bad++;
		}
		line = save;
	}
	buf_release(&file);
	buf_release(&path);
	CHECK(n >= 60);
	CHECK_EQ_INT(bad, 0);
}

/* Every valid case prints back to a selector that parses to the same form. */
TEST(sel_format__round_trips_every_valid_case)
{
	struct buf file = BUF_INIT, path = BUF_INIT;
	char *line, *save;
	int n = 0;

	buf_addf(&path, "%s/tests/selectors/parse.txt", test_repo_root());
	CHECK_EQ_INT(buf_read_file(&file, path.data, 1 << 20), 0);
	for (line = file.data; line && *line; line = save) {
		char *nl = strchr(line, '\n'), *sep;
		struct sel a, b;
		struct buf f = BUF_INIT;
		char in[8192];
		size_t len;
		if (nl)
			*nl = '\0';
		save = nl ? nl + 1 : NULL;
		sep = strstr(line, "\t=> ");
		if (line[0] == '#' || !sep || !strncmp(sep + 4, "error", 5))
			continue;
		len = unescape(in, line, (size_t)(sep - line));
		CHECK_EQ_INT(sel_parse(&a, in, len, NULL), 0);
		sel_format(&f, &a);
		if (sel_parse(&b, f.data, f.len, NULL) == 0) {
			json_t *ja_ = sel_to_json(&a), *jb_ = sel_to_json(&b);
			char *ja = json_dumps(ja_, JSON_COMPACT | JSON_SORT_KEYS);
			char *jb = json_dumps(jb_, JSON_COMPACT | JSON_SORT_KEYS);
			if (strcmp(ja, jb))
				test_fail(__FILE__, __LINE__, "%s -> %s: %s != %s", line, f.data, ja, jb);
			free(ja);
			free(jb);
			json_decref(ja_);
			json_decref(jb_);
		} else {
			test_fail(__FILE__, __LINE__, "%s formats as %s, which does not parse: %s", line,
				  f.data, ln_error_msg());
		}
		n++;
		sel_release(&a);
		sel_release(&b);
		buf_release(&f);
	}
	buf_release(&file);
	buf_release(&path);
	CHECK(n >= 30);
}

TEST(sel_parse__rejects_overlong_selector_at_the_cap)
{
	char *s = malloc(SEL_MAX_LEN + 2);
	struct sel sel;
	struct sel_error err;

	memset(s, 'a', SEL_MAX_LEN + 1);
	s[SEL_MAX_LEN + 1] = 0;
	CHECK_EQ_INT(sel_parse(&sel, s, SEL_MAX_LEN + 1, &err), LN_ESELECTOR);
	CHECK_EQ_INT(err.column, SEL_MAX_LEN + 1);
	CHECK_EQ_STR(err.text, "selector:1:4097: expected a selector of at most 4096 bytes");
	sel_release(&sel);
	free(s);
}

TEST(sel_parse__ast_depth_is_capped)
{
	struct buf b = BUF_INIT;
	struct sel sel;
	struct sel_error err;
	int i;

	buf_adds(&b, "ast://a.py#x");
	for (i = 0; i < SEL_MAX_STEPS; i++)
		buf_adds(&b, "/x");
	CHECK_EQ_INT(sel_parse(&sel, b.data, b.len, &err), LN_ESELECTOR);
	CHECK(strstr(err.text, "expected at most 32 steps") != NULL);
	sel_release(&sel);
	buf_release(&b);
}

TEST(sel_parse__error_sets_last_error_and_code)
{
	struct sel sel;

	CHECK_EQ_INT(sel_parse(&sel, "a.c@L1", 6, NULL), LN_ESELECTOR);
	CHECK_EQ_STR(ln_error_msg(), "selector:1:7: expected ':C<column>'");
	sel_release(&sel);
}
