/*
 * outline.c - symbol extraction per grammar (see outline.h).
 */
#include "selectors/outline.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct walker {
	const struct sel_doc *doc;
	struct sel_outline *out;
	const char *chain[SEL_OUTLINE_MAX_DEPTH + 1];
	int depth;
	int error;
};

static bool is(TSNode n, const char *type)
{
	return !ts_node_is_null(n) && !strcmp(ts_node_type(n), type);
}

static TSNode field(TSNode n, const char *name)
{
	return ts_node_child_by_field_name(n, name, (uint32_t)strlen(name));
}

/* The identifier a declarator declares, following nested declarators. */
static TSNode declarator_name(TSNode d)
{
	int guard = 0;

	while (!ts_node_is_null(d) && guard++ < 64) {
		const char *t = ts_node_type(d);
		TSNode next;
		if (!strcmp(t, "identifier") || !strcmp(t, "field_identifier") ||
		    !strcmp(t, "type_identifier"))
			return d;
		next = field(d, "declarator");
		if (ts_node_is_null(next) && !strcmp(t, "parenthesized_declarator"))
			next = ts_node_named_child(d, 0);
		d = next;
	}
	return (TSNode){ { 0 }, NULL, NULL };
}

TSNode sel_node_name(TSNode node)
{
	TSNode n = field(node, "name");

	if (!ts_node_is_null(n))
		return n;
	n = field(node, "declarator");
	if (!ts_node_is_null(n))
		return declarator_name(n);
	if (is(node, "assignment") && is(field(node, "left"), "identifier"))
		return field(node, "left");
	return (TSNode){ { 0 }, NULL, NULL };
}

bool sel_definition_name_at(const struct sel_doc *doc, size_t at)
{
	TSNode n = ts_node_descendant_for_byte_range(sel_doc_root(doc), (uint32_t)at, (uint32_t)at);
	int depth;

	for (depth = 0; !ts_node_is_null(n) && depth < SEL_OUTLINE_MAX_DEPTH; depth++) {
		if (is(n, "function_definition")) {
			TSNode name = sel_node_name(n);
			return !ts_node_is_null(name) && ts_node_start_byte(name) <= at &&
			       at <= ts_node_end_byte(name);
		}
		n = ts_node_parent(n);
	}
	return false;
}

/* Whether a declarator declares a function: the derivation nearest the
 * identifier decides (int *f(void) is a function; int (*f)(void) is a
 * pointer variable). */
static bool declares_function(TSNode d)
{
	bool fn = false;
	int guard = 0;

	while (!ts_node_is_null(d) && guard++ < 64) {
		if (is(d, "identifier") || is(d, "field_identifier"))
			return fn;
		if (is(d, "parenthesized_declarator")) {
			d = ts_node_named_child(d, 0);
			continue;
		}
		fn = is(d, "function_declarator");
		d = field(d, "declarator");
	}
	return false;
}

static struct sel_symbol *add(struct walker *w, TSNode node, TSNode name, const char *kind,
			      bool definition)
{
	struct sel_outline *o = w->out;
	struct sel_symbol *s;
	struct buf q = BUF_INIT;
	int i;
	size_t ns, ne;

	if (ts_node_is_null(name) || w->error)
		return NULL;
	if (o->n >= SEL_OUTLINE_MAX_SYMBOLS) {
		w->error = ln_error_set(LN_EINPUT, "more than %d symbols in one document",
					SEL_OUTLINE_MAX_SYMBOLS);
		return NULL;
	}
	if ((o->n & (o->n - 1)) == 0)
		o->v = xrealloc(o->v, (o->n ? o->n * 2 : 8) * sizeof *o->v);
	s = &o->v[o->n++];
	memset(s, 0, sizeof *s);
	ns = ts_node_start_byte(name);
	ne = ts_node_end_byte(name);
	if (w->doc->latin1) {
		/* names are UTF-8 (what selectors and bundles hold) */
		struct buf u8 = BUF_INIT;
		ln_latin1_to_utf8(&u8, w->doc->text + ns, ne - ns);
		s->name = xstrndup(u8.data, u8.len);
		buf_release(&u8);
	} else {
		s->name = xstrndup(w->doc->text + ns, ne - ns);
	}
	for (i = 0; i < w->depth; i++)
		buf_addf(&q, "%s.", w->chain[i]);
	buf_adds(&q, s->name);
	s->qual = buf_detach(&q, NULL);
	s->kind = kind;
	s->definition = definition;
	s->depth = w->depth;
	s->start = ts_node_start_byte(node);
	s->end = ts_node_end_byte(node);
	s->name_start = ns;
	s->name_end = ne;
	s->body_start = s->body_end = s->doc_start = s->doc_end = s->end;
	s->node = node;
	return s;
}

static void set_body(struct sel_symbol *s, TSNode body)
{
	if (s && !ts_node_is_null(body)) {
		s->body_start = ts_node_start_byte(body);
		s->body_end = ts_node_end_byte(body);
	}
}

/* Python: a docstring is a string expression as the first statement. */
static void py_doc(struct sel_symbol *s, TSNode body)
{
	TSNode first, str;

	if (!s || ts_node_is_null(body) || ts_node_named_child_count(body) == 0)
		return;
	first = ts_node_named_child(body, 0);
	if (!is(first, "expression_statement"))
		return;
	str = ts_node_named_child(first, 0);
	if (is(str, "string") || is(str, "concatenated_string")) {
		s->doc_start = ts_node_start_byte(str);
		s->doc_end = ts_node_end_byte(str);
	}
}

/* C: a comment that ends on the line just above the definition. */
static void c_doc(const struct walker *w, struct sel_symbol *s, TSNode node)
{
	TSNode prev = ts_node_prev_sibling(node);
	size_t i, newlines = 0;

	if (!s || !is(prev, "comment"))
		return;
	for (i = ts_node_end_byte(prev); i < s->start; i++)
		if (w->doc->text[i] == '\n')
			newlines++;
	if (newlines <= 1) {
		s->doc_start = ts_node_start_byte(prev);
		s->doc_end = ts_node_end_byte(prev);
	}
}

static void walk(struct walker *w, TSNode node, bool in_function);

static void walk_children(struct walker *w, TSNode node, bool in_function)
{
	uint32_t i, n = ts_node_named_child_count(node);

	for (i = 0; i < n && !w->error; i++)
		walk(w, ts_node_named_child(node, i), in_function);
}

static void push(struct walker *w, const struct sel_symbol *s)
{
	w->chain[w->depth++] = s->name;
}

static void c_declarators(struct walker *w, TSNode node, const char *member_kind)
{
	uint32_t i, n = ts_node_named_child_count(node);
	bool is_extern = false;

	for (i = 0; i < n; i++) {
		TSNode ch = ts_node_named_child(node, i);
		if (is(ch, "storage_class_specifier")) {
			size_t a = ts_node_start_byte(ch);
			if (ts_node_end_byte(ch) - a == 6 && !memcmp(w->doc->text + a, "extern", 6))
				is_extern = true;
		}
	}
	for (i = 0; i < n && !w->error; i++) {
		const char *fname = ts_node_field_name_for_named_child(node, i);
		TSNode d = ts_node_named_child(node, i);
		struct sel_symbol *s;
		if (!fname || strcmp(fname, "declarator"))
			continue;
		if (member_kind)
			s = add(w, node, declarator_name(d), member_kind, true);
		else if (declares_function(d))
			s = add(w, node, declarator_name(d), "function", false);
		else
			s = add(w, node, declarator_name(d), "variable", !is_extern);
		c_doc(w, s, node);
	}
}

/* A struct, union or enum with a body and no tag. */
static bool anonymous_body(TSNode type)
{
	return (is(type, "struct_specifier") || is(type, "union_specifier") ||
		is(type, "enum_specifier")) && ts_node_is_null(field(type, "name")) &&
	       !ts_node_is_null(field(type, "body"));
}

/* typedef struct { int x; } point;  the members are point.x (the only name
 * the type has), so c://#point.x selects them. */
static void typedef_of_anonymous(struct walker *w, TSNode node, TSNode type)
{
	uint32_t i, n = ts_node_named_child_count(node);
	struct sel_symbol *first = NULL;

	for (i = 0; i < n && !w->error; i++) {
		const char *fname = ts_node_field_name_for_named_child(node, i);
		struct sel_symbol *s;
		if (!fname || strcmp(fname, "declarator"))
			continue;
		s = add(w, node, declarator_name(ts_node_named_child(node, i)), "typedef", true);
		c_doc(w, s, node);
		if (s && !first) {
			set_body(s, field(type, "body"));
			first = s;
		}
	}
	if (first && w->depth < SEL_OUTLINE_MAX_DEPTH) {
		/* add() may move the array: the chain keeps the name string,
		 * which stays put */
		w->chain[w->depth++] = first->name;
		walk_children(w, field(type, "body"), false);
		w->depth--;
	} else {
		walk_children(w, field(type, "body"), false);
	}
}

/* A declaration that ends in an attribute macro (void die(const char *fmt,
 * ...) PRINTF_LIKE(1, 2);) is no declaration to the grammar, which knows
 * nothing of the macro: an ERROR node with a type and a function
 * declarator. The declarator still names a function declared there. */
static void error_declarations(struct walker *w, TSNode node)
{
	uint32_t i, n = ts_node_named_child_count(node);

	bool typed = false;

	for (i = 0; i < n && !w->error; i++) {
		TSNode ch = ts_node_named_child(node, i);
		const char *t = ts_node_type(ch);
		size_t len = strlen(t);
		if (!strcmp(t, "type_identifier") || !strcmp(t, "primitive_type") ||
		    (len > 10 && !strcmp(t + len - 10, "_specifier")))
			typed = true;
		else if (typed && is(ch, "function_declarator"))
			c_doc(w, add(w, node, declarator_name(ch), "function", false), node);
		else if (!is(ch, "type_qualifier") && !is(ch, "storage_class_specifier"))
			typed = false;
	}
}

static void walk_c(struct walker *w, TSNode node)
{
	const char *t = ts_node_type(node);
	struct sel_symbol *s;

	if (!strcmp(t, "function_definition")) {
		s = add(w, node, declarator_name(field(node, "declarator")), "function", true);
		set_body(s, field(node, "body"));
		c_doc(w, s, node);
		return; /* locals are not symbols */
	}
	if (!strcmp(t, "struct_specifier") || !strcmp(t, "union_specifier") ||
	    !strcmp(t, "enum_specifier")) {
		TSNode body = field(node, "body"), name = field(node, "name");
		if (ts_node_is_null(body))
			return;
		s = add(w, node, name, t[0] == 's' ? "struct" : t[0] == 'u' ? "union" : "enum", true);
		set_body(s, body);
		if (s) {
			c_doc(w, s, node);
			push(w, s);
		}
		walk_children(w, body, false);
		if (s)
			w->depth--;
		return;
	}
	if (!strcmp(t, "field_declaration")) {
		TSNode type = field(node, "type");
		if (!ts_node_is_null(type))
			walk(w, type, false);
		c_declarators(w, node, "field");
		return;
	}
	if (!strcmp(t, "enumerator")) {
		add(w, node, field(node, "name"), "enumerator", true);
		return;
	}
	if (!strcmp(t, "declaration")) {
		TSNode type = field(node, "type");
		if (!ts_node_is_null(type))
			walk(w, type, false);
		c_declarators(w, node, NULL);
		return;
	}
	if (!strcmp(t, "type_definition")) {
		TSNode type = field(node, "type");
		uint32_t i, n = ts_node_named_child_count(node);
		if (anonymous_body(type)) {
			typedef_of_anonymous(w, node, type);
			return;
		}
		if (!ts_node_is_null(type))
			walk(w, type, false);
		for (i = 0; i < n; i++) {
			const char *fname = ts_node_field_name_for_named_child(node, i);
			if (fname && !strcmp(fname, "declarator"))
				c_doc(w, add(w, node, declarator_name(ts_node_named_child(node, i)),
					     "typedef", true), node);
		}
		return;
	}
	if (!strcmp(t, "preproc_def") || !strcmp(t, "preproc_function_def")) {
		add(w, node, field(node, "name"), "macro", true);
		return;
	}
	if (!strcmp(t, "ERROR"))
		error_declarations(w, node);
	if (!strcmp(t, "translation_unit") || !strcmp(t, "preproc_if") ||
	    !strcmp(t, "preproc_ifdef") || !strcmp(t, "preproc_else") ||
	    !strcmp(t, "preproc_elif") || !strcmp(t, "linkage_specification") ||
	    !strcmp(t, "declaration_list") || !strcmp(t, "field_declaration_list") ||
	    !strcmp(t, "enumerator_list") || !strcmp(t, "ERROR"))
		walk_children(w, node, false);
}

static void walk_py(struct walker *w, TSNode node, bool in_function)
{
	const char *t = ts_node_type(node);
	struct sel_symbol *s;

	if (!strcmp(t, "class_definition") || !strcmp(t, "function_definition")) {
		bool cls = t[0] == 'c';
		bool method = !cls && w->depth > 0 && !in_function;
		TSNode body = field(node, "body");
		s = add(w, node, field(node, "name"), cls ? "class" : method ? "method" : "function", true);
		set_body(s, body);
		py_doc(s, body);
		if (s)
			push(w, s);
		if (!ts_node_is_null(body))
			walk_children(w, body, !cls);
		if (s)
			w->depth--;
		return;
	}
	if (!strcmp(t, "decorated_definition")) {
		TSNode def = field(node, "definition");
		if (!ts_node_is_null(def))
			walk(w, def, in_function);
		return;
	}
	if (!strcmp(t, "expression_statement") && !in_function) {
		TSNode a = ts_node_named_child(node, 0);
		if (is(a, "assignment")) {
			TSNode left = field(a, "left");
			if (is(left, "identifier"))
				add(w, a, left, "variable", true);
		}
		return;
	}
	if (!strcmp(t, "module") || !strcmp(t, "block") || !strcmp(t, "if_statement") ||
	    !strcmp(t, "else_clause") || !strcmp(t, "elif_clause") || !strcmp(t, "try_statement") ||
	    !strcmp(t, "except_clause") || !strcmp(t, "finally_clause") ||
	    !strcmp(t, "with_statement") || !strcmp(t, "for_statement") ||
	    !strcmp(t, "while_statement") || !strcmp(t, "ERROR")) {
		uint32_t i, n = ts_node_named_child_count(node);
		for (i = 0; i < n && !w->error; i++) {
			TSNode ch = ts_node_named_child(node, i);
			/* conditions and iterables hold no symbols */
			if (is(ch, "block") || !strcmp(t, "module") || !strcmp(t, "block") ||
			    !strcmp(t, "ERROR") || strstr(ts_node_type(ch), "clause") ||
			    strstr(ts_node_type(ch), "definition") || is(ch, "expression_statement"))
				walk(w, ch, in_function);
		}
	}
}

/* JavaScript/TypeScript: a comment that ends on the line just above. */
static void js_doc(const struct walker *w, struct sel_symbol *s, TSNode node)
{
	TSNode parent = ts_node_parent(node);

	/* `export class A` documents the export statement */
	if (is(parent, "export_statement"))
		node = parent;
	c_doc(w, s, node);
}

/* A container (class, interface, enum, namespace): the symbol, its body,
 * then its members one level deeper. */
static void js_container(struct walker *w, TSNode node, const char *kind)
{
	TSNode body = field(node, "body");
	struct sel_symbol *s = add(w, node, field(node, "name"), kind, true);
	uint32_t i, n;

	set_body(s, body);
	js_doc(w, s, node);
	if (!s || ts_node_is_null(body))
		return;
	push(w, s);
	n = ts_node_named_child_count(body);
	for (i = 0; i < n && !w->error; i++) {
		TSNode ch = ts_node_named_child(body, i);
		const char *t = ts_node_type(ch);
		if (!strcmp(t, "enum_assignment"))
			add(w, ch, field(ch, "name"), "enumerator", true);
		else if (!strcmp(kind, "enum") && (!strcmp(t, "property_identifier") ||
						   !strcmp(t, "string")))
			add(w, ch, ch, "enumerator", true);
		else
			walk(w, ch, false);
	}
	w->depth--;
}

static void walk_js(struct walker *w, TSNode node)
{
	const char *t = ts_node_type(node);
	struct sel_symbol *s;

	if (!strcmp(t, "function_declaration") || !strcmp(t, "generator_function_declaration") ||
	    !strcmp(t, "function_signature")) {
		/* locals are not symbols: the body is not walked */
		s = add(w, node, field(node, "name"), "function", t[9] != 's');
		set_body(s, field(node, "body"));
		js_doc(w, s, node);
		return;
	}
	if (!strcmp(t, "class_declaration") || !strcmp(t, "abstract_class_declaration")) {
		js_container(w, node, "class");
		return;
	}
	if (!strcmp(t, "interface_declaration")) {
		js_container(w, node, "interface");
		return;
	}
	if (!strcmp(t, "enum_declaration")) {
		js_container(w, node, "enum");
		return;
	}
	if (!strcmp(t, "internal_module") || !strcmp(t, "module")) {
		js_container(w, node, "namespace");
		return;
	}
	if (!strcmp(t, "type_alias_declaration")) {
		s = add(w, node, field(node, "name"), "type", true);
		js_doc(w, s, node);
		return;
	}
	if (!strcmp(t, "method_definition") || !strcmp(t, "method_signature") ||
	    !strcmp(t, "abstract_method_signature")) {
		s = add(w, node, field(node, "name"), "method", t[7] == 'd');
		set_body(s, field(node, "body"));
		c_doc(w, s, node);
		return;
	}
	if (!strcmp(t, "public_field_definition") || !strcmp(t, "property_signature")) {
		s = add(w, node, field(node, "name"), "field", true);
		c_doc(w, s, node);
		return;
	}
	if (!strcmp(t, "field_definition")) {
		s = add(w, node, field(node, "property"), "field", true);
		c_doc(w, s, node);
		return;
	}
	if (!strcmp(t, "lexical_declaration") || !strcmp(t, "variable_declaration")) {
		uint32_t i, n = ts_node_named_child_count(node);
		for (i = 0; i < n && !w->error; i++) {
			TSNode d = ts_node_named_child(node, i), name = field(d, "name");
			TSNode v = field(d, "value");
			bool fn = is(v, "arrow_function") || is(v, "function_expression") ||
				  is(v, "function");
			if (!is(d, "variable_declarator") || !is(name, "identifier"))
				continue;   /* destructuring patterns declare no one name */
			s = add(w, d, name, fn ? "function" : "variable", true);
			if (fn)
				set_body(s, field(v, "body"));
			js_doc(w, s, node);
		}
		return;
	}
	if (!strcmp(t, "export_statement")) {
		TSNode d = field(node, "declaration");
		if (!ts_node_is_null(d))
			walk(w, d, false);
		return;
	}
	if (!strcmp(t, "ambient_declaration") || !strcmp(t, "program") ||
	    !strcmp(t, "statement_block") || !strcmp(t, "ERROR") ||
	    !strcmp(t, "expression_statement"))
		walk_children(w, node, false);
}

static void walk(struct walker *w, TSNode node, bool in_function)
{
	if (w->error)
		return;
	if (w->depth >= SEL_OUTLINE_MAX_DEPTH)
		return;
	if (w->doc->grammar == SEL_GRAMMAR_C)
		walk_c(w, node);
	else if (w->doc->grammar == SEL_GRAMMAR_TS || w->doc->grammar == SEL_GRAMMAR_TSX ||
		 w->doc->grammar == SEL_GRAMMAR_JS)
		walk_js(w, node);
	else
		walk_py(w, node, in_function);
}

static int cmp_sym(const void *a, const void *b)
{
	const struct sel_symbol *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->name_start < y->name_start ? -1 : x->name_start > y->name_start;
}

int sel_outline_build(struct sel_outline *out, const struct sel_doc *doc)
{
	struct walker w;

	memset(out, 0, sizeof *out);
	memset(&w, 0, sizeof w);
	w.doc = doc;
	w.out = out;
	walk(&w, sel_doc_root(doc), false);
	if (w.error) {
		sel_outline_release(out);
		return w.error;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, cmp_sym);
	return 0;
}

void sel_outline_release(struct sel_outline *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->v[i].name);
		free(o->v[i].qual);
	}
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

const struct sel_symbol *sel_outline_enclosing(const struct sel_outline *o, size_t start,
					       size_t end)
{
	const struct sel_symbol *best = NULL;
	size_t i;

	for (i = 0; i < o->n; i++) {
		const struct sel_symbol *s = &o->v[i];
		if (s->start <= start && end <= s->end &&
		    (!best || s->depth > best->depth ||
		     (s->depth == best->depth && s->end - s->start < best->end - best->start)))
			best = s;
	}
	return best;
}
