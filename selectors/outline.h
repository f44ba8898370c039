/*
 * outline.h - symbols of a document from its tree-sitter tree alone.
 *
 * C: functions (definitions and prototypes), global variables, structs,
 * unions and enums with a body, their fields and enumerators, typedefs,
 * macros. Python: classes, functions and methods (also nested and
 * decorated), module- and class-level assignments. TypeScript and
 * JavaScript: functions (declarations, overload signatures, and `const f =
 * () => ...`), classes with their methods and fields, interfaces with their
 * members, enums and their members, type aliases, namespaces, top-level
 * variables; `export` is looked through. Locals are not symbols.
 *
 * `qual` is the dotted chain of containers and the name ("Circle.scaled",
 * "list.head"). Byte offsets are absolute offsets into the document text.
 * Symbols are in document order (by start, then outer before inner).
 */
#ifndef LANSER_SEL_OUTLINE_H
#define LANSER_SEL_OUTLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "selectors/tree.h"

#define SEL_OUTLINE_MAX_DEPTH 128
#define SEL_OUTLINE_MAX_SYMBOLS 100000

struct sel_symbol {
	char *name;
	char *qual;
	const char *kind;        /* "function", "method", "class", "struct", "union",
				    "enum", "field", "enumerator", "variable",
				    "typedef", "macro", "interface", "type",
				    "namespace" (static strings) */
	bool definition;         /* false for a prototype or an extern declaration */
	int depth;               /* number of containers */
	size_t start, end;       /* the whole node */
	size_t name_start, name_end;
	size_t body_start, body_end;  /* equal when there is no body */
	size_t doc_start, doc_end;    /* equal when there is no doc */
	TSNode node;             /* valid while the doc lives */
};

struct sel_outline {
	struct sel_symbol *v;
	size_t n;
};

/* Fills *out (caller-owned; release with sel_outline_release). Returns 0,
 * or LN_EINPUT when the document has more than SEL_OUTLINE_MAX_SYMBOLS. */
int sel_outline_build(struct sel_outline *out, const struct sel_doc *doc);
void sel_outline_release(struct sel_outline *o);

/* The name node of a definition-like node (C: through declarators; Python
 * and others: the "name" field). Null node when none. */
TSNode sel_node_name(TSNode node);

/* Whether byte `at` lies on the name of a function definition (one with a
 * body; not a prototype), by the innermost function_definition around it:
 * O(depth), without building the outline (def asks it at every call). */
bool sel_definition_name_at(const struct sel_doc *doc, size_t at);

/* The innermost symbol whose range contains [start, end), or NULL. */
const struct sel_symbol *sel_outline_enclosing(const struct sel_outline *o, size_t start,
					       size_t end);

#endif
