#include "sandbox/outcome.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/limits.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbx_tests_init(struct sbx_tests *t)
{
	memset(t, 0, sizeof *t);
}

void sbx_tests_release(struct sbx_tests *t)
{
	size_t i;
	for (i = 0; i < t->n; i++)
		free(t->v[i].id);
	free(t->v);
	memset(t, 0, sizeof *t);
}

static int severity(enum sbx_test_status s)
{
	switch (s) {
	case SBX_T_SKIP: return 0;
	case SBX_T_PASS: return 1;
	case SBX_T_FAIL: return 2;
	case SBX_T_ERROR: return 3;
	}
	return 0;
}

int sbx_tests_add(struct sbx_tests *t, const char *id, size_t id_len, enum sbx_test_status st)
{
	size_t i;

	if (id_len == 0)
		return ln_error_set(LN_EINPUT, "empty test id");
	if (id_len > SBX_TEST_ID_MAX)
		return ln_error_set(LN_EINPUT, "test id longer than %d bytes", SBX_TEST_ID_MAX);
	if (memchr(id, '\0', id_len))
		return ln_error_set(LN_EINPUT, "test id contains a NUL byte");
	/* merging is linear, but only for the (rare) repeated id of the last
	 * few results: parametrised runs repeat ids back to back */
	for (i = t->n; i > 0 && i + 8 > t->n; i--) {
		struct sbx_test *x = &t->v[i - 1];
		if (strlen(x->id) == id_len && !memcmp(x->id, id, id_len)) {
			if (severity(st) > severity(x->status))
				x->status = st;
			return 0;
		}
	}
	if (t->n >= SBX_OUTCOME_MAX_TESTS)
		return ln_error_set(LN_EINPUT, "more than %d test results", SBX_OUTCOME_MAX_TESTS);
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xrealloc(t->v, t->cap * sizeof *t->v);
	}
	t->v[t->n].id = xstrndup(id, id_len);
	t->v[t->n].status = st;
	t->n++;
	return 0;
}

static int cmp_test(const void *a, const void *b)
{
	return strcmp(((const struct sbx_test *)a)->id, ((const struct sbx_test *)b)->id);
}

void sbx_tests_sort(struct sbx_tests *t)
{
	size_t i, j;

	if (t->n > 1)
		qsort(t->v, t->n, sizeof *t->v, cmp_test);
	/* merge duplicates that were not adjacent */
	for (i = 0, j = 0; i < t->n; i++) {
		if (j > 0 && !strcmp(t->v[j - 1].id, t->v[i].id)) {
			if (severity(t->v[i].status) > severity(t->v[j - 1].status))
				t->v[j - 1].status = t->v[i].status;
			free(t->v[i].id);
			continue;
		}
		t->v[j++] = t->v[i];
	}
	t->n = j;
}

/* ".py" dropped, "/" and "::" read as ".". */
static void normal_form(struct buf *b, const char *id)
{
	const char *p;

	buf_reset(b);
	for (p = id; *p; p++) {
		if (!strncmp(p, ".py::", 5) || (!strcmp(p, ".py"))) {
			p += 2;
			continue;
		}
		if (p[0] == ':' && p[1] == ':') {
			buf_addch(b, '.');
			p++;
		} else if (*p == '/') {
			buf_addch(b, '.');
		} else {
			buf_addch(b, *p);
		}
	}
}

int sbx_tests_find(const struct sbx_tests *t, const char *id)
{
	struct buf want = BUF_INIT, have = BUF_INIT;
	size_t i;
	int found = -1;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].id, id))
			return (int)t->v[i].status;
	normal_form(&want, id);
	for (i = 0; i < t->n && found < 0; i++) {
		normal_form(&have, t->v[i].id);
		if (!strcmp(have.data, want.data))
			found = (int)t->v[i].status;
	}
	buf_release(&want);
	buf_release(&have);
	return found;
}

const char *sbx_test_status_name(enum sbx_test_status s)
{
	switch (s) {
	case SBX_T_PASS: return "passed";
	case SBX_T_SKIP: return "skipped";
	case SBX_T_FAIL: return "failed";
	case SBX_T_ERROR: return "error";
	}
	return "error";
}

json_t *sbx_tests_json(const struct sbx_tests *t)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < t->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "id", t->v[i].id, "status",
						   sbx_test_status_name(t->v[i].status)));
	return a;
}

static int perr(struct sbx_parse_error *e, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(struct sbx_parse_error *e, int line, int col, const char *fmt, ...)
{
	va_list ap;

	e->line = line;
	e->column = col;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof e->text, fmt, ap);
	va_end(ap);
	if (line > 0)
		return ln_error_set(LN_EINPUT, "%d:%d: %s", line, col, e->text);
	return ln_error_set(LN_EINPUT, "%s", e->text);
}

static void perr_clear(struct sbx_parse_error *e)
{
	memset(e, 0, sizeof *e);
}

/* --- JUnit XML --- */

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
		return perr(x->e, line, col, "truncated: %s is not closed", what);
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
				return perr(x->e, line, col, "'<' in an attribute value");
			buf_addch(b, v[i++]);
			continue;
		}
		{
			const char *semi = memchr(v + i, ';', n - i);
			size_t elen;
			if (!semi || semi - (v + i) > 12)
				return perr(x->e, line, col, "malformed entity reference");
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
					return perr(x->e, line, col, "malformed character reference");
				memcpy(num, v + i + 2 + (hex ? 1 : 0), dl);
				num[dl] = '\0';
				cp = strtoul(num, &end, hex ? 16 : 10);
				if (*end || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
					return perr(x->e, line, col, "bad character reference");
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
				return perr(x->e, line, col, "unknown entity '%.*s'", (int)elen,
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

int sbx_parse_junit(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e)
{
	struct xml x = { data, len, 0, 1, 1, e };
	struct tc c;
	struct buf val = BUF_INIT;
	char stack[XML_MAX_DEPTH][48];
	int stack_line[XML_MAX_DEPTH];
	int depth = 0, error = 0;
	bool seen_root = false;

	perr_clear(e);
	memset(&c, 0, sizeof c);
	buf_init(&c.name);
	buf_init(&c.classname);
	buf_init(&c.file);
	if (len > LN_FILE_MAX_BYTES) {
		error = perr(e, 0, 0, "JUnit XML larger than %zu bytes", LN_FILE_MAX_BYTES);
		goto done;
	}
	if (memchr(data, '\0', len)) {
		error = perr(e, 0, 0, "JUnit XML contains a NUL byte");
		goto done;
	}
	while (x.pos < x.len) {
		int line = x.line, col = x.col;
		char name[48];
		size_t nl = 0;
		bool closing = false, self_close = false;

		if (data[x.pos] != '<') {
			if (depth == 0 && !isspace((unsigned char)data[x.pos])) {
				error = perr(e, line, col, "text outside the root element");
				goto done;
			}
			x_adv(&x, 1);
			continue;
		}
		if (x_starts(&x, "<?")) {
			if ((error = x_skip_past(&x, "?>", "a processing instruction")))
				goto done;
			continue;
		}
		if (x_starts(&x, "<!--")) {
			if ((error = x_skip_past(&x, "-->", "a comment")))
				goto done;
			continue;
		}
		if (x_starts(&x, "<![CDATA[")) {
			if ((error = x_skip_past(&x, "]]>", "a CDATA section")))
				goto done;
			continue;
		}
		if (x_starts(&x, "<!")) {
			error = perr(e, line, col, "DTDs and declarations are not accepted");
			goto done;
		}
		x_adv(&x, 1);
		if (x.pos < x.len && data[x.pos] == '/') {
			closing = true;
			x_adv(&x, 1);
		}
		while (x.pos < x.len && is_name_char(data[x.pos])) {
			if (nl + 1 < sizeof name)
				name[nl++] = data[x.pos];
			x_adv(&x, 1);
		}
		name[nl] = '\0';
		if (nl == 0) {
			error = x.pos >= x.len ? perr(e, line, col, "truncated inside a tag")
					       : perr(e, line, col, "expected an element name after '<'");
			goto done;
		}
		if (!closing && !strcmp(name, "testcase")) {
			buf_reset(&c.name);
			buf_reset(&c.classname);
			buf_reset(&c.file);
		}
		/* attributes */
		for (;;) {
			char aname[48];
			size_t al = 0;
			char quote;
			const char *vstart;
			int aline, acol;

			while (x.pos < x.len && isspace((unsigned char)data[x.pos]))
				x_adv(&x, 1);
			if (x.pos >= x.len) {
				error = perr(e, line, col, "truncated: tag <%s> is not closed", name);
				goto done;
			}
			if (data[x.pos] == '>') {
				x_adv(&x, 1);
				break;
			}
			if (x_starts(&x, "/>") && !closing) {
				self_close = true;
				x_adv(&x, 2);
				break;
			}
			if (closing) {
				error = perr(e, x.line, x.col, "unexpected text in </%s>", name);
				goto done;
			}
			aline = x.line;
			acol = x.col;
			while (x.pos < x.len && is_name_char(data[x.pos])) {
				if (al + 1 < sizeof aname)
					aname[al++] = data[x.pos];
				x_adv(&x, 1);
			}
			aname[al] = '\0';
			while (x.pos < x.len && isspace((unsigned char)data[x.pos]))
				x_adv(&x, 1);
			if (al == 0 || x.pos >= x.len || data[x.pos] != '=') {
				error = x.pos >= x.len ? perr(e, line, col, "truncated: tag <%s> is "
							      "not closed", name)
						       : perr(e, aline, acol, "malformed attribute in <%s>",
							      name);
				goto done;
			}
			x_adv(&x, 1);
			while (x.pos < x.len && isspace((unsigned char)data[x.pos]))
				x_adv(&x, 1);
			if (x.pos >= x.len || (data[x.pos] != '"' && data[x.pos] != '\'')) {
				error = perr(e, aline, acol, "attribute %s of <%s> needs a quoted value",
					     aname, name);
				goto done;
			}
			quote = data[x.pos];
			x_adv(&x, 1);
			vstart = data + x.pos;
			{
				const char *q = memchr(vstart, quote, x.len - x.pos);
				if (!q) {
					error = perr(e, aline, acol, "truncated: attribute %s of <%s> "
						     "is not closed", aname, name);
					goto done;
				}
				if ((error = x_decode(&x, &val, vstart, (size_t)(q - vstart), aline,
						      acol)))
					goto done;
				x_adv(&x, (size_t)(q - vstart) + 1);
			}
			if (!strcmp(name, "testcase") && !closing) {
				if (!strcmp(aname, "name"))
					buf_add(&c.name, val.data, val.len);
				else if (!strcmp(aname, "classname"))
					buf_add(&c.classname, val.data, val.len);
				else if (!strcmp(aname, "file"))
					buf_add(&c.file, val.data, val.len);
			}
		}

		if (closing) {
			if (depth == 0 || strcmp(stack[depth - 1], name)) {
				error = perr(e, line, col, "</%s> does not close <%s>", name,
					     depth ? stack[depth - 1] : "(nothing)");
				goto done;
			}
			depth--;
			if (c.open && depth == c.depth && tc_emit(t, &c)) {
				error = perr(e, line, col, "%s", ln_error_msg());
				goto done;
			}
			continue;
		}
		/* a start tag */
		if (depth == 0) {
			if (seen_root) {
				error = perr(e, line, col, "a second root element <%s>", name);
				goto done;
			}
			if (strcmp(name, "testsuites") && strcmp(name, "testsuite")) {
				error = perr(e, line, col, "root element is <%s>, not <testsuites> "
					     "or <testsuite>", name);
				goto done;
			}
			seen_root = true;
		}
		if (!strcmp(name, "testcase")) {
			if (c.open) {
				error = perr(e, line, col, "<testcase> inside <testcase>");
				goto done;
			}
			if (c.name.len == 0) {
				error = perr(e, line, col, "<testcase> without a name");
				goto done;
			}
			c.open = true;
			c.depth = depth;
			c.st = SBX_T_PASS;
		} else if (c.open) {
			enum sbx_test_status st = SBX_T_PASS;
			if (!strcmp(name, "failure"))
				st = SBX_T_FAIL;
			else if (!strcmp(name, "error"))
				st = SBX_T_ERROR;
			else if (!strcmp(name, "skipped"))
				st = SBX_T_SKIP;
			if (st != SBX_T_PASS && (c.st == SBX_T_PASS || severity(st) > severity(c.st)))
				c.st = st;
		}
		if (self_close) {
			if (c.open && c.depth == depth && !strcmp(name, "testcase") &&
			    tc_emit(t, &c)) {
				error = perr(e, line, col, "%s", ln_error_msg());
				goto done;
			}
			continue;
		}
		if (depth == XML_MAX_DEPTH) {
			error = perr(e, line, col, "elements nested deeper than %d", XML_MAX_DEPTH);
			goto done;
		}
		memcpy(stack[depth], name, nl + 1);
		stack_line[depth] = line;
		depth++;
	}
	if (depth > 0) {
		error = perr(e, stack_line[depth - 1], 0, "truncated: <%s> (line %d) is not closed",
			     stack[depth - 1], stack_line[depth - 1]);
		goto done;
	}
	if (!seen_root)
		error = perr(e, 0, 0, "no <testsuites> or <testsuite> element (empty file?)");
done:
	buf_release(&val);
	buf_release(&c.name);
	buf_release(&c.classname);
	buf_release(&c.file);
	return error;
}

/* --- line-based formats --- */

struct lines {
	const char *s;
	size_t len, pos;
	int no;
};

/* Next line (without its newline) in *l, *n; false at the end. */
static bool next_line(struct lines *ls, const char **l, size_t *n)
{
	const char *nl;

	if (ls->pos >= ls->len)
		return false;
	*l = ls->s + ls->pos;
	nl = memchr(*l, '\n', ls->len - ls->pos);
	*n = nl ? (size_t)(nl - *l) : ls->len - ls->pos;
	ls->pos += *n + (nl ? 1 : 0);
	if (*n > 0 && (*l)[*n - 1] == '\r')
		(*n)--;
	ls->no++;
	return true;
}

static bool starts(const char *l, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	return n >= k && !memcmp(l, lit, k);
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Case-insensitive search for a directive word after '#'. */
static bool has_directive(const char *d, size_t n, const char *word)
{
	size_t k = strlen(word);
	return n >= k && !strncasecmp(d, word, k);
}

/*
 * Several TAP streams may follow each other (a `make test` that runs two
 * TAP programs): a plan after a complete stream, or a test line after a
 * stream closed by its trailing plan, starts the next one. Each stream must
 * be complete. Numeric ids of the second and later streams are "<k>:<n>".
 */
int sbx_parse_tap(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e)
{
	struct lines ls = { data, len, 0, 0 };
	const char *l;
	size_t n;
	long plan = -1, count = 0, last_no = 0, streams = 0, total = 0;
	int plan_line = 0, overflow_of = 0, error;
	bool leading = false, closed = false;

	perr_clear(e);
	if (len > LN_FILE_MAX_BYTES)
		return perr(e, 0, 0, "TAP output larger than %zu bytes", LN_FILE_MAX_BYTES);
	while (next_line(&ls, &l, &n)) {
		bool ok;
		const char *p, *desc, *hash;
		size_t rest, dn;
		long num = 0;
		enum sbx_test_status st;
		char numid[48];

		/* binary noise (a build's output) is not TAP; indented lines are
		 * YAML diagnostics or subtests */
		if (memchr(l, '\0', n))
			continue;
		if (starts(l, n, "Bail out!"))
			return perr(e, ls.no, 1, "the test run bailed out: %.*s",
				    (int)(n > 120 ? 120 : n), l);
		if (starts(l, n, "1..")) {
			char num_s[24];
			size_t k = 3, d = 0;
			long v;
			while (k < n && d + 1 < sizeof num_s && isdigit((unsigned char)l[k]))
				num_s[d++] = l[k++];
			num_s[d] = '\0';
			if (d == 0 || d > 9)
				return perr(e, ls.no, 4, "malformed plan '%.*s'",
					    (int)(n > 40 ? 40 : n), l);
			v = strtol(num_s, NULL, 10);
			if (plan < 0 && !closed && count > 0) {
				/* the trailing plan of the current stream */
				if (count != v)
					return perr(e, ls.no, 1, "%s: the plan 1..%ld announces %ld "
						    "tests, %ld ran", count < v ? "truncated TAP" :
						    "too many tests", v, v, count);
				plan = v;
				plan_line = ls.no;
				closed = true;
				continue;
			}
			if (plan >= 0 && !closed && count < plan)
				return perr(e, plan_line, 1, "truncated TAP: the plan 1..%ld announces "
					    "%ld tests, %ld ran before the next plan (line %d)", plan,
					    plan, count, ls.no);
			/* a leading plan: of the first stream, or of the next one */
			if (plan >= 0 || closed || streams == 0)
				streams++;
			plan = v;
			plan_line = ls.no;
			leading = true;
			closed = false;
			count = 0;
			last_no = 0;
			overflow_of = 0;
			continue;
		}
		if (starts(l, n, "ok"))
			ok = true;
		else if (starts(l, n, "not ok"))
			ok = false;
		else
			continue;
		p = l + (ok ? 2 : 6);
		rest = n - (size_t)(ok ? 2 : 6);
		if (rest > 0 && *p != ' ' && *p != '\t')
			continue; /* "okay ..." is not a test line */
		if (streams == 0 || closed || (leading && plan >= 0 && count == plan)) {
			/* the next stream (its plan, if any, comes last) */
			overflow_of = (leading && !closed && streams > 0) ? plan_line : 0;
			streams++;
			plan = -1;
			leading = false;
			closed = false;
			count = 0;
			last_no = 0;
		}
		while (rest > 0 && (*p == ' ' || *p == '\t'))
			p++, rest--;
		while (rest > 0 && isdigit((unsigned char)*p)) {
			if (num < 100000000)
				num = num * 10 + (*p - '0');
			p++, rest--;
		}
		if (num == 0)
			num = last_no + 1;
		last_no = num;
		count++;
		total++;
		desc = p;
		dn = rest;
		hash = memchr(desc, '#', dn);
		st = ok ? SBX_T_PASS : SBX_T_FAIL;
		if (hash) {
			const char *d = hash + 1;
			size_t dl = dn - (size_t)(d - desc);
			while (dl > 0 && *d == ' ')
				d++, dl--;
			if (has_directive(d, dl, "skip"))
				st = SBX_T_SKIP;
			else if (has_directive(d, dl, "todo"))
				st = SBX_T_SKIP; /* a known failure: not counted either way */
			dn = (size_t)(hash - desc);
		}
		trim(&desc, &dn);
		if (dn > 0 && *desc == '-') {
			desc++, dn--;
			trim(&desc, &dn);
		}
		if (dn == 0) {
			if (streams > 1)
				snprintf(numid, sizeof numid, "%ld:%ld", streams, num);
			else
				snprintf(numid, sizeof numid, "%ld", num);
			desc = numid;
			dn = strlen(numid);
		}
		if ((error = sbx_tests_add(t, desc, dn, st)))
			return perr(e, ls.no, 1, "%s", ln_error_msg());
	}
	if (streams == 0)
		return perr(e, 0, 0, "no TAP output (no plan, no test line)");
	if (plan < 0) {
		if (overflow_of)
			return perr(e, overflow_of, 1, "the plan on line %d announces fewer tests "
				    "than ran (%ld more, and no plan for them)", overflow_of, count);
		return perr(e, 0, 0, "truncated TAP: %ld test lines but no plan", count);
	}
	if (count < plan)
		return perr(e, plan_line, 1, "truncated TAP: the plan 1..%ld announces %ld tests, "
			    "%ld ran", plan, plan, count);
	(void)total;
	return 0;
}

/* pytest's last line: "==== 3 passed, 1 failed in 0.12s ====", or with -q
 * "3 passed, 1 failed in 0.12s" (also "no tests ran in 0.01s"). */
static bool is_final_line(const char *l, size_t n)
{
	const char *in = NULL, *p;

	while (n > 0 && (*l == '=' || *l == ' '))
		l++, n--;
	while (n > 0 && (l[n - 1] == '=' || l[n - 1] == ' '))
		n--;
	if (n == 0 || (!isdigit((unsigned char)*l) && !starts(l, n, "no tests ran")))
		return false;
	for (p = l; p + 4 <= l + n; p++)
		if (!memcmp(p, " in ", 4))
			in = p;
	if (!in || in + 4 >= l + n || !isdigit((unsigned char)in[4]))
		return false;
	return memchr(in + 4, 's', (size_t)(l + n - (in + 4))) != NULL;
}

int sbx_parse_pytest(struct sbx_tests *t, const char *data, size_t len, struct sbx_parse_error *e)
{
	static const struct { const char *word; enum sbx_test_status st; } words[] = {
		{ "PASSED ", SBX_T_PASS }, { "FAILED ", SBX_T_FAIL }, { "ERROR ", SBX_T_ERROR },
		{ "SKIPPED ", SBX_T_SKIP }, { "XFAIL ", SBX_T_SKIP }, { "XPASS ", SBX_T_FAIL },
	};
	struct lines ls = { data, len, 0, 0 };
	const char *l;
	size_t n, i;
	bool in_summary = false, closed = false;
	int summary_line = 0, error;

	perr_clear(e);
	if (len > LN_FILE_MAX_BYTES)
		return perr(e, 0, 0, "pytest output larger than %zu bytes", LN_FILE_MAX_BYTES);
	while (next_line(&ls, &l, &n)) {
		const char *id;
		size_t idn;

		if (!in_summary) {
			if (starts(l, n, "=") && n < 400 &&
			    memmem(l, n, " short test summary info ", 25)) {
				in_summary = true;
				summary_line = ls.no;
			}
			continue;
		}
		if (n == 0)
			continue;
		if (is_final_line(l, n)) {
			closed = true;
			break;
		}
		if (starts(l, n, "="))
			continue; /* another section header */
		if (starts(l, n, "!"))
			continue; /* "!!!! Interrupted: 1 error during collection !!!!" */
		for (i = 0; i < sizeof words / sizeof words[0]; i++)
			if (starts(l, n, words[i].word))
				break;
		if (i == sizeof words / sizeof words[0])
			return perr(e, ls.no, 1, "unexpected line in pytest's short test summary: "
				    "'%.*s'", (int)(n > 80 ? 80 : n), l);
		id = l + strlen(words[i].word);
		idn = n - strlen(words[i].word);
		if (words[i].st == SBX_T_SKIP && starts(id, idn, "[")) {
			/* "SKIPPED [1] tests/x.py:12: reason": the location is the id */
			const char *sp = memchr(id, ' ', idn);
			const char *colon;
			if (!sp)
				return perr(e, ls.no, 1, "malformed SKIPPED line");
			idn -= (size_t)(sp + 1 - id);
			id = sp + 1;
			colon = memmem(id, idn, ": ", 2);
			if (colon)
				idn = (size_t)(colon - id);
		} else {
			const char *dash = memmem(id, idn, " - ", 3);
			if (dash)
				idn = (size_t)(dash - id);
		}
		trim(&id, &idn);
		if ((error = sbx_tests_add(t, id, idn, words[i].st)))
			return perr(e, ls.no, 1, "%s", ln_error_msg());
	}
	if (!in_summary)
		return perr(e, 0, 0, "no pytest short test summary (run pytest with -rA)");
	if (!closed)
		return perr(e, summary_line, 1, "truncated pytest output: the short test summary "
			    "(line %d) has no closing '=== ... in Ns ===' line", summary_line);
	return 0;
}

enum sbx_format sbx_format_detect(const char *s, size_t len)
{
	struct lines ls = { s, len, 0, 0 };
	const char *l;
	size_t n;
	bool tap = false;

	if (memmem(s, len, " short test summary info ", 25))
		return SBX_FMT_PYTEST;
	while (next_line(&ls, &l, &n)) {
		if ((starts(l, n, "1..") && n > 3 && isdigit((unsigned char)l[3])) ||
		    (starts(l, n, "ok ") && n > 3 && isdigit((unsigned char)l[3])) ||
		    (starts(l, n, "not ok ") && n > 7 && isdigit((unsigned char)l[7])))
			tap = true;
	}
	return tap ? SBX_FMT_TAP : SBX_FMT_NONE;
}

static const char *const fmt_names[] = { "none", "auto", "junit", "tap", "pytest" };

int sbx_format_parse(const char *name)
{
	size_t i;
	for (i = 0; i < sizeof fmt_names / sizeof fmt_names[0]; i++)
		if (!strcmp(name, fmt_names[i]))
			return (int)i;
	return -1;
}

const char *sbx_format_name(enum sbx_format f)
{
	return (unsigned)f < sizeof fmt_names / sizeof fmt_names[0] ? fmt_names[f] : "none";
}

static json_t *flip_group(const struct sbx_tests *t, const json_t *ids, size_t *passed,
			  size_t *total)
{
	json_t *g = json_pack("{s:[], s:[], s:[]}", "passed", "failed", "missing");
	size_t i;

	for (i = 0; i < json_array_size(ids); i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		int st;
		if (!id)
			continue;
		st = sbx_tests_find(t, id);
		(*total)++;
		if (st == SBX_T_PASS) {
			json_array_append_new(json_object_get(g, "passed"), json_string(id));
			(*passed)++;
		} else if (st < 0) {
			json_array_append_new(json_object_get(g, "missing"), json_string(id));
		} else {
			json_array_append_new(json_object_get(g, "failed"), json_string(id));
		}
	}
	return g;
}

json_t *sbx_flips_json(const struct sbx_tests *t, const json_t *f2p, const json_t *p2p,
		       bool *all_passed)
{
	size_t passed = 0, total = 0;
	json_t *o = json_object();

	json_object_set_new(o, "FAIL_TO_PASS", flip_group(t, f2p, &passed, &total));
	json_object_set_new(o, "PASS_TO_PASS", flip_group(t, p2p, &passed, &total));
	*all_passed = total > 0 && passed == total;
	json_object_set_new(o, "resolved", json_boolean(*all_passed));
	return o;
}
