/*
 * junit.c - the JUnit XML parser (outcome.h): a small non-validating
 * reader of elements and attributes; DTDs refused, five entities and
 * character references decoded, nesting bounded.
 */
#include "sandbox/outcome.h"
#include "sandbox/outcome_impl.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct xml {
	const char *s;
	size_t len, pos;
	int line, col;   /* of pos */
	struct sbx_parse_error *e;
};

static void x_adv(struct xml *x, size_t n)
{
	while (n-- > 0 && x->pos < x->len) {
		if (x->s[x->pos] == '\n') {
			x->line++;
			x->col = 1;
		} else {
			x->col++;
		}
		x->pos++;
	}
}

static bool x_starts(const struct xml *x, const char *lit)
{
	size_t n = strlen(lit);
	return x->len - x->pos >= n && !memcmp(x->s + x->pos, lit, n);
}

/* Skips to just after `end`; error when the input ends first. */
static int x_skip_past(struct xml *x, const char *end, const char *what)
{
	int line = x->line, col = x->col;
	const char *hit = memmem(x->s + x->pos, x->len - x->pos, end, strlen(end));

	if (!hit)
		return sbx_parse_fail(x->e, line, col, "truncated: %s is not closed", what);
	x_adv(x, (size_t)(hit - (x->s + x->pos)) + strlen(end));
	return 0;
}

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == ':' ||
	       (unsigned char)c >= 0x80;
}

/* Decodes an attribute value with entities into b. */
static int x_decode(struct xml *x, struct buf *b, const char *v, size_t n, int line, int col)
{
	size_t i = 0;

	buf_reset(b);
	while (i < n) {
		if (v[i] != '&') {
			if (v[i] == '<')
				return sbx_parse_fail(x->e, line, col, "'<' in an attribute value");
			buf_addch(b, v[i++]);
			continue;
		}
		{
			const char *semi = memchr(v + i, ';', n - i);
			size_t elen;
			if (!semi || semi - (v + i) > 12)
				return sbx_parse_fail(x->e, line, col, "malformed entity reference");
			elen = (size_t)(semi - (v + i)) + 1;
			if (!strncmp(v + i, "&lt;", elen)) buf_addch(b, '<');
			else if (!strncmp(v + i, "&gt;", elen)) buf_addch(b, '>');
			else if (!strncmp(v + i, "&amp;", elen)) buf_addch(b, '&');
			else if (!strncmp(v + i, "&quot;", elen)) buf_addch(b, '"');
			else if (!strncmp(v + i, "&apos;", elen)) buf_addch(b, '\'');
			else if (v[i + 1] == '#') {
				char num[16];
				char *end;
				unsigned long cp;
				bool hex = v[i + 2] == 'x' || v[i + 2] == 'X';
				size_t dl = elen - 3 - (hex ? 1 : 0);
				if (dl == 0 || dl >= sizeof num)
					return sbx_parse_fail(x->e, line, col, "malformed character reference");
				memcpy(num, v + i + 2 + (hex ? 1 : 0), dl);
				num[dl] = '\0';
				cp = strtoul(num, &end, hex ? 16 : 10);
				if (*end || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
					return sbx_parse_fail(x->e, line, col, "bad character reference");
				if (cp < 0x80) {
					buf_addch(b, (int)cp);
				} else if (cp < 0x800) {
					buf_addch(b, (int)(0xC0 | (cp >> 6)));
					buf_addch(b, (int)(0x80 | (cp & 0x3F)));
				} else if (cp < 0x10000) {
					buf_addch(b, (int)(0xE0 | (cp >> 12)));
					buf_addch(b, (int)(0x80 | ((cp >> 6) & 0x3F)));
					buf_addch(b, (int)(0x80 | (cp & 0x3F)));
				} else {
					buf_addch(b, (int)(0xF0 | (cp >> 18)));
					buf_addch(b, (int)(0x80 | ((cp >> 12) & 0x3F)));
					buf_addch(b, (int)(0x80 | ((cp >> 6) & 0x3F)));
					buf_addch(b, (int)(0x80 | (cp & 0x3F)));
				}
			} else {
				return sbx_parse_fail(x->e, line, col, "unknown entity '%.*s'", (int)elen,
					    v + i);
			}
			i += elen;
		}
	}
	return 0;
}

#define XML_MAX_DEPTH 64

struct tc {            /* the open <testcase> */
	bool open;
	int depth;
	enum sbx_test_status st;
	struct buf name, classname, file;
};

static int tc_emit(struct sbx_tests *t, struct tc *c)
{
	struct buf id = BUF_INIT;
	int error;

	if (c->file.len)
		buf_addf(&id, "%s::%s", c->file.data, c->name.data);
	else if (c->classname.len)
		buf_addf(&id, "%s::%s", c->classname.data, c->name.data);
	else
		buf_add(&id, c->name.data, c->name.len);
	error = sbx_tests_add(t, id.data, id.len, c->st);
	buf_release(&id);
	c->open = false;
	return error;
}

/* The state of one JUnit parse. */
struct junit {
	struct xml x;
	struct sbx_tests *t;
	struct tc c;
	struct buf val;            /* the attribute value being decoded */
	char stack[XML_MAX_DEPTH][48];
	int stack_line[XML_MAX_DEPTH];
	int depth;
	bool seen_root;
};

static void x_skip_space(struct xml *x)
{
	while (x->pos < x->len && isspace((unsigned char)x->s[x->pos]))
		x_adv(x, 1);
}

/* Reads an XML name at the position into name[size] (cut, not refused,
 * when longer); returns its length as read into name. */
static size_t x_name(struct xml *x, char *name, size_t size)
{
	size_t nl = 0;

	while (x->pos < x->len && is_name_char(x->s[x->pos])) {
		if (nl + 1 < size)
			name[nl++] = x->s[x->pos];
		x_adv(x, 1);
	}
	name[nl] = '\0';
	return nl;
}

/* Text, processing instructions, comments and CDATA between tags: skipped
 * (*skipped set); DTDs refused. */
static int j_skip_markup(struct junit *j, bool *skipped)
{
	struct xml *x = &j->x;
	int line = x->line, col = x->col;

	*skipped = true;
	if (x->s[x->pos] != '<') {
		if (j->depth == 0 && !isspace((unsigned char)x->s[x->pos]))
			return sbx_parse_fail(x->e, line, col, "text outside the root element");
		x_adv(x, 1);
		return 0;
	}
	if (x_starts(x, "<?"))
		return x_skip_past(x, "?>", "a processing instruction");
	if (x_starts(x, "<!--"))
		return x_skip_past(x, "-->", "a comment");
	if (x_starts(x, "<![CDATA["))
		return x_skip_past(x, "]]>", "a CDATA section");
	if (x_starts(x, "<!"))
		return sbx_parse_fail(x->e, line, col, "DTDs and declarations are not accepted");
	*skipped = false;
	return 0;
}

/* One attribute `aname="value"` of <name>, its value decoded into j->val. */
static int j_attribute(struct junit *j, const char *name, char *aname, size_t asize, int line,
		       int col)
{
	struct xml *x = &j->x;
	int aline = x->line, acol = x->col;
	const char *vstart, *q;
	size_t al = x_name(x, aname, asize);
	char quote;
	int error;

	x_skip_space(x);
	if (al == 0 || x->pos >= x->len || x->s[x->pos] != '=')
		return x->pos >= x->len ? sbx_parse_fail(x->e, line, col, "truncated: tag <%s> is not closed",
					       name)
					: sbx_parse_fail(x->e, aline, acol, "malformed attribute in <%s>", name);
	x_adv(x, 1);
	x_skip_space(x);
	if (x->pos >= x->len || (x->s[x->pos] != '"' && x->s[x->pos] != '\''))
		return sbx_parse_fail(x->e, aline, acol, "attribute %s of <%s> needs a quoted value", aname,
			    name);
	quote = x->s[x->pos];
	x_adv(x, 1);
	vstart = x->s + x->pos;
	q = memchr(vstart, quote, x->len - x->pos);
	if (!q)
		return sbx_parse_fail(x->e, aline, acol, "truncated: attribute %s of <%s> is not closed",
			    aname, name);
	if ((error = x_decode(x, &j->val, vstart, (size_t)(q - vstart), aline, acol)))
		return error;
	x_adv(x, (size_t)(q - vstart) + 1);
	return 0;
}

/* The attributes of the tag <name> (or </name>) up to its '>' or '/>';
 * a <testcase>'s name, classname and file go to j->c. */
static int j_attributes(struct junit *j, const char *name, bool closing, bool *self_close,
			int line, int col)
{
	struct xml *x = &j->x;
	bool testcase = !closing && !strcmp(name, "testcase");
	int error;

	if (testcase) {
		buf_reset(&j->c.name);
		buf_reset(&j->c.classname);
		buf_reset(&j->c.file);
	}
	for (;;) {
		char aname[48];

		x_skip_space(x);
		if (x->pos >= x->len)
			return sbx_parse_fail(x->e, line, col, "truncated: tag <%s> is not closed", name);
		if (x->s[x->pos] == '>') {
			x_adv(x, 1);
			return 0;
		}
		if (x_starts(x, "/>") && !closing) {
			*self_close = true;
			x_adv(x, 2);
			return 0;
		}
		if (closing)
			return sbx_parse_fail(x->e, x->line, x->col, "unexpected text in </%s>", name);
		if ((error = j_attribute(j, name, aname, sizeof aname, line, col)))
			return error;
		if (!testcase)
			continue;
		if (!strcmp(aname, "name"))
			buf_add(&j->c.name, j->val.data, j->val.len);
		else if (!strcmp(aname, "classname"))
			buf_add(&j->c.classname, j->val.data, j->val.len);
		else if (!strcmp(aname, "file"))
			buf_add(&j->c.file, j->val.data, j->val.len);
	}
}

/* </name>: closes the innermost element, emitting its test case. */
static int j_close(struct junit *j, const char *name, int line, int col)
{
	struct xml *x = &j->x;

	if (j->depth == 0 || strcmp(j->stack[j->depth - 1], name))
		return sbx_parse_fail(x->e, line, col, "</%s> does not close <%s>", name,
			    j->depth ? j->stack[j->depth - 1] : "(nothing)");
	j->depth--;
	if (j->c.open && j->depth == j->c.depth && tc_emit(j->t, &j->c))
		return sbx_parse_fail(x->e, line, col, "%s", ln_error_msg());
	return 0;
}

/* <name ...> or <name .../>: the root check, test cases and their
 * outcome children, the element stack. */
static int j_open(struct junit *j, const char *name, size_t nl, bool self_close, int line,
		  int col)
{
	struct xml *x = &j->x;
	struct tc *c = &j->c;

	if (j->depth == 0) {
		if (j->seen_root)
			return sbx_parse_fail(x->e, line, col, "a second root element <%s>", name);
		if (strcmp(name, "testsuites") && strcmp(name, "testsuite"))
			return sbx_parse_fail(x->e, line, col, "root element is <%s>, not <testsuites> "
				    "or <testsuite>", name);
		j->seen_root = true;
	}
	if (!strcmp(name, "testcase")) {
		if (c->open)
			return sbx_parse_fail(x->e, line, col, "<testcase> inside <testcase>");
		if (c->name.len == 0)
			return sbx_parse_fail(x->e, line, col, "<testcase> without a name");
		c->open = true;
		c->depth = j->depth;
		c->st = SBX_T_PASS;
	} else if (c->open) {
		enum sbx_test_status st = SBX_T_PASS;
		if (!strcmp(name, "failure"))
			st = SBX_T_FAIL;
		else if (!strcmp(name, "error"))
			st = SBX_T_ERROR;
		else if (!strcmp(name, "skipped"))
			st = SBX_T_SKIP;
		if (st != SBX_T_PASS && (c->st == SBX_T_PASS || sbx_test_severity(st) > sbx_test_severity(c->st)))
			c->st = st;
	}
	if (self_close) {
		if (c->open && c->depth == j->depth && !strcmp(name, "testcase") &&
		    tc_emit(j->t, c))
			return sbx_parse_fail(x->e, line, col, "%s", ln_error_msg());
		return 0;
	}
	if (j->depth == XML_MAX_DEPTH)
		return sbx_parse_fail(x->e, line, col, "elements nested deeper than %d", XML_MAX_DEPTH);
	memcpy(j->stack[j->depth], name, nl + 1);
	j->stack_line[j->depth] = line;
	j->depth++;
	return 0;
}

/* One tag starting at '<'. */
static int j_tag(struct junit *j)
{
	struct xml *x = &j->x;
	int line = x->line, col = x->col, error;
	char name[48];
	size_t nl;
	bool closing = false, self_close = false;

	x_adv(x, 1);
	if (x->pos < x->len && x->s[x->pos] == '/') {
		closing = true;
		x_adv(x, 1);
	}
	nl = x_name(x, name, sizeof name);
	if (nl == 0)
		return x->pos >= x->len ? sbx_parse_fail(x->e, line, col, "truncated inside a tag")
					: sbx_parse_fail(x->e, line, col, "expected an element name after '<'");
	if ((error = j_attributes(j, name, closing, &self_close, line, col)))
		return error;
	if (closing)
		return j_close(j, name, line, col);
	return j_open(j, name, nl, self_close, line, col);
}

int sbx_parse_junit(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e)
{
	struct junit *j = xcalloc(1, sizeof *j);
	int error = 0;

	sbx_parse_error_clear(e);
	j->x = (struct xml){ data, len, 0, 1, 1, e };
	j->t = t;
	buf_init(&j->val);
	buf_init(&j->c.name);
	buf_init(&j->c.classname);
	buf_init(&j->c.file);
	if (len > LN_FILE_MAX_BYTES) {
		error = sbx_parse_fail(e, 0, 0, "JUnit XML larger than %zu bytes", LN_FILE_MAX_BYTES);
		goto done;
	}
	if (memchr(data, '\0', len)) {
		error = sbx_parse_fail(e, 0, 0, "JUnit XML contains a NUL byte");
		goto done;
	}
	while (j->x.pos < j->x.len) {
		bool skipped;
		if ((error = j_skip_markup(j, &skipped)))
			goto done;
		if (!skipped && (error = j_tag(j)))
			goto done;
	}
	if (j->depth > 0) {
		error = sbx_parse_fail(e, j->stack_line[j->depth - 1], 0, "truncated: <%s> (line %d) is not "
			     "closed", j->stack[j->depth - 1], j->stack_line[j->depth - 1]);
		goto done;
	}
	if (!j->seen_root)
		error = sbx_parse_fail(e, 0, 0, "no <testsuites> or <testsuite> element (empty file?)");
done:
	buf_release(&j->val);
	buf_release(&j->c.name);
	buf_release(&j->c.classname);
	buf_release(&j->c.file);
	free(j);
	return error;
}
