/*
 * outcome.c - the per-test result set, format names and detection, and
 * flips against FAIL_TO_PASS / PASS_TO_PASS lists (outcome.h). The parsers
 * are one file per format: junit.c, tap.c, pytest.c.
 */
#include "sandbox/outcome.h"
#include "sandbox/outcome_impl.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"

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

int sbx_test_severity(enum sbx_test_status s)
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
			if (sbx_test_severity(st) > sbx_test_severity(x->status))
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
			if (sbx_test_severity(t->v[i].status) > sbx_test_severity(t->v[j - 1].status))
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
		json_array_append_new(a, xjson_pack("{s:o, s:s}", "id",
						    xjson_string_lossy(t->v[i].id), "status",
						    sbx_test_status_name(t->v[i].status)));
	return a;
}

int sbx_parse_fail(struct sbx_parse_error *e, int line, int col, const char *fmt, ...)
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

void sbx_parse_error_clear(struct sbx_parse_error *e)
{
	memset(e, 0, sizeof *e);
}


/* --- lines of a text format (outcome_impl.h) --- */


/* Next line (without its newline) in *l, *n; false at the end. */
bool sbx_lines_next(struct sbx_lines *ls, const char **l, size_t *n)
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

bool sbx_starts_with(const char *l, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	return n >= k && !memcmp(l, lit, k);
}

void sbx_trim(const char **s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}


enum sbx_format sbx_format_detect(const char *s, size_t len)
{
	struct sbx_lines ls = { s, len, 0, 0 };
	const char *l;
	size_t n;
	bool tap = false;

	if (memmem(s, len, " short test summary info ", 25))
		return SBX_FMT_PYTEST;
	while (sbx_lines_next(&ls, &l, &n)) {
		if ((sbx_starts_with(l, n, "1..") && n > 3 && isdigit((unsigned char)l[3])) ||
		    (sbx_starts_with(l, n, "ok ") && n > 3 && isdigit((unsigned char)l[3])) ||
		    (sbx_starts_with(l, n, "not ok ") && n > 7 && isdigit((unsigned char)l[7])))
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
	json_t *g = xjson_pack("{s:[], s:[], s:[]}", "passed", "failed", "missing");
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
