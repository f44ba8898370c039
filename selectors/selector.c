/*
 * selector.c - a hand-written recursive-descent parser for the grammar in
 * docs/selectors.md. Every error names the column of the first character
 * that does not fit and what the grammar expected there.
 */
#include "selectors/selector.h"
#include "core/err.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *s;
	size_t len, pos;
	struct sel_error *err;
	struct sel_error local;
};

/* Code points in s[0..pos) (an invalid byte counts as one). */
static int column_of(const char *s, size_t pos)
{
	size_t i;
	int col = 1;

	for (i = 0; i < pos; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			col++;
	return col;
}

__attribute__((format(printf, 3, 4)))
static int fail_at(struct parser *p, size_t pos, const char *fmt, ...)
{
	struct sel_error *e = p->err;
	va_list ap;
	char msg[160];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	e->column = column_of(p->s, pos);
	snprintf(e->text, sizeof e->text, "selector:1:%d: %s", e->column, msg);
	return ln_error_set(LN_ESELECTOR, "%s", e->text);
}

static int at_end(const struct parser *p)
{
	return p->pos >= p->len;
}

static int peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static bool eat(struct parser *p, const char *lit)
{
	size_t n = strlen(lit);

	if (p->len - p->pos >= n && !memcmp(p->s + p->pos, lit, n)) {
		p->pos += n;
		return true;
	}
	return false;
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2; cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3; cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4; cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need;
}

static bool utf8_valid(const char *s, size_t n, size_t *bad)
{
	size_t i = 0, k;

	while (i < n) {
		k = utf8_len((const unsigned char *)s + i, n - i);
		if (!k) {
			if (bad)
				*bad = i;
			return false;
		}
		i += k;
	}
	return true;
}

/* A percent escape at p->pos ("%XX"): appends the byte. */
static int pct_escape(struct parser *p, struct buf *out)
{
	int h, l;

	if (p->len - p->pos < 3 || (h = ln_hex_value((unsigned char)p->s[p->pos + 1])) < 0 ||
	    (l = ln_hex_value((unsigned char)p->s[p->pos + 2])) < 0)
		return fail_at(p, p->pos, "expected two hex digits after '%%'");
	if (h == 0 && l == 0)
		return fail_at(p, p->pos, "expected a percent escape other than %%00");
	buf_addch(out, h * 16 + l);
	p->pos += 3;
	return 0;
}

/* Checks decoded text: valid UTF-8, no control characters except those
 * `allowed` (a string of them). `start` is where the encoded text began. */
static int check_decoded(struct parser *p, const struct buf *b, size_t start, const char *what,
			 const char *allowed)
{
	size_t bad, i;

	if (!utf8_valid(b->data, b->len, &bad))
		return fail_at(p, start, "expected %s that decodes to valid UTF-8", what);
	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if ((c < 0x20 || c == 0x7F) && !strchr(allowed, c))
			return fail_at(p, start, "expected %s without control characters", what);
	}
	return 0;
}

/* A number 1..SEL_MAX_NUMBER (or 0.. when allow_zero). */
static int number(struct parser *p, long *out, const char *what, bool allow_zero)
{
	size_t start = p->pos;
	long v = 0;

	if (peek(p) < '0' || peek(p) > '9' || (!allow_zero && peek(p) == '0'))
		return fail_at(p, start, "expected %s", what);
	if (peek(p) == '0' && p->pos + 1 < p->len && p->s[p->pos + 1] >= '0' &&
	    p->s[p->pos + 1] <= '9')
		return fail_at(p, start, "expected %s without leading zeros", what);
	while (peek(p) >= '0' && peek(p) <= '9') {
		v = v * 10 + (peek(p) - '0');
		if (v > SEL_MAX_NUMBER)
			return fail_at(p, start, "expected a number of at most %ld", SEL_MAX_NUMBER);
		p->pos++;
	}
	*out = v;
	return 0;
}

static int expect(struct parser *p, const char *lit, const char *shown)
{
	if (!eat(p, lit))
		return fail_at(p, p->pos, "expected %s", shown);
	return 0;
}

static int expect_end(struct parser *p, const char *after)
{
	if (!at_end(p))
		return fail_at(p, p->pos, "expected the end of the selector after %s", after);
	return 0;
}

static bool ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool ident_char(int c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

/* ident: letters, '_', digits after the first, and any non-ASCII character. */
static int ident(struct parser *p, char **out, const char *what)
{
	size_t start = p->pos;

	if (!ident_start(peek(p)))
		return fail_at(p, p->pos, "expected %s", what);
	while (ident_char(peek(p)))
		p->pos++;
	*out = xstrndup(p->s + start, p->pos - start);
	return 0;
}

/* ident { "." ident } into a string array. */
static int dotted(struct parser *p, char ***out, int *n, const char *what)
{
	int error;

	for (;;) {
		char *id = NULL;
		if (*n >= SEL_MAX_QUAL)
			return fail_at(p, p->pos, "expected at most %d name components", SEL_MAX_QUAL);
		error = ident(p, &id, what);
		if (error)
			return error;
		*out = xrealloc(*out, (size_t)(*n + 1) * sizeof **out);
		(*out)[(*n)++] = id;
		if (!eat(p, "."))
			return 0;
	}
}

/*
 * upath: bytes up to '#'. Literal '?', '"', '%' (except in an escape),
 * space and control characters must be percent-encoded; the result is
 * decoded. `required`: an empty path is an error.
 */
static int upath(struct parser *p, char **out, bool required)
{
	struct buf b = BUF_INIT;
	size_t start = p->pos;
	int error = 0, c;

	while ((c = peek(p)) != -1 && c != '#') {
		if (c == '%') {
			if ((error = pct_escape(p, &b)))
				goto done;
			continue;
		}
		if (c == '?' || c == '"' || c == ' ') {
			error = fail_at(p, p->pos, "expected '#' after the path (write '%c' as %%%02X)",
					c, c);
			goto done;
		}
		buf_addch(&b, c);
		p->pos++;
	}
	if (at_end(p)) {
		error = fail_at(p, p->pos, "expected '#' after the path");
		goto done;
	}
	if (required && b.len == 0) {
		error = fail_at(p, p->pos, "expected a path before '#'");
		goto done;
	}
	if ((error = check_decoded(p, &b, start, "a path", "")))
		goto done;
	if (b.len)
		*out = buf_detach(&b, NULL);
done:
	buf_release(&b);
	return error;
}

static int parse_position(struct parser *p, struct sel *sel)
{
	const char *at = NULL;
	size_t i;
	int error;

	for (i = p->len; i > 0; i--)
		if (p->s[i - 1] == '@') {
			at = p->s + i - 1;
			break;
		}
	if (!at)
		return fail_at(p, p->len, "expected '@L<line>:C<col>' or '@R(<line>,<col>-><line>,<col>)' "
			       "after the path (or a scheme: py:// c:// ts:// js:// ast:// anchor://)");
	if (at == p->s)
		return fail_at(p, 0, "expected a path before '@'");
	sel->path = xstrndup(p->s, (size_t)(at - p->s));
	p->pos = (size_t)(at - p->s) + 1;
	if (eat(p, "L")) {
		sel->kind = SEL_CURSOR;
		if ((error = number(p, &sel->line, "a line number >= 1", false)))
			return error;
		if ((error = expect(p, ":C", "':C<column>'")))
			return error;
		if ((error = number(p, &sel->col, "a column number >= 1", false)))
			return error;
		return expect_end(p, "the column");
	}
	if (eat(p, "R")) {
		size_t end_at;
		sel->kind = SEL_RANGE;
		if ((error = expect(p, "(", "'('")) ||
		    (error = number(p, &sel->line, "a line number >= 1", false)) ||
		    (error = expect(p, ",", "','")) ||
		    (error = number(p, &sel->col, "a column number >= 1", false)) ||
		    (error = expect(p, "->", "'->'")))
			return error;
		end_at = p->pos;
		if ((error = number(p, &sel->end_line, "a line number >= 1", false)) ||
		    (error = expect(p, ",", "','")) ||
		    (error = number(p, &sel->end_col, "a column number >= 1", false)) ||
		    (error = expect(p, ")", "')'")))
			return error;
		if (sel->end_line < sel->line || (sel->end_line == sel->line && sel->end_col < sel->col))
			return fail_at(p, end_at, "expected an end position at or after the start");
		return expect_end(p, "')'");
	}
	return fail_at(p, p->pos, "expected 'L<line>:C<col>' or 'R(' after '@'");
}

static int parse_role_and_params(struct parser *p, struct sel *sel)
{
	static const char *const roles[] = { "def", "sig", "body", "doc", "name" };
	int error;
	size_t i;

	if (eat(p, ":")) {
		for (i = 0; i < sizeof roles / sizeof roles[0]; i++) {
			size_t n = strlen(roles[i]);
			if (p->len - p->pos >= n && !memcmp(p->s + p->pos, roles[i], n) &&
			    !ident_char(p->pos + n < p->len ? (unsigned char)p->s[p->pos + n] : -1)) {
				sel->role = (enum sel_role)i;
				sel->role_given = true;
				p->pos += n;
				break;
			}
		}
		if (!sel->role_given)
			return fail_at(p, p->pos, "expected a role: def, sig, body, doc or name");
	}
	if (eat(p, "?")) {
		if (!eat(p, "overload="))
			return fail_at(p, p->pos, "expected 'overload=<n>'");
		if ((error = number(p, &sel->overload, "an overload number >= 1", false)))
			return error;
	}
	if (!at_end(p)) {
		if (peek(p) == '.' || peek(p) == '#')
			return fail_at(p, p->pos, "expected an identifier");
		return fail_at(p, p->pos, "expected ':<role>', '?overload=<n>' or the end of the selector");
	}
	return 0;
}

static int parse_symbolic(struct parser *p, struct sel *sel)
{
	int error;

	sel->kind = SEL_SYMBOLIC;
	if (sel->lang == SEL_LANG_PY) {
		if (peek(p) != '#') {
			char **mods = NULL;
			int n = 0, k;
			struct buf m = BUF_INIT;
			error = dotted(p, &mods, &n, "a module name (pkg.mod) or '#'");
			for (k = 0; k < n; k++) {
				buf_addf(&m, "%s%s", k ? "." : "", mods[k]);
				free(mods[k]);
			}
			free(mods);
			if (m.len)
				sel->module = buf_detach(&m, NULL);
			buf_release(&m);
			if (error)
				return error;
		}
		if ((error = expect(p, "#", "'#' after the module")))
			return error;
	} else {
		if ((error = upath(p, &sel->path, false)))
			return error;
		p->pos++; /* '#' */
	}
	if ((error = dotted(p, &sel->qual, &sel->nqual, "an identifier")))
		return error;
	return parse_role_and_params(p, sel);
}

/* value: up to ']' ; '[' ']' '/' '#' '?' '"' space must be encoded. */
static int pred_value(struct parser *p, char **out)
{
	struct buf b = BUF_INIT;
	size_t start = p->pos;
	int c, error = 0;

	while ((c = peek(p)) != -1 && c != ']') {
		if (c == '%') {
			if ((error = pct_escape(p, &b)))
				goto done;
			continue;
		}
		if (strchr("[/#?\" ", c)) {
			error = fail_at(p, p->pos, "expected ']' (write '%c' as %%%02X)", c, c);
			goto done;
		}
		buf_addch(&b, c);
		p->pos++;
	}
	if (b.len == 0 && c == ']') {
		error = fail_at(p, p->pos, "expected a value after '='");
		goto done;
	}
	if (c == -1) {
		error = fail_at(p, p->pos, "expected ']'");
		goto done;
	}
	if ((error = check_decoded(p, &b, start, "a value", "")))
		goto done;
	*out = buf_detach(&b, NULL);
done:
	buf_release(&b);
	return error;
}

static bool type_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool type_char(int c)
{
	return type_start(c) || (c >= '0' && c <= '9');
}

static int type_name(struct parser *p, char **out, const char *what)
{
	size_t start = p->pos;

	if (!type_start(peek(p)))
		return fail_at(p, p->pos, "expected %s", what);
	while (type_char(peek(p)))
		p->pos++;
	*out = xstrndup(p->s + start, p->pos - start);
	return 0;
}

static int parse_ast(struct parser *p, struct sel *sel)
{
	int error;

	sel->kind = SEL_AST;
	if ((error = upath(p, &sel->path, true)))
		return error;
	p->pos++; /* '#' */
	for (;;) {
		struct sel_step *st;
		bool has_index = false;
		if (sel->nsteps >= SEL_MAX_STEPS)
			return fail_at(p, p->pos, "expected at most %d steps", SEL_MAX_STEPS);
		sel->steps = xrealloc(sel->steps, (size_t)(sel->nsteps + 1) * sizeof *sel->steps);
		st = &sel->steps[sel->nsteps++];
		memset(st, 0, sizeof *st);
		if ((error = type_name(p, &st->type, "a node type")))
			return error;
		while (eat(p, "[")) {
			struct sel_pred *pr;
			if (st->npreds >= SEL_MAX_PREDS)
				return fail_at(p, p->pos - 1, "expected at most %d predicates on a step",
					       SEL_MAX_PREDS);
			st->preds = xrealloc(st->preds, (size_t)(st->npreds + 1) * sizeof *st->preds);
			pr = &st->preds[st->npreds++];
			memset(pr, 0, sizeof *pr);
			if (peek(p) >= '0' && peek(p) <= '9') {
				if (has_index)
					return fail_at(p, p->pos, "expected a field name (a step takes "
						       "one [n] index)");
				has_index = true;
				if ((error = number(p, &pr->index, "an index >= 1", false)))
					return error;
			} else {
				if ((error = type_name(p, &pr->field, "a field name or an index")))
					return error;
				if ((error = expect(p, "=", "'='")))
					return error;
				if ((error = pred_value(p, &pr->value)))
					return error;
			}
			if ((error = expect(p, "]", "']'")))
				return error;
		}
		if (at_end(p))
			return 0;
		if (!eat(p, "/"))
			return fail_at(p, p->pos, "expected '[', '/' or the end of the selector");
	}
}

static int anchor_params(struct parser *p, struct sel *sel)
{
	int error;
	bool seen_ctx = false, seen_line = false;

	do {
		size_t at = p->pos;
		if (eat(p, "ctx=")) {
			if (seen_ctx)
				return fail_at(p, at, "expected each parameter once ('ctx' repeated)");
			seen_ctx = true;
			if ((error = number(p, &sel->ctx, "a line count", true)))
				return error;
			if (sel->ctx > SEL_MAX_CTX)
				return fail_at(p, at + 4, "expected a line count of at most %d", SEL_MAX_CTX);
		} else if (eat(p, "line=")) {
			if (seen_line)
				return fail_at(p, at, "expected each parameter once ('line' repeated)");
			seen_line = true;
			if ((error = number(p, &sel->anchor_line, "a line number >= 1", false)))
				return error;
		} else {
			return fail_at(p, at, "expected 'ctx=<lines>' or 'line=<line>'");
		}
	} while (eat(p, "&"));
	return expect_end(p, "the parameters");
}

static int parse_anchor(struct parser *p, struct sel *sel)
{
	struct buf b = BUF_INIT;
	size_t start;
	int c, error;

	sel->kind = SEL_ANCHOR;
	if ((error = upath(p, &sel->path, true)))
		return error;
	p->pos++; /* '#' */
	if ((error = expect(p, "\"", "'\"' to open the snippet")))
		return error;
	start = p->pos;
	while ((c = peek(p)) != -1 && c != '"') {
		if (c == '%') {
			if ((error = pct_escape(p, &b)))
				goto done;
			continue;
		}
		buf_addch(&b, c);
		p->pos++;
	}
	if (c == -1) {
		error = fail_at(p, p->pos, "expected '\"' to close the snippet");
		goto done;
	}
	if (b.len == 0) {
		error = fail_at(p, p->pos, "expected a non-empty snippet");
		goto done;
	}
	if ((error = check_decoded(p, &b, start, "a snippet", "\t\n\r")))
		goto done;
	p->pos++; /* '"' */
	sel->snippet_len = b.len;
	sel->snippet = buf_detach(&b, NULL);
	if (eat(p, "?"))
		error = anchor_params(p, sel);
	else
		error = expect_end(p, "the snippet ('?ctx=' and '&line=' may follow)");
done:
	buf_release(&b);
	return error;
}

int sel_parse(struct sel *sel, const char *s, size_t len, struct sel_error *err)
{
	static const struct { const char *scheme; enum sel_kind kind; enum sel_lang lang; } schemes[] = {
		{ "py", SEL_SYMBOLIC, SEL_LANG_PY }, { "c", SEL_SYMBOLIC, SEL_LANG_C },
		{ "ts", SEL_SYMBOLIC, SEL_LANG_TS }, { "js", SEL_SYMBOLIC, SEL_LANG_JS },
		{ "ast", SEL_AST, SEL_LANG_NONE }, { "anchor", SEL_ANCHOR, SEL_LANG_NONE },
	};
	struct parser p = { s, len, 0, err, { 0, "" } };
	size_t i, bad;

	if (!p.err)
		p.err = &p.local;
	memset(sel, 0, sizeof *sel);
	sel->ctx = -1;
	if (len > SEL_MAX_LEN)
		return fail_at(&p, SEL_MAX_LEN, "expected a selector of at most %d bytes", SEL_MAX_LEN);
	sel->text = xstrndup(s, len);
	if (!utf8_valid(s, len, &bad))
		return fail_at(&p, bad, "expected valid UTF-8");
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return fail_at(&p, i, "expected a printable character (control character "
				       "0x%02X; percent-encode it)", (unsigned char)s[i]);
	if (len == 0)
		return fail_at(&p, 0, "expected a selector (path@L<line>:C<col>, path@R(...), "
			       "py://, c://, ts://, js://, ast:// or anchor://)");
	/* A scheme is letters followed by "://". */
	for (i = 0; i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')); i++)
		;
	if (i > 0 && len - i >= 3 && !memcmp(s + i, "://", 3)) {
		size_t k;
		for (k = 0; k < sizeof schemes / sizeof schemes[0]; k++)
			if (strlen(schemes[k].scheme) == i && !memcmp(s, schemes[k].scheme, i))
				break;
		if (k == sizeof schemes / sizeof schemes[0])
			return fail_at(&p, 0, "expected a scheme: py, c, ts, js, ast or anchor "
				       "(got '%.*s')", (int)(i > 20 ? 20 : i), s);
		p.pos = i + 3;
		sel->lang = schemes[k].lang;
		switch (schemes[k].kind) {
		case SEL_AST: return parse_ast(&p, sel);
		case SEL_ANCHOR: return parse_anchor(&p, sel);
		default: return parse_symbolic(&p, sel);
		}
	}
	return parse_position(&p, sel);
}

void sel_release(struct sel *sel)
{
	int i, j;

	if (!sel)
		return;
	free(sel->text);
	free(sel->path);
	free(sel->module);
	for (i = 0; i < sel->nqual; i++)
		free(sel->qual[i]);
	free(sel->qual);
	for (i = 0; i < sel->nsteps; i++) {
		for (j = 0; j < sel->steps[i].npreds; j++) {
			free(sel->steps[i].preds[j].field);
			free(sel->steps[i].preds[j].value);
		}
		free(sel->steps[i].preds);
		free(sel->steps[i].type);
	}
	free(sel->steps);
	free(sel->snippet);
	memset(sel, 0, sizeof *sel);
}

const char *sel_kind_name(enum sel_kind k)
{
	switch (k) {
	case SEL_CURSOR: return "cursor";
	case SEL_RANGE: return "range";
	case SEL_SYMBOLIC: return "symbolic";
	case SEL_AST: return "ast";
	case SEL_ANCHOR: return "anchor";
	}
	return "?";
}

const char *sel_role_name(enum sel_role r)
{
	static const char *const names[] = { "def", "sig", "body", "doc", "name" };
	return (unsigned)r < 5 ? names[r] : "?";
}

const char *sel_lang_name(enum sel_lang l)
{
	switch (l) {
	case SEL_LANG_PY: return "py";
	case SEL_LANG_C: return "c";
	case SEL_LANG_TS: return "ts";
	case SEL_LANG_JS: return "js";
	case SEL_LANG_NONE: break;
	}
	return "";
}

static char *qual_string(const struct sel *sel)
{
	struct buf b = BUF_INIT;
	int i;

	for (i = 0; i < sel->nqual; i++)
		buf_addf(&b, "%s%s", i ? "." : "", sel->qual[i]);
	return buf_detach(&b, NULL);
}

json_t *sel_to_json(const struct sel *sel)
{
	json_t *j = xjson_pack("{s:s}", "kind", sel_kind_name(sel->kind));
	int i, k;

	if (sel->path)
		json_object_set_new(j, "path", xjson_string_lossy(sel->path));
	switch (sel->kind) {
	case SEL_CURSOR:
		json_object_set_new(j, "line", json_integer(sel->line));
		json_object_set_new(j, "col", json_integer(sel->col));
		break;
	case SEL_RANGE:
		json_object_set_new(j, "range", xjson_pack("[I,I,I,I]", (json_int_t)sel->line,
			(json_int_t)sel->col, (json_int_t)sel->end_line, (json_int_t)sel->end_col));
		break;
	case SEL_SYMBOLIC: {
		char *q = qual_string(sel);
		json_object_set_new(j, "lang", json_string(sel_lang_name(sel->lang)));
		if (sel->module)
			json_object_set_new(j, "module", xjson_string_lossy(sel->module));
		json_object_set_new(j, "name", xjson_string_lossy(q));
		json_object_set_new(j, "role", json_string(sel_role_name(sel->role)));
		if (sel->overload)
			json_object_set_new(j, "overload", json_integer(sel->overload));
		free(q);
		break;
	}
	case SEL_AST: {
		json_t *steps = json_array();
		for (i = 0; i < sel->nsteps; i++) {
			json_t *st = xjson_pack("{s:o}", "type", xjson_string_lossy(sel->steps[i].type));
			json_t *fields = json_array();
			for (k = 0; k < sel->steps[i].npreds; k++) {
				const struct sel_pred *pr = &sel->steps[i].preds[k];
				if (pr->field)
					json_array_append_new(fields, xjson_pack("[o,o]",
							      xjson_string_lossy(pr->field),
							      xjson_string_lossy(pr->value)));
				else
					json_object_set_new(st, "index", json_integer(pr->index));
			}
			if (json_array_size(fields))
				json_object_set_new(st, "fields", fields);
			else
				json_decref(fields);
			json_array_append_new(steps, st);
		}
		json_object_set_new(j, "steps", steps);
		break;
	}
	case SEL_ANCHOR:
		json_object_set_new(j, "snippet", xjson_stringn_lossy(sel->snippet, sel->snippet_len));
		if (sel->ctx >= 0)
			json_object_set_new(j, "ctx", json_integer(sel->ctx));
		if (sel->anchor_line)
			json_object_set_new(j, "line", json_integer(sel->anchor_line));
		break;
	}
	return j;
}

/* Appends s, percent-encoding every byte in `enc` and every control or
 * '%' byte. */
static void add_encoded(struct buf *out, const char *s, size_t n, const char *enc)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F || c == '%' || (c && strchr(enc, c)))
			buf_addf(out, "%%%02X", c);
		else
			buf_addch(out, c);
	}
}

void sel_format(struct buf *out, const struct sel *sel)
{
	int i, k;

	switch (sel->kind) {
	case SEL_CURSOR:
		buf_addf(out, "%s@L%ld:C%ld", sel->path, sel->line, sel->col);
		return;
	case SEL_RANGE:
		buf_addf(out, "%s@R(%ld,%ld->%ld,%ld)", sel->path, sel->line, sel->col, sel->end_line,
			 sel->end_col);
		return;
	case SEL_SYMBOLIC:
		buf_addf(out, "%s://", sel_lang_name(sel->lang));
		if (sel->module)
			buf_adds(out, sel->module);
		if (sel->path)
			add_encoded(out, sel->path, strlen(sel->path), "#?\" ");
		buf_addch(out, '#');
		for (i = 0; i < sel->nqual; i++)
			buf_addf(out, "%s%s", i ? "." : "", sel->qual[i]);
		if (sel->role_given)
			buf_addf(out, ":%s", sel_role_name(sel->role));
		if (sel->overload)
			buf_addf(out, "?overload=%ld", sel->overload);
		return;
	case SEL_AST:
		buf_adds(out, "ast://");
		add_encoded(out, sel->path, strlen(sel->path), "#?\" ");
		buf_addch(out, '#');
		for (i = 0; i < sel->nsteps; i++) {
			buf_addf(out, "%s%s", i ? "/" : "", sel->steps[i].type);
			for (k = 0; k < sel->steps[i].npreds; k++) {
				const struct sel_pred *pr = &sel->steps[i].preds[k];
				if (pr->field) {
					buf_addf(out, "[%s=", pr->field);
					add_encoded(out, pr->value, strlen(pr->value), "[]/#?\" ");
					buf_addch(out, ']');
				} else {
					buf_addf(out, "[%ld]", pr->index);
				}
			}
		}
		return;
	case SEL_ANCHOR:
		buf_adds(out, "anchor://");
		add_encoded(out, sel->path, strlen(sel->path), "#?\" ");
		buf_adds(out, "#\"");
		add_encoded(out, sel->snippet, sel->snippet_len, "\"");
		buf_addch(out, '"');
		if (sel->ctx >= 0 && sel->anchor_line)
			buf_addf(out, "?ctx=%ld&line=%ld", sel->ctx, sel->anchor_line);
		else if (sel->ctx >= 0)
			buf_addf(out, "?ctx=%ld", sel->ctx);
		else if (sel->anchor_line)
			buf_addf(out, "?line=%ld", sel->anchor_line);
		return;
	}
}
