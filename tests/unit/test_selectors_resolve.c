/*
 * test_selectors_resolve.c - tree cache, outline, winnowing and resolution
 * over in-memory documents.
 */
#include "tests/unit/harness.h"
#include "core/err.h"
#include "selectors/match.h"
#include "selectors/outline.h"
#include "selectors/resolve.h"
#include "selectors/selector.h"
#include "selectors/tree.h"

#include <stdlib.h>

/* ---- an in-memory source ---- */

struct mem {
	const char *names[4];
	const char *texts[4];
	struct ln_text t[4];
	int n;
};

static int mem_text(void *ctx, const char *rel, const struct ln_text **out)
{
	struct mem *m = ctx;
	int i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->names[i], rel)) {
			if (!m->t[i].data && ln_text_init(&m->t[i], m->texts[i], strlen(m->texts[i])))
				return LN_EINPUT;
			*out = &m->t[i];
			return 0;
		}
	return ln_error_set(LN_ENOTFOUND, "%s: no such file", rel);
}

static int mem_files(void *ctx, json_t **out)
{
	struct mem *m = ctx;
	int i;

	*out = json_array();
	for (i = 0; i < m->n; i++)
		json_array_append_new(*out, json_string(m->names[i]));
	return 0;
}

static void mem_release(struct mem *m)
{
	int i;

	for (i = 0; i < m->n; i++)
		ln_text_release(&m->t[i]);
}

/* Resolves `s` in `m` (lexical paths under a fake root). Returns the status
 * (or the error), and the top candidate's [start, end) in *a, *b. */
static int resolve_in(struct mem *m, const char *s, size_t *a, size_t *b, size_t *n)
{
	struct sel sel;
	struct sel_resolution r;
	struct sel_source src = { mem_text, mem_files, m, test_repo_root(), test_repo_root(), true };
	int error = sel_parse(&sel, s, strlen(s), NULL);

	if (!error)
		error = sel_resolve(&r, &sel, &src, LN_ENC_CODEPOINT);
	else
		memset(&r, 0, sizeof r);
	if (!error) {
		error = r.status;
		if (r.n) {
			*a = r.v[0].start;
			*b = r.v[0].end;
		}
		*n = r.n;
	}
	sel_resolution_release(&r);
	sel_release(&sel);
	return error;
}

static const char *PY =
	"class A:\n"
	"    def f(self):\n"
	"        def inner():\n"
	"            pass\n"
	"        return 1\n"
	"\n"
	"    class B:\n"
	"        def g(self):\n"
	"            pass\n"
	"\n"
	"    def h(self):\n"
	"        \"\"\"Doc of h.\"\"\"\n"
	"        return 2\n"
	"\n"
	"\n"
	"def f():\n"
	"    return 3\n"
	"\n"
	"\n"
	"def f():\n"
	"    return 4\n";

TEST(sel_ast__slash_means_nearest_descendants_not_nested_scopes)
{
	struct mem m = { { "m.py" }, { PY }, { { 0 } }, 1 };
	size_t a = 0, b = 0, n = 0;

	/* A's methods: f and h, not inner (inside f) nor g (inside class B) */
	CHECK_EQ_INT(resolve_in(&m, "ast://m.py#class_definition[name=A]/function_definition", &a, &b, &n),
		     LN_EAMBIGUOUS);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(resolve_in(&m, "ast://m.py#class_definition[name=A]/function_definition[2]", &a, &b, &n), 0);
	CHECK(!strncmp(PY + a, "def h(self):", 12));
	CHECK_EQ_INT(resolve_in(&m, "ast://m.py#class_definition[name=A]/function_definition[name=inner]",
				&a, &b, &n), LN_ENOTFOUND);
	CHECK_EQ_INT(resolve_in(&m, "ast://m.py#class_definition/class_definition/function_definition[name=g]",
				&a, &b, &n), 0);
	CHECK(!strncmp(PY + a, "def g(self):", 12));
	mem_release(&m);
}

TEST(sel_symbolic__duplicates_tie_and_overload_picks_in_file_order)
{
	struct mem m = { { "m.py" }, { PY }, { { 0 } }, 1 };
	size_t a = 0, b = 0, n = 0;

	/* module-level f twice, plus the method A.f (a weaker match) */
	CHECK_EQ_INT(resolve_in(&m, "py://m#f", &a, &b, &n), LN_EAMBIGUOUS);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(resolve_in(&m, "py://m#f?overload=3", &a, &b, &n), 0);
	CHECK(!strncmp(PY + a, "def f():\n    return 4", 21));
	CHECK_EQ_INT(resolve_in(&m, "py://m#f?overload=4", &a, &b, &n), LN_ENOTFOUND);
	CHECK_EQ_INT(resolve_in(&m, "py://m#A.f", &a, &b, &n), 0);
	CHECK(!strncmp(PY + a, "def f(self):", 12));
	CHECK_EQ_INT(resolve_in(&m, "py://m#A.h:doc", &a, &b, &n), 0);
	CHECK_EQ_INT(b - a, strlen("\"\"\"Doc of h.\"\"\""));
	CHECK_EQ_INT(resolve_in(&m, "py://m#A.f:doc", &a, &b, &n), LN_ENOTFOUND);
	CHECK_EQ_INT(resolve_in(&m, "py://nomod#A", &a, &b, &n), LN_ENOTFOUND);
	mem_release(&m);
}

TEST(sel_anchor__window_first_then_ambiguity_then_fuzzy)
{
	static const char *C =
		"int a(void)\n{\n\treturn 0;\n}\n\nint b(void)\n{\n\treturn 0;\n}\n\n"
		"int c(int x)\n{\n\treturn x * 2 + 1;\n}\n";
	struct mem m = { { "x.c" }, { C }, { { 0 } }, 1 };
	size_t a = 0, b = 0, n = 0;

	CHECK_EQ_INT(resolve_in(&m, "anchor://x.c#\"return 0;\"", &a, &b, &n), LN_EAMBIGUOUS);
	CHECK_EQ_INT(resolve_in(&m, "anchor://x.c#\"return 0;\"?line=8&ctx=1", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(strstr(C, "int b"), "return 0;") - C));
	/* a reformatted snippet: no exact match, the fingerprints still agree */
	CHECK_EQ_INT(resolve_in(&m, "anchor://x.c#\"return x*2+1;\"", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(C, "return x * 2") - C));
	CHECK_EQ_INT(b, a + strlen("return x * 2 + 1;"));
	CHECK_EQ_INT(resolve_in(&m, "anchor://x.c#\"while (true) { launch(); }\"", &a, &b, &n), LN_ENOTFOUND);
	CHECK_EQ_INT(resolve_in(&m, "anchor://nofile.c#\"x\"", &a, &b, &n), LN_ENOTFOUND);
	CHECK_EQ_INT(resolve_in(&m, "anchor://../x.c#\"x\"", &a, &b, &n), LN_EPERM);
	mem_release(&m);
}

TEST(sel_symbolic__c_definition_beats_prototype_and_members_resolve)
{
	static const char *H = "struct s {\n\tint x;\n\tstruct s *next;\n};\nint f(int);\n";
	static const char *C = "#include \"h.h\"\nint f(int v)\n{\n\treturn v;\n}\n";
	struct mem m = { { "h.h", "a.c" }, { H, C }, { { 0 } }, 2 };
	size_t a = 0, b = 0, n = 0;

	CHECK_EQ_INT(resolve_in(&m, "c://#f", &a, &b, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK(!strncmp(C + a, "int f(int v)", 12));
	CHECK_EQ_INT(resolve_in(&m, "c://h.h#f:name", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(H, "f(int)") - H));
	CHECK_EQ_INT(resolve_in(&m, "c://#s.next:name", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(H, "next") - H));
	CHECK_EQ_INT(resolve_in(&m, "c://#t.next", &a, &b, &n), LN_ENOTFOUND);
	mem_release(&m);
}

/* ts:// reads .ts/.tsx files and js:// .js files, each with its grammar
 * (they used to exit 72: no grammar bundled). */
TEST(sel_symbolic__typescript_and_javascript_resolve_by_scheme)
{
	static const char *TS = "export class Box {\n  grow(by: number): Box { return this; }\n}\n"
				"namespace N { export function f(): void {} }\n";
	static const char *JS = "class Box {\n  shrink() { return this; }\n}\n"
				"const f = () => 1;\n";
	struct mem m = { { "a.ts", "b.js" }, { TS, JS }, { { 0 } }, 2 };
	size_t a, b, n;

	CHECK_EQ_INT(resolve_in(&m, "ts://#Box.grow:name", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(TS, "grow") - TS));
	CHECK_EQ_INT(resolve_in(&m, "ts://a.ts#N.f:name", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(TS, "f()") - TS));
	CHECK_EQ_INT(resolve_in(&m, "js://#Box.shrink:name", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(JS, "shrink") - JS));
	CHECK_EQ_INT(resolve_in(&m, "js://#f:name", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(JS, "f =") - JS));
	/* each scheme searches its own files */
	CHECK_EQ_INT(resolve_in(&m, "js://#Box.grow", &a, &b, &n), LN_ENOTFOUND);
	CHECK_EQ_INT(resolve_in(&m, "ts://#Box.shrink", &a, &b, &n), LN_ENOTFOUND);
	mem_release(&m);
}

TEST(sel_tree__cache_hits_and_incremental_reparse_equals_full_parse)
{
	static const char *v1 = "def f():\n    return 1\n\n\ndef g():\n    return 2\n";
	static const char *v2 = "def f():\n    return 1\n\nX = 3\n\ndef g():\n    return 2\n";
	struct sel_doc *d1 = NULL, *d1b = NULL, *d2 = NULL, *full = NULL;
	struct sel_tree_stats s0, s1;
	char *a, *b;

	sel_tree_cache_clear();
	sel_tree_stats(&s0);
	CHECK_EQ_INT(sel_doc_parse(&d1, "k.py", v1, strlen(v1), SEL_GRAMMAR_PYTHON), 0);
	CHECK_EQ_INT(sel_doc_parse(&d1b, "k.py", v1, strlen(v1), SEL_GRAMMAR_PYTHON), 0);
	CHECK_EQ_INT(sel_doc_parse(&d2, "k.py", v2, strlen(v2), SEL_GRAMMAR_PYTHON), 0);
	sel_tree_stats(&s1);
	CHECK_EQ_INT(s1.hits - s0.hits, 1);
	CHECK_EQ_INT(s1.incremental - s0.incremental, 1);
	CHECK_EQ_INT(s1.full - s0.full, 1);
	sel_tree_cache_clear();
	CHECK_EQ_INT(sel_doc_parse(&full, NULL, v2, strlen(v2), SEL_GRAMMAR_PYTHON), 0);
	a = ts_node_string(sel_doc_root(d2));
	b = ts_node_string(sel_doc_root(full));
	CHECK_EQ_STR(a, b);
	free(a);
	free(b);
	sel_doc_free(d1);
	sel_doc_free(d1b);
	sel_doc_free(d2);
	sel_doc_free(full);
	CHECK_EQ_INT(sel_doc_parse(&d1, NULL, "x", 1, SEL_GRAMMAR_NONE), LN_EUNSUPPORTED);
}

TEST(sel_tree__cache_is_bounded)
{
	struct sel_tree_stats st;
	char text[64];
	int i;

	sel_tree_cache_clear();
	for (i = 0; i < SEL_TREE_CACHE_ENTRIES + 10; i++) {
		struct sel_doc *d = NULL;
		snprintf(text, sizeof text, "x%d = %d\n", i, i);
		CHECK_EQ_INT(sel_doc_parse(&d, NULL, text, strlen(text), SEL_GRAMMAR_PYTHON), 0);
		sel_doc_free(d);
	}
	sel_tree_stats(&st);
	CHECK_EQ_INT(st.entries, SEL_TREE_CACHE_ENTRIES);
	CHECK(st.evictions >= 10);
	sel_tree_cache_clear();
}

TEST(sel_outline__c_symbols_kinds_and_containers)
{
	static const char *C =
		"#define MAX(a, b) ((a) > (b) ? (a) : (b))\n"
		"typedef struct pt { int x, y; } pt_t;\n"
		"enum color { RED, GREEN };\n"
		"extern int counter;\n"
		"static int (*handler)(int);\n"
		"int area(const pt_t *p);\n"
		"/* doc */\n"
		"int area(const pt_t *p) { int local = 1; return p->x * p->y * local; }\n";
	struct sel_doc *d = NULL;
	struct sel_outline o;
	struct buf got = BUF_INIT;
	size_t i;

	CHECK_EQ_INT(sel_doc_parse(&d, NULL, C, strlen(C), SEL_GRAMMAR_C), 0);
	CHECK_EQ_INT(sel_outline_build(&o, d), 0);
	for (i = 0; i < o.n; i++)
		buf_addf(&got, "%s %s%s%s;", o.v[i].kind, o.v[i].qual, o.v[i].definition ? "" : "?",
			 o.v[i].doc_start != o.v[i].doc_end ? "+doc" : "");
	CHECK_EQ_STR(got.data, "macro MAX;typedef pt_t;struct pt;field pt.x;field pt.y;enum color;"
		     "enumerator color.RED;enumerator color.GREEN;variable counter?;variable handler;"
		     "function area?;function area+doc;");
	buf_release(&got);
	sel_outline_release(&o);
	sel_doc_free(d);
}

TEST(sel_outline__c_attribute_macro_declarations_and_anonymous_typedef_members)
{
	static const char *C =
		"void die(const char *fmt, ...) PRINTF_LIKE(1, 2);\n"
		"void quit(void) NORETURN;\n"
		"int plain(void);\n"
		"typedef struct {\n\tint x;\n\tint y;\n} point;\n";
	struct sel_doc *d = NULL;
	struct sel_outline o;
	struct buf got = BUF_INIT;
	size_t i;

	CHECK_EQ_INT(sel_doc_parse(&d, NULL, C, strlen(C), SEL_GRAMMAR_C), 0);
	CHECK_EQ_INT(sel_outline_build(&o, d), 0);
	for (i = 0; i < o.n; i++)
		buf_addf(&got, "%s %s%s;", o.v[i].kind, o.v[i].qual, o.v[i].definition ? "" : "?");
	CHECK_EQ_STR(got.data, "function die?;function quit?;function plain?;typedef point;"
		     "field point.x;field point.y;");
	buf_release(&got);
	sel_outline_release(&o);
	sel_doc_free(d);
}

TEST(sel_outline__a_latin1_document_keeps_non_ascii_names_whole)
{
	/* not UTF-8 (0xE9, 0xE8 alone): parsed one byte one character */
	static const char *C = "int caf\xe9(void) { return 0; }\n"
			       "struct p\xe8re { int x; };\n";
	static const char *U = "int caf\xc3\xa9(void) { return 0; }\n";
	struct sel_doc *d = NULL;
	struct sel_outline o;
	struct buf got = BUF_INIT;
	size_t i;

	CHECK_EQ_INT(sel_doc_parse(&d, NULL, C, strlen(C), SEL_GRAMMAR_C), 0);
	CHECK(d->latin1);
	CHECK_EQ_INT(sel_outline_build(&o, d), 0);
	for (i = 0; i < o.n; i++)
		buf_addf(&got, "%s %s %zu-%zu;", o.v[i].kind, o.v[i].qual, o.v[i].name_start,
			 o.v[i].name_end);
	/* names in UTF-8, offsets in the document's bytes */
	CHECK_EQ_STR(got.data, "function caf\xc3\xa9 4-8;struct p\xc3\xa8re 36-40;"
		     "field p\xc3\xa8re.x 47-48;");
	buf_release(&got);
	sel_outline_release(&o);
	sel_doc_free(d);
	/* valid UTF-8 stays UTF-8 */
	CHECK_EQ_INT(sel_doc_parse(&d, NULL, U, strlen(U), SEL_GRAMMAR_C), 0);
	CHECK(!d->latin1);
	CHECK_EQ_INT(sel_outline_build(&o, d), 0);
	CHECK_EQ_INT(o.n, 1);
	CHECK_EQ_STR(o.v[0].name, "caf\xc3\xa9");
	sel_outline_release(&o);
	sel_doc_free(d);
}

TEST(sel_symbolic__a_name_unique_in_the_project_is_not_ambiguous)
{
	static const char *C = "typedef struct {\n\tint x;\n} point;\n";
	struct mem m = { { "m.py", "p.h" }, { PY, C }, { { 0 } }, 2 };
	size_t a = 0, b = 0, n = 0;

	/* only the method A.h has that name: a partial qualname, one candidate */
	CHECK_EQ_INT(resolve_in(&m, "py://#h", &a, &b, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK(!strncmp(PY + a, "def h(self):", 12));
	/* fields of an anonymous struct through the typedef's name */
	CHECK_EQ_INT(resolve_in(&m, "c://#point.x:name", &a, &b, &n), 0);
	CHECK_EQ_INT(a, (size_t)(strstr(C, "x;") - C));
	mem_release(&m);
}

TEST(sel_match__winnowing_ignores_whitespace_and_separates_different_text)
{
	static const char *a = "n->value = clamp_int(value, limits[0], limits[1]);";
	static const char *b = "n->value   =\n\tclamp_int( value,limits[0],  limits[1] ) ;";
	static const char *c = "free(self->head); self->len = 0; return NULL;";
	struct sel_fp *fa, *fb, *fc;
	size_t na = sel_winnow(&fa, a, 0, strlen(a), SEL_K, SEL_W);
	size_t nb = sel_winnow(&fb, b, 0, strlen(b), SEL_K, SEL_W);
	size_t nc = sel_winnow(&fc, c, 0, strlen(c), SEL_K, SEL_W);

	CHECK(na > 3);
	CHECK_EQ_DBL(sel_fp_jaccard(fa, na, fb, nb), 1.0, 1e-12);
	CHECK(sel_fp_jaccard(fa, na, fc, nc) < 0.2);
	/* every window of w hashes keeps one: at least (n-k+1)/w fingerprints */
	CHECK(na >= (strlen("n->value=clamp_int(value,limits[0],limits[1]);") - SEL_K + 1) / SEL_W);
	free(fa);
	free(fb);
	free(fc);
	CHECK_EQ_DBL(sel_token_jaccard("a b c", 5, "c b a a", 7), 1.0, 1e-12);
	CHECK_EQ_DBL(sel_token_jaccard("a b", 3, "b c", 3), 1.0 / 3.0, 1e-12);
	CHECK_EQ_DBL(sel_token_jaccard("", 0, "", 0), 1.0, 1e-12);
}

TEST(sel_symbols_agree__finds_nested_document_symbols_by_name_and_line)
{
	json_t *hier = json_loads("[{\"name\":\"Circle\",\"selectionRange\":{\"start\":{\"line\":8,\"character\":6}},"
				  "\"children\":[{\"name\":\"scaled\",\"selectionRange\":{\"start\":{\"line\":18,"
				  "\"character\":8}}}]}]", 0, NULL);
	json_t *flat = json_loads("[{\"name\":\"list_push\",\"location\":{\"uri\":\"file:///a.c\",\"range\":"
				  "{\"start\":{\"line\":14,\"character\":0}}}}]", 0, NULL);

	CHECK(hier && flat);
	CHECK(sel_symbols_agree(hier, "scaled", 18));
	CHECK(!sel_symbols_agree(hier, "scaled", 17));
	CHECK(!sel_symbols_agree(hier, "area", 18));
	CHECK(sel_symbols_agree(flat, "list_push", 14));
	CHECK(!sel_symbols_agree(json_null(), "x", 0));
	json_decref(hier);
	json_decref(flat);
}
